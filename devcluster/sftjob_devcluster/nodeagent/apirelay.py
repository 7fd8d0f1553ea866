"""The agent's end of the API server relay for pods with a network of their own: a Unix
socket in the state dir whose connections go on to the API server's TCP address."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from pathlib import Path

from .execshim import pump

log = logging.getLogger(__name__)


class ApiRelay:
    def __init__(self, path: Path, host: str, port: int) -> None:
        self.path = path
        self.host, self.port = host, port
        self._listener: socket.socket | None = None

    def start(self) -> None:
        self.path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.path))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._serve, name="api-relay", daemon=True).start()

    def _serve(self) -> None:
        assert self._listener is not None
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # closed by stop()
            try:
                upstream = socket.create_connection((self.host, self.port), timeout=10)
                upstream.settimeout(None)
            except OSError as err:
                log.warning("api relay: %s:%d: %s", self.host, self.port, err)
                conn.close()
                continue
            threading.Thread(target=pump, args=(conn, upstream), daemon=True).start()

    def stop(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        self.path.unlink(missing_ok=True)
