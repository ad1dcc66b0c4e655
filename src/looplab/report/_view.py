"""`looplab view`: a static site over one or more run directories that opens from disk (no server).

`index.html` holds the runs' summaries; each task's (or grow iteration's) record is a file of its own under
`data/`, loaded only when opened, so a 164-task x 10-policy run opens as fast as a small one. Every string
that came from a model reaches the page as JSON data and is put in with `textContent`, never as markup; in
the data files `<`, `>` and `&` are written as `\\u003c`, `\\u003e`, `\\u0026`, so no model-written string
appears as markup in any file.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import shutil
from pathlib import Path

from ..grow import iteration_scope
from ..optimize import recorded_search
from ..runs import Call, RunError, RunStore, loop_part, register_loop_part
from ._compare_report import STYLE
from ._csp import csp_meta


def script_json(value) -> str:
    """JSON that is safe inside a <script> element and a .js file: no `<`, `>` or `&` appears as such.

    >>> script_json({"name": "</script><b>"})
    '{"name": "\\\\u003c/script\\\\u003e\\\\u003cb\\\\u003e"}'
    """
    return (json.dumps(value, ensure_ascii=True).replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026"))


def _key(*parts: str) -> str:
    """A file name for a task or iteration, whatever characters its id has."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]


def _diff(before: str | None, after: str) -> list[str]:
    if before is None:
        return []
    return list(difflib.unified_diff(before.splitlines(), after.splitlines(), "parent", "this", lineterm="", n=2))[2:]


def _call(c: Call) -> dict:
    return {"id": c.id, "seq": c.seq, "model": c.model, "messages": c.messages, "params": c.params,
            "response": c.response, "finish": c.finish_reason, "prompt_tokens": c.prompt_tokens,
            "completion_tokens": c.completion_tokens, "latency": c.latency}


def _solve_run(store: RunStore, index: int, data: Path) -> dict:
    summary = store.summary()
    policies = list(summary)
    tasks: dict[str, dict] = {}
    for policy in policies:
        for task_id, outcome in store.outcomes(policy).items():
            tasks.setdefault(task_id, {})[policy] = {
                "hidden": outcome.passed_hidden, "visible": outcome.passed_visible,
                "status": outcome.status, "tokens": outcome.tokens, "calls": outcome.calls}
    for task_id in tasks:
        record = {}
        for policy in [p for p in policies if p in tasks[task_id]]:
            steps = store.steps(policy, task_id)
            by_step = {s.step: s for s in steps}
            record[policy] = {
                "steps": [{"step": s.step, "kind": s.kind, "candidate": s.candidate, "parent": s.parent,
                           "tokens": s.tokens, "calls": s.calls, "call": s.call_id,
                           "diff": _diff(by_step[s.parent].candidate if s.parent in by_step else None, s.candidate),
                           "feedback": {name: {"score": f.score, "passed": f.passed, "text": f.text,
                                               "details": f.details} for name, f in s.feedback.items()}}
                          for s in steps],
                "calls": [_call(c) for c in store.calls(policy, task_id)],
                "outcome": tasks[task_id].get(policy),
            }
        _write(data / f"{index}-{_key(task_id)}.js", f"{index}/{task_id}", record)
    return {"kind": "solve", "policies": {name: {k: s[k] for k in ("tasks", "pass_at_1", "passed_hidden",
                                                                   "passed_visible", "tokens", "calls",
                                                                   "wall_seconds", "errors")}
                                          for name, s in summary.items()},
            "tasks": tasks, "files": {task_id: f"{index}-{_key(task_id)}.js" for task_id in tasks}}


def _grow_run(store: RunStore, index: int, data: Path) -> dict:
    iterations = store.rows("grow_iterations", order_by="iteration")
    resolutions = store.rows("grow_resolutions", order_by="rowid")
    merges: dict[int, list[dict]] = {}
    for r in resolutions:
        if r["method"] != "new":
            merges.setdefault(r["iteration"], []).append(
                {"name": r["name"], "node": r["node"], "method": r["method"], "similarity": r["similarity"]})
    metrics = []
    for row in iterations:
        it = row["iteration"]
        metrics.append({"iteration": it, **json.loads(row["metrics"]), "seconds": row["seconds"], "status": row["status"]})
        _write(data / f"{index}-{_key(str(it))}.js", f"{index}/{it}", {
            "iteration": it, "question": row["question"], "answer": row["answer"] or "",
            "local_graph": json.loads(row["local_graph"]) if row["local_graph"] else None,
            "status": row["status"], "reason": row["reason"], "parse_failures": row["parse_failures"],
            "added": json.loads(row["added"]), "next_question": row["next_question"],
            "question_source": row["question_source"], "merges": merges.get(it, []),
            "calls": [_call(c) for c in store.calls(*iteration_scope(it))]})
    return {"kind": "grow", "metrics": metrics,
            "files": {str(m["iteration"]): f"{index}-{_key(str(m['iteration']))}.js" for m in metrics},
            "report": (store.dir / "report.html").exists()}


