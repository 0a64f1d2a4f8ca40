"""JSON-RPC 2.0 over any transport: parse, validate, batch, dispatch, answer.

`Dispatcher.handle(body, subscriber)` takes a request body (bytes or text) and returns the
response document (an object, a list for a batch) or None when nothing is to be answered
(notifications only). It never raises for bad input: every failure is a JSON-RPC error
object, and a bug is an internal error (-32603) whose traceback goes to the log only.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from gongshi.api.access import Caller
from gongshi.api.errors import (
    BatchTooLarge,
    InvalidRequest,
    MethodNotFound,
    ParseError,
    RequestTooLarge,
    SubscriptionNeedsWebSocket,
    error_object,
    internal_error_object,
)
from gongshi.api.hub import CommitHub, Subscriber
from gongshi.api.limits import ApiLimits
from gongshi.api.params import parse_params
from gongshi.api.routes import ROUTES_BY_NAME, Mode, Route
from gongshi.api.service import ChainService
from gongshi.errors import GongshiError, InvariantViolation

logger = logging.getLogger(__name__)

_MEMBERS = frozenset({"jsonrpc", "method", "params", "id"})


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(body: bytes | str) -> Any:
    """The JSON document of a request body; ParseError for anything else (bad UTF-8, NaN,
    Infinity, nesting deeper than the parser's recursion limit, huge integers)."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        detail = str(error) if not isinstance(error, RecursionError) else "nested too deeply"
        raise ParseError(f"parse error: {detail[:200]}") from None


def error_response(request_id: Any, error: GongshiError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error_object(error)}


def _valid_id(value: Any) -> bool:
    return value is None or isinstance(value, str) or (type(value) is int)


class Dispatcher:
    """Routes JSON-RPC calls to the service (and, on WebSocket, to the hub)."""

    def __init__(
        self,
        service: ChainService,
        hub: CommitHub,
        limits: ApiLimits,
        discover: Callable[[], dict[str, Any]],
        fatal: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._service = service
        self._hub = hub
        self._limits = limits
        self._discover = discover
        self._fatal = fatal
        self._reads = asyncio.Semaphore(limits.concurrent_reads_max)

    async def handle(
        self, body: bytes | str, subscriber: Subscriber | None, caller: Caller | None = None
    ) -> Any:
        if len(body) > self._limits.request_bytes_max:
            return error_response(
                None, RequestTooLarge(f"request exceeds {self._limits.request_bytes_max} bytes")
            )
        try:
            document = parse_json(body)
        except ParseError as error:
            return error_response(None, error)
        caller = caller or Caller(None)
        if not isinstance(document, list):
            return await self.handle_call(document, subscriber, caller)
        if not document:
            return error_response(None, InvalidRequest("empty batch"))
        if len(document) > self._limits.batch_max:
            return error_response(
                None,
                BatchTooLarge(
                    f"batch of {len(document)} calls; the limit is {self._limits.batch_max}"
                ),
            )
        responses = await self._handle_batch(document, subscriber, caller)
        answered = [response for response in responses if response is not None]
        return answered or None

    async def _handle_batch(
        self, calls: list[Any], subscriber: Subscriber | None, caller: Caller
    ) -> list[Any]:
        """The batch's responses in call order. Calls run one after another, except that a
        run of consecutive `tx_send` calls runs concurrently, so the service checks them in
        one worker-thread hand-off (it still adds them to the pool in call order)."""
        responses: list[Any] = []
        start = 0
        while start < len(calls):
            end = start
            while end < len(calls) and _is_tx_send(calls[end]):
                end += 1
            if end - start > 1:
                run = (self.handle_call(call, subscriber, caller) for call in calls[start:end])
                responses.extend(await asyncio.gather(*run))
            else:
                end = start + 1
                responses.append(await self.handle_call(calls[start], subscriber, caller))
            start = end
        return responses

    async def handle_call(
        self, call: Any, subscriber: Subscriber | None, caller: Caller | None = None
    ) -> Any:
        """One call's response object, or None for a notification (a call without id)."""
        if not isinstance(call, dict):
            return error_response(None, InvalidRequest("a call must be a JSON object"))
        request_id = call.get("id")
        if not _valid_id(request_id):
            return error_response(None, InvalidRequest("id must be a string, integer or null"))
        problem = _envelope_problem(call)
        if problem:
            return error_response(request_id, InvalidRequest(problem))
        try:
            result = await self._invoke(
                call["method"], call.get("params"), subscriber, caller or Caller(None)
            )
        except GongshiError as error:
            response = error_response(request_id, error)
        except Exception as error:
            logger.exception("api method %s failed", str(call["method"])[:64])
            if isinstance(error, InvariantViolation) and self._fatal is not None:
                self._fatal(error)
            response = {"jsonrpc": "2.0", "id": request_id, "error": internal_error_object()}
        else:
            response = {"jsonrpc": "2.0", "id": request_id, "result": result}
        return None if "id" not in call else response

    async def _invoke(
        self, method: str, params: Any, subscriber: Subscriber | None, caller: Caller
    ) -> Any:
        route = ROUTES_BY_NAME.get(method)
        if route is None:
            raise MethodNotFound(f"method {method[:64]!r} not found")
        principal = await caller.check(route.access, route.name)
        args = parse_params(params, route.params)
        if route.mode is Mode.READ:
            assert route.handler is not None
            async with self._reads:
                result = await asyncio.to_thread(route.handler, self._service, args)
            return result if route.redact is None else route.redact(result, principal)
        if route.mode is Mode.ASYNC:
            assert route.handler is not None
            return await route.handler(self._service, args)
        if route.mode is Mode.DISCOVER:
            return self._discover()
        if subscriber is None:
            raise SubscriptionNeedsWebSocket(f"{method} is available over WebSocket (/ws) only")
        return self._subscription_call(route, args, subscriber)

    def _subscription_call(self, route: Route, args: dict[str, Any], subscriber: Subscriber) -> Any:
        hub = self._hub
        if route.name == "subscribe_blocks":
            return hub.subscribe_blocks(subscriber)
        if route.name == "subscribe_receipt":
            return hub.subscribe_receipt(subscriber, args["tx_hash"])
        if route.name == "subscribe_events":
            return hub.subscribe_events(subscriber, args["contract"], args["name"])
        assert route.name == "unsubscribe", route.name
        return hub.unsubscribe(subscriber, args["subscription"])


def _is_tx_send(call: Any) -> bool:
    return isinstance(call, dict) and call.get("method") == "tx_send"


def _envelope_problem(call: dict[str, Any]) -> str:
    if call.get("jsonrpc") != "2.0":
        return 'jsonrpc must be "2.0"'
    if not isinstance(call.get("method"), str):
        return "method must be a string"
    extra = sorted(str(name) for name in call if name not in _MEMBERS)
    if extra:
        return f"unknown member {extra[0][:64]!r}"
    return ""
