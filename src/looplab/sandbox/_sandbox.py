from __future__ import annotations

import json
import os
import re
import select
import selectors
import secrets
import shutil
import signal
import site
import subprocess
import sys
import threading
import time
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ._cgroup import Cgroups
from ._harness import marked_row
from ._seccomp import filter_program

LAUNCHER = Path(__file__).with_name("_launcher.py").read_text()
RESULT_KINDS = ("ok", "error", "timeout", "memory", "killed", "output_limit")
BWRAP_MISSING = ("bubblewrap is not installed, so generated code cannot be isolated; install it with "
                 "`apt-get install bubblewrap`, or pass --unsafe-no-sandbox to run with resource limits only")


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot run on this machine (bubblewrap missing or failing)."""


@dataclass(frozen=True)
class Limits:
    timeout: float = 10.0          # wall-clock seconds
    cpu_seconds: int = 10
    memory_mb: int = 1024          # address space
    processes: int = 32
    file_size_mb: int = 16         # largest file the program may write
    tmp_mb: int = 64               # size of its private /tmp
    output_bytes: int = 1_000_000  # captured stdout + stderr


@dataclass(frozen=True)
class ExecResult:
    kind: str                 # one of RESULT_KINDS
    exit_code: int | None     # None when killed by a signal
    signal: int | None
    stdout: str
    stderr: str
    traceback: str            # the program's last traceback, if it raised
    duration: float           # wall seconds
    isolation: str            # "bubblewrap" or "unsafe-no-sandbox"
    peak_memory_mb: float | None = None  # the most the sandbox held at once, where a control group measured it

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def _last_traceback(stderr: str) -> str:
    start = stderr.rfind("Traceback (most recent call last):")
    if start >= 0:
        return stderr[start:].strip()
    # A SyntaxError is printed without the header: just the location and the error line.
    lines = stderr.strip().splitlines()
    if lines and re.match(r"[\w.]+(Error|Exception)\b", lines[-1]):
        start = max((i for i, line in enumerate(lines) if line.startswith("  File ")), default=len(lines) - 1)
        return "\n".join(lines[start:])
    return ""


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # bubblewrap's death takes its pid namespace with it
    except ProcessLookupError:
        pass


def _stop(proc: subprocess.Popen) -> None:
    """Kill a sandbox that never got a program, and reap it."""
    _kill_group(proc)
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        pipe.close()
    _read_status(proc)
    proc.wait()
    if proc.cgroup is not None:
        proc.cgroup.remove()


def _stop_all(spares: list[Future]) -> None:
    while spares:
        try:
            proc = spares.pop().result()
        except Exception:  # a sandbox that failed to start holds nothing to stop
            continue
        _stop(proc)


def _filter_pipe() -> int:
    """A pipe's read end holding the seccomp filter (a few hundred bytes: it fits the pipe at once), or -1 on an
    architecture without one."""
    program = filter_program()
    if program is None:
        return -1
    read, write = os.pipe()
    os.write(write, program)
    os.close(write)
    return read


def _header(filename: str, source: bytes) -> bytes:
    """The line the launcher reads before a program's source (a plain line: parsing JSON would cost the launcher
    the import of json and re, a few milliseconds of every sandbox's start)."""
    return f"{len(source)} {filename}\n".encode()


def _read_status(proc: subprocess.Popen) -> list[str]:
    """What the launcher wrote on its status channel ("started", then how the program ended); closes it."""
    fd, proc.status_fd = proc.status_fd, -1
    if fd < 0:
        return []
    data = bytearray()
    os.set_blocking(fd, False)
    try:
        while chunk := os.read(fd, 4096):
            data += chunk
    except BlockingIOError:
        pass
    os.close(fd)
    return data.decode("utf-8", "replace").splitlines()


