"""Checks that a candidate cannot forge: the candidate and the checks run in two processes.

Inside one sandbox, the harness forks. The child runs the candidate's code and serves calls of its
function; it has no way to write to the sandbox's standard output (its stdout and stderr go to
/dev/null, every other descriptor is closed) and cannot reach its parent's (the parent makes itself
non-dumpable, so /proc/PARENT and ptrace are closed to a process of the same user). The parent runs
only trusted code, the task's prompt and the checks, with the function replaced by a proxy that
sends each call's arguments to the child and receives the result as plain data: None, booleans,
numbers, strings, bytes and containers of them, unpickled with no classes allowed. An object whose
`__eq__` always answers True never reaches a comparison, and printing a pass mark or exiting early
in the child reaches nothing: only the parent writes the results, and it writes a pass only after
the checks returned.
"""
from __future__ import annotations

import json

MARK = "@@looplab-check@@ "
PASSED = MARK + '{"passed": true}'

_TEMPLATE = r'''
import builtins, io, os, pickle, struct, sys, traceback

_CANDIDATE = %(candidate)r
_TRUSTED = %(trusted)r
_ENTRY = %(entry)r
_DRIVER = %(driver)r
_MARK = %(mark)r
_LIMIT = 64 << 20  # largest message either side accepts
_PLAIN = (type(None), bool, int, float, complex, str, bytes)


def _send(fd, value):
    data = pickle.dumps(value, protocol=4)
    data = struct.pack("<Q", len(data)) + data
    while data:
        data = data[os.write(fd, data):]


def _read(fd, size):
    data = bytearray()
    while len(data) < size:
        chunk = os.read(fd, min(size - len(data), 1 << 20))
        if not chunk:
            raise EOFError
        data += chunk
    return bytes(data)


def _receive(fd):
    size = struct.unpack("<Q", _read(fd, 8))[0]
    if size > _LIMIT:
        raise ValueError("a message larger than the harness accepts")
    return _read(fd, size)


class _PlainData(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ("builtins", "complex"):
            return complex
        raise pickle.UnpicklingError(f"{module}.{name} is not plain data")


def _plain(value, depth=0):
    """The value as plain data, NumPy values as Python ones; anything else raises TypeError."""
    kind = type(value)
    if depth > 100:
        raise TypeError("the result is nested too deeply")
    if kind in _PLAIN:
        return value
    if kind in (list, tuple, set, frozenset):
        return kind(_plain(v, depth + 1) for v in value)
    if kind is dict:
        return {_plain(k, depth + 1): _plain(v, depth + 1) for k, v in value.items()}
    if kind.__module__ == "numpy" and hasattr(value, "tolist"):
        return _plain(value.tolist(), depth + 1)
    raise TypeError(f"returned a {kind.__name__} object, which is not plain data")


def _candidate(requests, replies):
    """The child: run the candidate and answer calls until the parent is done."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    low, high = sorted((requests, replies))
    os.closerange(3, low)
    os.closerange(low + 1, high)
    os.closerange(high + 1, 1 << 16)
    namespace = {"__name__": "__main__", "__file__": "/sandbox/candidate.py"}
    try:
        import linecache
        linecache.cache["/sandbox/candidate.py"] = (len(_CANDIDATE), None, _CANDIDATE.splitlines(True),
                                                    "/sandbox/candidate.py")
        exec(compile(_CANDIDATE, "/sandbox/candidate.py", "exec"), namespace)
    except BaseException as error:
        _send(replies, ("crash", _format(error)))
        return
    function = namespace.get(_ENTRY)
    if not callable(function):
        _send(replies, ("missing",))
        return
    _send(replies, ("ready",))
    while True:
        try:
            args, kwargs = pickle.loads(_receive(requests))
        except EOFError:
            return
        try:
            reply = ("ok", _plain(function(*args, **kwargs)))
        except BaseException as error:
            try:
                error_args = _plain(error.args)
            except TypeError:
                error_args = (str(error),)
            reply = ("raise", type(error).__name__, error_args)
        _send(replies, reply)


def _format(error):
    report = traceback.TracebackException.from_exception(error)
    report.stack = traceback.StackSummary.from_list(
        [frame for frame in report.stack if frame.filename == "/sandbox/candidate.py"])
    return "".join(report.format())


def _checker(requests, replies):
    """The parent: trusted code only; the function is a proxy to the child."""
    import ctypes
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: no /proc/self or ptrace for the child
    try:
        status = pickle.loads(_receive(replies))
    except (EOFError, ValueError):
        sys.stderr.write("The program ended before its function could be called.\n")
        sys.exit(1)
    if status[0] == "crash":
        sys.stderr.write(status[1])
        sys.exit(1)
    if status[0] == "missing":
        _report({"missing": _ENTRY})
        return

    def proxy(*args, **kwargs):
        try:
            _send(requests, (args, kwargs))
        except (pickle.PicklingError, TypeError, AttributeError) as error:
            raise TypeError(f"the check passes an argument that cannot be sent ({error})") from None
        try:
            reply = _PlainData(io.BytesIO(_receive(replies))).load()
        except EOFError:
            raise RuntimeError("the function's process ended during the call") from None
        if reply[0] == "ok":
            return reply[1]
        kind, error = getattr(builtins, reply[1], None), None
        if isinstance(kind, type) and issubclass(kind, Exception):
            try:
                error = kind(*reply[2])
            except TypeError:  # an exception type whose arguments do not fit
                pass
        raise error or RuntimeError(f"{reply[1]}: {reply[2]}")

    namespace = {"__name__": "__main__"}
    exec(compile(_TRUSTED, "/sandbox/task.py", "exec"), namespace)
    namespace[_ENTRY] = proxy
    namespace["_report"] = _report
    exec(compile(_DRIVER, "/sandbox/check.py", "exec"), namespace)


def _report(row):
    import json
    sys.stdout.write(_MARK + json.dumps(row) + "\n")
    sys.stdout.flush()


_down = os.pipe()  # parent -> child: calls
_up = os.pipe()    # child -> parent: results
if os.fork() == 0:
    os.close(_down[1])
    os.close(_up[0])
    try:
        _candidate(_down[0], _up[1])
    finally:
        os._exit(0)
os.close(_down[0])
os.close(_up[1])
_checker(_down[1], _up[0])
'''


