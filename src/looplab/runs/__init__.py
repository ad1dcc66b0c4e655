"""The run record: a directory with run.sqlite (WAL) and summary.json; resumable."""
from ._export import FORMAT as TRAJECTORY_FORMAT, export_trajectories, trajectories
from ._hidden import HiddenCache
from ._loops import LoopReader, loop_of, loop_part, register_loop_part, require_loop
from ._recorder import TaskRecorder
from ._show import show_task, terminal_safe
from ._records import AttemptRecord, Call, Outcome, Step, StepFeedback
from ._store import RECORD_FILES, RunError, RunStore, is_record_file

__all__ = ["RECORD_FILES", "TRAJECTORY_FORMAT", "AttemptRecord", "Call", "HiddenCache", "LoopReader", "Outcome", "RunError", "RunStore", "Step", "StepFeedback",
           "TaskRecorder", "export_trajectories", "is_record_file", "loop_of", "loop_part", "register_loop_part", "require_loop", "show_task", "terminal_safe", "trajectories"]
