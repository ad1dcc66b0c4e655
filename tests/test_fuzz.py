"""Property-based fuzz of model replies through solve (every family) and grow: whatever a model
writes, the loop records it and goes on; nothing ends in a traceback, and the record stays whole."""
import json
import tempfile
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from looplab.grow import GrowConfig, GrowRun, load_graphml
from looplab.models import MiniLMEmbedder, ScriptedModel
from looplab.runs import RunStore
from looplab.sandbox import Sandbox
from looplab.solve import PolicyConfig, solve_tasks
from looplab.tasks import load_tasks

PIECES = ["```python\n", "```sql\n", "```json\n", "```", "def add(a, b):\n    return a + b\n", "SELECT ", "Answer: ",
          "\\boxed{", "}", '{"nodes": [', '{"id": "', '"}', "], \"edges\": [", '{"source": "', '", "target": "',
          '", "relation": "', "\ud800", "\x00", "\x1b[31m", "[/bold]", "\n", " ", "é", "🙂", "<script>", "'", '"']
REPLIES = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=40)), max_size=25).map("".join)
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SANDBOX = Sandbox().with_limits(timeout=3, cpu_seconds=2)


@pytest.mark.parametrize("spec", ["humaneval", "sql:shop", "math:basic_arithmetic"])
@SETTINGS
@given(replies=st.lists(REPLIES, min_size=1, max_size=4))
def test_any_reply_through_solve_is_recorded_whole(spec, replies):
    family, problems = load_tasks(spec, SANDBOX, limit=1)
    with tempfile.TemporaryDirectory() as tmp, RunStore(Path(tmp) / "run") as store:
        report = solve_tasks(problems, family, PolicyConfig("refine", rounds=2), model=ScriptedModel(replies),
                             store=store)
        outcome = store.outcomes("refine(k=2)")[problems[0].task.id]
        steps = store.steps("refine(k=2)")
        calls = store.calls("refine(k=2)", problems[0].task.id)
    assert report.stopped is None and outcome.status == "done"
    assert len(steps) == len(calls) == outcome.calls and all(s.feedback for s in steps)
    assert all(s.call_id == c.id for s, c in zip(steps, calls))
    assert not any("\ud800" in c.response for c in calls)


@pytest.fixture(scope="module")
def embedder():
    return MiniLMEmbedder()


@SETTINGS
@given(extraction=REPLIES, answer=REPLIES)
def test_any_reply_through_grow_keeps_a_readable_graph(embedder, extraction, answer):
    def reply(messages):
        return extraction if messages[0]["content"].startswith("You turn") else answer or "x"

    with tempfile.TemporaryDirectory() as tmp:
        with RunStore(Path(tmp) / "run") as store:
            run = GrowRun(store, GrowConfig("What is silk?"), ScriptedModel(reply), embedder)
            results = run.run(2)
            summary = run.summary()
        assert [r.iteration for r in results] == [1, 2] and summary["iterations"] == 2
        graph = load_graphml(Path(tmp) / "run" / "graph.graphml")
        assert isinstance(graph, nx.DiGraph)
        json.dumps(nx.node_link_data(graph, edges="links"))
