"""optimize: a loop that improves a solve policy's prompts from feedback on a train split (after GEPA: reflective
mutation on a minibatch the parent fails, acceptance on that minibatch before a validation pass, a Pareto pool
of per-validation-task winners), proven once on a test split it never saw.

The search is written here rather than driven through the `gepa` package because looplab's record, budgets
and resume have to hold: every proposal is checked before it costs a metric call and remembered when rejected,
the metric-call budget stops exactly (a call is never started that the budget cannot pay), and a re-run replays
the whole search from the record (the same seeded choices, the model's replies read back) so nothing is sent
twice. A metric call is one task run by one candidate; the reflector's calls are recorded apart.

What each split gives the search: the train split its tasks, answers, visible feedback and hidden verdicts with
their text (it is the optimizer's data); the validation split only hidden pass/fail per task; the test split
nothing until the end, when the seed and the best candidate run on it once.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .._template import PromptError
from ..models import Budget, Meter, Model
from ..runs import RunError, RunStore, TaskRecorder
from ..solve import POLICIES, PolicyConfig, Prompts, sign_test, solve_tasks
from ..tasks import Family, Problem
from ._split import Splits

SCHEMA = """
CREATE TABLE IF NOT EXISTS optimize_candidates (
    id INTEGER PRIMARY KEY, parent INTEGER, policy TEXT NOT NULL, component TEXT, texts TEXT NOT NULL,
    proposal INTEGER);
CREATE TABLE IF NOT EXISTS optimize_proposals (
    round INTEGER PRIMARY KEY, parent INTEGER NOT NULL, component TEXT NOT NULL, text TEXT NOT NULL,
    status TEXT NOT NULL, reason TEXT NOT NULL, minibatch TEXT NOT NULL);
