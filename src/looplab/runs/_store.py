from __future__ import annotations

import fcntl
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    calls INTEGER NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY, policy TEXT NOT NULL, task_id TEXT NOT NULL, step INTEGER NOT NULL,
    source TEXT NOT NULL, score REAL NOT NULL, passed INTEGER NOT NULL, text TEXT NOT NULL,
    details TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS outcomes (
    policy TEXT NOT NULL, task_id TEXT NOT NULL, status TEXT NOT NULL, answer TEXT,
    passed_visible INTEGER NOT NULL, visible_score REAL NOT NULL, passed_hidden INTEGER NOT NULL,
    hidden_result TEXT NOT NULL, tokens INTEGER NOT NULL, calls INTEGER NOT NULL,
    seconds REAL NOT NULL, error TEXT, created REAL NOT NULL, PRIMARY KEY (policy, task_id));
CREATE TABLE IF NOT EXISTS hidden_verdicts (program_sha256 TEXT PRIMARY KEY, passed INTEGER NOT NULL);
"""


class RunError(Exception):
    """The run directory cannot be used as asked (locked, or made with other settings)."""


@dataclass(frozen=True)
class RecordedCall:
    key: str
    response: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    latency: float


class RunStore:
    """A run directory: `run.sqlite` (WAL) with every call, step, feedback and outcome.

    Each write commits at once, so a killed process loses at most the call in flight. One
    process at a time: a lock file keeps a second one out.
    """

    def __init__(self, run_dir: str | Path):
        self.dir = Path(run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.dir / "run.lock", "w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise RunError(f"another looplab process is using {self.dir}; wait for it or pick another --run-dir")
        self.db = sqlite3.connect(self.dir / "run.sqlite", isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()
        self._lock.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # configuration -------------------------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def meta(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row["value"]) if row else default

    def register_policy(self, name: str, config: dict) -> None:
        """Record a policy's settings; refuse to resume it under different ones."""
        row = self.db.execute("SELECT config FROM policies WHERE name = ?", (name,)).fetchone()
        text = json.dumps(config, sort_keys=True)
        if row is None:
            self.db.execute("INSERT INTO policies VALUES (?, ?, ?)", (name, text, time.time()))
        elif row["config"] != text:
            raise RunError(f"{self.dir} already holds policy {name!r} with other settings "
                           f"({row['config']}); use a new --run-dir to change them")

    def policies(self) -> list[tuple[str, dict]]:
        rows = self.db.execute("SELECT name, config FROM policies ORDER BY created").fetchall()
        return [(r["name"], json.loads(r["config"])) for r in rows]

    # model calls ---------------------------------------------------------------------------
    def recorded_call(self, policy: str, task_id: str, seq: int) -> RecordedCall | None:
        row = self.db.execute(
            "SELECT key, response, finish_reason, prompt_tokens, completion_tokens, latency FROM calls "
            "WHERE policy = ? AND task_id = ? AND seq = ?", (policy, task_id, seq)).fetchone()
        return RecordedCall(*row) if row else None

    def greedy_call(self, task_id: str, key: str) -> RecordedCall | None:
        """A call with this content key made for this task at temperature 0 by any policy of the run."""
        row = self.db.execute(
            "SELECT key, response, finish_reason, prompt_tokens, completion_tokens, latency FROM calls "
            "WHERE key = ? AND task_id = ? AND json_extract(params, '$.temperature') = 0 LIMIT 1",
            (key, task_id)).fetchone()
        return RecordedCall(*row) if row else None

    def add_call(self, policy: str, task_id: str, seq: int, key: str, model: str, messages: list,
                 params: dict, response: str, finish_reason: str, prompt_tokens: int,
                 completion_tokens: int, latency: float) -> None:
        self.db.execute(
            "INSERT INTO calls (policy, task_id, seq, key, model, messages, params, response, finish_reason,"
            " prompt_tokens, completion_tokens, latency, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (policy, task_id, seq, key, model, json.dumps(messages), json.dumps(params), response,
             finish_reason, prompt_tokens, completion_tokens, latency, time.time()))

    # steps and feedback --------------------------------------------------------------------
    def add_step(self, policy: str, task_id: str, step: int, kind: str, candidate: str,
                 parent: int | None, tokens: int, calls: int) -> None:
        self.db.execute(
            "INSERT INTO steps (policy, task_id, step, kind, candidate, parent, tokens, calls, created)"
            " VALUES (?,?,?,?,?,?,?,?,?)", (policy, task_id, step, kind, candidate, parent, tokens, calls, time.time()))

    def add_feedback(self, policy: str, task_id: str, step: int, source: str, score: float,
                     passed: bool, text: str, details: dict) -> None:
        self.db.execute(
            "INSERT INTO feedback (policy, task_id, step, source, score, passed, text, details, created)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (policy, task_id, step, source, score, int(passed), text, json.dumps(details), time.time()))

    # outcomes ------------------------------------------------------------------------------
    def finished(self, policy: str) -> set[str]:
        rows = self.db.execute("SELECT task_id FROM outcomes WHERE policy = ?", (policy,)).fetchall()
        return {r["task_id"] for r in rows}

    def start_task(self, policy: str, task_id: str) -> None:
        """Forget the steps and feedback of an interrupted attempt; its model calls are replayed."""
        self.db.execute("DELETE FROM steps WHERE policy = ? AND task_id = ?", (policy, task_id))
        self.db.execute("DELETE FROM feedback WHERE policy = ? AND task_id = ?", (policy, task_id))

    def finish_task(self, policy: str, task_id: str, *, status: str, answer: str | None,
                    passed_visible: bool, visible_score: float, passed_hidden: bool, hidden_result: dict,
                    tokens: int, calls: int, seconds: float, error: str | None = None) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO outcomes VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (policy, task_id, status, answer, int(passed_visible), visible_score, int(passed_hidden),
             json.dumps(hidden_result), tokens, calls, seconds, error, time.time()))

    def hidden_verdict(self, program_sha256: str) -> bool | None:
        """The hidden test's verdict on a program scored earlier (by `compare`), if any."""
        row = self.db.execute("SELECT passed FROM hidden_verdicts WHERE program_sha256 = ?",
                              (program_sha256,)).fetchone()
        return bool(row[0]) if row else None

    def add_hidden_verdict(self, program_sha256: str, passed: bool) -> None:
        self.db.execute("INSERT OR REPLACE INTO hidden_verdicts VALUES (?, ?)", (program_sha256, int(passed)))

    def generated_test_stats(self, policy: str) -> dict:
        """How a policy's generated tests relate to the hidden ones (scorer's record): the share of
        generated tests the reference solution passes, and how often "passes every generated test"
        agreed with the hidden verdict on the answer. None when the policy wrote no tests."""
        rows = self.db.execute(
            "SELECT json_extract(hidden_result, '$.generated_tests') FROM outcomes WHERE policy = ?"
            " AND json_extract(hidden_result, '$.generated_tests') IS NOT NULL", (policy,)).fetchall()
        stats = [json.loads(r[0]) for r in rows]
        judged = [s for s in stats if s["correct"] is not None]
        tests = sum(s["count"] for s in judged)
        return {"generated_tests_correct": round(sum(s["correct"] for s in judged) / tests, 4) if tests else None,
                "generated_verdict_agreement":
                    round(sum(s["verdict_agrees"] for s in stats) / len(stats), 4) if stats else None}

    def used(self) -> tuple[int, int]:
        """Tokens and calls of every finished task, to restart a run budget where it stood."""
        row = self.db.execute("SELECT COALESCE(SUM(tokens), 0), COALESCE(SUM(calls), 0) FROM outcomes").fetchone()
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

    def write_summary(self) -> dict:
        summary = {"run_dir": str(self.dir), "model": self.meta("model"), "sandbox": self.meta("sandbox"),
                   "policies": self.summary()}
        partial = self.dir / "summary.json.tmp"
        partial.write_text(json.dumps(summary, indent=2))
        partial.replace(self.dir / "summary.json")
        return summary
