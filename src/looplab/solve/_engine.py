from __future__ import annotations

import asyncio
import gc
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from ..feedback import FeedbackSource, GeneratedTests, Judge, PropertyTests, SimulatedUser, as_source
from ..models import Budget, BudgetExceeded, Meter, Model, ModelError, ModelUnavailable, default_connections
from ..runs import RunError, RunStore, TaskRecorder
from ..tasks import Family, Problem, TaskError
from ._config import PolicyConfig
from ._context import SolveContext
from . import _policies, _search  # noqa: F401 - they register the shipped policies
from ._spec import POLICIES


def _code_checks(family: Family, what: str):
    if not hasattr(family, "checks"):
        raise TaskError(f"+{what} needs code tasks; {family.name} tasks have no function to test")
    return family.checks


# Feedback sources a policy may add after its family's own, by the name used in `+name`, made from the family
# and the judge's model (None: the model under test). One line each.
EXTRA_SOURCES: dict[str, Callable[[Family, Model | None], FeedbackSource]] = {
    "tests": lambda family, judge: GeneratedTests(_code_checks(family, "tests")),
    "properties": lambda family, judge: PropertyTests(_code_checks(family, "properties")),
    "judge": lambda family, judge: Judge(model=judge),
    # argues against its own verdict half the time
    "deceptive-judge": lambda family, judge: Judge(deceive=0.5, model=judge),
    "user": lambda family, judge: SimulatedUser(),  # knows the reference, must not give it away
}

# Stop the run after this many tasks in a row found the model server unreachable.
MAX_UNAVAILABLE_IN_A_ROW = 3
# While a run's event loop runs, the cyclic collector looks at young objects every 20,000 allocations instead of
# Python's 700. A run allocates fast and keeps few cycles, and up to every hundredth young collection becomes a pass
# over the whole heap (hundreds of milliseconds with reasoning-gym's or a model's modules loaded): with the default, the
# collector took about a tenth of the event loop's time at 256 requests in flight. Cyclic garbage waiting for it
# stays bounded (20,000 objects, a few megabytes at most).
YOUNG_OBJECTS_PER_COLLECTION = 20_000


@dataclass
class TaskOutcome:
    task_id: str
    status: str           # "done", "error" (recorded, final) or "unavailable" (retried on resume)
    passed_visible: bool  # the answer passed the deciding source
    passed_hidden: bool
    tokens: int
    calls: int
    seconds: float
    error: str | None = None


@dataclass
class SolveReport:
    policy: str
    outcomes: list[TaskOutcome] = field(default_factory=list)
    skipped: int = 0               # finished in an earlier run
    stopped: str | None = None     # why the run stopped before the last task, if it did


def feedback_sources(family: Family, config: PolicyConfig, sources: dict[str, FeedbackSource | Callable] | None = None,
                     judge_model: Model | None = None) -> dict[str, FeedbackSource]:
    """The sources a policy's attempts are judged by, in ranking order: `sources` when given (a plain
    `reward(task, candidate)` function is accepted), else the family's own, then `config.extra_sources`
    (judges use `judge_model` when given)."""
    if sources is not None:
        if not sources:
            raise ValueError("give at least one feedback source")
        return {name: as_source(source) for name, source in sources.items()}
    chosen = dict(family.sources())
    for name in config.extra_sources:
        if name not in EXTRA_SOURCES:
            raise TaskError(f"unknown feedback source {name!r}; choose from {', '.join(EXTRA_SOURCES)}")
        chosen[name] = EXTRA_SOURCES[name](family, judge_model)
    return chosen


