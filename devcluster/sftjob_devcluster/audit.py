"""The apiserver's audit log, kept for writes only: who wrote what, where and when.

Tests read it to count one client's writes in one namespace (the apiserver's own request
metrics have neither a namespace nor a client label, so a cluster shared by a whole test
session cannot attribute them). Heartbeats (node status, leases) are left out: fake nodes
renew them all the time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    resources:
      - group: ""
        resources: [nodes, nodes/status]
      - group: coordination.k8s.io
        resources: [leases]
  - level: Metadata
    verbs: [create, update, patch, delete, deletecollection]
  - level: None
"""


def apiserver_flags(policy: Path, log: Path) -> list[str]:
    """kube-apiserver flags that write the log; it is never rotated (a devcluster is short-lived)."""
    return [
        f"--audit-policy-file={policy}",
        f"--audit-log-path={log}",
        "--audit-log-format=json",
        "--audit-log-maxsize=0",
    ]


@dataclass(frozen=True)
class Write:
    """One completed write request."""

    verb: str  # the audit verb: create, update, patch, delete, deletecollection
    resource: str  # "pods", or "sftjobs/status" for a subresource
    namespace: str
    name: str
    user_agent: str
    code: int


def end_offset(log: Path) -> int:
    """Where the log ends now: pass it to `writes` to read only what comes after."""
    try:
        return log.stat().st_size
    except FileNotFoundError:
        return 0


def writes(log: Path, offset: int = 0, namespace: str | None = None) -> Iterator[Write]:
    """The writes logged after `offset`, in one namespace if given."""
    try:
        with log.open("rb") as f:
            f.seek(offset)
            lines = f.read().splitlines()
    except FileNotFoundError:
        return
    for line in lines:
        if namespace is not None and f'"namespace":"{namespace}"'.encode() not in line:
            continue  # cheap: most lines are other namespaces'
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line still being written
        write = parse(event)
        if write is not None and (namespace is None or write.namespace == namespace):
            yield write


def parse(event: dict[str, object]) -> Write | None:
    """A completed write from one audit event, else None."""
    ref = event.get("objectRef")
    if event.get("stage") != "ResponseComplete" or not isinstance(ref, dict):
        return None
    resource = str(ref.get("resource", ""))
    if ref.get("subresource"):
        resource += f"/{ref['subresource']}"
    status = event.get("responseStatus")
    return Write(
        verb=str(event.get("verb", "")),
        resource=resource,
        namespace=str(ref.get("namespace", "")),
        name=str(ref.get("name", "")),
        user_agent=str(event.get("userAgent", "")),
        code=int(status.get("code", 0)) if isinstance(status, dict) else 0,
    )
