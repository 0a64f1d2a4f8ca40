"""JSON-RPC 2.0 calls over HTTP (httpx), synchronous and asynchronous.

Errors: a node's error object becomes `RemoteError` (its Gongshi code and name); a refused
connection, a timeout or an HTTP failure `NodeUnreachable`; an answer that is not a JSON-RPC
response `MalformedResponse`.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx

from gongshi.sdk.errors import MalformedResponse, NodeUnreachable, RemoteError

DEFAULT_TIMEOUT_S = 10.0
RESPONSE_BYTES_MAX = 32 << 20


def request_document(request_id: int, method: str, params: Any) -> dict[str, Any]:
    document: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        document["params"] = params
    return document


def result_of(document: Any, request_id: int | None) -> Any:
    """The result of a response object; RemoteError for an error response."""
    if not isinstance(document, dict) or document.get("jsonrpc") != "2.0":
        raise MalformedResponse("the node's answer is not a JSON-RPC 2.0 response")
    error = document.get("error")
    if error is not None:
        raise remote_error(error)
    if request_id is not None and document.get("id") != request_id:
        raise MalformedResponse("the node answered another request")
    if "result" not in document:
        raise MalformedResponse("the node's answer has neither result nor error")
    return document["result"]


def remote_error(error: Any) -> RemoteError:
    """A node's error object as a RemoteError (tolerating malformed ones)."""
    if not isinstance(error, dict):
        return RemoteError("malformed error object", code=0, name="Unknown", rpc_code=0)
    data = error.get("data")
    if not isinstance(data, dict):
        data = {}
    rpc_code = error.get("code")
    rpc_code = rpc_code if type(rpc_code) is int else 0
    code = data.get("code")
    code = code if type(code) is int else rpc_code
    name = data.get("name")
    name = name[:100] if isinstance(name, str) else "Unknown"
    message = error.get("message")
    message = message[:1000] if isinstance(message, str) else "error"
    return RemoteError(message, code=code, name=name, rpc_code=rpc_code)


def _parse(response: httpx.Response, request_id: int) -> Any:
    if len(response.content) > RESPONSE_BYTES_MAX:
        raise MalformedResponse("the node's answer is too large")
    try:
        document = json.loads(response.content)
    except ValueError:
        if response.status_code != 200:
            raise NodeUnreachable(f"HTTP {response.status_code} from the node") from None
        raise MalformedResponse("the node's answer is not JSON") from None
    return result_of(document, request_id)


class HttpRpc:
    """Synchronous JSON-RPC over HTTP POST."""

    def __init__(self, url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.url = url.rstrip("/") + "/"
        self._client = httpx.Client(timeout=timeout_s)
        self._ids = itertools.count(1)

    def call(self, method: str, params: Any = None) -> Any:
        request_id = next(self._ids)
        try:
            response = self._client.post(
                self.url, json=request_document(request_id, method, params)
            )
        except httpx.HTTPError as error:
            raise NodeUnreachable(f"cannot reach {self.url}: {error}") from None
        return _parse(response, request_id)

    def close(self) -> None:
        self._client.close()


class AsyncHttpRpc:
    """Asynchronous JSON-RPC over HTTP POST."""

    def __init__(self, url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.url = url.rstrip("/") + "/"
        self._client = httpx.AsyncClient(timeout=timeout_s)
        self._ids = itertools.count(1)

    async def call(self, method: str, params: Any = None) -> Any:
        request_id = next(self._ids)
        try:
            response = await self._client.post(
                self.url, json=request_document(request_id, method, params)
            )
        except httpx.HTTPError as error:
            raise NodeUnreachable(f"cannot reach {self.url}: {error}") from None
        return _parse(response, request_id)

    async def close(self) -> None:
        await self._client.aclose()
