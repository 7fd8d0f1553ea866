"""What the fault tests check after a fault: each SFTJob settled as expected, its children
neither duplicated nor lost nor orphaned, and the operator's writes the apiserver logged.

Jobs run on the devcluster's kwok nodes: a pod stays Running for its complete-delay
annotation, then succeeds, or fails with the fail annotation's message.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sftjob_devcluster import audit
from sftjob_devcluster.stages import COMPLETE_DELAY_ANNOTATION, FAIL_ANNOTATION
from sftjob_operator.api.identity import LABEL_ATTEMPT, LABEL_JOB_NAME
from sftjob_operator.k8s import USER_AGENT
from sftjob_operator.render import names

from tests.operator_fixtures import QUICK_RESTART, OperatorProcess, sftjob, status

CPU = {"gpusPerNode": 0}
# kopf's requests and the operator's own client's (k8s.USER_AGENT).
OPERATOR_USER_AGENTS = ("kopf/", USER_AGENT)
REQUEST_TOTAL = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$")
LOG_LINE_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


@dataclass(frozen=True)
class Expected:
    """How an SFTJob must end: its phase, attempt and restarts, and its children."""

    name: str
    nodes: int = 1
    fails: bool = False
    backoff_limit: int = 0

    @property
    def phase(self) -> str:
        return "Failed" if self.fails else "Succeeded"

    @property
    def attempt(self) -> int:
        return self.backoff_limit + 1 if self.fails else 1

    def manifest(self, namespace: str, complete_after: str) -> dict[str, Any]:
        annotations = {COMPLETE_DELAY_ANNOTATION: complete_after}
        spec: dict[str, Any] = {
            **CPU,
            **QUICK_RESTART,
            "nodes": self.nodes,
            "backoffLimit": self.backoff_limit,
        }
        if self.fails:
            annotations[FAIL_ANNOTATION] = f"{self.name} fails on purpose"
        return sftjob(self.name, namespace, annotations=annotations, **spec)


def settled(devcluster: Any, namespace: str, expected: list[Expected]) -> bool:
    return all(
        status(devcluster, namespace, e.name).get("phase") in ("Succeeded", "Failed")
        for e in expected
    )


def problems(devcluster: Any, kube: Any, namespace: str, expected: list[Expected]) -> list[str]:
    """Everything wrong with the settled jobs: status, duplicated, missing or orphaned
    children. Empty when all is well."""
    found: list[str] = []
    sftjobs = {item["metadata"]["name"]: item for item in _items(devcluster, "sftjobs", namespace)}
    uids = {item["metadata"]["uid"] for item in sftjobs.values()}
    children = _children(devcluster, namespace)
    pods = _pods(devcluster, namespace)
    for e in expected:
        body = sftjobs.get(e.name)
        if body is None:
            found.append(f"{e.name}: lost")
            continue
        found += [f"{e.name}: {p}" for p in _status_problems(body, e)]
        found += [f"{e.name}: {p}" for p in _child_problems(children.get(e.name, []), e)]
        found += [f"{e.name}: {p}" for p in _pod_problems(pods.get(e.name, []), e)]
    for owner, items in children.items():
        for item in items:
            refs = {ref["uid"] for ref in item["metadata"].get("ownerReferences") or ()}
            if owner not in sftjobs or not refs & uids:
                found.append(f"orphan {item['kind']} {item['metadata']['name']}")
    return found


def _status_problems(body: dict[str, Any], e: Expected) -> list[str]:
    st = body.get("status") or {}
    got = (st.get("phase"), st.get("attempt"), st.get("restarts"))
    want = (e.phase, e.attempt, e.attempt - 1)
    found = [] if got == want else [f"(phase, attempt, restarts) {got}, want {want}"]
    conditions = {c["type"]: c for c in st.get("conditions") or ()}
    final = conditions.get(e.phase, {})
    if final.get("status") != "True":
        found.append(f"condition {e.phase} is {final or 'missing'}")
    if e.fails and final.get("reason") != "BackoffLimitExceeded":
        found.append(f"Failed for {final.get('reason')!r}, want BackoffLimitExceeded")
    if not st.get("startTime") or not st.get("completionTime"):
        found.append(
            f"startTime {st.get('startTime')}, completionTime {st.get('completionTime')}; "
            f"conditions {sorted(conditions.values(), key=lambda c: c['type'])}"
        )
    if st.get("observedGeneration") != body["metadata"]["generation"]:
        found.append(f"observedGeneration {st.get('observedGeneration')}")
    return found


def _child_problems(items: list[dict[str, Any]], e: Expected) -> list[str]:
    kinds = Counter(item["kind"] for item in items)
    want = {"Job": 1, "ConfigMap": 1, "Service": 1 if e.nodes > 1 else 0}
    found = [f"{kinds[k]} {k}(s), want {n}" for k, n in want.items() if kinds[k] != n]
    jobs = [item["metadata"]["name"] for item in items if item["kind"] == "Job"]
    if jobs and jobs != [names.job(e.name, e.attempt)]:
        found.append(f"Jobs {jobs}, want only attempt {e.attempt}'s")
    return found


def _pod_problems(items: list[dict[str, Any]], e: Expected) -> list[str]:
    """Pods left behind by an earlier attempt, or by any Job but the attempt's one.

    Two pods of one rank within the attempt's Job are not counted: that is the Job
    controller's doing, not the operator's (it never writes pods). Kubernetes documents it:
    when a pod's create succeeds but its response is lost, as across an apiserver restart,
    the controller creates the index again; the Job counts the first pod that succeeds.
    """
    job = names.job(e.name, e.attempt)
    found = []
    for pod in items:
        labels = pod["metadata"].get("labels") or {}
        owners = [ref["name"] for ref in pod["metadata"].get("ownerReferences") or ()]
        if labels.get(LABEL_ATTEMPT) != str(e.attempt) or owners != [job]:
            found.append(f"pod {_describe(pod)} of attempt {labels.get(LABEL_ATTEMPT)}")
    return found


def _describe(pod: dict[str, Any]) -> str:
    """Enough of a pod to tell who made it and when: name, owner, creation, phase."""
    meta = pod["metadata"]
    owners = ",".join(ref["name"] for ref in meta.get("ownerReferences") or ())
    return (
        f"{meta['name']} (of {owners or 'nobody'}, created {meta.get('creationTimestamp')}, "
        f"{(pod.get('status') or {}).get('phase')})"
    )


def _pods(devcluster: Any, namespace: str) -> dict[str, list[dict[str, Any]]]:
    by_owner: dict[str, list[dict[str, Any]]] = {}
    for pod in _items(devcluster, "pods", namespace, LABEL_JOB_NAME):
        by_owner.setdefault(pod["metadata"]["labels"][LABEL_JOB_NAME], []).append(pod)
    return by_owner


def _items(devcluster: Any, kind: str, namespace: str, selector: str = "") -> list[Any]:
    import json

    argv = ["get", kind, "-n", namespace, "-o", "json"]
    out = devcluster.kubectl(*argv, *(["-l", selector] if selector else []), timeout=120)
    items: list[Any] = json.loads(out.stdout)["items"]
    return items


def _children(devcluster: Any, namespace: str) -> dict[str, list[dict[str, Any]]]:
    by_owner: dict[str, list[dict[str, Any]]] = {}
    kinds = "jobs.batch,configmaps,services,persistentvolumeclaims"
    for item in _items(devcluster, kinds, namespace, LABEL_JOB_NAME):
        by_owner.setdefault(item["metadata"]["labels"][LABEL_JOB_NAME], []).append(item)
    return by_owner


def apiserver_requests(devcluster: Any) -> list[tuple[dict[str, str], float]]:
    """The apiserver's own request counts (apiserver_request_total, every client): the
    labels (verb, resource, subresource, code...) and the count of each series."""
    text = devcluster.kubectl("get", "--raw", "/metrics", timeout=120).stdout
    return [
        (dict(re.findall(r'(\w+)="([^"]*)"', m["labels"])), float(m["value"]))
        for m in map(REQUEST_TOTAL.match, text.splitlines())
        if m
    ]


def operator_writes(devcluster: Any, namespace: str, offset: int) -> Counter[str]:
    """The operator's writes in `namespace` that the apiserver logged after `offset`
    (audit.end_offset), by 'verb resource[/subresource]'."""
    return Counter(
        f"{w.verb} {w.resource}"
        for w in audit.writes(devcluster.audit_log, offset, namespace)
        if w.user_agent.startswith(OPERATOR_USER_AGENTS)
    )


def multi_line_entries(log: str) -> list[str]:
    """Lines of the operator's log that do not begin an entry (a traceback's lines)."""
    return [line for line in log.splitlines() if line and not LOG_LINE_START.match(line)]


@contextlib.contextmanager
def operator_restarted(
    operator: OperatorProcess, *, kubeconfig: Path | None = None, extra_args: tuple[str, ...] = ()
) -> Iterator[OperatorProcess]:
    """The session's operator restarted with another identity or more flags, and restored
    afterwards: only ever one operator runs against the cluster."""
    saved = (operator.kubeconfig, operator.extra_args)
    operator.stop()
    operator.kubeconfig = kubeconfig or operator.kubeconfig
    operator.extra_args = (*operator.extra_args, *extra_args)
    operator.start()
    try:
        yield operator
    finally:
        operator.stop()
        operator.kubeconfig, operator.extra_args = saved
        operator.start()
