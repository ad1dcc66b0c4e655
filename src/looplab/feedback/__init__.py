"""Feedback sources, one protocol: evaluate(task, candidate) -> Feedback(score, passed, text, details)."""
from ._base import Feedback, FeedbackSource, Reward, agreement_choice, all_passed, as_source, pass_pattern, rank
from ._examples import Example, ExampleChecks
from ._generated import GeneratedTests, parse_generated_tests
from ._judge import Judge
from ._properties import PropertyTests
from ._user import SimulatedUser, leaks

__all__ = ["Example", "ExampleChecks", "Feedback", "FeedbackSource", "GeneratedTests", "Judge", "PropertyTests", "Reward",
           "SimulatedUser", "agreement_choice", "all_passed", "as_source", "leaks", "parse_generated_tests", "pass_pattern",
           "rank"]
