from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import re
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

from ._records import AttemptRecord, Call, Outcome, Step, StepFeedback

# The tables every loop shares: model calls, steps with the call that produced them, feedback by
# source, and outcomes. A loop's own tables are declared with `RunStore.declare`.
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS policies (name TEXT PRIMARY KEY, config TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY, policy TEXT NOT NULL, task_id TEXT NOT NULL, seq INTEGER NOT NULL,
    key TEXT NOT NULL, model TEXT NOT NULL, messages TEXT NOT NULL, params TEXT NOT NULL,
    response TEXT NOT NULL, finish_reason TEXT NOT NULL, prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL, latency REAL NOT NULL, created REAL NOT NULL,
    UNIQUE (policy, task_id, seq));
CREATE INDEX IF NOT EXISTS calls_by_key ON calls (key);
CREATE TABLE IF NOT EXISTS steps (
    id INTEGER PRIMARY KEY, policy TEXT NOT NULL, task_id TEXT NOT NULL, step INTEGER NOT NULL,
    kind TEXT NOT NULL, candidate TEXT NOT NULL, parent INTEGER, tokens INTEGER NOT NULL,
    calls INTEGER NOT NULL, created REAL NOT NULL, call_id INTEGER);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY, policy TEXT NOT NULL, task_id TEXT NOT NULL, step INTEGER NOT NULL,
    source TEXT NOT NULL, score REAL NOT NULL, passed INTEGER NOT NULL, text TEXT NOT NULL,
    details TEXT NOT NULL, created REAL NOT NULL, call_ids TEXT NOT NULL DEFAULT '[]');
-- a task's steps and feedback are read, and cleared when an interrupted task starts again, by policy and task:
-- without these every task start scanned the whole table
CREATE INDEX IF NOT EXISTS steps_by_task ON steps (policy, task_id);
CREATE INDEX IF NOT EXISTS feedback_by_task ON feedback (policy, task_id);
CREATE TABLE IF NOT EXISTS outcomes (
    policy TEXT NOT NULL, task_id TEXT NOT NULL, status TEXT NOT NULL, answer TEXT,
    passed_visible INTEGER NOT NULL, visible_score REAL NOT NULL, passed_hidden INTEGER NOT NULL,
    hidden_result TEXT NOT NULL, tokens INTEGER NOT NULL, calls INTEGER NOT NULL,
    seconds REAL NOT NULL, error TEXT, created REAL NOT NULL, PRIMARY KEY (policy, task_id));