def _optimize_run(store: RunStore, index: int, data: Path) -> dict:
    """An optimize run: its candidates as a solve run's policies, and the search (candidates with their diffs,
    validation scores and Pareto membership, every proposal with its reason, the test split's table)."""
    try:
        test = json.loads((store.dir / "best_policy.json").read_text()).get("test")
    except (OSError, ValueError, AttributeError):
        test = None  # the search has not finished
    try:
        baselines = json.loads((store.dir / "baselines.json").read_text())
    except (OSError, ValueError):
        baselines = None  # run without --baselines, or they have not finished
    return {**_solve_run(store, index, data),
            "optimize": {**recorded_search(store), "test": test, "baselines": baselines}}


register_loop_part("solve", "page", _solve_run)
register_loop_part("grow", "page", _grow_run)
register_loop_part("optimize", "page", _optimize_run)


def _write(path: Path, key: str, value) -> None:
    path.write_text(f"LOOPLAB.loaded({script_json(key)}, {script_json(value)});\n")


SITE_MARK = ".looplab-view"  # in every folder write_view wrote: only such a folder is ever written over


def _prepare_site(out: Path, run_dirs: list[Path]) -> None:
    """Make `out` ready for a new site: a new or empty folder, or one holding an earlier site, whose own
    files (index.html, data/) go; anything else is refused and left as it is."""
    if out.exists() and not out.is_dir():
        raise RunError(f"{out} is a file; give --output a folder (new, empty, or an earlier looplab view)")
    resolved = out.resolve()
    for run_dir in run_dirs:
        if resolved == Path(run_dir).resolve():
            raise RunError(f"{out} is a run directory; write the site into a folder of its own (e.g. {out / 'view'})")
    if out.is_dir() and any(out.iterdir()):
        if not (out / SITE_MARK).is_file():
            raise RunError(f"{out} holds files looplab did not write; give --output a new or empty folder, or an "
                           "earlier looplab view")
        shutil.rmtree(out / "data", ignore_errors=True)
        (out / "index.html").unlink(missing_ok=True)
    try:
        (out / "data").mkdir(parents=True)
    except OSError as e:
        raise RunError(f"cannot write the site into {out}: {e.strerror}") from None
    (out / SITE_MARK).write_text("This folder was written by `looplab view`, which replaces it when asked to.\n")


def write_view(run_dirs: list[Path], out: Path) -> Path:
    """Write the site for `run_dirs` into `out` and return its index.html. `out` is a new or empty folder,
    or an earlier site (which it replaces); any other folder is refused with a RunError."""
    _prepare_site(Path(out), run_dirs)
    data = out / "data"
    runs = []
    for index, run_dir in enumerate(run_dirs):
        with RunStore(run_dir, read_only=True) as store:
            loop = store.meta("loop")
            run = {"dir": str(run_dir), "loop": loop, "model": store.meta("model"), "family": store.meta("family")}
            run.update(loop_part(store, "page", "looplab view")(store, index, data))
            if run["kind"] == "grow" and run["report"]:
                run["report"] = str((Path(run_dir) / "report.html").resolve())
            # the pages other commands wrote for this run, linked from the index
            run["pages"] = {page: (Path(run_dir) / page).resolve().as_uri()
                            for page in ("comparison.html", "analysis.html", "report.html")
                            if (Path(run_dir) / page).is_file()}
            runs.append(run)
    page = PAGE.replace("/*CSP*/", csp_meta(SCRIPT, loads_scripts=True)).replace(
        "/*STYLE*/", STYLE + VIEW_STYLE).replace("/*RUNS*/", script_json(runs)).replace("/*SCRIPT*/", SCRIPT)
    (out / "index.html").write_text(page)
    return out / "index.html"


