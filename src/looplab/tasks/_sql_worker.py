"""Runs in a process of its own (`python -I -S -c`), one query per request, so that a query of any
cost can be killed: SQLite's progress handler never runs inside one long function call (`instr` on
two huge blobs), and a query's memory is this process's, bounded by RLIMIT_AS. Standard library only.

Requests arrive on stdin, one JSON line each: {"database", "sql", "seconds"}. Each answer is written
to stdout as an 8-byte length and a pickle of plain data: ("ok", columns, rows) or ("error", message).
"""
import json
import pickle
import resource
import sqlite3
import struct
import sys
import time

MAX_ROWS = 100_000          # a result larger than this is an error, not an answer
MAX_VALUE_BYTES = 10 << 20  # the longest string or blob a query may build
MAX_RESULT_BYTES = 64 << 20  # all of a result's text and blobs together

_ALLOWED = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, getattr(sqlite3, "SQLITE_RECURSIVE", 33)}
# Functions that hand out process state (fts3_tokenizer returns a native pointer) or load code.
_REFUSED_FUNCTIONS = {"fts3_tokenizer", "load_extension"}


def _read_only(action, arg1, arg2, *rest):
    """SQLite authorizer: reading only (no PRAGMA, ATTACH, writes or schema changes)."""
    if action == sqlite3.SQLITE_FUNCTION and str(arg2).lower() in _REFUSED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK if action in _ALLOWED else sqlite3.SQLITE_DENY


def _size(value):
    return len(value) if isinstance(value, (str, bytes)) else 8


def query(database, sql, seconds):
    try:
        db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    except sqlite3.Error as e:
        return ("error", f"cannot open the database ({e})")
    try:
        db.set_authorizer(_read_only)
        db.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)  # no value, however built, may grow past this
        deadline = time.monotonic() + seconds
        db.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
        cursor = db.execute(sql)
        rows, total = [], 0
        for row in cursor:
            if len(rows) == MAX_ROWS:
                return ("error", f"the result has more than {MAX_ROWS:,} rows")
            total += sum(map(_size, row))
            if total > MAX_RESULT_BYTES:
                return ("error", f"the result is larger than {MAX_RESULT_BYTES >> 20} MB")
            rows.append(row)
        return ("ok", tuple(d[0] for d in cursor.description or ()), tuple(rows))
    except sqlite3.OperationalError as e:
        return ("error", "the query took longer than the time limit" if "interrupt" in str(e) else str(e))
    except MemoryError:
        return ("error", "the query needs more memory than a query may use")
    except (sqlite3.Error, ValueError, OverflowError) as e:
        return ("error", str(e) or type(e).__name__)
    finally:
        db.close()


def main():
    memory = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        request = json.loads(line)
        try:
            data = pickle.dumps(query(request["database"], request["sql"], request["seconds"]), protocol=4)
        except MemoryError:
            data = pickle.dumps(("error", "the query needs more memory than a query may use"), protocol=4)
        out.write(struct.pack("<Q", len(data)) + data)
        out.flush()


if __name__ == "__main__":  # run as `python -c`, never on import
    main()
