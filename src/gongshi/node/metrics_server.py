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

import logging

from prometheus_client import CollectorRegistry, make_asgi_app
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gongshi.api.embedded import EmbeddedServer, ServerNotStarted, embedded_config
from gongshi.node.errors import NodeError

logger = logging.getLogger(__name__)

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


class MetricsServer:
    """Serves `metrics_app(registry)` on host:port; see the module docstring."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        self._registry = registry
        self._host = host
        self._port = port
        self._embedded: EmbeddedServer | None = None

    @property
    def port(self) -> int:
        """The bound port."""
        assert self._embedded is not None, "the metrics server is not started"
        return self._embedded.port

    async def start(self) -> None:
        config = embedded_config(
            metrics_app(self._registry),
            ws="none",
            connections_max=CONNECTIONS_MAX,
            shutdown_timeout_s=SHUTDOWN_TIMEOUT_S,
        )
        embedded = EmbeddedServer(
            config, host=self._host, port=self._port, backlog=BACKLOG, name="gongshi-metrics"
        )
        try:
            await embedded.start()
        except OSError as error:
            raise NodeError(
                f"metrics: cannot listen on {self._host}:{self._port}: {error.strerror or error}"
            ) from None
        except ServerNotStarted as error:
            raise NodeError(f"metrics: {error}") from None
        self._embedded = embedded
        logger.info("metrics listening address=%s:%d", self._host, self.port)

    async def stop(self) -> None:
        """Stop serving (open scrapes get the graceful-shutdown time) and close the socket."""
        if self._embedded is not None:
            await self._embedded.stop()
            self._embedded = None
