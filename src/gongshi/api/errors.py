"""Errors of the API (codes 1950-1979) and the one table that maps errors onto JSON-RPC.

JSON-RPC 2.0 reserves -32768..-32000. The four protocol errors use their standard codes;
every other `GongshiError` is returned with its own stable `code` as the JSON-RPC code
(positive, so it never collides with the reserved range), and `data` always carries
`{"name": <class name>, "code": <GongshiError code>}`. A bug (any other exception) is
-32603 "internal error", logged with its traceback, never shown to the client.
"""

from __future__ import annotations

from typing import Any

from gongshi.errors import (
    DecodeError,
    GongshiError,
    NotFound,
    SizeLimitExceeded,
    ValidationError,
)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603


class ApiError(GongshiError):
    """Raised when the API cannot serve a request for a reason of its own (see subclasses)."""

    code = 1950


class ParseError(DecodeError):
    """Raised when a request body is not valid JSON (UTF-8, no NaN, bounded nesting)."""

    code = 1951


class InvalidRequest(ValidationError):
    """Raised when a JSON document is not a valid JSON-RPC 2.0 request object."""

    code = 1952


class MethodNotFound(NotFound):
    """Raised when a request names a method the API does not have."""

    code = 1953


class InvalidParams(ValidationError):
    """Raised when a method's parameters are missing, unknown or of the wrong type or range."""

    code = 1954


class RequestTooLarge(SizeLimitExceeded):
    """Raised when a request body or WebSocket message exceeds the configured size limit."""

    code = 1955


class BatchTooLarge(SizeLimitExceeded):
    """Raised when a batch request holds more calls than the configured limit."""

    code = 1956


class SubscriptionLimit(ApiError):
    """Raised when a subscription would exceed the per-connection or server-wide limit."""

    code = 1957


class SubscriberTooSlow(ApiError):
    """Raised (sent as a last message, then the connection closes) when a WebSocket
    subscriber does not read its notifications fast enough and its queue is full."""

    code = 1958


class UnknownSubscription(NotFound):
    """Raised when `unsubscribe` names no subscription of this connection."""

    code = 1959


class SubscriptionNeedsWebSocket(ApiError):
    """Raised when a subscription method is called over HTTP instead of WebSocket."""

    code = 1960


class ApiUnavailable(ApiError):
    """Raised when the server cannot bind its address or is shutting down."""

    code = 1961


class GovProposalNotFound(NotFound):
    """Raised when `gov_proposal` names a proposal id that does not exist."""

    code = 1965


class EpochEvidencePruned(NotFound):
    """Raised when the state that proves an epoch's validator set is pruned on this node
    (`chain_epochs`; ask a node that keeps full state history)."""

    code = 1966


class AuthenticationRequired(ApiError):
    """Raised when a method needs a member's signed request (`X-Gongshi-Auth`) and the
    request carries none (HTTP 401)."""

    code = 1967


class AuthenticationFailed(ApiError):
    """Raised when a request's `X-Gongshi-Auth` does not authenticate a member: malformed,
    expired or future timestamp, bad signature, unknown key, certificate outside its
    validity, revoked (HTTP 401); the message gives the reason."""

    code = 1968


class AccessDenied(ApiError):
    """Raised when an authenticated member's role may not call a method (HTTP 403)."""

    code = 1969


# The protocol errors; everything else keeps its own code.
JSONRPC_CODES: dict[type[GongshiError], int] = {
    ParseError: PARSE_ERROR,
    InvalidRequest: INVALID_REQUEST,
    MethodNotFound: METHOD_NOT_FOUND,
    InvalidParams: INVALID_PARAMS,
}


def jsonrpc_code(error: GongshiError) -> int:
    """The JSON-RPC error code of `error` (see the module docstring)."""
    for cls in type(error).__mro__:
        code = JSONRPC_CODES.get(cls)
        if code is not None:
            return code
    return error.code


def error_object(error: GongshiError) -> dict[str, Any]:
    """The JSON-RPC `error` member for a `GongshiError`."""
    return {
        "code": jsonrpc_code(error),
        "message": error.message,
        "data": {"name": type(error).__name__, "code": error.code},
    }


def internal_error_object() -> dict[str, Any]:
    """The JSON-RPC `error` member for a bug; details go to the log only."""
    return {
        "code": INTERNAL_ERROR,
        "message": "internal error",
        "data": {"name": "InternalError", "code": INTERNAL_ERROR},
    }
