"""looplab beside inspect_ai, the evaluation harness its users would otherwise pick: the same math questions
sent by each whole command (`looplab solve`, `inspect eval`) to the same loopback stand-in for an
OpenAI-compatible server (bench/throughput.py's, 200 ms a request, unlimited parallelism), at several
connection limits, interleaved. Printed per level: each command's wall time, requests per second against the
ideal (limit / latency), and its CPU seconds per 1,000 requests (the command's own process and children; the
server runs apart). Both send one request per question and score it: looplab with math's generator scorer in
the sandbox, inspect_ai with its `match` scorer in process.

inspect_ai is not one of looplab's dependencies: give an interpreter that has it (`--inspect-python PATH`,
e.g. a venv with `pip install inspect_ai openai`), or the one running this script when it has it; without
either, only looplab's side is measured.

    python bench/peers.py [--questions 300] [--levels 16,64,256] [--inspect-python PATH] [--tiny]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from throughput import LATENCY, start_server

from looplab.tasks import load_tasks

HERE = Path(__file__).resolve().parent
LOOPLAB = Path(sys.executable).with_name("looplab")
INSPECT_TASK = '''
from inspect_ai import Task, task
from inspect_ai.dataset import json_dataset
from inspect_ai.scorer import match
from inspect_ai.solver import generate


@task
def questions():
    return Task(dataset=json_dataset({path!r}), solver=generate(), scorer=match(numeric=True))
'''


def timed(command: list[str], env: dict, cwd: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user and system, the command and its children) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=cwd)
    wall = time.perf_counter() - start
    if done.returncode != 0 or "Traceback" in done.stderr:
        raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr[-1500:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def has_inspect(python: str) -> bool:
    return subprocess.run([python, "-c", "import inspect_ai, openai"], capture_output=True).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=300, help="math questions (the family holds 300)")
    parser.add_argument("--levels", default="16,64,256")
    parser.add_argument("--inspect-python", default=sys.executable)
    parser.add_argument("--tiny", action="store_true", help="a quick run that only checks the script works")
    args = parser.parse_args()
    questions = 20 if args.tiny else args.questions
    levels = [4] if args.tiny else [int(x) for x in args.levels.split(",")]
    inspect = has_inspect(args.inspect_python)

    process, url = start_server(LATENCY)
    tmp = Path(tempfile.mkdtemp())
    family, problems = load_tasks("math", None, limit=questions)
    rows = [{"input": family.describe(p.task), "target": family.reference(p)} for p in problems]
    (tmp / "questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp / "inspect_task.py").write_text(INSPECT_TASK.format(path=str(tmp / "questions.jsonl")))
    env = {**os.environ, "STANDIN_API_KEY": "stand-in", "STANDIN_BASE_URL": url, "LOOPLAB_THREADS": "1"}

    print(f"{len(problems)} math questions, stand-in server {LATENCY * 1000:.0f} ms a request; each figure is a "
          "whole command, start-up included")
    if not inspect:
        print(f"inspect_ai is not importable by {args.inspect_python}: looplab's side only (see --inspect-python)")
    print(f"{'limit':>6} {'tool':>10} {'wall s':>8} {'req/s':>8} {'of ideal':>9} {'CPU s/1k req':>13}")
    ratios = []
    for level in levels:
        ideal = level / LATENCY
        run_dir = tmp / f"looplab-{level}"
        looplab = [str(LOOPLAB), "solve", "--tasks", "math", "--limit", str(len(problems)), "--strategy", "single",
                   "--model", "openai:stand-in", "--base-url", url, "--max-connections", str(level), "-q",
                   "--run-dir", str(run_dir)]
        inspect_cmd = [args.inspect_python, "-m", "inspect_ai", "eval", "inspect_task.py",  # a relative path
                       # openai-api: the chat-completions protocol of any OpenAI-compatible server (inspect's
                       # "openai" provider speaks OpenAI's Responses API)
                       "--model", "openai-api/standin/stand-in", "--max-connections", str(level),
                       "--log-dir", str(tmp / f"inspect-{level}"), "--display", "none", "--no-log-samples"]
        results = {}
        for tool, command in (("looplab", looplab), ("inspect_ai", inspect_cmd)):
            if tool == "inspect_ai" and not inspect:
                continue
            wall, cpu = timed(command, env, tmp)
            results[tool] = (wall, cpu)
            rate = len(problems) / wall
            print(f"{level:>6} {tool:>10} {wall:>8.1f} {rate:>8.1f} {rate / ideal:>8.2f}x "
                  f"{1000 * cpu / len(problems):>13.1f}")
        if len(results) == 2:
            ratios.append(results["inspect_ai"][1] / results["looplab"][1])
            print(f"{'':>6} {'':>10} inspect_ai / looplab: wall {results['inspect_ai'][0] / results['looplab'][0]:.2f}x, "
                  f"CPU {ratios[-1]:.2f}x")
    process.terminate()
    if not ratios:
        print("(no inspect_ai to compare with: 1.00x)")


if __name__ == "__main__":
    main()
