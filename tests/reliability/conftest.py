"""Fixtures of the fault suite."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from sftjob_devcluster.cluster import DevClusterError


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
