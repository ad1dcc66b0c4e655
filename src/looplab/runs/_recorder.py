from __future__ import annotations

import hashlib
import json

from ..feedback import Feedback
from ..models import Completion, Message, Meter, Model, ModelError, Usage, clean_text
from ._store import RunStore


class TaskRecorder:
    """Everything one task of one policy does, on the record.

    `generate` checks the budget before every call, replays a call that a previous (interrupted)
    run already finished, and records a new one the moment it returns. A greedy request that
    another policy of the run already made (the same first prompt, typically) is answered from
    the record: greedy decoding would return the same reply. It is still charged in full, and its
    recorded latency counts towards `reused_seconds`, so costs stay those of a standalone run.
    """

    def __init__(self, store: RunStore, policy: str, task_id: str, model: Model, meter: Meter):
        self.store = store
        self.policy = policy
        self.task_id = task_id
        self.model = model
        self.meter = meter
        self._seq = 0
        self._step = 0
        self.reused_seconds = 0.0
        self.last_call: int | None = None  # id of the latest call's record, for the step it produces

    def generate(self, messages: list[Message], *, temperature: float = 0.0, max_tokens: int = 512,
                 sample: int = 0, json_schema: dict | None = None, min_reply: int = 64,
                 model: Model | None = None) -> Completion:
        """`model`: another model than the run's (a judge's), recorded under its own name."""
        model = model or self.model
        allowed = self.meter.reserve(model.count_tokens(messages), max_tokens,
                                     min_reply=min(min_reply, max_tokens))
        params = {"temperature": temperature, "max_tokens": allowed, "sample": sample}
        if json_schema is not None:
            params["json_schema"] = json_schema
        key = hashlib.sha256(json.dumps([model.name, messages, params]).encode()).hexdigest()
        recorded = self.store.recorded_call(self.policy, self.task_id, self._seq)
        if recorded is not None:
            if recorded.key != key:
                raise ModelError(f"call {self._seq} of {self.task_id} differs from the recorded run "
                                 "(model or prompts changed); use a new --run-dir")
            completion = Completion(recorded.response, Usage(recorded.prompt_tokens, recorded.completion_tokens),
                                    recorded.latency, recorded.finish_reason)
            self.last_call = recorded.id
        elif temperature == 0 and (shared := self.store.greedy_call(self.task_id, key)) is not None:
            completion = Completion(shared.response, Usage(shared.prompt_tokens, shared.completion_tokens),
                                    shared.latency, shared.finish_reason)
            self.reused_seconds += shared.latency
            self.last_call = self.store.add_call(self.policy, self.task_id, self._seq, key, model.name, messages,
                                {**params, "reused": True}, completion.text, completion.finish_reason,
                                shared.prompt_tokens, shared.completion_tokens, shared.latency)
        else:
            # Distinct for every call of the run (the same prompt in two iterations samples afresh),
            # and identical on replay.
            seed = int(hashlib.sha256(f"{self.policy}|{self.task_id}|{self._seq}|{key}".encode()).hexdigest()[:8], 16)
            completion = model.complete(messages, temperature=temperature, max_tokens=allowed, seed=seed,
                                             json_schema=json_schema)
            completion = Completion(clean_text(completion.text), completion.usage, completion.latency,
                                    completion.finish_reason, completion.usage_estimated)
            stored = {**params, "usage_estimated": True} if completion.usage_estimated else params
            self.last_call = self.store.add_call(self.policy, self.task_id, self._seq, key, model.name, messages,
                                                 stored, completion.text, completion.finish_reason,
                                                 completion.usage.prompt_tokens, completion.usage.completion_tokens,
                                                 round(completion.latency, 4))
        self._seq += 1
        self.meter.charge(completion.usage)
        return completion

    def step(self, kind: str, candidate: str, feedback: dict[str, Feedback] | None = None, *,
             parent: int | None = None, call: int | None = None) -> int:
        """Record a candidate or a note, the call that produced it, and the feedback each source gave
        it; returns its step number."""
        step = self._step
        self._step += 1
        self.store.add_step(self.policy, self.task_id, step, kind, candidate, parent,
                            self.meter.tokens, self.meter.calls, call)
        for source, f in (feedback or {}).items():
            self.store.add_feedback(self.policy, self.task_id, step, source, f.score, f.passed, f.text, f.details)
        return step
