"""Sandbox cost: running a program in looplab's sandbox vs a bare `python -c pass` subprocess.

Both are measured here, interleaved, so the ratio holds on any machine. Target: at most 1.5x.

The sandbox starts the next sandbox while a program runs, so its cost depends on the pace:
- back to back: one run right after another (only a bare run in between), the worst case;
- paced: a short pause before each run, as in a solve loop, where the model thinks for seconds
  between two programs.
"""
import statistics
import subprocess
import sys
import time

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


def main(rounds: int = ROUNDS) -> None:
    for label, pause in (("back to back", 0.0), (f"paced ({PAUSE * 1000:.0f} ms pause)", PAUSE)):
        b, s = measure(pause, rounds)
        print(f"{label}:")
        print(f"  bare python -c pass : {b * 1000:7.1f} ms (median of {rounds})")
        print(f"  sandbox.run('pass') : {s * 1000:7.1f} ms (bubblewrap, fresh sandbox per run)")
        print(f"  ratio               : {s / b:7.2f}x  (target <= 1.5x)")


if __name__ == "__main__":
    main(3 if "--tiny" in sys.argv else ROUNDS)  # --tiny: a quick run that only checks the script works
