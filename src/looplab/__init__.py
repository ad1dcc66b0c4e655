"""looplab: run, search and learn from feedback loops around language models."""

import os

# looplab's matrices are small; BLAS worker threads that spin between calls only starve the
# llama.cpp threads on a small machine. A user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"

# The public API at the top level, imported when first used (so `import looplab` stays instant and the command
# line's Ctrl-C handling is in place before anything heavy loads): name -> the package that defines it.
_PUBLIC = {
    **dict.fromkeys(["PolicyConfig", "Prompts", "policy", "solve_tasks", "run_policies", "compare", "analyze",
                     "POLICIES", "EXTRA_SOURCES"], "solve"),
    **dict.fromkeys(["GrowConfig", "GrowRun", "load_graphml"], "grow"),
    **dict.fromkeys(["Budget", "load_model", "ScriptedModel", "OpenAIModel", "Model"], "models"),
    **dict.fromkeys(["Feedback", "FeedbackSource", "Reward"], "feedback"),
    **dict.fromkeys(["load_tasks", "Problem", "Family"], "tasks"),
    **dict.fromkeys(["RunStore", "trajectories", "export_trajectories"], "runs"),
    **dict.fromkeys(["Sandbox", "Limits"], "sandbox"),
    **dict.fromkeys(["Optimizer", "split_tasks", "write_best"], "optimize"),
    **dict.fromkeys(["export_training", "train", "TrainSettings", "run_cycle", "CycleSettings"], "learn"),
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    """`from looplab import solve_tasks, compare, GrowRun, ...`: the name from the package that defines it.

    >>> from looplab import PolicyConfig
    >>> PolicyConfig("refine", rounds=2).name
    'refine(k=2)'
    """
    if name not in _PUBLIC:
        raise AttributeError(f"module 'looplab' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"looplab.{_PUBLIC[name]}"), name)
