"""`tx_send` in a JSON-RPC batch: checked in one worker-thread hand-off, answered and added
to the pool in call order; other calls of the batch keep their order around them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from gongshi.api.testing import ServedChain
from gongshi.codec import Transaction, encode


def _call(method: str, params: Any, request_id: int) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}


def test_a_batch_of_tx_send_is_checked_once_and_answered_in_order(
    served: ServedChain, http: httpx.Client, make_tx: Callable[..., Transaction]
) -> None:
    txs = [make_tx(nonce, b"batch%d" % nonce) for nonce in range(4)]
    batch = [
        _call("tx_send", {"tx": "0x" + encode(tx).hex()}, index) for index, tx in enumerate(txs)
    ]
    batch.insert(2, _call("tx_send", {"tx": "0x00"}, 99))  # refused, in its place
    answers = http.post("/", json=batch).json()
    assert [answer["id"] for answer in answers] == [0, 1, 99, 2, 3]
    assert "error" in answers[2]
    accepted = [answer["result"] for answer in answers if "result" in answer]
    suite = served.chain.suite
    assert [a["tx_hash"] for a in accepted] == ["0x" + tx.hash(suite).hex() for tx in txs]
    # Added in call order: every nonce follows the previous one, so each is ready.
    assert all(a["ready"] for a in accepted)
    batcher = served.service._admissions
    assert batcher is not None and batcher.flushes == 1


def test_calls_around_a_run_of_tx_send_see_it_in_order(
    served: ServedChain, http: httpx.Client, make_tx: Callable[..., Transaction]
) -> None:
    txs = [make_tx(nonce, b"order%d" % nonce) for nonce in range(2)]
    tx_hash = "0x" + txs[1].hash(served.chain.suite).hex()
    batch = [
        _call("tx_get", {"tx_hash": tx_hash}, 0),
        *(_call("tx_send", {"tx": "0x" + encode(tx).hex()}, 1 + i) for i, tx in enumerate(txs)),
        _call("tx_get", {"tx_hash": tx_hash}, 3),
    ]
    answers = http.post("/", json=batch).json()
    assert [answer["id"] for answer in answers] == [0, 1, 2, 3]
    assert answers[0]["result"] is None  # not sent yet
    assert answers[3]["result"]["status"] == "pending"