def solve_tasks(problems: list[Problem], family: Family, config: PolicyConfig, *, model: Model, store: RunStore,
                sources: dict[str, FeedbackSource | Callable] | None = None, task_budget: Budget = Budget(),
                run_meter: Meter | None = None, judge_model: Model | None = None, max_connections: int | None = None,
                executor: Executor | None = None,
                on_task: Callable[[TaskOutcome | None], None] | None = None) -> SolveReport:
    """Run one policy over tasks of one family, recording everything; tasks finished earlier are skipped.
    The synchronous entry point of `solve_tasks_async` (the same arguments, described there).

    >>> import tempfile
    >>> from looplab.models import ScriptedModel
    >>> from looplab.tasks import load_tasks
    >>> family, problems = load_tasks("sql:shop", None, limit=2)
    >>> model = ScriptedModel(["```sql\\nSELECT COUNT(*) FROM orders\\n```"])
    >>> with RunStore(tempfile.mkdtemp()) as store:
    ...     report = solve_tasks(problems, family, PolicyConfig("refine", rounds=1), model=model, store=store)
    >>> sorted((o.task_id, o.status, o.calls) for o in report.outcomes)  # tasks run side by side: any order
    [('shop/01', 'done', 1), ('shop/02', 'done', 1)]
    """
    return run_blocking(solve_tasks_async(problems, family, config, model=model, store=store, sources=sources,
                                          task_budget=task_budget, run_meter=run_meter, judge_model=judge_model,
                                          max_connections=max_connections, executor=executor, on_task=on_task))


async def _settled(tasks) -> None:
    await asyncio.gather(*tasks, return_exceptions=True)


def run_blocking(coroutine):
    """`asyncio.run`, except that an interrupt (Ctrl-C) does not wait for the worker threads still running a
    program or a model call: their results would be thrown away anyway, and the record is already consistent
    (every call and step is written the moment it is done). Without an interrupt, it waits for them as usual.
    While it runs, the cyclic garbage collector runs less often (`YOUNG_OBJECTS_PER_COLLECTION`)."""
    loop = asyncio.new_event_loop()
    workers = ThreadPoolExecutor(thread_name_prefix="solve")
    loop.set_default_executor(workers)
    interrupted = False
    threshold = gc.get_threshold()
    collecting = (max(threshold[0], YOUNG_OBJECTS_PER_COLLECTION), *threshold[1:])
    gc.set_threshold(*collecting)
    try:
        return loop.run_until_complete(coroutine)
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(_settled(tasks))
        loop.run_until_complete(loop.shutdown_asyncgens())
        workers.shutdown(wait=not interrupted, cancel_futures=True)
        loop.close()
        if gc.get_threshold() == collecting:  # unless another thread's run set it meanwhile
            gc.set_threshold(*threshold)


