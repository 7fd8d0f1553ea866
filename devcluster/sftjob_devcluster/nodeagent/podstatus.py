"""Pod status as a kubelet reports it, built from what the agent observed (pure)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .config import NODE_IP

MAX_TERMINATION_MESSAGE = 4096
FALLBACK_LOG_LINES = 80
FALLBACK_LOG_BYTES = 2048


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ContainerRun:
    """One container as the agent sees it: waiting, running or terminated."""

    name: str
    image: str = ""
    state: str = "waiting"  # waiting | running | terminated
    reason: str = "ContainerCreating"
    message: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    restart_count: int = 0
    image_id: str = ""
    # The state before the last restart (a container status's lastState.terminated).
    last_terminated: ContainerRun | None = None

    def running(self, at: str) -> ContainerRun:
        return replace(self, state="running", reason="", message="", started_at=at)

    def backing_off(self, seconds: float) -> ContainerRun:
        """Terminated, and waiting to be restarted (restartPolicy Always or OnFailure)."""
        return replace(
            self.waiting("CrashLoopBackOff", f"back-off {seconds:.0f}s restarting the container"),
            last_terminated=replace(self, last_terminated=None),
        )

    def restarted(self, at: str) -> ContainerRun:
        return replace(
            self.running(at),
            restart_count=self.restart_count + 1,
            finished_at=None,
            exit_code=None,
        )

    def terminated(
        self, exit_code: int, at: str, message: str = "", reason: str = ""
    ) -> ContainerRun:
        return replace(
            self,
            state="terminated",
            exit_code=exit_code,
            finished_at=at,
            message=message,
            reason=reason or ("Completed" if exit_code == 0 else "Error"),
        )

    def waiting(self, reason: str, message: str = "") -> ContainerRun:
        return replace(self, state="waiting", reason=reason, message=message)

    @property
    def succeeded(self) -> bool:
        return self.state == "terminated" and self.exit_code == 0


def container_status(run: ContainerRun) -> dict[str, Any]:
    # Unset states are sent as null: in a strategic merge patch that removes the old one.
    state: dict[str, Any] = {"waiting": None, "running": None, "terminated": None}
    if run.state == "running":
        state["running"] = {"startedAt": run.started_at}
    elif run.state == "terminated":
        term: dict[str, Any] = {
            "exitCode": run.exit_code,
            "reason": run.reason,
            "startedAt": run.started_at,
            "finishedAt": run.finished_at,
        }
        if run.message:
            term["message"] = run.message
        state["terminated"] = term
    else:
        waiting = {"reason": run.reason}
        if run.message:
            waiting["message"] = run.message
        state["waiting"] = waiting
    status = {
        "name": run.name,
        "image": run.image,
        "imageID": run.image_id,
        "ready": run.state == "running",
        "started": run.state == "running",
        "restartCount": run.restart_count,
        "state": state,
    }
    if run.last_terminated is not None:
        last = container_status(run.last_terminated)["state"]
        status["lastState"] = {"terminated": last["terminated"]}
    return status


def pod_phase(
    init: Sequence[ContainerRun], main: Sequence[ContainerRun], restart_policy: str = "Never"
) -> str:
    """The phase a kubelet reports: under Always a started pod stays Running (its
    containers restart); under OnFailure only success ends it."""
    if any(r.state == "terminated" and not r.succeeded for r in init):
        return "Failed"
    if not all(r.succeeded for r in init):
        return "Pending"
    started = any(
        r.state in ("running", "terminated") or r.last_terminated is not None for r in main
    )
    if restart_policy == "Always":
        return "Running" if started else "Pending"
    if restart_policy == "OnFailure":
        if main and all(r.succeeded for r in main):
            return "Succeeded"
        return "Running" if started else "Pending"
    if main and all(r.state == "terminated" for r in main):
        return "Succeeded" if all(r.succeeded for r in main) else "Failed"
    if any(r.state in ("running", "terminated") for r in main):
        return "Running"
    return "Pending"


def should_restart(restart_policy: str, exit_code: int | None) -> bool:
    return restart_policy == "Always" or (restart_policy == "OnFailure" and exit_code != 0)


def crash_backoff(base: float, restarts: int, cap: float = 300.0) -> float:
    """A kubelet's back-off before restart number `restarts + 1`: base, doubled, capped."""
    return float(min(base * 2**restarts, cap))


