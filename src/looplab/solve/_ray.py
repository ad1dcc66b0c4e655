"""Runs spread over a Ray cluster: the tasks are dealt into shares, each worker runs every policy over its
share against the same model server and returns its share of the record, and the shares are merged into
the run directory. Each task's record depends only on the task, so the merged record is the one a single
machine would have made.

A share is plain data (task spec, model spec, settings), so it travels to any machine of the cluster; each
worker needs looplab installed and the same task files and model files at the same paths.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..models import Budget, Timeouts, load_model
from ..runs import RunStore
from ..sandbox import Limits, Sandbox
from ..tasks import load_tasks
from ._compare import run_policies
from ._config import PolicyConfig
from ._engine import SolveReport


@dataclass(frozen=True)
class Share:
    """What one worker needs to run its share of the tasks."""

    tasks: str                   # the --tasks spec
    ids: tuple[str, ...]         # this share's task ids
    configs: tuple[PolicyConfig, ...]
    model: str                   # the --model spec
    base_url: str | None = None
    timeouts: Timeouts = Timeouts()
    judge_model: str | None = None
    limits: Limits = Limits()
    unsafe_no_sandbox: bool = False
    max_sandboxes: int = 1
    max_connections: int = 1
    task_budget: Budget = Budget()
    model_args: tuple[tuple[str, object], ...] = ()  # -M, for the model under test


def deal(ids: list[str], workers: int) -> list[list[str]]:
    """Task ids dealt round-robin into at most `workers` non-empty shares.

    >>> deal(["a", "b", "c"], 2)
    [['a', 'c'], ['b']]
    """
    return [share for share in (ids[i::workers] for i in range(workers)) if share]


def run_share(share: Share, record: bytes) -> tuple[bytes, list[SolveReport]]:
    """On a worker: run the share's tasks on a copy of the run's record (so finished tasks are skipped and
    recorded calls replayed, as in any resume) and return the record it ends with."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.sqlite"
        path.write_bytes(record)
        sandbox = Sandbox(share.limits, unsafe_no_sandbox=share.unsafe_no_sandbox, pool=share.max_sandboxes)
        family, problems = load_tasks(share.tasks, sandbox, ids=list(share.ids))
        model = load_model(share.model, base_url=share.base_url, timeouts=share.timeouts,
                           model_args=dict(share.model_args))
        judge = load_model(share.judge_model, base_url=share.base_url, timeouts=share.timeouts) \
            if share.judge_model else None
        with RunStore(tmp) as store:
            reports = run_policies(problems, family, list(share.configs), model=model, store=store,
                                   task_budget=share.task_budget, judge_model=judge,
                                   max_connections=share.max_connections)
        sandbox.close()
        return path.read_bytes(), reports


def run_on_ray(store: RunStore, shares: list[Share], address: str | None = None) -> list[SolveReport]:
    """Run the shares as Ray tasks (one CPU each, spread over the nodes) on the cluster at `address` (None: the one RAY_ADDRESS
    names, else a new local one), merge what each returns into `store`, and return one report per policy."""
    try:
        import ray
    except ImportError:
        raise ImportError("--executor ray needs Ray: pip install 'looplab[ray]'") from None
    ray.init(address=address, ignore_reinit_error=True, log_to_driver=False, include_dashboard=False)
    remote = ray.remote(num_cpus=1, max_retries=0, scheduling_strategy="SPREAD")(run_share)
    record = store.snapshot()
    results = ray.get([remote.remote(share, record) for share in shares])
    merged: dict[str, SolveReport] = {}
    for data, reports in results:
        store.merge(data)
        for report in reports:
            into = merged.setdefault(report.policy, SolveReport(report.policy))
            into.outcomes.extend(report.outcomes)
            into.skipped += report.skipped
            into.stopped = into.stopped or report.stopped
    store.write_summary()
    return list(merged.values())
