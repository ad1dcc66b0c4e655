"""grow: parsing, entity resolution, merging, metrics against networkx/powerlaw, the loop, resume."""
import csv
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from grow_fakes import fake_reply, hostile_reply
from looplab.cli import main
from looplab.grow._export import export_graph
from looplab.grow import (DEFAULT_THRESHOLD, EntityResolver, GraphParseError, GrowConfig, GrowRun, LocalGraph,
                          load_graphml, merge_local, normalize_name, parse_graph)
from looplab.grow._resolve import choose_threshold, load_pairs, pair_scores
from looplab.models import ModelError, ScriptedModel
from looplab.models import MiniLMEmbedder
from looplab.runs import RunError, RunStore

SEED_QUESTION = "Discuss an interesting idea in bio-inspired materials science."


@pytest.fixture(scope="module")
def embedder():
    return MiniLMEmbedder()


def test_parse_reads_json_inside_text_and_fences():
    reply = ('Sure! Here it is:\n```json\n{"nodes": [{"id": "silk"}, {"id": "web"}, {"id": "alone"}], '
             '"edges": [{"source": "silk", "target": "web", "relation": "spun into"}]}\n```\nHope it helps.')
    graph = parse_graph(reply)
    assert graph.nodes == {"silk": "", "web": ""} and graph.dropped == ["node 'alone': no edge links it"]
    bare = 'The graph {"nodes": [{"id": "a", "type": "t"}], "edges": [{"source": "a", "target": "b", "relation": "r"}]} ok'
    graph = parse_graph(bare)
    assert graph.nodes == {"a": "t", "b": ""} and graph.edges == [("a", "b", "r")]


def test_parse_drops_invalid_items_with_reasons():
    reply = json.dumps({"nodes": [{"id": "silk"}, {"id": ""}, {"name": "x"}, "bone"],
                        "edges": [{"source": "silk", "target": "bone", "relation": "like"},
                                  {"source": "silk", "target": "bone", "relation": "like"},
                                  {"source": "silk", "target": 3, "relation": "r"}, "junk"]})
    graph = parse_graph(reply)
    assert graph.nodes == {"silk": "", "bone": ""}
    assert graph.edges == [("silk", "bone", "like")]
    assert len(graph.dropped) == 4 and any("needs source and target names and a short relation" in d for d in graph.dropped)


def test_parse_salvages_complete_objects_from_cut_off_json():
    reply = ('{"nodes": [{"id": "silk", "type": "material"}, {"id": "bone"}, {"id": "bone"}, {"id": "gra'
             '"edges": [{"source": "silk", "target": "bone", "relation": "tougher than"}, {"source": "silk", "ta')
    graph = parse_graph(reply)
    assert graph.nodes == {"silk": "material", "bone": ""}
    assert graph.edges == [("silk", "bone", "tougher than")]
    assert "cut off" in graph.dropped[0]
    with pytest.raises(GraphParseError, match="no valid edges"):  # nodes alone make no graph
        parse_graph('{"nodes": [{"id": "silk"}, {"id": "bone"}, {"id": "bo')


@pytest.mark.parametrize("reply", ["no json at all", '{"nodes": "silk"}', '{"nodes": [], "edges": []}', "{broken"])
def test_parse_failures_say_why(reply):
    with pytest.raises(GraphParseError):
        parse_graph(reply)


def test_normalization_folds_spelling_variants():
    assert normalize_name("Spider-Silks ") == normalize_name("spider silk") == "spidersilk"
    assert normalize_name("Atomic Force Microscopy (AFM)") == normalize_name("atomic force microscopy")
    assert normalize_name("analysis") == "analysis" and normalize_name("properties") == "property"


def test_minilm_in_numpy_matches_sentence_transformers(embedder):
    data = Path(__file__).with_name("data")
    texts = json.loads((data / "minilm_reference.json").read_text())
    reference = np.load(data / "minilm_reference.npy")
    assert np.abs(embedder.embed(texts) - reference).max() < 1e-4


def test_default_threshold_is_chosen_on_the_tuning_half_and_holds_on_the_test_half(embedder):
    from looplab.grow._resolve import precision_recall

    tune, test = load_pairs("tune"), load_pairs("test")
    assert len(tune) + len(test) == len(load_pairs()) >= 400 and abs(len(tune) - len(test)) < 20
    threshold, precision, recall = choose_threshold(tune, pair_scores(embedder, tune))
    assert threshold == DEFAULT_THRESHOLD and precision >= 0.95
    precision, recall = precision_recall(test, pair_scores(embedder, test), threshold)
    assert precision >= 0.95 and recall >= 0.75  # measured: 0.953 and 0.762


def test_a_name_that_refines_another_is_a_concept_of_its_own(embedder):
    resolver = EntityResolver(embedder)
    resolver.resolve(["biochar", "bio-inspired materials", "biofuels"])
    later, _ = resolver.resolve(["biochar production", "bio-inspired materials science", "sustainable biofuels",
                                 "bio inspired material"])
    assert [r.method for r in later] == ["new", "new", "new", "name"]


