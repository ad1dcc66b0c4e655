"""Math word problems and exercises from reasoning-gym's seeded generators. The answer is read from
the reply's `Answer:` line; the hidden score is the generator's own scorer, run in the sandbox: several
generators score by evaluating the answer (`eval`, sympy's `parse_expr`), and nothing a model wrote is
evaluated in looplab's process. Visible feedback on its own is only a format check: whether an answer
could be read at all."""
from __future__ import annotations

import base64
import functools
import importlib.metadata
import pickle
import queue
import re
from dataclasses import dataclass, field

from ..feedback import Feedback, FeedbackSource
from ..sandbox import MARK, Limits, Sandbox, SandboxService
from ._family import Problem, TaskError, Voice

DEFAULT_GENERATORS = ("gsm_symbolic", "basic_arithmetic", "fraction_simplification")
PER_GENERATOR = 100
SEED = 1

VOICE = Voice(
    system=("You are a careful mathematician. Work the problem out step by step, briefly, then end with one "
            "line `Answer: <final answer>` that holds only the final answer."),
    noun="answer", checked="I checked your answer", block=", ending with the line `Answer: <final answer>`",
    thinker="You are a careful mathematician. Answer briefly, in plain sentences.")


@dataclass(frozen=True)
class MathTask:
    id: str
    question: str
    category: str    # the generator


@dataclass(frozen=True)
class MathHidden:
    entry: dict = field(repr=False)   # the generator's item, answer included
    generator: str
    size: int                         # the size that dataset was made with (items depend on it)

    @functools.cached_property
    def sent(self) -> str:
        """The item as the scorer's sandbox receives it (made once: a task is scored many times)."""
        return base64.b64encode(pickle.dumps(self.entry)).decode()


SCORE_SECONDS = 10.0  # for one answer
# The scorer's sandbox: its time limit bounds the start (importing reasoning-gym takes a few seconds); its CPU
# limit is the long-lived service's own, each answer is scored in a process of its own within SCORE_SECONDS.
SCORE_LIMITS = Limits(timeout=60.0, cpu_seconds=3600, memory_mb=2048)

