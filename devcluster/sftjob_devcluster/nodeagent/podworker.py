"""The life of one pod on the local node, in its own thread: prepare volumes and env,
run the init containers in order, then the containers, report status, and on
deletion kill the processes and finalize the pod."""

from __future__ import annotations

import copy
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .config import NODE_IP, AgentConfig, container_log_path, default_path
from .envresolve import expand_command, resolve_env
from .errors import ConfigError, PodRejected
from .hostsfile import pod_hostname
from .images import image_id, local_image, own_network
from .kube import STRATEGIC, ApiError, Kube
from .materialize import ApiLookups, materialize_volumes
from .podstatus import (
    ContainerRun,
    build_pod_status,
    crash_backoff,
    now_rfc3339,
    should_restart,
    termination_message,
)
from .probes import Probe, ProbeState, after, check, first_due, liveness_probe
from .runner import ApiRelaySpec, ContainerProcess, ExecSpec, stop_all
from .volumes import (
    BindMount,
    container_mounts,
    plan_volumes,
    termination_message_path,
    visible_mounts,
)

log = logging.getLogger(__name__)
TERMINAL = ("Succeeded", "Failed")
POLL_SECONDS = 0.5
LOG_TAIL_BYTES = 8192


@dataclass(frozen=True)
class NodeContext:
    """What every pod worker needs from the agent."""

    kube: Kube
    config: AgentConfig
    allocatable: Mapping[str, str]
    service_host: str
    service_port: int
    # Renders the /etc/hosts of a pod from the pods the agent currently knows.
    render_hosts: Callable[[Mapping[str, Any]], str]


class PodGone(Exception):
    """The pod object no longer exists (or was replaced): stop without API calls."""


class AgentStopping(Exception):
    pass