def _condition(kind: str, ok: bool, reason: str = "") -> dict[str, Any]:
    cond = {"type": kind, "status": "True" if ok else "False"}
    if reason and not ok:
        cond["reason"] = reason
    return cond


def pod_conditions(
    phase: str, init: Sequence[ContainerRun], main: Sequence[ContainerRun]
) -> list[dict[str, Any]]:
    initialized = all(r.succeeded for r in init)
    ready = phase == "Running" and all(r.state == "running" for r in main)
    not_ready = {"Succeeded": "PodCompleted", "Failed": "PodFailed"}.get(
        phase, "ContainersNotReady"
    )
    return [
        _condition("PodScheduled", True),
        _condition("PodReadyToStartContainers", True),
        _condition("Initialized", initialized, "ContainersNotInitialized"),
        _condition("ContainersReady", ready, not_ready),
        _condition("Ready", ready, not_ready),
    ]


def carry_transition_times(
    new: Sequence[Mapping[str, Any]], old: Sequence[Mapping[str, Any]], at: str
) -> list[dict[str, Any]]:
    """Stamp lastTransitionTime: kept from `old` where the status did not change, else `at`."""
    before = {c.get("type"): c for c in old}
    out = []
    for cond in new:
        prev = before.get(cond["type"])
        keep = prev is not None and prev.get("status") == cond["status"]
        stamped = dict(cond)
        stamped["lastTransitionTime"] = (prev or {}).get("lastTransitionTime") if keep else at
        stamped["lastProbeTime"] = None
        out.append(stamped)
    return out


def build_pod_status(
    init: Sequence[ContainerRun],
    main: Sequence[ContainerRun],
    start_time: str,
    old_conditions: Sequence[Mapping[str, Any]] = (),
    at: str | None = None,
    phase: str | None = None,
    reason: str = "",
    message: str = "",
    restart_policy: str = "Never",
) -> dict[str, Any]:
    """The full `status` of a pod; `phase` overrides the computed one (e.g. a rejected pod)."""
    at = at or now_rfc3339()
    phase = phase or pod_phase(init, main, restart_policy)
    status: dict[str, Any] = {
        "phase": phase,
        "hostIP": NODE_IP,
        "hostIPs": [{"ip": NODE_IP}],
        "podIP": NODE_IP,
        "podIPs": [{"ip": NODE_IP}],
        "startTime": start_time,
        "conditions": carry_transition_times(pod_conditions(phase, init, main), old_conditions, at),
        "containerStatuses": [container_status(r) for r in main],
        "reason": reason or None,
        "message": message or None,
    }
    if init:
        status["initContainerStatuses"] = [container_status(r) for r in init]
    return status


def termination_message(file_text: str, log_tail: str, policy: str | None, exit_code: int) -> str:
    """The container's termination message: its file, or with FallbackToLogsOnError the
    last lines of its log when the file is empty and the container failed."""
    message = file_text
    if not message.strip() and policy == "FallbackToLogsOnError" and exit_code != 0:
        lines = log_tail.splitlines()[-FALLBACK_LOG_LINES:]
        message = "\n".join(lines)[-FALLBACK_LOG_BYTES:]
    return message[:MAX_TERMINATION_MESSAGE]


def exit_code_of(returncode: int) -> int:
    """Popen's returncode (negative for a signal) as a container exit code (128 + signal)."""
    return 128 - returncode if returncode < 0 else returncode
