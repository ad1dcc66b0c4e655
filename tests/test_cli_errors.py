"""Bad command lines: each gets one sentence and a non-zero exit status, never a traceback, and nothing
is recorded."""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

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
    # the command lines that ended in an internal error (exit 70) before
    "solve --strategy with two policies": ["solve", "--strategy", "single,refine"],
    "solve --model local: a text file": ["solve", "--model", "local:{tmp}/text.gguf"],
    "solve --run-dir under /proc": ["solve", "--run-dir", "/proc/nope/x"],
    "compare --report-only on an empty directory": ["compare", "--report-only", "--budget-tokens", "100",
                                                    "--run-dir", "{tmp}/empty"],
    "compare --report-only on a record with no run": ["compare", "--report-only", "--budget-tokens", "100",
                                                      "--run-dir", "{tmp}/unused"],
    "view --output a file": ["view", "{tmp}/sqlrun", "--output", "{tmp}/a-file"],
    "view --output the run itself": ["view", "{tmp}/sqlrun", "--output", "{tmp}/sqlrun"],
    "view --output a folder of the user's": ["view", "{tmp}/sqlrun", "--output", "{tmp}/mine"],
    "export --output into a missing directory": ["export", "--run-dir", "{tmp}/sqlrun", "--output",
                                                 "{tmp}/missing/dir/x.jsonl"],
    "export --output over the run's database": ["export", "--run-dir", "{tmp}/sqlrun", "--output",
                                                "{tmp}/sqlrun/run.sqlite"],
    "graph report of a broken graph.graphml": ["graph", "report", "--run-dir", "{tmp}/broken"],
    "graph export of a broken graph.graphml": ["graph", "export", "--run-dir", "{tmp}/broken"],
    "graph export over the graph itself": ["graph", "export", "--run-dir", "{tmp}/grown", "--output",
                                           "{tmp}/grown/graph.graphml"],
    "graph report of a garbage run.sqlite": ["graph", "report", "--run-dir", "{tmp}/garbage"],
    "grow with an empty question": ["grow", "  ", "--iterations", "1"],
    "solve --tasks a file nested too deeply": ["solve", "--tasks", "{tmp}/deep.jsonl"],
    "solve --tasks a file with a huge number": ["solve", "--tasks", "{tmp}/huge.jsonl"],
    "solve --tasks a hidden test nested too deeply": ["solve", "--tasks", "{tmp}/deep-test.jsonl"],
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
    with RunStore(tmp_path / "unused"):
        pass
    (tmp_path / "text.gguf").write_text("not a model")
    (tmp_path / "empty").mkdir()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("the user's own")
    for name, content in (("broken", "<graphml"), ("garbage", None)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "graph.graphml").write_text(content or "<graphml")
    (tmp_path / "garbage" / "run.sqlite").write_text("garbage")
    task = {"id": "t", "prompt": "def f(x):\n    pass\n", "entry_point": "f", "hidden_tests": "assert f(1) == 1"}
    (tmp_path / "deep.jsonl").write_text("[" * 100_000 + "\n")
    (tmp_path / "huge.jsonl").write_text(json.dumps(task)[:-1] + ', "n": ' + "9" * 100_000 + "}\n")
    (tmp_path / "deep-test.jsonl").write_text(json.dumps({**task, "hidden_tests": "x = " + "-" * 100_000 + "1"}) + "\n")
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
    assert (tmp / "mine" / "notes.txt").read_text() == "the user's own" and list((tmp / "empty").iterdir()) == []
    assert (tmp / "sqlrun" / "run.sqlite").read_bytes()[:16] == b"SQLite format 3\x00"
    assert nx.read_graphml(tmp / "grown" / "graph.graphml").number_of_edges() == 1


