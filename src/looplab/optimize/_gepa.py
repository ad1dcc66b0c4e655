"""The `gepa` baseline: `gepa.optimize` itself driving the same student, reflector, tasks and record as looplab's
search, through an adapter, so a table can say whether looplab's own search does at least as well at equal
metric calls. gepa keeps its engine's state in `gepa/` beside the record (it resumes from there); every task run
and every reflector call goes through the record, so a resumed run sends nothing twice. What gepa does that
looplab's search refuses (adopting any fenced text, paying again for a rejected proposal, checking its budget
between iterations) it does here too: that is the baseline."""
from __future__ import annotations

import hashlib
import json
from collections import Counter

from ..runs import RunError, TaskRecorder
from ._loop import REFLECT_TEMPERATURE, REFLECT_TOKENS


class LooplabAdapter:
    """gepa's adapter protocol over an Optimizer: a data instance is a task id, a candidate the texts of the
    policy's components; scores are hidden pass/fail, and the reflective dataset (built for train tasks only,
    whose hidden verdicts are the optimizer's data) holds the task, the answer and the feedback."""

    propose_new_texts = None  # gepa reads the attribute: without it, its own reflective proposer is not used

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.seed_texts = {c: optimizer.text_of(optimizer.base, c) for c in optimizer.components}

    def config(self, texts: dict[str, str]):
        """The seed's texts are the seed itself (its record is shared with the other searches' tables)."""
        return self.optimizer.base if texts == self.seed_texts else self.optimizer._config(texts)

    def evaluate(self, batch, candidate, capture_traces=False):
        from gepa import EvaluationBatch
        optimizer = self.optimizer
        config = self.config(candidate)
        passed = optimizer.evaluate(config, [optimizer.by_id[t] for t in batch], searched=False)
        scores = [float(passed[t]) for t in batch]
        optimizer.say(f"{'the seed' if config == optimizer.base else 'a candidate'} passed {sum(scores):.0f} of "
                      f"{len(batch)} tasks; {optimizer.metric_calls()} metric calls, "
                      f"{len(optimizer.store.calls('reflector'))} reflector calls")
        outputs = [optimizer.store.outcomes(config.name)[t].answer for t in batch]
        traces = [{"task": t} for t in batch] if capture_traces else None
        return EvaluationBatch(outputs=outputs, scores=scores, trajectories=traces)

    def make_reflective_dataset(self, candidate, eval_batch, components_to_update):
        optimizer = self.optimizer
        train = [tr["task"] for tr in eval_batch.trajectories if tr["task"] in optimizer.train_ids]
        records = [{"Inputs": e["task"], "Generated Outputs": e["answer"], "Feedback": e["feedback"]}
                   for e in optimizer.examples(self.config(candidate), train)]
        return {component: records for component in components_to_update}


class RecordedReflector:
    """The reflector as the plain callable gepa takes, every call through the record: the n-th time a prompt is
    asked in a process is that prompt's sample n, so a resumed gepa asking again reads the reply back."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.asked: Counter[str] = Counter()

    def __call__(self, prompt) -> str:
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
        digest = hashlib.sha256(json.dumps(messages).encode()).hexdigest()[:16]
        sample = self.asked[digest]
        self.asked[digest] += 1
        recorder = TaskRecorder(self.optimizer.store, "reflector", f"gepa-{digest}", self.optimizer.reflector,
                                self.optimizer.reflector_meter)
        return recorder.generate(messages, temperature=REFLECT_TEMPERATURE, max_tokens=REFLECT_TOKENS,
                                 sample=sample).text


def gepa_search(optimizer) -> None:
    """Run gepa.optimize at the optimizer's metric-call budget and put its candidates in the record's pool."""
    try:
        import gepa
    except ImportError:
        raise RunError("the gepa baseline needs the gepa package: pip install 'looplab[optimize]'") from None
    adapter = LooplabAdapter(optimizer)
    state = optimizer.store.dir / "gepa"
    result = gepa.optimize(
        seed_candidate=dict(adapter.seed_texts), trainset=[p.task.id for p in optimizer.splits.train],
        valset=list(optimizer.val_ids), adapter=adapter, reflection_lm=RecordedReflector(optimizer),
        reflection_minibatch_size=optimizer.minibatch, max_metric_calls=optimizer.budget_calls,
        run_dir=str(state), seed=optimizer.seed, display_progress_bar=False)
    ids: dict[int, int] = {}
    for index, texts in enumerate(result.candidates):
        parents = [p for p in result.parents[index] if p is not None]
        parent = ids[parents[0]] if parents else None
        changed = next((c for c in texts if parent is not None and texts[c] != result.candidates[parents[0]][c]), None)
        ids[index] = optimizer._add_candidate(parent, adapter.config(texts), changed, None).id
    optimizer.store.set_meta("gepa", {"total_metric_calls": result.total_metric_calls,
                                      "full_validation_passes": result.num_full_val_evals})
