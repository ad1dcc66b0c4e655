"""Two solve policies on a few tasks at one token budget, through the library API.

    .venv/bin/python examples/compare_two_policies.py [--tasks sql] [--model local] [--limit 5] [--budget 2000]

Runs best-of-N and refine, then prints each policy's pass@1 (hidden) at a few per-task caps, read off
the recorded trajectories, and refine's pairing with best-of-N at the same mean spend.
"""
import argparse

from looplab.models import Budget, load_model
from looplab.runs import RunStore
from looplab.sandbox import Sandbox
from looplab.solve import PolicyConfig, compare, run_policies
from looplab.tasks import load_tasks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", default="humaneval", help="humaneval | sql | math | FILE.jsonl")
    parser.add_argument("--model", default="local")
    parser.add_argument("--limit", type=int, default=5)
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--run-dir", default="runs/example-compare")
    args = parser.parse_args()

    family, problems = load_tasks(args.tasks, Sandbox(), limit=args.limit)
    model = load_model(args.model)
    policies = [PolicyConfig("best-of-n", n=64), PolicyConfig("refine", rounds=8)]
    with RunStore(args.run_dir) as store:
        run_policies(problems, family, policies, model=model, store=store, task_budget=Budget(tokens=args.budget))
        result = compare(store, family, problems, [c.name for c in policies], args.budget)
    for c in result.curves:
        points = [f"{cap} tokens: {100 * p:.0f}%" for cap, p in zip(c.caps, c.pass_at_1)][::15]
        print(f"{c.policy:16s} " + " | ".join(points))
    refine = result.rows[1]
    print(f"refine vs best-of-N at {refine['mean_tokens']:.0f} mean tokens: won {refine['wins_vs_best_of_n']}, "
          f"lost {refine['losses_vs_best_of_n']} (sign test p = {refine['sign_test_p']})")


if __name__ == "__main__":
    main()
