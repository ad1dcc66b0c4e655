"""What the trust boundary costs: scoring a SQL query in a worker process and a math answer in the sandbox,
against the same work done in looplab's own process (as it was before; nothing a model wrote may run there
now). Both sides run here, interleaved, on the same queries and answers, so the ratio holds on any machine.

- SQL: the 30 gold queries of the shop domain on its hidden database: `QueryRunner.run` (a worker process,
  killed past its limit) against a bare read-only `sqlite3` connection in this process.
- Math: the reference answers of the default generators: `MathFamily.score` (a sandbox service that scores
  each answer in a forked process, behind an audit hook) against calling reasoning-gym's `score_answer`
  here. The service's start (importing reasoning-gym in the sandbox) is reported apart: it is paid once
  per scorer, not per answer.
"""
import sqlite3
import statistics
import sys
import time

from looplab.sandbox import Sandbox
from looplab.tasks import QueryRunner, load_tasks


def bare_query(database, sql):
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def sql_cost(rounds: int) -> tuple[float, float]:
    _, problems = load_tasks("sql:shop", None)
    runner = QueryRunner()
    runner.run(problems[0].hidden.database, "SELECT 1")  # start the first worker
    bare, isolated = [], []
    for _ in range(rounds):
        for problem in problems:
            database, gold = problem.hidden.database, problem.hidden.gold
            bare.append(timed(lambda: bare_query(database, gold)))
            isolated.append(timed(lambda: runner.run(database, gold)))
    runner.close()
    return statistics.median(bare), statistics.median(isolated)


def math_cost(answers: int) -> tuple[float, float, float]:
    import reasoning_gym

    family, problems = load_tasks("math", Sandbox(), limit=answers)
    datasets = {}
    start = time.perf_counter()
    family.score(problems[0], problems[0].hidden.entry["answer"])  # starts the service
    startup = time.perf_counter() - start
    bare, isolated = [], []
    for problem in problems:
        hidden = problem.hidden
        dataset = datasets.setdefault(hidden.generator, reasoning_gym.create_dataset(hidden.generator, seed=1,
                                                                                     size=hidden.size))
        answer = str(hidden.entry["answer"])
        bare.append(timed(lambda: dataset.score_answer(answer, hidden.entry)))
        isolated.append(timed(lambda: family.score(problem, answer)))
    return statistics.median(bare), statistics.median(isolated), startup


def main(tiny: bool) -> None:
    bare, isolated = sql_cost(1 if tiny else 5)
    print(f"SQL query (shop gold queries, hidden database): in process {bare * 1000:.2f} ms, in a worker "
          f"process {isolated * 1000:.2f} ms per query: {isolated / bare:.1f}x")
    bare, isolated, startup = math_cost(6 if tiny else 150)
    print(f"math answer (default generators): in process {bare * 1000:.3f} ms, in the sandbox {isolated * 1000:.1f} ms "
          f"per answer: {isolated / bare:.0f}x (and {startup:.1f} s once, to start the scorer)")


if __name__ == "__main__":
    main("--tiny" in sys.argv)  # --tiny: a quick run that only checks the script works
