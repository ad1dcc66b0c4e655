"""Text-to-SQL over SQLite databases looplab builds itself (see _sql_data): the model writes one
query for a question. Visible feedback comes from running it on the visible database: the error,
an empty result, or the columns and first rows, never the gold query or its result. The hidden
score is result-set equality with the gold query on a second instance of the database (same
schema, other rows), so a query that hard-codes what it saw fails (Spider's test-suite idea).
"""
from __future__ import annotations

import io
import itertools
import json
import os
import pickle
import re
import selectors
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import weakref
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .._text import fenced_blocks
from ..feedback import Feedback, FeedbackSource
from ..models import cache_root
from . import _sql_data
from ._family import Problem, TaskError, Voice
from ._sql_questions import QUESTIONS

QUERY_SECONDS = 5.0      # per query, visible or hidden
KILL_GRACE = 1.0         # past its time limit, a query's process is killed
QUERY_MEMORY_MB = 1024   # address space of a query's process
SHOWN_ROWS = 5
SAMPLE_ROWS = 3          # rows per table shown with the schema

VOICE = Voice(
    system=("You are an expert in SQL. Write one SQLite query that answers the user's question about the "
            "database. Reply with the query in one ```sql code block and nothing else."),
    noun="query", checked="I ran your query", block=" in one ```sql code block",
    thinker="You are an expert in SQL. Answer briefly, in plain sentences, without code.")


@dataclass(frozen=True)
class SqlTask:
    id: str
    question: str
    schema: str = field(repr=False)  # CREATE statements and a few rows of the visible database
    database: Path
    difficulty: str
    category: str


@dataclass(frozen=True)
class SqlHidden:
    gold: str = field(repr=False)
    database: Path           # the second instance: same schema, other rows
    ordered: bool            # the question asks for an order, so row order counts


@dataclass(frozen=True)
class QueryResult:
    columns: tuple[str, ...] = ()
    rows: tuple[tuple, ...] = ()
    error: str | None = None


_WORKER = Path(__file__).with_name("_sql_worker.py").read_text()


class _PlainData(pickle.Unpickler):
    """Results come back as plain data only: no class of any module is loaded from a worker's reply."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"{module}.{name} is not plain data")


class QueryRunner:
    """Runs queries read-only in worker processes, each killed once it passes its time limit, so no query,
    however it was built, holds looplab past that limit or takes its memory. Safe to call from many threads:
    each call takes an idle worker or starts one; a worker that was killed is not reused.

    >>> runner = QueryRunner()
    >>> runner.run(Path("missing.sqlite"), "SELECT 1").error is not None
    True
    >>> runner.close()
    """

    def __init__(self, memory_mb: int = QUERY_MEMORY_MB):
        self.memory_mb = memory_mb
        self._idle: list[subprocess.Popen] = []
        self._lock = threading.Lock()
        weakref.finalize(self, _stop_workers, self._idle)

    def _start(self) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-I", "-S", "-c", _WORKER, str(self.memory_mb << 20)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                env={"LANG": "C.UTF-8"}, start_new_session=True)

    def close(self) -> None:
        with self._lock:
            _stop_workers(self._idle)

    def run(self, database: Path, sql: str, seconds: float = QUERY_SECONDS) -> QueryResult:
        """One query on a database opened read-only: its columns and rows, or the reason it has none."""
        with self._lock:
            worker = self._idle.pop() if self._idle else None
        worker = worker or self._start()
        request = json.dumps({"database": str(database), "sql": sql, "seconds": seconds}) + "\n"
        healthy = True
        try:
            worker.stdin.write(request.encode())
            worker.stdin.flush()
            answer = _receive(worker, time.monotonic() + seconds + KILL_GRACE)
        except (OSError, EOFError, pickle.UnpicklingError, struct.error):
            answer, healthy = ("error", "the query's process ended without an answer (it ran out of memory)"), False
        if answer is None:
            answer, healthy = ("error", f"the query took longer than the time limit ({seconds:g} s)"), False
        if healthy and worker.poll() is None:
            with self._lock:
                self._idle.append(worker)
        else:
            _stop_workers([worker])
        if answer[0] == "ok":
            return QueryResult(tuple(answer[1]), tuple(map(tuple, answer[2])))
        return QueryResult(error=str(answer[1]))


def _receive(worker: subprocess.Popen, deadline: float) -> tuple | None:
    """A worker's answer, or None when the deadline passed first (or it died: then EOFError)."""
    fd = worker.stdout.fileno()
    data = bytearray()
    size = None
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while size is None or len(data) < 8 + size:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(timeout=left):
                return None
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise EOFError
            data += chunk
            if size is None and len(data) >= 8:
                size = struct.unpack("<Q", data[:8])[0]
    return _PlainData(io.BytesIO(bytes(data[8:8 + size]))).load()


