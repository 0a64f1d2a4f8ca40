"""JSON-RPC and subscriptions over a real WebSocket."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from gongshi.api.limits import ApiLimits
from gongshi.api.routes import ROUTES
from gongshi.api.testing import LocalChain, ServedChain
from gongshi.codec import Transaction, encode

Send = Callable[[Transaction], str]


class Socket:
    """A synchronous JSON-RPC WebSocket client for tests."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.next_id = 1

    def request(self, method: str, params: Any = None) -> int:
        request_id = self.next_id
        self.next_id += 1
        document: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            document["params"] = params
        self.connection.send(json.dumps(document))
        return request_id

    def receive(self) -> dict[str, Any]:
        return dict(json.loads(self.connection.recv(timeout=10)))

    def call(self, method: str, params: Any = None) -> dict[str, Any]:
        """The response to a call; fails if a notification arrives first."""
        request_id = self.request(method, params)
        answer = self.receive()
        assert answer.get("id") == request_id, answer
        return answer

    def result(self, method: str, params: Any = None) -> Any:
        answer = self.call(method, params)
        assert "error" not in answer, answer
        return answer["result"]

    def notification(self) -> dict[str, Any]:
        message = self.receive()
        assert message.get("method") == "subscription", message
        return dict(message["params"])


@pytest.fixture
def ws(served: ServedChain) -> Iterator[Socket]:
    with connect(served.ws_url) as connection:
        yield Socket(connection)


def test_plain_calls_work_over_websocket(ws: Socket) -> None:
    assert ws.result("chain_info")["height"] == 0
    assert ws.call("nope")["error"]["code"] == -32601
    ws.connection.send("{not json")
    assert ws.receive()["error"]["code"] == -32700


def test_batch_over_websocket_answers_a_list(ws: Socket) -> None:
    ws.connection.send(
        json.dumps(
            [
                {"jsonrpc": "2.0", "id": 1, "method": "chain_info"},
                {"jsonrpc": "2.0", "id": 2, "method": "block_get", "params": [0]},
            ]
        )
    )
    answers = json.loads(ws.connection.recv(timeout=10))
    assert [a["id"] for a in answers] == [1, 2]


def test_block_subscription_delivers_until_unsubscribed(served: ServedChain, ws: Socket) -> None:
    subscription = ws.result("subscribe_blocks")
    served.commit()
    served.commit()
    first, second = ws.notification(), ws.notification()
    assert first["subscription"] == second["subscription"] == subscription
    assert [first["result"]["height"], second["result"]["height"]] == [1, 2]
    assert first["result"]["certificate"]["phase"] == 2
    assert ws.result("unsubscribe", [subscription]) is True
    served.commit()
    # The next message is the reply to this call: no notification came in between.
    assert ws.result("chain_info")["height"] == 3
    assert ws.call("unsubscribe", [subscription])["error"]["data"]["name"] == "UnknownSubscription"


def test_receipt_subscription_for_pending_and_committed_transactions(
    served: ServedChain, ws: Socket, make_tx, send: Send
) -> None:
    pending = send(make_tx(0, b"p"))
    subscription = ws.result("subscribe_receipt", {"tx_hash": pending})
    served.commit()
    delivered = ws.notification()
    assert delivered["subscription"] == subscription
    assert delivered["result"]["tx_hash"] == pending
    assert delivered["result"]["proof"]["tree_size"] == 1
    assert delivered["result"]["anchor"]["height"] == 1
    # One notification, then the subscription is over.
    assert ws.call("unsubscribe", [subscription])["error"]["data"]["name"] == "UnknownSubscription"
    # Already committed: the notification follows the reply at once.
    again = ws.result("subscribe_receipt", [pending])
    assert ws.notification()["subscription"] == again


