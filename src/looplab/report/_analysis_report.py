"""`looplab analyze`: analysis.csv and analysis.html."""
from __future__ import annotations

import csv
import html
from pathlib import Path

from ._compare_report import STYLE
from ._csp import csp_meta

COLUMNS = ["policy", "family", "deciding_source", "tasks", "pass_at_1", "revisions_after_failure", "friction",
           "copy_back", "right_to_wrong", "wrong_to_right", "right_to_wrong_deceived", "wrong_to_right_deceived",
           "flip_rate", "flip_rate_deceived", "passed_visible_failed_hidden", "category_spread",
           "worst_category", "category_pass_at_1", "pass_at_1_by_attempts", "leaks_withheld", "family_measures"]
EXPLAINED = {
    "friction": "of the revisions made after feedback named a failure, the share that still fails it",
    "copy_back": "of those revisions, the share the model handed back unchanged",
    "right_to_wrong": "child attempts that fail the hidden test where their parent passed it",
    "wrong_to_right": "child attempts that pass the hidden test where their parent failed it",
    "right_to_wrong_deceived": "the same, after feedback a deceptive judge gave (wrong_to_right_deceived likewise)",
    "flip_rate": "of the right attempts revised after honest feedback, the share whose revision is wrong",
    "flip_rate_deceived": "the same after feedback a deceptive judge gave",
    "passed_visible_failed_hidden": "answers that pass every visible check and fail the hidden test",
    "category_spread": "standard deviation of pass@1 across task categories",
    "pass_at_1_by_attempts": "pass@1 had the policy stopped after 1, 2, ... attempts",
    "family_measures": "the task family's own measures over the final answers' hidden scores (analysis.csv)",
}


def _flat(value) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}={v:.3f}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(f"{v:.3f}" for v in value)
    if isinstance(value, float):
        return f"{value:.4f}"
    return "" if value is None else str(value)


# The page's columns, in words (the CSV keeps every column); family and deciding source go in the caption.
PAGE_COLUMNS = {"policy": "policy", "tasks": "tasks", "pass_at_1": "pass@1", "revisions_after_failure":
                "revisions after failure", "friction": "friction", "copy_back": "copy-back", "wrong_to_right":
                "wrong → right", "right_to_wrong": "right → wrong", "flip_rate": "flip rate", "flip_rate_deceived":
                "flip rate, deceived", "passed_visible_failed_hidden": "visible pass, hidden fail",
                "pass_at_1_by_attempts": "pass@1 after 1, 2, ... attempts", "worst_category": "worst category",
                "leaks_withheld": "leaks withheld"}
SHARES = {"pass_at_1", "friction", "copy_back", "flip_rate", "flip_rate_deceived", "category_spread",
          "category_pass_at_1", "pass_at_1_by_attempts"}


def _shown(column: str, value) -> str:
    """A cell of the page: shares as whole percentages (the CSV keeps the fractions).

    >>> _shown("friction", 0.4), _shown("pass_at_1_by_attempts", [0.4, 0.5]), _shown("category_pass_at_1", {"joins": 0.25})
    ('40%', '40 / 50%', 'joins 25%')
    """
    if column not in SHARES or value is None:
        return _flat(value)
    if isinstance(value, dict):
        return "; ".join(f"{k} {100 * v:.0f}%" for k, v in value.items())
    if isinstance(value, list):
        return " / ".join(f"{100 * v:.0f}" for v in value) + "%"
    return f"{100 * value:.0f}%"


def write_analysis(run_dir: str | Path, rows: list[dict]) -> tuple[Path, Path]:
    run_dir = Path(run_dir)
    csv_path, html_path = run_dir / "analysis.csv", run_dir / "analysis.html"
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        writer.writerows([_flat(r.get(c)) for c in COLUMNS] for r in rows)
    head = "".join(f"<th>{html.escape(title)}</th>" for title in PAGE_COLUMNS.values())
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_shown(c, r.get(c)))}</td>" for c in PAGE_COLUMNS) + "</tr>"
                   for r in rows)
    caption = "; ".join(sorted({f"{r.get('family')} tasks, decided by {r.get('deciding_source')}" for r in rows}))
    notes = "".join(f"<li><b>{html.escape(k.replace('_', ' '))}</b>: {html.escape(v)}</li>" for k, v in EXPLAINED.items())
    html_path.write_text(f"""<!doctype html><html><head><meta charset="utf-8">{csp_meta()}<title>looplab analysis</title>
<style>{STYLE} table{{font-size:12px}} th{{white-space:normal}} td:first-child{{white-space:nowrap}}</style></head><body><h1>What feedback did in this run</h1>
<p>Read from the record alone; attempts are scored by the hidden test after the loops, for this page only.
{html.escape(caption)}. Every column, with fractions, is in analysis.csv.</p>
<div style="overflow-x:auto"><table><tr>{head}</tr>{body}</table></div><ul>{notes}</ul></body></html>""")
    return csv_path, html_path
