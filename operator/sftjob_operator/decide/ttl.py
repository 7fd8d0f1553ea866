"""TTL policy: spec.ttlSecondsAfterFinished deletes a finished SFTJob (and, through owner
references, its children) that long after its completionTime."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sftjob_operator.status import timeutil
from sftjob_operator.status.phase import FINAL_PHASES


def seconds_left(status: Mapping[str, Any], ttl: int | None, now: datetime) -> float | None:
    """Seconds until the SFTJob is to be deleted (0: now); None when it is not to be.

    A finished status without a completionTime counts from now.
    """
    if ttl is None or status.get("phase") not in FINAL_PHASES:
        return None
    done = timeutil.parse(status.get("completionTime")) or now
    return max((done - now).total_seconds() + ttl, 0.0)
