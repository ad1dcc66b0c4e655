"""`looplab show`: one task's steps as a tree (parent links), with feedback, scores and tokens."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from rich.console import Group
from rich.text import Text
from rich.tree import Tree

from ._store import RunError


def _clip(text: str, full: bool, lines: int = 3) -> str:
    """The first lines of a text; for code, from its last top-level `def` (the function asked for
    comes after the prompt's imports and helpers, which models tend to repeat)."""
    all_lines = text.strip().splitlines()
    if full:
        return "\n".join(all_lines)
    start = max((i for i, line in enumerate(all_lines) if line.startswith("def ")), default=0)
    head = all_lines[start:start + lines]
    more = len(all_lines) - len(head)
    return "\n".join(head) + (f"\n… {more} more lines" if more > 0 else "")


def show_task(run_dir: str | Path, task_id: str, *, policy: str | None = None, full: bool = False) -> Group:
    # Read-only: showing a run must work while another process is still writing it.
    db = sqlite3.connect(f"file:{Path(run_dir) / 'run.sqlite'}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    policies = [r[0] for r in db.execute("SELECT DISTINCT policy FROM steps WHERE task_id = ? ORDER BY id",
                                         (task_id,))]
    if policy is not None:
        policies = [p for p in policies if p == policy]
    if not policies:
        raise RunError(f"no steps recorded for {task_id}" + (f" under policy {policy!r}" if policy else ""))
    trees = []
    for name in policies:
        outcome = db.execute("SELECT * FROM outcomes WHERE policy = ? AND task_id = ?", (name, task_id)).fetchone()
        if outcome:
            head = (f"[bold]{name}[/bold] {task_id}: hidden {'PASS' if outcome['passed_hidden'] else 'fail'}, "
                    f"visible {'pass' if outcome['passed_visible'] else 'fail'}, {outcome['tokens']} tokens, "
                    f"{outcome['calls']} calls, {outcome['seconds']:.1f} s")
        else:
            head = f"[bold]{name}[/bold] {task_id}: not finished"
        root = Tree(head)
        feedback: dict[int, list[sqlite3.Row]] = {}
        for row in db.execute("SELECT * FROM feedback WHERE policy = ? AND task_id = ? ORDER BY id", (name, task_id)):
            feedback.setdefault(row["step"], []).append(row)
        nodes: dict[int, Tree] = {}
        for step in db.execute("SELECT * FROM steps WHERE policy = ? AND task_id = ? ORDER BY step", (name, task_id)):
            label = Text(f"#{step['step']} {step['kind']}  [{step['tokens']} tokens, {step['calls']} calls]",
                         style="bold")
            for fb in feedback.get(step["step"], []):
                details = json.loads(fb["details"])
                counts = f" {details['passed']}/{details['total']}" if "total" in details else ""
                label.append(f"  {fb['source']}{counts} score {fb['score']:.2f} {'PASS' if fb['passed'] else 'fail'}",
                             style="green" if fb["passed"] else "red")
            body = [label, Text(_clip(step["candidate"], full), style="dim")]
            for fb in feedback.get(step["step"], []):
                if not fb["passed"]:
                    body.append(Text(_clip(fb["text"], full, lines=4), style="yellow"))
            parent = nodes.get(step["parent"]) if step["parent"] is not None else None
            nodes[step["step"]] = (parent or root).add(Group(*body))
        trees.append(root)
    db.close()
    return Group(*trees)
