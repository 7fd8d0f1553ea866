"""Lease records and the rules of holding one (pure).

Expiry is judged the way client-go's leader election judges it: by how long this process
has seen the record unchanged, on its own monotonic clock, never by comparing the
holder's renewTime with our wall clock, so skewed clocks cannot elect two leaders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

API_VERSION = "coordination.k8s.io/v1"
KIND = "Lease"


@dataclass(frozen=True)
class Timing:
    """client-go's defaults: a lease of 15 s, renewed every 2 s, given up after 10 s of
    failed renewals (before any other replica may take it over)."""

    lease_seconds: int = 15
    renew_deadline_seconds: float = 10.0
    retry_seconds: float = 2.0

    def problems(self) -> list[str]:
        """What is wrong with these settings, as flag-named messages."""
        out = []
        if self.retry_seconds <= 0:
            out.append("--leader-election-retry: write a number of seconds > 0")
        if not self.retry_seconds < self.renew_deadline_seconds < self.lease_seconds:
            out.append(
                "--leader-election-renew-deadline must lie between --leader-election-retry "
                f"and --leader-election-lease-duration (got retry {self.retry_seconds}, "
                f"renew deadline {self.renew_deadline_seconds}, lease {self.lease_seconds})"
            )
        return out


@dataclass(frozen=True)
class Election:
    """Which Lease the replicas compete for, and who this one is."""

    name: str
    namespace: str
    identity: str
    timing: Timing = Timing()


@dataclass(frozen=True)
class Observed:
    """A Lease record as last read, and when (monotonic seconds) it last changed."""

    holder: str
    version: str  # the record's resourceVersion
    changed_at: float


def micro_time(at: dt.datetime) -> str:
    """A MicroTime as the API server writes it."""
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def holder_of(lease: Mapping[str, Any] | None) -> str:
    return str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")


def observe(lease: Mapping[str, Any], before: Observed | None, now: float) -> Observed:
    """The record as seen now; its change time moves only when the record changed."""
    version = str(lease["metadata"].get("resourceVersion", ""))
    if before is not None and before.version == version:
        return before
    return Observed(holder_of(lease), version, now)


def may_take(observed: Observed, me: str, timing: Timing, now: float) -> bool:
    """Whether `me` may write itself in as holder: free, already ours, or not renewed by
    its holder for a whole lease duration."""
    if not observed.holder or observed.holder == me:
        return True
    return now - observed.changed_at >= timing.lease_seconds


def new_lease(
    name: str, namespace: str, me: str, timing: Timing, at: dt.datetime
) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "holderIdentity": me,
            "leaseDurationSeconds": timing.lease_seconds,
            "acquireTime": micro_time(at),
            "renewTime": micro_time(at),
            "leaseTransitions": 0,
        },
    }


def take_patch(
    lease: Mapping[str, Any], me: str, timing: Timing, at: dt.datetime
) -> dict[str, Any]:
    """A merge patch that makes `me` the holder (or renews it). It carries the record's
    resourceVersion, so the API server refuses it (409) if anyone wrote in between."""
    spec = lease.get("spec") or {}
    ours = holder_of(lease) == me
    patch_spec: dict[str, Any] = {
        "holderIdentity": me,
        "leaseDurationSeconds": timing.lease_seconds,
        "renewTime": micro_time(at),
    }
    if not ours:
        patch_spec["acquireTime"] = micro_time(at)
        patch_spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
    return {
        "metadata": {"resourceVersion": lease["metadata"]["resourceVersion"]},
        "spec": patch_spec,
    }


def release_patch(lease: Mapping[str, Any], at: dt.datetime) -> dict[str, Any]:
    """Give the Lease up on a clean stop, so a standby takes over at once instead of after
    a lease duration: no holder, and a 1 s duration as client-go's ReleaseOnCancel writes."""
    return {
        "metadata": {"resourceVersion": lease["metadata"]["resourceVersion"]},
        "spec": {"holderIdentity": None, "leaseDurationSeconds": 1, "renewTime": micro_time(at)},
    }
