"""Sandbox cost: running a program in looplab's sandbox vs a bare `python -c pass` subprocess.

Both are measured here, interleaved, so the ratio holds on any machine. Target: at most 1.5x.
"""
import statistics
import subprocess
import sys
import time

from looplab.sandbox import Sandbox

ROUNDS = 60


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    sandbox = Sandbox()
    bare = lambda: subprocess.run([sys.executable, "-c", "pass"], check=True)  # noqa: E731
    boxed = lambda: sandbox.run("pass")  # noqa: E731
    bare(), boxed()  # warm the page cache
    bare_times, boxed_times = [], []
    for _ in range(ROUNDS):
        bare_times.append(timed(bare))
        boxed_times.append(timed(boxed))
    b, s = statistics.median(bare_times), statistics.median(boxed_times)
    print(f"bare python -c pass : {b * 1000:7.1f} ms (median of {ROUNDS})")
    print(f"sandbox.run('pass') : {s * 1000:7.1f} ms ({sandbox.isolation})")
    print(f"ratio               : {s / b:7.2f}x  (target <= 1.5x)")


if __name__ == "__main__":
    main()
