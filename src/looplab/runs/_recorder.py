from __future__ import annotations

import hashlib
import json

from ..feedback import Feedback
from ..models import Completion, Message, Meter, Model, ModelError, Usage
from ._store import RunStore


class TaskRecorder:
    """Everything one task of one policy does, on the record.

    `generate` checks the budget before every call, replays a call that a previous (interrupted)
    run already finished, and records a new one the moment it returns.
    """

    def __init__(self, store: RunStore, policy: str, task_id: str, model: Model, meter: Meter):
        self.store = store
        self.policy = policy
        self.task_id = task_id
        self.model = model
        self.meter = meter
        self._seq = 0
        self._step = 0

    def generate(self, messages: list[Message], *, temperature: float = 0.0, max_tokens: int = 512,
                 sample: int = 0, json_schema: dict | None = None) -> Completion:
        allowed = self.meter.reserve(self.model.count_tokens(messages), max_tokens)
        params = {"temperature": temperature, "max_tokens": allowed, "sample": sample}
        if json_schema is not None:
            params["json_schema"] = json_schema
        key = hashlib.sha256(json.dumps([self.model.name, messages, params]).encode()).hexdigest()
        recorded = self.store.recorded_call(self.policy, self.task_id, self._seq)
        if recorded is not None:
            if recorded.key != key:
                raise ModelError(f"call {self._seq} of {self.task_id} differs from the recorded run "
                                 "(model or prompts changed); use a new --run-dir")
            completion = Completion(recorded.response, Usage(recorded.prompt_tokens, recorded.completion_tokens),
                                    recorded.latency, recorded.finish_reason)
        else:
            # Distinct for every call of the run (the same prompt in two iterations samples afresh),
            # and identical on replay.
            seed = int(hashlib.sha256(f"{self.policy}|{self.task_id}|{self._seq}|{key}".encode()).hexdigest()[:8], 16)
            completion = self.model.complete(messages, temperature=temperature, max_tokens=allowed, seed=seed,
                                             json_schema=json_schema)
            self.store.add_call(self.policy, self.task_id, self._seq, key, self.model.name, messages, params,
                                completion.text, completion.finish_reason, completion.usage.prompt_tokens,
                                completion.usage.completion_tokens, round(completion.latency, 4))
        self._seq += 1
        self.meter.charge(completion.usage)
        return completion

    def step(self, kind: str, candidate: str, feedback: Feedback | None = None, *,
             parent: int | None = None, source: str = "visible") -> int:
        """Record a candidate (and the feedback it got); returns its step number."""
        step = self._step
        self._step += 1
        self.store.add_step(self.policy, self.task_id, step, kind, candidate, parent,
                            self.meter.tokens, self.meter.calls)
        if feedback is not None:
            self.store.add_feedback(self.policy, self.task_id, step, source, feedback.score, feedback.passed,
                                    feedback.text, feedback.details)
        return step
