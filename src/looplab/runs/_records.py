"""The record as types: what `RunStore` reads back. Every loop writes the same four kinds of row (calls, steps,
feedback, outcomes) keyed by a scope and an item: for solve the policy and the task, for grow "grow" and the
iteration, for a loop's helper (an optimizer's proposer) its own name and what it worked on. Readers use these
types, never the database's columns."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Call:
    """One model call, as sent and as answered. `policy` and `task_id` are its scope and item."""
    id: int
    policy: str
    task_id: str
    seq: int
    key: str
    model: str
    messages: list[dict]
    params: dict[str, Any]
    response: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    latency: float
    created: float

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Call:
        return cls(**{**dict(row), "messages": json.loads(row["messages"]), "params": json.loads(row["params"])})


@dataclass(frozen=True)
class StepFeedback:
    """What one feedback source said about one step; `calls` are the ids of the model calls the source made for
    it (a judge's, a simulated user's), never the policy's."""
    policy: str
    task_id: str
    step: int
    source: str
    score: float
    passed: bool
    text: str
    details: dict[str, Any]
    calls: tuple[int, ...]

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> StepFeedback:
        return cls(row["policy"], row["task_id"], row["step"], row["source"], row["score"], bool(row["passed"]),
                   row["text"], json.loads(row["details"]),
                   tuple(json.loads(row["call_ids"])) if "call_ids" in row.keys() else ())  # older records: none


@dataclass(frozen=True)
class Step:
    """One step of a policy on a task: an attempt (it has feedback) or a note (a plan, a reflection, generated
    tests). `parent` is the step it revised; `tokens` and `calls` are the task's totals when it was made;
    `call_id` the call whose reply it came from (None for steps no call produced)."""
    policy: str
    task_id: str
    step: int
    kind: str
    candidate: str
    parent: int | None
    tokens: int
    calls: int
    call_id: int | None
    feedback: dict[str, StepFeedback] = field(default_factory=dict)

    @property
    def is_attempt(self) -> bool:
        return bool(self.feedback)


@dataclass(frozen=True)
class Outcome:
    """A finished task: the answer, the visible verdict the loop saw and, apart, the hidden score it never saw."""
    policy: str
    task_id: str
    status: str
    answer: str | None
    passed_visible: bool
    visible_score: float
    passed_hidden: bool
    hidden_result: dict[str, Any]
    tokens: int
    calls: int
    seconds: float
    error: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Outcome:
        return cls(row["policy"], row["task_id"], row["status"], row["answer"], bool(row["passed_visible"]),
                   row["visible_score"], bool(row["passed_hidden"]), json.loads(row["hidden_result"]), row["tokens"],
                   row["calls"], row["seconds"], row["error"])


@dataclass(frozen=True)
class AttemptRecord:
    """The join training data and analyses read: an attempt with the call that produced it, its feedback, and
    the calls each feedback source made."""
    step: Step
    call: Call | None
    source_calls: dict[str, tuple[Call, ...]]

    @property
    def feedback(self) -> dict[str, StepFeedback]:
        return self.step.feedback