VIEW_STYLE = """
nav a{margin-right:12px}.muted{color:#777}.pass{background:#d9f2dd}.fail{background:#f8dcdc}
.matrix td{text-align:center;cursor:pointer;min-width:46px}.matrix td:first-child{text-align:left;cursor:default}
.side{display:flex;gap:16px;align-items:flex-start}.side>div{flex:1;min-width:0}
pre{background:#f6f6f6;padding:8px;overflow:auto;max-height:420px;white-space:pre-wrap;word-break:break-word}
.step{border:1px solid #ddd;border-radius:6px;padding:8px;margin:8px 0}.step h4{margin:0 0 6px 0;font-size:14px}
.add{color:#116611}.del{color:#aa1111}.feedback{margin:4px 0}
details{margin:4px 0}summary{cursor:pointer}select,input{font:inherit;margin-right:8px}
.tablewrap{overflow-x:auto;max-width:100%}
"""

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
/*CSP*/
<title>looplab view</title><style>/*STYLE*/</style></head><body>
<h1>looplab view</h1><nav id="nav"></nav><main id="main"></main>
<script id="runs" type="application/json">/*RUNS*/</script>
<script>/*SCRIPT*/</script></body></html>
"""

SCRIPT = r"""
const RUNS = JSON.parse(document.getElementById('runs').textContent);
const cache = {}, waiting = {};
window.LOOPLAB = {loaded(key, value) { cache[key] = value; (waiting[key] || []).forEach(f => f(value)); }};
function load(run, id) {
  const key = run + '/' + id;
  return new Promise(resolve => {
    if (key in cache) return resolve(cache[key]);
    (waiting[key] = waiting[key] || []).push(resolve);
    const s = document.createElement('script');
    s.src = 'data/' + RUNS[run].files[id];
    document.head.appendChild(s);
  });
}
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'onclick') e.addEventListener('click', v); else if (k === 'class') e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c == null ? '' : String(c)));
  return e;
}
function pct(x) { return x == null ? '-' : (100 * x).toFixed(1) + '%'; }
function params() { return Object.fromEntries(new URLSearchParams(location.hash.slice(1))); }
function go(p) { location.hash = new URLSearchParams(p).toString(); }
const main = document.getElementById('main');

