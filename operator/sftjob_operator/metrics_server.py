"""Serve the Prometheus metrics over HTTP, on the operator's own event loop."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from aiohttp import web

from sftjob_operator.metrics import CONTENT_TYPE


def listen_address(url: str) -> tuple[str, int, str]:
    """`http://HOST:PORT/PATH` -> (host, port, path); ValueError saying what to write."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "http" or not parts.hostname or port is None:
        raise ValueError(
            f"{url!r} is not an http URL with a host and a port; "
            "write one like http://0.0.0.0:8081/metrics"
        )
    return parts.hostname, port, parts.path or "/metrics"


async def serve(url: str, render: Callable[[], str]) -> web.AppRunner:
    """Start answering GET <path> with `render()`; the caller cleans the runner up."""
    host, port, path = listen_address(url)

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=render().encode(), headers={"Content-Type": CONTENT_TYPE})

    app = web.Application()
    app.router.add_get(path, metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