class Sandbox:
    """Runs untrusted Python in a subprocess: bubblewrap namespaces plus resource limits.

    Inside: no network, the system and Python read-only, a private writable /tmp, no view of
    the user's files; CPU, memory, process and file-size rlimits; a wall-clock timeout; capped
    output. Where the machine allows it (root), a control group per sandbox bounds memory (tmpfs
    and memfd included) and processes for everything the program starts together; `containment`
    says which. `unsafe_no_sandbox=True` keeps the limits but drops the isolation.

    It is a pool: `run` may be called from many threads, runs at most `pool` programs at once (the rest
    wait), and keeps `pool` + 1 sandboxes started ahead of need. A sandbox serves one program only:
    nothing one program leaves behind reaches the next.
    """

    def __init__(self, limits: Limits = Limits(), *, unsafe_no_sandbox: bool = False, pool: int = 1):
        if pool < 1:
            raise ValueError(f"a sandbox pool holds at least 1 sandbox, not {pool}")
        self.limits = limits
        self.pool = pool
        self.isolation = "unsafe-no-sandbox" if unsafe_no_sandbox else "bubblewrap"
        self._bwrap = None if unsafe_no_sandbox else shutil.which("bwrap")
        if not unsafe_no_sandbox and self._bwrap is None:
            raise SandboxUnavailable(BWRAP_MISSING)
        self._python = sys.executable
        # Python starts with -S in the sandbox; the launcher puts these back on sys.path.
        self._site_dirs = [p for p in site.getsitepackages() if os.path.isdir(p)]
        self._cgroups = Cgroups.find()
        self.containment = f"cgroup v{self._cgroups.version}" if self._cgroups else "per-process rlimits"
        self._slots = threading.BoundedSemaphore(pool)
        self._lock = threading.Lock()
        self._spares: list[Future] = []  # sandboxes started ahead of need (or starting), waiting for a program
        # bubblewrap's --die-with-parent follows the thread that started it, so every sandbox is started
        # by this one long-lived thread, never by a worker thread that may end before its sandbox is used.
        self._starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-start")
        # A finished sandbox's group is emptied and removed here, not by the caller: its last processes take a few
        # milliseconds to exit (the kernel ends a PID namespace's processes after its first), and the next program
        # need not wait for that.
        self._reaper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-reap")
        weakref.finalize(self, _stop_all, self._spares)

    def with_limits(self, **changes) -> Sandbox:
        return Sandbox(replace(self.limits, **changes), unsafe_no_sandbox=self._bwrap is None, pool=self.pool)

    def _command(self, status_fd: int, seccomp_fd: int) -> list[str]:
        """`seccomp_fd`: where bubblewrap (or, without it, the launcher) reads the filter, or -1 for none."""
        lim = self.limits
        # RLIMIT_NPROC never binds a process whose real user is root, and a user namespace would map
        # the sandbox user back to root. So as root: no user namespace, and the launcher switches to
        # an unused uid of its own, whose process count starts at zero.
        drop_to = secrets.randbelow(1 << 20) + (1 << 20) if os.geteuid() == 0 and self._bwrap else -1
        launcher_args = [str(lim.cpu_seconds), str(lim.memory_mb << 20), str(lim.processes),
                         str(lim.file_size_mb << 20), str(drop_to), str(status_fd)]
        if self._bwrap is None:
            return [self._python, "-I", "-S", "-c", LAUNCHER, *launcher_args, str(seccomp_fd), *self._site_dirs]
        cmd = [self._bwrap, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net",
               "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        if seccomp_fd >= 0:  # installed here, the launcher starts under it (and needs no ctypes to install it)
            cmd += ["--seccomp", str(seccomp_fd)]
        if drop_to >= 0:
            cmd += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        else:
            cmd += ["--unshare-user"]
        cmd += ["--ro-bind", "/usr", "/usr"]
        for link in ("bin", "lib", "lib64", "sbin"):
            target = Path("/") / link
            if target.is_symlink():
                cmd += ["--symlink", os.readlink(target), str(target)]
            elif target.is_dir():
                cmd += ["--ro-bind", str(target), str(target)]
        # The private /tmp comes first so that a Python installed under /tmp is bound on top of it.
        cmd += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(lim.tmp_mb << 20),
                "--tmpfs", "/tmp"]
        made = {"/tmp"}
        for prefix in sorted({sys.base_prefix, sys.prefix}):
            if prefix.startswith("/usr/"):
                continue
            # bubblewrap makes missing parents 0700; the sandbox user must be able to pass through
            for parent in reversed(Path(prefix).parents[:-1]):
                if str(parent) not in made:
                    made.add(str(parent))
                    cmd += ["--perms", "0755", "--dir", str(parent)]
            cmd += ["--ro-bind", prefix, prefix]
        cmd += ["--chdir", "/tmp", "--setenv", "HOME", "/tmp", "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
                self._python, "-I", "-S", "-c", LAUNCHER, *launcher_args, "-1", *self._site_dirs]
        return cmd

    def _start(self) -> subprocess.Popen:
        """A fresh sandbox whose launcher waits for its program on stdin, with a status channel of its own."""
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp"}
        status_read, status_write = os.pipe()
        seccomp_fd = _filter_pipe()
        command = self._command(status_write, seccomp_fd)
        # The group bounds the launcher, bubblewrap and the program; leave room for the first two.
        group = None
        if self._cgroups:
            try:
                group = self._cgroups.make(self.limits.memory_mb << 20, self.limits.processes + 8)
            except OSError:  # the hierarchy let looplab in but not set limits: rlimits only, as without one
                self._cgroups, self.containment = None, "per-process rlimits"
        try:
            proc = subprocess.Popen(group.wrap(command) if group else command, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/tmp", env=env,
                                    start_new_session=True,
                                    pass_fds=(status_write,) + ((seccomp_fd,) if seccomp_fd >= 0 else ()))
        except BaseException:
            os.close(status_read)
            if group:
                group.remove()
            raise
        finally:
            os.close(status_write)
            if seccomp_fd >= 0:
                os.close(seccomp_fd)
        proc.status_fd = status_read
        proc.cgroup = group
        return proc

    def close(self) -> None:
        """Stop the sandboxes started ahead of need, and wait for the finished ones' groups to be removed."""
        with self._lock:
            _stop_all(self._spares)
        self._reaper.submit(lambda: None).result()  # one worker: every removal asked for before is done

    def service(self, code: str) -> SandboxService:
        """`code` as a long-lived program in a sandbox of its own, answering requests (see SandboxService)."""
        return SandboxService(self, code)

    def run(self, code: str, *, filename: str = "main.py", stdin: str = "") -> ExecResult:
        """Run `code` as a Python program and report what happened; never raises for program behaviour.

        Every program gets a sandbox of its own. Starting one (namespaces, mounts, Python) costs
        more than most programs here take to run, so a replacement is started as each program
        ends, and the next call takes the oldest one waiting, which has had a run's time to get ready.
        """
        if "/" in filename or "\n" in filename or not filename:
            raise ValueError(f"filename must be a plain file name, not {filename!r}")
        with self._slots:
            with self._lock:
                # one more than can run at once: a program that follows another at once takes the sandbox
                # started a run earlier, which has had the time to get ready
                while len(self._spares) < self.pool + 1:
                    self._spares.append(self._starter.submit(self._start))
                spare = self._spares.pop(0)
            return self._run(spare.result(), code, filename, stdin)

    def _run(self, proc: subprocess.Popen, code: str, filename: str, stdin: str) -> ExecResult:
        source = code.encode()
        header = _header(filename, source)
        start = time.monotonic()
        out, err, reason = self._collect(proc, header + source + stdin.encode("utf-8", "surrogateescape"), start)
        duration = time.monotonic() - start
        status = _read_status(proc)
        out_of_memory = proc.cgroup is not None and proc.cgroup.out_of_memory()
        peak = round(proc.cgroup.peak_bytes() / 2 ** 20, 1) if proc.cgroup is not None else None
        if proc.cgroup is not None:
            try:
                self._reaper.submit(proc.cgroup.remove)
            except RuntimeError:  # the interpreter is shutting down (a Ctrl-C mid-run): no thread takes new work
                proc.cgroup.remove()
        with self._lock:  # its replacement starts as the program ends, not while the next one runs
            if len(self._spares) < self.pool + 1:
                self._spares.append(self._starter.submit(self._start))
        return replace(self._result(status, out, err, reason, duration, out_of_memory), peak_memory_mb=peak)

    def _collect(self, proc: subprocess.Popen, stdin: bytes, start: float) -> tuple[bytes, bytes, str]:
        """Feed stdin and read both pipes until exit, the wall-clock deadline or the output cap. Input
        is written as the program takes it, so a program that never reads it cannot stall the run."""
        chunks = {proc.stdout: bytearray(), proc.stderr: bytearray()}
        selector = selectors.DefaultSelector()
        for pipe in chunks:
            selector.register(pipe, selectors.EVENT_READ)
        os.set_blocking(proc.stdin.fileno(), False)
        pending = memoryview(stdin)
        selector.register(proc.stdin, selectors.EVENT_WRITE)
        deadline = start + self.limits.timeout
        reason = ""
        while any(key.fileobj is not proc.stdin for key in selector.get_map().values()):
            left = deadline - time.monotonic()
            if left <= 0:
                if proc.poll() is None:
                    reason = "timeout"
                break
            if proc.poll() is not None:
                # The program is gone; a leftover child may hold the pipes open, so read only what
                # is already there.
                deadline = min(deadline, time.monotonic() + 0.2)
            for key, _ in selector.select(timeout=min(left, 0.5)):
                if key.fileobj is proc.stdin:
                    try:
                        pending = pending[os.write(key.fd, pending[:65536]):]
                    except (BrokenPipeError, BlockingIOError) as e:
                        if isinstance(e, BrokenPipeError):
                            pending = pending[:0]
                    if not pending:
                        selector.unregister(proc.stdin)
                        proc.stdin.close()
                    continue
                data = os.read(key.fd, 65536)
                if not data:
                    selector.unregister(key.fileobj)
                    continue
                chunks[key.fileobj] += data
            if sum(len(c) for c in chunks.values()) > self.limits.output_bytes:
                reason = "output_limit"
                break
        selector.close()
        if not proc.stdin.closed:
            proc.stdin.close()
        _kill_group(proc)  # reason or not: no process of the program may outlive its run
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            reason = "timeout"
            _kill_group(proc)
            proc.wait()
        cap = self.limits.output_bytes
        return bytes(chunks[proc.stdout][:cap]), bytes(chunks[proc.stderr][:cap]), reason

    def _result(self, status: list[str], out: bytes, err: bytes, reason: str, duration: float,
                out_of_memory: bool = False) -> ExecResult:
        """What happened, from what looplab observed: its own deadline and output cap, and the launcher's
        report of how the program's process ended. Nothing the program printed or the exit status it
        chose can make a sandbox failure, a signal, or success of another run."""
        stdout = out.decode("utf-8", "replace")
        stderr = err.decode("utf-8", "replace")
        tb = _last_traceback(stderr)
        if not status or status[0] != "started":
            raise SandboxUnavailable(f"the sandbox did not start: {stderr.strip()[:500] or 'no message'}")
        ended = json.loads(status[1]) if len(status) > 1 else {}
        sig, exit_code = ended.get("signal"), ended.get("exit")
        if reason:
            kind = reason
        elif out_of_memory:
            kind = "memory"  # the kernel killed a process of the sandbox's group for memory
        elif not ended:
            kind = "killed"  # the program's process took the launcher down with it
        elif sig in (signal.SIGXCPU, signal.SIGKILL) and duration >= self.limits.cpu_seconds * 0.9:
            kind = "timeout"
        elif sig == signal.SIGXFSZ:
            kind = "output_limit"
        elif sig is not None:
            kind = "killed"
        elif exit_code == 0:
            kind = "ok"
        elif tb and re.match(r"(\w+\.)*\w*MemoryError\b", tb.splitlines()[-1]):
            kind = "memory"  # a failure either way; which failure only the program's own traceback tells
        else:
            kind = "error"
        return ExecResult(kind, exit_code, sig, stdout, stderr, tb, round(duration, 4), self.isolation)


