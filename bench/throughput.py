"""Throughput of the solve engine against a model server that answers many requests at once.

1. A loopback stand-in for an OpenAI-compatible server (its own process) answers every request after a
   fixed latency, with no limit on parallelism. The engine runs one request per task (math tasks, each
   recorded, checked and scored as in any run), at 1, 8, 64 and 256 requests in flight. Baselines measured in the same run: the ideal (in flight / latency) and a bare aiohttp client
   sending the same requests with nothing recorded. Also: the harness's CPU seconds per 1,000 requests
   (this process only; the server runs in another), and what that costs at 100 requests per second.
2. The same with the sandbox in the loop: HumanEval tasks whose reply is a program, checked in the
   sandbox pool and scored on the hidden tests (two programs per task), against the pool's capacity
   measured by running the same programs through the pool directly.
3. The embedded model (skipped with --tiny or --no-embedded): the share of a solve run's wall time the
   model spends generating, with programs checked while it generates the next reply.

Targets (issue 12): >= 90% of ideal at 64 in flight, >= 80% at 256, harness CPU <= 5% of one core at
100 requests/s, embedded model busy >= 95%.
"""
import asyncio
import itertools
import json
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import aiohttp

from looplab.models import Budget, OpenAIModel
from looplab.runs import RunStore
from looplab.sandbox import Sandbox
from looplab.solve import PolicyConfig, run_policies, solve_tasks
from looplab.tasks import Problem, load_tasks

LATENCY = 0.2
REPLY = "Answer: 42"
PROGRAM_REPLY = "```python\ndef {entry}(*args):\n    return None\n```"


# --- the stand-in server -------------------------------------------------------------------------------

def serve(sock: socket.socket, latency: float) -> None:
    """HTTP/1.1 with keep-alive, just enough of it: GET answers the model list, POST a chat completion."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await reader.readuntil(b"\r\n\r\n")
                head = request.decode("latin-1").lower()
                length = int(head.split("content-length:")[1].split("\r\n")[0]) if "content-length:" in head else 0
                body = json.loads(await reader.readexactly(length)) if length else {}
                if head.startswith("get"):
                    payload = {"data": [{"id": "stand-in"}]}
                else:
                    await asyncio.sleep(latency)
                    user = body["messages"][-1]["content"]
                    text = PROGRAM_REPLY.format(entry=user.split("def ", 1)[1].split("(", 1)[0]) if "def " in user \
                        else REPLY
                    # every field of a chat completion, so any OpenAI client reads it (bench/peers.py's too)
                    payload = {"id": "stand-in", "object": "chat.completion", "created": 0, "model": "stand-in",
                               "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                            "finish_reason": "stop"}],
                               "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}}
                data = json.dumps(payload).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(data)).encode() + b"\r\n\r\n" + data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, sock=sock, backlog=1024)
        await server.serve_forever()
    asyncio.run(main())


def start_server(latency: float) -> tuple[multiprocessing.Process, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    process = multiprocessing.get_context("fork").Process(target=serve, args=(sock, latency), daemon=True)
    process.start()
    port = sock.getsockname()[1]
    sock.close()
    return process, f"http://127.0.0.1:{port}/v1"


# --- measurements --------------------------------------------------------------------------------------

def bare_client(url: str, in_flight: int, requests: int) -> float:
    """Requests per second of a bare aiohttp client (the engine's HTTP client), `in_flight` at a time."""
    async def run() -> float:
        body = {"model": "stand-in", "messages": [{"role": "user", "content": "What is 6 x 7?"}], "max_tokens": 64}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            slots = asyncio.Semaphore(in_flight)

            async def one() -> None:
                async with slots, http.post(f"{url}/chat/completions", json=body) as response:
                    response.raise_for_status()
                    await response.read()
            start = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(requests)))
            return requests / (time.perf_counter() - start)
    return asyncio.run(run())


def engine(url: str, in_flight: int, tasks: int, family, problems) -> tuple[float, float, int, float]:
    """Requests per second of the engine, its CPU seconds per 1,000 requests, the requests made, and the slowest
    call's time over the server's latency (a stall shows here)."""
    model = OpenAIModel("stand-in", url)
    # As many tasks as asked for, cycling through the generated problems under ids of their own.
    chosen = [Problem(replace(p.task, id=f"{p.task.id}#{i}"), p.hidden)
              for i, p in zip(range(tasks), itertools.cycle(problems))]
    with tempfile.TemporaryDirectory() as tmp, RunStore(Path(tmp) / "run") as store:
        cpu, start = time.process_time(), time.perf_counter()
        solve_tasks(chosen, family, PolicyConfig("single"), model=model, store=store, max_connections=in_flight)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        calls = store.calls()
    return len(calls) / wall, 1000 * cpu / len(calls), len(calls), max(c.latency for c in calls) - LATENCY


def scorer_capacity(family, problems, scores: int) -> float:
    """Hidden scores per second the family's sandboxed scorers give, asked from as many threads as the engine's
    executor has."""
    with ThreadPoolExecutor(min(32, (os.cpu_count() or 1) + 4)) as threads:
        start = time.perf_counter()
        answer = family.extract(problems[0].task, REPLY)  # what the engine scores: the answer read from the reply
        list(threads.map(lambda i: family.score(problems[i % len(problems)], answer), range(scores)))
        return scores / (time.perf_counter() - start)


