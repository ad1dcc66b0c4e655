"""Every HTML page looplab writes, opened in headless Chromium as a person would: no console error, no request
leaving the page's own files, and model-written text (script tags, event handlers, `</script>`, quotes, RTL
overrides, very long strings) shown as text and never run. `looplab view` is clicked through: a run, a task,
two policies side by side, the task filter, a grow iteration."""
import asyncio
import json

import pytest
from grow_fakes import hostile_reply
from test_grow import grow

from looplab.cli import main
from looplab.models import MiniLMEmbedder
from looplab.report._browser import CHROMIUM, browse

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (make setup installs it)")

HOSTILE = ["<script>window.hacked=1</script>", '<img src=x onerror="window.hacked=2">',
           "</script><script>window.hacked=3</script>", "\"'><svg onload=window.hacked=4>", "a & b \u202eRTL مرحبا",
           "y" * 5000]
# A function whose returned value (shown in the feedback) and comments carry every hostile string.
CANDIDATE = ("```python\ndef {entry}(*args):\n" + "".join(f"    # {h}\n" for h in HOSTILE)
             + f"    return {HOSTILE!r}\n```")
SAFE = """(() => ({hacked: window.hacked === undefined ? null : window.hacked,
  markup: document.querySelectorAll('img, svg[onload], iframe, object, embed').length,
  scripts: document.querySelectorAll('script').length,
  text: document.body.innerText}))()"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A compare run (with analyze) whose model name, replies and feedback carry hostile strings, and a grow run
    whose concepts and relations do."""
    tmp = tmp_path_factory.mktemp("pages")
    replies = tmp / "<img src=x onerror=window.hacked=7>.json"
    replies.write_text(json.dumps([CANDIDATE.format(entry="has_close_elements"),
                                   CANDIDATE.format(entry="separate_paren_groups")]))
    solve_dir = tmp / "solve"
    assert main(["compare", "--limit", "2", "--policies", "single,refine,best-of-n", "--budget-tokens", "2000",
                 "--model", f"scripted:{replies}", "--run-dir", str(solve_dir)]) == 0
    assert main(["analyze", "--limit", "2", "--run-dir", str(solve_dir)]) == 0

    grow_dir = tmp / "grow"
    grow(grow_dir, MiniLMEmbedder(), 3, reply=hostile_reply)
    assert main(["graph", "report", "--run-dir", str(grow_dir)]) == 0
    assert main(["view", str(solve_dir), str(grow_dir), "--output", str(tmp / "site")]) == 0
    return {"solve": solve_dir, "grow": grow_dir, "site": tmp / "site"}


def test_every_page_shows_hostile_text_as_text(runs):
    pages = [runs["solve"] / "comparison.html", runs["solve"] / "analysis.html", runs["grow"] / "report.html",
             runs["site"] / "index.html"]

    async def scenario(page):
        seen = {}
        for path in pages:
            await page.open(path.as_uri())
            seen[path.name] = await page.js(SAFE)
        return seen, page.errors, page.outside_requests()
    seen, errors, outside = asyncio.run(browse(scenario))
    assert errors == [] and outside == []
    for name, state in seen.items():
        assert state["hacked"] is None and state["markup"] == 0, name
    assert "window.hacked=7" in seen["comparison.html"]["text"]  # the model's name, shown as text
    assert "window.hacked=7" in seen["index.html"]["text"]


