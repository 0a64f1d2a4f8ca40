"""The node's metrics endpoint: `GET /metrics` (prometheus_client's ASGI app over the node's
registry) and `GET /health`, a small starlette app served by uvicorn in the node's loop.

    server = MetricsServer(metrics.registry, host="127.0.0.1", port=26602)
    await server.start()        # `server.port` is the bound port (useful with port 0)
    await server.stop()

It runs as a task of the node's event loop, like the API server (`gongshi.api.server`): the
scrape reads the node's parts on the loop that owns them, with no thread of its own. uvicorn
installs no signal handlers (the node owns Ctrl-C), and the socket is bound before uvicorn
starts, so a taken port is a `NodeError`, not an exit of the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator

import uvicorn
from prometheus_client import CollectorRegistry, make_asgi_app
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gongshi.node.errors import NodeError

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 10.0
SHUTDOWN_TIMEOUT_S = 2
CONNECTIONS_MAX = 64  # scrapers are few; beyond it uvicorn answers 503
BACKLOG = 128
HEALTH_BODY = "ok\n"


class _AsgiEndpoint:
    """An ASGI app as a route's endpoint: starlette serves a non-function endpoint as raw
    ASGI, so `/metrics` itself answers (a `Mount` would redirect it to `/metrics/`)."""

    __slots__ = ("_app",)

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


async def _health(request: Request) -> Response:
    return PlainTextResponse(HEALTH_BODY)


def metrics_app(registry: CollectorRegistry) -> Starlette:
    """`GET /metrics` (Prometheus text format, gzip if asked) and `GET /health`."""
    return Starlette(
        routes=[
            Route("/metrics", _AsgiEndpoint(make_asgi_app(registry)), methods=["GET"]),
            Route("/health", _health, methods=["GET"]),
        ]
    )


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers: the node decides about signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _listen(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )[0]
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(BACKLOG)
    except OSError:
        listener.close()
        raise
    return listener


class MetricsServer:
    """Serves `metrics_app(registry)` on host:port; see the module docstring."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        self._registry = registry
        self._host = host
        self._port = port
        self._socket: socket.socket | None = None
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The bound port."""
        assert self._socket is not None, "the metrics server is not started"
        return int(self._socket.getsockname()[1])

    async def start(self) -> None:
        try:
            self._socket = _listen(self._host, self._port)
        except OSError as error:
            raise NodeError(
                f"metrics: cannot listen on {self._host}:{self._port}: {error.strerror or error}"
            ) from None
        config = uvicorn.Config(
            metrics_app(self._registry),
            lifespan="off",
            log_config=None,
            access_log=False,
            http="h11",
            ws="none",
            limit_concurrency=CONNECTIONS_MAX,
            timeout_graceful_shutdown=SHUTDOWN_TIMEOUT_S,
        )
        server = self._server = _EmbeddedServer(config)
        task = self._task = asyncio.create_task(
            server.serve(sockets=[self._socket]), name="gongshi-metrics"
        )
        try:
            async with asyncio.timeout(STARTUP_TIMEOUT_S):
                while not server.started:
                    if task.done():
                        task.result()
                        raise NodeError("the metrics server stopped while starting")
                    await asyncio.sleep(0.01)
        except TimeoutError:
            await self.stop()
            raise NodeError(f"the metrics server did not start in {STARTUP_TIMEOUT_S} s") from None
        except BaseException:
            await self.stop()
            raise
        logger.info("metrics listening address=%s:%d", self._host, self.port)

    async def stop(self) -> None:
        """Stop serving (open scrapes get the graceful-shutdown time) and close the socket."""
        server, task = self._server, self._task
        if server is not None and task is not None:
            server.should_exit = True
            try:
                await asyncio.wait_for(asyncio.shield(task), SHUTDOWN_TIMEOUT_S * 2)
            except TimeoutError:
                task.cancel()
            except Exception:  # the server failed: stopping it must still close the socket
                logger.exception("metrics server failed")
            await asyncio.gather(task, return_exceptions=True)
        self._server = self._task = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
