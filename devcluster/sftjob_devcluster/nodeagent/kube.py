"""A thin JSON-in, JSON-out client over the `kubernetes` package's transport.

The generated API classes validate and convert every object; the agent works on
plain dicts (so its logic stays in pure functions), and only borrows the
client's kubeconfig handling, TLS and connection pool.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

log = logging.getLogger(__name__)

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"


class ApiError(RuntimeError):
    """An HTTP error status, or status 0 when the server could not be reached."""

    def __init__(self, status: int, method: str, path: str, body: str) -> None:
        try:
            message = json.loads(body).get("message", body)
        except ValueError:
            message = body
        super().__init__(f"{method} {path}: HTTP {status}: {message}")
        self.status = status


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED | MODIFIED | DELETED | BOOKMARK | ERROR
    object: dict[str, Any]


class Kube:
    """Thread-safe: one urllib3 pool shared by the agent's threads."""

    def __init__(self, kubeconfig: Path, pool_size: int = 32) -> None:
        cfg = k8s_client.Configuration()
        k8s_config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
        cfg.connection_pool_maxsize = pool_size
        self._api = k8s_client.ApiClient(cfg)
        self.server = cfg.host
        self.ca_file = cfg.ssl_ca_cert

    @property
    def server_host_port(self) -> tuple[str, int]:
        url = urlparse(self.server)
        return url.hostname or "127.0.0.1", url.port or 443

    def _send(
        self,
        method: str,
        path: str,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | tuple[float, float] = 30,
    ) -> Any:
        if query:
            path = f"{path}?{urlencode({k: v for k, v in query.items() if v is not None})}"
        headers = {"Accept": "application/json", "Content-Type": content_type}
        method, url, headers, body, _ = self._api.param_serialize(
            method, path, header_params=headers, body=body, auth_settings=["BearerToken"]
        )
        try:
            return self._api.call_api(method, url, headers, body, _request_timeout=timeout)
        except (urllib3.exceptions.HTTPError, ApiException, OSError) as err:
            raise ApiError(0, method, path, f"{type(err).__name__}: {err}") from err

    def request(
        self,
        method: str,
        path: str,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float = 30,
    ) -> dict[str, Any]:
        resp = self._send(method, path, query, body, content_type, timeout)
        try:
            data = resp.read()
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise ApiError(0, method, path, f"{type(err).__name__}: {err}") from err
        text = data.decode(errors="replace") if data else ""
        if resp.status >= 400:
            raise ApiError(resp.status, method, path, text)
        result: dict[str, Any] = json.loads(text) if text else {}
        return result

    def get(self, path: str, query: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """GET, with None for 404."""
        try:
            return self.request("GET", path, query)
        except ApiError as err:
            if err.status == 404:
                return None
            raise

    def watch(
        self, path: str, query: Mapping[str, Any], timeout_seconds: int
    ) -> Iterator[WatchEvent]:
        """One watch request; ends when the server closes it (after timeout_seconds)."""
        q = dict(query, watch="true", timeoutSeconds=timeout_seconds, allowWatchBookmarks="true")
        resp = self._send("GET", path, q, timeout=(10, timeout_seconds + 30))
        raw = resp.response
        try:
            if resp.status >= 400:
                raise ApiError(resp.status, "WATCH", path, raw.read().decode(errors="replace"))
            buffer = b""
            for chunk in raw.stream(4096, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        event = json.loads(line)
                        yield WatchEvent(event["type"], event["object"])
        finally:
            raw.release_conn()
