"""`ApiServer`: JSON-RPC 2.0 over HTTP POST `/` and WebSocket `/ws` (starlette + uvicorn),
the OpenRPC document at GET `/openrpc.json`, and an optional `/metrics` mount (with access =
members the mount answers 404: metrics are served on the node's own metrics address).

    server = ApiServer(service, hub, host="127.0.0.1", port=26601, limits=ApiLimits())
    await server.start()        # in the caller's event loop; `server.port` is the bound port
    server.publish(block, receipts)
    await server.stop()

uvicorn runs as a task of the caller's loop and installs no signal handlers (the node owns
Ctrl-C). The socket is bound before uvicorn starts, so a taken port is an `ApiUnavailable`
error, not an exit of the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from gongshi.api.access import AUTH_HEADER, Authenticator, Caller, Principal
from gongshi.api.dispatch import Dispatcher, error_response
from gongshi.api.embedded import EmbeddedServer, ServerNotStarted, embedded_config
from gongshi.api.errors import (
    AccessDenied,
    ApiUnavailable,
    AuthenticationFailed,
    AuthenticationRequired,
    RequestTooLarge,
    SubscriberTooSlow,
)
from gongshi.api.hub import CommitHub, Subscriber, dumps
from gongshi.api.limits import ApiLimits
from gongshi.api.openrpc import openrpc_document
from gongshi.api.service import ChainService
from gongshi.codec import Block, Receipt
from gongshi.errors import GongshiError
from gongshi.execution.governance_records import NAMESPACE as GOVERNANCE_NAMESPACE
from gongshi.execution.identity_records import NAMESPACE as IDENTITY_NAMESPACE

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
SHUTDOWN_TIMEOUT_S = 5
WS_CLOSE_POLICY = 1008  # a subscriber too slow for its queue
WS_CLOSE_GOING_AWAY = 1001
WS_CLOSE_TOO_BIG = 1009
BACKLOG = 2048
# HTTP status of a single call refused by access control (a batch answers 200, per call).
ACCESS_STATUS = {
    AuthenticationRequired.code: 401,
    AuthenticationFailed.code: 401,
    AccessDenied.code: 403,
}
# Contracts whose calls can change a member's standing (registration, role, revocation).
STANDING_CONTRACTS = frozenset({IDENTITY_NAMESPACE, GOVERNANCE_NAMESPACE})
AUTH_CHALLENGE = {"WWW-Authenticate": f'{AUTH_HEADER} realm="gongshi"'}
METRICS_WITHHELD = (
    'metrics are not served on the API address with [api] access = "members"; '
    "scrape the node's [metrics] address\n"
)


def _json(document: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        dumps(document), status_code=status_code, media_type="application/json", headers=headers
    )


def _access_status(response: Any) -> int:
    """401/403 for a single call refused by access control, else 200."""
    if not isinstance(response, dict) or not isinstance(response.get("error"), dict):
        return 200
    data = response["error"].get("data")
    code = data.get("code") if isinstance(data, dict) else None
    return ACCESS_STATUS.get(code, 200) if isinstance(code, int) else 200


def _status_response(document: Any, status_code: int) -> Response:
    return _json(document, status_code, AUTH_CHALLENGE if status_code == 401 else None)


async def _metrics_withheld(scope: Scope, receive: Receive, send: Send) -> None:
    """`/metrics` on the API address of a members-only node: 404, saying where they are."""
    response = PlainTextResponse(METRICS_WITHHELD, status_code=404)
    await response(scope, receive, send)


class _DirectPost:
    """ASGI app: a POST to `/` goes straight to its handler, anything else to `routed`.

    Under load every request is a POST to `/` carrying a transaction or two, and Starlette's
    layers (error and exception middleware, router, route, endpoint wrapper) cost about a
    tenth of such a request's CPU on the event loop. The answer is the same `Response`, sent
    the same way; an exception gets the answer Starlette's `ServerErrorMiddleware` gives (a
    plain 500, unless the response has started) and propagates to uvicorn, as it did there."""

    def __init__(self, handler: Callable[[Request], Awaitable[Response]], routed: ASGIApp) -> None:
        self._handler = handler
        self._routed = routed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] != "/"
            or scope.get("root_path")
        ):
            await self._routed(scope, receive, send)
            return
        started = False

        async def send_noting_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            response = await self._handler(Request(scope, receive, send))
            await response(scope, receive, send_noting_start)
        except Exception:
            if not started:
                failed = PlainTextResponse("Internal Server Error", status_code=500)
                await failed(scope, receive, send)
            raise


class ApiServer:
    """The node's API endpoint; see the module docstring."""

    def __init__(
        self,
        service: ChainService,
        hub: CommitHub,
        host: str = DEFAULT_HOST,
        port: int = 26601,
        limits: ApiLimits | None = None,
        *,
        metrics_app: ASGIApp | None = None,
        fatal: Callable[[BaseException], None] | None = None,
        authenticator: Authenticator | None = None,
    ) -> None:
        self._service = service
        self._hub = hub
        self._host = host
        self._port = port
        self._limits = limits or ApiLimits()
        self._openrpc = openrpc_document()
        self._dispatcher = Dispatcher(service, hub, self._limits, lambda: self._openrpc, fatal)
        self._metrics_app = metrics_app
        self._embedded: EmbeddedServer | None = None
        # None: access = open. Otherwise every route's access level is enforced.
        self._authenticator = authenticator
        # WebSocket connections and their members (re-checked after every commit).
        self._members: dict[Subscriber, Principal] = {}
        self._published_height: int | None = None

    @property
    def port(self) -> int:
        """The bound port (useful when constructed with port 0)."""
        assert self._embedded is not None, "the server is not started"
        return self._embedded.port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def app(self) -> ASGIApp:
        """JSON-RPC POSTs to `/` straight to `_http`; the rest through Starlette's routing."""
        return _DirectPost(self._http, self._routed_app())

    def _routed_app(self) -> Starlette:
        routes: list[Any] = [
            Route("/", self._http, methods=["POST"]),
            Route("/openrpc.json", self._openrpc_json, methods=["GET"]),
            WebSocketRoute("/ws", self._websocket),
        ]
        if self._metrics_app is not None:
            # With access = members the API address is open to other organisations, and
            # metrics are the operator's (like node_status), not chain data; a scraper
            # cannot sign a header that expires, so they stay on the [metrics] address.
            metrics = self._metrics_app if self._authenticator is None else _metrics_withheld
            routes.append(Mount("/metrics", app=metrics))
        return Starlette(routes=routes)

    # --- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        limits = self._limits
        config = embedded_config(
            self.app(),
            ws="websockets-sansio",
            ws_bytes_max=limits.request_bytes_max,
            connections_max=limits.connections_max,
            shutdown_timeout_s=SHUTDOWN_TIMEOUT_S,
        )
        embedded = EmbeddedServer(
            config, host=self._host, port=self._port, backlog=BACKLOG, name="gongshi-api"
        )
        try:
            await embedded.start()
        except OSError as error:
            raise ApiUnavailable(
                f"cannot listen on {self._host}:{self._port}: {error.strerror or error}"
            ) from None
        except ServerNotStarted as error:
            raise ApiUnavailable(str(error)) from None
        self._embedded = embedded
        logger.info("api listening url=%s", self.url)

    async def stop(self) -> None:
        self._hub.close_all()
        if self._embedded is not None:
            await self._embedded.stop()
            self._embedded = None
        logger.info("api stopped")

    def publish(self, block: Block, receipts: tuple[Receipt, ...] | list[Receipt]) -> None:
        """Notify subscribers of a committed block (the node calls it after every commit).
        First, WebSocket members who are no longer in good standing are cut off."""
        if self._standing_may_change(block):
            self._drop_revoked_members()
        self._hub.publish(block, receipts)

    def _standing_may_change(self, block: Block) -> bool:
        """Whether members' standing may differ after `block`: it calls the identity or
        governance contract, blocks were committed without being published, or its time is
        past a connected member's certificate."""
        previous, self._published_height = self._published_height, block.height
        if previous is None or block.height != previous + 1:
            return True
        if any(tx.target in STANDING_CONTRACTS for tx in block.transactions):
            return True
        # A certificate expires by block time alone.
        expiries = [p.not_after_ms for p in self._members.values() if p.not_after_ms is not None]
        return bool(expiries) and block.header.timestamp_ms >= min(expiries)

    def _drop_revoked_members(self) -> None:
        authenticator = self._authenticator
        if authenticator is None:
            return
        for subscriber, principal in list(self._members.items()):
            try:
                authenticator.standing(principal.public_key)
            except GongshiError as error:
                logger.info("closing the websocket of a member: %s", error.message)
                subscriber.send(dumps(error_response(None, error)))
                self._hub.disconnect(subscriber)
                del self._members[subscriber]

    # --- access ----------------------------------------------------------------------------

    def _caller(self, header: str | None) -> Caller:
        """The caller of an HTTP request (or a WebSocket handshake)."""
        authenticator = self._authenticator
        if authenticator is None:
            return Caller(None)

        async def find() -> Principal:
            if header is None:
                return authenticator.authenticate(None)  # raises AuthenticationRequired
            found = authenticator.cached(header)
            if found is not None:
                return found
            return await asyncio.to_thread(authenticator.authenticate, header)

        return Caller(find)

    def _member_caller(self, principal: Principal | None) -> Caller:
        """The caller of one WebSocket message: the handshake's member, standing re-read
        at the current head (a revocation takes effect on an open connection)."""
        authenticator = self._authenticator
        if authenticator is None or principal is None:
            return Caller(None)
        key = principal.public_key

        async def find() -> Principal:
            found = authenticator.cached_standing(key)
            if found is not None:
                return found
            return await asyncio.to_thread(authenticator.standing, key)

        return Caller(find)

    # --- HTTP ------------------------------------------------------------------------------

    async def _openrpc_json(self, request: Request) -> Response:
        return JSONResponse(self._openrpc)

    async def _http(self, request: Request) -> Response:
        limit = self._limits.request_bytes_max
        too_large = error_response(None, RequestTooLarge(f"request exceeds {limit} bytes"))
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return _json(too_large, 413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return _json(too_large, 413)
        caller = self._caller(request.headers.get(AUTH_HEADER))
        response = await self._dispatcher.handle(bytes(body), None, caller)
        if response is None:
            return Response(status_code=204)
        return _status_response(response, _access_status(response))

    # --- WebSocket -------------------------------------------------------------------------

    async def _handshake(self, websocket: WebSocket) -> Principal | None:
        """The member opening a WebSocket (None with access = open); a refused handshake
        is answered with HTTP 401 and the JSON-RPC error, and raises PermissionError."""
        if self._authenticator is None:
            return None
        try:
            found = await self._caller(websocket.headers.get(AUTH_HEADER)).member()
        except GongshiError as error:
            denial = _status_response(error_response(None, error), 401)
            try:
                await websocket.send_denial_response(denial)
            except RuntimeError:
                await websocket.close(WS_CLOSE_POLICY, error.message[:120])
            raise PermissionError(error.message) from None
        return found

    async def _websocket(self, websocket: WebSocket) -> None:
        try:
            principal = await self._handshake(websocket)
        except PermissionError:
            return
        await websocket.accept()
        subscriber = self._hub.connect()
        if principal is not None:
            self._members[subscriber] = principal
        writer = asyncio.create_task(self._write(websocket, subscriber))
        reader = asyncio.create_task(self._read(websocket, subscriber, principal))
        try:
            await asyncio.wait((reader, writer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._members.pop(subscriber, None)
            self._hub.disconnect(subscriber)
            reader.cancel()
            # The writer drains what is queued (within the send timeout), then closes.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(writer, self._limits.send_timeout_ms / 1000)
            await asyncio.gather(reader, writer, return_exceptions=True)

    async def _read(
        self, websocket: WebSocket, subscriber: Subscriber, principal: Principal | None
    ) -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            body = message.get("text")
            if body is None:
                body = message.get("bytes") or b""
            caller = self._member_caller(principal)
            response = await self._dispatcher.handle(body, subscriber, caller)
            if response is not None:
                subscriber.send(dumps(response))
            subscriber.run_deferred()

    async def _write(self, websocket: WebSocket, subscriber: Subscriber) -> None:
        timeout_s = self._limits.send_timeout_ms / 1000
        outbox = subscriber.outbox
        try:
            while True:
                text = await outbox.next()
                if text is None:
                    break
                async with asyncio.timeout(timeout_s):
                    await websocket.send_text(text)
            if outbox.overflowed:
                logger.info("dropping a slow websocket subscriber")
                slow = SubscriberTooSlow(
                    f"more than {self._limits.subscriber_queue_max} messages waited; "
                    "read faster or subscribe to less"
                )
                async with asyncio.timeout(timeout_s):
                    await websocket.send_text(dumps(error_response(None, slow)))
                    await websocket.close(WS_CLOSE_POLICY, "subscriber too slow")
            else:
                async with asyncio.timeout(timeout_s):
                    await websocket.close(WS_CLOSE_GOING_AWAY)
        except (TimeoutError, WebSocketDisconnect, RuntimeError, OSError):
            # A peer that does not take a send within the timeout, or is gone: drop it.
            pass
