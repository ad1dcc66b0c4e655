"""Run untrusted generated Python: bubblewrap isolation, rlimits, wall timeout, output caps."""
from ._harness import MARK, PASSED, checked_program, reported
from ._sandbox import RESULT_KINDS, ExecResult, Limits, Sandbox, SandboxService, SandboxUnavailable

__all__ = ["MARK", "PASSED", "RESULT_KINDS", "ExecResult", "Limits", "Sandbox", "SandboxService", "SandboxUnavailable", "checked_program",
           "reported"]
