"""The sign of a Kubernetes quantity, which the CRD's pattern cannot check for an integer.

The CRD's quantity fields are int-or-string: its pattern refuses `-1Gi` written as a string,
but `-1` written as a number passes the schema and fails only when the operator creates the
pod or the claim. Pure.
"""

from __future__ import annotations

import re
from typing import Any

_LEADING_NUMBER = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))")


def amount(value: Any) -> float | None:
    """The quantity's number before its suffix (`16Gi` -> 16.0); None when it has none."""
    found = _LEADING_NUMBER.match(str(value))
    return float(found.group(1)) if found else None


def sign_problem(value: Any, *, positive: bool) -> str | None:
    """Why the quantity is out of range: below zero, or (`positive`) zero too."""
    number = amount(value)
    if number is None or number > 0 or (number == 0 and not positive):
        return None
    return f"{value} is {'not above' if positive else 'below'} zero"