def test_resolver_merges_synonyms_and_keeps_distinct_concepts_apart(embedder):
    resolver = EntityResolver(embedder)
    first, _ = resolver.resolve(["spider silk", "graphene", "atomic force microscopy (AFM)", "type I collagen"])
    assert all(r.method == "new" for r in first)
    later, vectors = resolver.resolve(["Spider Silks", "AFM", "carbon nanotubes", "type II collagen", "silk of spiders"])
    by_name = {r.name: r for r in later}
    assert by_name["Spider Silks"].node == "spider silk" and by_name["Spider Silks"].method == "name"
    assert by_name["AFM"].node == "atomic force microscopy (AFM)"
    assert by_name["carbon nanotubes"].method == "new"
    assert by_name["type II collagen"].method == "new"  # numbers differ: never merged by embedding
    assert by_name["silk of spiders"].method == "embedding" and by_name["silk of spiders"].node == "spider silk"
    assert set(vectors) == {"carbon nanotubes", "type II collagen"} and len(resolver) == 6


def test_merge_keeps_one_edge_per_pair_with_its_relations():
    graph = nx.DiGraph()
    local = LocalGraph({"silk": "material", "Silks": "", "bone": ""},
                       [("silk", "bone", "like"), ("Silks", "bone", "like"), ("silk", "bone", "unlike")])
    from looplab.grow import Resolution
    resolutions = [Resolution("silk", "silk", "new", 0), Resolution("Silks", "silk", "name", 1.0),
                   Resolution("bone", "bone", "new", 0)]
    assert merge_local(graph, local, resolutions, 1) == ["silk", "bone"]
    assert graph.number_of_edges() == 1 and graph.edges["silk", "bone"]["relation"] == "like | unlike"
    assert graph.nodes["silk"]["aliases"] == "Silks" and graph.nodes["silk"]["type"] == "material"


def recorded_iterations(run_dir):
    """A grow run's iterations as recorded, in order."""
    with RunStore(run_dir, read_only=True) as store:
        return store.rows("grow_iterations", order_by="iteration")


def grow(run_dir, embedder, iterations, reply=fake_reply, **config):
    with RunStore(run_dir) as store:
        run = GrowRun(store, GrowConfig(SEED_QUESTION, **config), ScriptedModel(reply), embedder)
        run.run(iterations)
        return run.summary()


def test_metrics_equal_networkx_and_powerlaw_on_the_saved_graph(tmp_path, embedder):
    summary = grow(tmp_path / "run", embedder, 25)
    with open(tmp_path / "run" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["iteration"]) for r in rows] == list(range(1, 26))
    row = {k: float(v) if v else math.nan for k, v in rows[-1].items()}
    graph = load_graphml(tmp_path / "run" / "graph.graphml")
    assert row["nodes"] == graph.number_of_nodes() >= 40 and row["edges"] == graph.number_of_edges()
    view = nx.Graph(graph)
    view.remove_edges_from(list(nx.selfloop_edges(view)))
    lcc = view.subgraph(max(nx.connected_components(view), key=len))
    communities = {}
    for node, c in graph.nodes(data="community"):
        communities.setdefault(c, set()).add(node)
    expected = {
        "mean_degree": 2 * graph.number_of_edges() / len(graph), "self_loops": nx.number_of_selfloops(graph),
        "density": nx.density(view), "avg_clustering": nx.average_clustering(view),
        "transitivity": nx.transitivity(view), "assortativity": nx.degree_assortativity_coefficient(view),
        "avg_shortest_path": nx.average_shortest_path_length(lcc), "diameter": nx.diameter(lcc),
        "max_betweenness": max(nx.betweenness_centrality(view).values()),
        "max_kcore": max(nx.core_number(view).values()),
        "articulation_points": len(list(nx.articulation_points(view))),
        "modularity": nx.community.modularity(view, communities.values()), "communities": len(communities),
        "bridge_nodes": sum(1 for n in view if len({graph.nodes[m]["community"] for m in view[n]}) > 1),
    }
    for name, value in expected.items():
        assert row[name] == pytest.approx(value, abs=1e-9), name
    import powerlaw
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = powerlaw.Fit([d for _, d in view.degree() if d > 0], discrete=True, verbose=False)
        llr, p = fit.distribution_compare("power_law", "exponential", normalized_ratio=False)
    assert row["powerlaw_alpha"] == pytest.approx(fit.power_law.alpha)
    assert row["powerlaw_xmin"] == fit.power_law.xmin
    assert row["powerlaw_llr"] == pytest.approx(llr) and row["powerlaw_p"] == pytest.approx(p)
    assert sum(float(r["merges"]) for r in rows) > 0 and summary["first_try_parse_rate"] == 1.0
    assert sum(float(r["reused"]) for r in rows) > 0  # names seen before, as written: reuse, not merges
    assert len(list((tmp_path / "run" / "graphs").glob("graph_*.graphml"))) == 25


def test_new_hubs_are_counted_once(tmp_path, embedder):
    grow(tmp_path / "run", embedder, 25)
    with open(tmp_path / "run" / "metrics.csv") as f:
        total = sum(int(r["new_hubs"]) for r in csv.DictReader(f))
    graph = nx.Graph(load_graphml(tmp_path / "run" / "graph.graphml"))
    graph.remove_edges_from(list(nx.selfloop_edges(graph)))
    assert total == sum(1 for _, d in graph.degree() if d > 5)


