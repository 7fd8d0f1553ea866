"""DevCluster: a real control plane on loopback (etcd, kube-apiserver,
kube-controller-manager, kube-scheduler) plus kwok simulating GPU nodes.

    from sftjob_devcluster.cluster import DevCluster
    cluster = DevCluster().up()
    cluster.kubectl("get", "nodes")
    cluster.down()
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import args as component_args
from . import audit, procs
from .apiclient import ApiClient, ApiError
from .build import build
from .cached import locked
from .kubeconfig import render_kubeconfig, render_token_kubeconfig, write_kubeconfig
from .layout import COMPONENTS, Layout
from .nodes import KWOK_NODE_LABEL, KWOK_NODE_LABEL_VALUE, NodeShape, node_manifests
from .paths import cluster_state_dir
from .stages import render_kwok_config

LOCAL_NODE_COMPONENT = "nodeagent"
KUEUE_COMPONENT = "kueue"
CLUSTER_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


class DevClusterError(RuntimeError):
    """A failure a user can act on; the message says what and where to look."""


class ComponentError(DevClusterError):
    def __init__(self, component: str, log: Path, problem: str) -> None:
        tail = procs.log_tail(log)
        hint = ""
        if "address already in use" in tail:
            hint = (
                "\nhint: a port it needs is already in use; run `sftjob-devcluster down` "
                "for a stale cluster, or free the port"
            )
        super().__init__(f"{component}: {problem}; log: {log}\n--- last lines ---\n{tail}{hint}")
        self.component = component
        self.log = log


@dataclass(frozen=True)
class ClusterConfig:
    name: str = "default"
    state_dir: Path | None = None
    nodes: NodeShape = field(default_factory=NodeShape)
    # Seconds a Job-owned pod stays Running before kwok marks it Succeeded.
    pod_complete_after: float = 5.0
    # 0 picks a free port.
    apiserver_port: int = 0
    startup_timeout: float = 180.0
    # Also run the local node agent (node `local-cpu`), which executes pods as processes.
    local_node: bool = False
    # Also run Kueue (built on first use), with its CRDs, webhooks and batch/v1 Job
    # integration.
    kueue: bool = False

    def __post_init__(self) -> None:
        if not CLUSTER_NAME.fullmatch(self.name):
            raise DevClusterError(
                f"cluster name {self.name!r}: use lowercase letters, digits and '-' "
                "(e.g. --name dev)"
            )

    @property
    def root(self) -> Path:
        return Path(self.state_dir) if self.state_dir else cluster_state_dir(self.name)


@dataclass(frozen=True)
class ComponentState:
    name: str
    state: str  # "running", "stopped" (no pid file), "crashed" (pid file, no process)
    pid: int | None
    log: Path


# Components listen below the kernel's ephemeral range (Linux: 32768-60999): a port in it
# can become the source port of any client connection while its component is down (an
# apiserver restart), and the component would then fail to bind it again.
LISTEN_PORT_FLOOR = 20000
PORT_RELEASE_TIMEOUT = 15.0
EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def listen_port_ceiling(ephemeral_range: str | None) -> int:
    """The first port of the ephemeral range (32768 when it cannot be read)."""
    try:
        return int((ephemeral_range or "").split()[0])
    except (IndexError, ValueError):
        return 32768


def free_port() -> int:
    try:
        ceiling = listen_port_ceiling(EPHEMERAL_RANGE_FILE.read_text())
    except OSError:
        ceiling = listen_port_ceiling(None)
    for _ in range(200):
        if ceiling <= LISTEN_PORT_FLOOR:
            break
        port = random.randrange(LISTEN_PORT_FLOOR, ceiling)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_bindable(port: int) -> bool:
    """Whether a listener could bind 127.0.0.1:port now. With SO_REUSEADDR, as Go's
    listeners set it: an earlier listener's connections in TIME_WAIT do not count."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_port_released(port: int, timeout: float = PORT_RELEASE_TIMEOUT) -> None:
    """Until a killed process's listener is gone. A SIGKILLed process's command line reads
    empty (so procs.kill counts it gone) a moment before the kernel closes its sockets,
    and on a loaded machine a restart could race that teardown. Returns at the timeout
    regardless: the start then fails naming the port."""
    deadline = time.monotonic() + timeout
    while not port_bindable(port) and time.monotonic() < deadline:
        time.sleep(0.1)


