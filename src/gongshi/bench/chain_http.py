"""The load generator's HTTP client: JSON-RPC POSTs to one node's API over kept-open
HTTP/1.1 connections.

The load generator sends hundreds of small `tx_send` batches a second (one per node every
10 ms tick) to our own API server. A general-purpose client (httpx) spent ≈ 600 µs of CPU on
each request, more than a node spends admitting what the request carries, and the load
generator shares the machine's cores with the nodes it measures. This client writes each
request with one `write` of bytes the caller has already built and reads the answer by its
`Content-Length`: ≈ 70 µs a request. It speaks only what our API server (uvicorn) answers:
plain HTTP, no chunked bodies, no redirects.

Every failure (refused or dropped connection, timeout, a response that is not HTTP/1.1 with a
length) is an `OSError`, as the socket's own failures are; a body that is not JSON is a
`ValueError`. The connection it happened on is closed, never reused.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

HEAD_BYTES_MAX = 64 << 10  # the status line and headers of one response
BODY_BYTES_MAX = 64 << 20
# uvicorn closes a connection idle for 5 s (`timeout_keep_alive`): one idle for longer than
# this is dropped on our side rather than written to while the server closes it.
IDLE_MAX_S = 4.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """Where the JSON-RPC calls go, and the constant part of every request's head."""

    host: str
    port: int
    path: str
    authority: str  # the Host header: the URL's host[:port] as written

    @classmethod
    def from_url(cls, url: str) -> Endpoint:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"not a plain http:// API address: {url!r}")
        return cls(
            host=parts.hostname,
            port=parts.port or 80,
            path=parts.path or "/",
            authority=parts.netloc,
        )

    def request_head(self, body_length: int) -> bytes:
        return (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.authority}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {body_length}\r\n\r\n"
        ).encode("ascii")


@dataclass(slots=True)
class _Connection:
    """One open connection; `idle_since` is when its last exchange ended (monotonic)."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = field(default_factory=time.monotonic)

    def reusable(self, now: float) -> bool:
        return (
            now - self.idle_since < IDLE_MAX_S
            and not self.reader.at_eof()
            and not self.writer.is_closing()
        )

    def close(self) -> None:
        self.writer.close()


class JsonRpcHttp:
    """Kept-open connections to one API server, at most `connections_max` in use at once
    (a caller beyond that waits for one to be free)."""

    def __init__(self, url: str, *, connections_max: int, timeout_s: float) -> None:
        self.endpoint = Endpoint.from_url(url)
        self.timeout_s = timeout_s
        self._slots = asyncio.Semaphore(connections_max)
        self._idle: list[_Connection] = []

    async def post(self, body: bytes) -> Any:
        """POST a JSON-RPC request (or batch) already encoded; its parsed JSON answer."""
        async with self._slots:
            connection = await self._connection()
            try:
                async with asyncio.timeout(self.timeout_s):
                    keep, payload = await self._exchange(connection, body)
            except BaseException:
                connection.close()
                raise
            if keep:
                connection.idle_since = time.monotonic()
                self._idle.append(connection)
            else:
                connection.close()
        return json.loads(payload)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    async def _connection(self) -> _Connection:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if connection.reusable(now):
                return connection
            connection.close()
        async with asyncio.timeout(self.timeout_s):
            reader, writer = await asyncio.open_connection(
                self.endpoint.host, self.endpoint.port, limit=HEAD_BYTES_MAX
            )
        return _Connection(reader, writer)

    async def _exchange(self, connection: _Connection, body: bytes) -> tuple[bool, bytes]:
        """Send one request, read its response: (whether the connection stays open, body)."""
        connection.writer.write(self.endpoint.request_head(len(body)) + body)
        try:
            head = await connection.reader.readuntil(b"\r\n\r\n")
            length, keep = _parse_head(head)
            return keep, await connection.reader.readexactly(length)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
            raise ConnectionError(f"HTTP response cut short or too large: {error}") from None


def _parse_head(head: bytes) -> tuple[int, bool]:
    """The body length and whether the connection stays open, from a response's head."""
    status_line, *lines = head[:-4].split(b"\r\n")
    if not status_line.startswith(b"HTTP/1.1 "):
        raise ConnectionError(f"not an HTTP/1.1 response: {status_line[:40]!r}")
    length: int | None = None
    keep = True
    for line in lines:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length" and value.strip().isdigit():
            length = int(value)
        elif name == b"connection":
            keep = value.strip().lower() != b"close"
        elif name == b"transfer-encoding":
            raise ConnectionError("chunked HTTP responses are not read by this client")
    if length is None or length > BODY_BYTES_MAX:
        raise ConnectionError(f"HTTP response without a usable Content-Length ({length})")
    return length, keep