def test_malformed_extraction_gets_one_retry_then_the_iteration_is_skipped(tmp_path, embedder):
    asked = []

    def reply(messages):
        if messages[0]["content"].startswith("You ask"):
            asked.append(1)
            concept = messages[-1]["content"].split("Concepts: ")[1].split(",")[0].split(".")[0]
            return f"Anything HOPELESS about {concept}?" if len(asked) == 1 else f"What about {concept}?"
        return fake_reply(messages)

    with RunStore(tmp_path / "run") as store:
        run = GrowRun(store, GrowConfig("Start BROKEN"), ScriptedModel(reply), embedder)
        results = run.run(3)
        rows = store.rows("grow_iterations", order_by="iteration")
    assert [(r["status"], r["parse_failures"], r["first_try_parsed"]) for r in rows] == [
        ("ok", 1, 0), ("skipped", 2, 0), ("ok", 0, 1)]
    assert "could not read a graph" in rows[1]["reason"]
    assert [r.status for r in results] == ["ok", "skipped", "ok"]


@pytest.mark.parametrize("policy", ["frontier", "bridge", "random"])
def test_next_question_policies_pick_concepts_from_the_graph(tmp_path, embedder, policy):
    grow(tmp_path / "run", embedder, 6, next_policy=policy)
    questions = [r["next_question"] for r in recorded_iterations(tmp_path / "run")]
    graph = load_graphml(tmp_path / "run" / "graph.graphml")
    names = {n.lower() for n in graph}
    assert all(any(n in q.lower() for n in names) for q in questions)


def test_changed_settings_are_refused(tmp_path, embedder):
    grow(tmp_path / "run", embedder, 1)
    with pytest.raises(RunError, match="other settings"):
        grow(tmp_path / "run", embedder, 2, topic="something else")


