"""Task families. A family owns what is specific to its tasks: the prompt, how a candidate is taken
from a reply, its visible feedback and, apart, its hidden scorer. Policies never see which one runs."""
from ._code import CodeFamily, CodeTask, HiddenTest, build_program, extract_code, sanitize
from ._examples import extract_examples
from ._family import Family, Problem, TaskError, Voice
from ._math import MathFamily, MathTask, extract_answer
from ._registry import FAMILIES, load_tasks
from ._sql import QueryRunner, SqlFamily, SqlTask, extract_sql, same_result

__all__ = ["FAMILIES", "CodeFamily", "CodeTask", "Family", "HiddenTest", "MathFamily", "MathTask",
           "Problem", "QueryRunner", "SqlFamily", "SqlTask", "TaskError", "Voice", "build_program", "extract_answer", "extract_code",
           "extract_examples", "extract_sql", "load_tasks", "same_result", "sanitize"]
