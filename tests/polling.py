"""Waiting for the cluster: one polling helper for every test that talks to the devcluster."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout: float = 120,
    interval: float = 0.25,
    explain: Callable[[], str] | None = None,
) -> T:
    """Poll until probe() returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > deadline:
            detail = f"\n{explain()}" if explain else ""
            pytest.fail(
                f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}{detail}"
            )
        time.sleep(interval)