def test_grow_through_http_server_and_resume_after_kill_9(chat_server, tmp_path):
    command = [sys.executable, "-m", "looplab.cli", "grow", SEED_QUESTION, "--iterations", "6", "--model", "openai:test"]
    with chat_server(fake_reply) as server:
        env = {**os.environ, "OPENAI_BASE_URL": server.url}
        subprocess.run(command + ["--run-dir", str(tmp_path / "whole")], env=env, check=True, capture_output=True)
        whole_requests = len(server.requests)
        extraction = next(r for r in server.requests if r["messages"][0]["content"].startswith("You turn"))
        assert extraction["response_format"]["type"] == "json_schema"
        server.requests.clear()
        server.delay = 0.2
        proc = subprocess.Popen(command + ["--run-dir", str(tmp_path / "killed")], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(0.1)
            try:
                if len(recorded_iterations(tmp_path / "killed")) >= 2:
                    break
            except RunError:
                pass  # the database is not created yet
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        server.delay = 0
        subprocess.run(command + ["--run-dir", str(tmp_path / "killed")], env=env, check=True, capture_output=True)
        with RunStore(tmp_path / "killed", read_only=True) as store:
            calls = len(store.calls())
    assert len(server.requests) - calls <= 1  # only a call in flight at the kill was asked twice
    assert calls == whole_requests
    whole, resumed = (load_graphml(tmp_path / d / "graph.graphml") for d in ("whole", "killed"))
    assert nx.utils.graphs_equal(whole, resumed)
    assert (tmp_path / "whole" / "metrics.csv").read_text() == (tmp_path / "killed" / "metrics.csv").read_text()


def test_export_formats_other_tools_read(tmp_path, embedder, capsys):
    grow(tmp_path / "run", embedder, 3)
    for fmt in ("graphml", "gexf", "json", "csv"):
        out = tmp_path / f"g.{fmt}"
        assert main(["graph", "export", "--run-dir", str(tmp_path / "run"), "--format", fmt, "--output", str(out)]) == 0
    graph = load_graphml(tmp_path / "run" / "graph.graphml")
    data = json.loads((tmp_path / "g.json").read_text())
    for key in ("links", "edges"):  # networkx before 3.6 reads "links", 3.6 and later "edges", each by default
        read = nx.node_link_graph(data, edges=key)
        assert set(read.nodes) == set(graph.nodes) and read.number_of_edges() == graph.number_of_edges()
    gexf = nx.read_gexf(tmp_path / "g.gexf")
    relations_total = sum(len(d["relation"].split(" | ")) for _, _, d in graph.edges(data=True))
    assert gexf.number_of_edges() == relations_total  # one edge per relation, parallel where there are several
    assert all("viz" in d and d["viz"]["color"] and d["viz"]["size"] > 0 for _, d in gexf.nodes(data=True))
    colours = {(d["viz"]["color"]["r"], d["viz"]["color"]["g"]) for _, d in gexf.nodes(data=True)}
    assert len(colours) == len({d.get("community") for _, d in graph.nodes(data=True)} - {None}) or len(colours) > 1
    nodes = list(csv.DictReader(open(tmp_path / "g_nodes.csv")))
    edges = list(csv.DictReader(open(tmp_path / "g_edges.csv")))
    assert len(nodes) == len(graph) and {"community", "aliases", "type"} <= nodes[0].keys()
    relations = sum(len(d["relation"].split(" | ")) for _, _, d in graph.edges(data=True))
    assert len(edges) == relations and all(" | " not in e["relation"] for e in edges)  # one relation per row
    # an --output that exists is the user's: refused, left as it was (a CSV export's two files likewise)
    for fmt, taken in (("json", tmp_path / "g.json"), ("csv", tmp_path / "g_nodes.csv")):
        before = taken.read_bytes()
        assert main(["graph", "export", "--run-dir", str(tmp_path / "run"), "--format", fmt,
                     "--output", str(tmp_path / f"g.{fmt}")]) == 2
        assert f"{taken} exists" in " ".join(capsys.readouterr().err.split()) and taken.read_bytes() == before


def test_csv_cells_a_spreadsheet_would_run_are_written_safe_unless_asked_raw(tmp_path):
    graph = nx.DiGraph()
    graph.add_edge('=HYPERLINK("http://x","y")', "@SUM(A1:A9)", relation="+1 | -cmd")
    graph.add_node("plain", type="=2+3")
    export_graph(graph, tmp_path / "safe.csv", "csv")
    export_graph(graph, tmp_path / "raw.csv", "csv", raw_csv=True)
    cells = [c for name in ("safe_nodes.csv", "safe_edges.csv") for row in csv.reader(open(tmp_path / name))
             for c in row]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@"))]
    assert "'=HYPERLINK(\"http://x\",\"y\")" in cells and "'+1" in cells and "plain" in cells
    raw = [c for row in csv.reader(open(tmp_path / "raw_edges.csv")) for c in row]
    assert '=HYPERLINK("http://x","y")' in raw and "-cmd" in raw


def test_report_is_one_offline_html_file(tmp_path, embedder):
    grow(tmp_path / "run", embedder, 8)
    assert main(["graph", "report", "--run-dir", str(tmp_path / "run")]) == 0
    page = (tmp_path / "run" / "report.html").read_text()
    # nothing to fetch: no external script, style or image (the browser tests also watch the network)
    assert "<script src" not in page and "<link" not in page and "<img" not in page
    assert "Table 1" in page and "Power-law α" in page and "Degree distribution" in page
    for title in ("Louvain modularity", "newly connected pairs", "unreadable extractions", "nodes"):
        assert f">{title}</text>" in page  # chart titles in words
    data = json.loads(page.split('id="graph-data">')[1].split("</script>")[0])
    assert len(data["nodes"]) == len(load_graphml(tmp_path / "run" / "graph.graphml"))


def test_compose_follows_the_longest_path_and_resumes_from_the_record(tmp_path, embedder):
    from looplab.grow._compose import compose, longest_shortest_path

    grow(tmp_path / "run", embedder, 8)
    graph = load_graphml(tmp_path / "run" / "graph.graphml")
    path = longest_shortest_path(graph)
    view = nx.Graph(graph)
    lcc = view.subgraph(max(nx.connected_components(view), key=len))
    assert len(path) - 1 == nx.diameter(lcc) and nx.is_path(view, path)

    class Counting(ScriptedModel):
        calls = 0

        def complete(self, messages, **kwargs):
            Counting.calls += 1
            return super().complete(messages, **kwargs)

    with RunStore(tmp_path / "run") as store:
        out = compose(store, graph, Counting(lambda m: f"Idea about {m[-1]['content'][:30]}"), path)
        first = Counting.calls
        again = compose(store, graph, Counting(lambda m: "different"), path)
    text = out.read_text()
    assert first >= 2 * len(path) and Counting.calls == first  # the second run replayed every call
    assert again.read_text() == text
    for section in ("## Building blocks", "## Pairwise synergies along the path", "## Bridge synergies", "## Synthesis"):
        assert section in text


def test_a_graph_that_stops_growing_does_not_trap_the_questions(tmp_path, embedder):
    constant = json.dumps({"nodes": [{"id": n} for n in ("silk", "bone", "nacre", "wood", "chitin")],
                           "edges": [{"source": a, "target": b, "relation": "inspires"}
                                     for a, b in (("silk", "bone"), ("bone", "nacre"), ("nacre", "wood"),
                                                  ("wood", "chitin"))]})

    def reply(messages):
        if messages[0]["content"].startswith("You turn"):
            return constant
        return fake_reply(messages)

    grow(tmp_path / "run", embedder, 8, reply=reply)
    questions = [r["next_question"] for r in recorded_iterations(tmp_path / "run") if r["iteration"] > 1]
    assert len(set(questions)) > 1  # the two low-degree ends of the chain take turns


def test_the_report_never_writes_a_model_written_name_as_markup(tmp_path, embedder):
    grow(tmp_path / "run", embedder, 2, reply=hostile_reply)
    assert main(["graph", "report", "--run-dir", str(tmp_path / "run")]) == 0
    page = (tmp_path / "run" / "report.html").read_text()
    assert "<img" not in page and "onerror=\"" not in page and "<b>bold" not in page
    assert page.count("</script>") == 3  # the data, the bundled viewer library and the viewer: nothing a name closed
    data = page.split('id="graph-data">')[1].split("</script>")[0]
    assert "<" not in data and ">" not in data and "&" not in data
    names = {n["id"] for n in json.loads(data)["nodes"]}
    assert any("onerror" in n for n in names)  # still there, as data
    assert "innerHTML" not in page  # the viewer inserts names as text


def test_a_rerun_rebuilds_the_files_the_record_says_should_exist(tmp_path, embedder):
    grow(tmp_path / "run", embedder, 3)
    graph_file, metrics = tmp_path / "run" / "graph.graphml", tmp_path / "run" / "metrics.csv"
    whole, rows = graph_file.read_text(), metrics.read_text()
    graph_file.unlink()  # as if killed between the commit of iteration 3 and its file writes
    metrics.write_text(rows.rsplit("\n", 2)[0] + "\n")
    grow(tmp_path / "run", embedder, 3)  # nothing left to do but the files
    assert graph_file.read_text() == whole and metrics.read_text() == rows


def test_control_characters_in_a_concept_name_keep_the_graph_valid(tmp_path, embedder):
    def reply(messages):
        text = fake_reply(messages)
        if messages[0]["content"].startswith("You turn") and "```json" in text:
            graph = json.loads(text.split("```json\n")[1].split("\n```")[0])
            graph["nodes"].append({"id": "bell\x07 and\x00null\x1b[31m"})
            graph["edges"].append({"source": graph["nodes"][0]["id"], "target": "bell\x07 and\x00null\x1b[31m",
                                   "relation": "rings\x0b"})
            return "```json\n" + json.dumps(graph) + "\n```"
        return text

    grow(tmp_path / "run", embedder, 2, reply=reply)
    graph = load_graphml(tmp_path / "run" / "graph.graphml")  # parses: valid XML
    assert "bell and null [31m" in graph
    assert main(["graph", "report", "--run-dir", str(tmp_path / "run")]) == 0
    for fmt in ("graphml", "json", "csv"):
        assert main(["graph", "export", "--run-dir", str(tmp_path / "run"), "--format", fmt]) == 0


def test_extraction_rules_drop_self_loops_sentences_copied_examples_and_normalize_relations():
    reply = json.dumps({"nodes": [{"id": "silk"}, {"id": "potassium"}], "edges": [
        {"source": "silk", "target": "Silk", "relation": "is a"},
        {"source": "silk", "target": "spider web", "relation": "  Is Spun Into. "},
        {"source": "silk", "target": "spider web", "relation": "is spun into"},
        {"source": "the protein that spiders make from their glands", "target": "silk", "relation": "makes"},
        {"source": "silk", "target": "bone", "relation": "is compared with bone in the text because both are strong"},
        {"source": "potassium", "target": "silk", "relation": "feeds"}]})
    graph = parse_graph(reply, "Silk from a spider web is compared with bone.")
    assert graph.edges == [("silk", "spider web", "is spun into")]  # one edge: the normalized duplicate merged
    reasons = " | ".join(graph.dropped)
    for why in ("links a concept to itself", "copied from the prompt's example"):
        assert why in reasons
    assert reasons.count("needs source and target names and a short relation") == 2  # a sentence as name, as relation
    # a concept of the example that the text itself names is kept
    kept = parse_graph(json.dumps({"edges": [{"source": "potassium", "target": "soil", "relation": "enriches"}]}),
                       "Potassium enriches soil.")
    assert kept.edges == [("potassium", "soil", "enriches")]


def test_replies_cut_at_the_token_limit_are_counted_and_are_parse_failures(tmp_path, embedder):
    from looplab.grow._prompts import only_the_question

    assert only_the_question('Question: "How could silk heal bone?" This question links two ideas.') == \
        "How could silk heal bone?"

    def long_reply(messages):
        reply = fake_reply(messages)
        if messages[0]["content"].startswith("You turn"):  # a complete graph, then the model repeats an edge
            data = json.loads(reply.split("```json\n")[1].split("\n```")[0])
            return json.dumps({"edges": data["edges"] + [data["edges"][0]] * 40})
        return reply
    summary = grow(tmp_path / "run", embedder, 3, reply=long_reply, extract_tokens=60)
    rows = recorded_iterations(tmp_path / "run")
    assert all(json.loads(r["metrics"])["truncated"] >= 1 and r["parse_failures"] >= 1 and not r["first_try_parsed"]
               for r in rows)
    assert summary["truncated_replies"] >= 3 and summary["first_try_parse_rate"] == 0


def test_reasoning_stops_at_its_first_repeated_sentence(tmp_path, embedder):
    loop = " Silk fibres toughen the composite matrix. Cracks are deflected along the fibres."

    def looping(messages):
        reply = fake_reply(messages)
        return reply + loop * 20 if reply.startswith("Reasoning about") else reply
    grow(tmp_path / "run", embedder, 2, reply=looping)
    answers = [r["answer"] for r in recorded_iterations(tmp_path / "run")]
    with RunStore(tmp_path / "run", read_only=True) as store:
        reasoning = [c for c in store.calls() if c.params.get("stop_on_repeat")]
    assert all(a.endswith("Cracks are deflected along the fibres.") and a.count("Silk fibres") == 1 for a in answers)
    assert len(reasoning) == 2 and all(c.finish_reason == "repeat" and c.completion_tokens < 60 for c in reasoning)


def test_next_questions_are_about_concepts_on_topic(tmp_path, embedder):
    topic = "bio-inspired materials"
    focused = {}

    def reply(messages):
        if messages[0]["content"].startswith("You ask"):
            concepts = re.search(r"Concepts: (.*?)\.\n", messages[-1]["content"]).group(1).split(", ")
            focused.setdefault(run_dir, []).append(concepts)
        return fake_reply(messages)
    cosine = {}
    for floor in (0.33, 0.0):
        run_dir = tmp_path / f"floor-{floor}"
        grow(run_dir, embedder, 8, reply=reply, topic=topic, topic_floor=floor)
        names = sorted({c for concepts in focused[run_dir] for c in concepts})
        cosine.update(zip(names, embedder.embed(names) @ embedder.embed([topic])[0]))
    first, *later = focused[tmp_path / "floor-0.33"]
    # no concept of the first answer is on topic, so the first focus falls back to them; from then on some are
    assert all(cosine[c] < 0.33 for c in first) and later
    assert all(cosine[c] >= 0.33 for concepts in later for c in concepts)
    assert any(cosine[c] < 0.33 for concepts in focused[tmp_path / "floor-0.0"] for c in concepts)  # it bites


def test_drift_is_measured_as_the_new_concepts_similarity_to_the_topic(tmp_path, embedder):
    grow(tmp_path / "run", embedder, 4, topic="bio-inspired materials")
    rows = list(csv.DictReader(open(tmp_path / "run" / "metrics.csv")))
    values = [float(r["topic_similarity"]) for r in rows if r["topic_similarity"]]
    assert values and all(-1 <= v <= 1 for v in values)
    # the first iteration's concepts are all new: the figure is their mean cosine with the topic
    added = json.loads(recorded_iterations(tmp_path / "run")[0]["added"])
    topic = embedder.embed(["bio-inspired materials"])[0]
    expected = float(np.mean(embedder.embed(added) @ topic))
    assert abs(float(rows[0]["topic_similarity"]) - expected) < 1e-3


def test_extraction_modes_single_multi_and_reflect(tmp_path):
    from looplab.grow._extract import extract
    from looplab.models import ScriptedModel

    text = "Spider silk is spun into webs. Silk fibroin forms beta sheets that stiffen the fibre."
    asked = []

    def reply(messages):
        system, last = messages[0]["content"], messages[-1]["content"]
        asked.append(system[:20])
        if system.startswith("You list"):
            return json.dumps({"concepts": ["spider silk", "webs", "silk fibroin", "beta sheets"]})
        if "Concepts:" in last:
            return json.dumps({"edges": [{"source": "spider silk", "target": "webs", "relation": "is spun into"},
                                         {"source": "silk fibroin", "target": "beta sheets", "relation": "forms"}]})
        if "Checks on that graph found" in last:
            assert "links a concept to itself" in last  # the rules' findings reach the model
            return json.dumps({"edges": [{"source": "spider silk", "target": "webs", "relation": "is spun into"},
                                         {"source": "beta sheets", "target": "fibre", "relation": "stiffen"}]})
        return json.dumps({"edges": [{"source": "spider silk", "target": "webs", "relation": "is spun into"},
                                     {"source": "silk", "target": "silk", "relation": "is"}]})
    model = ScriptedModel(reply)

    def generate(messages, limit, schema):
        return model.complete(messages, max_tokens=limit, json_schema=schema)
    single = extract(text, generate, "single")
    assert single.graph.edges == [("spider silk", "webs", "is spun into")] and single.failures == 0
    asked.clear()
    multi = extract(text, generate, "multi")
    assert len(asked) == 2 and len(multi.graph.edges) == 2
    reflect = extract(text, generate, "reflect")
    assert reflect.graph.edges == [("spider silk", "webs", "is spun into"), ("beta sheets", "fibre", "stiffen")]

    # the command: any text file, printed as JSON; the multi mode's schema names only listed concepts
    from looplab.grow._extract import relation_schema
    enum = relation_schema(["a", "b"])["properties"]["edges"]["items"]["properties"]["source"]["enum"]
    assert enum == ["a", "b"]
    source = tmp_path / "essay.txt"
    source.write_text(text)
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps([json.dumps({"edges": [{"source": "spider silk", "target": "webs",
                                                          "relation": "is spun into"}]})]))
    assert main(["graph", "extract", str(source), "--model", f"scripted:{replies}",
                 "--output", str(tmp_path / "graph.json")]) == 0
    written = json.loads((tmp_path / "graph.json").read_text())
    assert written["edges"] == [{"source": "spider silk", "target": "webs", "relation": "is spun into"}]


