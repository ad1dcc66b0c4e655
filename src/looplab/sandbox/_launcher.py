"""Runs inside the sandbox: apply resource limits, wait for the program, run it, print a clean traceback.

The sandbox reads this file once and passes its text to `python -c`, so a run never depends on
what is on disk later (an upgrade during a long run cannot mix two versions).

The launcher starts before its program exists (the sandbox keeps one started ahead of need), so
the program arrives on standard input: a JSON header line {"filename", "size"}, then `size` bytes
of source; whatever follows is the program's own standard input. The pipe is read with os.read,
so nothing of the program's input is consumed here.

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


def main() -> None:
    cpu, memory, processes, file_size, uid = (int(x) for x in sys.argv[1:6])
    sys.path.extend(p for p in sys.argv[6:] if p)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU first, SIGKILL a second later
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if uid >= 0:  # started as root: become a user nobody else is, which drops every capability
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    header = _read_line()
    if not header:
        return  # the sandbox was closed before it got a program
    program = json.loads(header)
    path = "/sandbox/" + program["filename"]
    source = _read_exactly(program["size"]).decode("utf-8")
    import linecache  # tracebacks show the program's lines though it is not a file here

    linecache.cache[path] = (len(source), None, source.splitlines(True), path)
    sys.argv = [path]
    namespace = {"__name__": "__main__", "__file__": path}
    try:
        exec(compile(source, path, "exec"), namespace)
    except SystemExit:
        raise
    except BaseException as error:  # report anything the program raised, minus this launcher's frame
        import traceback

        report = traceback.TracebackException.from_exception(error)
        report.stack = traceback.StackSummary.from_list(
            [frame for frame in report.stack if frame.filename != "<string>"])
        sys.stdout.flush()
        sys.stderr.write("".join(report.format()))
        sys.exit(1)


main()