function headline(r) {
  if (r.kind === 'grow') {
    const last = r.metrics[r.metrics.length - 1];
    return last ? `${last.nodes} nodes, ${last.edges} edges` : '-';
  }
  const scored = Object.entries(r.policies).filter(([, p]) => p.pass_at_1 !== null);
  if (!scored.length) return '-';
  const [name, best] = scored.reduce((a, b) => (b[1].pass_at_1 > a[1].pass_at_1 ? b : a));
  return `best pass@1 ${(100 * best.pass_at_1).toFixed(1)}% (${name})`;
}
function home() {
  main.replaceChildren(el('h2', {}, 'Runs'), table(['run', 'loop', 'model', 'tasks', 'headline', 'pages', ''],
    RUNS.map((r, i) => [
      r.dir, r.loop + (r.family ? ' (' + r.family + ')' : ''), r.model,
      r.kind === 'solve' ? Object.keys(r.tasks).length : r.metrics.length + ' iterations', headline(r),
      el('span', {}, ...Object.entries(r.pages).map(([page, uri]) => el('a', {href: uri}, page.replace('.html', '') + ' '))),
      el('a', {href: '#run=' + i}, 'open')])));
}
function table(head, rows) {
  return el('div', {class: 'tablewrap'}, el('table', {}, el('tr', {}, ...head.map(h => el('th', {}, h))),
    ...rows.map(r => el('tr', {}, ...r.map(c => c instanceof Node && c.tagName === 'TD' ? c : el('td', {}, c))))));
}
function solveRun(i, filter) {
  const r = RUNS[i], names = Object.keys(r.policies);
  const box = el('input', {id: 'filter', placeholder: 'filter tasks', value: filter || ''});
  const ids = Object.keys(r.tasks).filter(t => !filter || t.toLowerCase().includes(filter.toLowerCase()))
    .sort((x, y) => x.localeCompare(y, undefined, {numeric: true}));  // HumanEval/9 before HumanEval/10
  box.addEventListener('change', () => go({run: i, filter: box.value}));
  main.replaceChildren(
    el('h2', {}, r.dir), el('p', {class: 'muted'}, `${r.loop} · ${r.family || ''} · ${r.model}`),
    table(['policy', 'tasks', 'pass@1 (hidden)', 'passed visible', 'tokens', 'calls', 'task s, summed'],
      names.map(n => { const p = r.policies[n];
        return [n, p.tasks, pct(p.pass_at_1), p.passed_visible, p.tokens.toLocaleString(), p.calls, p.wall_seconds]; })),
    ...(r.optimize ? optimizeSections(r.optimize) : []),
    el('h3', {}, `Tasks (${ids.length})`), box,
    table(['task', ...names], ids.map(t => [t, ...names.map(n => {
      const o = r.tasks[t][n];
      if (!o) return el('td', {class: 'muted'}, '·');
      return el('td', {class: o.hidden ? 'pass' : 'fail', title: `${n}: ${o.tokens} tokens, ${o.calls} calls`,
                       onclick: () => go({run: i, task: t, a: n})}, o.hidden ? 'pass' : 'fail');
    })])));
}
function diffPre(lines) {
  const pre = el('pre', {class: 'diff'});
  for (const line of lines) pre.append(el('span', {class: line[0] === '+' ? 'add' : line[0] === '-' ? 'del' : ''}, line + '\n'));
  return pre;
}
function optimizeSections(o) {
  const prompts = c => Object.keys(c.diff).length
    ? el('details', {}, el('summary', {}, 'diff against its parent'),
        ...Object.entries(c.diff).map(([name, lines]) => el('div', {}, el('b', {}, name), diffPre(lines))))
    : el('details', {}, el('summary', {}, 'prompts'),
        ...Object.entries(c.texts).map(([name, t]) => el('div', {}, el('b', {}, name), el('pre', {}, t || '(the family\'s own)'))));
  const parts = [el('h3', {}, 'Candidates'),
    table(['candidate', 'parent', 'changed', `validation (${o.val_tasks} tasks)`, 'Pareto front', 'prompts'],
      o.candidates.map(c => [c.id, c.parent == null ? '-' : c.parent, c.component || '(the seed)', pct(c.val),
                             c.pareto ? 'yes' : '', prompts(c)])),
    el('h3', {}, `Proposals (${o.proposals.length})`),
    table(['round', 'parent', 'component', 'status', 'reason', 'text'],
      o.proposals.map(p => [p.round, p.parent, p.component, p.status, p.reason,
                            el('details', {}, el('summary', {}, 'text'), el('pre', {}, p.text))]))];
  if (o.test) parts.push(el('h3', {}, `Test split (${o.test.tasks} tasks, never seen by the search)`),
    table(['seed', 'best', 'best won', 'best lost', 'sign test p'],
          [[pct(o.test.seed), pct(o.test.best), o.test.won, o.test.lost, o.test.p.toFixed(3)]]));
  if (Array.isArray(o.baselines)) parts.push(el('h3', {}, 'Baselines at the same metric-call budget (test split, each against its seed)'),
    table(['search', 'best candidate', 'validation', 'seed', 'best', 'won', 'lost', 'sign test p', 'metric calls', 'reflector calls'],
          o.baselines.map(b => [b.search, b.best, pct(b.validation), pct(b.seed), pct(b.test), b.won, b.lost,
                                b.p == null ? '-' : b.p.toFixed(3), b.metric_calls, b.reflector_calls])));
  return parts;
}
function choices(task) {
  const out = [];
  RUNS.forEach((r, i) => { if (r.kind === 'solve' && r.tasks[task]) for (const n of Object.keys(r.tasks[task])) out.push(i + ':' + n); });
  return out;
}
async function taskView(p) {
  const i = +p.run, task = p.task, options = choices(task);
  const a = p.a.includes(':') ? p.a : i + ':' + p.a, b = p.b || '';
  const pick = (value, name) => {
    const s = el('select', {id: 'pick-' + name}, el('option', {value: ''}, name === 'b' ? '(none: one column)' : ''),
      ...options.map(o => { const [ri, pol] = o.split(/:(.*)/s);
        const op = el('option', {value: o}, (RUNS.length > 1 ? RUNS[ri].dir + ' · ' : '') + pol);
        if (o === value) op.selected = true; return op; }));
    s.addEventListener('change', () => go({...params(), [name]: s.value}));
    return s;
  };
  const columns = el('div', {class: 'side'});
  main.replaceChildren(el('p', {}, el('a', {href: '#run=' + i}, '← ' + RUNS[i].dir)), el('h2', {}, task),
    el('p', {}, 'policy ', pick(a, 'a'), ' beside ', pick(b, 'b')), columns);
  for (const which of [a, b].filter(Boolean)) {
    const [ri, policy] = which.split(/:(.*)/s);
    const record = (await load(+ri, task))[policy];
    columns.append(attemptTree(policy, record));
  }
}
function attemptTree(policy, rec) {
  const box = el('div', {class: 'policy'}), o = rec.outcome || {};
  box.append(el('h3', {}, policy), el('p', {class: 'muted'},
    `hidden ${o.hidden ? 'PASS' : 'fail'}, visible ${o.visible ? 'pass' : 'fail'}, ${o.tokens} tokens, ${o.calls} calls`));
  const calls = Object.fromEntries(rec.calls.map(c => [c.id, c]));
  const depth = {};
  for (const s of rec.steps) {
    depth[s.step] = s.parent == null || !(s.parent in depth) ? 0 : depth[s.parent] + 1;
    const head = el('h4', {}, `#${s.step} ${s.kind}`, s.parent != null ? el('span', {class: 'muted'}, ` ← #${s.parent}`) : '',
      el('span', {class: 'muted'}, ` · ${s.tokens} tokens so far`));
    const card = el('div', {class: 'step', style: `margin-left:${Math.min(depth[s.step], 8) * 18}px`}, head);
    for (const [name, f] of Object.entries(s.feedback))
      card.append(el('div', {class: 'feedback ' + (f.passed ? 'pass' : 'fail')}, `${name}: ${f.passed ? 'pass' : 'fail'} (score ${f.score.toFixed(2)})`),
        el('details', {}, el('summary', {}, 'feedback text'), el('pre', {}, f.text)));
    if (s.diff.length) card.append(el('details', {open: ''}, el('summary', {}, 'diff against its parent'), diffPre(s.diff)));
    const shown = el('details', {}, el('summary', {}, 'candidate'), el('pre', {}, s.candidate));
    shown.open = !s.diff.length;  // the first attempt in full; later ones as a diff, the full text a click away
    card.append(shown);
    const call = calls[s.call];
    if (call) card.append(callView(call));
    box.append(card);
  }
  return box;
}
function callView(c) {
  return el('details', {class: 'call'}, el('summary', {},
      `model call ${c.seq}: ${c.prompt_tokens} + ${c.completion_tokens} tokens, ${c.latency.toFixed(2)} s, ${c.finish}`),
    ...c.messages.map(m => el('div', {}, el('b', {}, m.role), el('pre', {}, m.content))),
    el('div', {}, el('b', {}, 'reply'), el('pre', {}, c.response)));
}
function growRun(i) {
  const r = RUNS[i], cols = ['iteration', 'nodes', 'edges', 'mean_degree', 'modularity', 'merges', 'parse_failures',
    'truncated', 'topic_similarity', 'seconds'];
  main.replaceChildren(el('h2', {}, r.dir), el('p', {class: 'muted'}, `grow · ${r.model}`),
    r.report ? el('p', {}, el('a', {href: 'file://' + r.report}, 'graph report and viewer')) : '',
    table(cols, r.metrics.map(m => cols.map(c => c === 'iteration'
      ? el('a', {href: `#run=${i}&iter=${m.iteration}`}, m.iteration)
      : typeof m[c] === 'number' && !Number.isInteger(m[c]) ? m[c].toFixed(3) : m[c]))));
}
async function iterationView(p) {
  const i = +p.run, it = await load(i, p.iter);
  main.replaceChildren(el('p', {}, el('a', {href: '#run=' + i}, '← ' + RUNS[i].dir)),
    el('h2', {}, `Iteration ${it.iteration} (${it.status})`),
    el('h3', {}, 'Question'), el('pre', {}, it.question), el('h3', {}, 'Answer'), el('pre', {}, it.answer),
    el('h3', {}, 'Local graph'), el('pre', {}, JSON.stringify(it.local_graph, null, 1)),
    el('h3', {}, `Merges (${it.merges.length})`),
    table(['name', 'merged into', 'how', 'similarity'], it.merges.map(m => [m.name, m.node, m.method, m.similarity.toFixed(3)])),
    el('h3', {}, 'Next question'), el('pre', {}, `${it.next_question} (${it.question_source})`),
    el('h3', {}, 'Model calls'), ...it.calls.map(callView));
}
function route() {
  const p = params();
  document.getElementById('nav').replaceChildren(el('a', {href: '#'}, 'all runs'));
  if (p.run === undefined || !RUNS[+p.run]) return home();
  const r = RUNS[+p.run];
  if (r.kind === 'grow') return p.iter !== undefined && r.files[p.iter] ? iterationView(p) : growRun(+p.run);
  if (p.task !== undefined && r.files[p.task]) return taskView(p);
  return solveRun(+p.run, p.filter);
}
window.addEventListener('hashchange', route);
route();
"""
