"""The cluster side of an SFTJob spec, read once into one typed view, with the defaults.

Render (the children), the decision (phase, restarts, deadline, TTL) and normalization
(the parallelism checks) all read a `JobSpec`; none of them reads the spec's cluster
fields itself. The CRD (hack/crd_cluster.py) declares the same defaults from here, so the
apiserver and a body without them agree.

Reading never raises: the operator keeps a view of every SFTJob in memory, a bad one
included. A value that cannot be read is replaced by its default and kept in `problems`;
render refuses the job with the first of them (the CRD schema refuses such values at
`kubectl apply` already, so this is a second line).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_NODES = 1
DEFAULT_GPUS_PER_NODE = 1
DEFAULT_DISTRIBUTED = "auto"
DEFAULT_IMAGE = "ghcr.io/sftjob/trainer:0.1.0"
DEFAULT_BACKOFF_LIMIT = 3
DEFAULT_HUB_TOKEN_KEY = "token"


@dataclass(frozen=True)
class JobSpec:
    nodes: int = DEFAULT_NODES
    gpus_per_node: int = DEFAULT_GPUS_PER_NODE
    distributed: str = DEFAULT_DISTRIBUTED  # as written; render resolves auto
    image: str = DEFAULT_IMAGE
    suspend: bool = False
    backoff_limit: int = DEFAULT_BACKOFF_LIMIT
    active_deadline_seconds: int | None = None
    ttl_seconds_after_finished: int | None = None
    resources: Mapping[str, Any] = field(default_factory=dict)
    storage: Mapping[str, Any] = field(default_factory=dict)
    hub_token: Mapping[str, Any] | None = None  # {name, key}
    env: tuple[Mapping[str, Any], ...] = ()
    pod_template: Mapping[str, Any] = field(default_factory=dict)
    # (field, message) for each value that could not be read; its default stands in.
    problems: tuple[tuple[str, str], ...] = ()

    @property
    def claim_name(self) -> str | None:
        """The claim the user brings (storage.claimName), if any."""
        name = self.storage.get("claimName")
        return str(name) if name else None


def _count(
    spec: Mapping[str, Any], key: str, default: int, minimum: int, problems: list[tuple[str, str]]
) -> int:
    value = spec.get(key, default)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        problems.append((f"spec.{key}", f"{value!r} is not an integer >= {minimum}"))
        return default
    return value


def _optional_int(spec: Mapping[str, Any], key: str) -> int | None:
    value = spec.get(key)
    return int(value) if value is not None else None


def read_spec(spec: Mapping[str, Any]) -> JobSpec:
    problems: list[tuple[str, str]] = []
    hub = spec.get("hubTokenSecretRef")
    backoff = spec.get("backoffLimit")
    return JobSpec(
        nodes=_count(spec, "nodes", DEFAULT_NODES, 1, problems),
        gpus_per_node=_count(spec, "gpusPerNode", DEFAULT_GPUS_PER_NODE, 0, problems),
        distributed=spec.get("distributed") or DEFAULT_DISTRIBUTED,
        image=spec.get("image") or DEFAULT_IMAGE,
        suspend=bool(spec.get("suspend", False)),
        backoff_limit=int(backoff) if backoff is not None else DEFAULT_BACKOFF_LIMIT,
        active_deadline_seconds=_optional_int(spec, "activeDeadlineSeconds"),
        ttl_seconds_after_finished=_optional_int(spec, "ttlSecondsAfterFinished"),
        resources=dict(spec.get("resources") or {}),
        storage=dict(spec.get("storage") or {}),
        hub_token=(
            {"name": hub["name"], "key": hub.get("key") or DEFAULT_HUB_TOKEN_KEY} if hub else None
        ),
        env=tuple(spec.get("env") or ()),
        pod_template=dict(spec.get("podTemplate") or {}),
        problems=tuple(problems),
    )