def _stop_workers(workers: list[subprocess.Popen]) -> None:
    while workers:
        worker = workers.pop()
        worker.kill()
        worker.stdin.close()
        worker.stdout.close()
        worker.wait()


def _value(v):
    """A value as compared: numbers (numeric text too) to 2 decimals, text trimmed."""
    if isinstance(v, str):
        try:
            return round(float(v), 2)
        except ValueError:
            return v.strip()
    if isinstance(v, (int, float)):
        return round(float(v), 2)
    return v


def same_result(got: QueryResult, want: QueryResult, ordered: bool) -> bool:
    """Equal results up to column order and column names; row order counts only when `ordered`.

    >>> same_result(QueryResult(("b", "a"), ((2, "x"),)), QueryResult(("a", "b"), (("x", 2.0),)), False)
    True
    """
    if got.error or want.error or len(got.rows) != len(want.rows):
        return False
    width = len(want.columns)
    if len(got.columns) != width:
        return False
    want_rows = [tuple(map(_value, r)) for r in want.rows]
    got_rows = [tuple(map(_value, r)) for r in got.rows]
    want_columns = [Counter(map(repr, c)) for c in zip(*want_rows)]
    got_columns = [Counter(map(repr, c)) for c in zip(*got_rows)]
    for order in itertools.permutations(range(width)):
        if any(got_columns[i] != want_columns[j] for j, i in enumerate(order)):
            continue
        moved = [tuple(r[i] for i in order) for r in got_rows]
        if (moved == want_rows) if ordered else (Counter(moved) == Counter(want_rows)):
            return True
    return False


def _table(result: QueryResult, limit: int = SHOWN_ROWS) -> str:
    lines = [" | ".join(result.columns)]
    lines += [" | ".join("NULL" if v is None else str(v)[:60] for v in row) for row in result.rows[:limit]]
    return "\n".join(lines)


class ExecutionFeedback(FeedbackSource):
    """Runs a candidate query on the visible database. It passes when the query runs and returns rows;
    that it is the right answer only the hidden score can say."""

    def __init__(self, runner: QueryRunner):
        self.runner = runner

    def evaluate(self, task: SqlTask, candidate: str) -> Feedback:
        result = self.runner.run(task.database, candidate)
        if result.error:
            return Feedback(0.0, False, f"The query failed: {result.error}", {"error": result.error})
        if not result.rows:
            return Feedback(0.5, False, "The query ran but returned no rows.", {"rows": 0})
        more = f" (the first {SHOWN_ROWS} shown)" if len(result.rows) > SHOWN_ROWS else ""
        return Feedback(1.0, True, f"The query ran and returned {len(result.rows)} rows{more}:\n{_table(result)}",
                        {"rows": len(result.rows), "columns": list(result.columns)})


_START = re.compile(r"\b(WITH|SELECT)\b", re.I)


