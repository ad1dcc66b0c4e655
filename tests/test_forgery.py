"""A scorer that cannot be fooled: candidates that try to earn a pass they did not earn.

The candidate and the checks run in two processes (sandbox/_harness.py); every attempt below must be
scored a failure, on the hidden test and on the visible examples, while an honest solution passes.
"""
import pytest
from solve_fakes import problems

from looplab.sandbox import MARK, PASSED
from looplab.tasks import CodeFamily

HONEST = "def add(a, b):\n    return a + b"
FORGERIES = {
    "print the pass mark and exit at definition": (
        "import os\ndef add(a, b, _=(print(%r, flush=True), os._exit(0))):\n    return 0" % PASSED),
    "print the pass mark and exit when called": (
        "import os\ndef add(a, b):\n    print(%r, flush=True)\n    os._exit(0)" % PASSED),
    "print forged visible rows when called": (
        "import os\ndef add(a, b):\n    print(%r)\n    print(%r, flush=True)\n    os._exit(0)"
        % (MARK + '{"i": 0, "ok": true}', MARK + '{"i": 1, "ok": true}')),
    "sys.exit(0) during the check": "import sys\ndef add(a, b):\n    sys.exit(0)",
    "os._exit(0) during the check": "import os\ndef add(a, b):\n    os._exit(0)",
    "raise SystemExit at definition": "def add(a, b, _=exec('raise SystemExit(0)')):\n    return 0",
    "an object that equals everything": (
        "class Anything:\n    def __eq__(self, other):\n        return True\n    def __ne__(self, other):\n"
        "        return False\ndef add(a, b):\n    return Anything()"),
    "an int subclass that equals everything": (
        "class Sly(int):\n    def __eq__(self, other):\n        return True\n    __hash__ = int.__hash__\n"
        "def add(a, b):\n    return Sly(0)"),
    "replace builtins": (
        "import builtins\nbuiltins.AssertionError = type('Quiet', (Exception,), {})\n"
        "def add(a, b, _=setattr(builtins, 'abs', lambda x: 0)):\n    return 0"),
    "patch the check through the caller's frame": (
        "import sys\ndef add(a, b):\n    frame = sys._getframe(1)\n    frame.f_globals['check'] = lambda c: None\n"
        "    frame.f_globals['candidate'] = None\n    return 0"),
    "time out on purpose": "def add(a, b):\n    while True:\n        pass",
    "write the pass mark straight to descriptor 1": (
        "import os\ndef add(a, b):\n    os.write(1, (%r + '\\n').encode())\n    os._exit(0)" % PASSED),
    "write the pass mark to /dev/stdout": (
        "import os\ndef add(a, b):\n    open('/dev/stdout', 'w').write(%r + '\\n')\n    os._exit(0)" % PASSED),
    "write into the checker's stdout through /proc": (
        "import os\ndef add(a, b):\n    with open(f'/proc/{os.getppid()}/fd/1', 'w') as out:\n"
        "        out.write(%r + '\\n')\n    os._exit(0)" % PASSED),
    "kill the checker": "import os, signal\ndef add(a, b):\n    os.kill(os.getppid(), signal.SIGKILL)\n    return 0",
    "a result whose pickling runs code": (
        "import os\nclass Boom:\n    def __reduce__(self):\n        return (os.system, ('echo %s',))\n"
        "def add(a, b):\n    return Boom()" % PASSED),
    "return NotImplemented": "def add(a, b):\n    return NotImplemented",
    "a generator instead of a value": "def add(a, b):\n    yield a + b",
}


@pytest.fixture(scope="module")
def family(sandbox):
    return CodeFamily(sandbox.with_limits(timeout=3, cpu_seconds=2))


def test_an_honest_solution_passes(family):
    problem = problems()[0]
    assert family.score(problem, HONEST).passed
    assert family.checks.evaluate(problem.task, HONEST).passed


@pytest.mark.parametrize("name", list(FORGERIES))
def test_a_forgery_is_scored_a_failure(family, name):
    problem = problems()[0]
    candidate = FORGERIES[name]
    assert not family.score(problem, candidate).passed, name
    visible = family.checks.evaluate(problem.task, candidate)
    assert not visible.passed and visible.details["passed"] == 0, (name, visible)


def test_numpy_results_count_as_the_numbers_they_are(family):
    problem = problems()[0]
    assert family.score(problem, "import numpy as np\ndef add(a, b):\n    return np.int64(a) + np.int64(b)").passed


def test_what_the_candidate_raises_reaches_the_feedback_as_it_was(family):
    problem = problems()[0]
    feedback = family.checks.evaluate(problem.task, "def add(a, b):\n    return {}[a]")
    assert "add(1, 2) should return 3, but raised KeyError: 1" in feedback.text
    crash = family.checks.evaluate(problem.task, "def add(a, b):\n    return a +\n")
    assert "SyntaxError" in crash.text
