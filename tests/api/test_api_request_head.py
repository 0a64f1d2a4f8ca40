"""The API refuses a request whose head (request line and headers) is oversized before any
handler runs: uvicorn's h11 protocol bounds it (16 KiB), where httptools would keep a head of
any size in memory (one unauthenticated connection could exhaust the node's memory)."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest

from gongshi.api.testing import ServedChain

HEAD_BYTES = 1 << 20  # 1 MiB: 64 times the limit


def _status_of(served: ServedChain, head_extra: bytes, query: bytes = b"") -> int:
    url = urlsplit(served.url)
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "chain_info"}'
    request = (
        b"POST /"
        + query
        + b" HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
        + head_extra
        + b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n"
        + body
    )
    assert url.hostname is not None and url.port is not None
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        try:
            sock.sendall(request)
        except OSError:  # the server may close while we still send: a refusal
            return 431
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    if not answer:
        return 431  # closed without an answer: refused
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize(
    "head_extra",
    [
        pytest.param(b"X-Padding: " + b"a" * HEAD_BYTES + b"\r\n", id="one-huge-header"),
        pytest.param(b"".join(b"X-P%d: a\r\n" % i for i in range(HEAD_BYTES // 16)), id="many"),
    ],
)
def test_an_oversized_request_head_is_refused(served: ServedChain, head_extra: bytes) -> None:
    status = _status_of(served, head_extra)
    assert 400 <= status < 500, f"a {len(head_extra)}-byte request head was answered {status}"


def test_an_oversized_request_target_is_refused(served: ServedChain) -> None:
    status = _status_of(served, b"", query=b"?" + b"a" * HEAD_BYTES)
    assert 400 <= status < 500, f"a {HEAD_BYTES}-byte request target was answered {status}"


def test_a_normal_request_head_is_served(served: ServedChain) -> None:
    assert _status_of(served, b"X-Padding: " + b"a" * 1000 + b"\r\n") == 200
