"""Task sets. A task carries its visible material; its hidden test travels apart."""
from ._examples import Example, extract_examples
from ._humaneval import HIDDEN_PASSED_MARK, CodeTask, HiddenTest, Problem, TaskError, load_humaneval

__all__ = ["HIDDEN_PASSED_MARK", "CodeTask", "Example", "HiddenTest", "Problem", "TaskError",
           "extract_examples", "load_humaneval"]
