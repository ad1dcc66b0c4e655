"""Run untrusted generated Python: bubblewrap isolation, rlimits, wall timeout, output caps."""
from ._harness import MARK, PASSED, checked_program, reported
from ._sandbox import RESULT_KINDS, ExecResult, Limits, Sandbox, SandboxUnavailable

__all__ = ["MARK", "PASSED", "RESULT_KINDS", "ExecResult", "Limits", "Sandbox", "SandboxUnavailable", "checked_program",
           "reported"]
