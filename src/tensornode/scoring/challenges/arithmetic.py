"""Arithmetic: integer expressions with + - * (exact), or a division to two decimals."""

from __future__ import annotations

import ast
import operator
import random
import re
from collections.abc import Callable

from tensornode.scoring.challenges.base import Family, Task
from tensornode.scoring.schemas import Outcome
from tensornode.scoring.scorers.numeric import score_numeric

TEMPLATES = (
    "What is {expr}?",
    "Compute {expr}.",
    "Calculate {expr}. Reply with the number only.",
    "What does {expr} equal?",
)
ROUNDING = " Round the result to two decimal places."
_EXPR = re.compile(r"\d+(?:\s*[-+*/]\s*\d+)+")
_OPS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def evaluate(expr: str) -> float:
    """Evaluate ``+ - * /`` over numbers, nothing else (no ``eval``)."""

    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        raise ValueError(f"unsupported expression: {expr!r}")

    return walk(ast.parse(expr, mode="eval"))


def generate(rng: random.Random) -> Task:
    template = rng.choice(TEMPLATES)
    if rng.random() < 0.25:
        a, b = rng.randint(100, 9999), rng.randint(3, 97)
        expr = f"{a} / {b}"
        return Task(template.format(expr=expr) + ROUNDING, f"{a / b:.2f}")
    parts = [str(rng.randint(10, 999))]
    for _ in range(rng.randint(1, 2)):
        op = rng.choice("+-*")
        parts += [op, str(rng.randint(2, 99) if op == "*" else rng.randint(10, 999))]
    expr = " ".join(parts)
    return Task(template.format(expr=expr), str(int(evaluate(expr))))


def solve(prompt: str) -> str | None:
    match = _EXPR.search(prompt)
    if match is None or not prompt.startswith(("What is", "Compute", "Calculate", "What does")):
        return None
    value = evaluate(match.group())
    return f"{value:.2f}" if "decimal places" in prompt else str(int(value))


def check(expected: str, reply: str) -> Outcome:
    # two decimals requested: accept the rounding of either direction
    return score_numeric(expected, reply, abs_tol=0.0101 if "." in expected else 0.0)


FAMILY = Family("arithmetic", generate, solve, check)
