"""The run record: a directory with run.sqlite (WAL) and summary.json; resumable."""
from ._recorder import TaskRecorder
from ._show import show_task, terminal_safe
from ._store import RecordedCall, RunError, RunStore

__all__ = ["RecordedCall", "RunError", "RunStore", "TaskRecorder", "show_task", "terminal_safe"]
