"""Operator crashes: SFTJobs applied while the operator is SIGKILLed at seeded random
moments and started again. Nothing is duplicated, lost or orphaned, no restart is counted
that no pod caused, and a restart over the settled jobs writes nothing."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
from sftjob_devcluster import audit

from tests.operator_fixtures import OperatorProcess, apply, wait_for
from tests.reliability.faults import (
    Expected,
    operator_writes,
    problems,
    settled,
)
from tests.reliability.scale import pick

pytestmark = [pytest.mark.reliability, pytest.mark.integration]
SEED = 16


def fleet(n: int) -> list[Expected]:
    """Every third job spans two nodes (a Service too); every fifth fails each attempt
    and is restarted once (backoffLimit 1): the only restarts there may be."""
    return [
        Expected(
            f"crash-{i:03d}",
            nodes=2 if i % 3 == 0 else 1,
            fails=i % 5 == 4,
            backoff_limit=1 if i % 5 == 4 else 0,
        )
        for i in range(n)
    ]


def test_jobs_survive_operator_kills(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    rng = random.Random(SEED)
    expected = fleet(pick(ci=8, full=50))
    kills = pick(ci=3, full=12)
    batches = [expected[i::kills] for i in range(kills)]
    killed = 0
    for batch in batches:
        apply(
            devcluster,
            *(e.manifest(namespace, f"{rng.randint(1, pick(ci=4, full=8))}s") for e in batch),
        )
        time.sleep(
            rng.uniform(0.2, pick(ci=2.0, full=3.0))
        )  # a moment within creating, running, restarting
        operator.kill()
        killed += 1
        time.sleep(rng.uniform(0.0, 1.0))
        operator.start()
    wait_for(
        "every SFTJob to settle",
        lambda: settled(devcluster, namespace, expected),
        timeout=pick(ci=180, full=600),
        interval=2,
    )
    # Superseded attempts' Jobs are deleted in the background: give garbage collection time.
    wait_for(
        "no duplicated, lost or orphaned child and every status right",
        lambda: not problems(devcluster, kube, namespace, expected),
        timeout=60,
        interval=2,
        explain=lambda: "\n".join(problems(devcluster, kube, namespace, expected)),
    )
    assert killed == kills

    # A restart over settled jobs reads everything and writes nothing.
    operator.stop()
    before = audit.end_offset(devcluster.audit_log)
    operator.start()
    wait_for(
        "the restarted operator to have listed every SFTJob",
        lambda: (
            sum(
                v
                for k, v in operator.scrape().items()
                if k.startswith("sftjob_jobs{") and f'namespace="{namespace}"' in k
            )
            == len(expected)
        ),
        timeout=60,
    )
    time.sleep(pick(ci=3, full=15))  # what it would write, it writes right after listing
    # Only this namespace's: the restarted operator lists every namespace's SFTJobs (its
    # own sftjob_operator_api_writes_total counts them all), and an earlier test's, in a
    # namespace still terminating, may get its children created again (refused: 403).
    assert operator_writes(devcluster, namespace, before) == {}
    print(
        f"\nFIGURES operator-crashes: jobs={len(expected)} kills={killed} "
        f"restarts={sum(e.attempt - 1 for e in expected)} duplicates=0 lost=0 orphans=0 "
        f"writes-after-restart=0"
    )