def check_port_free(component: str, port: int, flag: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as err:
            raise DevClusterError(
                f"{component}: port 127.0.0.1:{port} is already in use ({err.strerror}); "
                f"pass another {flag}, or 0 to pick a free port"
            ) from None


def pick_ports(apiserver_port: int = 0) -> component_args.Ports:
    if apiserver_port:
        check_port_free("kube-apiserver", apiserver_port, "--apiserver-port")
    chosen: list[int] = []
    while len(chosen) < 5:
        port = free_port()
        if port not in chosen and port != apiserver_port:
            chosen.append(port)
    etcd_client, etcd_peer, kcm, sched, kwok = chosen
    return component_args.Ports(
        etcd_client=etcd_client,
        etcd_peer=etcd_peer,
        apiserver=apiserver_port or free_port(),
        controller_manager=kcm,
        scheduler=sched,
        kwok=kwok,
    )


def _http_ok(url: str, timeout: float = 2.0) -> bool:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=ctx) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class DevCluster:
    def __init__(self, config: ClusterConfig | None = None, bin_dir: Path | None = None) -> None:
        self.config = config or ClusterConfig()
        self.layout = Layout(self.config.root)
        self._bin_dir = bin_dir
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    # ---- where things are -------------------------------------------------
    @property
    def state_dir(self) -> Path:
        return self.layout.root

    @property
    def kubeconfig(self) -> Path:
        return self.layout.kubeconfig

    @property
    def ca_file(self) -> Path:
        return self.layout.pki.ca_cert

    @property
    def client_cert(self) -> Path:
        return self.layout.pki.cert("admin")

    @property
    def client_key(self) -> Path:
        return self.layout.pki.key("admin")

    def _state(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.layout.state_file.read_text())
            return data
        except (OSError, ValueError):
            return {}

    @property
    def server(self) -> str:
        """https://127.0.0.1:<port> of the running cluster."""
        server = self._state().get("server")
        if not server:
            raise DevClusterError(
                f"cluster {self.config.name!r} is not up (no {self.layout.state_file}); "
                "run `sftjob-devcluster up` first"
            )
        return str(server)

    @property
    def bin_dir(self) -> Path:
        if self._bin_dir is None:
            self._bin_dir = build()
        return self._bin_dir

    def api(self) -> ApiClient:
        return ApiClient(self.server, self.ca_file, self.client_cert, self.client_key)

    def env(self) -> dict[str, str]:
        return {"KUBECONFIG": str(self.kubeconfig)}

    def kubectl(
        self, *argv: str, check: bool = True, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this cluster; output is captured as text."""
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            raise DevClusterError("kubectl was not found on PATH: install kubectl")
        return subprocess.run(
            [kubectl, f"--kubeconfig={self.kubeconfig}", *argv],
            check=check,
            capture_output=True,
            text=True,
            input=input,
            timeout=timeout,
        )

    def service_account_kubeconfig(
        self, account: str, namespace: str, path: Path, duration: str = "1h"
    ) -> Path:
        """A kubeconfig at `path` that acts as ServiceAccount `namespace/account`, with a
        token of it (`kubectl create token`), as a pod running as that account would."""
        token = self.kubectl(
            "create", "token", account, "-n", namespace, f"--duration={duration}"
        ).stdout.strip()
        if not token:
            raise DevClusterError(f"no token was issued for serviceaccount {namespace}/{account}")
        config = render_token_kubeconfig(self.server, self.ca_file, token, namespace, account)
        return write_kubeconfig(path, config)

    def wait_for_service_account(
        self, namespace: str, name: str = "default", timeout: float = 60
    ) -> None:
        """Wait until the serviceaccount controller has created `name` in `namespace`."""
        deadline = time.monotonic() + timeout
        path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}"
        while True:
            try:
                self.api().get_json(path)
                return
            except (ApiError, OSError):
                if time.monotonic() > deadline:
                    raise DevClusterError(
                        f"serviceaccount {namespace}/{name} did not appear within {timeout:.0f}s; "
                        f"check {self.layout.log('kube-controller-manager')}"
                    ) from None
                time.sleep(0.2)

    # ---- lifecycle -----------------------------------------------------------
    def status(self) -> dict[str, ComponentState]:
        """State of every component that has (or had) a pid file, core ones always."""
        names = list(COMPONENTS) + [n for n in self._tracked_names() if n not in COMPONENTS]
        result = {}
        for name in names:
            tracked = procs.read_pid_file(name, self.layout.pid_file(name))
            if tracked is None:
                result[name] = ComponentState(name, "stopped", None, self.layout.log(name))
            elif procs.is_ours(tracked):
                result[name] = ComponentState(name, "running", tracked.pid, tracked.log)
            else:
                result[name] = ComponentState(name, "crashed", tracked.pid, tracked.log)
        return result

    def is_up(self) -> bool:
        states = self.status()
        if not all(states[c].state == "running" for c in COMPONENTS):
            return False
        try:
            status, _ = self.api().request("GET", "/readyz", timeout=5)
        except (DevClusterError, OSError):
            return False
        return status == 200

    def pids(self) -> dict[str, int]:
        return {n: s.pid for n, s in self.status().items() if s.pid is not None}

    @property
    def _lock_file(self) -> Path:
        return self.layout.root.with_name(self.layout.root.name + ".lock")

    def up(self) -> DevCluster:
        """Start the cluster (or reuse it if already healthy); returns self."""
        bin_dir = self.bin_dir
        with locked(self._lock_file):
            if not self.is_up():
                # Leftovers of a crashed or killed run: stop what still runs, wipe the data.
                self._down()
                self._start_all(bin_dir)
            if self.config.local_node:
                self.start_local_node()
            if self.config.kueue:
                self.start_kueue()
        return self

    def start_kueue(self) -> None:
        """Run Kueue unless it already runs: CRDs, then the manager, then its webhooks."""
        from . import kueue
        from .certs import write_serving_cert
        from .kueue_build import METRICS_CERT_DIR_ENV, build_kueue, module_dir

        current = self.status().get(KUEUE_COMPONENT)
        if current is not None and current.state == "running":
            return
        binary = build_kueue()
        module = module_dir()
        api = self.api()
        for crd in kueue.crd_manifests(module):
            api.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
        deadline = time.monotonic() + self.config.startup_timeout
        self._wait(KUEUE_COMPONENT, deadline, lambda: self._crds_established(kueue.KUEUE_API_GROUP))
        api.create(
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": kueue.KUEUE_NAMESPACE}},
        )
        work = self.state_dir / KUEUE_COMPONENT
        certs = write_serving_cert(self.layout.pki, "kueue-webhook", work / "certs")
        webhook_port, health_port = free_port(), free_port()
        config = work / "config.yaml"
        config.write_text(
            yaml.safe_dump(kueue.configuration(webhook_port, health_port, certs), sort_keys=False)
        )
        argv = [str(binary), f"--config={config}"]
        self.start_component(
            KUEUE_COMPONENT,
            argv,
            env={
                **os.environ,
                METRICS_CERT_DIR_ENV: str(certs),
                "KUBECONFIG": str(self.kubeconfig),
            },
            ready=lambda: _http_ok(f"http://127.0.0.1:{health_port}/readyz"),
            timeout=self.config.startup_timeout,
        )
        manifests = (module / kueue.WEBHOOK_MANIFESTS).read_text()
        hooks = kueue.webhook_configurations(
            manifests, f"https://127.0.0.1:{webhook_port}", self.ca_file.read_bytes()
        )
        for hook in hooks:
            plural = hook["kind"].lower() + "s"
            base = f"/apis/admissionregistration.k8s.io/v1/{plural}"
            api.request("DELETE", f"{base}/{hook['metadata']['name']}")
            api.create(base, hook)

    def stop_kueue(self) -> bool:
        """Stop Kueue and remove its webhook registrations (its CRDs and objects stay).
        True if it had been running."""
        from . import kueue

        tracked = procs.read_pid_file(KUEUE_COMPONENT, self.layout.pid_file(KUEUE_COMPONENT))
        api = self.api()
        for kind in ("mutating", "validating"):
            base = f"/apis/admissionregistration.k8s.io/v1/{kind}webhookconfigurations"
            api.request("DELETE", f"{base}/{kueue.WEBHOOK_CONFIG_PREFIX}{kind}")
        self._procs.pop(KUEUE_COMPONENT, None)
        stopped = tracked is not None and procs.stop(tracked)
        self.layout.pid_file(KUEUE_COMPONENT).unlink(missing_ok=True)
        return stopped

    def _crds_established(self, group: str) -> bool:
        try:
            crds = self.api().get_json("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
        except (ApiError, OSError):
            return False
        ours = [c for c in crds["items"] if c["spec"]["group"] == group]
        return bool(ours) and all(
            any(
                c["type"] == "Established" and c["status"] == "True"
                for c in (crd.get("status") or {}).get("conditions") or ()
            )
            for crd in ours
        )

    @property
    def local_node_state_dir(self) -> Path:
        """The node agent's files: pod volumes, container logs (`container_log_path`), pids."""
        return self.state_dir / LOCAL_NODE_COMPONENT

    def start_local_node(self) -> None:
        """Run the local node agent (node `local-cpu`) unless it already runs."""
        # Imported here: the agent needs the `kubernetes` client, the control plane does not.
        from .nodeagent import agent_argv, ready_file

        current = self.status().get(LOCAL_NODE_COMPONENT)
        if current is not None and current.state == "running":
            return
        state = self.local_node_state_dir
        ready_file(state).unlink(missing_ok=True)
        self.start_component(
            LOCAL_NODE_COMPONENT,
            agent_argv(self.kubeconfig, state, default_storage_class=True),
            ready=lambda: ready_file(state).exists(),
            timeout=60,
        )

    def _start_all(self, bin_dir: Path) -> None:
        ports = pick_ports(self.config.apiserver_port)
        self._prepare(ports)
        deadline = time.monotonic() + self.config.startup_timeout
        lay = self.layout

        self._start("etcd", component_args.etcd_args(bin_dir, lay, ports))
        self._wait(
            "etcd", deadline, lambda: _http_ok(f"http://127.0.0.1:{ports.etcd_client}/health")
        )
        self._start("kube-apiserver", component_args.apiserver_args(bin_dir, lay, ports))
        self._wait("kube-apiserver", deadline, self._apiserver_ready)
        self._start(
            "kube-controller-manager", component_args.controller_manager_args(bin_dir, lay, ports)
        )
        self._start("kube-scheduler", component_args.scheduler_args(bin_dir, lay, ports))
        self._wait(
            "kube-controller-manager",
            deadline,
            lambda: _http_ok(f"https://127.0.0.1:{ports.controller_manager}/healthz"),
        )
        self._wait(
            "kube-scheduler",
            deadline,
            lambda: _http_ok(f"https://127.0.0.1:{ports.scheduler}/healthz"),
        )
        self._register_nodes()
        self._start("kwok", component_args.kwok_args(bin_dir, lay, ports))
        self._wait("kwok", deadline, self._nodes_ready)
        self._wait("kube-controller-manager", deadline, self._default_service_account_exists)

    def down(self) -> list[str]:
        """Stop every process this cluster started (by pid) and remove its state.

        Returns the names of the components that were still running.
        """
        with locked(self._lock_file):
            return self._down()

    def _down(self) -> list[str]:
        stopped = []
        extras = [n for n in self._tracked_names() if n not in COMPONENTS]
        for name in [*extras, *reversed(COMPONENTS)]:
            tracked = procs.read_pid_file(name, self.layout.pid_file(name))
            if tracked is not None and procs.stop(tracked):
                stopped.append(name)
        self._procs.clear()
        if self.layout.root.exists():
            shutil.rmtree(self.layout.root)
        return stopped

    def start_component(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        ready: Callable[[], bool] | None = None,
        timeout: float = 60,
    ) -> int:
        """Start an extra process (e.g. a node agent) that `down` will stop too."""
        if name in COMPONENTS:
            raise DevClusterError(f"component name {name!r} is reserved; choose another name")
        proc = self._start(name, argv, env)
        if ready is not None:
            self._wait(name, time.monotonic() + timeout, ready)
        return proc.pid

    # ---- faults: kube-apiserver crashes, pauses and flags (tests/reliability) --------
    def kill_apiserver(self) -> None:
        """SIGKILL kube-apiserver, as when its node dies; etcd and the rest keep running."""
        tracked = self._tracked("kube-apiserver")
        if not procs.kill(tracked):
            raise DevClusterError(f"kube-apiserver (pid {tracked.pid}) was not running")

    def start_apiserver(self, extra_args: Sequence[str] = ()) -> None:
        """Start kube-apiserver again on the same port and etcd, with `extra_args` after
        its usual flags (a later flag wins, e.g. `--max-requests-inflight=2`); wait until
        it is ready."""
        state = self._state()
        ports = component_args.Ports(**state["ports"])
        self._write_audit_policy()  # a cluster made before the audit log began lacks it
        argv = component_args.apiserver_args(Path(state["bin_dir"]), self.layout, ports)
        wait_port_released(ports.apiserver)
        self._start("kube-apiserver", [*argv, *extra_args])
        deadline = time.monotonic() + self.config.startup_timeout
        self._wait("kube-apiserver", deadline, self._apiserver_ready)

    def restart_apiserver(self, extra_args: Sequence[str] = ()) -> None:
        """kill_apiserver, then start_apiserver(extra_args)."""
        self.kill_apiserver()
        self.start_apiserver(extra_args)

    def pause_apiserver(self) -> None:
        """SIGSTOP kube-apiserver: its connections stay open and answer nothing."""
        if not procs.send(self._tracked("kube-apiserver"), signal.SIGSTOP):
            raise DevClusterError("kube-apiserver is not running; nothing to pause")

    def resume_apiserver(self) -> None:
        """SIGCONT kube-apiserver after pause_apiserver."""
        if not procs.send(self._tracked("kube-apiserver"), signal.SIGCONT):
            raise DevClusterError("kube-apiserver is not running; nothing to resume")

    def _tracked(self, name: str) -> procs.Tracked:
        tracked = procs.read_pid_file(name, self.layout.pid_file(name))
        if tracked is None:
            raise DevClusterError(f"{name} has no pid file; is cluster {self.config.name!r} up?")
        return tracked

    # ---- internals ---------------------------------------------------------
    def _tracked_names(self) -> list[str]:
        pid_dir = self.layout.pid_file("x").parent
        if not pid_dir.is_dir():
            return []
        return sorted(p.stem for p in pid_dir.glob("*.pid"))

    def _write_audit_policy(self) -> None:
        self.layout.audit_policy.write_text(audit.POLICY)
        self.layout.audit_log.parent.mkdir(parents=True, exist_ok=True)

    @property
    def audit_log(self) -> Path:
        """The apiserver's log of writes (audit.writes reads it)."""
        return self.layout.audit_log

    def _prepare(self, ports: component_args.Ports) -> None:
        from .certs import write_pki  # needs `cryptography`, only when starting a cluster

        lay = self.layout
        lay.root.mkdir(parents=True, exist_ok=True)
        pki = write_pki(lay.pki.dir)
        server = f"https://127.0.0.1:{ports.apiserver}"
        write_kubeconfig(
            lay.kubeconfig,
            render_kubeconfig(server, pki.ca_cert, pki.cert("admin"), pki.key("admin")),
        )
        for component in ("kube-controller-manager", "kube-scheduler"):
            write_kubeconfig(
                lay.component_kubeconfig(component),
                render_kubeconfig(server, pki.ca_cert, pki.cert(component), pki.key(component)),
            )
        lay.kwok_config.write_text(render_kwok_config(self.config.pod_complete_after))
        self._write_audit_policy()
        for component in COMPONENTS:
            lay.work_dir(component).mkdir(parents=True, exist_ok=True)
        lay.state_file.write_text(
            json.dumps(
                {
                    "name": self.config.name,
                    "server": server,
                    "ports": ports.__dict__,
                    "bin_dir": str(self.bin_dir),
                    "kubeconfig": str(lay.kubeconfig),
                },
                indent=2,
            )
        )

    def _start(
        self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        proc = procs.start(
            name,
            argv,
            self.layout.log(name),
            self.layout.pid_file(name),
            env=env,
            cwd=self.layout.work_dir(name) if name in COMPONENTS else None,
        )
        self._procs[name] = proc
        return proc

    def _wait(self, name: str, deadline: float, ready: Callable[[], bool]) -> None:
        log = self.layout.log(name)
        while True:
            proc = self._procs.get(name)
            if proc is not None and proc.poll() is not None:
                raise ComponentError(
                    name, log, f"exited during startup with code {proc.returncode}"
                )
            if ready():
                return
            if time.monotonic() > deadline:
                raise ComponentError(
                    name, log, f"not ready after {self.config.startup_timeout:.0f}s"
                )
            time.sleep(0.25)

    def _apiserver_ready(self) -> bool:
        try:
            status, _ = self.api().request("GET", "/readyz", timeout=3)
        except OSError:
            return False
        return status == 200

    def _register_nodes(self) -> None:
        api = self.api()
        for node in node_manifests(self.config.nodes):
            api.create("/api/v1/nodes", node)

    def _nodes_ready(self) -> bool:
        selector = f"{KWOK_NODE_LABEL}={KWOK_NODE_LABEL_VALUE}"
        try:
            nodes = self.api().get_json(f"/api/v1/nodes?labelSelector={selector}")["items"]
        except (ApiError, OSError):
            return False
        if len(nodes) != self.config.nodes.count:
            return False
        for node in nodes:
            conditions = node.get("status", {}).get("conditions", [])
            if not any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                return False
        return True

    def _default_service_account_exists(self) -> bool:
        try:
            self.api().get_json("/api/v1/namespaces/default/serviceaccounts/default")
        except (ApiError, OSError):
            return False
        return True