def test_view_is_clicked_through_a_run_a_task_two_policies_and_a_grow_iteration(runs):
    site = (runs["site"] / "index.html").as_uri()

    async def scenario(page):
        await page.open(site)
        await page.js("document.querySelector('a[href=\"#run=0\"]').click()")
        await page.wait_for("document.querySelectorAll('td.pass, td.fail').length === 6")  # 2 tasks x 3 policies
        await page.js("document.querySelector('td.fail').click()")
        await page.wait_for("document.querySelectorAll('.step').length > 0")
        one = await page.js(SAFE)
        steps = await page.js("document.querySelectorAll('.step').length")
        # a second policy beside the first
        await page.js("""(() => { const s = document.getElementById('pick-b');
            s.value = [...s.options].map(o => o.value).find(v => v.endsWith(':refine(k=8)'));
            s.dispatchEvent(new Event('change')); })()""")
        await page.wait_for("document.querySelectorAll('.side > .policy').length === 2")
        two = await page.js(SAFE)
        # open a model call and the diff of a revision
        await page.js("document.querySelectorAll('details.call').forEach(d => d.open = true)")
        calls_text = await page.js("document.querySelector('details.call').innerText")
        # the task filter
        await page.js("location.hash = 'run=0&filter=Eval%2F1'")
        await page.wait_for("document.querySelectorAll('td.pass, td.fail').length === 3")
        # a grow iteration: question, answer, local graph, merges, calls
        await page.js("location.hash = 'run=1'")
        await page.wait_for("document.querySelectorAll('table a').length === 3")
        await page.js("document.querySelector('table a').click()")
        await page.wait_for("document.body.innerText.includes('Local graph')")
        grow_state = await page.js(SAFE)
        return one, steps, two, calls_text, grow_state, page.errors, page.outside_requests()
    one, steps, two, calls_text, grow_state, errors, outside = asyncio.run(browse(scenario))
    assert errors == [] and outside == []
    for state in (one, two, grow_state):
        assert state["hacked"] is None and state["markup"] == 0
    assert steps >= 1 and "window.hacked=3" in one["text"]  # the candidate's comment, as text
    assert "reply" in calls_text and "tokens" in calls_text
    assert "refine(k=8)" in two["text"]
    assert "window.hacked=1" in grow_state["text"]  # a concept's name, as text


def test_the_graph_viewer_searches_selects_and_replays_growth(runs):
    async def scenario(page):
        await page.open((runs["grow"] / "report.html").as_uri())
        await page.wait_for("window.graphRenderer !== undefined")
        start = await page.js("document.getElementById('until-label').innerText")
        labels = await page.js("window.graphRenderer.displayedNodeLabels.size")
        colours = await page.js("window.graphRenderer.getGraph().mapNodes((n, a) => a.color)"
                                "  .every(c => /^#[0-9a-f]{6}$/.test(c))")
        await page.js("""(() => { const s = document.getElementById('search'); s.value = 'onerror';
                          s.dispatchEvent(new Event('input')); })()""")
        found = await page.js("document.querySelectorAll('#found button').length")
        await page.js("document.querySelector('#found button').click()")
        info = await page.js("document.getElementById('info').innerText")
        await page.js("""(() => { const s = document.getElementById('until'); s.value = 1;
                          s.dispatchEvent(new Event('input')); })()""")
        label = await page.js("document.getElementById('until-label').innerText")
        legend = await page.js("document.querySelectorAll('#legend span').length")
        return (start, labels, colours, found, info, label, legend, await page.js(SAFE), page.errors,
                page.outside_requests())
    start, labels, colours, found, info, label, legend, state, errors, outside = asyncio.run(browse(scenario))
    assert labels >= 3  # a small graph is labelled at first sight, not only when zoomed in
    shown, total = start.split(": ")[1].split(" concepts")[0].split(" of ")
    assert shown == total  # the whole graph at first (the slider at the last iteration)
    assert colours  # every node's colour in a form sigma's WebGL programs read (hsl() draws black)
    assert errors == [] and outside == [] and state["hacked"] is None and state["markup"] == 0
    assert found == 1 and 'onerror="window.hacked=1"' in info and "→" in info  # the name and its relations, as text
    assert label.startswith("up to iteration 1:") and legend >= 1


def test_only_looplabs_own_scripts_run_on_its_pages(runs, tmp_path):
    """A probe copy of each page with an inline script and a foreign file: script injected: neither runs (the
    Content-Security-Policy allows only the page's own scripts, by hash), and the page still works."""
    evil = tmp_path / "evil.js"
    evil.write_text("window.hacked = 12;")
    injected = f'<script>window.hacked = 11;</script><script src="{evil.as_uri()}"></script>'
    probes = {}
    for name, path in (("view", runs["site"] / "index.html"), ("graph", runs["grow"] / "report.html"),
                       ("comparison", runs["solve"] / "comparison.html")):
        probe = path.with_name(f"probe-{path.name}")
        probe.write_text(path.read_text().replace("</body>", injected + "</body>", 1))
        probes[name] = probe

    async def scenario(page):
        seen = {}
        for name, probe in probes.items():
            await page.open(probe.as_uri())
            seen[name] = await page.js("({hacked: window.hacked === undefined ? null : window.hacked, "
                                       "nav: (document.getElementById('nav') || {}).textContent || '', "
                                       "canvas: document.querySelectorAll('#view canvas').length})")
        return seen
    seen = asyncio.run(browse(scenario))
    assert all(state["hacked"] is None for state in seen.values()), seen
    assert seen["view"]["nav"] and seen["graph"]["canvas"] > 0  # the pages' own scripts ran