def test_mine_extracts_retrieves_judges_and_resumes(tmp_path):
    data = tmp_path / "mine"
    data.mkdir()
    (data / "essays.json").write_text(json.dumps([{"topic": "silk", "content": "Spider silk is spun into webs."},
                                                  {"topic": "bone", "content": "Bone is made of collagen."}]))
    (data / "facts.json").write_text(json.dumps([[{"answer": "Spiders spin silk into webs."},
                                                  {"answer": "Silk is edible."}],
                                                 [{"answer": "Bone contains collagen."}, {"answer": "Bone is soft."}]]))

    def reply(messages):
        if messages[0]["content"].startswith("You check"):  # the judge, read by probability
            fact = messages[-1]["content"].split("Fact:")[1]
            return json.dumps({"YES": 0.95, "no": 0.05} if "webs" in fact else
                              {"Yes": 0.85, "NO": 0.15} if "collagen" in fact else {"YES": 0.5, " NO": 0.5})
        if "Spider silk" in messages[-1]["content"]:
            return json.dumps({"edges": [{"source": "spider silk", "target": "webs", "relation": "is spun into"}]})
        return json.dumps({"edges": [{"source": "bone", "target": "collagen", "relation": "is made of"}]})
    replies = tmp_path / "replies.json"
    run_dir = tmp_path / "run"
    from looplab.grow._mine import mine_score, run_mine
    from looplab.models import ScriptedModel
    essays = [("Spider silk is spun into webs.", ["Spiders spin silk into webs.", "Silk is edible."]),
              ("Bone is made of collagen.", ["Bone contains collagen.", "Bone is soft."])]
    with RunStore(run_dir) as store:
        score = run_mine(store, essays, ScriptedModel(reply), ScriptedModel(reply), MiniLMEmbedder(), "single",
                         threshold=0.9)
        assert score == {"mode": "single", "essays": 2, "facts": 4, "recovered": 1, "score": 0.25, "mean_edges": 1.0,
                         "truncated": 0, "failures": 0}
        fact = store.rows("mine_facts", {"essay": 0, "fact": 0})[0]
        assert json.loads(fact["triples"]) == ["spider silk is spun into webs"] and fact["p_yes"] == 0.95
        # the record keeps P(YES), so another threshold rescores without asking the judge again
        assert mine_score(store, "single", 0.8)["recovered"] == 2
    # a re-run resumes: essays done are not extracted or judged again
    def nothing(messages):
        raise AssertionError("asked again")
    with RunStore(run_dir) as store:
        again = run_mine(store, essays, ScriptedModel(nothing), ScriptedModel(nothing), MiniLMEmbedder(), "single",
                         threshold=0.9)
    assert again == score
    # a stop after an essay's graph was stored but before its facts were: the graph is not extracted again,
    # and the judge's answers on the record are replayed
    with RunStore(run_dir) as store:
        assert store.delete("mine_facts", {"essay": 1}) > 0
        assert run_mine(store, essays, ScriptedModel(nothing), ScriptedModel(nothing), MiniLMEmbedder(), "single",
                        threshold=0.9) == score
    # the command on the folder, with a judge of its own
    replies.write_text(json.dumps([json.dumps({"edges": [{"source": "a", "target": "b", "relation": "r"}]})]))
    judge = tmp_path / "judge.json"
    judge.write_text(json.dumps(["NO"]))
    assert main(["graph", "mine", "--data", str(data), "--mode", "multi", "--model", f"scripted:{replies}",
                 "--judge-model", f"scripted:{judge}", "--run-dir", str(tmp_path / "cli")]) == 0


