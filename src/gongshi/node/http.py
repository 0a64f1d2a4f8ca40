"""A very small HTTP/1.1 responder for the node's metrics port (`/metrics`): one request per
connection, the head and body bounded in size and time, `Connection: close` on every answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

HEAD_BYTES_MAX = 8192
REQUEST_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    method: str
    path: str
    body: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    status: str = "200 OK"
    content_type: str = "text/plain"
    body: bytes = b""


Handler = Callable[[Request], Awaitable[Response]]


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


class HttpServer:
    """Serves `handler` on host:port (port 0: any free port, see `port`)."""

    def __init__(self, handler: Handler, host: str, port: int, *, body_bytes_max: int) -> None:
        self._handler = handler
        self._host = host
        self._port = port
        self._body_bytes_max = body_bytes_max
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self._host, self._port, limit=HEAD_BYTES_MAX
        )

    @property
    def port(self) -> int:
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                response = await self._read_and_handle(reader)
                writer.write(
                    f"HTTP/1.1 {response.status}\r\nContent-Type: {response.content_type}\r\n"
                    f"Content-Length: {len(response.body)}\r\nConnection: close\r\n\r\n".encode()
                    + response.body
                )
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, OSError):
            pass
        except Exception:
            logger.exception("http handler failed")
        finally:
            writer.close()

    async def _read_and_handle(self, reader: asyncio.StreamReader) -> Response:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            return Response(status="431 Request Header Fields Too Large", body=b"too large\n")
        parts = head.split(b"\r\n", 1)[0].split(b" ")
        if len(parts) != 3:
            return Response(status="400 Bad Request", body=b"bad request line\n")
        try:
            length = _content_length(head)
        except ValueError:
            return Response(status="400 Bad Request", body=b"bad content-length\n")
        if not 0 <= length <= self._body_bytes_max:
            return Response(status="413 Content Too Large", body=b"body too large\n")
        body = await reader.readexactly(length) if length else b""
        request = Request(
            method=parts[0].decode("ascii", "replace"),
            path=parts[1].split(b"?", 1)[0].decode("ascii", "replace"),
            body=body,
        )
        return await self._handler(request)
