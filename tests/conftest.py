"""Test-session wiring: the devcluster and operator fixtures, and how `pytest -n` splits
the suite between workers (`make test` runs two, each with its own devcluster)."""

from __future__ import annotations

from typing import Any

import pytest

pytest_plugins = ["sftjob_devcluster.pytest_plugin", "tests.operator_fixtures"]

# Tests that run processes on the local node: all on one worker, one at a time. Its pods
# share the host's network, where two trainings' rendezvous would take the same port. (The
# trainer tests train on the host too, but each rendezvous on a free port of its own.)
ONE_AT_A_TIME = ("tests/e2e/", "tests/integration/test_nodeagent.py",
                 "tests/integration/test_helm_install.py",
                 "tests/reliability/test_preemption.py")  # fmt: skip
ONE_AT_A_TIME_SCOPE = "local-processes"


def worker_scope(nodeid: str) -> str:
    """What one worker runs as a unit: a test file (its module fixtures, e.g. Kueue, start
    once), and the ONE_AT_A_TIME files all together."""
    path = nodeid.split("::", 1)[0]
    return ONE_AT_A_TIME_SCOPE if path.startswith(ONE_AT_A_TIME) else path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    # xdist's own `loadgroup` marks do not work with pytest 9 (it rewrites a node id field
    # pytest no longer reads): schedule by scope instead.
    from xdist.scheduler import LoadScopeScheduling

    class ByWorkerScope(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return worker_scope(nodeid)

    return ByWorkerScope(config, log)