def _default_sigint():
    """A test run started in the background (`make test &`) ignores SIGINT, and so would the command it starts:
    Python installs its Ctrl-C handler only where SIGINT is not ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("after", [0.05, 0.3, 1.0], ids=["while importing", "while loading tasks", "while running"])
def test_ctrl_c_at_any_moment_exits_130_without_a_traceback(tmp, after):
    command = [str(Path(sys.executable).with_name("looplab")), "solve", "--tasks", "sql:shop", "--limit", "3",
               "--strategy", "refine", "--model", f"scripted:{tmp / 'replies.json'}", "--run-dir", str(tmp / "run")]
    # `after` counts from the moment looplab's own code can run: the interpreter's start (site, .pth files) is
    # Python's, and on a loaded machine it alone takes longer than 0.05 s
    start = time.monotonic()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    startup = time.monotonic() - start
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               preexec_fn=_default_sigint)
    time.sleep(startup + after)
    process.send_signal(signal.SIGINT)
    err = process.communicate(timeout=60)[1]
    assert process.returncode in (130, 0) and "Traceback" not in err, (process.returncode, err)  # 0: it had finished already


def test_ctrl_c_while_a_finished_command_shuts_down_keeps_its_status(tmp):
    """The interpreter's teardown after a command has ended (its modules freed, Python's Ctrl-C handler gone) is
    not a moment to die by SIGINT: a Ctrl-C there must leave the command's status. Sent across the last moments of
    a short run, measured first; before the fix about a third of these ended killed by SIGINT (-2)."""
    replies = tmp / "one.json"
    replies.write_text(json.dumps(["```sql\nSELECT 1\n```"]))

    def start(run_dir):
        command = [str(Path(sys.executable).with_name("looplab")), "solve", "--tasks", "sql:shop", "--limit", "1",
                   "--model", f"scripted:{replies}", "--run-dir", str(run_dir)]
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                preexec_fn=_default_sigint)
    began = time.monotonic()
    assert start(tmp / "timed").wait(timeout=120) == 0
    took = time.monotonic() - began
    for i in range(8):
        process = start(tmp / f"run{i}")
        time.sleep(max(0.0, took - 0.25 + i * 0.04))
        process.send_signal(signal.SIGINT)
        err = process.communicate(timeout=60)[1]
        assert process.returncode in (130, 0) and "Traceback" not in err, (i, process.returncode, err)


def test_view_writes_a_new_folder_and_replaces_only_its_own_site(tmp):
    site = tmp / "site"
    assert main(["view", str(tmp / "sqlrun"), "--output", str(site)]) == 0
    (site / "data" / "stale.js").write_text("// from an earlier site")
    assert main(["view", str(tmp / "sqlrun"), "--output", str(site)]) == 0  # an earlier site is replaced
    assert (site / "index.html").is_file() and not (site / "data" / "stale.js").exists()
    assert main(["view", str(tmp / "sqlrun"), "--output", str(tmp / "empty")]) == 0  # an empty folder is used


def test_progress_outside_a_terminal_is_plain_lines_that_count_resumed_tasks(tmp):
    replies = tmp / "count.json"
    replies.write_text(json.dumps(["```sql\nSELECT COUNT(*) FROM orders WHERE status = 'cancelled'\n```"]))
    command = [str(Path(sys.executable).with_name("looplab")), "solve", "--tasks", "sql:shop", "--model",
               f"scripted:{replies}", "--run-dir", str(tmp / "run")]
    first = subprocess.run(command + ["--limit", "1"], capture_output=True, text=True, timeout=120)
    assert "single: 1/1 tasks (0 resumed), hidden pass 1" in first.stderr, first.stderr
    again = subprocess.run(command + ["--limit", "3"], capture_output=True, text=True, timeout=120)
    assert "single: 3/3 tasks (1 resumed), hidden pass 1" in again.stderr, again.stderr
    assert "\x1b[" not in again.stderr  # no terminal control codes in a file


def test_ctrl_c_does_not_wait_for_a_program_still_running(tmp):
    """The interrupted command exits at once, though a sandboxed program would run 30 s more (the same holds
    for a local model's reply in its worker thread)."""
    slow = tmp / "slow.json"
    slow.write_text(json.dumps(["```python\nimport time\ndef has_close_elements(numbers, threshold):\n"
                                "    time.sleep(30)\n```"]))
    command = [str(Path(sys.executable).with_name("looplab")), "solve", "--ids", "0", "--timeout", "60",
               "--model", f"scripted:{slow}", "--run-dir", str(tmp / "run")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               preexec_fn=_default_sigint)
    time.sleep(4)
    process.send_signal(signal.SIGINT)
    start = time.monotonic()
    err = process.communicate(timeout=60)[1]
    assert process.returncode == 130 and time.monotonic() - start < 10 and "Traceback" not in err, err


def test_output_flags_work_after_the_command_name_and_quiet_keeps_progress_out(tmp_path, capsys):
    from looplab.tasks import TaskError

    replies = tmp_path / "r.json"
    replies.write_text('["```sql\\nSELECT 1\\n```"]')
    base = ["solve", "--tasks", "sql", "--limit", "3", "--model", f"scripted:{replies}"]
    assert main(base + ["--run-dir", str(tmp_path / "v"), "-v"]) == 0
    assert capsys.readouterr().err.count("tasks (0 resumed)") == 3  # a line per task
    assert main(base + ["--run-dir", str(tmp_path / "q"), "-q"]) == 0
    assert "tasks (" not in capsys.readouterr().err
    with pytest.raises(TaskError):  # --debug after the command shows the error itself
        main(["solve", "--tasks", "nosuchfamily", "--run-dir", str(tmp_path / "d"), "--debug"])


def test_graph_mine_without_its_data_says_where_the_essays_must_come_from(tmp_path, capsys):
    assert main(["graph", "mine", "--data", str(tmp_path / "nowhere"), "--run-dir", str(tmp_path / "run")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert str(tmp_path / "nowhere") in err and "does not ship MINE's essays" in err


def test_the_help_and_the_readme_name_every_command(capsys):
    """Every command is in the README's command list, and `graph --help`'s line names every graph command."""
    import re
    from pathlib import Path

    from looplab.cli import COMMANDS, _parser

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert {c for c in COMMANDS if not re.search(rf"^looplab {c}\b", readme, re.M)} == set()
    graph = next(a for a in _parser()._subparsers._group_actions[0].choices["graph"]._actions
                 if a.dest == "graph_command")
    for name in graph.choices:
        assert re.search(rf"^looplab graph {name}\b", readme, re.M), name
    with pytest.raises(SystemExit):
        main(["--help"])
    top = " ".join(capsys.readouterr().out.split())
    assert all(name in top for name in graph.choices)  # graph's one-line help lists them all


def test_a_flag_is_never_taken_for_a_longer_one(tmp_path, capsys):
    """`solve --policy single` is not --policy-config (which would read a file named "single")."""
    with pytest.raises(SystemExit) as stopped:
        main(["solve", "--policy", "single", "--run-dir", str(tmp_path / "run")])
    assert stopped.value.code == 2 and "unrecognized arguments: --policy single" in capsys.readouterr().err