async def solve_tasks_async(problems: list[Problem], family: Family, config: PolicyConfig, *, model: Model,
                            store: RunStore, sources: dict[str, FeedbackSource | Callable] | None = None,
                            task_budget: Budget = Budget(), run_meter: Meter | None = None,
                            judge_model: Model | None = None, max_connections: int | None = None,
                            executor: Executor | None = None,
                            on_task: Callable[[TaskOutcome | None], None] | None = None) -> SolveReport:
    """Run one policy over tasks of one family with up to `max_connections` model requests in flight (default:
    the model's, `default_connections`: 16 for a server, 1 for a local model), recording everything; tasks
    finished earlier are skipped.

    Tasks run side by side, twice as many as the requests allowed, so a task's programs run and its answer
    is scored while other tasks keep every connection busy; each task's record is the same whatever
    `max_connections` is. Blocking feedback (programs) runs in `executor`, the sandbox pool's threads. A run
    budget (`run_meter`) is never overshot; when it stops a run with many tasks in flight, which tasks it cut
    short depends on their timing.

    The store checks that the run's loop, model, family and its settings match what it recorded
    before, and that the policy's settings (knobs, prompts, sources, budget) do too.
    """
    if config.strategy not in POLICIES:
        raise ValueError(f"unknown strategy {config.strategy!r}; choose from {', '.join(POLICIES)}")
    if max_connections is None:
        max_connections = default_connections(model)
    if max_connections < 1:
        raise ValueError(f"max_connections must be at least 1, not {max_connections}")
    # A trained model (only it says what it was trained on) is not scored on its training tasks; sampling them
    # again is what expert iteration does, in a run that marks them its train split.
    train = set((store.meta("splits") or {}).get("train", []))
    seen = set(getattr(model, "trained_on", {}).get(family.name, ())) & {p.task.id for p in problems} - train
    if seen:
        raise RunError(f"{model.name} was trained on {len(seen)} of these tasks ({', '.join(sorted(seen)[:3])}"
                       f"{', ...' if len(seen) > 3 else ''}); score it on tasks its training never saw")
    policy = POLICIES[config.strategy].run
    chosen = feedback_sources(family, config, sources, judge_model)
    store.require({"loop": "solve", "model": model.name, "family": family.name, **family.settings()})
    # The budget and the sources are part of the settings: a resumed policy must keep them.
    judged_by = ({"judge_model": judge_model.name}
                 if judge_model and any(s.judges_with_a_model for s in chosen.values()) else {})
    store.register_policy(config.name, {**config.settings(), "sources": list(chosen), **judged_by,
                                        "budget_calls": task_budget.calls, "budget_tokens": task_budget.tokens})
    done = store.finished(config.name)
    report = SolveReport(config.name)
    slots = asyncio.Semaphore(max_connections)
    loop = asyncio.get_running_loop()
    unavailable_in_a_row = 0
    waiting = []
    for problem in problems:
        if problem.task.id in done:
            report.skipped += 1
            if on_task:
                on_task(None)
        else:
            waiting.append(problem)

    async def solve_one(problem: Problem) -> TaskOutcome | None:
        task = problem.task
        store.start_task(config.name, task.id)
        meter = Meter(task_budget, parent=run_meter)
        recorder = TaskRecorder(store, config.name, task.id, model, meter, slots)
        reference = family.reference(problem) if any(s.reads_reference for s in chosen.values()) else None
        ctx = SolveContext(family, task, recorder, chosen, config.max_tokens, config.prompts, reference, executor)
        start = time.monotonic()
        status, error = "done", None
        try:
            await ctx.prepare()
            await policy(ctx, config)
        except BudgetExceeded as e:
            if run_meter is not None and e.meter is run_meter:
                report.stopped = f"the run budget is spent ({e}); raise it and re-run to continue"
                return None  # unfinished: a re-run with a larger budget takes it up again
        except ModelUnavailable as e:
            status, error = "unavailable", str(e)
        except ModelError as e:
            status, error = "error", str(e)
        best = ctx.answer
        seconds = time.monotonic() - start + recorder.reused_seconds
        if status == "unavailable":
            return TaskOutcome(task.id, status, False, False, meter.tokens, meter.calls, seconds, error)
        # The hidden score, after the policy has finished: nothing of it goes back into the loop.
        hidden_result, passed_hidden = await loop.run_in_executor(executor, _score, family, problem, ctx, best)
        outcome = TaskOutcome(task.id, status, bool(best and best.deciding.passed), passed_hidden,
                              meter.tokens, meter.calls, seconds, error)
        store.finish_task(config.name, task.id, status=status, answer=best.candidate if best else None,
                          passed_visible=outcome.passed_visible, visible_score=best.score if best else 0.0,
                          passed_hidden=passed_hidden, hidden_result=hidden_result,
                          tokens=meter.tokens, calls=meter.calls, seconds=round(seconds, 3), error=error)
        return outcome

    async def worker() -> None:
        nonlocal unavailable_in_a_row
        while waiting and report.stopped is None:
            outcome = await solve_one(waiting.pop(0))
            if outcome is None:
                continue
            report.outcomes.append(outcome)
            if on_task:
                on_task(outcome)
            if outcome.status != "unavailable":
                unavailable_in_a_row = 0
                continue
            unavailable_in_a_row += 1
            if unavailable_in_a_row >= MAX_UNAVAILABLE_IN_A_ROW and report.stopped is None:
                report.stopped = f"the model is unreachable ({outcome.error}); fix it and re-run to resume"

    try:
        with store.group_commits(loop):  # one commit for many tasks' writes: the event loop stays free
            await asyncio.gather(*(worker() for _ in range(min(len(waiting), 2 * max_connections))))
    finally:
        store.write_summary()
        for used in {model, judge_model} - {None}:
            if hasattr(used, "aclose"):  # a connection pool belongs to this run's event loop
                await used.aclose()
    return report


def _score(family: Family, problem: Problem, ctx: SolveContext, best) -> tuple[dict, bool]:
    """The hidden verdict on the answer, and each source's audit of itself against it (for the record only)."""
    hidden = family.score(problem, best.candidate) if best else None
    hidden_result = {**hidden.details, "score": hidden.score} if hidden else {"kind": "no-answer"}
    passed_hidden = bool(hidden and hidden.passed)
    audits = {name: audit for name, source in ctx.sources.items()
              if (audit := source.audit(problem.hidden, best.feedback.get(name) if best else None,
                                         passed_hidden)) is not None}
    if audits:
        hidden_result = {**hidden_result, "audits": audits}
    return hidden_result, passed_hidden
