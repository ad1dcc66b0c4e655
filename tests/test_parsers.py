"""Every reader of model text runs in time linear in its input. Each parser gets pathological input (a
megabyte of whitespace, unclosed fences, thousands of backticks, deep nesting) in a subprocess of its own
with a generous limit: a reader that backtracks quadratically takes hours on a megabyte, a linear one
well under a second, so a regression fails here whatever the machine's speed."""
import subprocess
import sys

import pytest

MB = 1_000_000
INPUTS = """[
    " " * MB, "\\n" * MB, " \\n" * (MB // 2), "```" + " " * MB, "```python\\n" + " " * MB, "```" * (MB // 3),
    "```\\n" * (MB // 4), "The answer" + " " * MB + "x", "answer" * (MB // 6), "Answer: " + "*." * (MB // 2),
    "VERDICT" + " " * MB, "VERDICT:" + "*" * MB, "1. a" + " " * MB + "b", "- " + " " * MB, "change" + " " * MB,
    "[" * MB, "{" * MB, "(" * MB, "\\\\boxed{" * (MB // 7), '{"nodes": [' + '{"id": "x", ' * (MB // 12),
    "@@looplab-check@@ " + "[" * MB, "question" + " " * MB + "?", "NOT YET" + " " * MB,
]"""

PARSERS = {
    "fenced_blocks": "from looplab._text import fenced_blocks as parse",
    "extract_code": "from looplab.tasks import extract_code\nparse = lambda t: extract_code(t, 'f')",
    "extract_sql": "from looplab.tasks import extract_sql as parse",
    "extract_answer": "from looplab.tasks import extract_answer as parse",
    "property_code": "from looplab.feedback._properties import property_code as parse",
    "judge verdict": "from looplab.feedback._judge import _VERDICT\nparse = lambda t: (_VERDICT.search(t), _VERDICT.sub('', t, count=1))",
    "user verdict": "from looplab.feedback._user import _VERDICT, leaks\nparse = lambda t: (_VERDICT.match(t), leaks(t, 'return a + b + c * d - e'))",
    "search verdict": "from looplab.solve._search import _VERDICT, _NUMBER\nparse = lambda t: (_VERDICT.search(t), _NUMBER.search(t))",
    "evolve change": "from looplab.solve._policies import _CHANGE\nparse = _CHANGE.search",
    "numbered_items": "from looplab.solve._prompts import numbered_items\nparse = lambda t: numbered_items(t, 5)",
    "grow graph": "from looplab.grow._parse import GraphParseError, parse_graph\n"
                  "def parse(t):\n    try:\n        parse_graph(t)\n    except GraphParseError:\n        pass",
    "grow question": "from looplab.grow._prompts import only_the_question as parse",
    "repeat_start": "from looplab.models._base import repeat_start as parse",
    "check rows": "from looplab.sandbox import reported as parse",
    "parse_python": "from looplab._python import parse_python\n"
                    "def parse(t):\n    try:\n        parse_python(t)\n    except SyntaxError:\n        pass",
}


@pytest.mark.parametrize("name", list(PARSERS))
def test_each_reader_of_model_text_is_linear_on_pathological_input(name):
    program = f"{PARSERS[name]}\nMB = {MB}\nfor text in {INPUTS}:\n    parse(text)\nprint('done')\n"
    try:
        result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{name} did not finish within 60 s on the pathological inputs")
    assert result.returncode == 0 and result.stdout.strip() == "done", result.stderr[-2000:]
