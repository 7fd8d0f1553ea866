"""Evaluate the CEL expressions of the CRD and the admission policy, as written.

The library is cel-expr-python, Google's Python binding of cel-cpp (a reference CEL
implementation, like the apiserver's cel-go), with the two extensions our rules use: CEL
optionals (`.?field`, `.orValue()`, `.hasValue()`) and the strings library (`join`). The
standard library has the rest (`matches`, `startsWith`, `type(x) == map`, the macros).
Variables are dynamic, as the apiserver's are for a custom resource in an admission
policy. The expressions are never rewritten: each is compiled from the policy's or the
CRD's own text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from cel_expr_python import cel
from cel_expr_python.ext import ext_optional, ext_strings


@dataclass(frozen=True)
class Outcome:
    """A rule's result: `value` when it evaluated, else `error` (the CEL error text)."""

    value: Any = None
    error: str | None = None


@cache
def _env(variables: tuple[str, ...]) -> Any:
    return cel.NewEnv(
        variables={name: cel.Type.DYN for name in variables},
        extensions=[ext_optional.ExtOptional(), ext_strings.ExtStrings()],
    )


@cache
def _compiled(expression: str, variables: tuple[str, ...]) -> Any:
    return _env(variables).compile(expression)


def compile_error(expression: str, variables: Sequence[str]) -> str | None:
    """Why the expression does not compile, or None."""
    try:
        _compiled(expression, tuple(sorted(variables)))
    except RuntimeError as err:
        return str(err).strip()
    return None


def evaluate(expression: str, data: Mapping[str, Any]) -> Outcome:
    """Evaluate one expression over `data` (variable name -> JSON-like value)."""
    names = tuple(sorted(data))
    try:
        result = _compiled(expression, names).eval(data=dict(data))
    except RuntimeError as err:  # a compile error
        return Outcome(error=f"compilation failed: {str(err).strip()}")
    if result.type() == cel.Type.ERROR:
        return Outcome(error=str(result.value()))
    return Outcome(value=result.plain_value())