def test_the_view_index_shows_each_runs_headline_and_links_its_pages(runs, tmp_path):
    """`view --run-dir PARENT` takes every run in a folder; the index shows each run's best pass@1 (or its graph's
    size) and links the comparison, analysis and graph report pages the run has."""
    parent = runs["solve"].parent
    assert main(["view", "--run-dir", str(parent), "--output", str(tmp_path / "site")]) == 0

    async def scenario(page):
        await page.open((tmp_path / "site" / "index.html").as_uri())
        return await page.js("[...document.querySelectorAll('tr')].map(r => r.innerText)"), page.errors
    rows, errors = asyncio.run(browse(scenario))
    assert errors == []
    solve_row = next(r for r in rows if "solve" in r.split("\t")[0])
    grow_row = next(r for r in rows if r.split("\t")[0].endswith("grow"))
    assert "best pass@1" in solve_row and "comparison" in solve_row and "analysis" in solve_row
    assert "nodes" in grow_row and "report" in grow_row


def test_an_optimize_run_shows_its_candidates_diffs_proposals_and_test_table(tmp_path):
    """The search of an optimize run on the view: each candidate with its validation score, Pareto membership and
    its prompts as a diff against its parent; every proposal with its status and reason; the test split's table.
    The reflector's texts carry hostile strings, shown as text."""
    from test_optimize import ADVICE, student

    from looplab.models import ScriptedModel
    from looplab.optimize import Optimizer, baselines_table, split_tasks, write_best
    from looplab.runs import RunStore
    from looplab.solve import PolicyConfig
    from looplab.tasks import load_tasks

    family, problems = load_tasks("sql", None)
    splits = split_tasks(problems, (6, 4, 3), seed=1)
    proposals = iter([f"```\nBe careful. {' '.join(HOSTILE[:5])}\n```",   # round 1, the system prompt: not better
                      "```\nSolve this task: {task}\n```",               # round 2, the first template: not better
                      f"```\n{ADVICE} {HOSTILE[1]}\n```"])               # round 3, the system prompt: accepted
    reflector = ScriptedModel(lambda messages: next(proposals, "no fence"))
    with RunStore(tmp_path / "run") as store:
        optimizer = Optimizer(store, family, splits, PolicyConfig("single"), model=ScriptedModel(student(family, problems)),
                              reflector=reflector, budget_calls=30, minibatch=2)
        result = optimizer.run()
        write_best(tmp_path / "run" / "best_policy.json", optimizer.best_config(result), result, splits)
    # the table --baselines keeps, here with the search itself standing in for a baseline
    (tmp_path / "run" / "baselines.json").write_text(json.dumps(baselines_table(result, {"random": result})))
    assert main(["view", "--run-dir", str(tmp_path / "run"), "--output", str(tmp_path / "site")]) == 0

    async def scenario(page):
        await page.open((tmp_path / "site" / "index.html").as_uri() + "#run=0")
        await page.wait_for("document.body.innerText.includes('Proposals')")
        await page.js("document.querySelectorAll('details').forEach(d => d.open = true)")
        rows = await page.js("[...document.querySelectorAll('tr')].map(r => r.innerText)")
        return rows, await page.js(SAFE), page.errors, page.outside_requests()
    rows, state, errors, outside = asyncio.run(browse(scenario))
    assert errors == [] and outside == [] and state["hacked"] is None and state["markup"] == 0
    seed = next(r for r in rows if r.startswith("0\t-\t(the seed)\t"))
    better = next(r for r in rows if r.startswith("1\t0\tsystem\t") and "%" in r)
    assert seed.startswith("0\t-\t(the seed)\t0.0%\t\t")  # not on the front: candidate 1 wins every task
    assert better.startswith("1\t0\tsystem\t100.0%\tyes") and "+ADVICE" in better
    assert any("not better" in r and "window.hacked=1" in r for r in rows)  # a proposal's text, as text
    assert any(r.startswith("0.0%\t100.0%\t3\t0") for r in rows)  # the test split: seed, best, won, lost
    assert any(r.startswith("random\t1\t100.0%\t0.0%\t100.0%\t3\t0") for r in rows)  # the baselines' table
