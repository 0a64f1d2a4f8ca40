"""The machine-readable API description: an OpenRPC 1.2 document made from the route table,
served by `rpc_discover` and at GET /openrpc.json.

Each method carries the specification extension `x-gongshi-access`: the access level its
route declares (`public`, `submit`, `member`, `full`; docs/api.md, "Access control"), what a
node with `[api] access = "members"` asks of the caller. A method whose result is partly
withheld below the full level also says so in `x-gongshi-redacted`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from gongshi import __version__
from gongshi.api.errors import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
)
from gongshi.api.routes import ROUTES, Mode, Route

OPENRPC_VERSION: Final = "1.2.6"
ACCESS_FIELD: Final = "x-gongshi-access"
REDACTED_FIELD: Final = "x-gongshi-redacted"
# What a route's `redact` withholds below the full level, by method.
REDACTED_DEFAULT = "part of the result, for callers below the full level"
REDACTED: Final[Mapping[str, str]] = MappingProxyType(
    {"tx_get": "a pending transaction's content, except for its sender and full readers"}
)


def _method(route: Route) -> dict[str, Any]:
    method: dict[str, Any] = {
        "name": route.name,
        "summary": route.summary,
        "paramStructure": "either",
        "params": [
            {
                "name": param.name,
                "description": param.description,
                "required": param.required,
                "schema": param.kind.schema(),
            }
            for param in route.params
        ],
        "result": {"name": "result", "description": route.result, "schema": {}},
        ACCESS_FIELD: route.access.value,
    }
    if route.redact is not None:
        method[REDACTED_FIELD] = REDACTED.get(route.name, REDACTED_DEFAULT)
    if route.mode is Mode.SUBSCRIPTION:
        method["tags"] = [{"name": "websocket"}]
    return method


def openrpc_document() -> dict[str, Any]:
    return {
        "openrpc": OPENRPC_VERSION,
        "info": {
            "title": "Gongshi JSON-RPC API",
            "version": __version__,
            "description": (
                "JSON-RPC 2.0 over HTTP POST / and WebSocket /ws. Bytes are 0x-prefixed hex. "
                "Errors: the standard JSON-RPC codes for protocol errors; any other error "
                "has the Gongshi error code as its JSON-RPC code and data {name, code}. "
                "Subscriptions send notifications {method: 'subscription', params: "
                "{subscription, result}}. Access: with the node's [api] access = members, "
                "each method's x-gongshi-access says who may call it: public and submit "
                "need nothing; member needs a registered member's signed X-Gongshi-Auth "
                "header; full, the roles admin, observer or regulator. See docs/api.md."
            ),
        },
        "servers": [{"name": "http", "url": "/"}, {"name": "websocket", "url": "/ws"}],
        "methods": [_method(route) for route in ROUTES],
        "components": {
            "errors": {
                "ParseError": {"code": PARSE_ERROR, "message": "parse error"},
                "InvalidRequest": {"code": INVALID_REQUEST, "message": "invalid request"},
                "MethodNotFound": {"code": METHOD_NOT_FOUND, "message": "method not found"},
                "InvalidParams": {"code": INVALID_PARAMS, "message": "invalid params"},
                "InternalError": {"code": INTERNAL_ERROR, "message": "internal error"},
            }
        },
    }
