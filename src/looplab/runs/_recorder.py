from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from dataclasses import dataclass, replace

from ..feedback import Feedback
from ..models import (Completion, Message, Meter, Model, ModelError, Reservation, Usage, clean_text,
                      complete_async, probabilities_blocking, within_reservation)
from ._records import Call
from ._store import RunStore


@dataclass(frozen=True)
class _Request:
    """A call about to be sent: its place in the task's sequence, its content key and its reservation."""

    seq: int
    key: str
    model: Model
    messages: list[Message]
    params: dict
    seed: int
    json_schema: dict | None
    reservation: Reservation


class TaskRecorder:
    """Everything one task of one policy does, on the record.

    Every call reserves its budget and takes its place in the task's sequence the moment it is asked for,
    before anything is sent, so the same policy makes the same sequence of calls however many are in flight.
    A call that a previous (interrupted) run already finished is replayed; a new one is recorded the moment
    it returns. A greedy request that another policy of the run already made (the same first prompt,
    typically) is answered from the record: greedy decoding would return the same reply. It is still charged
    in full, and its recorded latency counts towards `reused_seconds`, so costs stay those of a standalone run.

    `agenerate` is the call for loops in flight together; `slots` bounds how many requests the run sends
    at once. `generate` is the same call for a caller without an event loop.
    """

    def __init__(self, store: RunStore, policy: str, task_id: str, model: Model, meter: Meter,
                 slots: asyncio.Semaphore | None = None):
        self.store = store
        self.policy = policy
        self.task_id = task_id
        self.model = model
        self.meter = meter
        self.slots = slots
        self._seq = 0
        self._step = 0
        self.reused_seconds = 0.0

    def generate(self, messages: list[Message], *, temperature: float = 0.0, max_tokens: int = 512,
                 sample: int = 0, json_schema: dict | None = None, min_reply: int = 64,
                 model: Model | None = None, stop_on_repeat: bool = False) -> Completion:
        """`model`: another model than the run's (a judge's), recorded under its own name.
        `stop_on_repeat`: end the reply before its first repeated sentence (see `Model.complete`)."""
        request = self._open(messages, temperature, max_tokens, sample, json_schema, min_reply, model,
                             stop_on_repeat=stop_on_repeat)
        if isinstance(request, Completion):
            return request
        try:
            completion = request.model.complete(messages, temperature=temperature,
                                                max_tokens=request.reservation.allowed, seed=request.seed,
                                                json_schema=json_schema, stop_on_repeat=stop_on_repeat)
        except BaseException:
            self.meter.settle(request.reservation, None)
            raise
        return self._close(request, completion)

    def probabilities(self, messages: list[Message], choices: list[str], *,
                      model: Model | None = None) -> dict[str, float]:
        """How likely each choice is as the model's one-word answer (see `Model`), on the record like any
        other call."""
        request = self._open(messages, 0.0, 1, 0, None, 1, model, choices)
        if isinstance(request, Completion):
            return json.loads(request.text)
        try:
            completion = probabilities_blocking(request.model, messages, choices)
        except BaseException:
            self.meter.settle(request.reservation, None)
            raise
        return json.loads(self._close(request, completion, reply=False).text)

    async def agenerate(self, messages: list[Message], *, temperature: float = 0.0, max_tokens: int = 512,
                        sample: int = 0, json_schema: dict | None = None, min_reply: int = 64,
                        model: Model | None = None, stop_on_repeat: bool = False) -> Completion:
        """`generate` for loops in flight together."""
        request = self._open(messages, temperature, max_tokens, sample, json_schema, min_reply, model,
                             stop_on_repeat=stop_on_repeat)
        if isinstance(request, Completion):
            await asyncio.sleep(0)  # a replayed call still lets the other loops in flight run
            return request
        try:
            async with self.slots or contextlib.nullcontext():
                completion = await complete_async(request.model, messages, temperature=temperature,
                                                  max_tokens=request.reservation.allowed, seed=request.seed,
                                                  json_schema=json_schema, stop_on_repeat=stop_on_repeat)
        except BaseException:
            self.meter.settle(request.reservation, None)
            raise
        return self._close(request, completion)

    def _open(self, messages: list[Message], temperature: float, max_tokens: int, sample: int,
              json_schema: dict | None, min_reply: int, model: Model | None,
              choices: list[str] | None = None, stop_on_repeat: bool = False) -> _Request | Completion:
        """Reserve the budget and take the next place in the sequence; a call on the record is answered
        from it at once."""
        model = model or self.model
        reservation = self.meter.reserve(model.count_tokens(messages), max_tokens, min_reply=min(min_reply, max_tokens))
        params = {"temperature": temperature, "max_tokens": reservation.allowed, "sample": sample}
        if json_schema is not None:
            params["json_schema"] = json_schema
        if choices is not None:
            params["choices"] = choices
        if stop_on_repeat:
            params["stop_on_repeat"] = True
        key = hashlib.sha256(json.dumps([model.name, messages, params]).encode()).hexdigest()
        seq = self._seq
        self._seq += 1
        try:
            recorded = self.store.recorded_call(self.policy, self.task_id, seq)
            if recorded is not None:
                if recorded.key != key:
                    raise ModelError(f"call {seq} of {self.task_id} differs from the recorded run "
                                     "(model or prompts changed); use a new --run-dir")
                return self._answer(reservation, recorded, recorded.id)
            if temperature == 0 and (shared := self.store.greedy_call(self.task_id, key)) is not None:
                self.reused_seconds += shared.latency
                call = self.store.add_call(self.policy, self.task_id, seq, key, model.name, messages,
                                           {**params, "reused": True}, shared.response, shared.finish_reason,
                                           shared.prompt_tokens, shared.completion_tokens, shared.latency)
                return self._answer(reservation, shared, call)
        except BaseException:
            self.meter.settle(reservation, None)
            raise
        # Distinct for every call of the run (the same prompt in two iterations samples afresh), and
        # identical on replay.
        seed = int(hashlib.sha256(f"{self.policy}|{self.task_id}|{seq}|{key}".encode()).hexdigest()[:8], 16)
        return _Request(seq, key, model, messages, params, seed, json_schema, reservation)

    def _answer(self, reservation: Reservation, recorded: Call, call: int) -> Completion:
        usage = Usage(recorded.prompt_tokens, recorded.completion_tokens)
        self.meter.settle(reservation, usage)
        return Completion(recorded.response, usage, recorded.latency, recorded.finish_reason, call=call)

    def _close(self, request: _Request, completion: Completion, reply: bool = True) -> Completion:
        """Record a call that returned and settle its reservation (never for more than it reserved).
        `reply=False`: the text is looplab's own (probabilities as JSON), not the model's, so it is not cut."""
        completion, violation = within_reservation(completion, request.reservation) if reply else (completion, None)
        self.meter.settle(request.reservation, completion.usage)
        params = {**request.params, "usage_estimated": True} if completion.usage_estimated else request.params
        if violation:
            params = {**params, "over_limit": violation}  # what the server sent past what was asked
        text = clean_text(completion.text)
        call = self.store.add_call(self.policy, self.task_id, request.seq, request.key, request.model.name,
                                   request.messages, params, text, completion.finish_reason,
                                   completion.usage.prompt_tokens, completion.usage.completion_tokens,
                                   round(completion.latency, 4))
        return replace(completion, text=text, call=call)

    def step(self, kind: str, candidate: str, feedback: dict[str, Feedback] | None = None, *,
             parent: int | None = None, call: int | None = None) -> int:
        """Record a candidate or a note, the call that produced it, and the feedback each source gave
        it; returns its step number."""
        step = self._step
        self._step += 1
        with self.store.transaction():  # one commit for the step and its feedback
            self.store.add_step(self.policy, self.task_id, step, kind, candidate, parent,
                                self.meter.tokens, self.meter.calls, call)
            for source, f in (feedback or {}).items():
                self.store.add_feedback(self.policy, self.task_id, step, source, f.score, f.passed, f.text,
                                        f.details, f.calls)
        return step
