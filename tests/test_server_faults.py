"""A fault-injecting OpenAI-compatible server: every malformed or misbehaving reply becomes a recorded
outcome (an answer, an error for that task, or a server found unavailable), never a traceback, and
budgets hold when the server does not count tokens."""
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from solve_fakes import RIGHT, problems

from looplab.cli import main
from looplab.models import MAX_CHARS_PER_TOKEN, Budget, OpenAIModel, Timeouts
from looplab.runs import RunStore
from looplab.solve import PolicyConfig, solve_tasks
from looplab.tasks import CodeFamily

GOOD = {"choices": [{"message": {"role": "assistant", "content": RIGHT}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 20}}


def with_usage(usage):
    return {**GOOD, "usage": usage}


def with_content(content):
    return {**GOOD, "choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]}


# name -> (what the server does, the task's expected outcome status: done | error | unavailable)
FAULTS = {
    "usage missing": ({k: v for k, v in GOOD.items() if k != "usage"}, "done"),
    "usage null": (with_usage(None), "done"),
    "usage a list": (with_usage([1, 2]), "done"),
    "usage counts as strings": (with_usage({"prompt_tokens": "50", "completion_tokens": "20"}), "done"),
    "usage negative": (with_usage({"prompt_tokens": -5, "completion_tokens": -1}), "done"),
    "usage as floats": (with_usage({"prompt_tokens": 50.0, "completion_tokens": 20.0}), "done"),
    "usage as booleans": (with_usage({"prompt_tokens": True, "completion_tokens": False}), "done"),
    "usage absurdly large": (with_usage({"prompt_tokens": 10 ** 12, "completion_tokens": 5}), "done"),
    "content as a list of parts": (with_content([{"type": "text", "text": RIGHT}]), "done"),
    "content a number": (with_content(42), "error"),
    "content null": (with_content(None), "done"),
    "content a dict": (with_content({"text": RIGHT}), "error"),
    "content with rich markup": (with_content("[/bold][red]x" + RIGHT), "done"),
    "content with a lone surrogate": ('{"choices": [{"message": {"content": "\\ud800' + json.dumps(RIGHT)[1:-1]
                                      + '"}, "finish_reason": "stop"}]}', "done"),
    "content with control characters": (with_content("\x1b[31m\x00\x07" + RIGHT), "done"),
    "choices empty": ({"choices": []}, "error"),
    "choices missing": ({"id": "x"}, "error"),
    "choices null": ({"choices": None}, "error"),
    "message missing": ({"choices": [{"finish_reason": "stop"}]}, "error"),
    "finish_reason a number": ({"choices": [{"message": {"content": RIGHT}, "finish_reason": 3}]}, "done"),
    "body not JSON": ("this is not json", "error"),
    "body a JSON list": ("[1, 2, 3]", "error"),
    "body empty": ("", "error"),
    "body invalid UTF-8": (b"\xff\xfe{", "error"),
    "an HTML page with status 200": ("<html><body>Bad gateway</body></html>", "error"),
    "HTTP 400": (400, "error"),
    "HTTP 401": (401, "error"),
    "HTTP 404": (404, "error"),
    "HTTP 413": (413, "error"),
    "HTTP 429 with Retry-After, then fine": ("429-once", "done"),
    "HTTP 503 once, then fine": ("503-once", "done"),
    "HTTP 500 always": (500, "unavailable"),
    "connection dropped once, then fine": ("drop-once", "done"),
    "connection dropped always": ("drop", "unavailable"),
    "never answers": ("hang", "unavailable"),
    "body shorter than its Content-Length": ("short", "unavailable"),
}


class FaultServer:
    def __init__(self, fault):
        self.fault, self.requests = fault, 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self._send(200, b'{"data": []}')

            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                server.requests += 1
                fault = server.fault
                if fault in ("429-once", "503-once"):
                    if server.requests == 1:
                        return self._send(int(fault[:3]), b'{"error": "busy"}', {"Retry-After": "0"})
                    fault = GOOD
                if fault in ("drop", "drop-once"):
                    if fault == "drop" or server.requests == 1:
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    fault = GOOD
                if fault == "hang":
                    time.sleep(3)
                    return
                if fault == "short":
                    self.send_response(200)
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    self.wfile.write(b'{"choices": [')
                    return
                if isinstance(fault, int):
                    return self._send(fault, b'{"error": "injected"}')
                body = fault if isinstance(fault, bytes) else (fault if isinstance(fault, str) else json.dumps(fault)).encode()
                self._send(200, body)

            def _send(self, status, body, headers=None):
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize("name", list(FAULTS))
def test_a_server_fault_becomes_a_recorded_outcome(tmp_path, sandbox, name):
    fault, expected = FAULTS[name]
    server = FaultServer(fault)
    model = OpenAIModel("m", server.url, max_retries=2, backoff=0.01, timeouts=Timeouts(connect=2, read=1, call=4))
    try:
        with RunStore(tmp_path / "run") as store:
            report = solve_tasks(problems(), CodeFamily(sandbox), PolicyConfig("single"), model=model, store=store)
            outcomes = store.outcomes("single")
            calls = store.calls("single", "add/0")
    finally:
        server.close()
    if expected == "unavailable":
        assert report.outcomes[0].status == "unavailable" and outcomes == {}
        return
    assert outcomes["add/0"].status == expected
    if expected == "done":
        call = calls[0]
        assert call.prompt_tokens > 0 and 0 <= call.completion_tokens < 10 ** 9
        assert "\ud800" not in call.response


def sample_under_a_budget(tmp_path, sandbox, reply) -> tuple[dict, list[dict], int]:
    """best-of-n under a 1,500-token budget against a server that always sends `reply`: the task's outcome, its
    calls, and how many requests the server got."""
    server = FaultServer(reply)
    model = OpenAIModel("m", server.url, max_retries=0)
    try:
        with RunStore(tmp_path / "run") as store:
            solve_tasks(problems(), CodeFamily(sandbox), PolicyConfig("best-of-n", n=40), model=model, store=store,
                        task_budget=Budget(tokens=1500))
            return store.outcomes("best-of-n(n=40)")["add/0"], store.calls("best-of-n(n=40)", "add/0"), server.requests
    finally:
        server.close()


def test_a_budget_holds_when_the_server_counts_no_tokens(tmp_path, sandbox):
    reply = {"choices": [{"message": {"content": "no code here"}, "finish_reason": "stop"}]}
    outcome, calls, requests = sample_under_a_budget(tmp_path, sandbox, reply)
    assert outcome.tokens <= 1500 and len(calls) == requests
    assert all(c.params["usage_estimated"] for c in calls)
    assert len(calls) < 15  # charged by the estimate, not for free


LONG = "word " * 280  # estimated at 701 tokens without usage: more than the second call under 1,500 may ask for


@pytest.mark.parametrize("reply", [
    {"choices": [{"message": {"content": LONG}, "finish_reason": "stop"}]},                      # no usage
    {"choices": [{"message": {"content": LONG}, "finish_reason": "stop"}], "usage": None},
    {"choices": [{"message": {"content": LONG}, "finish_reason": "stop"}], "usage": [1, 2]},
    {"choices": [{"message": {"content": "x " * 90_000}, "finish_reason": "stop"}],             # ignores max_tokens
     "usage": {"prompt_tokens": 50, "completion_tokens": 180_000}},
    {"choices": [{"message": {"content": " " * 500_000 + "x"}, "finish_reason": "stop"}],       # counts no spaces
     "usage": {"prompt_tokens": 50, "completion_tokens": 1}},
], ids=["usage missing", "usage null", "usage a list", "max_tokens ignored", "whitespace uncounted"])
def test_no_call_is_charged_more_than_it_reserved_whatever_the_server_sends(tmp_path, sandbox, reply):
    outcome, calls, _ = sample_under_a_budget(tmp_path, sandbox, reply)
    assert outcome.tokens <= 1500 and outcome.status == "done"
    for call in calls:
        allowed = call.params["max_tokens"]
        assert call.completion_tokens <= allowed and len(call.response) <= allowed * MAX_CHARS_PER_TOKEN
    over = [c for c in calls if "over_limit" in c.params]
    assert over and all(c.finish_reason == "length" for c in over if len(c.response) < 1000)


def test_a_wrong_port_fails_in_seconds_with_one_sentence(tmp_path, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    start = time.monotonic()
    code = main(["solve", "--ids", "0", "--model", "openai:m", "--base-url", f"http://127.0.0.1:{port}/v1",
                 "--run-dir", str(tmp_path / "run")])
    assert code == 2 and time.monotonic() - start < 10
    err = capsys.readouterr().err
    assert "no server answers" in err and "--base-url" in err and "Traceback" not in err


def test_server_text_is_never_read_as_terminal_markup(tmp_path, capsys):
    server = FaultServer(401)
    server.fault = "[/bold] unbalanced [red]markup"
    try:
        code = main(["solve", "--ids", "0", "--model", "openai:m", "--base-url", server.url,
                     "--run-dir", str(tmp_path / "run")])
    finally:
        server.close()
    assert code == 1  # the task ended in an error (a malformed reply), recorded; the run says so
    err = capsys.readouterr().err
    assert "malformed reply" in err and "[/bold]" in err
