"""NodeAgent: registers the local node, watches the pods bound to it and gives each
one a PodWorker."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from .apirelay import ApiRelay
from .config import AgentConfig
from .hostsfile import render_hosts
from .kube import ApiError, Kube
from .node import NodeHeartbeat, node_resources
from .podworker import NodeContext, PodWorker
from .provisioner import Provisioner
from .runner import kill_orphans

log = logging.getLogger(__name__)


class NodeAgent:
    """Run with `run()` (blocks until `stop()`), or `start()` for a background thread."""

    def __init__(self, config: AgentConfig, kube: Kube | None = None) -> None:
        self.config = config
        self.kube = kube or Kube(config.kubeconfig)
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pods: dict[str, dict[str, Any]] = {}
        self._workers: dict[str, PodWorker] = {}
        self._thread: threading.Thread | None = None
        self.heartbeat = NodeHeartbeat(self.kube, config)
        self.provisioner = Provisioner(
            self.kube, config.volumes_dir, config.node_name, config.default_storage_class
        )
        self.error: BaseException | None = None
        host, port = self.kube.server_host_port
        self.api_relay = ApiRelay(config.api_relay_socket, host, port)
        self.ctx = NodeContext(
            kube=self.kube,
            config=config,
            allocatable=node_resources(config),
            service_host=host,
            service_port=port,
            render_hosts=self._render_hosts,
        )

    # ---- lifecycle ----------------------------------------------------------
    def run(self) -> None:
        try:
            self._run()
        except BaseException as err:
            self.error = err
            self.ready.set()  # wake wait_ready(), which re-raises
            raise

    def wait_ready(self, timeout: float = 60) -> None:
        """Block until the node is registered and pods are watched; raise if startup failed."""
        if not self.ready.wait(timeout):
            raise TimeoutError(f"node agent not ready after {timeout:.0f}s")
        if self.error is not None:
            raise RuntimeError(f"node agent failed to start: {self.error}") from self.error

    def _run(self) -> None:
        cfg = self.config
        for directory in (cfg.pods_dir, cfg.logs_dir, cfg.run_dir):
            directory.mkdir(parents=True, exist_ok=True)
        cfg.ready_file.unlink(missing_ok=True)
        orphans = kill_orphans(cfg.run_dir)
        if orphans:
            log.warning("killed %d container processes left by an earlier agent", len(orphans))
        self.api_relay.start()
        self.heartbeat.register()
        self.heartbeat.start()
        if cfg.provision_volumes:
            self.provisioner.start()
        log.info("node %s registered; state dir %s", cfg.node_name, cfg.state_dir)
        watcher = threading.Thread(target=self._watch_loop, name="pod-watch", daemon=True)
        watcher.start()
        try:
            self._stop.wait()
        finally:
            self._shutdown()

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, name="node-agent", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _shutdown(self) -> None:
        with self._lock:
            workers = list(self._workers.values())
        for worker in workers:
            worker.stop()
        for worker in workers:
            worker.thread.join(self.config.shutdown_grace_seconds + 10)
        self.heartbeat.stop()
        self.provisioner.stop()
        self.api_relay.stop()
        self.config.ready_file.unlink(missing_ok=True)
        log.info("node agent stopped")

    # ---- pods ---------------------------------------------------------------
    def _render_hosts(self, pod: Mapping[str, Any]) -> str:
        with self._lock:
            others = list(self._pods.values())
        return render_hosts(pod, others)

    def _watch_loop(self) -> None:
        path = "/api/v1/pods"
        selector = {"fieldSelector": f"spec.nodeName={self.config.node_name}"}
        version = ""
        backoff = 1.0
        while not self._stop.is_set():
            try:
                if not version:
                    listing = self.kube.request("GET", path, selector)
                    self._reconcile(listing.get("items") or [])
                    version = listing["metadata"]["resourceVersion"]
                    if not self.ready.is_set():
                        self.config.ready_file.write_text(str(time.time()))
                        self.ready.set()
                for event in self.kube.watch(
                    path,
                    dict(selector, resourceVersion=version),
                    self.config.watch_timeout_seconds,
                ):
                    if self._stop.is_set():
                        return
                    if event.type == "ERROR":
                        # 410 Gone: our resourceVersion is too old; list again.
                        log.info("pod watch: %s; listing again", event.object.get("message"))
                        version = ""
                        break
                    version = event.object["metadata"].get("resourceVersion", version)
                    if event.type != "BOOKMARK":
                        self._handle(event.type, event.object)
                backoff = 1.0
            except (ApiError, ValueError) as err:
                if self._stop.is_set():
                    return
                log.warning("pod watch failed: %s; retrying in %.0fs", err, backoff)
                version = ""
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30)
            except Exception as err:  # urllib3 protocol errors and the like
                log.warning("pod watch broke: %r; listing again", err)
                version = ""
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30)

    def _reconcile(self, pods: list[dict[str, Any]]) -> None:
        seen = {p["metadata"]["uid"] for p in pods}
        with self._lock:
            vanished = [uid for uid in self._pods if uid not in seen]
        for uid in vanished:
            self._handle("DELETED", {"metadata": {"uid": uid}})
        for pod in pods:
            self._handle("MODIFIED", pod)

    def _handle(self, kind: str, pod: dict[str, Any]) -> None:
        uid = pod["metadata"]["uid"]
        with self._lock:
            if kind == "DELETED":
                gone = self._pods.pop(uid, pod)
                worker = self._workers.pop(uid, None)
                if worker is not None:
                    worker.gone()
                pod = gone
            else:
                self._pods[uid] = pod
                worker = self._workers.get(uid)
                if worker is None:
                    worker = self._workers[uid] = PodWorker(self.ctx, pod)
                    worker.start()
                else:
                    worker.update(pod)
        if (pod.get("spec") or {}).get("subdomain"):
            self._refresh_hosts(pod)

    def _refresh_hosts(self, pod: Mapping[str, Any]) -> None:
        namespace = pod["metadata"].get("namespace")
        subdomain = pod["spec"]["subdomain"]
        with self._lock:
            peers = [
                w
                for w in self._workers.values()
                if w.namespace == namespace
                and (w.pod.get("spec") or {}).get("subdomain") == subdomain
            ]
        for worker in peers:
            try:
                worker.refresh_hosts()
            except OSError as err:
                log.warning("hosts file of %s/%s: %s", worker.namespace, worker.name, err)
