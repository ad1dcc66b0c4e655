"""Hidden verdicts kept in the record: a family's hidden scorer runs once per answer, whoever asks (compare,
analyze, an optimizer scoring its train split), and a re-run scores nothing twice."""
from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from ._store import RunStore

if TYPE_CHECKING:  # runs sits below tasks: a family is only named here
    from ..tasks import Family, Problem


class HiddenCache:
    """The hidden verdict on an answer to a problem, from the record when it was scored before."""

    def __init__(self, store: RunStore, family: Family):
        self.store, self.family = store, family

    def passed(self, problem: Problem, candidate: str) -> bool:
        key = hashlib.sha256(json.dumps([self.family.name, problem.task.id, candidate]).encode()).hexdigest()
        verdict = self.store.hidden_verdict(key)
        if verdict is None:
            verdict = self.family.score(problem, candidate).passed
            if not self.store.read_only:  # a record another process writes is read, never written
                self.store.add_hidden_verdict(key, verdict)
        return verdict