def test_event_subscription_filters_by_contract_and_name(
    served: ServedChain, ws: Socket, make_tx, send: Send
) -> None:
    matching = ws.result("subscribe_events", {"contract": "notary", "name": "Registered"})
    everything = ws.result("subscribe_events", {})
    ws.result("subscribe_events", {"name": "SomethingElse"})
    send(make_tx(0, b"e1"))
    send(make_tx(1, b"e2"))
    served.commit()
    received = [ws.notification() for _ in range(4)]
    by_subscription: dict[str, list[dict[str, Any]]] = {}
    for message in received:
        by_subscription.setdefault(message["subscription"], []).append(message["result"])
    assert set(by_subscription) == {matching, everything}
    assert [e["tx_index"] for e in by_subscription[matching]] == [0, 1]
    assert by_subscription[matching][0]["fields"]["sequence"] == 0
    assert ws.result("chain_info")["height"] == 1  # nothing else was queued


def test_subscription_limit_per_connection(ws: Socket) -> None:
    for _ in range(3):
        ws.result("subscribe_blocks")
    error = ws.call("subscribe_blocks")["error"]
    assert error["data"] == {"name": "SubscriptionLimit", "code": 1957}


@pytest.mark.parametrize("limits", [ApiLimits(subscriber_queue_max=4, request_bytes_max=64 * 1024)])
def test_slow_subscriber_is_dropped_with_an_error(
    chain: LocalChain, served: ServedChain, ws: Socket
) -> None:
    ws.result("subscribe_blocks")

    def burst() -> None:  # in one loop callback: the connection's writer cannot run between
        for _ in range(10):
            block, receipts = chain.commit_pending()
            served.server.publish(block, receipts)

    served.call(burst)
    messages = []
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            messages.append(ws.receive())
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert messages[-1]["error"]["data"]["name"] == "SubscriberTooSlow"
    assert len(messages) == 1  # what was queued is dropped with the subscriber
    for _ in range(100):
        if served.call(lambda: served.hub.subscription_count) == 0:
            break
        time.sleep(0.01)
    assert served.call(lambda: served.hub.subscription_count) == 0
    # The server itself is fine.
    with connect(served.ws_url) as connection:
        assert Socket(connection).result("chain_info")["height"] == 10


def test_oversized_websocket_message_closes_the_connection(ws: Socket) -> None:
    ws.connection.send("[" + " " * (70 * 1024) + "]")
    with pytest.raises(ConnectionClosed) as closed:
        ws.receive()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_server_stop_closes_websockets(chain: LocalChain) -> None:
    server = ServedChain(chain).start()
    with connect(server.ws_url) as connection:
        Socket(connection).result("subscribe_blocks")
        server.stop()
        with pytest.raises(ConnectionClosed) as closed:
            connection.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001


def test_every_method_answers_the_same_over_websocket_and_http(
    served: ServedChain, ws: Socket, rpc, make_tx, send: Send, client_key
) -> None:
    tx_hash = send(make_tx(0, b"same"))
    served.commit()
    doc_hash = "0x" + b"same".ljust(32, b"\0").hex()
    address = "0x" + client_key.address().hex()
    calls: list[tuple[str, Any]] = [
        ("chain_info", None),
        ("chain_epochs", None),
        ("tx_get", [tx_hash]),
        ("tx_receipt", [tx_hash]),
        ("block_get", [1, True]),
        ("state_get", ["notary", "0x72" + doc_hash[2:]]),
        ("account_nonce", [address]),
        ("events_query", ["notary", "Registered"]),
        ("notary_get", [doc_hash]),
        ("notary_list", [address]),
        ("contract_query", ["identity", "get", {"address": address}]),
        ("gov_proposals", {"status": "open"}),
        ("gov_params", None),
        ("gov_validators", None),
        ("gov_organisations", None),
        ("node_status", None),
        ("rpc_discover", None),
    ]
    covered = {name for name, _ in calls} | {
        "tx_send",  # sent below
        "gov_proposal",  # needs a proposal: tests/api/test_api_governance.py
        "contract_get",  # need a deployed contract: tests/api/test_api_contracts.py
        "contract_code",
        "subscribe_blocks",
        "subscribe_receipt",
        "subscribe_events",
        "unsubscribe",
    }
    assert covered == {route.name for route in ROUTES}
    for method, params in calls:
        assert ws.result(method, params) == rpc(method, params), method
    sent = ws.result("tx_send", ["0x" + encode(make_tx(1, b"ws")).hex()])
    assert sent["ready"] is True
