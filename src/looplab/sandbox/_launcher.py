"""Runs inside the sandbox: apply resource limits, then run the program and print a clean traceback.

Limits are set here, after bubblewrap created its namespaces, so the process limit counts only
the processes inside the sandbox. Python starts with -S (no site: half of its start-up time), so
the site-packages directories arrive as arguments. Standard library only; imports are kept few.
"""
import os
import resource
import sys


def main() -> None:
    cpu, memory, processes, file_size, uid = (int(x) for x in sys.argv[1:6])
    path = sys.argv[6]
    sys.path.extend(p for p in sys.argv[7:] if p)
    with open(path) as f:  # read before switching user: the program file belongs to the caller
        source = f.read()
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU first, SIGKILL a second later
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if uid >= 0:  # started as root: become a user nobody else is, which drops every capability
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
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
            [frame for frame in report.stack if frame.filename != __file__])
        sys.stdout.flush()
        sys.stderr.write("".join(report.format()))
        sys.exit(1)


main()