# A sandbox service (see SandboxService): it imports reasoning-gym once, then scores each answer in a forked
# process of its own, so nothing one answer does reaches another's score; only a plain number (42, -3.5, 3/4),
# which can run nothing, is scored in the service itself. A forked process sees no output of the service
# (its descriptors go to /dev/null but for its result pipe), and an audit hook lets the scorer compile
# model text only as a plain expression: literals, arithmetic, and calls of sympy's number and symbol
# constructors (how parse_expr reads "(3+5)*7"). An answer that is code is refused before it runs, so it
# cannot forge its score; the sandbox is the second wall, for anything the hook does not see.
_SCORER = r'''
import ast, base64, json, os, pickle, re, select, sys
os.environ["OPENBLAS_NUM_THREADS"] = "1"
import ctypes
import reasoning_gym
MARK = %(mark)r
SECONDS = %(seconds)r
NUMBER = re.compile(r"[+-]?[0-9]{1,30}(\.[0-9]{1,30})?(/[0-9]{1,30})?")  # 42, -3.5, 3/4
CALLS = {"Integer", "Float", "Rational", "Symbol", "Number"}
NODES = (ast.Expression, ast.Module, ast.Expr, ast.Constant, ast.UnaryOp, ast.BinOp, ast.unaryop, ast.operator,
         ast.Tuple, ast.List, ast.Set, ast.Dict, ast.Load, ast.Name, ast.Call, ast.keyword)
SYMPY_NAMES = ast.dump(ast.parse("from sympy import *"))  # parse_expr's own set-up, not model text
BLOCKED = ("os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork", "os.kill", "subprocess.Popen",
           "ctypes", "socket.connect", "shutil.rmtree", "os.remove", "os.rename", "sys.addaudithook",
           "pickle.find_class", "marshal.loads")
inside = [False]


def plain(tree):
    for node in ast.walk(tree):
        if not isinstance(node, NODES):
            return False
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in CALLS):
            return False
    return True


def guard(event, args):
    writes = event == "open" and isinstance(args[1], str) and any(c in args[1] for c in "wax+")
    if writes or event in BLOCKED or any(event.startswith(b + ".") for b in BLOCKED):
        raise RuntimeError(f"the scorer may not {event}")
    if event != "compile" or inside[0]:
        return
    source = args[0]
    if isinstance(source, ast.AST):
        tree = source
    else:
        inside[0] = True
        try:
            text = source.decode("utf-8", "replace") if isinstance(source, bytes) else str(source)
            tree = ast.parse(text, mode="exec")
        except (SyntaxError, RecursionError, MemoryError):
            return  # compile raises the same error itself
        finally:
            inside[0] = False
    if not plain(tree) and ast.dump(tree) != SYMPY_NAMES:
        raise RuntimeError("the answer is code, not a value")


def scored(dataset, entry, answer):
    """The generator's score of an answer, and the error when its scorer raised."""
    try:
        return float(dataset.score_answer(answer, entry)), ""
    except Exception as e:
        return 0.0, f"{type(e).__name__}: {e}"


def verdict(value, error):
    """The answer line: a score outside 0..1 (or NaN) counts as 0."""
    return {"score": value if 0.0 <= value <= 1.0 else 0.0, "error": str(error)[:300]}


def score(dataset, entry, answer, write):
    """In the forked process: score, write the result to the pipe, exit."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, write)
    os.closerange(write + 1, 1 << 16)
    sys.addaudithook(guard)
    os.write(write, json.dumps(verdict(*scored(dataset, entry, answer))).encode())
    os._exit(0)


def answer(request):
    dataset = datasets.get((request["generator"], request["size"]))
    if dataset is None:
        dataset = reasoning_gym.create_dataset(request["generator"], seed=request["seed"], size=request["size"])
        datasets[(request["generator"], request["size"])] = dataset
    # the item the model was shown, from looplab (some generators do not make the same item twice)
    entry = pickle.loads(base64.b64decode(request["entry"]))
    if isinstance(request["answer"], str) and NUMBER.fullmatch(request["answer"]):
        # A plain number can run nothing: it is scored here, without the fork (about 6 ms for a process
        # this size, the scorer's whole cost)
        return verdict(*scored(dataset, entry, request["answer"]))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        score(dataset, entry, request["answer"], write)
    os.close(write)
    done = select.select([read], [], [], SECONDS)[0]
    data = os.read(read, 65536) if done else b""
    if not done:
        os.kill(pid, 9)
    os.waitpid(pid, 0)
    os.close(read)
    if not done:
        return {"score": 0.0, "error": f"the scorer did not finish within {SECONDS:g} s"}
    try:
        result = json.loads(data)
        return verdict(float(result["score"]), result["error"])
    except (ValueError, KeyError, TypeError):
        return {"score": 0.0, "error": "the scorer ended without a score"}


ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: a scoring process cannot reach this one's pipes
datasets = {}
sys.stdout.write(MARK + json.dumps({"ready": True}) + "\n")
sys.stdout.flush()
for line in sys.stdin:
    sys.stdout.write(MARK + json.dumps(answer(json.loads(line))) + "\n")
    sys.stdout.flush()
''' % {"mark": MARK, "seconds": SCORE_SECONDS}


_ANSWER = re.compile(r"answer(?:\s*is)?\s*[:=][ \t]*(.+)", re.I)
_AROUND = " \t\r\n*`$"  # markup and space around an answer
_FRACTION = re.compile(r"\\d?frac\{([^{}]*)\}\{([^{}]*)\}")