def with_sandbox(url: str, in_flight: int, tasks: int, pool: int) -> tuple[float, float]:
    """Tasks per second of single over HumanEval with the sandbox in the loop, and the pool's capacity in
    tasks per second (two programs a task: the visible check and the hidden score)."""
    sandbox = Sandbox(pool=pool)
    family, problems = load_tasks("humaneval", sandbox, limit=tasks)
    program = family.checks.program(problems[0].task, PROGRAM_REPLY.format(entry=problems[0].task.entry_point)[10:-4],
                                    problems[0].task.examples)
    sandbox.run(program)  # start the pool's first sandboxes
    runs = 4 * pool
    with ThreadPoolExecutor(pool) as threads:
        start = time.perf_counter()
        list(threads.map(lambda _: sandbox.run(program), range(runs)))
        capacity = runs / (time.perf_counter() - start) / 2
    with tempfile.TemporaryDirectory() as tmp, RunStore(Path(tmp) / "run") as store:
        start = time.perf_counter()
        run_policies(problems, family, [PolicyConfig("single")], model=OpenAIModel("stand-in", url), store=store,
                     max_connections=in_flight)
        rate = len(problems) / (time.perf_counter() - start)
    sandbox.close()
    return rate, capacity


def embedded_busy_share(tasks: int) -> tuple[float, float]:
    """The share of a solve run's wall time the embedded model spends generating, and the wall time."""
    from looplab.models import load_model

    model = load_model("local")
    family, problems = load_tasks("humaneval", Sandbox(pool=os.cpu_count() or 1), limit=tasks)
    with tempfile.TemporaryDirectory() as tmp, RunStore(Path(tmp) / "run") as store:
        start = time.perf_counter()
        run_policies(problems, family, [PolicyConfig("resample", rounds=2)], model=model, store=store,
                     task_budget=Budget(tokens=1500))
        wall = time.perf_counter() - start
    return model.busy_seconds / wall, wall


def main(tiny: bool, embedded: bool) -> None:
    process, url = start_server(LATENCY)
    family, problems = load_tasks("math", Sandbox(pool=os.cpu_count() or 1))  # the hidden scorer runs in the sandbox
    levels = [1, 8] if tiny else [1, 8, 64, 256]
    waves = 2 if tiny else 10  # how many times over each level's in-flight count is sent
    print(f"stand-in server: {LATENCY * 1000:.0f} ms per request, unlimited parallelism; one request per task")
    engine(url, 1, 2, family, problems)  # warm: the first connection, the scorers' start
    ceiling = scorer_capacity(family, problems, 60 if tiny else 600)
    print(f"every task's answer is scored by math's hidden scorer in the sandbox: {ceiling:.0f} scores/s with this "
          "pool, a ceiling the bare client (which scores nothing) does not have")
    print(f"{'in flight':>9} {'ideal req/s':>12} {'bare client':>11} {'engine':>9} {'engine/ideal':>13} "
          f"{'engine/limit':>13} {'bare/ideal':>11} {'engine/bare':>12} {'CPU s/1k req':>13} {'slowest +ms':>12}")
    for level in levels:
        requests = level * waves
        ideal = level / LATENCY
        bare = bare_client(url, level, requests)
        rate, cpu, made, slowest = engine(url, level, requests, family, problems)
        print(f"{level:>9} {ideal:>12.0f} {bare:>11.1f} {rate:>9.1f} {rate / ideal:>12.2f}x "
              f"{rate / min(ideal, ceiling):>12.2f}x {bare / ideal:>10.2f}x {rate / bare:>11.2f}x {cpu:>13.2f} "
              f"{slowest * 1000:>12.0f}")
    print("engine/limit: against the lower of the ideal and the scorer's ceiling; slowest +ms: the slowest call's "
          "time over the server's latency")
    # Paced: 20 in flight at 200 ms is 100 requests/s; the CPU this process spends over the wall time.
    paced = 20
    requests = paced * (2 if tiny else 25)
    rate, cpu, made, _ = engine(url, paced, requests, family, problems)
    print(f"harness CPU at {rate:.0f} requests/s: {100 * cpu * rate / 1000:.1f}% of one core "
          f"({cpu:.2f} s per 1,000 requests over {made} requests; target <= 5% at 100 requests/s)")

    pool = os.cpu_count() or 1
    rate, capacity = with_sandbox(url, 4 if tiny else 64, 6 if tiny else 60, pool)
    print(f"sandbox in the loop ({pool} sandboxes, single over HumanEval): {rate:.1f} tasks/s against the pool's "
          f"capacity of {capacity:.1f} tasks/s: {rate / capacity:.2f}x")
    process.terminate()

    if embedded:
        share, wall = embedded_busy_share(6)
        print(f"embedded model: generating {100 * share:.1f}% of a {wall:.0f} s resample run over 6 HumanEval "
              f"tasks ({share:.2f}x of the wall time; target >= 0.95x)")


if __name__ == "__main__":
    tiny = "--tiny" in sys.argv  # --tiny: a quick run that only checks the script works
    main(tiny, embedded=not tiny and "--no-embedded" not in sys.argv)
