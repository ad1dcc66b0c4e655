"""Runs inside the sandbox: apply resource limits, wait for the program, run it in a child process,
and report how that process ended on a channel only this launcher holds.

The sandbox reads this file once and passes its text to `python -c`, so a run never depends on
what is on disk later (an upgrade during a long run cannot mix two versions).

The launcher starts before its program exists (the sandbox keeps one started ahead of need), so
the program arrives on standard input: a JSON header line {"filename", "size"}, then `size` bytes
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
import json
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


def _read_line() -> bytes:
    line = bytearray()
    while not line.endswith(b"\n"):
        byte = os.read(0, 1)
        if not byte:
            break
        line += byte
    return bytes(line)


# Seccomp: system calls a checked program has no use for fail with EPERM (tracing, mounts, namespaces, kernel
# keys, BPF, perf, userfaultfd, kexec, modules). clone3 fails with ENOSYS, so the C library falls back to
# clone, whose flags a filter can read: clone with a CLONE_NEW* flag fails too. Numbers per architecture;
# a system call made in another architecture's convention (int 0x80, x32) fails as a whole.
_DENIED = {
    0xC000003E: {"clone": 56, "clone3": 435, "numbers": (  # x86_64
        101, 165, 166, 272, 308, 250, 248, 249, 321, 298, 323, 246, 320, 155, 161, 175, 313, 176, 169, 167, 168,
        163, 304, 310, 311, 428, 429, 430, 431, 432, 433, 442, 425)},
    0xC00000B7: {"clone": 220, "clone3": 435, "numbers": (  # aarch64
        117, 40, 39, 97, 268, 219, 217, 218, 280, 241, 282, 104, 294, 41, 51, 105, 273, 106, 142, 224, 225, 89,
        265, 270, 271, 428, 429, 430, 431, 432, 433, 442, 425)},
}
_CLONE_NEW = 0x7E020080  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME


def _seccomp() -> None:
    """Install the filter for this process and its children (no way back: no_new_privs, then the filter)."""
    import ctypes
    import platform
    import struct

    arch = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}.get(platform.machine())
    if arch is None:
        return  # an architecture without a table: the namespaces and limits still hold
    table = _DENIED[arch]
    allow, eperm, enosys = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38
    code = []  # (code, jump if true, jump if false, k); jumps count instructions to skip

    def ret(value):
        code.append((0x06, 0, 0, value))

    numbers = table["numbers"]
    code.append((0x20, 0, 0, 4))                    # A = arch
    code.append((0x15, 1, 0, arch))                 # the expected architecture: go on
    ret(eperm)
    code.append((0x20, 0, 0, 0))                    # A = system call number
    code.append((0x35, len(numbers) + 7, 0, 0x40000000))  # x32 numbers: to the deny at the end
    for i, number in enumerate(numbers):
        code.append((0x15, len(numbers) + 6 - i, 0, number))  # to the deny at the end
    code.append((0x15, 2, 0, table["clone3"]))
    code.append((0x15, 2, 0, table["clone"]))
    ret(allow)
    ret(enosys)
    code.append((0x20, 0, 0, 16))                   # A = low word of clone's flags
    code.append((0x45, 1, 0, _CLONE_NEW))           # a new namespace: deny
    ret(allow)
    ret(eperm)
    program = b"".join(struct.pack("<HBBI", *instruction) for instruction in code)
    buffer = ctypes.create_string_buffer(program)

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    libc = ctypes.CDLL(None, use_errno=True)
    fprog = Program(len(code), ctypes.addressof(buffer))
    if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "the seccomp filter could not be installed")


def _become(uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def _run(path: str, source: str) -> None:
    """The program's process: run the source and print a clean traceback if it raises."""
    import linecache  # tracebacks show the program's lines though it is not a file here

    linecache.cache[path] = (len(source), None, source.splitlines(True), path)
    sys.argv = [path]
    namespace = {"__name__": "__main__", "__file__": path}
    try:
        exec(compile(source, path, "exec"), namespace)
    except SystemExit:
        raise
    except BaseException as error:  # report anything the program raised, minus this launcher's frames
        import traceback

        report = traceback.TracebackException.from_exception(error)
        report.stack = traceback.StackSummary.from_list(
            [frame for frame in report.stack if frame.filename != "<string>"])
        sys.stdout.flush()
        sys.stderr.write("".join(report.format()))
        sys.exit(1)


def main() -> None:
    cpu, memory, processes, file_size, uid, status = (int(x) for x in sys.argv[1:7])
    sys.path.extend(p for p in sys.argv[7:] if p)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU first, SIGKILL a second later
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.write(status, b"started\n")
    header = _read_line()
    if not header:
        return  # the sandbox was closed before it got a program
    program = json.loads(header)
    path = "/sandbox/" + program["filename"]
    source = _read_exactly(program["size"]).decode("utf-8", "replace")
    pid = os.fork()
    if pid == 0:
        os.close(status)
        if uid >= 0:  # started as root: become a user nobody else is, which drops every capability
            _become(uid)
        _seccomp()
        code = 0
        try:
            _run(path, source)
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
    ended = ({"signal": os.WTERMSIG(wait_status)} if os.WIFSIGNALED(wait_status)
             else {"exit": os.WEXITSTATUS(wait_status)})
    os.write(status, (json.dumps(ended) + "\n").encode())
    os._exit(0)


if __name__ == "__main__":  # run as `python -c`, never on import
    main()
