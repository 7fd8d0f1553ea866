"""Liveness probes as a kubelet runs them: httpGet and tcpSocket, with the probe's own
delay, period, timeout and thresholds. The rules are pure; `check` does the I/O."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from .config import NODE_IP
from .errors import PodRejected


@dataclass(frozen=True)
class Probe:
    kind: str  # "httpGet" | "tcpSocket"
    port: int
    path: str = "/"
    host: str = NODE_IP
    initial_delay: float = 0
    period: float = 10
    timeout: float = 1
    failure_threshold: int = 3


@dataclass(frozen=True)
class ProbeState:
    """Consecutive failures, and when the next probe is due (seconds after the start)."""

    failures: int = 0
    next_at: float = 0.0


def _port(value: Any, container: Mapping[str, Any], field: str) -> int:
    if isinstance(value, int):
        return value
    for port in container.get("ports") or []:
        if port.get("name") == value:
            return int(port["containerPort"])
    raise PodRejected(f"{field}.port", f"names no port of the container: {value!r}")


def liveness_probe(container: Mapping[str, Any], field: str) -> Probe | None:
    """The container's livenessProbe; an exec or grpc probe is refused (the agent cannot
    run a command inside a container it does not have)."""
    spec = container.get("livenessProbe")
    if not spec:
        return None
    where = f"{field}.livenessProbe"
    timing = Probe(
        "",
        0,
        initial_delay=float(spec.get("initialDelaySeconds", 0)),
        period=float(spec.get("periodSeconds", 10)),
        timeout=float(spec.get("timeoutSeconds", 1)),
        failure_threshold=int(spec.get("failureThreshold", 3)),
    )
    if "httpGet" in spec:
        http = spec["httpGet"]
        if str(http.get("scheme", "HTTP")).upper() != "HTTP":
            raise PodRejected(
                f"{where}.httpGet.scheme", "only HTTP is probed by the local node agent"
            )
        port = _port(http.get("port"), container, f"{where}.httpGet")
        return replace(
            timing,
            kind="httpGet",
            port=port,
            path=str(http.get("path") or "/"),
            host=str(http.get("host") or NODE_IP),
        )
    if "tcpSocket" in spec:
        tcp = spec["tcpSocket"]
        port = _port(tcp.get("port"), container, f"{where}.tcpSocket")
        return replace(timing, kind="tcpSocket", port=port, host=str(tcp.get("host") or NODE_IP))
    raise PodRejected(where, "only httpGet and tcpSocket probes are run by the local node agent")


def first_due(probe: Probe) -> ProbeState:
    return ProbeState(0, probe.initial_delay)


def after(probe: Probe, state: ProbeState, ok: bool, now: float) -> tuple[ProbeState, bool]:
    """The state after one result, and whether the container must be restarted now."""
    failures = 0 if ok else state.failures + 1
    if failures >= probe.failure_threshold:
        return ProbeState(0, now + probe.initial_delay + probe.period), True
    return replace(state, failures=failures, next_at=now + probe.period), False


_CHECK = """
import socket, sys, urllib.request
kind, host, port, path, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
try:
    if kind == "tcpSocket":
        socket.create_connection((host, port), timeout).close()
    else:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=timeout) as r:
            sys.exit(0 if 200 <= r.status < 400 else 1)
except Exception:
    sys.exit(1)
"""


def check(probe: Probe, netns_pid: int | None = None) -> bool:
    """One probe. With `netns_pid`, from inside that process's network namespace (a pod
    with a network of its own), through nsenter."""
    if netns_pid is not None:
        argv = [
            "nsenter", f"--net=/proc/{netns_pid}/ns/net", "--",
            sys.executable, "-I", "-S", "-c", _CHECK,
            probe.kind, probe.host, str(probe.port), probe.path, str(probe.timeout),
        ]  # fmt: skip
        try:
            return subprocess.run(argv, timeout=probe.timeout + 5, check=False).returncode == 0
        except subprocess.TimeoutExpired:
            return False
    try:
        if probe.kind == "tcpSocket":
            socket.create_connection((probe.host, probe.port), probe.timeout).close()
            return True
        url = f"http://{probe.host}:{probe.port}{probe.path}"
        with urllib.request.urlopen(url, timeout=probe.timeout) as response:
            return 200 <= response.status < 400
    except (OSError, urllib.error.URLError):
        return False
