"""The load generator's HTTP client against a scripted in-process server: requests on the
wire, kept-open connections, and every way a response can be unusable."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from gongshi.bench import chain_http
from gongshi.bench.chain_http import Endpoint, JsonRpcHttp

# A handler reads one request from the connection and writes what the test wants; returning
# False closes the connection afterwards.
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool]]


def answer(document: Any, *, extra_headers: str = "") -> bytes:
    body = json.dumps(document).encode()
    head = (
        f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n{extra_headers}\r\n"
    )
    return head.encode() + body


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head, await reader.readexactly(length)


class Server:
    """Serves `handler` on a free loopback port; counts connections, keeps request heads."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.heads: list[bytes] = []
        self.bodies: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while await self.handler(reader, writer):
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


def echo_server(**answer_options: str) -> Server:
    """Answers each request with {"echo": <its JSON body>}."""
    server: Server

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head, body = await read_request(reader)
        server.heads.append(head)
        server.bodies.append(body)
        writer.write(answer({"echo": json.loads(body)}, **answer_options))
        return True

    server = Server(handler)
    return server


def test_requests_carry_the_body_as_given_and_connections_are_kept() -> None:
    server = echo_server()

    async def scenario() -> str:
        async with server as url:
            client = JsonRpcHttp(url, connections_max=2, timeout_s=5)
            for i in range(5):
                body = json.dumps([{"jsonrpc": "2.0", "id": i, "method": "tx_send"}])
                assert await client.post(body.encode()) == {"echo": json.loads(body)}
            await client.aclose()
            return url

    url = asyncio.run(scenario())
    assert server.connections == 1  # one kept-open connection served all five
    authority = url.removeprefix("http://").removesuffix("/")
    assert server.heads[0].decode() == (
        f"POST / HTTP/1.1\r\nHost: {authority}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(server.bodies[0])}\r\n\r\n"
    )


def test_concurrent_posts_use_at_most_connections_max() -> None:
    server = echo_server()

    async def scenario() -> list[Any]:
        async with server as url:
            client = JsonRpcHttp(url, connections_max=3, timeout_s=5)
            answers = await asyncio.gather(*(client.post(b"[%d]" % i) for i in range(12)))
            await client.aclose()
            return answers

    answers = asyncio.run(scenario())
    assert answers == [{"echo": [i]} for i in range(12)]
    assert 1 <= server.connections <= 3


def test_connection_close_is_obeyed() -> None:
    server = echo_server(extra_headers="connection: close\r\n")

    async def scenario() -> None:
        async with server as url:
            client = JsonRpcHttp(url, connections_max=1, timeout_s=5)
            for _ in range(3):
                assert await client.post(b"{}") == {"echo": {}}
            await client.aclose()

    asyncio.run(scenario())
    assert server.connections == 3


def test_a_connection_the_server_closed_is_not_reused() -> None:
    async def one_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await read_request(reader)
        writer.write(answer([]))
        return False  # closes without saying so in the headers (as after a keep-alive timeout)

    server = Server(one_then_close)

    async def scenario() -> None:
        async with server as url:
            client = JsonRpcHttp(url, connections_max=1, timeout_s=5)
            for _ in range(3):
                assert await client.post(b"[]") == []
                await asyncio.sleep(0.05)  # the server's close arrives meanwhile
            await client.aclose()

    asyncio.run(scenario())
    assert server.connections == 3


def test_a_connection_idle_too_long_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    server = echo_server()
    monkeypatch.setattr(chain_http, "IDLE_MAX_S", 0.05)  # the server's keep-alive is longer

    async def scenario() -> None:
        async with server as url:
            client = JsonRpcHttp(url, connections_max=1, timeout_s=5)
            assert await client.post(b"[1]") == {"echo": [1]}
            assert await client.post(b"[2]") == {"echo": [2]}  # at once: the same connection
            await asyncio.sleep(0.1)
            assert await client.post(b"[3]") == {"echo": [3]}
            await client.aclose()

    asyncio.run(scenario())
    assert server.connections == 2


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n[]\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n[]",
        b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n[]",  # cut short
        b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\n[]",
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: -2\r\n\r\n[]",
    ],
    ids=["chunked", "no-length", "short", "http1.0", "not-http", "negative-length"],
)
def test_unusable_responses_are_connection_errors(response: bytes) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await read_request(reader)
        writer.write(response)
        return False

    async def scenario() -> None:
        async with Server(handler) as url:
            client = JsonRpcHttp(url, connections_max=1, timeout_s=5)
            with pytest.raises(ConnectionError):
                await client.post(b"[]")
            assert client._idle == []  # the connection it happened on is gone
            await client.aclose()

    asyncio.run(scenario())


def test_a_body_that_is_not_json_is_a_value_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await read_request(reader)
        writer.write(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 5\r\n\r\nbusy!")
        return True

    async def scenario() -> None:
        async with Server(handler) as url:
            client = JsonRpcHttp(url, connections_max=1, timeout_s=5)
            with pytest.raises(ValueError):
                await client.post(b"[]")
            await client.aclose()

    asyncio.run(scenario())


def test_a_silent_server_times_out_and_a_closed_port_is_refused() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await read_request(reader)
        await asyncio.sleep(10)
        return False

    async def scenario() -> None:
        async with Server(silent) as url:
            client = JsonRpcHttp(url, connections_max=1, timeout_s=0.2)
            with pytest.raises(TimeoutError):
                await client.post(b"[]")
            assert client._idle == []
        closed = JsonRpcHttp(url, connections_max=1, timeout_s=5)
        with pytest.raises(OSError):
            await closed.post(b"[]")

    asyncio.run(scenario())


@pytest.mark.parametrize("url", ["https://127.0.0.1:1/", "ws://127.0.0.1/", "127.0.0.1:80", ""])
def test_only_plain_http_addresses(url: str) -> None:
    with pytest.raises(ValueError):
        Endpoint.from_url(url)


def test_endpoint_defaults_and_head() -> None:
    endpoint = Endpoint.from_url("http://localhost")
    assert (endpoint.host, endpoint.port, endpoint.path) == ("localhost", 80, "/")
    head = Endpoint.from_url("http://127.0.0.1:8545/rpc").request_head(17)
    assert head == (
        b"POST /rpc HTTP/1.1\r\nHost: 127.0.0.1:8545\r\n"
        b"Content-Type: application/json\r\nContent-Length: 17\r\n\r\n"
    )