def test_judge_agreement_chooses_the_threshold_on_the_tuning_half_and_scores_the_test_half(tmp_path):
    from looplab.grow._mine import judge_agreement, load_judge_labels
    from looplab.models import ScriptedModel
    shipped = load_judge_labels()
    assert len(shipped) >= 120 and {p["half"] for p in shipped} == {"tune", "test"}
    pairs = [{"half": half, "text": f"fact {i} {half}", "triples": ["a r b"], "inferable": int(i < 2)}
             for half in ("tune", "test") for i in range(4)]
    # P(YES) ranks the inferable facts first on the tuning half; on the test half one non-inferable fact is
    # as sure as the inferable ones, so the test half agrees on 3 of 4
    sure = {"fact 0 tune": 0.9, "fact 1 tune": 0.8, "fact 2 tune": 0.6, "fact 3 tune": 0.5,
            "fact 0 test": 0.95, "fact 1 test": 0.85, "fact 2 test": 0.85, "fact 3 test": 0.4}

    def reply(messages):
        fact = messages[-1]["content"].split("Fact: ")[1].split("\n")[0]
        return json.dumps({"YES": sure[fact], "NO": 1 - sure[fact]})
    with RunStore(tmp_path / "run") as store:
        found = judge_agreement(store, ScriptedModel(reply), pairs)
        assert found["threshold"] == 0.7
        assert (found["tune_agreement"], found["tune_kappa"], found["tune_auc"]) == (1.0, 1.0, 1.0)
        assert (found["test_agreement"], found["test_kappa"], found["test_says_yes"]) == (0.75, 0.5, 3)
        assert found["test_auc"] == 0.875
    # recorded: a re-run asks nothing
    def nothing(messages):
        raise AssertionError("asked again")
    with RunStore(tmp_path / "run") as store:
        assert judge_agreement(store, ScriptedModel(nothing), pairs) == found
    # a judge that gives no probabilities is refused with a reason
    class WordsOnly:
        name = "words-only"

        def count_tokens(self, messages):
            return 10
    with RunStore(tmp_path / "other") as store, pytest.raises(ModelError, match="cannot say how likely"):
        judge_agreement(store, WordsOnly(), pairs)
    # the command, on the shipped pairs: a judge that always says YES agrees only on the inferable ones
    says_yes = tmp_path / "yes.json"
    says_yes.write_text(json.dumps(["YES"]))
    assert main(["graph", "mine-judge", "--model", f"scripted:{says_yes}", "--run-dir", str(tmp_path / "cli")]) == 0
    with RunStore(tmp_path / "cli") as store:
        rows = store.rows("judge_labels")
    assert len(rows) == len(shipped) and all(r["p_yes"] == 1.0 for r in rows)