def extract_sql(reply: str) -> str:
    """The query in a reply: the last ```sql block (else the last fenced block, else the text from the
    first SELECT or WITH), without a trailing semicolon.

    >>> extract_sql("Here:\\n```sql\\nSELECT 1;\\n```")
    'SELECT 1'
    """
    blocks = fenced_blocks(reply)
    sql_blocks = [body for lang, body in blocks if lang.lower() in ("sql", "sqlite")]
    if sql_blocks or blocks:
        text = (sql_blocks or [b for _, b in blocks])[-1]
    else:
        start = _START.search(reply)
        text = reply[start.start():] if start else reply
    return text.strip().rstrip(";").strip()


class SqlFamily:
    """Text-to-SQL on the shipped databases (library, shop, clinic)."""

    name = "sql"
    voice = VOICE

    def __init__(self):
        self.runner = QueryRunner()
        self._gold: dict[str, QueryResult] = {}  # task id -> the gold query's result on the hidden database

    def describe(self, task: SqlTask) -> str:
        return f"{task.schema}\n\nQuestion: {task.question}"

    def extract(self, task: SqlTask, reply: str) -> str:
        return extract_sql(reply)

    def show(self, candidate: str) -> str:
        return f"```sql\n{candidate}\n```"

    def sources(self) -> dict[str, FeedbackSource]:
        return {"execution": ExecutionFeedback(self.runner)}

    def score(self, problem: Problem, candidate: str) -> Feedback:
        hidden: SqlHidden = problem.hidden
        got = self.runner.run(hidden.database, candidate)
        if problem.task.id not in self._gold:
            self._gold[problem.task.id] = self.runner.run(hidden.database, hidden.gold)
        want = self._gold[problem.task.id]
        if want.error:
            raise TaskError(f"the gold query of {problem.task.id} fails: {want.error}")
        passed = same_result(got, want, hidden.ordered)
        if passed:
            text = "The result is the gold query's on the hidden database."
        elif got.error:
            text = f"The query failed on the hidden database: {got.error}"
        else:
            text = (f"The result differs from the gold query's on the hidden database ({len(got.rows)} rows, "
                    f"{len(want.rows)} expected).")
        return Feedback(float(passed), passed, text,
                        {"error": got.error, "rows": len(got.rows), "expected_rows": len(want.rows)})

    def reference(self, problem: Problem) -> str | None:
        return problem.hidden.gold

    def settings(self) -> dict:
        return {"sql_databases": _sql_data.GENERATOR_VERSION}


def database(domain: str, instance: str) -> Path:
    """The path of one instance of a domain's database, built on first use."""
    folder = cache_root() / "sql" / f"v{_sql_data.GENERATOR_VERSION}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{domain}-{instance}.sqlite"
    if not path.exists():
        _sql_data.build(domain, instance, path)
    return path


def _schema(path: Path) -> str:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    parts = []
    for name, sql in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY rowid"):
        cursor = db.execute(f'SELECT * FROM "{name}" LIMIT {SAMPLE_ROWS}')
        columns = [d[0] for d in cursor.description]
        rows = "\n".join("  " + " | ".join("NULL" if v is None else str(v) for v in r) for r in cursor.fetchall())
        parts.append(f"{sql};\n-- a few rows of {name} ({' | '.join(columns)}):\n{rows}")
    db.close()
    return "\n\n".join(parts)


def load_sql(domains: list[str] | None = None) -> list[Problem]:
    """Every question, in order (library, shop, clinic); `domains` keeps only those."""
    unknown = set(domains or []) - set(_sql_data.DOMAINS)
    if unknown:
        raise TaskError(f"unknown sql domain {', '.join(sorted(unknown))}; choose from {', '.join(_sql_data.DOMAINS)}")
    problems, schemas = [], {}
    for task_id, difficulty, category, ordered, question, gold in QUESTIONS:
        domain = task_id.split("/")[0]
        if domains and domain not in domains:
            continue
        visible = database(domain, "visible")
        if domain not in schemas:
            schemas[domain] = _schema(visible)
        problems.append(Problem(SqlTask(task_id, question, schemas[domain], visible, difficulty, category),
                                SqlHidden(gold, database(domain, "hidden"), ordered)))
    return problems
