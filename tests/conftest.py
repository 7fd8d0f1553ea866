"""Test-session wiring: the devcluster and operator fixtures, and how `pytest -n` splits
the suite between workers (`make test` runs two, each with its own devcluster)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["sftjob_devcluster.pytest_plugin", "tests.operator_fixtures"]

TESTS = Path(__file__).resolve().parent
# Tests that run real training or real processes on the local node: all on one worker, one
# at a time. Two trainings at once would share the host's two cores (and its network: the
# local node's pods run in the host's, where two rendezvous could pick the same port).
ONE_AT_A_TIME = ("e2e", "trainer", "integration/test_nodeagent.py",
                 "integration/test_helm_install.py", "reliability/test_preemption.py")  # fmt: skip
ONE_AT_A_TIME_GROUP = "local-processes"


def xdist_group(path: Path) -> str:
    """The group a test file's tests run in: a whole file on one worker (its module
    fixtures, e.g. Kueue, start once), and the ONE_AT_A_TIME files all on the same one."""
    relative = path.resolve().relative_to(TESTS).as_posix()
    if any(relative == p or relative.startswith(f"{p}/") for p in ONE_AT_A_TIME):
        return ONE_AT_A_TIME_GROUP
    return relative


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.xdist_group(xdist_group(Path(str(item.path)))))
