"""Throttling: the apiserver admits only a few requests at a time and answers the rest 429
Too Many Requests with a Retry-After. Every SFTJob still converges, and the operator never
retries sooner than the server asked."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.operator_fixtures import OperatorProcess, apply, wait_for
from tests.reliability.faults import (
    Expected,
    apiserver_requests,
    operator_restarted,
    problems,
    settled,
)
from tests.reliability.scale import pick

pytestmark = [pytest.mark.reliability, pytest.mark.integration]
# The legacy max-in-flight filter: a request over the limit is answered 429 at once
# (API Priority and Fairness would queue it first). Watches are not limited.
THROTTLED_FLAGS = (
    "--enable-priority-and-fairness=false",
    "--max-requests-inflight=2",
    "--max-mutating-requests-inflight=1",
)
ACCOUNT = "throttled-operator"
RETRY = re.compile(
    r"throttled \(429\) on .*; retrying in (?P<wait>[\d.]+)s \(Retry-After: (?P<asked>\S+)\)"
)


def operator_identity(devcluster: Any, namespace: str, path: Path) -> Path:
    """A ServiceAccount bound to cluster-admin: not in system:masters, which the apiserver
    never throttles (the devcluster's admin certificate is)."""
    devcluster.kubectl("create", "serviceaccount", ACCOUNT, "-n", namespace)
    devcluster.kubectl(
        "create", "clusterrolebinding", f"{ACCOUNT}-{namespace}", "--clusterrole=cluster-admin",
        f"--serviceaccount={namespace}:{ACCOUNT}",
    )  # fmt: skip
    return Path(devcluster.service_account_kubeconfig(ACCOUNT, namespace, path))


def server_429s(devcluster: Any) -> int:
    return int(
        sum(v for labels, v in apiserver_requests(devcluster) if labels.get("code") == "429")
    )


def test_jobs_converge_under_throttling_and_retry_after_is_respected(
    apiserver_restored: Any, operator: OperatorProcess, kube: Any, namespace: str, tmp_path: Path
) -> None:
    devcluster = apiserver_restored
    kubeconfig = operator_identity(devcluster, namespace, tmp_path / "kubeconfig")
    expected = [Expected(f"throttled-{i:03d}") for i in range(pick(ci=8, full=200))]
    devcluster.restart_apiserver(THROTTLED_FLAGS)
    try:
        with operator_restarted(operator, kubeconfig=kubeconfig):
            apply(devcluster, *(e.manifest(namespace, "2s") for e in expected))  # admin: exempt
            wait_for(
                "every SFTJob to converge under throttling",
                lambda: settled(devcluster, namespace, expected),
                timeout=pick(ci=240, full=1200),
                interval=3,
            )
            throttled = sum(v for k, v in operator.scrape().items() if "api_throttled_total" in k)
            refused = server_429s(devcluster)
            log = operator.log.read_text()
    finally:
        devcluster.restart_apiserver()
        devcluster.kubectl("delete", "clusterrolebinding", f"{ACCOUNT}-{namespace}", check=False)
    assert not problems(devcluster, kube, namespace, expected)
    assert refused > 0, "the apiserver throttled nothing: the test did not test"
    retries = [m for m in map(RETRY.search, log.splitlines()) if m]
    assert throttled > 0 and len(retries) == throttled
    assert all(m["asked"] != "None" for m in retries), "a 429 without Retry-After"
    assert all(float(m["wait"]) >= float(m["asked"]) for m in retries)
    print(
        f"\nFIGURES throttling: jobs={len(expected)} server-429s={refused} "
        f"operator-retries={int(throttled)} converged={len(expected)}"
    )