def _boxed(text: str) -> str | None:
    """The contents of the last \\boxed{...}, nested braces included."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    depth, i = 0, start + len("\\boxed")
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1:j]
    return None


def extract_answer(reply: str) -> str:
    """The final answer in a reply: the last `Answer: ...` line, else the last \\boxed{...}; "" if neither.
    LaTeX fractions become a/b and thousands separators go.

    >>> extract_answer("3 + 4 = 7\\nAnswer: **7**."), extract_answer("Answer: $7$."), extract_answer("none")
    ('7', '7', '')
    >>> extract_answer("so \\\\boxed{\\\\frac{3}{4}}."), extract_answer("The answer is: 1,234!")
    ('3/4', '1234')
    """
    lines = _ANSWER.findall(reply)
    answer = lines[-1] if lines else _boxed(reply)
    if answer is None:
        return ""
    answer = _boxed(answer) or answer
    answer = _FRACTION.sub(r"\1/\2", answer).replace("\\(", "").replace("\\)", "")
    answer = answer.lstrip(_AROUND).rstrip(_AROUND + ".!;")  # "**7**.", "$7$." and "7!" read 7
    return re.sub(r"(?<=\d),(?=\d{3}\b)", "", answer)  # 1,234 -> 1234


class AnswerFormat(FeedbackSource):
    """Passes when an answer could be read from the reply; it says nothing about whether it is right."""

    blocks = False  # it reads a string

    def evaluate(self, task: MathTask, candidate: str) -> Feedback:
        if candidate:
            return Feedback(1.0, True, f"Your final answer reads: {candidate}")
        return Feedback(0.0, False, "I could not find your final answer. End your reply with one line "
                                    "`Answer: <final answer>`.")


class MathFamily:
    """reasoning-gym generators (gsm_symbolic and others), scored by each generator's own scorer in the
    sandbox (`sandbox=None`: a family that can read and show answers but not score them)."""

    name = "math"
    voice = VOICE

    def __init__(self, sandbox: Sandbox | None):
        # One scorer per sandbox of the pool, so answers are scored side by side as programs are checked.
        self.scorers: queue.SimpleQueue[SandboxService] | None = None
        if sandbox is not None:
            self.scorers = queue.SimpleQueue()
            for _ in range(sandbox.pool):
                self.scorers.put(sandbox.with_limits(**SCORE_LIMITS.__dict__).service(_SCORER))

    def describe(self, task: MathTask) -> str:
        return task.question

    def extract(self, task: MathTask, reply: str) -> str:
        return extract_answer(reply)

    def show(self, candidate: str) -> str:
        return f"Answer: {candidate}" if candidate else "(no final answer given)"

    def sources(self) -> dict[str, FeedbackSource]:
        return {"format": AnswerFormat()}

    def score(self, problem: Problem, candidate: str) -> Feedback:
        hidden: MathHidden = problem.hidden
        if self.scorers is None:
            raise TaskError("the math family was made without a sandbox, so it cannot score answers")
        request = {"generator": hidden.generator, "seed": SEED, "size": hidden.size, "answer": candidate or None,
                   "entry": hidden.sent}
        scorer = self.scorers.get()
        try:
            result = scorer.ask(request, timeout=SCORE_SECONDS + 5)
        finally:
            self.scorers.put(scorer)
        if result is None or not isinstance(result.get("score"), float):
            error = "the scorer's sandbox failed or did not answer"
            return Feedback(0.0, False, f"The answer could not be scored: {error}.", {"score": 0.0, "error": error})
        details = {"score": result["score"], **({"error": result["error"]} if result.get("error") else {})}
        passed = result["score"] >= 1.0
        text = ("The answer is right." if passed else
                f"The answer is not right (the generator's scorer gives it {result['score']:g} of 1).")
        return Feedback(result["score"], passed, text, details)

    def reference(self, problem: Problem) -> str | None:
        return str(problem.hidden.entry["answer"])

    def settings(self) -> dict:
        return {"reasoning_gym": importlib.metadata.version("reasoning-gym")}


def load_math(generators: list[str] | None = None, count: int = PER_GENERATOR) -> list[Problem]:
    """`count` seeded problems from each generator, taken in turn (one of each, then the next of each),
    so the first N tasks mix the generators evenly."""
    try:
        import reasoning_gym
    except ImportError:
        raise TaskError("the math family needs reasoning-gym: pip install reasoning-gym==0.1.25") from None
    datasets = {}
    for name in generators or DEFAULT_GENERATORS:
        try:
            datasets[name] = reasoning_gym.create_dataset(name, seed=SEED, size=count)
        except Exception as e:  # reasoning-gym raises several kinds for an unknown name
            raise TaskError(f"reasoning-gym has no generator {name!r} ({e})") from None
    problems = []
    for i in range(count):
        for name, dataset in datasets.items():
            entry = dataset[i]
            problems.append(Problem(MathTask(f"{name}/{i}", entry["question"], name), MathHidden(entry, name, count)))
    return problems
