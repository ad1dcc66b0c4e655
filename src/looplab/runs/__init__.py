"""The run record: a directory with run.sqlite (WAL) and summary.json; resumable."""
from ._export import FORMAT as TRAJECTORY_FORMAT, export_trajectories, trajectories
from ._recorder import TaskRecorder
from ._show import show_task, terminal_safe
from ._store import RECORD_FILES, RecordedCall, RunError, RunStore, is_record_file

__all__ = ["RECORD_FILES", "TRAJECTORY_FORMAT", "export_trajectories", "trajectories", "RecordedCall", "RunError", "RunStore", "TaskRecorder", "is_record_file", "show_task",
           "terminal_safe"]
