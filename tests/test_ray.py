"""--executor ray on a local cluster started here (a head and one worker node, one CPU each): the merged
record equals a single-process run's, and a re-run resumes from it."""
import pytest
from test_concurrency import answers, record

from looplab.cli import main
from looplab.tasks import load_tasks

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def test_a_two_worker_ray_run_records_what_a_single_process_records(tmp_path, sandbox, chat_server, cluster):
    _, problems = load_tasks("humaneval", sandbox, limit=8)
    common = ["compare", "--limit", "8", "--policies", "single,refine,best-of-n", "--budget-tokens", "1500",
              "--model", "openai:test"]
    with chat_server(answers(problems)) as server:
        server.jitter = 0.01
        assert main([*common, "--base-url", server.url, "--run-dir", str(tmp_path / "single")]) == 0
        assert main([*common, "--base-url", server.url, "--run-dir", str(tmp_path / "ray"), "--executor", "ray",
                     "--workers", "2", "--ray-address", cluster.address]) == 0
        asked = len(server.requests)
        # everything is finished: a re-run on Ray sends nothing and changes nothing
        assert main([*common, "--base-url", server.url, "--run-dir", str(tmp_path / "ray"), "--executor", "ray",
                     "--workers", "2", "--ray-address", cluster.address]) == 0
        assert len(server.requests) == asked
    nodes = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert len(nodes) == 2
    single, spread = record(tmp_path / "single"), record(tmp_path / "ray")
    for table in single:
        assert [tuple(r) for r in single[table]] == [tuple(r) for r in spread[table]], table
    assert (tmp_path / "ray" / "comparison.csv").exists()
