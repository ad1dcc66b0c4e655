"""Feedback sources, one protocol: evaluate(task, candidate) -> Feedback(score, passed, text, details)."""
from ._base import Feedback, FeedbackSource, Reward, all_passed, as_source, rank
from ._examples import Example, ExampleChecks
from ._generated import GeneratedTests, parse_generated_tests
from ._judge import Judge
from ._user import SimulatedUser, leaks

__all__ = ["Example", "ExampleChecks", "Feedback", "FeedbackSource", "GeneratedTests", "Judge", "Reward", "SimulatedUser", "all_passed",
           "as_source", "leaks", "parse_generated_tests", "rank"]
