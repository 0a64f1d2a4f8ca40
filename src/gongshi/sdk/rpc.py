"""JSON-RPC 2.0 calls over HTTP (httpx), synchronous and asynchronous.

Errors: a node's error object becomes `RemoteError` (its Gongshi code and name); a refused
connection, a timeout or an HTTP failure `NodeUnreachable`; an answer that is not a JSON-RPC
response `MalformedResponse`.

Access control: given `auth` (a callable returning the current `X-Gongshi-Auth` value, the
client's `ClientCore.auth_header`), every request carries it. A node with `[api] access =
"members"` answers unsigned member reads with `AuthenticationRequired` (1967): the error then
says to pass an identity.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import httpx

from gongshi.api.auth import AUTH_HEADER
from gongshi.api.errors import AuthenticationRequired
from gongshi.sdk.errors import MalformedResponse, NodeUnreachable, RemoteError

DEFAULT_TIMEOUT_S = 10.0
RESPONSE_BYTES_MAX = 32 << 20
IDENTITY_HINT = (
    "; this node serves members only: give the client an identity "
    "(Client.connect(..., organisation=ORG, role=ROLE); on the command line --org and --role)"
)

AuthSource = Callable[[], str | None]


def auth_headers(auth: AuthSource | None) -> dict[str, str]:
    """The headers that authenticate a request (none without an identity)."""
    value = None if auth is None else auth()
    return {} if value is None else {AUTH_HEADER: value}


def unsigned_hint(error: RemoteError, signed: bool) -> RemoteError:
    """`error`, told what to do when the node wants a member and the request was unsigned."""
    if signed or error.code != AuthenticationRequired.code:
        return error
    return RemoteError(
        error.message + IDENTITY_HINT, code=error.code, name=error.name, rpc_code=error.rpc_code
    )


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


def handshake_refusal(
    status_code: int, body: bytes | bytearray | None, *, signed: bool
) -> RemoteError | None:
    """The node's JSON-RPC error in a refused WebSocket handshake (HTTP 401/403 with an error
    body), or None if the refusal carries none."""
    if status_code not in (401, 403) or not body or len(body) > RESPONSE_BYTES_MAX:
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if not isinstance(document, dict) or "error" not in document:
        return None
    return unsigned_hint(remote_error(document["error"]), signed)


def _parse(response: httpx.Response, request_id: int, *, signed: bool) -> Any:
    if len(response.content) > RESPONSE_BYTES_MAX:
        raise MalformedResponse("the node's answer is too large")
    try:
        document = json.loads(response.content)
    except ValueError:
        if response.status_code != 200:
            raise NodeUnreachable(f"HTTP {response.status_code} from the node") from None
        raise MalformedResponse("the node's answer is not JSON") from None
    try:
        return result_of(document, request_id)
    except RemoteError as error:
        raise unsigned_hint(error, signed) from None


class HttpRpc:
    """Synchronous JSON-RPC over HTTP POST."""

    def __init__(
        self, url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S, auth: AuthSource | None = None
    ) -> None:
        self.url = url.rstrip("/") + "/"
        self._auth = auth
        self._client = httpx.Client(timeout=timeout_s)
        self._ids = itertools.count(1)

    def call(self, method: str, params: Any = None) -> Any:
        request_id = next(self._ids)
        headers = auth_headers(self._auth)
        try:
            response = self._client.post(
                self.url, json=request_document(request_id, method, params), headers=headers
            )
        except httpx.HTTPError as error:
            raise NodeUnreachable(f"cannot reach {self.url}: {error}") from None
        return _parse(response, request_id, signed=bool(headers))

    def close(self) -> None:
        self._client.close()


class AsyncHttpRpc:
    """Asynchronous JSON-RPC over HTTP POST."""

    def __init__(
        self, url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S, auth: AuthSource | None = None
    ) -> None:
        self.url = url.rstrip("/") + "/"
        self._auth = auth
        self._client = httpx.AsyncClient(timeout=timeout_s)
        self._ids = itertools.count(1)

    async def call(self, method: str, params: Any = None) -> Any:
        request_id = next(self._ids)
        headers = auth_headers(self._auth)
        try:
            response = await self._client.post(
                self.url, json=request_document(request_id, method, params), headers=headers
            )
        except httpx.HTTPError as error:
            raise NodeUnreachable(f"cannot reach {self.url}: {error}") from None
        return _parse(response, request_id, signed=bool(headers))

    async def close(self) -> None:
        await self._client.aclose()
