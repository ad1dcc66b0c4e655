"""Feedback sources: evaluate(task, candidate) -> Feedback(score, passed, text, details)."""
from ._base import Feedback, FeedbackSource
from ._examples import ExampleChecks
from ._hidden import HiddenScore, HiddenScorer

__all__ = ["ExampleChecks", "Feedback", "FeedbackSource", "HiddenScore", "HiddenScorer"]
