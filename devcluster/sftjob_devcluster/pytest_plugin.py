"""pytest plugin: a real devcluster for integration tests.

Fixtures
  devcluster  (session)  a running DevCluster; KUBECONFIG points at it for the
                         session. Use .kubeconfig, .server, .kubectl(...),
                         .api(), .ca_file, .client_cert, .client_key.
  namespace   (function) a fresh namespace name, deleted after the test.
  kueue       (module)   Kueue running in the devcluster (built on first use) for the
                         tests of one module, stopped after them so that other modules
                         see no Kueue webhooks.
  local_node  (function) the devcluster's local node agent running (node `local-cpu`,
                         real processes); yields its state directory (logs, pids).

The cluster starts only if a collected test asks for one of these fixtures;
such tests get the `integration` marker automatically. By default each test
session gets its own cluster ("pytest-<pid>"), torn down at the end; clusters
left by killed sessions are cleaned up first. Set SFTJOB_DEVCLUSTER_NAME to use
(and keep) a named cluster across runs instead.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .cluster import ClusterConfig, DevCluster
from .paths import cache_root

SESSION_PREFIX = "pytest-"
_FIXTURES = {"devcluster", "namespace", "kueue", "local_node"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


def _cleanup_abandoned_sessions() -> None:
    """Stop clusters whose pytest process is gone (a killed run)."""
    clusters = cache_root() / "clusters"
    if not clusters.is_dir():
        return
    for state in sorted(clusters.iterdir()):
        if not state.name.startswith(SESSION_PREFIX):
            continue
        owner = state.name[len(SESSION_PREFIX) :].removesuffix(".lock")
        if not owner.isdigit() or Path(f"/proc/{owner}").exists():
            continue
        if state.is_dir():
            DevCluster(ClusterConfig(name=state.name)).down()
            state = state.with_name(state.name + ".lock")
        state.unlink(missing_ok=True)


def _pod_complete_after() -> float:
    raw = os.environ.get("SFTJOB_DEVCLUSTER_POD_COMPLETE_AFTER", "5")
    try:
        return float(raw)
    except ValueError:
        raise pytest.UsageError(
            f"SFTJOB_DEVCLUSTER_POD_COMPLETE_AFTER={raw!r}: expected seconds, e.g. 5"
        ) from None


@pytest.fixture(scope="session")
def devcluster() -> Iterator[DevCluster]:
    keep_name = os.environ.get("SFTJOB_DEVCLUSTER_NAME")
    if keep_name:
        # One cluster per pytest-xdist worker: each runs its own session operator.
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        name = f"{keep_name}-{worker}" if worker else keep_name
    else:
        _cleanup_abandoned_sessions()
        name = f"{SESSION_PREFIX}{os.getpid()}"
    cluster = DevCluster(ClusterConfig(name=name, pod_complete_after=_pod_complete_after()))
    try:
        cluster.up()
    except BaseException:
        if not keep_name:
            cluster.down()
        raise
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KUBECONFIG", str(cluster.kubeconfig))
        try:
            yield cluster
        finally:
            if not keep_name:
                cluster.down()


def namespace_name(test_name: str) -> str:
    """A valid, unique namespace name (DNS-1123 label) derived from a test name."""
    base = re.sub(r"[^a-z0-9-]+", "-", test_name.lower()).strip("-")[:40].strip("-")
    return f"t-{base}-{uuid.uuid4().hex[:8]}" if base else f"t-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def namespace(devcluster: DevCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    name = namespace_name(request.node.name)
    devcluster.kubectl("create", "namespace", name)
    # Pods are admitted only once the namespace's "default" ServiceAccount exists.
    devcluster.wait_for_service_account(name)
    try:
        yield name
    finally:
        devcluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="module")
def kueue(devcluster: DevCluster) -> Iterator[DevCluster]:
    devcluster.start_kueue()
    try:
        yield devcluster
    finally:
        devcluster.stop_kueue()


@pytest.fixture
def local_node(devcluster: DevCluster) -> Path:
    devcluster.start_local_node()
    return Path(devcluster.local_node_state_dir)