"""
MAX_TEXT = 2000          # characters a proposed prompt may have
EXAMPLE_CHARS = 700      # of a task, an answer or a feedback shown to the reflector: its context stays bounded
COPY_NGRAM = 6           # a proposal holding this many words in a row of a train-split answer copies it
REFLECT_TOKENS = 400
REFLECT_TEMPERATURE = 0.7  # a greedy reflector shown the same failures writes the same proposal every time
REFUSED_IN_A_ROW = 20      # proposals refused one after another before the search stops: the reflector cannot help
DEMO_CHARS = 1800          # the demonstrations' share of the system prompt: as many as fit (after Dynamic ICL)
DEMONSTRATIONS = "demonstrations"  # the component a round may change instead of a text: worked examples
MERGE = "merge"  # a round that joins two candidates' changes (GEPA's merge), due after each accepted proposal
KNOBS = "knobs"  # the component a round may change instead of a text: the numeric knobs `--tune` opens
# The knobs a search may move, each with its range: a knob round moves one of them a step (rounds by one, n by
# halving or doubling), chosen rather than written (after OptoPrime, which treats numbers as parameters).
TUNABLE = {"rounds": (0, 8), "n": (1, 16)}
# Demonstrations follow the instruction in the system prompt, after this line; the reflector reads and rewrites
# the instruction alone, and the demonstrations are kept.
DEMO_HEADER = "\n\nWorked examples of tasks like these, each with a correct answer:"

# The current text and the examples each sit in a four-backtick fence (an instruction may show a ``` block), and
# the request comes last: a small reflector copies
# whatever it read most recently (the embedded 0.5B, shown the examples last, wrote a task's schema back).
REFLECT = """I gave an assistant this instruction:
````
{text}
````
Here are tasks it got wrong, each with its answer and the feedback on that answer:
````
{examples}
````
Write a new, better instruction for the assistant. Keep what the current instruction gets right, and add specific
advice that avoids mistakes like these on any task of this kind.{fields} Reply with only the new instruction,
inside a ``` block."""


# What a search may do, by name: the full search and the baselines `--baselines` runs beside it at the same
# metric-call budget, each telling which part of the search a gain comes from.
VARIANTS = {
    "search": "texts rewritten and demonstrations chosen, accepted on a minibatch, parents from the Pareto front",
    "instructions": "texts rewritten only, no demonstrations",
    "demonstrations": "demonstrations only: the seed's texts with worked examples, no text rewritten",
    "random": "texts rewritten from the seed's failures, each validated with no minibatch acceptance and no "
              "parent but the seed",
    "gepa": "gepa.optimize driven through an adapter over the same tasks, student and reflector",
}


@dataclass(frozen=True)
class Candidate:
    id: int
    parent: int | None
    config: PolicyConfig

    @property
    def name(self) -> str:
        return self.config.name


@dataclass
class OptimizeResult:
    candidates: list[dict]           # id, parent, policy, component, texts, val score, Pareto membership
    proposals: dict[str, int]        # by status or rejection reason
    best: int
    metric_calls: int
    reflector_calls: int
    test: dict | None                # seed and best on the test split, paired


def fenced_text(reply: str) -> str | None:
    """The text between a reply's first fence line and the last line that is only a closing fence (an instruction
    may itself mention a ```sql block), or None when there is no such pair: a reply cut before its closing fence is
    not a proposal, even when a fence inside the text could pass for one.

    >>> fenced_text("Here:\\n```\\nReverse the input.\\n```"), fenced_text("```\\nReverse the inp")
    ('Reverse the input.', None)
    >>> fenced_text("```text\\nReply in one ```sql block.\\n```"), fenced_text("```\\nReply in one ```sql block.")
    ('Reply in one ```sql block.', None)
    """
    lines = reply.splitlines()
    opening = next((i for i, line in enumerate(lines) if line.lstrip().startswith("```")), None)
    if opening is None:
        return None
    closing = next((i for i in range(len(lines) - 1, opening, -1) if lines[i].strip() == "```"), None)
    if closing is None:
        return None
    return "\n".join(lines[opening + 1:closing]).strip()


def _brief(text: str) -> str:
    """A text cut to EXAMPLE_CHARS, keeping its start and its end (a task's question comes after its schema).

    >>> _brief("a" * 500 + "b" * 500)[-8:], len(_brief("x" * 5000)) < 720
    ('bbbbbbbb', True)
    """
    if len(text) <= EXAMPLE_CHARS:
        return text
    half = EXAMPLE_CHARS // 2
    return text[:half] + " … " + text[-half:]


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def _words(text: str) -> list[str]:
    return re.findall(r"\w+|[^\w\s]", text.lower())


def _ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


class Optimizer:
    """The search over one policy's prompt texts (the templates its spec reads, the system prompt included)."""

    def __init__(self, store: RunStore, family: Family, splits: Splits, base: PolicyConfig, *, model: Model,
                 reflector: Model, budget_calls: int, task_budget: Budget = Budget(), minibatch: int = 3,
                 seed: int = 0, max_connections: int | None = None, demonstrations: bool = True,
                 variant: str = "search", say: Callable[[str], None] = lambda line: None,
                 tune: tuple[str, ...] = ()):
        if base.strategy not in POLICIES:
            raise RunError(f"unknown policy {base.strategy!r}; choose from {', '.join(POLICIES)}")
        if variant not in VARIANTS:
            raise RunError(f"unknown search {variant!r}; choose from {', '.join(VARIANTS)}")
        least = len(splits.val) + 2 * minibatch
        if budget_calls < least:
            raise RunError(f"a budget of {budget_calls} metric calls cannot pay one validation pass ({len(splits.val)}"
                           f" tasks) and one proposal tried on a minibatch and its parent ({2 * minibatch}); give "
                           f"--budget-calls {least} or more, or a smaller validation split")
        self.store, self.family, self.splits, self.base = store, family, splits, base
        self.model, self.reflector = model, reflector
        self.budget_calls, self.task_budget, self.minibatch = budget_calls, task_budget, minibatch
        self.seed, self.max_connections = seed, max_connections
        self.components = [c for c in POLICIES[base.strategy].templates if c != "thinker"]
        reads = POLICIES[base.strategy].knobs
        for knob in tune:
            if knob not in TUNABLE:
                raise RunError(f"--tune opens {', '.join(TUNABLE)}, not {knob!r}" + (
                    " (a policy's temperature is not part of its name in the record, so two temperatures cannot "
                    "be told apart there)" if knob == "temperature" else ""))
            if knob not in reads:
                raise RunError(f"{base.strategy} does not read {knob}; it reads "
                               + (", ".join(reads) if reads else "no numeric knob"))
        self.tune = tuple(tune)
        # the rounds turn through these; demonstrations (DSPy's bootstrapped few-shot) join the system prompt
        demos = [DEMONSTRATIONS] if demonstrations and "system" in self.components and variant != "instructions" else []
        if variant == "demonstrations" and not demos:
            raise RunError(f"{base.strategy} has no system prompt to hold demonstrations" if demonstrations else
                           "the demonstrations-only search cannot run with --no-demonstrations")
        knobs = [KNOBS] if self.tune and variant in ("search", "random") else []
        self.changes = demos if variant == "demonstrations" else self.components + demos + knobs
        self.variant, self.say = variant, say  # say: a line of progress, as each round ends
        # the splits by task id, where `export --select train-hidden` finds which hidden scores are the train split's
        store.require({"loop": "optimize", "holds": ["solve"], "splits": splits.ids(), "optimize": {
            "strategy": base.strategy, "base": base.settings(), "splits": splits.ids(), "budget_calls": budget_calls,
            "minibatch": minibatch, "seed": seed, "reflector": reflector.name,
            "reflect_prompt": hashlib.sha256(REFLECT.encode()).hexdigest()[:12],
            "budget_tokens": task_budget.tokens, "budget_task_calls": task_budget.calls}})
        store.require({"optimize_demonstrations": demonstrations, "optimize_variant": variant,
                       "optimize_tune": list(self.tune)})
        store.declare(SCHEMA)
        self.by_id = {p.task.id: p for p in splits.train + splits.val + splits.test}
        self.searched = {p.task.id for p in splits.train + splits.val}
        self.val_ids = [p.task.id for p in splits.val]
        self.train_ids = {p.task.id for p in splits.train}
        self.references = [_words(r) for p in splits.train if (r := family.reference(p))]
        self.reflector_meter = Meter()

    # evaluation -------------------------------------------------------------------------------------------
    def metric_calls(self) -> int:
        """Tasks of the train and validation splits run by any candidate so far (the search's budget): every
        policy on this record is a candidate, the seed and the proposals tried."""
        return sum(len(set(self.store.outcomes(name)) & self.searched) for name, _ in self.store.policies())

    def _recorded(self, config: PolicyConfig) -> dict:
        return self.store.outcomes(config.name) if config.name in dict(self.store.policies()) else {}

    def parts(self, config: PolicyConfig) -> dict:
        """What a candidate is, as the record keeps it: its components' texts and the knobs the search opened."""
        return {**{c: getattr(config.prompts, c) for c in self.components},
                **({KNOBS: {k: getattr(config, k) for k in self.tune}} if self.tune else {})}

    def _config(self, parts: dict) -> PolicyConfig:
        texts = {k: v for k, v in parts.items() if k != KNOBS}
        return replace(self.base, prompts=replace(self.base.prompts, **texts), **parts.get(KNOBS, {}))

    def step_knobs(self, config: PolicyConfig, rng: random.Random) -> PolicyConfig:
        """`config` with one opened knob moved a step within its range (rounds by one, n by half or double)."""
        knob = rng.choice(self.tune)
        value = getattr(config, knob)
        low, high = TUNABLE[knob]
        steps = (value - 1, value + 1) if knob == "rounds" else (value // 2, value * 2)
        inside = [v for v in steps if low <= v <= high and v != value] or [min(max(value, low), high)]
        return replace(config, **{knob: rng.choice(inside)})

    def _child(self, parent: PolicyConfig, component: str, text: str) -> PolicyConfig:
        return replace(parent, prompts=replace(parent.prompts, **{component: text}))

    def _candidate(self, id_: int) -> Candidate:
        [row] = self.store.rows("optimize_candidates", {"id": id_})
        return Candidate(row["id"], row["parent"], self._config(json.loads(row["texts"])))

    def evaluate(self, config: PolicyConfig, problems: list[Problem], *, searched: bool = True) -> dict[str, bool]:
        """Hidden pass/fail of `config` on `problems`, running only the tasks it has not run; a search evaluation
        runs none the budget cannot pay (it returns the tasks it could). A task that could not finish (the model
        unavailable) stops the search, so that no verdict is recorded on a part-run; a re-run takes it up."""
        done = self._recorded(config)
        todo = [p for p in problems if p.task.id not in done]
        if searched:
            todo = todo[:max(0, self.budget_calls - self.metric_calls())]
        if todo:
            report = solve_tasks(todo, self.family, config, model=self.model, store=self.store,
                                 task_budget=self.task_budget, max_connections=self.max_connections)
            done = self.store.outcomes(config.name)
            unfinished = [o for o in report.outcomes if o.task_id not in done]
            if report.stopped or unfinished:
                why = report.stopped or unfinished[0].error
                raise RunError(f"{len(todo) - len(set(done) & {p.task.id for p in todo})} of {len(todo)} tasks did "
                               f"not finish ({why}); re-run the same command to continue")
        return {p.task.id: done[p.task.id].passed_hidden for p in problems if p.task.id in done}

    # proposals --------------------------------------------------------------------------------------------
    def text_of(self, config: PolicyConfig, component: str) -> str:
        """A component's text as the model reads it (an empty system prompt is the family's own), without the
        system prompt's demonstrations."""
        text = getattr(config.prompts, component)
        if component == "system":
            return text.split(DEMO_HEADER)[0] or self.family.voice.system
        return text

    def _with_demos(self, parent: PolicyConfig, instruction: str) -> str:
        """A new system instruction with the parent's demonstrations kept after it."""
        demos = parent.prompts.system.partition(DEMO_HEADER)
        return instruction + (demos[1] + demos[2] if demos[1] else "")

    def demonstrate(self, parent: PolicyConfig, rng: random.Random) -> str | None:
        """The parent's instruction followed by worked examples: train tasks some candidate solved (their
        hidden verdict is the optimizer's data), with that answer, in a seeded order, as many as DEMO_CHARS
        holds; None when no train task has been solved yet."""
        solved = {}
        for name, _ in self.store.policies():
            for task_id, outcome in self.store.outcomes(name).items():
                if task_id in self.train_ids and outcome.passed_hidden and outcome.answer:
                    solved.setdefault(task_id, outcome.answer)
        order = sorted(solved)
        rng.shuffle(order)
        blocks, used = [], 0
        for task_id in order:
            block = (f"\n\nTask: {self.family.describe(self.by_id[task_id].task)}\n"
                     f"Answer: {self.family.show(solved[task_id])}")
            if used + len(block) > DEMO_CHARS:
                continue
            blocks.append(block)
            used += len(block)
        return self.text_of(parent, "system") + DEMO_HEADER + "".join(blocks) if blocks else None

    def examples(self, config: PolicyConfig, task_ids: list[str]) -> list[dict[str, str]]:
        """Train tasks as the reflector reads them: the task, the candidate's answer and the feedback on it (the
        last attempt's visible feedback and the hidden verdict's text, the train split being the optimizer's
        data), each cut to EXAMPLE_CHARS."""
        assert set(task_ids) <= self.train_ids, "only the train split's feedback text is the optimizer's to read"
        outcomes = self.store.outcomes(config.name)
        steps = {}
        for step in self.store.steps(config.name):
            if step.task_id in task_ids and step.is_attempt:
                steps[step.task_id] = step  # the last attempt
        shown = []
        for task_id in task_ids:
            problem = self.by_id[task_id]
            answer = outcomes[task_id].answer or "(no answer)"
            visible = " ".join(f.text for f in steps[task_id].feedback.values()) if task_id in steps else ""
            hidden = self.family.score(problem, answer).text
            shown.append({"task": _brief(self.family.describe(problem.task)), "answer": _brief(answer),
                          "feedback": _brief((visible + " " + hidden).strip())})
        return shown

    def _examples(self, config: PolicyConfig, failing: list[str]) -> str:
        blocks = [f"Example {i}\nTask: {e['task']}\nAnswer: {e['answer']}\nFeedback: {e['feedback']}"
                  for i, e in enumerate(self.examples(config, failing), 1)]
        return "\n\n".join(blocks).replace("````", "```")  # nothing inside closes the examples' fence

    def check(self, component: str, current: str, text: str | None, seen: set[str]) -> str | None:
        """Why a proposed text is refused before it costs a metric call, or None when it may be tried."""
        if text is None:
            return "no complete ``` block"
        if not text.strip():
            return "empty"
        if _normal(text) == _normal(current):
            return "the current text echoed back"
        if _normal(text) in seen:
            return "proposed before"
        if len(text) > MAX_TEXT:
            return f"longer than {MAX_TEXT} characters"
        grams = _ngrams(_words(text), COPY_NGRAM)
        if any(grams & _ngrams(ref, COPY_NGRAM) for ref in self.references if len(ref) >= COPY_NGRAM):
            return "copies a train-split answer"
        try:
            Prompts(**{component: text})
        except PromptError as e:
            return f"not a usable template: {e}"
        used = set(re.findall(r"(?<!\{)\{(\w+)\}(?!\})", current))
        missing = sorted(f for f in used if "{" + f + "}" not in text)
        if missing:
            return f"drops the field {{{missing[0]}}}"
        return None

    def propose(self, round_: int, parent: Candidate, component: str, failing: list[str]) -> str | None:
        """The reflector's proposed text for `component` (None when its reply holds none)."""
        current = self.text_of(parent.config, component)
        fields = sorted(set(re.findall(r"(?<!\{)\{(\w+)\}(?!\})", current)))
        keep = (" Keep the placeholders " + ", ".join("{" + f + "}" for f in fields) + " exactly as written."
                if fields else "")
        prompt = REFLECT.format(text=current, examples=self._examples(parent.config, failing), fields=keep)
        recorder = TaskRecorder(self.store, "reflector", f"round-{round_}", self.reflector, self.reflector_meter)
        reply = recorder.generate([{"role": "user", "content": prompt}], temperature=REFLECT_TEMPERATURE,
                                  max_tokens=REFLECT_TOKENS, sample=round_)
        return fenced_text(reply.text)

    # the search -------------------------------------------------------------------------------------------
    def _add_candidate(self, parent: int | None, config: PolicyConfig, component: str | None,
                       proposal: int | None) -> Candidate:
        for row in self.store.rows("optimize_candidates"):
            if row["policy"] == config.name:
                return Candidate(row["id"], row["parent"], config)
        id_ = len(self.store.rows("optimize_candidates"))
        texts = self.parts(config)
        self.store.insert("optimize_candidates", {"id": id_, "parent": parent, "policy": config.name,
                                                   "component": component, "texts": json.dumps(texts),
                                                   "proposal": proposal})
        return Candidate(id_, parent, config)

    def _val_scores(self, pool: list[Candidate]) -> dict[int, dict[str, bool]]:
        return {c.id: self.evaluate(c.config, self.splits.val) for c in pool}

    def _minibatch(self, parent: Candidate, rng: random.Random) -> list[str]:
        """Train tasks the parent fails, up to `minibatch`, in a seeded order: new train tasks are run in the
        parent's name until enough fail or the train split is spent (so the loop never stalls on tasks the
        parent already solves). The choice depends only on which tasks the parent has run, so a run killed
        inside a round makes the same choice when it resumes."""
        train = [p.task.id for p in self.splits.train]
        rng.shuffle(train)
        known = {t: o.passed_hidden for t, o in self._recorded(parent.config).items() if t in train}
        for start in range(0, len(train), self.minibatch):
            if sum(not ok for ok in known.values()) >= self.minibatch:
                break
            batch = [t for t in train[start:start + self.minibatch] if t not in known]
            if not batch:
                continue
            ran = self.evaluate(parent.config, [self.by_id[t] for t in batch])
            known.update(ran)
            if len(ran) < len(batch):
                break  # the budget is spent
        return [t for t in train if t in known and not known[t]][:self.minibatch]

    def _merge_pair(self, pool: list[Candidate], rng: random.Random) -> dict | None:
        """Two candidates of the Pareto front with a common ancestor, neither descending from the other, and
        the child that takes each component from whichever of them changed it from that ancestor (from the one
        with the better validation score when both did); with the validation tasks the two differ on, where the
        child is tried. None when no such pair gives a child not tried before."""
        scores = self._val_scores(pool)
        front = sorted(pareto_front(scores, self.val_ids))
        parents = {c.id: c.parent for c in pool}
        by_id = {c.id: c for c in pool}

        def line(c: int | None) -> list[int]:
            chain = []
            while c is not None:
                chain.append(c)
                c = parents[c]
            return chain
        tried = [json.loads(r["text"])["texts"] for r in self.store.rows("optimize_proposals", {"component": MERGE})]
        pairs = []
        for i, a in enumerate(front):
            for b in front[i + 1:]:
                up_a, up_b = line(a), line(b)
                common = next((c for c in up_a if c in up_b), None)
                if common is None or a in up_b or b in up_a:
                    continue
                ta, tb, t0 = (self.parts(by_id[c].config) for c in (a, b, common))
                better_b = sum(scores[b].values()) > sum(scores[a].values())
                texts = {k: tb[k] if ta[k] == t0[k] or (tb[k] != t0[k] and better_b) else ta[k] for k in ta}
                differ = [t for t in self.val_ids if scores[a].get(t, False) != scores[b].get(t, False)]
                if differ and texts not in (ta, tb) and texts not in tried:
                    pairs.append({"parent": a, "with": b, "texts": texts, "tasks": differ,
                                  "before": max(sum(scores[c].get(t, False) for t in differ) for c in (a, b))})
        return rng.choice(pairs) if pairs else None

    def _merge(self, round_: int, pair: dict) -> tuple[str, str]:
        """Try a merge on the validation tasks its two parents differ on: it joins the pool only when it passes
        more of them than the better parent (then it runs the rest of the validation split)."""
        child = self._config(pair["texts"])
        after = self.evaluate(child, [self.by_id[t] for t in pair["tasks"]])
        told = f"{sum(after.values())} of the {len(pair['tasks'])} validation tasks candidates {pair['parent']} and " \
               f"{pair['with']} differ on, the better of them {pair['before']}"
        if len(after) < len(pair["tasks"]):
            return "unfinished", "the budget ran out on the merge's tasks"
        if sum(after.values()) <= pair["before"]:
            return "not better", told
        self._add_candidate(pair["parent"], child, MERGE, round_)
        self.evaluate(child, self.splits.val)
        return "accepted", told

    def run(self) -> OptimizeResult:
        seed = self._add_candidate(None, self.base, None, None)
        if self.variant == "gepa":
            from ._gepa import gepa_search  # gepa is an optional dependency, needed by this baseline alone
            gepa_search(self)
            return self.result(seed)
        self.say(f"the seed on the validation split ({len(self.splits.val)} tasks)")
        self.evaluate(self.base, self.splits.val)
        rng_root = random.Random(self.seed)
        round_ = refused = merges_due = 0
        while True:
            pool = [self._candidate(r["id"]) for r in self.store.rows("optimize_candidates", order_by="id")]
            if self.budget_calls - self.metric_calls() < 2 * self.minibatch + len(self.splits.val):
                break  # what is left cannot pay a proposal's minibatch and its validation pass
            if refused >= REFUSED_IN_A_ROW:
                break  # the reflector keeps writing what cannot be tried: stop rather than pay for more
            round_ += 1
            rng = random.Random(rng_root.random())
            recorded = self.store.rows("optimize_proposals", {"round": round_})
            pair = None
            if recorded and recorded[0]["component"] == MERGE:
                pair = json.loads(recorded[0]["text"])
            elif not recorded and merges_due and self.variant == "search":
                pair = self._merge_pair(pool, rng)
                merges_due = merges_due if pair else 0  # nothing to merge: back to proposals
            if pair:
                merges_due -= 1
                status, reason = self._merge(round_, pair)
                if not recorded:
                    self.store.insert("optimize_proposals", {
                        "round": round_, "parent": pair["parent"], "component": MERGE, "text": json.dumps(pair),
                        "status": status, "reason": reason, "minibatch": json.dumps(pair["tasks"])})
                self.say(f"round {round_} (merge of candidates {pair['parent']} and {pair['with']}): {status}, "
                         f"{reason}; {self.metric_calls()} of {self.budget_calls} metric calls")
                if status == "unfinished":
                    break
                continue
            if recorded:  # a replay: this round's choices as they were made (the pool has grown since)
                parent = self._candidate(recorded[0]["parent"])
                component, failing = recorded[0]["component"], json.loads(recorded[0]["minibatch"])
            else:
                if self.variant == "random":
                    parent = seed
                else:
                    scores = self._val_scores(pool)
                    front = pareto_front(scores, self.val_ids)
                    parent_id = rng.choices(sorted(front), weights=[front[c] for c in sorted(front)])[0]
                    parent = next(c for c in pool if c.id == parent_id)
                component = self.changes[(round_ - 1) % len(self.changes)]
                failing = self._minibatch(parent, rng)
            if not failing:
                if len(self._recorded(parent.config).keys() & {p.task.id for p in self.splits.train}) == \
                        len(self.splits.train):
                    break  # the parent solves the whole train split: nothing left to learn from
                continue
            seen = {_normal(r["text"].split(DEMO_HEADER)[0]) for r in self.store.rows("optimize_proposals")
                    if r["round"] < round_ and r["component"] not in (DEMONSTRATIONS, MERGE, KNOBS)}
            if component == KNOBS:  # chosen, not written: a replay reads the recorded choice
                moved = (self._config({**self.parts(parent.config), KNOBS: json.loads(recorded[0]["text"])})
                         if recorded else self.step_knobs(parent.config, rng))
                text = json.dumps({k: getattr(moved, k) for k in self.tune}, sort_keys=True)
                reason = "tried before" if moved.name in dict(self.store.policies()) else None
            elif component == DEMONSTRATIONS:  # chosen, not written: a replay reads the recorded choice
                text = (recorded[0]["text"] or None) if recorded else self.demonstrate(parent.config, rng)
                current = parent.config.prompts.system
                shown = {_normal(r["text"]) for r in self.store.rows("optimize_proposals", {"component": DEMONSTRATIONS})
                         if r["round"] < round_}
                reason = ("no train task solved yet to show" if text is None else
                          "the current demonstrations again" if _normal(text) == _normal(current) else
                          "proposed before" if _normal(text) in shown else None)
            else:
                text = self.propose(round_, parent, component, failing)
                current = self.text_of(parent.config, component)
                reason = self.check(component, current, text, seen)
                if reason is None and component == "system":
                    text = self._with_demos(parent.config, text)
            status = "rejected"
            refused = refused + 1 if reason else 0
            if reason is None and component == KNOBS:
                child = moved
            elif reason is None:
                child = self._child(parent.config, "system" if component == DEMONSTRATIONS else component, text)
            if reason is None and self.variant == "random":  # no selection: every proposal that may be tried joins
                status, reason = "accepted", "no minibatch acceptance in this search"
                self._add_candidate(parent.id, child, component, round_)
                self.evaluate(child, self.splits.val)
            elif reason is None:
                before = self.evaluate(parent.config, [self.by_id[t] for t in failing])
                after = self.evaluate(child, [self.by_id[t] for t in failing])
                if len(after) < len(failing):
                    status, reason = "unfinished", "the budget ran out on the minibatch"
                elif sum(after.values()) > sum(before.values()):
                    status, reason = "accepted", f"{sum(after.values())} of {len(failing)} on the minibatch, parent {sum(before.values())}"
                    merges_due += 1
                    self._add_candidate(parent.id, child, component, round_)
                    self.evaluate(child, self.splits.val)
                else:
                    status, reason = "not better", f"{sum(after.values())} of {len(failing)} on the minibatch, parent {sum(before.values())}"
            if not recorded:
                self.store.insert("optimize_proposals", {"round": round_, "parent": parent.id, "component": component,
                                                          "text": text or "", "status": status, "reason": reason,
                                                          "minibatch": json.dumps(failing)})
            self.say(f"round {round_} ({component}, from candidate {parent.id}): {status}, {reason}; "
                     f"{self.metric_calls()} of {self.budget_calls} metric calls, "
                     f"{len(self.store.calls('reflector'))} reflector calls")
            if status == "unfinished":
                break
        return self.result(seed)

    def result(self, seed: Candidate, with_test: bool = True) -> OptimizeResult:
        pool = [self._candidate(r["id"]) for r in self.store.rows("optimize_candidates", order_by="id")]
        scores = self._val_scores(pool)
        front = pareto_front(scores, self.val_ids)
        val = {c.id: sum(scores[c.id].values()) / len(self.splits.val) for c in pool}
        best = max(pool, key=lambda c: (val[c.id], -c.id))
        counts: dict[str, int] = {}
        for row in self.store.rows("optimize_proposals"):
            key = row["status"] if row["status"] != "rejected" else f"rejected: {row['reason'].split(':')[0]}"
            key = f"merge {key}" if row["component"] == MERGE else key
            counts[key] = counts.get(key, 0) + 1
        test = None
        if with_test and self.splits.test:
            self.say(f"the test split: the seed and the best (candidate {best.id}) on {len(self.splits.test)} tasks")
            seed_test = self.evaluate(seed.config, self.splits.test, searched=False)
            best_test = self.evaluate(best.config, self.splits.test, searched=False)
            won = sum(best_test[t] and not seed_test[t] for t in seed_test)
            lost = sum(seed_test[t] and not best_test[t] for t in seed_test)
            test = {"tasks": len(seed_test), "seed": sum(seed_test.values()) / len(seed_test),
                    "best": sum(best_test.values()) / len(best_test), "won": won, "lost": lost,
                    "p": sign_test(won, lost)}
        rows = [{"id": c.id, "parent": c.parent, "policy": c.name, "val": round(val[c.id], 4),
                 "pareto": c.id in front, "texts": self.parts(c.config)}
                for c in pool]
        return OptimizeResult(rows, counts, best.id, self.metric_calls(),
                              len(self.store.calls("reflector")), test)

    def best_config(self, result: OptimizeResult) -> PolicyConfig:
        return self._candidate(result.best).config


def pareto_front(scores: dict[int, dict[str, bool]], val_ids: list[str]) -> dict[int, int]:
    """The candidates (by id, in `scores`) on the Pareto front of per-validation-task winners, each with how many
    validation tasks it wins; the first candidate alone when no candidate wins any.

    >>> pareto_front({0: {"a": True, "b": False}, 1: {"a": False, "b": True}, 2: {"a": False, "b": False}}, ["a", "b"])
    {0: 1, 1: 1}
    """
    wins: dict[int, int] = {}
    for task in val_ids:
        for c, passed in scores.items():
            if passed.get(task, False):
                wins[c] = wins.get(c, 0) + 1
    front = {c: n for c, n in wins.items() if not any(_dominates(scores[o], scores[c]) for o in wins if o != c)}
    return front or {min(scores): 1}


def recorded_search(store: RunStore) -> dict:
    """An optimize run's search as its record holds it, for `looplab view`: the candidates (parent, texts, what
    changed against the parent as a diff, validation score, Pareto membership) and every proposal with its status
    and reason. Read from the record alone: no scorer runs."""
    val_ids = (store.meta("splits") or store.meta("optimize", {}).get("splits", {})).get("val", [])
    rows = store.rows("optimize_candidates", order_by="id")
    recorded = dict(store.policies())
    scores = {}
    for r in rows:
        outcomes = store.outcomes(r["policy"]) if r["policy"] in recorded else {}
        scores[r["id"]] = {t: outcomes[t].passed_hidden for t in val_ids if t in outcomes}
    front = pareto_front(scores, val_ids) if rows else {}
    # a candidate's knobs, where the search opened them, read as a text of their own
    texts = {r["id"]: {k: v if isinstance(v, str) else json.dumps(v, sort_keys=True)
                       for k, v in json.loads(r["texts"]).items()} for r in rows}
    candidates = []
    for r in rows:
        parent = texts.get(r["parent"], {})
        diff = {name: list(difflib.unified_diff(parent[name].splitlines(), text.splitlines(), "parent", "this",
                                                 lineterm="", n=2))[2:]
                for name, text in texts[r["id"]].items() if name in parent and parent[name] != text}
        candidates.append({"id": r["id"], "parent": r["parent"], "policy": r["policy"], "component": r["component"],
                           "val": sum(scores[r["id"]].values()) / len(val_ids) if val_ids else None,
                           "val_tasks": len(scores[r["id"]]), "pareto": r["id"] in front,
                           "texts": texts[r["id"]], "diff": diff})
    proposals = [{k: r[k] for k in ("round", "parent", "component", "status", "reason", "text")}
                 for r in store.rows("optimize_proposals", order_by="round")]
    return {"candidates": candidates, "proposals": proposals, "val_tasks": len(val_ids)}


def _dominates(a: dict[str, bool], b: dict[str, bool]) -> bool:
    return all(a.get(t, False) >= v for t, v in b.items()) and any(a.get(t, False) > b.get(t, False) for t in a)


def baselines_table(result: OptimizeResult, baselines: dict[str, OptimizeResult]) -> list[dict]:
    """Each search's best at the same metric-call budget, on the test split against its seed: what
    `--baselines` prints and RUN/baselines.json keeps (for `looplab view`)."""
    rows = []
    for name, r in {"search": result, **baselines}.items():
        t = r.test or {}
        rows.append({"search": name, "best": r.best, "validation": next(c["val"] for c in r.candidates
                                                                        if c["id"] == r.best),
                     "seed": t.get("seed"), "test": t.get("best"), "won": t.get("won"), "lost": t.get("lost"),
                     "p": t.get("p"), "metric_calls": r.metric_calls, "reflector_calls": r.reflector_calls,
                     "refused": sum(v for k, v in r.proposals.items() if k.startswith("rejected"))})
    return rows


def write_best(path, config: PolicyConfig, result: OptimizeResult, splits: Splits) -> None:
    """best_policy.json: the best configuration, which `solve --policy-config FILE` and `PolicyConfig.from_dict`
    read, with where it came from."""
    Path(path).write_text(json.dumps({"policy": config.as_dict(), "validation_score": next(
        c["val"] for c in result.candidates if c["id"] == result.best), "test": result.test,
        "split_sizes": {k: len(v) for k, v in splits.ids().items()}}, indent=2))

