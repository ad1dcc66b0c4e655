"""Runs inside the sandbox: apply resource limits, wait for the program, run it in a child process,
and report how that process ended on a channel only this launcher holds.

The sandbox reads this file once and passes its text to `python -c`, so a run never depends on
what is on disk later (an upgrade during a long run cannot mix two versions).

The launcher starts before its program exists (the sandbox keeps one started ahead of need), so
the program arrives on standard input: a header line "SIZE FILENAME", then `size` bytes
of source; whatever follows is the program's own standard input. The pipe is read with os.read,
so nothing of the program's input is consumed here.

How the program ended comes from waitpid in this launcher, never from what the program printed or
the status it exited with: the launcher writes "started" on the status descriptor before it reads
the program (so looplab can tell a sandbox that never started from a program that wrote "bwrap:"),
then one JSON line {"exit": code} or {"signal": n}. The program's process does not hold that
descriptor. Started as root, the launcher and the program become two different unused users, so
the program cannot signal or trace the launcher either; otherwise the launcher makes itself
non-dumpable, and a program that kills it only ends its own run as "killed".

Limits are set after bubblewrap created its namespaces, so the process limit counts only the
processes inside the sandbox. Python starts with -S (no site: half of its start-up time), so the
site-packages directories arrive as arguments. Standard library only; imports are kept few.
"""
import os
import resource
import sys


def _read_exactly(size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = os.read(0, size - len(data))
        if not chunk:
            break
        data += chunk
    return bytes(data)


def _read_all(fd: int) -> bytes:
    data = bytearray()
    while chunk := os.read(fd, 4096):
        data += chunk
    os.close(fd)
    return bytes(data)


def _read_line() -> bytes:
    line = bytearray()
    while not line.endswith(b"\n"):
        byte = os.read(0, 1)
        if not byte:
            break
        line += byte
    return bytes(line)


def _install_seccomp(program: bytes) -> None:
    """Install looplab's filter (see _seccomp.py) for this process and its children: no_new_privs, then the
    filter. Only without bubblewrap; in a sandbox, bubblewrap installs it before this launcher starts."""
    import ctypes

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    libc = ctypes.CDLL(None, use_errno=True)
    buffer = ctypes.create_string_buffer(program)
    fprog = Program(len(program) // 8, ctypes.addressof(buffer))
    if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "the seccomp filter could not be installed")


def _become(uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def _run(path: str, source: str) -> None:
    """The program's process: run the source and print a clean traceback if it raises."""
    sys.argv = [path]
    namespace = {"__name__": "__main__", "__file__": path}
    try:
        exec(compile(source, path, "exec"), namespace)
    except SystemExit:
        raise
    except BaseException as error:  # report anything the program raised, minus this launcher's frames
        if isinstance(error, MemoryError):
            namespace.clear()  # the program's objects go first: at the limit, there is no room to report it
        import linecache  # only now: its imports cost a program that succeeds a few milliseconds
        import traceback

        linecache.cache[path] = (len(source), None, source.splitlines(True), path)  # not a file, yet shown
        report = traceback.TracebackException.from_exception(error)
        report.stack = traceback.StackSummary.from_list(
            [frame for frame in report.stack if frame.filename != "<string>"])
        sys.stdout.flush()
        sys.stderr.write("".join(report.format()))
        sys.exit(1)


def main() -> None:
    cpu, memory, processes, file_size, uid, status, seccomp = (int(x) for x in sys.argv[1:8])
    sys.path.extend(p for p in sys.argv[8:] if p)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU first, SIGKILL a second later
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    seccomp_program = _read_all(seccomp) if seccomp >= 0 else b""
    os.write(status, b"started\n")
    header = _read_line()
    if not header:
        return  # the sandbox was closed before it got a program
    size, _, filename = header.decode().rstrip("\n").partition(" ")
    path = "/sandbox/" + filename
    source = _read_exactly(int(size)).decode("utf-8", "replace")
    pid = os.fork()
    if pid == 0:
        os.close(status)
        if uid >= 0:  # started as root: become a user nobody else is, which drops every capability
            _become(uid)
        if seccomp_program:
            _install_seccomp(seccomp_program)
        code = 1  # what escapes below (an error while reporting the program's error) is a failure too
        try:
            _run(path, source)
            code = 0
        except SystemExit as done:  # exit as Python would, without its slow teardown of a forked interpreter
            code = done.code if isinstance(done.code, int) else 0 if done.code is None else 1
            if not isinstance(done.code, (int, type(None))):
                sys.stderr.write(f"{done.code}\n")
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code & 0xFF)
    os.close(0)
    if uid >= 0:
        _become(uid + 1)  # another user than the program's: it cannot signal or trace this process
    else:
        import ctypes

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: no ptrace or /proc access for the program
    _, wait_status = os.waitpid(pid, 0)
    ended = (f'{{"signal": {os.WTERMSIG(wait_status)}}}' if os.WIFSIGNALED(wait_status)
             else f'{{"exit": {os.WEXITSTATUS(wait_status)}}}')
    os.write(status, (ended + "\n").encode())
    os._exit(0)


if __name__ == "__main__":  # run as `python -c`, never on import
    main()
