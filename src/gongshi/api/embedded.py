"""uvicorn embedded in the caller's event loop: the API server and the node's metrics server.

    config = embedded_config(app, ws="none", connections_max=64, shutdown_timeout_s=5)
    server = EmbeddedServer(config, host="127.0.0.1", port=0, backlog=128, name="gongshi-api")
    await server.start()        # the socket is bound first: a taken port is an OSError here
    server.port                 # the bound port
    await server.stop()         # open requests get the graceful-shutdown time

uvicorn runs as a task of the caller's loop and installs no signal handlers (the embedding
process owns Ctrl-C), so it never exits the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator
from typing import Literal

import uvicorn
from starlette.types import ASGIApp

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 10.0
WS_BYTES_MAX_DEFAULT = 16 * 1024 * 1024  # uvicorn's own default


def embedded_config(
    app: ASGIApp,
    *,
    ws: Literal["none", "websockets-sansio"],
    connections_max: int,
    shutdown_timeout_s: int,
    ws_bytes_max: int = WS_BYTES_MAX_DEFAULT,
) -> uvicorn.Config:
    """The uvicorn settings of every embedded server: no lifespan and none of uvicorn's own
    logging (the node's logging configuration stands), at most `connections_max` concurrent
    connections, and HTTP/1.1 parsed by h11, which refuses a request head over 16 KiB
    (httptools would cost a third less CPU per request but keeps a head of any size in
    memory, so a few connections could exhaust a node's)."""
    return uvicorn.Config(
        app,
        lifespan="off",
        log_config=None,
        access_log=False,
        http="h11",
        ws=ws,
        ws_max_size=ws_bytes_max,
        limit_concurrency=connections_max,
        timeout_graceful_shutdown=shutdown_timeout_s,
    )


class ServerNotStarted(Exception):
    """Raised when uvicorn stops or times out while starting; the caller turns it into its
    own error (`ApiUnavailable`, `NodeError`)."""


class _SignalFreeServer(uvicorn.Server):
    """uvicorn without its signal handlers: the embedding process decides about signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def listen_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A listening TCP socket. Its protocol is set explicitly: asyncio enables TCP_NODELAY
    only on sockets whose `proto` is IPPROTO_TCP, and `socket.create_server` leaves it 0,
    which costs every response a delayed-ACK wait (~40 ms)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )[0]
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(backlog)
    except OSError:
        listener.close()
        raise
    return listener


class EmbeddedServer:
    """One uvicorn server on one socket, as a task of the running loop."""

    def __init__(
        self, config: uvicorn.Config, *, host: str, port: int, backlog: int, name: str
    ) -> None:
        self._config = config
        self._host = host
        self._port = port
        self._backlog = backlog
        self._name = name
        self._socket: socket.socket | None = None
        self._server: _SignalFreeServer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        assert self._socket is not None, f"{self._name} is not started"
        return int(self._socket.getsockname()[1])

    async def start(self) -> None:
        """Bind (OSError if the address is taken), then serve; ServerNotStarted if uvicorn
        stops or does not start in time (the socket is closed again)."""
        self._socket = listen_socket(self._host, self._port, self._backlog)
        server = self._server = _SignalFreeServer(self._config)
        task = self._task = asyncio.create_task(
            server.serve(sockets=[self._socket]), name=self._name
        )
        try:
            async with asyncio.timeout(STARTUP_TIMEOUT_S):
                while not server.started:
                    if task.done():
                        task.result()
                        raise ServerNotStarted(f"{self._name} stopped while starting")
                    await asyncio.sleep(0.01)
        except TimeoutError:
            await self.stop()
            raise ServerNotStarted(f"{self._name} did not start in {STARTUP_TIMEOUT_S} s") from None
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice or before `start`."""
        server, task = self._server, self._task
        if server is not None and task is not None:
            server.should_exit = True
            grace = self._config.timeout_graceful_shutdown or 0
            try:
                await asyncio.wait_for(asyncio.shield(task), grace * 2 + 1)
            except TimeoutError:
                task.cancel()
            except Exception:  # the server failed: stopping it must still close the socket
                logger.exception("%s failed", self._name)
            await asyncio.gather(task, return_exceptions=True)
        self._server = self._task = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
