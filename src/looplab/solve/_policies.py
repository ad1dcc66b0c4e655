"""Solve policies that keep one line of attempts or a population. Each spends model calls on
attempts through a SolveContext; the engine then takes the best attempt as the answer.

A task's token budget may stop any policy between two calls (BudgetExceeded); whatever was
attempted by then stays on the record and the best of it is the answer.
"""
from __future__ import annotations

import random
import re
import zlib

from ..feedback import agreement_choice, pass_pattern
from ._config import PolicyConfig
from ._context import Attempt, Request, SolveContext
from ._spec import policy

MAX_LESSONS = 3  # reflections (reflexion) and change notes (evolve) carried into a prompt


@policy("single", samples=False, help="one greedy attempt")
async def single(ctx: SolveContext, cfg: PolicyConfig) -> None:
    """One greedy attempt."""
    await ctx.attempt("initial", await ctx.propose(ctx.messages.first()))


@policy("best-of-n", knobs=("n",), reference=True, batches=True,
        help="n samples, the best by its feedback: the reference every policy is compared with at equal tokens")
async def best_of_n(ctx: SolveContext, cfg: PolicyConfig) -> None:
    """Up to n samples (the first greedy); stops early once one passes every visible example."""
    await _samples(ctx, cfg)


@policy("codet", knobs=("n",), answer="agreement", batches=True,
        help="n samples, answered by the one most others agree with on generated tests (CodeT)")
async def codet(ctx: SolveContext, cfg: PolicyConfig) -> None:
    """CodeT: n samples (the first greedy), then the answer is chosen by dual agreement over every check the
    sources report (see `agreement_choice`), not by the first visible pass. Meant with generated tests
    (`codet+tests`): the more checks, the more candidates can agree or differ."""
    try:
        await ctx.attempt("sample", await ctx.propose(ctx.messages.first()))
        requests = [Request("sample", ctx.messages.first(), cfg.temperature, i) for i in range(1, cfg.n)]
        for wave in _waves(requests, cfg.batch):
            await ctx.attempt_batch(wave)
    finally:  # a budget that ends the sampling early still leaves a choice among what was made
        if ctx.attempts:
            ctx.choose(ctx.attempts[agreement_choice([attempt_pattern(a) for a in ctx.attempts])])


def attempt_pattern(attempt: Attempt) -> tuple[bool, ...]:
    """Which checks an attempt passed, over every source."""
    return pass_pattern([(f.passed, f.details) for f in attempt.feedback.values()])


@policy("refine", knobs=("rounds",), templates=("system", "first", "revision"), samples=False,
        help="revise the best attempt from its feedback, k rounds")
async def refine(ctx: SolveContext, cfg: PolicyConfig) -> None:
    """A greedy attempt, then up to k revisions of the best attempt so far, each shown its feedback.

    Small models often hand back the code they were shown. Once a revision repeats earlier code,
    the next rounds rewrite from the feedback alone (the failed code is not shown), sampled at
    `temperature`.
    """
    await ctx.attempt("initial", await ctx.propose(ctx.messages.first()))
    seen, stuck = {ctx.best.candidate}, False
    for round_ in range(cfg.rounds):
        best = ctx.best
        if best.passed:
            return
        if stuck:
            attempt = await _rewrite(ctx, cfg, best, round_)
        else:
            reply = await ctx.propose(ctx.messages.revision(best.candidate, best.feedback_text), sample=round_)
            attempt = await ctx.attempt("revision", reply, parent=best.step)
        stuck = stuck or attempt.candidate in seen
        seen.add(attempt.candidate)


@policy("resample", knobs=("rounds",), templates=("system", "first", "rewrite"),
        help="a fresh attempt from the task and the feedback (not the failed code), k rounds")
async def resample(ctx: SolveContext, cfg: PolicyConfig) -> None:
    """Feedback-conditioned resampling: a greedy attempt, then up to k fresh implementations, each
    sampled at `temperature` from the task and the feedback on the best attempt so far, never its
    code. It is refine without the revision that small models answer by copying."""
    await ctx.attempt("initial", await ctx.propose(ctx.messages.first()))
    for round_ in range(cfg.rounds):
        best = ctx.best
        if best.passed:
            return
        await _rewrite(ctx, cfg, best, round_)


