"""How hard the fault suite pushes: a CI subset by default, the full run on request.

`make reliability` sets SFTJOB_RELIABILITY_SCALE=full; `.ci/run` runs the same tests at the
CI scale. Each test picks its sizes with `pick(ci=..., full=...)`, so the two runs differ only
in numbers, never in what they check.
"""

from __future__ import annotations

import os
from typing import TypeVar

ENV = "SFTJOB_RELIABILITY_SCALE"
T = TypeVar("T")


def is_full() -> bool:
    return os.environ.get(ENV, "ci") == "full"


def pick(*, ci: T, full: T) -> T:
    return full if is_full() else ci
