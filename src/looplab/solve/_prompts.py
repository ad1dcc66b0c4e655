"""Every prompt the solve policies send. Short prompts keep a small model on track."""
from __future__ import annotations

import re

from ..models import Message
from ..tasks import CodeTask

SYSTEM = ("You are an expert Python programmer. Complete the function the user gives you. Reply with the "
          "complete function, including the imports it needs, in one ```python code block and nothing else.")
THINKER = "You are an expert Python programmer. Answer briefly, in plain sentences, without code."
TESTER = "You are an expert Python tester."


def _code(code: str) -> str:
    return f"```python\n{code}\n```"


def _chat(system: str, user: str) -> list[Message]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _answer_to(task: CodeTask, code: str, reply: str) -> list[Message]:
    """The attempt as the model's own turn, then the user's reply to it."""
    return _chat(SYSTEM, task.prompt) + [{"role": "assistant", "content": _code(code)},
                                         {"role": "user", "content": reply}]


def first_messages(task: CodeTask) -> list[Message]:
    return _chat(SYSTEM, task.prompt)


def revision_messages(task: CodeTask, code: str, feedback: str, advice: str = "") -> list[Message]:
    advice = f"\nAdvice: {advice}\n" if advice else ""
    return _answer_to(task, code, f"I ran your function and it is not right yet.\n{feedback}\n{advice}\n"
                                  "Fix the function. Reply with the complete corrected function in one "
                                  "```python code block.")


def rewrite_messages(task: CodeTask, feedback: str) -> list[Message]:
    """A fresh start that knows what went wrong, without the failed code to copy from."""
    return _chat(SYSTEM, f"{task.prompt}\n\nAn earlier implementation of this function was wrong:\n"
                         f"{feedback}\n\nWrite a new implementation that gets these cases right.")


def try_again_messages(task: CodeTask, code: str) -> list[Message]:
    return _answer_to(task, code, "That is not right. Try again.")


def reflection_messages(task: CodeTask, code: str, feedback: str) -> list[Message]:
    return _chat(THINKER, f"Task:\n{task.prompt}\nAn implementation:\n{_code(code)}\n"
                          f"Test results:\n{feedback}\n\nIn two or three sentences: why is this "
                          "implementation wrong, and what must the next one do differently?")


def reflexion_messages(task: CodeTask, code: str, feedback: str, lessons: list[str]) -> list[Message]:
    notes = "\n".join(f"{i}. {lesson}" for i, lesson in enumerate(lessons, 1))
    return _chat(SYSTEM, f"{task.prompt}\n\nYour last implementation:\n{_code(code)}\n"
                         f"Test results:\n{feedback}\n\nLessons from your earlier attempts:\n"
                         f"{notes}\n\nWrite a corrected implementation that follows the lessons.")


def tests_messages(task: CodeTask) -> list[Message]:
    return _chat(TESTER, f"{task.prompt}\n\nWrite 5 tests for `{task.entry_point}` as assert statements, one "
                         f"per line, like `assert {task.entry_point}(...) == ...`, covering normal and edge cases. "
                         "Work out each expected value carefully from the description. Reply with one "
                         "```python code block.")


def strategies_messages(task: CodeTask, count: int) -> list[Message]:
    return _chat(THINKER, f"{task.prompt}\n\nPropose {count} different strategies to implement "
                          f"`{task.entry_point}`, as a numbered list, one sentence each.")


def strategy_messages(task: CodeTask, strategy: str) -> list[Message]:
    return _chat(SYSTEM, f"{task.prompt}\n\nImplement it with this strategy: {strategy}")


def critic_messages(task: CodeTask, code: str, feedback: str, visible_passed: bool) -> list[Message]:
    if visible_passed:
        question = ("The examples pass, but tests written for the task fail. Decide whether the code is right. "
                    "Reply ACCEPT if the failing tests are wrong, or REFINE: <what to change> if the code is wrong.")
    else:
        question = ("Decide what to do with this implementation. Reply REFINE: <what to change> if it is close, "
                    "or ABANDON: <why> if its approach cannot work.")
    return _chat(THINKER, f"Task:\n{task.prompt}\nImplementation:\n{_code(code)}\nTest results:\n"
                          f"{feedback}\n\n{question}")


def next_steps_messages(task: CodeTask, thoughts: list[str], count: int) -> list[Message]:
    plan = _plan(thoughts) or "(no steps yet)"
    return _chat(THINKER, f"{task.prompt}\n\nPlan so far:\n{plan}\n\nPropose {count} different "
                          "possible next steps of the plan, as a numbered list, one sentence each.")


def plan_code_messages(task: CodeTask, thoughts: list[str]) -> list[Message]:
    return _chat(SYSTEM, f"{task.prompt}\n\nFollow this plan:\n{_plan(thoughts)}")


def self_evaluation_messages(task: CodeTask, thoughts: list[str]) -> list[Message]:
    return _chat(THINKER, f"{task.prompt}\n\nPlan:\n{_plan(thoughts)}\n\nHow likely is this plan to "
                          "give a correct implementation? Reply with one number from 0 to 10.")


def rethink_messages(task: CodeTask, thoughts: list[str], code: str, feedback: str) -> list[Message]:
    return _chat(THINKER, f"{task.prompt}\n\nPlan:\n{_plan(thoughts)}\n\nCode written from this "
                          f"plan:\n{_code(code)}\nTest results:\n{feedback}\n\nThe last step of the "
                          f"plan led to this error. Rewrite step {len(thoughts)} so that it is "
                          "correct. Reply with the new step only, in one sentence.")


def mutation_messages(task: CodeTask, code: str, feedback: str, lessons: str) -> list[Message]:
    return _chat(SYSTEM, f"{task.prompt}\n\nA candidate implementation:\n{_code(code)}\n"
                         f"Test results:\n{feedback}\n{lessons}\nChange the candidate to fix it. "
                         "First write one line `Change: <what you change>`, then the complete "
                         "function in one ```python code block.")


def crossover_messages(task: CodeTask, first: tuple[str, str], second: tuple[str, str], lessons: str) -> list[Message]:
    (code_a, feedback_a), (code_b, feedback_b) = first, second
    return _chat(SYSTEM, f"{task.prompt}\n\nCandidate A:\n{_code(code_a)}\nResults of A:\n"
                         f"{feedback_a}\n\nCandidate B:\n{_code(code_b)}\nResults of B:\n"
                         f"{feedback_b}\n{lessons}\nCombine what each does right into one "
                         "implementation. First write one line `Change: <what you combine>`, then "
                         "the complete function in one ```python code block.")


def _plan(thoughts: list[str]) -> str:
    return "\n".join(f"{i}. {t}" for i, t in enumerate(thoughts, 1))


_ITEM = re.compile(r"^\s*(?:\d+[.)]|[-*])\s+(.+?)\s*$")


def numbered_items(reply: str, limit: int) -> list[str]:
    """The items of a numbered or bulleted list in a reply, at most `limit`, without duplicates."""
    items = []
    for line in reply.splitlines():
        match = _ITEM.match(line)
        item = match.group(1).replace("**", "") if match else ""
        if len(item) > 3 and item not in items:
            items.append(item)
    return items[:limit]
