"""Bad input over real HTTP: every failure is a JSON-RPC error object, never a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from gongshi.api.errors import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    ApiError,
    jsonrpc_code,
)
from gongshi.api.testing import ServedChain
from gongshi.codec import Transaction, encode
from gongshi.errors import all_error_classes


def _post(http: httpx.Client, body: bytes | str) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    return http.post("/", content=content, headers={"content-type": "application/json"})


def _error(response: httpx.Response) -> dict[str, Any]:
    document = response.json()
    assert "result" not in document
    assert "Traceback" not in response.text
    return dict(document["error"])


@pytest.mark.parametrize(
    "body",
    [
        b"{bad",
        b"",
        b"\xff\xfe{}",
        b'{"jsonrpc": "2.0", "id": 1, "method": "chain_info", "params": NaN}',
        b"[" * 20_000 + b"]" * 20_000,
        b'{"jsonrpc":"2.0","id":1,"method":"block_get","params":[' + b"9" * 5000 + b"]}",
    ],
    ids=["truncated", "empty", "not-utf8", "nan", "deep", "huge-int"],
)
def test_malformed_json_is_a_parse_error(http: httpx.Client, body: bytes) -> None:
    response = _post(http, body)
    assert response.status_code == 200
    assert _error(response)["code"] == PARSE_ERROR
    assert response.json()["id"] is None


@pytest.mark.parametrize(
    "document",
    [
        {"id": 1, "method": "chain_info"},
        {"jsonrpc": "1.0", "id": 1, "method": "chain_info"},
        {"jsonrpc": "2.0", "id": 1, "method": 7},
        {"jsonrpc": "2.0", "id": {"x": 1}, "method": "chain_info"},
        {"jsonrpc": "2.0", "id": 1, "method": "chain_info", "extra": True},
        "chain_info",
        7,
    ],
)
def test_invalid_request(http: httpx.Client, document: Any) -> None:
    error = _error(_post(http, json.dumps(document)))
    assert error["code"] == INVALID_REQUEST
    assert error["data"]["name"] == "InvalidRequest"


def test_unknown_method(rpc_raw) -> None:
    error = rpc_raw("no_such_method")["error"]
    assert error["code"] == METHOD_NOT_FOUND


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("tx_get", {"tx_hash": 5}),
        ("tx_get", {"tx_hash": "0x1234"}),
        ("tx_get", {"tx_hash": "ab" * 32}),
        ("tx_get", {"tx_hash": "0x" + "zz" * 32}),
        ("tx_get", {}),
        ("tx_get", {"tx_hash": "0x" + "00" * 32, "other": 1}),
        ("tx_get", ["0x" + "00" * 32, 1]),
        ("block_get", [True]),
        ("block_get", [1.5]),
        ("block_get", [-1]),
        ("block_get", [{"height": 1}]),
        ("block_get", {"block": 1, "full": "yes"}),
        ("state_get", {"namespace": "", "key": "0x00"}),
        ("events_query", {"contract": "notary", "name": "Registered", "limit": 0}),
        ("events_query", {"contract": "notary", "name": "Registered", "cursor": "1:x:2"}),
        ("account_nonce", {"address": "0x" + "00" * 32}),
        ("chain_info", "not-a-container"),
    ],
)
def test_wrong_params_are_invalid_params(rpc_raw, method: str, params: Any) -> None:
    error = rpc_raw(method, params)["error"]
    assert error["code"] == INVALID_PARAMS, error
    assert error["data"] == {"name": "InvalidParams", "code": 1954}


def test_admission_errors_keep_their_codes(
    served: ServedChain, rpc_raw, make_tx: Callable[..., Transaction]
) -> None:
    def send(tx_bytes: bytes) -> dict[str, Any]:
        return dict(rpc_raw("tx_send", {"tx": "0x" + tx_bytes.hex()})["error"])

    tampered = encode(make_tx(0, b"t"))[:-1] + b"\x00"
    assert send(tampered)["data"]["name"] in ("BadSignature", "MalformedTransaction")
    assert send(b"\x01\x02")["data"] == {"name": "MalformedTransaction", "code": 1652}
    assert send(encode(make_tx(0, chain_id="other-chain")))["code"] == 1653
    assert rpc_raw("tx_send", {"tx": "0x" + encode(make_tx(0, b"ok")).hex()})["result"]
    assert send(encode(make_tx(0, b"ok")))["data"]["name"] == "AlreadyKnown"
    served.commit()
    assert send(encode(make_tx(0, b"again")))["data"] == {"name": "NonceTooLow", "code": 1657}


def test_subscriptions_need_websocket(rpc_raw) -> None:
    error = rpc_raw("subscribe_blocks")["error"]
    assert error["data"]["name"] == "SubscriptionNeedsWebSocket"


def test_oversized_body_is_refused_with_error(http: httpx.Client, served: ServedChain) -> None:
    big = json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "tx_send", "params": ["0x" + "00" * 40_000]}
    )
    response = _post(http, big)
    assert response.status_code == 413
    assert _error(response)["data"] == {"name": "RequestTooLarge", "code": 1955}

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server counts as it reads
        for _ in range(100):
            yield b" " * 1024

    response = http.post("/", content=chunks())
    assert response.status_code == 413
    assert _error(response)["code"] == 1955
    assert http.post("/", json={"jsonrpc": "2.0", "id": 2, "method": "chain_info"}).json()["result"]


def test_batch_answers_in_order_and_skips_notifications(http: httpx.Client) -> None:
    batch = [
        {"jsonrpc": "2.0", "id": "a", "method": "chain_info"},
        {"jsonrpc": "2.0", "method": "chain_info"},
        {"jsonrpc": "2.0", "id": "b", "method": "nope"},
        {"jsonrpc": "2.0", "id": "c", "method": "block_get", "params": [0]},
        17,
    ]
    answers = http.post("/", json=batch).json()
    assert [answer["id"] for answer in answers] == ["a", "b", "c", None]
    assert "result" in answers[0] and answers[1]["error"]["code"] == METHOD_NOT_FOUND
    assert answers[2]["result"]["height"] == 0
    assert answers[3]["error"]["code"] == INVALID_REQUEST


def test_batch_limits(http: httpx.Client) -> None:
    call = {"jsonrpc": "2.0", "id": 1, "method": "chain_info"}
    assert _error(http.post("/", json=[call] * 6))["data"]["name"] == "BatchTooLarge"
    assert len(http.post("/", json=[call] * 5).json()) == 5
    assert _error(http.post("/", json=[]))["code"] == INVALID_REQUEST
    only_notifications = http.post("/", json=[{"jsonrpc": "2.0", "method": "chain_info"}] * 2)
    assert only_notifications.status_code == 204 and only_notifications.content == b""


def test_a_bug_is_an_internal_error_without_details(
    served: ServedChain, rpc_raw, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise KeyError("secret detail")

    monkeypatch.setattr(served.service, "chain_info", broken)
    answer = rpc_raw("chain_info")
    assert answer["error"]["code"] == INTERNAL_ERROR
    assert "secret" not in json.dumps(answer)
    assert any("secret detail" in (r.exc_text or "") for r in caplog.records)


def test_get_on_rpc_path_is_not_allowed(http: httpx.Client) -> None:
    assert http.get("/").status_code == 405


def test_error_codes_are_in_the_api_range_and_map_one_to_one() -> None:
    api_classes = [
        cls
        for cls in all_error_classes()
        if cls.__module__ in ("gongshi.api.errors", "gongshi.api.wire")
    ]
    assert ApiError in api_classes and len(api_classes) >= 10
    for cls in api_classes:
        assert 1950 <= cls.code <= 1979, cls
    standard = {jsonrpc_code(cls("x")) for cls in api_classes} & {
        PARSE_ERROR,
        INVALID_REQUEST,
        METHOD_NOT_FOUND,
        INVALID_PARAMS,
    }
    assert len(standard) == 4
    # Every other error keeps its own code.
    assert jsonrpc_code(ApiError("x")) == ApiError.code
