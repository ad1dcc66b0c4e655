"""One control group per sandbox, so memory (page cache, tmpfs and memfd included) and the number of
processes are bounded for everything a program starts, not per process.

cgroup v2 (a unified hierarchy with the memory and pids controllers) or v1 (separate memory and pids
hierarchies), whichever this machine lets looplab write to; typically that needs root, as in CI. Where
neither is writable, `Cgroups.find()` returns None and the sandbox keeps its per-process rlimits
(SECURITY.md says what that leaves open).
"""
from __future__ import annotations

import functools
import os
import signal
import subprocess
import time
from itertools import count
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
_numbers = count()


class Cgroup:
    """The control group of one sandbox: created with its limits, joined by the sandbox's first
    process before it executes bubblewrap, killed and removed when the run is over."""

    def __init__(self, dirs: dict[str, Path], version: int):
        self.dirs = dirs          # controller -> directory ("unified" for v2)
        self.version = version

    def wrap(self, command: list[str]) -> list[str]:
        """`command`, started by a shell that first moves itself into the group, so bubblewrap and
        everything it starts are inside from their first instruction."""
        joins = "; ".join(f"echo $$ > {path / 'cgroup.procs'}" for path in self.dirs.values())
        return ["/bin/sh", "-c", f'{{ {joins}; }} 2>/dev/null; exec "$@"', "sh", *command]

    def out_of_memory(self) -> bool:
        """Whether the kernel killed a process of this group for memory."""
        if self.version == 2:
            text = _read(self.dirs["unified"] / "memory.events")
        else:
            text = _read(self.dirs["memory"] / "memory.oom_control")
        return any(line.startswith("oom_kill ") and line.split()[1] != "0" for line in text.splitlines())

    def peak_bytes(self) -> int:
        """The most memory the group held at once."""
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        path = self.dirs["unified" if self.version == 2 else "memory"] / name
        text = _read(path).strip()
        return int(text) if text.isdigit() else 0

    def remove(self) -> None:
        """Kill whatever is left in the group and remove it."""
        for _ in range(50):
            pids = set()
            for path in self.dirs.values():
                pids |= {int(p) for p in _read(path / "cgroup.procs").split()}
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)
        for path in self.dirs.values():
            try:
                path.rmdir()
            except OSError:
                pass  # a process still exiting; the group is empty soon and costs nothing


class Cgroups:
    """Where this machine lets looplab make control groups, and how."""

    def __init__(self, parents: dict[str, Path], version: int):
        self.parents = parents
        self.version = version

    @classmethod
    @functools.cache  # a property of the machine: tried once per process, not for every sandbox
    def find(cls) -> Cgroups | None:
        """The writable hierarchy to use, or None."""
        unified = ROOT / "cgroup.controllers"
        if unified.is_file() and {"memory", "pids"} <= set(_read(unified).split()):
            own = ROOT / _read(Path("/proc/self/cgroup")).splitlines()[0].split("::", 1)[-1].lstrip("/")
            parent = own.parent / "looplab" if own != ROOT else ROOT / "looplab"
            return cls._try({"unified": parent}, 2)
        if (ROOT / "memory" / "cgroup.procs").is_file() and (ROOT / "pids" / "cgroup.procs").is_file():
            return cls._try({"memory": ROOT / "memory" / "looplab", "pids": ROOT / "pids" / "looplab"}, 1)
        return None

    @classmethod
    def _try(cls, parents: dict[str, Path], version: int) -> Cgroups | None:
        try:
            for path in parents.values():
                path.mkdir(exist_ok=True)
            if version == 2:  # let the children of looplab's group use both controllers
                control = parents["unified"].parent / "cgroup.subtree_control"
                if not {"memory", "pids"} <= set(_read(control).split()):
                    control.write_text("+memory +pids")
                (parents["unified"] / "cgroup.subtree_control").write_text("+memory +pids")
        except OSError:
            return None
        found = cls(parents, version)
        return found if found._works() else None

    def _works(self) -> bool:
        """Whether a process can be put into a group here and limited there (one trial, at start)."""
        try:
            group = self.make(64 << 20, 4)
        except OSError:
            return False
        try:
            trial = subprocess.run(group.wrap(["/bin/sh", "-c", "cat /proc/self/cgroup"]), capture_output=True,
                                   text=True, timeout=10)
            return all(path.name in trial.stdout for path in group.dirs.values())
        except (OSError, subprocess.SubprocessError):
            return False
        finally:
            group.remove()

    def make(self, memory_bytes: int, processes: int) -> Cgroup:
        """A new group for one sandbox: at most `memory_bytes` of memory, no swap, `processes` processes."""
        name = f"{os.getpid()}-{next(_numbers)}"
        dirs = {controller: parent / name for controller, parent in self.parents.items()}
        group = Cgroup(dirs, self.version)
        for path in dirs.values():
            path.mkdir()
        try:
            self._limit(dirs, memory_bytes, processes)
        except OSError:
            group.remove()
            raise
        return group

    def _limit(self, dirs: dict[str, Path], memory_bytes: int, processes: int) -> None:
        if self.version == 2:
            group = dirs["unified"]
            (group / "memory.max").write_text(str(memory_bytes))
            _write_if_there(group / "memory.swap.max", "0")
            (group / "pids.max").write_text(str(processes))
        else:
            (dirs["memory"] / "memory.limit_in_bytes").write_text(str(memory_bytes))
            _write_if_there(dirs["memory"] / "memory.memsw.limit_in_bytes", str(memory_bytes))
            (dirs["pids"] / "pids.max").write_text(str(processes))


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _write_if_there(path: Path, value: str) -> None:
    if path.exists():
        try:
            path.write_text(value)
        except OSError:
            pass  # swap accounting is off on this machine: there is no swap to bound