def test_unmerge_undoes_a_merge_from_the_record_and_a_resumed_run_agrees(tmp_path, embedder):
    from looplab.grow._loop import unmerge

    calls = []

    def reply(messages):
        text = fake_reply(messages)
        if messages[0]["content"].startswith("You turn") and "```json" in text:
            calls.append(1)
            graph = json.loads(text.split("```json\n")[1].split("\n```")[0])
            name = "bird feathers" if len(calls) == 1 else "avian feathers"  # cosine 0.90: merged by embedding
            graph["edges"].append({"source": name, "target": graph["nodes"][0]["id"], "relation": "reinforces"})
            return "```json\n" + json.dumps(graph) + "\n```"
        return text
    grow(tmp_path / "run", embedder, 4, reply=reply)
    before = load_graphml(tmp_path / "run" / "graph.graphml")
    assert "avian feathers" not in before and "avian feathers" in before.nodes["bird feathers"]["aliases"]
    with RunStore(tmp_path / "run") as store:
        with pytest.raises(RunError, match="no merge of 'nacre' by embedding"):
            unmerge(store, embedder, "nacre")
        done = unmerge(store, embedder, "avian feathers")
        metrics = [json.loads(r["metrics"]) for r in store.rows("grow_iterations", order_by="iteration")]
    after = load_graphml(tmp_path / "run" / "graph.graphml")
    assert done["was_merged_into"] == "bird feathers" and done["resolutions_changed"] >= 1
    assert "avian feathers" in after and "avian feathers" not in after.nodes["bird feathers"]["aliases"]
    assert after.number_of_nodes() == before.number_of_nodes() + 1
    assert metrics[-1]["nodes"] == after.number_of_nodes()  # the metrics were replayed with the change
    rows = list(csv.DictReader(open(tmp_path / "run" / "metrics.csv")))
    assert int(rows[-1]["nodes"]) == after.number_of_nodes()
    # a run resumed from the record rebuilds the same graph and goes on
    grow(tmp_path / "run", embedder, 5, reply=reply)
    resumed = load_graphml(tmp_path / "run" / "graphs" / "graph_0004.graphml")
    assert sorted(resumed) == sorted(after)


