"""A compact view of an SFTJob, as kept in the operator's in-memory index, and the lookups
into kopf's indexes of SFTJobs and their children."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sftjob_operator.api.identity import API_VERSION, KIND
from sftjob_operator.api.spec import JobSpec, read_spec
from sftjob_operator.render.meta import KUEUE_QUEUE_LABEL
from sftjob_operator.status.observe import JobView, PodView

Key = tuple[str, str]


@dataclass(frozen=True)
class SftView:
    namespace: str
    name: str
    uid: str
    generation: int | None
    spec: JobSpec
    queued: bool  # the SFTJob carries a Kueue queue label
    status: Mapping[str, Any] = field(default_factory=dict)
    deleting: bool = False
    queue: str | None = None  # the Kueue LocalQueue it names

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
    status = body.get("status") or {}
    return SftView(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        uid=meta.get("uid", ""),
        generation=meta.get("generation"),
        spec=read_spec(body.get("spec") or {}),
        queued=KUEUE_QUEUE_LABEL in (meta.get("labels") or {}),
        status={k: v for k, v in status.items() if k != "kopf"},
        deleting=bool(meta.get("deletionTimestamp")),
        queue=(meta.get("labels") or {}).get(KUEUE_QUEUE_LABEL),
    )


@dataclass(frozen=True)
class Indexes:
    """Lookups into kopf's in-memory indexes (set from handler kwargs); empty until then."""

    sftjobs: Callable[[Key], SftView | None] = lambda key: None
    jobs: Callable[[Key], Iterable[JobView]] = lambda key: ()
    pods: Callable[[Key], Iterable[PodView]] = lambda key: ()
    all_sftjobs: Callable[[], Iterable[SftView]] = lambda: ()