@policy("try-again", knobs=("rounds",), templates=("system", "first", "try_again"),
        help="\"that is not right, try again\", k rounds (unary feedback)")
async def try_again(ctx: SolveContext, cfg: PolicyConfig) -> None:
    """The floor of feedback: after a failure the model only hears "that is not right, try again".

    Greedy until a retry repeats earlier code, sampled from then on.
    """
    attempt = await ctx.attempt("initial", await ctx.propose(ctx.messages.first()))
    seen, temperature = {attempt.candidate}, 0.0
    for round_ in range(cfg.rounds):
        if attempt.passed:
            return
        reply = await ctx.propose(ctx.messages.try_again(attempt.candidate), temperature=temperature, sample=round_)
        attempt = await ctx.attempt("retry", reply, parent=attempt.step)
        if attempt.candidate in seen:
            temperature = cfg.temperature
        seen.add(attempt.candidate)


@policy("reflexion", knobs=("rounds",), templates=("system", "thinker", "first", "reflection", "reflexion"),
        help="reflect on each failure in words, then retry with the lessons, k rounds")
async def reflexion(ctx: SolveContext, cfg: PolicyConfig) -> None:
    """After each failure the model reflects in words; the latest reflections (its memory) go into
    every later attempt together with the last attempt and its feedback."""
    attempt = await ctx.attempt("initial", await ctx.propose(ctx.messages.first()))
    memory: list[str] = []
    seen, temperature = {attempt.candidate}, 0.0
    for round_ in range(cfg.rounds):
        if attempt.passed:
            return
        reflection = await ctx.ask(ctx.messages.reflection(attempt.candidate, attempt.feedback_text),
                             temperature=temperature, sample=round_)
        ctx.note("reflection", reflection.text, parent=attempt.step, call=reflection.call)
        memory = (memory + [reflection.text])[-MAX_LESSONS:]
        reply = await ctx.propose(ctx.messages.reflexion(attempt.candidate, attempt.feedback_text, memory),
                            temperature=temperature, sample=round_)
        attempt = await ctx.attempt("attempt", reply, parent=attempt.step)
        if attempt.candidate in seen:
            temperature = cfg.temperature
        seen.add(attempt.candidate)


def _top(attempts: list[Attempt], count: int) -> list[Attempt]:
    """The `count` highest-ranked attempts with distinct code; earlier ones win ties."""
    chosen, candidates = [], set()
    for attempt in sorted(attempts, key=lambda a: a.rank, reverse=True):  # sort is stable
        if attempt.candidate not in candidates:
            candidates.add(attempt.candidate)
            chosen.append(attempt)
    return chosen[:count]


async def _rewrite(ctx: SolveContext, cfg: PolicyConfig, best: Attempt, sample: int) -> Attempt:
    """A fresh implementation sampled from the task and the best attempt's feedback, not its code."""
    reply = await ctx.propose(ctx.messages.rewrite(best.feedback_text), temperature=cfg.temperature, sample=sample)
    return await ctx.attempt("rewrite", reply, parent=best.step)


async def _samples(ctx: SolveContext, cfg: PolicyConfig) -> bool:
    """n first attempts, the first greedy and the rest sampled, `cfg.batch` at a time; True once one passes."""
    if (await ctx.attempt("sample", await ctx.propose(ctx.messages.first()))).passed:
        return True
    requests = [Request("sample", ctx.messages.first(), cfg.temperature, i) for i in range(1, cfg.n)]
    for wave in _waves(requests, cfg.batch):
        if any(a.passed for a in await ctx.attempt_batch(wave)):
            return True
    return False


