"""A tiny HTTPS client for the few API calls the launcher makes itself.

The devcluster must not depend on a Kubernetes client library, so this uses
the standard library with the admin client certificate.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ApiError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


@dataclass(frozen=True)
class ApiClient:
    server: str
    ca_file: Path
    cert_file: Path
    key_file: Path

    def _context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        ctx.load_cert_chain(str(self.cert_file), str(self.key_file))
        return ctx

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float = 10
    ) -> tuple[int, str]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, context=self._context(), timeout=timeout) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode(errors="replace")

    def get_json(self, path: str) -> Any:
        status, text = self.request("GET", path)
        if status != 200:
            raise ApiError(status, text)
        return json.loads(text)

    def create(self, path: str, body: dict[str, Any]) -> None:
        """POST; an object that already exists counts as created."""
        status, text = self.request("POST", path, body)
        if status not in (200, 201, 202, 409):
            raise ApiError(status, text)
