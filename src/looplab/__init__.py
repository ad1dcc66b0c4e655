"""looplab: run, search and learn from feedback loops around language models."""

__version__ = "0.1.0"