class PodWorker:
    def __init__(self, ctx: NodeContext, pod: dict[str, Any]) -> None:
        self.ctx = ctx
        self.pod = pod
        meta = pod["metadata"]
        self.namespace: str = meta["namespace"]
        self.name: str = meta["name"]
        self.uid: str = meta["uid"]
        self.dir = ctx.config.pods_dir / f"{self.namespace}_{self.name}_{self.uid}"
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._deleting = False
        self._gone = False
        self._stopping = False
        self._conditions: list[dict[str, Any]] = []
        self._start_time = now_rfc3339()
        self._phase = ""
        self.processes: dict[str, ContainerProcess] = {}
        spec = pod.get("spec") or {}
        self.init_runs = [
            ContainerRun(c["name"], c.get("image", ""), reason="PodInitializing")
            for c in spec.get("initContainers") or []
        ]
        first_reason = "PodInitializing" if self.init_runs else "ContainerCreating"
        self.main_runs = [
            ContainerRun(c["name"], c.get("image", ""), reason=first_reason)
            for c in spec.get("containers") or []
        ]
        self.thread = threading.Thread(
            target=self._run, name=f"pod-{self.namespace}/{self.name}", daemon=True
        )
        self._note_deletion(pod)

    # ---- signals from the agent -------------------------------------------
    def start(self) -> None:
        self.thread.start()

    def update(self, pod: dict[str, Any]) -> None:
        with self._lock:
            self.pod = pod
            self._note_deletion(pod)
        self._wake.set()

    def _note_deletion(self, pod: Mapping[str, Any]) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            self._deleting = True

    def gone(self) -> None:
        self._gone = self._deleting = True
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    @property
    def hosts_file(self) -> Path:
        return self.dir / "hosts"

    def refresh_hosts(self) -> None:
        """Rewrite the hosts file in place: containers see it through a bind mount."""
        if not self.hosts_file.exists():
            return
        text = self.ctx.render_hosts(self.pod)
        if self.hosts_file.read_text() != text:
            with self.hosts_file.open("w") as f:
                f.write(text)

    # ---- the pod's life ---------------------------------------------------
    def _check(self) -> None:
        if self._gone:
            raise PodGone()
        if self._stopping:
            raise AgentStopping()

    def _sleep(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _run(self) -> None:
        try:
            try:
                self._lifecycle()
            except (PodGone, AgentStopping):
                raise
            except Exception as err:
                log.exception("pod %s/%s: the agent failed to run it", self.namespace, self.name)
                self._kill_all(0)
                self._report(
                    phase="Failed",
                    reason="NodeAgentError",
                    message=f"the local node agent failed to run this pod: {err}",
                    persist=False,
                )
            while not self._deleting:
                self._check()
                self._sleep(5)
            self._finalize()
        except PodGone:
            self._kill_all(0)
        except AgentStopping:
            self._kill_all(self.ctx.config.shutdown_grace_seconds)
            if self.processes:
                self._report_best_effort(message="the local node agent stopped")
        except Exception:
            log.exception("pod %s/%s: worker failed", self.namespace, self.name)
            self._kill_all(0)
        finally:
            self._cleanup_volumes()

    def _lifecycle(self) -> None:
        phase = (self.pod.get("status") or {}).get("phase", "Pending")
        if phase in TERMINAL:
            self._phase = phase
            return
        if self._deleting:
            return
        if phase == "Running":
            self._fail_all("the local node agent restarted and lost this pod's processes")
            return
        try:
            self._validate()
            prepared = self._prepare()
        except PodRejected as err:
            self._reject(err)
            return
        if prepared is None:
            return
        spec = self.pod["spec"]
        for i, container in enumerate(spec.get("initContainers") or []):
            self.init_runs[i] = self._start(container, prepared[("init", i)], self.init_runs[i])
            self._report()
            self._wait_for({container["name"]})
            if not self.init_runs[i].succeeded or self._deleting:
                self._report()
                return
        self.main_runs = [r.waiting("ContainerCreating") for r in self.main_runs]
        for i, container in enumerate(spec.get("containers") or []):
            self.main_runs[i] = self._start(container, prepared[("main", i)], self.main_runs[i])
        self._report()
        if self.restart_policy == "Never":
            self._wait_for({c["name"] for c in spec.get("containers") or []})
        else:
            self._supervise(prepared)
        self._report()

    @property
    def restart_policy(self) -> str:
        return str((self.pod.get("spec") or {}).get("restartPolicy") or "Always")

    def _validate(self) -> None:
        spec = self.pod.get("spec") or {}
        if self.restart_policy not in ("Always", "OnFailure", "Never"):
            raise PodRejected(
                "spec.restartPolicy",
                f"{self.restart_policy!r} is not a restart policy; write Always, OnFailure "
                "or Never",
            )
        for i, container in enumerate(spec.get("containers") or []):
            liveness_probe(container, f"spec.containers[{i}]")
        own_network(self.pod)
        for i, container in enumerate(spec.get("initContainers") or []):
            if container.get("restartPolicy"):
                raise PodRejected(
                    f"spec.initContainers[{i}].restartPolicy",
                    "sidecar containers are not supported by the local node agent; remove it",
                )

    def _prepare(self) -> dict[tuple[str, int], ExecSpec] | None:
        """Volumes, hosts file and every container's exec spec, retried while something
        the pod needs is missing (the pod stays Pending with the reason)."""
        volumes = plan_volumes(self.pod)
        last = ""
        while True:
            self._check()
            if self._deleting:
                return None
            try:
                lookups = ApiLookups(self.ctx.kube)
                pod = self._pod_with_ips()
                paths = materialize_volumes(
                    pod, volumes, self.dir / "volumes", lookups, self.ctx.allocatable
                )
                self.hosts_file.parent.mkdir(parents=True, exist_ok=True)
                self.hosts_file.write_text(self.ctx.render_hosts(pod))
                return self._exec_specs(pod, paths, lookups)
            except (ConfigError, ApiError) as err:
                # ApiError: the API server is unreachable or refused a lookup; retry.
                if str(err) != last:
                    last = str(err)
                    log.info("pod %s/%s waits: %s", self.namespace, self.name, err)
                    reason = (
                        "CreateContainerConfigError"
                        if isinstance(err, ConfigError)
                        else "ContainerCreating"
                    )
                    self.init_runs = [r.waiting(reason, str(err)) for r in self.init_runs]
                    self.main_runs = [r.waiting(reason, str(err)) for r in self.main_runs]
                    self._report(message=str(err))
                self._sleep(self.ctx.config.retry_seconds)

    def _pod_with_ips(self) -> dict[str, Any]:
        pod = copy.deepcopy(self.pod)
        status = pod.setdefault("status", {})
        status.update(podIP=NODE_IP, hostIP=NODE_IP, podIPs=[{"ip": NODE_IP}])
        status["hostIPs"] = [{"ip": NODE_IP}]
        return pod

    def _base_env(self) -> dict[str, str]:
        host, port = self.ctx.service_host, str(self.ctx.service_port)
        # The project's environment is the agent's own: its interpreter first on PATH and,
        # in a source checkout run with PYTHONPATH, the same import path.
        project = {"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}
        return {
            **project,
            "PATH": default_path(),
            "HOME": self.ctx.config.home,
            "HOSTNAME": pod_hostname(self.pod),
            "KUBERNETES_SERVICE_HOST": host,
            "KUBERNETES_SERVICE_PORT": port,
            "KUBERNETES_SERVICE_PORT_HTTPS": port,
            "KUBERNETES_PORT": f"tcp://{host}:{port}",
        }

    def _exec_specs(
        self, pod: Mapping[str, Any], paths: Mapping[str, str], lookups: ApiLookups
    ) -> dict[tuple[str, int], ExecSpec]:
        specs = {}
        spec = pod["spec"]
        groups = (("init", "initContainers"), ("main", "containers"))
        for kind, key in groups:
            for i, container in enumerate(spec.get(key) or []):
                field = f"spec.{key}[{i}]"
                env = resolve_env(
                    pod, container, field, lookups, self._base_env(), self.ctx.allocatable
                )
                argv = expand_command(container, env, field)
                mounts, left_out = visible_mounts(
                    container_mounts(container, field, paths, env), self._host_paths()
                )
                for mount in left_out:
                    log.warning(
                        "%s: volume at %s left out: it would hide %s on this local node",
                        field, mount.target, ", ".join(self._host_paths()),
                    )  # fmt: skip
                term = self.dir / "termination" / container["name"]
                term.parent.mkdir(parents=True, exist_ok=True)
                term.write_text("")
                extra = [BindMount(str(term), termination_message_path(container), False)]
                if "/etc/hosts" not in {m.target for m in mounts}:
                    extra.insert(0, BindMount(str(self.hosts_file), "/etc/hosts", False))
                relay = None
                if own_network(pod):
                    relay = ApiRelaySpec(
                        self.ctx.service_port, str(self.ctx.config.api_relay_socket)
                    )
                specs[(kind, i)] = ExecSpec(
                    api_relay=relay,
                    argv=argv,
                    env=env,
                    cwd=container.get("workingDir") or str(self.dir / "cwd"),
                    hostname=pod_hostname(pod),
                    mounts=extra + mounts,
                    start_error_file=str(self.dir / "start-error" / container["name"]),
                )
        return specs

    def _host_paths(self) -> list[str]:
        """What a local process of this agent needs to see: the project's environment (its
        interpreter's prefix, its source checkout) and the agent's state."""
        checkout = Path(__file__).resolve().parents[3]
        extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        return [sys.prefix, str(checkout), str(self.ctx.config.state_dir), *extra]

    def _start(
        self, container: Mapping[str, Any], spec: ExecSpec, run: ContainerRun
    ) -> ContainerRun:
        name = container["name"]
        self._check()
        Path(spec.start_error_file).parent.mkdir(parents=True, exist_ok=True)
        Path(spec.start_error_file).unlink(missing_ok=True)
        log_path = container_log_path(self.ctx.config.state_dir, self.namespace, self.name, name)
        proc = ContainerProcess.start(
            spec,
            self.dir / "specs" / f"{name}.json",
            log_path,
            self.ctx.config.run_dir / f"{self.uid}-{name}.json",
        )
        self.processes[name] = proc
        image = str(container.get("image", ""))
        ran = image_id(image, spec.argv[0], spec.env.get("PATH", ""))
        mapped = local_image(image)
        log.info(
            "pod %s/%s container %s: pid %d, log %s; image %s %s",
            self.namespace,
            self.name,
            name,
            proc.pid,
            log_path,
            image,
            f"runs as {ran[len('local://') :]} (the agent's image table, images.py)"
            + (", in its own network namespace" if mapped and mapped.own_network else "")
            if ran
            else "is not in the agent's image table: its command runs from this environment",
        )
        return replace(run.running(now_rfc3339()), image_id=ran)

    def _wait_for(self, names: set[str]) -> None:
        """Until these containers have exited, or the pod is being deleted."""
        while True:
            self._check()
            changed = self._collect_exits()
            if changed:
                self._report()
            if all(self.processes[n].poll() is not None for n in names):
                return
            if self._deleting:
                return
            self._sleep(POLL_SECONDS)

    def _collect_exits(self) -> bool:
        """Turn exited processes into terminated container states; True if any changed."""
        changed = False
        spec = self.pod["spec"]
        for runs, containers in (
            (self.init_runs, spec.get("initContainers") or []),
            (self.main_runs, spec.get("containers") or []),
        ):
            for i, container in enumerate(containers):
                proc = self.processes.get(container["name"])
                if proc is None or runs[i].state != "running":
                    continue
                code = proc.poll()
                if code is None:
                    continue
                runs[i] = self._terminated(runs[i], container, proc, code)
                changed = True
        return changed

    def _terminated(
        self, run: ContainerRun, container: Mapping[str, Any], proc: ContainerProcess, code: int
    ) -> ContainerRun:
        at = now_rfc3339()
        start_error = proc.start_error()
        if start_error:
            return run.terminated(code, at, start_error, reason="StartError")
        term = self.dir / "termination" / run.name
        log_path = container_log_path(
            self.ctx.config.state_dir, self.namespace, self.name, run.name
        )
        message = termination_message(
            _read(term, 8192),
            _tail(log_path, LOG_TAIL_BYTES),
            container.get("terminationMessagePolicy"),
            code,
        )
        log.info("pod %s/%s container %s exited %d", self.namespace, self.name, run.name, code)
        return run.terminated(code, at, message)

    def _supervise(self, prepared: Mapping[tuple[str, int], ExecSpec]) -> None:
        """restartPolicy Always/OnFailure: restart exited containers after a back-off and
        run their liveness probes, until the pod is deleted (or, under OnFailure, every
        container has succeeded)."""
        containers = self.pod["spec"].get("containers") or []
        probes: dict[int, Probe] = {}
        for i, c in enumerate(containers):
            if (probe := liveness_probe(c, f"spec.containers[{i}]")) is not None:
                probes[i] = probe
        started = time.monotonic()
        states = {i: _shifted(first_due(p), started) for i, p in probes.items()}
        restart_at: dict[int, float] = {}
        netns = own_network(self.pod)
        while not self._deleting:
            self._check()
            changed = self._collect_exits()
            now = time.monotonic()
            for i, container in enumerate(containers):
                run = self.main_runs[i]
                if run.state == "terminated" and should_restart(self.restart_policy, run.exit_code):
                    delay = crash_backoff(self.ctx.config.crash_backoff_seconds, run.restart_count)
                    restart_at[i] = now + delay
                    self.main_runs[i] = run.backing_off(delay)
                    changed = True
                elif i in restart_at and now >= restart_at[i]:
                    del restart_at[i]
                    self._start(container, prepared[("main", i)], run)
                    self.main_runs[i] = replace(run.restarted(now_rfc3339()), image_id=run.image_id)
                    if i in probes:
                        states[i] = _shifted(first_due(probes[i]), now)
                    changed = True
                elif run.state == "running" and i in probes and now >= states[i].next_at:
                    pid = self.processes[container["name"]].pid
                    ok = check(probes[i], pid if netns else None)
                    states[i], kill = after(probes[i], states[i], ok, time.monotonic())
                    if kill:
                        log.warning(
                            "pod %s/%s container %s failed its liveness probe; restarting",
                            self.namespace,
                            self.name,
                            container["name"],
                        )
                        stop_all([self.processes[container["name"]]], self._grace())
            if changed:
                self._report()
            if self.restart_policy == "OnFailure" and all(r.succeeded for r in self.main_runs):
                return
            self._sleep(POLL_SECONDS)

    # ---- endings ----------------------------------------------------------
    def _reject(self, err: PodRejected) -> None:
        log.warning("pod %s/%s rejected: %s", self.namespace, self.name, err)
        self._report(phase="Failed", reason="UnsupportedByLocalNode", message=str(err))

    def _fail_all(self, message: str) -> None:
        at = now_rfc3339()
        self.main_runs = [
            r.terminated(137, at, message, reason="Error") if r.state != "terminated" else r
            for r in self.main_runs
        ]
        self._report(phase="Failed", reason="NodeAgentRestarted", message=message)

    def _kill_all(self, grace: float) -> None:
        running = [p for p in self.processes.values() if p.poll() is None]
        if running:
            stop_all(running, grace)
            self._collect_exits()

    def _grace(self) -> float:
        meta, spec = self.pod["metadata"], self.pod.get("spec") or {}
        grace = meta.get("deletionGracePeriodSeconds")
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds", 30)
        return float(grace)

    def _finalize(self) -> None:
        """The pod is being deleted: stop its processes, report, then delete it for good."""
        started = any(self.processes)
        self._kill_all(self._grace())
        if started and self._phase not in TERMINAL:
            self._report_best_effort()
        body = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "gracePeriodSeconds": 0,
            "preconditions": {"uid": self.uid},
        }
        path = f"/api/v1/namespaces/{self.namespace}/pods/{self.name}"
        for attempt in range(5):
            try:
                self.ctx.kube.request("DELETE", path, body=body)
                break
            except ApiError as err:
                if err.status in (404, 409):
                    break
                if attempt == 4:
                    raise
            time.sleep(1 + attempt)
        log.info("pod %s/%s finalized", self.namespace, self.name)

    def _cleanup_volumes(self) -> None:
        if self._deleting and self.dir.exists():
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---- status -----------------------------------------------------------
    def _report(
        self, phase: str | None = None, reason: str = "", message: str = "", persist: bool = True
    ) -> None:
        """Patch the pod's status. A terminal status is retried until it is written
        (unless `persist` is False); a non-terminal one is simply superseded by the next."""
        if self._phase in TERMINAL:
            return  # a terminal phase is final
        status = build_pod_status(
            self.init_runs,
            self.main_runs,
            self._start_time,
            self._conditions,
            phase=phase,
            reason=reason,
            message=message,
            restart_policy=self.restart_policy,
        )
        body = {"metadata": {"uid": self.uid}, "status": status}
        path = f"/api/v1/namespaces/{self.namespace}/pods/{self.name}/status"
        delay = 0.5
        while True:
            try:
                self.ctx.kube.request("PATCH", path, body=body, content_type=STRATEGIC)
                break
            except ApiError as err:
                if err.status in (404, 409):
                    raise PodGone() from None
                log.warning("pod %s/%s: status update failed: %s", self.namespace, self.name, err)
            if status["phase"] not in TERMINAL or not persist:
                return
            self._check()
            time.sleep(delay)
            delay = min(delay * 2, 5)
        self._conditions = status["conditions"]
        self._phase = status["phase"]

    def _report_best_effort(self, message: str = "") -> None:
        """One try at a final status, e.g. while the agent stops."""
        at = now_rfc3339()
        self.main_runs = [
            r.terminated(137, at, message, reason="Error") if r.state != "terminated" else r
            for r in self.main_runs
        ]
        try:
            self._report(message=message, persist=False)
        except Exception as err:
            log.warning("pod %s/%s: final status not written: %s", self.namespace, self.name, err)


def _shifted(state: ProbeState, start: float) -> ProbeState:
    """A probe state whose times count from `start` (monotonic seconds)."""
    return replace(state, next_at=start + state.next_at)


def _read(path: Path, limit: int) -> str:
    try:
        with path.open("rb") as f:
            return f.read(limit).decode(errors="replace")
    except OSError:
        return ""


def _tail(path: Path, limit: int) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - limit))
            return f.read().decode(errors="replace")
    except OSError:
        return ""
