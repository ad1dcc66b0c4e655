"""Search policies: a CodeTree-style tree over strategies and refinements, and RethinkMCTS-style
Monte Carlo tree search over reasoning steps."""
from __future__ import annotations

import heapq
import math
import re
from dataclasses import dataclass, field

from ._config import PolicyConfig
from ._context import Attempt, SolveContext
from ._prompts import numbered_items
from ._spec import policy

_VERDICT = re.compile(r"\b(ACCEPT|REFINE|ABANDON)\b\s*:?\s*(.*)", re.I | re.S)


async def critique(ctx: SolveContext, attempt: Attempt) -> tuple[str, str]:
    """The critic's decision on an attempt: ("accept" | "refine" | "abandon", its reason).

    It sees the feedback and gives its own judgement; an answer it does not phrase as asked counts
    as "refine" (keep working)."""
    reply = await ctx.ask(ctx.messages.critic(attempt.candidate, attempt.feedback_text, attempt.deciding.passed))
    ctx.note("critique", reply.text, parent=attempt.step, call=reply.call)
    match = _VERDICT.search(reply.text)
    if not match:
        return "refine", reply.text
    verdict = match.group(1).lower()
    if verdict == "accept" and not attempt.deciding.passed:
        verdict = "refine"  # the critic may not overrule the deciding source
    return verdict, match.group(2).strip()[:300]


@policy("tree", knobs=("n", "rounds"), templates=("system", "thinker", "first", "strategies", "strategy", "revision",
                                               "advice", "critic_passed", "critic_failed"),
        help="n strategies, each refined to depth k with a critic (CodeTree)")
async def tree(ctx: SolveContext, cfg: PolicyConfig) -> None:
    """CodeTree-style search. The model first proposes n distinct strategies and writes a solution
    for each. Then, best node first (by visible score, then generated tests), a critic reads the
    execution feedback and decides: refine the node (its advice goes into the revision), abandon
    it, or (when only the model's own tests fail) accept it. The search stops at a node that
    passes every check or that the critic accepts, or when the frontier or the budget runs out;
    refinements go at most `rounds` deep."""
    reply = await ctx.ask(ctx.messages.strategies(cfg.n))
    strategies = numbered_items(reply.text, cfg.n) or [""]
    frontier: list[tuple[tuple[float, ...], int, int, Attempt]] = []  # (-rank, order, depth, node)
    for i, strategy in enumerate(strategies):
        step = ctx.note("strategy", strategy, call=reply.call)
        messages = ctx.messages.strategy(strategy) if strategy else ctx.messages.first()
        attempt = await ctx.attempt("solution", await ctx.propose(messages, sample=i), parent=step)
        if attempt.passed:
            return
        heapq.heappush(frontier, (_key(attempt), len(ctx.attempts), 0, attempt))
    seen = {a.candidate for a in ctx.attempts}
    while frontier:
        _, _, depth, node = heapq.heappop(frontier)
        verdict, reason = await critique(ctx, node)
        if verdict == "accept":
            return
        if verdict == "abandon" or depth >= cfg.rounds:
            continue
        # A solution's first refinement is greedy; deeper ones are sampled, so repeats stay rare.
        temperature = cfg.temperature if depth else 0.0
        reply = await ctx.propose(ctx.messages.revision(node.candidate, node.feedback_text, advice=reason),
                            temperature=temperature, sample=len(ctx.attempts))
        child = await ctx.attempt("refinement", reply, parent=node.step)
        if child.passed:
            return
        if child.candidate in seen:  # a repeat adds nothing to search from
            continue
        seen.add(child.candidate)
        heapq.heappush(frontier, (_key(child), len(ctx.attempts), depth + 1, child))


def _key(attempt: Attempt) -> tuple[float, ...]:
    return tuple(-score for score in attempt.rank)


# --- MCTS ------------------------------------------------------------------------------------

MAX_DEPTH = 3          # reasoning steps before code
EXPLORATION = 1.0      # UCT constant
SELF_EVALUATION = 0.2  # share of a node's reward from the model's own rating of its plan


