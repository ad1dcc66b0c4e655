"""`looplab compare`: comparison.csv and comparison.html (pass@1 against tokens, one curve per policy)."""
from __future__ import annotations

import csv
import html
from pathlib import Path

from ._csp import csp_meta
from ._svg import curves_chart

COLUMNS = ["policy", "tasks", "pass_at_1", "mean_tokens", "mean_calls", "wall_seconds", "best_of_n_at_equal_tokens",
           "wins_vs_best_of_n", "losses_vs_best_of_n", "sign_test_p", "generated_tests_correct",
           "generated_verdict_agreement"]

HEADERS = {"policy": "policy", "tasks": "tasks", "pass_at_1": "pass@1 (hidden)", "mean_tokens": "mean tokens",
           "mean_calls": "mean calls", "wall_seconds": "task s, summed", "best_of_n_at_equal_tokens": "best-of-N, same tokens",
           "wins_vs_best_of_n": "won vs best-of-N", "losses_vs_best_of_n": "lost vs best-of-N",
           "sign_test_p": "sign test p", "generated_tests_correct": "generated tests right",
           "generated_verdict_agreement": "generated verdict agrees"}
SHARES = {"pass_at_1", "best_of_n_at_equal_tokens", "generated_tests_correct", "generated_verdict_agreement"}

STYLE = """
body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px}table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}
th:first-child,td:first-child{text-align:left}.chart text{font-size:11px;fill:#555}.chart .title{font-size:13px;fill:#222}
.grid{stroke:#eee}
"""


def write_comparison(run_dir: str | Path, rows: list[dict], curves: list, reference: str | None, *,
                     model: str, budget: int, knobs: str) -> tuple[Path, Path]:
    """rows: one dict per policy with (some of) COLUMNS; curves: Curve objects; reference: best-of-n's policy name."""
    run_dir = Path(run_dir)
    csv_path, html_path = run_dir / "comparison.csv", run_dir / "comparison.html"
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)  # a column a row lacks stays empty
        writer.writeheader()
        writer.writerows(rows)
    series = [(c.policy + (" (reference)" if c.policy == reference else ""),
               list(zip(c.mean_tokens, [100 * p for p in c.pass_at_1])), c.policy == reference) for c in curves]
    chart = curves_chart(f"pass@1 (hidden) against tokens spent, budget {budget} tokens per task", series,
                         x_label="mean tokens spent per task", y_label="pass@1 (%)")

    def cell(column, value):
        if value is None or value == "":
            return "-"
        if column in SHARES:
            return f"{100 * value:.1f}%"
        if isinstance(value, float):
            return f"{value:,.3g}" if column == "sign_test_p" else f"{value:,.1f}"
        return html.escape(str(value))

    table = "".join("<tr>" + "".join(f"<td>{cell(c, r.get(c))}</td>" for c in COLUMNS) + "</tr>" for r in rows)
    html_path.write_text(f"""<!doctype html><html><head><meta charset="utf-8">{csp_meta()}<title>looplab comparison</title>
<style>{STYLE}</style></head><body>
<h1>Solve policies compared at equal budget</h1>
<p>Model {html.escape(model)}; {rows[0]['tasks'] if rows else 0} tasks; every policy ran with a budget of {budget}
tokens (prompt and completion) per task. Each curve is read off the policy's recorded trajectory: at a per-task cap
c, a task's answer is the best attempt made within c tokens (visible score first), scored by the hidden tests after
the run. The x axis is the mean tokens those capped runs spend per task. The dashed line is best-of-N, the
reference: a policy helps only where its curve lies above it. {html.escape(knobs)}</p>
{chart}
<div style="overflow-x:auto"><table style="font-size:13px"><tr>{''.join(f'<th>{HEADERS[c]}</th>' for c in COLUMNS)}</tr>{table}</table></div>
<p><b>best-of-N, same tokens</b>: best-of-N's pass@1 when it spends no more tokens per task on average than
the policy did. <b>won</b> and <b>lost vs best-of-N</b> count the tasks that the policy passes and best-of-N at
that spend fails, and the reverse; <b>sign test p</b> is the exact two-sided sign test on those two counts: a
small value means the difference is unlikely to be sampling luck. <b>generated tests right</b>: share of the
tests the model wrote (policies marked +tests) that the reference solution passes; <b>generated verdict
agrees</b>: how often "the answer passes every generated test" agreed with the hidden verdict. Both are
computed after the loop, for the record only. Hover over a point of the chart to see its values.</p>
</body></html>""")
    return csv_path, html_path
