"""The real embedded model (Qwen2.5-Coder-0.5B on llama.cpp) solving an easy task end to end."""
import json

import pytest

from looplab.cli import main


@pytest.mark.slow
def test_embedded_model_solves_an_easy_task(tmp_path):
    run_dir = tmp_path / "run"
    assert main(["solve", "--ids", "23", "--strategy", "refine", "--run-dir", str(run_dir)]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    result = summary["policies"]["refine(k=3)"]
    assert summary["model"] == "local:qwen2.5-coder-0.5b-instruct-q4_k_m"
    assert result["tasks"] == 1 and result["pass_at_1"] == 1.0
    assert result["tokens"] > 0 and result["calls"] >= 1


@pytest.mark.slow
def test_embedded_model_writes_sql_that_runs_on_the_shipped_database(tmp_path):
    run_dir = tmp_path / "sql"
    assert main(["solve", "--tasks", "sql", "--ids", "shop/01,clinic/01", "--strategy", "refine",
                 "--run-dir", str(run_dir)]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    result = summary["policies"]["refine(k=3)"]
    assert summary["family"] == "sql" and result["tasks"] == 2
    # both are one-line counts this model gets right greedily (measured: 2 of 2)
    assert result["passed_visible"] == 2 and result["pass_at_1"] == 1.0


@pytest.mark.slow
def test_embedded_model_says_how_likely_each_answer_is():
    from looplab.models import load_model
    model = load_model("local")

    def ask(fact):
        return json.loads(model.probabilities([
            {"role": "system", "content": "Answer YES or NO, with one word."},
            {"role": "user", "content": f"Relations:\nwater boils at 100 degrees celsius\n\nFact: {fact}\n"
                                        "Can the fact be inferred from the relations? YES or NO."}],
            ["YES", "NO"]).text)
    stated, unrelated = ask("Water boils at 100 degrees Celsius."), ask("The moon orbits Jupiter.")
    assert stated["YES"] + stated["NO"] == pytest.approx(1.0, abs=1e-5)
    assert stated["YES"] > unrelated["YES"]


@pytest.mark.slow
def test_embedded_model_stops_decoding_at_its_first_repeated_sentence():
    from looplab.models import load_model
    model = load_model("local")
    asked = [{"role": "user", "content": "Write the sentence 'The cat sat on the mat.' ten times, one per line."}]
    stopped = model.complete(asked, max_tokens=200, stop_on_repeat=True)
    assert stopped.finish_reason == "repeat" and stopped.text.count("The cat sat on the mat") == 1
    whole = model.complete(asked, max_tokens=200)
    assert stopped.usage.prompt_tokens == whole.usage.prompt_tokens
    assert stopped.usage.completion_tokens < whole.usage.completion_tokens / 4  # measured: 14 of 200


@pytest.mark.slow
def test_embedded_model_counts_prompt_tokens_exactly_with_its_own_chat_template():
    from looplab.models import load_model
    model = load_model("local")
    # without a system message Qwen's template adds its own: the count must include it (budgets rely on it)
    for messages in ([{"role": "user", "content": "Say hi."}],
                     [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi <|im_end|> é ✓"},
                      {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Again."}]):
        assert model.count_tokens(messages) == model.complete(messages, max_tokens=1).usage.prompt_tokens


@pytest.mark.slow
def test_the_embedded_model_and_llama_cpp_server_agree_with_the_same_model_arguments(tmp_path):
    """llama.cpp's own OpenAI-compatible server defaults repeat_penalty to 1.1 where the embedded model uses
    1.0; with `-M repeat_penalty=1.0` the two give the same greedy replies on the same HumanEval tasks."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    from looplab.models._weights import embedded_model_path
    from looplab.runs import RunStore

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_model_path()),
                               "--port", str(port), "--n_ctx", "4096", "--seed", "0"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2)
                break
            except OSError:
                time.sleep(1)
        runs = {"embedded": ["--model", "local"],
                "server": ["--model", "openai:qwen", "--base-url", url, "-M", "repeat_penalty=1.0"]}
        replies = {}
        for name, model in runs.items():
            assert main(["solve", "--ids", "0,2,4", "--strategy", "single", *model,
                         "--run-dir", str(tmp_path / name)]) == 0
            with RunStore(tmp_path / name, read_only=True) as store:
                replies[name] = [store.calls("single", f"HumanEval/{i}")[0].response for i in (0, 2, 4)]
                if name == "server":
                    assert store.meta("model") == 'openai:qwen[repeat_penalty=1.0]'
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert replies["server"] == replies["embedded"]