@dataclass
class Node:
    thought: str
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)
    visits: int = 0
    value: float = 0.0   # sum of rewards backed up through this node
    step: int | None = None

    @property
    def thoughts(self) -> list[str]:
        path, node = [], self
        while node.parent is not None:
            path.append(node.thought)
            node = node.parent
        return path[::-1]

    @property
    def depth(self) -> int:
        return len(self.thoughts)

    def uct(self) -> float:
        if self.visits == 0:
            return math.inf
        return self.value / self.visits + EXPLORATION * math.sqrt(math.log(self.parent.visits) / self.visits)


def select(root: Node) -> Node:
    """Down the tree by UCT until a node with no children (a leaf to expand) or an unvisited one."""
    node = root
    while node.children:
        node = max(node.children, key=Node.uct)  # max keeps the first among equals
        if node.visits == 0:
            break
    return node


def backpropagate(node: Node, reward: float) -> None:
    while node is not None:
        node.visits += 1
        node.value += reward
        node = node.parent


_NUMBER = re.compile(r"\d+(?:\.\d+)?")


@policy("mcts", knobs=("n", "rounds"), templates=("system", "thinker", "next_steps", "plan_code", "self_evaluation",
                                               "rethink"),
        help="Monte Carlo tree search over plan steps, k iterations, rethinking failed steps (RethinkMCTS)")
async def mcts(ctx: SolveContext, cfg: PolicyConfig) -> None:
    """RethinkMCTS-style search over reasoning steps. Each of `rounds` iterations selects a node
    by UCT, expands it with n candidate next steps (one call), simulates the first new child to
    code, and backs up a reward: the visible score blended with the model's 0-10 rating of the plan.
    When the code fails, the model rewrites ("rethinks") the step that led there from the error,
    the node keeps the corrected step, and the code is written again from it."""
    root = Node("")
    root.step = ctx.note("problem", ctx.messages.task_text)
    sample = 0
    for _ in range(cfg.rounds):
        leaf = select(root)
        if leaf.visits > 0 or leaf is root:
            if leaf.depth >= MAX_DEPTH:
                node = leaf
            else:
                reply = await ctx.ask(ctx.messages.next_steps(leaf.thoughts, cfg.n), temperature=cfg.temperature,
                                sample=sample)
                sample += 1
                for thought in numbered_items(reply.text, cfg.n) or [reply.text[:300]]:
                    child = Node(thought, parent=leaf)
                    child.step = ctx.note("thought", thought, parent=leaf.step, call=reply.call)
                    leaf.children.append(child)
                node = leaf.children[0]
        else:
            node = leaf
        attempt = await _simulate(ctx, node)
        if attempt.passed:
            return
        rethought = await ctx.ask(ctx.messages.rethink(node.thoughts, attempt.candidate, attempt.feedback_text))
        node.thought = rethought.text[:300]
        node.step = ctx.note("rethink", node.thought, parent=attempt.step, call=rethought.call)
        attempt = await _simulate(ctx, node)
        if attempt.passed:
            return
        backpropagate(node, await reward(ctx, node, attempt))


async def _simulate(ctx: SolveContext, node: Node) -> Attempt:
    """A candidate written (greedily) from the node's plan, with its feedback."""
    return await ctx.attempt("code", await ctx.propose(ctx.messages.plan_code(node.thoughts)), parent=node.step)


async def reward(ctx: SolveContext, node: Node, attempt: Attempt) -> float:
    """The deciding score blended with the model's own 0-10 rating of the node's plan."""
    reply = await ctx.ask(ctx.messages.self_evaluation(node.thoughts), max_tokens=8)
    ctx.note("self-evaluation", reply.text, parent=node.step, call=reply.call)
    rating = _NUMBER.search(reply.text)
    own = min(10.0, float(rating.group())) / 10 if rating else 0.5
    return (1 - SELF_EVALUATION) * attempt.score + SELF_EVALUATION * own
