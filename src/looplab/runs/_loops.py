"""Which loop made a run, and how the commands that read a record read it. Each loop names itself when it
starts a run (`RunStore.require({"loop": NAME})`, with `"holds"` listing the loops whose runs it starts in the
same directory, as an optimizer's solve evaluations); the commands that read records (show, export, view) find
the loop's part here instead of branching on its name. A part is registered by the module that defines it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ._store import RunError, RunStore


@dataclass
class LoopReader:
    """How one loop's runs are read: `look_with` is the command a user reads them with (for refusals), and each
    part is a function registered by the module that reads that loop's record (None: the command does not)."""
    name: str
    look_with: str
    show: Callable[..., Any] | None = None     # (store, item, scope or None, full) -> rich renderable
    export: Callable[..., Any] | None = None   # (store) -> JSON lines (dicts)
    page: Callable[..., Any] | None = None     # (store, index, data folder) -> the run's entry on the view's index


# The loops looplab has, and the command that reads each one's runs.
_READERS: dict[str, LoopReader] = {
    "solve": LoopReader("solve", "looplab show, looplab compare --report-only, looplab analyze"),
    "grow": LoopReader("grow", "looplab graph report --run-dir DIR"),
    "mine": LoopReader("mine", "looplab graph mine (it prints its score)"),
    "mine-judge": LoopReader("mine-judge", "looplab graph mine (it prints its score)"),
}
PARTS = ("show", "export", "page")


def register_loop_part(loop: str, part: str, read: Callable[..., Any]) -> None:
    """Say how `part` (one of PARTS) reads runs of `loop`."""
    if part not in PARTS:
        raise ValueError(f"a loop's part is one of {', '.join(PARTS)}, not {part!r}")
    reader = _READERS.setdefault(loop, LoopReader(loop, f"the command that made it ({loop})"))
    setattr(reader, part, read)


def loop_of(store: RunStore) -> LoopReader:
    """The reader of the loop that made the run in `store`."""
    name = store.meta("loop")
    if name is None:
        raise RunError(f"{store.dir} holds no run yet")
    return _READERS.get(name) or LoopReader(name, f"the command that made it ({name})")


def require_loop(store: RunStore, loop: str, command: str) -> None:
    """Refuse, naming what reads it, a run that neither is nor holds a `loop` run (`command` reads only those)."""
    reader = loop_of(store)
    if not store.holds(loop):
        raise RunError(f"{store.dir} is a {reader.name} run, which {command} does not read; read it with: "
                       f"{reader.look_with}")


def loop_part(store: RunStore, part: str, command: str) -> Callable[..., Any]:
    """The function that reads this run for `command`: its loop's, else that of the first loop it holds which
    has one (an optimize run's solve evaluations show as solve runs do); or a RunError naming what reads it.

    >>> import tempfile
    >>> with RunStore(tempfile.mkdtemp()) as store:
    ...     store.require({"loop": "grow"})
    ...     loop_part(store, "export", "looplab export")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    looplab.runs._store.RunError: ... is a grow run, which looplab export does not read; read it with: looplab graph report --run-dir DIR
    """
    reader = loop_of(store)
    for name in [reader.name, *store.meta("holds", [])]:
        read = getattr(_READERS.get(name), part, None)
        if read is not None:
            return read
    raise RunError(f"{store.dir} is a {reader.name} run, which {command} does not read; read it with: "
                   f"{reader.look_with}")