CREATE TABLE IF NOT EXISTS hidden_verdicts (program_sha256 TEXT PRIMARY KEY, passed INTEGER NOT NULL);
"""
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


# What `RunStore._holds` reads once: the pairs the record holds, by kind.
_KNOWN = {
    "calls": "SELECT DISTINCT policy, task_id FROM calls",
    "steps": "SELECT policy, task_id FROM steps UNION SELECT policy, task_id FROM feedback",
    "greedy": "SELECT DISTINCT task_id, key FROM calls WHERE json_extract(params, '$.temperature') = 0",
}

RECORD_FILES = ("run.sqlite", "run.lock", "summary.json", "graph.graphml", "metrics.csv", "grow_summary.json")


def is_record_file(path: str | Path) -> bool:
    """Whether `path` is (or would overwrite) a file of a run's record, which no output may replace: the
    database with its WAL and lock, and the files a loop keeps beside it.

    >>> is_record_file("runs/demo/run.sqlite-wal"), is_record_file("runs/demo/trajectories.jsonl")
    (True, False)
    """
    return Path(path).name.startswith(RECORD_FILES)


def _differences(recorded: dict, given: dict, prefix: str = "") -> list[str]:
    """Each setting of `given` that `recorded` holds otherwise, as "name: recorded, now given" (short).

    >>> _differences({"temperature": 0.8, "prompts": {"first": "{task}"}}, {"temperature": 0.5, "prompts": {}})
    ['temperature: 0.8, now 0.5']
    """
    out = []
    for key, value in given.items():
        old = recorded.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            out += _differences(old, value, f"{prefix}{key}.")
        elif old != value:
            out.append(f"{prefix}{key}: {_short(old, 60)}, now {_short(value, 60)}")
    return out


class RunError(Exception):
    """The run directory cannot be used as asked (locked, corrupt, made by another command, or with other
    settings)."""


class RunStore:
    """A run directory: `run.sqlite` (WAL) with every call, step, feedback and outcome. The only place
    in looplab that speaks SQL: loops declare their own tables here and read through its methods.

    Each write commits at once (or within `transaction()`, or with its turn of the event loop in
    `group_commits`), so a killed process loses at most the calls in flight. One writing process at a
    time: a lock file keeps a second one out. A store opened with `read_only=True` takes no lock and can
    read a run that another process is writing.

    >>> import tempfile
    >>> with RunStore(tempfile.mkdtemp()) as store:
    ...     store.require({"loop": "solve", "model": "scripted"})
    ...     store.meta("model")
    'scripted'
    """

    def __init__(self, run_dir: str | Path, *, read_only: bool = False):
        self.dir = Path(run_dir)
        self.read_only = read_only
        self._lock = None
        self._group_loop: asyncio.AbstractEventLoop | None = None  # set within group_commits
        # What the record holds, read once and kept up to date by this process (the record's only writer), so that
        # starting a task that never ran, or making a call nobody made, asks the database nothing.
        self._known: dict[str, set[tuple[str, str]]] = {}
        if self.dir.exists() and not self.dir.is_dir():
            raise RunError(f"{self.dir} is a file, not a run directory; give a directory")
        path = self.dir / "run.sqlite"
        if read_only:
            if not path.is_file():
                raise RunError(f"{self.dir} holds no run record (run.sqlite)")
            self.db = self._connect(f"file:{path}?mode=ro")
            if self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'calls'").fetchone() is None:
                self.db.close()
                raise RunError(f"{self.dir} holds no run record yet (run.sqlite is being made)")
            return
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._lock = open(self.dir / "run.lock", "w")
        except OSError as e:
            raise RunError(f"cannot make the run directory {self.dir}: {e.strerror}") from None
        if not _take_lock(self._lock):
            self._lock.close()
            raise RunError(f"another looplab process is using {self.dir}; wait for it or pick another --run-dir") from None
        self.db = self._connect(f"file:{path}")
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
            if "call_id" not in {r["name"] for r in self.db.execute("PRAGMA table_info(steps)")}:
                self.db.execute("ALTER TABLE steps ADD COLUMN call_id INTEGER")  # records from before call ids
            if "call_ids" not in {r["name"] for r in self.db.execute("PRAGMA table_info(feedback)")}:
                # records from before feedback named the calls its source made
                self.db.execute("ALTER TABLE feedback ADD COLUMN call_ids TEXT NOT NULL DEFAULT '[]'")
        except sqlite3.DatabaseError as e:
            self.close()
            raise RunError(f"{path} is not a readable run database ({e}); use another --run-dir") from None

    def _connect(self, uri: str) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(uri, uri=True, isolation_level=None)
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as e:
            raise RunError(f"{self.dir / 'run.sqlite'} is not a readable run database ({e})") from None
        db.row_factory = sqlite3.Row
        return db

    def close(self) -> None:
        self.db.close()
        if self._lock is not None:
            self._lock.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # settings ---------------------------------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        self._write("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def meta(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row["value"]) if row else default

    def require(self, settings: dict[str, Any]) -> None:
        """Record the run's settings (which loop, model, task set, sandbox...) or, when they are
        recorded already, refuse to go on under different ones. Library calls and the command
        line both pass here, so no record mixes two models, two task sets or two loops. A loop that
        starts runs of other loops in its directory says so with `"holds"` (optimize holds its solve
        evaluations), and those loops may then write here too."""
        for key, value in settings.items():
            recorded = self.meta(key)
            if key == "loop" and recorded is not None and self.holds(value):
                continue
            if recorded is None:
                self.set_meta(key, value)
            elif recorded != json.loads(json.dumps(value)):
                if key == "loop":
                    raise RunError(f"{self.dir} holds a {recorded} run, and this makes a {value} run; "
                                   "use another --run-dir")
                raise RunError(f"{self.dir} was recorded with other settings ({key} {_short(recorded)}, now "
                               f"{_short(value)}); use a new --run-dir")

    def holds(self, loop: str) -> bool:
        """Whether this run is a `loop` run or holds runs of that loop (as an optimize run holds solve's)."""
        return loop == self.meta("loop") or loop in self.meta("holds", [])

    def register_policy(self, name: str, config: dict) -> None:
        """Record a policy's settings; refuse to resume it under different ones, naming each that changed.
        Only the settings given count: a record that holds more (an older one kept every knob) resumes."""
        row = self.db.execute("SELECT config FROM policies WHERE name = ?", (name,)).fetchone()
        if row is None:
            self._write("INSERT INTO policies VALUES (?, ?, ?)", (name, json.dumps(config, sort_keys=True),
                                                                  time.time()))
            return
        changed = _differences(json.loads(row["config"]), json.loads(json.dumps(config)))
        if changed:
            raise RunError(f"{self.dir} already holds policy {name!r} with other settings: {'; '.join(changed)}; "
                           "re-run with the recorded values to resume, or use a new --run-dir to change them")

    def policies(self) -> list[tuple[str, dict]]:
        rows = self.db.execute("SELECT name, config FROM policies ORDER BY created").fetchall()
        return [(r["name"], json.loads(r["config"])) for r in rows]

    # a loop's own tables ----------------------------------------------------------------------
    def declare(self, schema: str) -> None:
        """Create a loop's own tables (`CREATE TABLE IF NOT EXISTS ...` statements)."""
        self.db.executescript(schema)

    def insert(self, table: str, row: dict[str, Any]) -> None:
        _check(table, *row)
        self._write(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                    tuple(row.values()))

    def update(self, table: str, values: dict[str, Any], where: dict[str, Any]) -> int:
        """Set `values` on the rows of a table matching `where` (column = value); returns how many changed."""
        _check(table, *values, *where)
        cursor = self._write(f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in values)} WHERE "
                             f"{' AND '.join(f'{c} = ?' for c in where)}", (*values.values(), *where.values()))
        return cursor.rowcount

    def delete(self, table: str, where: dict[str, Any]) -> int:
        """Remove the rows of a loop's table matching `where` (column = value); returns how many went."""
        _check(table, *where)
        if not where:
            raise ValueError("delete takes at least one column = value; a loop never empties its table")
        return self._write(f"DELETE FROM {table} WHERE {' AND '.join(f'{c} = ?' for c in where)}",
                           tuple(where.values())).rowcount

    def rows(self, table: str, where: dict[str, Any] | None = None, order_by: str = "rowid") -> list[dict]:
        """Every row of a table matching `where` (column = value), in `order_by` order (a column name,
        optionally followed by DESC)."""
        where = where or {}
        column, _, direction = order_by.partition(" ")
        _check(table, column, *where)
        if direction not in ("", "DESC"):
            raise ValueError(f"order_by takes a column and optionally DESC, not {order_by!r}")
        clause = " WHERE " + " AND ".join(f"{c} = ?" for c in where) if where else ""
        try:
            return [dict(r) for r in self.db.execute(f"SELECT * FROM {table}{clause} ORDER BY {order_by}",
                                                     tuple(where.values()))]
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return []
            raise

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Writes inside commit together or not at all (inside `group_commits`, with the group they fall in)."""
        self._begin()
        self.db.execute("SAVEPOINT looplab")  # outside a transaction it starts one, and RELEASE commits it
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK TO looplab")
            self.db.execute("RELEASE looplab")
            raise
        self.db.execute("RELEASE looplab")

    @contextlib.contextmanager
    def group_commits(self, loop: asyncio.AbstractEventLoop) -> Iterator[None]:
        """Within: the writes made while `loop` (the thread that writes) runs its ready callbacks are committed
        together, before it next waits for anything. Hundreds of tasks in flight then pay one commit for each
        turn of the loop instead of one for each write. A write is never left uncommitted while the process
        waits, so a kill -9 still loses at most the calls in flight; reads on this store see every write at once.

        >>> import asyncio, tempfile
        >>> async def main(store):
        ...     with store.group_commits(asyncio.get_running_loop()):
        ...         store.set_meta("model", "scripted")
        ...         pending = store.db.in_transaction
        ...         await asyncio.sleep(0)
        ...         return pending, store.db.in_transaction
        >>> with RunStore(tempfile.mkdtemp()) as store:
        ...     asyncio.run(main(store))
        (True, False)
        """
        outermost = self._group_loop is None  # two policies' runs in flight together share one group
        if outermost:
            self._group_loop = loop
        try:
            yield
        finally:
            if outermost:
                self._group_loop = None
                self._commit_group()

    def _begin(self) -> None:
        """Open a group's transaction on its first write, and have the loop commit it once its turn is over."""
        if self._group_loop is None or self.db.in_transaction:
            return
        self.db.execute("BEGIN")
        self._group_loop.call_soon(self._commit_group)

    def _commit_group(self) -> None:
        if self.db.in_transaction:  # on the writing thread, between callbacks: never inside a transaction()
            self.db.execute("COMMIT")

    def _write(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        self._begin()
        return self.db.execute(sql, args)

    # model calls ------------------------------------------------------------------------------
    _CALLS = ("SELECT id, policy, task_id, seq, key, model, messages, params, response, finish_reason, prompt_tokens,"
              " completion_tokens, latency, created FROM calls")

    def _holds(self, what: str, pair: tuple[str, str]) -> bool:
        """Whether the record may hold `pair`: a (policy, task) with "calls" or with "steps" (or feedback), or a
        (task, key) of a "greedy" call. A read-only store reads a record another process writes: always maybe."""
        if self.read_only:
            return True
        if what not in self._known:
            self._known[what] = {tuple(r) for r in self.db.execute(_KNOWN[what])}
        return pair in self._known[what]

    def _learn(self, what: str, pair: tuple[str, str]) -> None:
        if what in self._known:
            self._known[what].add(pair)

    def recorded_call(self, policy: str, task_id: str, seq: int) -> Call | None:
        if not self._holds("calls", (policy, task_id)):
            return None
        row = self.db.execute(f"{self._CALLS} WHERE policy = ? AND task_id = ? AND seq = ?",
                              (policy, task_id, seq)).fetchone()
        return Call.from_row(row) if row else None

    def greedy_call(self, task_id: str, key: str) -> Call | None:
        """A call with this content key made for this task at temperature 0 by any policy of the run."""
        if not self._holds("greedy", (task_id, key)):
            return None
        row = self.db.execute(f"{self._CALLS} WHERE key = ? AND task_id = ? AND json_extract(params, "
                              "'$.temperature') = 0 LIMIT 1", (key, task_id)).fetchone()
        return Call.from_row(row) if row else None

    def add_call(self, policy: str, task_id: str, seq: int, key: str, model: str, messages: list,
                 params: dict, response: str, finish_reason: str, prompt_tokens: int,
                 completion_tokens: int, latency: float) -> int:
        """Records a call; returns its id (steps refer to it)."""
        cursor = self._write(
            "INSERT INTO calls (policy, task_id, seq, key, model, messages, params, response, finish_reason,"
            " prompt_tokens, completion_tokens, latency, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (policy, task_id, seq, key, model, json.dumps(messages), json.dumps(params), response,
             finish_reason, prompt_tokens, completion_tokens, latency, time.time()))
        self._learn("calls", (policy, task_id))
        if params.get("temperature") == 0:
            self._learn("greedy", (task_id, key))
        return cursor.lastrowid

    def calls(self, policy: str | None = None, task_id: str | None = None) -> list[Call]:
        """The calls of a scope (a policy, or a loop's part such as "grow") and item (a task, an iteration), or of
        all of them when not given: by item and in the order they were made."""
        where = {k: v for k, v in (("policy", policy), ("task_id", task_id)) if v is not None}
        clause = " WHERE " + " AND ".join(f"{k} = ?" for k in where) if where else ""
        return [Call.from_row(r) for r in self.db.execute(f"{self._CALLS}{clause} ORDER BY policy, task_id, seq",
                                                           tuple(where.values()))]

    # steps and feedback -----------------------------------------------------------------------
    def add_step(self, policy: str, task_id: str, step: int, kind: str, candidate: str,
                 parent: int | None, tokens: int, calls: int, call_id: int | None = None) -> None:
        self._write(
            "INSERT INTO steps (policy, task_id, step, kind, candidate, parent, tokens, calls, created, call_id)"
            " VALUES (?,?,?,?,?,?,?,?,?,?)",
            (policy, task_id, step, kind, candidate, parent, tokens, calls, time.time(), call_id))
        self._learn("steps", (policy, task_id))

    def add_feedback(self, policy: str, task_id: str, step: int, source: str, score: float,
                     passed: bool, text: str, details: dict, call_ids: tuple[int, ...] = ()) -> None:
        """`call_ids`: the model calls the source made for this judgement (a judge's, a simulated user's)."""
        self._write(
            "INSERT INTO feedback (policy, task_id, step, source, score, passed, text, details, created, call_ids)"
            " VALUES (?,?,?,?,?,?,?,?,?,?)",
            (policy, task_id, step, source, score, int(passed), text, json.dumps(details), time.time(),
             json.dumps(list(call_ids))))
        self._learn("steps", (policy, task_id))

    def steps(self, policy: str, task_id: str | None = None) -> list[Step]:
        """A policy's steps (of one task, or all) with their feedback by source, by task and in step order."""
        task_clause = " AND task_id = ?" if task_id is not None else ""
        args = (policy,) + ((task_id,) if task_id is not None else ())
        feedback: dict[tuple[str, int], dict[str, StepFeedback]] = {}
        for row in self.db.execute(f"SELECT * FROM feedback WHERE policy = ?{task_clause} ORDER BY id", args):
            feedback.setdefault((row["task_id"], row["step"]), {})[row["source"]] = StepFeedback.from_row(row)
        return [Step(r["policy"], r["task_id"], r["step"], r["kind"], r["candidate"], r["parent"], r["tokens"],
                     r["calls"], r["call_id"] if "call_id" in r.keys() else None, feedback.get((r["task_id"], r["step"]), {}))
                for r in self.db.execute(f"SELECT * FROM steps WHERE policy = ?{task_clause} ORDER BY task_id, step",
                                         args)]

    def attempts(self, policy: str, task_id: str | None = None) -> list[AttemptRecord]:
        """A policy's attempts (steps with feedback) joined with the call each came from and the calls each
        feedback source made for it (a judge's, a simulated user's)."""
        calls = {c.id: c for c in self.calls(policy, task_id)}
        return [AttemptRecord(s, calls.get(s.call_id), {name: tuple(calls[i] for i in f.calls if i in calls)
                                                  for name, f in s.feedback.items()})
                for s in self.steps(policy, task_id) if s.is_attempt]

    def task_policies(self, task_id: str) -> list[str]:
        """The policies that recorded steps for a task, in the order they first did."""
        return [r[0] for r in self.db.execute(
            "SELECT policy FROM steps WHERE task_id = ? GROUP BY policy ORDER BY MIN(id)", (task_id,))]

    # outcomes ---------------------------------------------------------------------------------
    def finished(self, policy: str) -> set[str]:
        rows = self.db.execute("SELECT task_id FROM outcomes WHERE policy = ?", (policy,)).fetchall()
        return {r["task_id"] for r in rows}

    def outcomes(self, policy: str) -> dict[str, Outcome]:
        """A policy's finished tasks by id."""
        return {r["task_id"]: Outcome.from_row(r) for r in
                self.db.execute("SELECT * FROM outcomes WHERE policy = ?", (policy,))}

    def start_task(self, policy: str, task_id: str) -> None:
        """Forget the steps and feedback of an interrupted attempt; its model calls are replayed."""
        if not self._holds("steps", (policy, task_id)):
            return  # a task never started: nothing to forget, and no write transaction to pay for
        with self.transaction():
            self.db.execute("DELETE FROM steps WHERE policy = ? AND task_id = ?", (policy, task_id))
            self.db.execute("DELETE FROM feedback WHERE policy = ? AND task_id = ?", (policy, task_id))
        self._known.get("steps", set()).discard((policy, task_id))

    def finish_task(self, policy: str, task_id: str, *, status: str, answer: str | None,
                    passed_visible: bool, visible_score: float, passed_hidden: bool, hidden_result: dict,
                    tokens: int, calls: int, seconds: float, error: str | None = None) -> None:
        self._write(
            "INSERT OR REPLACE INTO outcomes VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (policy, task_id, status, answer, int(passed_visible), visible_score, int(passed_hidden),
             json.dumps(hidden_result), tokens, calls, seconds, error, time.time()))

    def hidden_verdict(self, key: str) -> bool | None:
        """The hidden verdict on an answer scored earlier (by `compare`), by the answer's digest."""
        row = self.db.execute("SELECT passed FROM hidden_verdicts WHERE program_sha256 = ?", (key,)).fetchone()
        return bool(row[0]) if row else None

    def add_hidden_verdict(self, key: str, passed: bool) -> None:
        self._write("INSERT OR REPLACE INTO hidden_verdicts VALUES (?, ?)", (key, int(passed)))

    def used(self) -> tuple[int, int]:
        """Tokens and calls on the record, to restart a run budget where it stood: every call of a finished
        task, and every call made outside a policy's tasks (a loop's own, such as a proposer's). The calls of
        an unfinished task are left out: its resume replays them, and the replay charges them again."""
        row = self.db.execute(
            "SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0), COUNT(*) FROM calls"
            " WHERE (policy, task_id) IN (SELECT policy, task_id FROM outcomes)"
            " OR policy NOT IN (SELECT name FROM policies)").fetchone()
        return row[0], row[1]

    def summary(self) -> dict:
        out = {}
        for name, config in self.policies():
            row = self.db.execute(
                "SELECT COUNT(*) AS tasks, COALESCE(SUM(passed_hidden), 0) AS hidden,"
                " COALESCE(SUM(passed_visible), 0) AS visible, COALESCE(SUM(tokens), 0) AS tokens,"
                " COALESCE(SUM(calls), 0) AS calls, COALESCE(SUM(seconds), 0) AS seconds,"
                " COALESCE(SUM(error IS NOT NULL), 0) AS errors FROM outcomes WHERE policy = ?",
                (name,)).fetchone()
            usage = self.db.execute(
                "SELECT COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0) FROM calls"
                " WHERE policy = ?", (name,)).fetchone()
            tasks = row["tasks"]
            out[name] = {
                "config": config, "tasks": tasks,
                "pass_at_1": round(row["hidden"] / tasks, 4) if tasks else None,
                "passed_hidden": row["hidden"], "passed_visible": row["visible"],
                "visible_pass_rate": round(row["visible"] / tasks, 4) if tasks else None,
                "tokens": row["tokens"], "prompt_tokens": usage[0], "completion_tokens": usage[1],
                "calls": row["calls"], "wall_seconds": round(row["seconds"], 2), "errors": row["errors"],
            }
        return out

    # shares of a run made elsewhere ---------------------------------------------------------
    def snapshot(self) -> bytes:
        """The whole record as one SQLite file's bytes (to start a share of the run on another machine)."""
        with tempfile.TemporaryDirectory() as tmp:
            copy = sqlite3.connect(Path(tmp) / "run.sqlite")
            self.db.backup(copy)
            copy.close()
            return (Path(tmp) / "run.sqlite").read_bytes()

    def merge(self, share: bytes) -> None:
        """Add what a share of the run (a record started from `snapshot`) finished: for each task and policy
        it finished that this record has not, its calls, steps, feedback and outcome replace what is here.
        Settings must agree, as on any resume."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "run.sqlite"
            path.write_bytes(share)
            other = self._connect(f"file:{path}?mode=ro")
            try:
                self.require({r["key"]: json.loads(r["value"]) for r in other.execute("SELECT * FROM meta")})
                for r in other.execute("SELECT name, config FROM policies ORDER BY created"):
                    self.register_policy(r["name"], json.loads(r["config"]))
                finished = [(r["policy"], r["task_id"]) for r in other.execute("SELECT policy, task_id FROM outcomes")]
                with self.transaction():
                    for policy, task_id in finished:
                        if task_id in self.finished(policy):
                            continue
                        self._take_task(other, policy, task_id)
                    for r in other.execute("SELECT * FROM hidden_verdicts"):
                        self.db.execute("INSERT OR IGNORE INTO hidden_verdicts VALUES (?, ?)", tuple(r))
            finally:
                other.close()

    def _take_task(self, other: sqlite3.Connection, policy: str, task_id: str) -> None:
        key = (policy, task_id)
        self._known.clear()  # read again when next asked
        for table in ("calls", "steps", "feedback"):
            self.db.execute(f"DELETE FROM {table} WHERE policy = ? AND task_id = ?", key)
        new_ids = {}
        for r in other.execute("SELECT * FROM calls WHERE policy = ? AND task_id = ? ORDER BY seq", key):
            row = {k: r[k] for k in r.keys() if k != "id"}
            cursor = self.db.execute(f"INSERT INTO calls ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                                     tuple(row.values()))
            new_ids[r["id"]] = cursor.lastrowid
        for table in ("steps", "feedback"):
            for r in other.execute(f"SELECT * FROM {table} WHERE policy = ? AND task_id = ? ORDER BY id", key):
                row = {k: r[k] for k in r.keys() if k != "id"}
                if "call_id" in row:
                    row["call_id"] = new_ids.get(row["call_id"])
                if "call_ids" in row:
                    row["call_ids"] = json.dumps([new_ids[c] for c in json.loads(row["call_ids"]) if c in new_ids])
                self.db.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                                tuple(row.values()))
        outcome = other.execute("SELECT * FROM outcomes WHERE policy = ? AND task_id = ?", key).fetchone()
        self.db.execute(f"INSERT OR REPLACE INTO outcomes VALUES ({', '.join('?' * len(outcome))})", tuple(outcome))

    def recorded_tasks(self) -> tuple[str | None, list[str]]:
        """The `--tasks` spec that loads this run's tasks again and the ids of its finished tasks, in order; the
        spec is None when the record cannot say it (a JSONL file's path is not recorded).

        >>> import tempfile
        >>> with RunStore(tempfile.mkdtemp()) as store:
        ...     store.require({"loop": "solve", "family": "math"})
        ...     store.recorded_tasks()
        ('math', [])
        """
        ids = [r[0] for r in self.db.execute("SELECT task_id FROM outcomes GROUP BY task_id ORDER BY MIN(rowid)")]
        family = self.meta("family")
        if family == "math" and ids:
            generators = list(dict.fromkeys(task_id.split("/")[0] for task_id in ids))
            return f"math:{','.join(generators)}", ids
        return (None if family == "code" else family), ids  # "code": a JSONL file, whose path is not recorded

    def write_summary(self) -> dict:
        summary = {"run_dir": str(self.dir), "model": self.meta("model"), "family": self.meta("family"),
                   "sandbox": self.meta("sandbox"), "policies": self.summary()}
        partial = self.dir / "summary.json.tmp"
        partial.write_text(json.dumps(summary, indent=2))
        partial.replace(self.dir / "summary.json")
        return summary


def _take_lock(file, patience: float = 1.0) -> bool:
    """Take the record's lock, waiting up to `patience` seconds. A process this one forks (a sandbox starting in
    another thread) holds a copy of every descriptor between its fork and its exec, so a lock this process has
    just let go of can stay taken for a moment; another looplab process holds it for as long as it runs."""
    deadline = time.monotonic() + patience
    while True:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _check(*names: str) -> None:
    """Table and column names are identifiers chosen by looplab, never text from outside."""
    for name in names:
        if not _NAME.match(name):
            raise ValueError(f"not a table or column name: {name!r}")
