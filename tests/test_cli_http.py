"""The command line end to end, against a real OpenAI-compatible HTTP server on 127.0.0.1."""
import json
import os
import signal
import subprocess
import sys
import time

from looplab.cli import main
from looplab.runs import RunError, RunStore
from looplab.tasks import load_tasks

REFERENCE = {p.task.id: p.task.prompt + p.hidden.reference for p in load_tasks("humaneval", None, ids=['0', '2'])[1]}


def solution_server_reply(messages):
    """Answers HumanEval prompts: wrong first, right once feedback names a failing example."""
    prompt = messages[1]["content"]
    for task_id, name in (("HumanEval/0", "has_close_elements"), ("HumanEval/2", "truncate_number")):
        if f"def {name}(" in prompt:
            if "should return" in messages[-1]["content"]:
                return f"```python\n{REFERENCE[task_id]}\n```"
            return f"```python\ndef {name}(*args):\n    return 0\n```"
    return "I cannot help with that."


def test_solve_through_an_openai_compatible_server(chat_server, tmp_path, capsys):
    with chat_server(solution_server_reply) as server:
        server.fail_next = [503]  # a transient error on the way, retried
        code = main(["solve", "--ids", "0,2", "--strategy", "refine", "--rounds", "2", "--model", "openai:test",
                     "--base-url", server.url, "--run-dir", str(tmp_path / "run")])
    assert code == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    result = summary["policies"]["refine(k=2)"]
    assert result["tasks"] == 2 and result["pass_at_1"] == 1.0 and result["calls"] == 4
    assert summary["model"] == "openai:test" and summary["sandbox"] == "bubblewrap"
    assert len(server.requests) == 4 and server.requests[0]["model"] == "test"
    # the two tasks run side by side, so their requests interleave
    assert any("truncate_number(3.5) should return 0.5, but returned 0" in r["messages"][-1]["content"]
               for r in server.requests)


def test_kill_9_then_rerun_resumes_without_repeating_calls(chat_server, tmp_path):
    run_dir = tmp_path / "run"
    # One request in flight at a time (the two tasks still run side by side), so a kill loses at most one call.
    command = [sys.executable, "-m", "looplab.cli", "solve", "--ids", "0,2", "--strategy", "refine", "--rounds", "3",
               "--model", "openai:test", "--max-connections", "1", "--run-dir", str(run_dir)]
    with chat_server(lambda messages: "```python\ndef nothing():\n    pass\n```") as server:
        server.delay = 0.3
        env = {**os.environ, "OPENAI_BASE_URL": server.url}
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.1)
            try:
                with RunStore(run_dir, read_only=True) as store:
                    if len(store.calls()) >= 5:
                        break
            except RunError:
                pass  # the database is not created yet
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with RunStore(run_dir, read_only=True) as store:
            recorded_before = len(store.calls())
        requests_before = len(server.requests)
        assert 5 <= recorded_before < 8 and requests_before - recorded_before <= 1  # at most the call in flight
        server.delay = 0
        subprocess.run(command, env=env, check=True, capture_output=True)
        with RunStore(run_dir, read_only=True) as store:
            calls = len(store.calls())
            [(policy, _)] = store.policies()
            outcomes = sorted((o.task_id, o.calls) for o in store.outcomes(policy).values())
            steps = len(store.steps(policy))
    assert outcomes == [("HumanEval/0", 4), ("HumanEval/2", 4)]
    assert calls == 8 and steps == 8
    assert len(server.requests) - requests_before == 8 - recorded_before  # nothing finished was asked again


def test_exec_prints_the_result_as_json(tmp_path, capsys):
    program = tmp_path / "prog.py"
    program.write_text("print('hi')\nraise SystemExit(3)\n")
    assert main(["exec", str(program), "--timeout", "5"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["kind"] == "error" and result["exit_code"] == 3 and result["stdout"] == "hi\n"


def test_user_errors_end_in_one_clear_sentence(tmp_path, capsys):
    assert main(["solve", "--ids", "999", "--run-dir", str(tmp_path / "r"), "--model", "scripted:x.json"]) == 2
    assert "task id '999' is unknown" in capsys.readouterr().err
    assert main(["exec", str(tmp_path / "missing.py")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_a_second_process_on_the_same_run_dir_is_refused(tmp_path, capsys):
    from looplab.runs import RunStore

    replies = tmp_path / "r.json"
    replies.write_text('["x"]')
    with RunStore(tmp_path / "run"):
        assert main(["solve", "--ids", "0", "--model", f"scripted:{replies}", "--run-dir", str(tmp_path / "run")]) == 2
    assert "another looplab process" in capsys.readouterr().err


def test_models_lists_backends(capsys):
    assert main(["models", "--no-check"]) == 0
    out = capsys.readouterr().out
    assert "local:smollm2" in out and "openai:NAME" in out


def test_grow_stops_with_exit_1_when_the_server_fails_mid_run(tmp_path, chat_server, capsys):
    """The README's exit status for an unreachable server mid-run is 1 (the record keeps what was done)."""
    with chat_server(lambda messages: "unused") as server:
        server.fail_next = [500] * 1000
        argv = ["grow", "What is silk?", "--iterations", "2", "--model", "openai:m", "--base-url", server.url,
                "--call-timeout", "1", "--run-dir", str(tmp_path / "run")]
        assert main(argv) == 1
    assert "stopped" in capsys.readouterr().err


def test_model_arguments_go_with_every_request_and_are_part_of_the_runs_identity(tmp_path, chat_server, capsys):
    with chat_server(solution_server_reply) as server:
        run = ["solve", "--ids", "2", "--model", "openai:m",
               "--base-url", server.url, "--run-dir", str(tmp_path / "run")]
        assert main(run + ["-M", "repeat_penalty=1.0", "--model-args", '{"top_k": 40}']) == 0
        assert all(r["repeat_penalty"] == 1.0 and r["top_k"] == 40 for r in server.requests)
        with RunStore(tmp_path / "run", read_only=True) as store:
            assert store.meta("model") == "openai:m[repeat_penalty=1.0,top_k=40]"
        capsys.readouterr()
        assert main(run + ["-M", "repeat_penalty=1.1"]) == 2  # other arguments: another model's record
        assert "model" in capsys.readouterr().err
    for bad in (["-M", "temperature=0.5"], ["-M", "no-equals-sign"], ["--model-args", "[1]"]):
        assert main(["solve", "--model", "openai:m", "--base-url", "http://127.0.0.1:9/v1", *bad,
                     "--run-dir", str(tmp_path / "bad")]) == 2
    assert main(["solve", "--model", "local", "-M", "no_such_setting=1", "--run-dir", str(tmp_path / "bad")]) == 2
    assert not (tmp_path / "bad").exists()