class SandboxService:
    """A program that stays up in one sandbox and answers requests: each request is one JSON line on its
    standard input, each answer one line `MARK {json}` on its standard output (other output is ignored),
    after a first line `MARK {"ready": true}` once it has started. For work whose set-up costs more than
    the work (importing a library), with the sandbox's isolation and limits, and each answer bounded in
    time: a service that does not answer in time, or dies, is killed, and the next request starts a new
    one. What the program does for one request may affect its later answers, so a program that handles
    untrusted input should handle each request in a process of its own (fork per request).

    One request at a time; many threads may call `ask`.
    """

    MAX_LINE = 1 << 20  # the longest answer line read

    def __init__(self, sandbox: Sandbox, code: str):
        self.sandbox = sandbox
        self.code = code
        self.restarts = 0
        self._proc: subprocess.Popen | None = None
        self._selector: selectors.BaseSelector | None = None  # the running service's stdout and stderr
        self._pending = bytearray()
        self._lock = threading.Lock()
        self._finalizer: weakref.finalize | None = None  # stops the current sandbox if the service is dropped

    def ask(self, request: dict, timeout: float) -> dict | None:
        """The service's answer to `request`, or None when it gave none within `timeout` seconds (or died);
        a start-up, when needed, has the sandbox's own time limit on top."""
        with self._lock:
            try:
                if self._proc is None and not self._begin():
                    return None
                deadline = time.monotonic() + timeout
                sent = self._send(json.dumps(request).encode() + b"\n", deadline)
                answer = self._answer(deadline) if sent else None
            except OSError:
                answer = None
            if answer is None:
                self._end()
            return answer

    def close(self) -> None:
        with self._lock:
            self._end()

    def _begin(self) -> bool:
        proc = self.sandbox._starter.submit(self.sandbox._start).result()
        source = self.code.encode()
        header = _header("service.py", source)
        self._proc, self._pending = proc, bytearray()
        # One selector for the service's life: an answer then costs one wait and one read (scores are asked
        # thousands of times a second, each from a worker thread that must take the GIL back after every call)
        os.set_blocking(proc.stdin.fileno(), False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(proc.stdout, selectors.EVENT_READ)
        self._selector.register(proc.stderr, selectors.EVENT_READ)
        if self._finalizer is not None:
            self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _stop, proc)
        self.restarts += 1
        deadline = time.monotonic() + self.sandbox.limits.timeout
        try:
            ready = self._answer(deadline) if self._send(header + source, deadline) else None
        except OSError:
            ready = None
        if not (ready or {}).get("ready"):
            self._end()
            return False
        return True

    def _send(self, data: bytes, deadline: float) -> bool:
        """Write all of `data` unless the deadline passes first (a service that stopped reading)."""
        pending, pipe = memoryview(data), self._proc.stdin.fileno()
        while pending:
            try:
                pending = pending[os.write(pipe, pending[:65536]):]
            except BlockingIOError:  # the pipe is full: wait until the service reads
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([], [pipe], [], left)[1]:
                    return False
        return True

    def _answer(self, deadline: float) -> dict | None:
        """The next answer line, read before the deadline; other output is skipped, stderr drained."""
        stdout = self._proc.stdout
        while True:
            while (end := self._pending.find(b"\n")) >= 0:
                line, self._pending = bytes(self._pending[:end]), self._pending[end + 1:]
                answer = marked_row(line.decode("utf-8", "replace"))
                if answer is not None:
                    return answer
            if len(self._pending) > self.MAX_LINE:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            for key, _ in self._selector.select(timeout=left):
                data = os.read(key.fd, 65536)
                if not data:
                    return None  # the service ended
                if key.fileobj is stdout:
                    self._pending += data

    def _end(self) -> None:
        if self._proc is not None:
            self._selector.close()
            _stop(self._proc)
            self._proc = None