def test_an_edge_between_two_names_of_one_concept_is_not_a_self_loop():
    from looplab.grow import Resolution, merge_local

    graph = nx.DiGraph()
    local = LocalGraph({"silk fibre": "", "silk fiber": "", "web": ""},
                       [("silk fibre", "silk fiber", "is a"), ("silk fiber", "web", "forms")])
    merge_local(graph, local, [Resolution("silk fibre", "silk fibre", "new", 0.0),
                               Resolution("silk fiber", "silk fibre", "embedding", 0.95),
                               Resolution("web", "web", "new", 0.0)], 1)
    assert list(graph.edges) == [("silk fibre", "web")] and nx.number_of_selfloops(graph) == 0


def test_grow_prompts_are_data_sent_as_given_and_part_of_the_runs_identity(tmp_path, embedder):
    from looplab.grow import GrowPrompts, iteration_scope
    from looplab.solve import PromptError

    careful = GrowPrompts(reason_system="You are a careful engineer. Answer in plain words.")
    grow(tmp_path / "run", embedder, 2, prompts=careful)
    with RunStore(tmp_path / "run", read_only=True) as store:
        [reasoning, *_] = store.calls(*iteration_scope(1))
        assert reasoning.messages[0]["content"] == careful.reason_system
        assert store.meta("grow")["prompts"]["reason_system"] == careful.reason_system
    with pytest.raises(RunError, match="recorded with other settings"):
        grow(tmp_path / "run", embedder, 3)  # the default prompts are another run
    assert len(recorded_iterations(tmp_path / "run")) == 2
    with pytest.raises(PromptError, match="the next template uses the unknown field {focus}"):
        GrowPrompts(next="Ask about {focus}.")
    # a run recorded before prompts were data (no prompts in its settings) resumes under the default prompts
    grow(tmp_path / "old", embedder, 1)
    with RunStore(tmp_path / "old") as store:
        store.set_meta("grow", {k: v for k, v in store.meta("grow").items() if k != "prompts"})
    grow(tmp_path / "old", embedder, 2)
    assert len(recorded_iterations(tmp_path / "old")) == 2


def test_a_large_graph_updates_its_partition_spreads_its_samples_and_resumes_exactly(tmp_path, embedder, monkeypatch):
    from looplab.grow import _loop, _metrics

    # "large" from 20 nodes on, a window of 4 iterations: the large-graph path on a graph a test can grow
    for module in (_loop, _metrics):
        monkeypatch.setattr(module, "LARGE_LIMIT", 20)
        monkeypatch.setattr(module, "WINDOW", 4)
    grow(tmp_path / "whole", embedder, 14)
    grow(tmp_path / "resumed", embedder, 9)
    grow(tmp_path / "resumed", embedder, 14)
    rows = {}
    for name in ("whole", "resumed"):
        with RunStore(tmp_path / name) as store:
            rows[name] = [json.loads(r["metrics"]) for r in store.rows("grow_iterations", order_by="iteration")]
    assert rows["resumed"] == rows["whole"]  # the partition, the samples and the last fit carried over
    large = [r for r in rows["whole"] if r["nodes"] > 20]
    assert len(large) >= 8 and large[0]["sampled_from"] == large[0]["iteration"]
    assert [r["sampled_from"] for r in large[4:]] == [r["iteration"] - 3 for r in large[4:]]
    assert {r["iteration"] - r["powerlaw_fitted_at"] for r in large} == {0, 1, 2, 3}
    small = [r for r in rows["whole"] if r["nodes"] <= 20]
    assert all(r["sampled_from"] == r["powerlaw_fitted_at"] == r["iteration"] for r in small)
    # the saved partition is the updated one the next iteration starts from
    saved = load_graphml(tmp_path / "whole" / "graph.graphml")
    assert len({c for _, c in saved.nodes(data="community")}) == large[-1]["communities"]
