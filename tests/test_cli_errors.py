"""Bad command lines: each gets one sentence and a non-zero exit status, never a traceback, and nothing
is recorded."""
import json

import networkx as nx
import pytest

from looplab.cli import EXIT_INTERNAL, main
from looplab.runs import RunStore

S = ["--model", "scripted:{replies}"]
BAD = {
    "solve --limit 0": ["solve", "--limit", "0"],
    "solve --limit -1": ["solve", "--limit", "-1"],
    "solve --ids ,,": ["solve", "--ids", ",,"],
    "solve --ids 999": ["solve", "--ids", "999"],
    "solve --n 0": ["solve", "--n", "0"],
    "solve --rounds -2": ["solve", "--rounds", "-2"],
    "solve --temperature -1": ["solve", "--temperature", "-1"],
    "solve --temperature nan": ["solve", "--temperature", "nan"],
    "solve --max-tokens 5": ["solve", "--max-tokens", "5"],
    "solve --budget-tokens 0": ["solve", "--budget-tokens", "0"],
    "solve --budget-calls -3": ["solve", "--budget-calls", "-3"],
    "solve --run-tokens 0": ["solve", "--run-tokens", "0"],
    "solve --timeout nan": ["solve", "--timeout", "nan"],
    "solve --timeout 0": ["solve", "--timeout", "0"],
    "solve --timeout -1": ["solve", "--timeout", "-1"],
    "solve --connect-timeout 0": ["solve", "--connect-timeout", "0"],
    "solve --call-timeout inf": ["solve", "--call-timeout", "inf"],
    "solve --strategy nope": ["solve", "--strategy", "nope"],
    "solve --tasks chess": ["solve", "--tasks", "chess"],
    "solve --tasks math:nope": ["solve", "--tasks", "math:nope"],
    "solve --tasks sql:zoo": ["solve", "--tasks", "sql:zoo"],
    "solve --tasks a missing file": ["solve", "--tasks", "{tmp}/missing.jsonl"],
    "solve --tasks a bad file": ["solve", "--tasks", "{tmp}/bad.jsonl"],
    "solve --model nonsense": ["solve", "--model", "nonsense"],
    "solve --model openai: without a name": ["solve", "--model", "openai:"],
    "solve --model scripted: without a file": ["solve", "--model", "scripted:"],
    "solve --model scripted:missing.json": ["solve", "--model", "scripted:{tmp}/missing.json"],
    "solve into a run dir that is a file": ["solve", "--run-dir", "{tmp}/a-file"],
    "solve into a corrupt run": ["solve", "--run-dir", "{tmp}/corrupt"],
    "solve into a grow run": ["solve", "--run-dir", "{tmp}/grown"],
    "solve into a run of another family": ["solve", "--tasks", "math", "--limit", "1", "--run-dir", "{tmp}/sqlrun"],
    "compare --policies empty": ["compare", "--budget-tokens", "100", "--policies", ","],
    "compare --policies twice": ["compare", "--budget-tokens", "100", "--policies", "single,single"],
    "compare --policies unknown source": ["compare", "--budget-tokens", "100", "--policies", "single+nope"],
    "compare --policies unknown policy": ["compare", "--budget-tokens", "100", "--policies", "greedy"],
    "compare without --budget-tokens": ["compare", "--policies", "single"],
    "compare --budget-tokens abc": ["compare", "--budget-tokens", "abc"],
    "compare +tests on math": ["compare", "--tasks", "math", "--limit", "1", "--budget-tokens", "900",
                               "--policies", "single+tests"],
    "compare a grow run": ["compare", "--budget-tokens", "100", "--policies", "single", "--report-only",
                           "--run-dir", "{tmp}/grown"],
    "show a missing run": ["show", "--run-dir", "{tmp}/nothing-here", "0"],
    "show a corrupt run": ["show", "--run-dir", "{tmp}/corrupt", "0"],
    "show a grow run": ["show", "--run-dir", "{tmp}/grown", "0"],
    "show an unknown task": ["show", "--run-dir", "{tmp}/sqlrun", "shop/99"],
    "grow --iterations 0": ["grow", "q", "--iterations", "0"],
    "grow --snapshot-every 0": ["grow", "q", "--iterations", "1", "--snapshot-every", "0"],
    "grow --threshold -1": ["grow", "q", "--iterations", "1", "--threshold", "-1"],
    "grow --threshold 2": ["grow", "q", "--iterations", "1", "--threshold", "2"],
    "grow into a solve run": ["grow", "q", "--iterations", "1", "--run-dir", "{tmp}/sqlrun"],
    "graph report of a missing run": ["graph", "report", "--run-dir", "{tmp}/nothing-here"],
    "graph export into a missing directory": ["graph", "export", "--run-dir", "{tmp}/grown", "--output",
                                              "{tmp}/no/such/dir/g.graphml"],
    "graph compose with --from only": ["graph", "compose", "--run-dir", "{tmp}/grown", "--from", "a"],
    "graph compose from an unknown concept": ["graph", "compose", "--run-dir", "{tmp}/grown", "--from", "zzz",
                                              "--to", "a"],
    "exec a missing file": ["exec", "{tmp}/missing.py"],
    "exec a non-UTF-8 file": ["exec", "{tmp}/latin1.py"],
    "exec a directory": ["exec", "{tmp}"],
    "exec --stdin /dev/zero": ["exec", "{tmp}/ok.py", "--stdin", "/dev/zero"],
    "exec --timeout nan": ["exec", "{tmp}/ok.py", "--timeout", "nan"],
    "an unknown command": ["frobnicate"],
}
NEEDS_RUN_DIR = ("solve", "compare", "grow")


@pytest.fixture
def tmp(tmp_path):
    (tmp_path / "replies.json").write_text(json.dumps(["Answer: 1"]))
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "run.sqlite").write_bytes(b"this is not a database" * 100)
    (tmp_path / "latin1.py").write_bytes(b"print('caf\xe9')\n")
    (tmp_path / "ok.py").write_text("print(1)\n")
    with RunStore(tmp_path / "grown") as store:
        store.require({"loop": "grow"})
    graph = nx.DiGraph()
    graph.add_edge("a", "b", relation="r")
    nx.write_graphml(graph, tmp_path / "grown" / "graph.graphml")
    with RunStore(tmp_path / "sqlrun") as store:
        store.require({"loop": "solve", "family": "sql"})
    return tmp_path


@pytest.mark.parametrize("name", list(BAD))
def test_a_bad_command_line_gets_one_sentence(tmp, capsys, name):
    argv = [a.format(tmp=tmp, replies=tmp / "replies.json") for a in BAD[name]]
    if argv[0] in NEEDS_RUN_DIR and "--run-dir" not in argv:
        argv += ["--run-dir", str(tmp / "fresh")]
    if argv[0] in ("solve", "compare", "grow") and "--model" not in argv:
        argv += ["--model", f"scripted:{tmp / 'replies.json'}"]
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own refusals
        code = e.code
    err = capsys.readouterr().err
    assert code not in (0, None, EXIT_INTERNAL), err
    assert "Traceback" not in err and "error" in err.lower()
    assert len(err) < 400, err  # a sentence (the terminal may wrap it), not a dump
    assert not (tmp / "fresh").exists()  # nothing was recorded
