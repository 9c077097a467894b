"""Expressions for behavioural sources: the SPICE form of ``compact_model.equations``.

``Expr`` overloads arithmetic and comparison so the device equations, written once against an
``ops`` namespace, produce expression text when fed ``Expr`` objects and ``SPICE_OPS``. The
same text is valid in ngspice B-sources and in Verilog-A analog blocks (exp, sinh, asinh, tanh,
abs, pow, min, max and the ?: conditional exist in both). Numbers are written with ``%.17g``: never with
SPICE scale suffixes, where 'M' means milli.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any, Union

Operand = Union["Expr", float, int]


def number(value: float) -> str:
    """A plain float literal, exact to double precision."""
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"cannot write the non-finite number {value} into a netlist")
    return repr(value)  # shortest text that reads back to the same double


class Expr:
    """An expression as text. Built only by code (names are checked where they are created)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        if "\n" in text or "\r" in text:
            raise ValueError("an expression cannot contain a line break")
        self.text = text

    def __repr__(self) -> str:
        return f"Expr({self.text!r})"

    def __str__(self) -> str:
        return self.text

    @staticmethod
    def of(x: Operand) -> "Expr":
        return x if isinstance(x, Expr) else Expr(number(x))

    def _bin(self, op: str, other: Operand, swap: bool = False) -> "Expr":
        a, b = (Expr.of(other), self) if swap else (self, Expr.of(other))
        return Expr(f"({a.text} {op} {b.text})")

    def __add__(self, o: Operand) -> "Expr": return self._bin("+", o)
    def __radd__(self, o: Operand) -> "Expr": return self._bin("+", o, True)
    def __sub__(self, o: Operand) -> "Expr": return self._bin("-", o)
    def __rsub__(self, o: Operand) -> "Expr": return self._bin("-", o, True)
    def __mul__(self, o: Operand) -> "Expr": return self._bin("*", o)
    def __rmul__(self, o: Operand) -> "Expr": return self._bin("*", o, True)
    def __truediv__(self, o: Operand) -> "Expr": return self._bin("/", o)
    def __rtruediv__(self, o: Operand) -> "Expr": return self._bin("/", o, True)
    def __gt__(self, o: Operand) -> "Expr": return self._bin(">", o)  # type: ignore[override]
    def __lt__(self, o: Operand) -> "Expr": return self._bin("<", o)  # type: ignore[override]
    def __neg__(self) -> "Expr": return Expr(f"(-{self.text})")

    def __pow__(self, exponent: Operand) -> "Expr":
        if isinstance(exponent, int) and 1 <= exponent <= 4:
            out = self  # small integer powers as products: exact, and fine for negative bases
            for _ in range(exponent - 1):
                out = out * self
            return out
        return Expr(f"pow({self.text}, {Expr.of(exponent).text})")


def _fn(name: str) -> Any:
    return lambda x: Expr(f"{name}({Expr.of(x).text})")


def _where(cond: Expr, a: Operand, b: Operand) -> Expr:
    return Expr(f"({Expr.of(cond).text} ? {Expr.of(a).text} : {Expr.of(b).text})")


def _fn2(name: str) -> Any:
    return lambda x, y: Expr(f"{name}({Expr.of(x).text}, {Expr.of(y).text})")


SPICE_OPS = SimpleNamespace(exp=_fn("exp"), sinh=_fn("sinh"), asinh=_fn("asinh"), tanh=_fn("tanh"),
                            abs=_fn("abs"), where=_where, minimum=_fn2("min"), maximum=_fn2("max"))
