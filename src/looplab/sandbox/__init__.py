"""Run untrusted generated Python: bubblewrap isolation, rlimits, wall timeout, output caps."""
from ._sandbox import RESULT_KINDS, ExecResult, Limits, Sandbox, SandboxUnavailable

__all__ = ["RESULT_KINDS", "ExecResult", "Limits", "Sandbox", "SandboxUnavailable"]
