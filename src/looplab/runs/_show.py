"""`looplab show`: one task's steps as a tree (parent links), with each source's feedback, and what
changed between an attempt and its parent as a diff."""
from __future__ import annotations

import difflib
from pathlib import Path

from rich.console import Group
from rich.text import Text
from rich.tree import Tree

from ._loops import loop_part, register_loop_part
from ._store import RunError, RunStore


def terminal_safe(text: str) -> str:
    """Text from outside (models, servers, files) without control characters a terminal would obey.

    >>> terminal_safe("red\\x1b[31m text\\n")
    'red\\ufffd[31m text\\n'
    """
    return "".join(c if c in "\n\t" or c.isprintable() else "\ufffd" for c in text)


def _clip(text: str, full: bool, lines: int = 3) -> str:
    """The first lines of a text; for code, from its last top-level `def` (the function asked for
    comes after the prompt's imports and helpers, which models tend to repeat)."""
    all_lines = terminal_safe(text).strip().splitlines()
    if full:
        return "\n".join(all_lines)
    start = max((i for i, line in enumerate(all_lines) if line.startswith("def ")), default=0)
    head = all_lines[start:start + lines]
    more = len(all_lines) - len(head)
    return "\n".join(head) + (f"\n… {more} more lines" if more > 0 else "")


def _diff(before: str, after: str, full: bool, lines: int = 12) -> Text:
    """What changed from the parent candidate, as a unified diff (coloured)."""
    if before == after:
        return Text("(unchanged: the same candidate as its parent)", style="magenta")
    changed = list(difflib.unified_diff(terminal_safe(before).splitlines(), terminal_safe(after).splitlines(),
                                        lineterm="", n=1))[2:]
    if not full and len(changed) > lines:
        changed = changed[:lines] + [f"… {len(changed) - lines} more diff lines"]
    text = Text()
    for line in changed:
        style = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
        text.append(line + "\n", style=style)
    return text


def show_task(run_dir: str | Path, task_id: str, *, policy: str | None = None, full: bool = False) -> Group:
    """One task's steps, for every policy that ran it (or one), as rich renderables.

    Opens the record read-only, so it works while another process is still writing the run.
    """
    with RunStore(run_dir, read_only=True) as store:
        return loop_part(store, "show", "looplab show")(store, task_id, policy, full)


def named_policy(store: RunStore, given: str) -> str:
    """The run's policy `given` names: its full name (`refine(k=3)`), or its strategy when the run holds one
    policy of it; otherwise a RunError listing the run's policies."""
    recorded = store.policies()
    names = [name for name, _ in recorded]
    if given in names:
        return given
    same = [name for name, config in recorded if config.get("strategy") == given]
    if len(same) == 1:
        return same[0]
    raise RunError(f"{store.dir} holds " + (f"several {given} policies" if same else f"no policy {given!r}") +
                   f"; name one of: {', '.join(same or names)}")


def _show_solve(store: RunStore, task_id: str, policy: str | None, full: bool) -> Group:
    policies = store.task_policies(task_id)
    if policy is not None:
        policy = named_policy(store, policy)
        policies = [p for p in policies if p == policy]
    if not policies:
        raise RunError(f"no steps recorded for {task_id}" + (f" under policy {policy!r}" if policy else "")
                       + "; task ids are as the run names them, e.g. HumanEval/3, shop/07, gsm_symbolic/4")
    return Group(*[_policy_tree(store, name, task_id, full) for name in policies])


register_loop_part("solve", "show", _show_solve)


def _policy_tree(store: RunStore, name: str, task_id: str, full: bool) -> Tree:
    outcome = store.outcomes(name).get(task_id)
    head = Text.assemble((name, "bold"), f" {task_id}: ")
    if outcome:
        head.append(f"hidden {'PASS' if outcome.passed_hidden else 'fail'}, visible "
                    f"{'pass' if outcome.passed_visible else 'fail'}, {outcome.tokens} tokens, "
                    f"{outcome.calls} calls, {outcome.seconds:.1f} s")
    else:
        head.append("not finished")
    root = Tree(head)
    nodes: dict[int, Tree] = {}
    candidates: dict[int, str] = {}
    for step in store.steps(name, task_id):
        label = Text(f"#{step.step} {step.kind}  [{step.tokens} tokens, {step.calls} calls]", style="bold")
        for source, fb in step.feedback.items():
            counts = f" {fb.details['passed']}/{fb.details['total']}" if "total" in fb.details else ""
            label.append(f"  {source}{counts} score {fb.score:.2f} {'PASS' if fb.passed else 'fail'}",
                         style="green" if fb.passed else "red")
        parent = step.parent
        if step.is_attempt and parent in candidates:
            body = [label, _diff(candidates[parent], step.candidate, full)]
        else:
            body = [label, Text(_clip(step.candidate, full), style="dim")]
        if step.is_attempt:
            candidates[step.step] = step.candidate
        for fb in step.feedback.values():
            if not fb.passed:
                body.append(Text(_clip(fb.text, full, lines=4), style="yellow"))
        nodes[step.step] = nodes.get(parent, root).add(Group(*body))
    return root
