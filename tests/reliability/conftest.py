"""Fixtures of the fault suite; it uses the e2e fixtures too (the tiny assets and claims;
the local node is the devcluster plugin's)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from sftjob_devcluster.cluster import DevClusterError

from tests.e2e.conftest import demo_claims, tiny_assets

__all__ = ["apiserver_restored", "demo_claims", "tiny_assets"]


@pytest.fixture
def apiserver_restored(devcluster: Any) -> Iterator[Any]:
    """Whatever a test did to the apiserver, it runs again, unpaused, afterwards."""
    try:
        yield devcluster
    finally:
        with contextlib.suppress(DevClusterError):
            devcluster.resume_apiserver()
        if not devcluster.is_up():
            with contextlib.suppress(DevClusterError):
                devcluster.kill_apiserver()
            devcluster.start_apiserver()
