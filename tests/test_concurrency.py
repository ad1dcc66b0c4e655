"""Many loops in flight: the record is the same whatever the number of requests in flight, budgets hold
under concurrency, and the embedded model's requests are pipelined with the sandbox."""
import asyncio
import collections
import csv
import dataclasses
import hashlib
import os
import random
import re
import time

from looplab.cli import main
from looplab.models import Budget, ScriptedModel
from looplab.runs import RunStore
from looplab.solve import PolicyConfig, run_policies
from looplab.tasks import load_tasks

POLICIES = [PolicyConfig("single"), PolicyConfig("best-of-n", n=4, batch=4), PolicyConfig("refine", rounds=2),
            PolicyConfig("evolve", n=2, rounds=1, batch=2)]


def answers(problems):
    """Replies that depend only on the prompt: the reference for about a third of prompts, else a wrong
    function; so some tasks pass at once, some after a revision, some never."""
    references = {p.task.entry_point: p.task.prompt + p.hidden.reference for p in problems}

    def reply(messages):
        text = "\n".join(m["content"] for m in messages)
        entry = re.findall(r"def (\w+)\(", text)
        entry = next((e for e in reversed(entry) if e in references), None)
        if entry is None:
            return "1. Think."
        if int(hashlib.sha256(text.encode()).hexdigest(), 16) % 3 == 0:
            return f"```python\n{references[entry]}```"
        return f"```python\ndef {entry}(*args):\n    return None\n```"
    return reply


class Jittery(ScriptedModel):
    """Scripted replies that come back after a random delay, counting how many are in flight at once."""

    def __init__(self, reply):
        super().__init__(reply)
        self.in_flight = self.most_in_flight = 0

    async def acomplete(self, messages, **kwargs):
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(random.uniform(0, 0.01))
        self.in_flight -= 1
        return self.complete(messages, **kwargs)


def _without(record, *fields):
    row = dataclasses.asdict(record)
    for name in fields:
        del row[name]
    return row


def record(run_dir):
    """Everything a run recorded except ids, times and latencies (steps with their feedback)."""
    with RunStore(run_dir, read_only=True) as store:
        policies = sorted(name for name, _ in store.policies())
        return {
            "calls": [_without(c, "id", "created", "latency") for c in store.calls()],
            "steps": [_without(s, "call_id") for p in policies for s in store.steps(p)],
            "outcomes": [_without(o, "seconds") for p in policies
                         for o in sorted(store.outcomes(p).values(), key=lambda o: o.task_id)],
        }


def test_the_record_is_the_same_at_one_and_at_thirty_two_requests_in_flight(tmp_path, sandbox):
    family, problems = load_tasks("humaneval", sandbox, limit=20)
    models = {}
    for connections in (1, 32):
        models[connections] = Jittery(answers(problems))
        with RunStore(tmp_path / str(connections)) as store:
            reports = run_policies(problems, family, POLICIES, model=models[connections], store=store,
                                   task_budget=Budget(tokens=2500), max_connections=connections)
        assert all(len(r.outcomes) == 20 and not r.stopped for r in reports)
    assert models[1].most_in_flight == 1 and models[32].most_in_flight > 8
    one, many = record(tmp_path / "1"), record(tmp_path / "32")
    assert [len(one[k]) for k in one] == [len(many[k]) for k in many]
    for table in one:
        assert one[table] == many[table], table
    passed = {o["task_id"] for o in one["outcomes"] if o["passed_hidden"]}
    assert 0 < len(passed) < 20  # the replies made a run worth comparing


def test_no_budget_is_overshot_with_many_calls_in_flight(tmp_path, sandbox):
    family, problems = load_tasks("humaneval", sandbox, limit=8)
    model = Jittery(answers(problems))
    with RunStore(tmp_path / "run") as store:
        [report] = run_policies(problems, family, [PolicyConfig("best-of-n", n=16, batch=16)], model=model,
                                store=store, task_budget=Budget(tokens=1200), run_budget=Budget(tokens=6000),
                                max_connections=64)
        spent = collections.Counter()
        for call in store.calls():
            spent[call.task_id] += call.tokens
    assert all(tokens <= 1200 for tokens in spent.values())
    assert sum(spent.values()) <= 6000
    assert "run budget is spent" in report.stopped


def test_compare_over_http_gives_the_same_table_at_one_and_at_thirty_two_connections(tmp_path, sandbox, chat_server):
    _, problems = load_tasks("humaneval", sandbox, limit=20)
    tables = {}
    for n in ("1", "32"):
        with chat_server(answers(problems)) as server:
            server.jitter = 0.01
            run_dir = tmp_path / f"cmp{n}"
            assert main(["compare", "--limit", "20", "--policies", "single,best-of-n,refine,evolve",
                         "--budget-tokens", "1500", "--batch", "2", "--model", "openai:test", "--base-url", server.url,
                         "--max-connections", n, "--run-dir", str(run_dir)]) == 0
        tables[n] = [{k: v for k, v in row.items() if k != "wall_seconds"}
                     for row in csv.DictReader(open(run_dir / "comparison.csv"))]
    assert len(tables["1"]) == 4 and tables["1"] == tables["32"]


def test_a_record_let_go_of_while_a_forked_child_holds_its_lock_opens_again(tmp_path):
    """A sandbox started by another thread is a fork that holds a copy of every descriptor until its exec, the
    record's lock included: reopening a record just closed waits that moment out instead of refusing."""
    store = RunStore(tmp_path / "run")
    child = os.fork()
    if child == 0:  # a child between fork and exec, drawn out
        time.sleep(0.3)
        os._exit(0)
    store.close()
    try:
        with RunStore(tmp_path / "run") as again:
            assert again.meta("loop") is None
    finally:
        os.waitpid(child, 0)


def test_writes_in_flight_together_share_a_commit_and_none_waits_uncommitted(tmp_path):
    async def run(store):
        with store.group_commits(asyncio.get_running_loop()):
            async def task(i):
                store.set_meta(f"task{i}", i)
                await asyncio.sleep(0.01)  # the loop waits here: every write of the turn is committed by now
                with RunStore(tmp_path, read_only=True) as reader:
                    return reader.meta(f"task{i}")
            return await asyncio.gather(*(task(i) for i in range(50)))

    commits = []
    with RunStore(tmp_path) as store:
        store.db.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
        assert asyncio.run(run(store)) == list(range(50))
    assert len(commits) == 1  # fifty writes in one turn of the loop, one commit
