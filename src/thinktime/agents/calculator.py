"""The calculator tool: arithmetic on numbers, evaluated from Python's syntax tree — never
`eval` — so a model's expression can only compute, never run code.

Allowed: numbers, `+ - * / // % **`, unary signs, parentheses; exponents and sizes are bounded
so `9**9**9` cannot stall the process. Written as people write sums, it is read as meant:
thousands commas and currency signs dropped, `^` `×` `÷` as powers and products, and of
`expr = value` only `expr` computed. Anything else is an error the model reads as the
tool's result (agents recover from a bad call; they do not crash).

    >>> calculate("37*91"), calculate("(12 - 2) / 4"), calculate("2 ** 10")
    ('3367', '2.5', '1024')
    >>> calculate("$80,000 + $50,000"), calculate("2 + 0.5 * 2 = 3")
    ('130000', '3')
    >>> calculate("__import__('os')")
    'error: only numbers and + - * / // % ** ( ) are allowed'
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable

MAX_EXPONENT = 64
MAX_MAGNITUDE = 10**30
MAX_LENGTH = 500

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[float], float]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}


class CalculatorError(ValueError):
    """An expression the calculator does not take."""


def _value(node: ast.AST) -> float:
    """Evaluate one node of the expression's tree (numbers and arithmetic only)."""
    value = node.value if isinstance(node, ast.Constant) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_value(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise CalculatorError(f"exponent over {MAX_EXPONENT}")
        result = _BINARY[type(node.op)](left, right)
        if abs(result) > MAX_MAGNITUDE:
            raise CalculatorError("result too large")
        return result
    raise CalculatorError("only numbers and + - * / // % ** ( ) are allowed")


def _shown(value: float) -> str:
    """A result as a person writes it: 2.0 → 2, 2.5 → 2.5, rounded to 10 decimals."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CalculatorError("the result is not a finite number")
        value = round(value, 10)
        if value.is_integer():
            return str(int(value))
    return str(value)


def calculate(expression: str) -> str:
    """The value of `expression`, or `error: …` saying what was wrong with it."""
    text = expression.split("=")[0].replace(",", "").replace("×", "*").replace("÷", "/")
    text = text.replace("^", "**").translate(str.maketrans("", "", "$€£"))
    if len(text) > MAX_LENGTH:
        return f"error: the expression is over {MAX_LENGTH} characters"
    try:
        return _shown(_value(ast.parse(text.strip(), mode="eval").body))
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, RecursionError) as exc:
        message = str(exc) if isinstance(exc, CalculatorError) else type(exc).__name__
        return f"error: {message}"
