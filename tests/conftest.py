from __future__ import annotations

import json
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from looplab.sandbox import Sandbox


@pytest.fixture(scope="session")
def sandbox() -> Sandbox:
    # A pool, as the command line makes one: every sandbox test also runs through the pool.
    return Sandbox(pool=2)


class ChatServer:
    """A real OpenAI-compatible HTTP server on 127.0.0.1 whose replies come from a function.

    `fail_next` holds HTTP status codes to answer before replying normally (to test retries);
    `delay` slows every reply (to kill a client mid-run); `jitter` adds a random delay up to that many
    seconds to each, so replies return in another order than they were asked. `top_logprobs` (token ->
    log-probability) is what a request that asks for log-probabilities gets for its first token.
    """

    def __init__(self, reply):
        self.reply = reply
        self.requests: list[dict] = []
        self.fail_next: list[int] = []
        self.delay = 0.0
        self.jitter = 0.0
        self.top_logprobs: dict[str, float] | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self._send(200, {"data": [{"id": "test-model"}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if server.fail_next:
                    self._send(server.fail_next.pop(0), {"error": "injected failure"})
                    return
                server.requests.append(body)  # counted on arrival, so a request in flight is counted too
                if server.delay or server.jitter:
                    threading.Event().wait(server.delay + random.uniform(0, server.jitter))
                text = server.reply(body["messages"])
                prompt = sum(len(m["content"].split()) for m in body["messages"])
                choice = {"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                if body.get("logprobs") and server.top_logprobs is not None:
                    top = [{"token": t, "logprob": lp} for t, lp in server.top_logprobs.items()]
                    choice["logprobs"] = {"content": [{**top[0], "top_logprobs": top}]}
                self._send(200, {"choices": [choice],
                                 "usage": {"prompt_tokens": prompt, "completion_tokens": len(text.split())}})

            def _send(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def chat_server():
    return ChatServer


@pytest.fixture
def run(tmp_path, sandbox):
    """Runs a policy over tasks in a fresh run store: (report, calls, outcomes, steps)."""
    from solve_fakes import solve

    def runner(config, model, **kwargs):
        return solve(tmp_path, config, model, sandbox=sandbox, **kwargs)
    return runner