def _waves(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


@policy("iad", knobs=("n", "rounds"), templates=("system", "first", "rewrite", "revision"), batches=True,
        help="n candidates, then k rounds refining the best (IAD)")
async def iad(ctx: SolveContext, cfg: PolicyConfig) -> None:
    """Iterative verifier-guided decoding: n candidates a round; the verifier (visible examples)
    scores them, the best half are refined with their feedback (sampled, `cfg.batch` at a time), and
    selection by score repeats each round over everything seen so far.

    A candidate whose refinement came back as the same code (a model that copies what it is
    shown) is refined from then on by a rewrite from its feedback alone, without its code.
    """
    if await _samples(ctx, cfg):
        return
    keep = max(1, cfg.n // 2)
    copied: set[str] = set()
    sample = cfg.n
    for _ in range(cfg.rounds):
        parents = _top(ctx.attempts, keep)
        for wave in _waves([parents[i % len(parents)] for i in range(cfg.n)], cfg.batch):
            requests = []
            for parent in wave:
                if parent.candidate in copied:
                    messages, kind = ctx.messages.rewrite(parent.feedback_text), "rewrite"
                else:
                    messages, kind = ctx.messages.revision(parent.candidate, parent.feedback_text), "refinement"
                requests.append(Request(kind, messages, cfg.temperature, sample, parent.step))
                sample += 1
            children = await ctx.attempt_batch(requests)
            if any(child.passed for child in children):
                return
            copied.update(parent.candidate for parent, child in zip(wave, children)
                          if child.candidate == parent.candidate)


_CHANGE = re.compile(r"^[ \t]*\**change\**[ \t]*:[ \t]*(.+)$", re.I | re.M)


def _lessons(history: list[tuple[str, float, float]]) -> str:
    """What past changes did to the score, for the model to reflect on."""
    helped = [c for c, before, after in history if after > before][-MAX_LESSONS:]
    failed = [c for c, before, after in history if after <= before][-MAX_LESSONS:]
    lines = []
    if helped:
        lines.append("Changes that raised the score before: " + "; ".join(helped))
    if failed:
        lines.append("Changes that did not help: " + "; ".join(failed))
    return ("\n" + "\n".join(lines) + "\n") if lines else ""


@policy("evolve", knobs=("n", "rounds"), templates=("system", "first", "mutation", "crossover"), batches=True,
        help="a population of n, k generations of mutation and crossover")
async def evolve(ctx: SolveContext, cfg: PolicyConfig) -> None:
    """A population of n solutions evolved for `rounds` generations. Each generation makes n
    children (`cfg.batch` at a time), alternating mutation (one parent and its feedback) and crossover
    (two parents); parents come from 2-way tournaments; the model is told which earlier changes raised the
    score; the fittest n under the visible examples survive."""
    if await _samples(ctx, cfg):
        return
    rng = random.Random(zlib.crc32(ctx.task.id.encode()))
    population = _top(ctx.attempts, cfg.n)
    history: list[tuple[str, float, float]] = []
    sample = cfg.n

    def tournament() -> Attempt:
        a, b = rng.choice(population), rng.choice(population)
        return max(a, b, key=lambda x: x.rank)

    for _ in range(cfg.rounds):
        children = []
        for wave in _waves(list(range(cfg.n)), cfg.batch):
            requests, befores = [], []
            for i in wave:
                first = tournament()
                others = [p for p in population if p is not first]
                if i % 2 == 1 and others:
                    second = max(rng.sample(others, min(2, len(others))), key=lambda x: x.rank)
                    messages = ctx.messages.crossover((first.candidate, first.feedback_text),
                                                      (second.candidate, second.feedback_text), _lessons(history))
                    kind, before = "crossover", max(first.score, second.score)
                else:
                    messages = ctx.messages.mutation(first.candidate, first.feedback_text, _lessons(history))
                    kind, before = "mutation", first.score
                requests.append(Request(kind, messages, cfg.temperature, sample, first.step))
                befores.append(before)
                sample += 1
            made = await ctx.attempt_batch(requests)
            for child, before in zip(made, befores):
                change = _CHANGE.search(child.reply)
                history.append(((change.group(1).strip() if change else child.kind)[:200], before, child.score))
            if any(child.passed for child in made):
                return
            children.extend(made)
        population = _top(population + children, cfg.n)
