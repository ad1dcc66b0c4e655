"""Two solve policies on a few HumanEval tasks at one token budget, through the library API.

    .venv/bin/python examples/compare_two_policies.py [--model local] [--limit 5] [--budget 2000]

Prints each policy's pass@1 (hidden) at a few per-task caps, read off the recorded trajectories.
"""
import argparse

from looplab.feedback import ExampleChecks, HiddenScorer
from looplab.models import Budget, load_model
from looplab.runs import RunStore
from looplab.sandbox import Sandbox
from looplab.solve import HiddenCache, PolicyConfig, curve, solve_tasks
from looplab.tasks import load_humaneval


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="local")
    parser.add_argument("--limit", type=int, default=5)
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--run-dir", default="runs/example-compare")
    args = parser.parse_args()

    sandbox = Sandbox()
    model = load_model(args.model)
    problems = load_humaneval(limit=args.limit)
    policies = [PolicyConfig("best-of-n", n=64), PolicyConfig("refine", rounds=8)]
    with RunStore(args.run_dir) as store:
        for config in policies:
            solve_tasks(problems, config, model=model, store=store, feedback=ExampleChecks(sandbox),
                        scorer=HiddenScorer(sandbox), task_budget=Budget(tokens=args.budget))
        hidden = HiddenCache(store, HiddenScorer(sandbox))
        for config in policies:
            c = curve(store, config.name, problems, args.budget, hidden)
            points = [f"{cap} tokens: {100 * p:.0f}%" for cap, p in zip(c.caps, c.pass_at_1)][::15]
            print(f"{config.name:16s} " + " | ".join(points))


if __name__ == "__main__":
    main()
