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
# Crash-loop backoff between attempts: the wait doubles per restart, up to the cap
# (decide/backoff.py). Kubernetes' own pod backoffs start at 10 s too.
DEFAULT_RESTART_BACKOFF_SECONDS = 10
DEFAULT_MAX_RESTART_BACKOFF_SECONDS = 300


@dataclass(frozen=True)
class RestartBackoff:
    """spec.restartBackoff: how long a failed attempt waits before the next one starts."""

    initial_seconds: int = DEFAULT_RESTART_BACKOFF_SECONDS
    max_seconds: int = DEFAULT_MAX_RESTART_BACKOFF_SECONDS


@dataclass(frozen=True)
class Watchdog:
    """spec.watchdog: when a running job counts as Stalled (decide/watchdog.py)."""

    # No progress record for this long while Running: Stalled (NoProgress). None: no check.
    progress_deadline_seconds: int | None = None
    fail_on_stall: bool = False  # a Stalled job fails (and stops) instead of only saying so


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
    restart_backoff: RestartBackoff = RestartBackoff()
    watchdog: Watchdog = Watchdog()
    # The trainer pods' terminationGracePeriodSeconds (SIGTERM -> checkpoint -> exit); None:
    # Kubernetes' default.
    termination_grace_period_seconds: int | None = None
    # (field, message) for each value that could not be read; its default stands in.
    problems: tuple[tuple[str, str], ...] = ()

    @property
    def claim_name(self) -> str | None:
        """The claim the user brings (storage.claimName), if any."""
        name = self.storage.get("claimName")
        return str(name) if name else None


def _count(
    spec: Mapping[str, Any],
    key: str,
    default: int,
    minimum: int,
    problems: list[tuple[str, str]],
    parent: str = "",
) -> int:
    value = spec.get(key, default)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        problems.append((f"spec.{parent}{key}", f"{value!r} is not an integer >= {minimum}"))
        return default
    return value


def _optional_int(spec: Mapping[str, Any], key: str) -> int | None:
    value = spec.get(key)
    return int(value) if value is not None else None


def _restart_backoff(spec: Mapping[str, Any], problems: list[tuple[str, str]]) -> RestartBackoff:
    raw = spec.get("restartBackoff") or {}
    if not isinstance(raw, Mapping):
        problems.append(("spec.restartBackoff", f"{raw!r} is not an object"))
        return RestartBackoff()
    return RestartBackoff(
        initial_seconds=_count(
            raw, "initialSeconds", DEFAULT_RESTART_BACKOFF_SECONDS, 0, problems, "restartBackoff."
        ),
        max_seconds=_count(
            raw, "maxSeconds", DEFAULT_MAX_RESTART_BACKOFF_SECONDS, 0, problems, "restartBackoff."
        ),
    )


def _watchdog(spec: Mapping[str, Any], problems: list[tuple[str, str]]) -> Watchdog:
    raw = spec.get("watchdog") or {}
    if not isinstance(raw, Mapping):
        problems.append(("spec.watchdog", f"{raw!r} is not an object"))
        return Watchdog()
    deadline = None
    if raw.get("progressDeadlineSeconds") is not None:
        deadline = _count(raw, "progressDeadlineSeconds", 0, 1, problems, "watchdog.") or None
    return Watchdog(progress_deadline_seconds=deadline, fail_on_stall=bool(raw.get("failOnStall")))


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
        restart_backoff=_restart_backoff(spec, problems),
        watchdog=_watchdog(spec, problems),
        termination_grace_period_seconds=_optional_int(spec, "terminationGracePeriodSeconds"),
        problems=tuple(problems),
    )