def checked_program(candidate: str, trusted: str, entry: str, driver: str) -> str:
    """A program that runs `candidate` in a child process and the trusted `driver` (after the trusted
    `trusted` code, with `entry` bound to a proxy of the candidate's function) in the parent. The
    driver reports with `_report(dict)`, which prints a line starting with MARK; nothing else can.

    >>> "_report" in checked_program("def f():\\n    return 1", "", "f", "_report({'ok': f() == 1})")
    True
    """
    return _TEMPLATE % {"candidate": candidate, "trusted": trusted, "entry": entry, "driver": driver, "mark": MARK}


def reported(stdout: str) -> list[dict]:
    """The rows the checking process reported with `_report`, in order (no other process can write them).
    Model-written checks (properties, generated tests) run in that process too and may print a line that
    looks like a row: a line that is not a JSON object is skipped here, and each source checks the
    fields of the rows it reads.

    >>> reported('noise\\n' + MARK + '{"i": 0, "ok": true}\\n' + MARK + '{\\n' + MARK + '5\\n')
    [{'i': 0, 'ok': True}]
    """
    return [row for row in map(marked_row, stdout.splitlines()) if row is not None]


def marked_row(line: str) -> dict | None:
    """The JSON object a line starting with MARK carries; None for any other line."""
    if not line.startswith(MARK):
        return None
    try:
        row = json.loads(line[len(MARK):])
    except (ValueError, RecursionError):
        return None
    return row if isinstance(row, dict) else None
