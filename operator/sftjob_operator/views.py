"""A compact view of an SFTJob, as kept in the operator's in-memory index."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sftjob_operator.api.identity import API_VERSION, KIND
from sftjob_operator.render.meta import KUEUE_QUEUE_LABEL

DEFAULT_BACKOFF_LIMIT = 3  # the CRD's default; also used when a body lacks it


@dataclass(frozen=True)
class SftView:
    namespace: str
    name: str
    uid: str
    generation: int | None
    nodes: int
    suspend: bool
    queued: bool
    ttl_seconds_after_finished: int | None
    status: Mapping[str, Any] = field(default_factory=dict)
    deleting: bool = False
    backoff_limit: int = 3

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    @property
    def ref(self) -> dict[str, Any]:
        """A body-shaped reference, enough for posting Events."""
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": self.name, "namespace": self.namespace, "uid": self.uid},
        }


def sft_view(body: Mapping[str, Any]) -> SftView:
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    ttl = spec.get("ttlSecondsAfterFinished")
    backoff = spec.get("backoffLimit")
    return SftView(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        uid=meta.get("uid", ""),
        generation=meta.get("generation"),
        nodes=int(spec.get("nodes") or 1),
        suspend=bool(spec.get("suspend", False)),
        queued=KUEUE_QUEUE_LABEL in (meta.get("labels") or {}),
        ttl_seconds_after_finished=int(ttl) if ttl is not None else None,
        status={k: v for k, v in status.items() if k != "kopf"},
        deleting=bool(meta.get("deletionTimestamp")),
        backoff_limit=int(backoff) if backoff is not None else DEFAULT_BACKOFF_LIMIT,
    )
