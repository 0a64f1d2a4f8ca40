"""`CommitHub`: feeds WebSocket subscriptions from the node's commits.

    hub = CommitHub(service, limits)
    hub.publish(block, receipts)     # the node, on its event loop, after every commit

Each WebSocket connection is a `Subscriber` with a bounded `Outbox` of outgoing messages
(replies and notifications alike). A subscriber that lets its outbox fill up is *overflowed*:
nothing more is queued for it, its connection sends one error and closes. Memory per
connection is bounded by `subscriber_queue_max` messages; the whole hub by
`subscriptions_max` subscriptions. Everything here runs on the event loop thread.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from gongshi.api.errors import SubscriptionLimit, UnknownSubscription
from gongshi.api.limits import ApiLimits
from gongshi.api.service import ChainService
from gongshi.api.wire import Json, to_hex, value_to_json
from gongshi.codec import Block, Receipt

logger = logging.getLogger(__name__)

NOTIFICATION_METHOD = "subscription"


class Outbox:
    """A connection's queue of outgoing text messages, bounded; see the module docstring."""

    def __init__(self, size_max: int) -> None:
        self._items: deque[str] = deque()
        self._size_max = size_max
        self._ready = asyncio.Event()
        self.overflowed = False
        self.closed = False

    def __len__(self) -> int:
        return len(self._items)

    def push(self, text: str) -> bool:
        """Queue `text`; False (and the outbox overflows, dropping what it held) if full."""
        if self.overflowed or self.closed:
            return False
        if len(self._items) >= self._size_max:
            self.overflowed = True
            self._items.clear()
            self._ready.set()
            return False
        self._items.append(text)
        self._ready.set()
        return True

    def close(self) -> None:
        """No more messages: `next` returns None once the queue is drained."""
        self.closed = True
        self._ready.set()

    async def next(self) -> str | None:
        """The next message; None once overflowed or closed and drained."""
        while True:
            if self.overflowed:
                return None
            if self._items:
                return self._items.popleft()
            if self.closed:
                return None
            self._ready.clear()
            await self._ready.wait()


class Kind(enum.Enum):
    BLOCKS = "blocks"
    RECEIPT = "receipt"
    EVENTS = "events"


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription:
    id: str
    kind: Kind
    subscriber: Subscriber
    tx_hash: bytes = b""
    contract: str | None = None
    name: str | None = None


def notification(subscription_id: str, payload_json: str) -> str:
    """A JSON-RPC notification; the payload is serialized once for every subscriber."""
    return (
        f'{{"jsonrpc":"2.0","method":"{NOTIFICATION_METHOD}","params":'
        f'{{"subscription":{json.dumps(subscription_id)},"result":{payload_json}}}}}'
    )


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class Subscriber:
    """One WebSocket connection: its outbox and its subscriptions."""

    def __init__(self, outbox_size_max: int) -> None:
        self.outbox = Outbox(outbox_size_max)
        self.subscriptions: dict[str, Subscription] = {}
        # Work to do after the reply now being sent (a receipt that is already committed).
        self.deferred: list[Callable[[], None]] = []

    def send(self, text: str) -> None:
        self.outbox.push(text)

    def run_deferred(self) -> None:
        work, self.deferred = self.deferred, []
        for item in work:
            try:
                item()
            except Exception:
                # The reply is sent; a failed follow-up must not end the connection.
                logger.exception("deferred subscription work failed")


class CommitHub:
    """Subscriptions to blocks, receipts and events; `publish` is called after each commit."""

    def __init__(self, service: ChainService, limits: ApiLimits | None = None) -> None:
        self._service = service
        self._limits = limits or ApiLimits()
        self._subscribers: set[Subscriber] = set()
        self._blocks: dict[str, Subscription] = {}
        self._receipts: dict[bytes, dict[str, Subscription]] = {}
        self._events: dict[tuple[str | None, str | None], dict[str, Subscription]] = {}
        self._count = 0
        self._next_id = 1
        self.published_height: int | None = None

    @property
    def subscription_count(self) -> int:
        return self._count

    # --- connections -----------------------------------------------------------------------

    def connect(self) -> Subscriber:
        subscriber = Subscriber(self._limits.subscriber_queue_max)
        self._subscribers.add(subscriber)
        return subscriber

    def disconnect(self, subscriber: Subscriber) -> None:
        for subscription_id in list(subscriber.subscriptions):
            self._remove(subscriber.subscriptions[subscription_id])
        subscriber.outbox.close()
        self._subscribers.discard(subscriber)

    def close_all(self) -> None:
        """Shutting down: every connection drains its outbox and closes."""
        for subscriber in list(self._subscribers):
            subscriber.outbox.close()

    # --- subscribing -----------------------------------------------------------------------

    def _new(self, subscriber: Subscriber, kind: Kind, **fields: Any) -> Subscription:
        if self._count >= self._limits.subscriptions_max:
            raise SubscriptionLimit(
                f"the server has {self._limits.subscriptions_max} subscriptions, its limit"
            )
        if len(subscriber.subscriptions) >= self._limits.subscriptions_per_connection_max:
            raise SubscriptionLimit(
                f"a connection may hold {self._limits.subscriptions_per_connection_max} "
                "subscriptions"
            )
        subscription = Subscription(
            id=f"0x{self._next_id:x}", kind=kind, subscriber=subscriber, **fields
        )
        self._next_id += 1
        self._count += 1
        subscriber.subscriptions[subscription.id] = subscription
        return subscription

    def subscribe_blocks(self, subscriber: Subscriber) -> str:
        subscription = self._new(subscriber, Kind.BLOCKS)
        self._blocks[subscription.id] = subscription
        return subscription.id

    def subscribe_receipt(self, subscriber: Subscriber, tx_hash: bytes) -> str:
        """One notification when `tx_hash` is committed (at once, after the reply, if it is
        already), then the subscription ends."""
        subscription = self._new(subscriber, Kind.RECEIPT, tx_hash=tx_hash)
        self._receipts.setdefault(tx_hash, {})[subscription.id] = subscription
        subscriber.deferred.append(lambda: self._deliver_if_committed(subscription))
        return subscription.id

    def subscribe_events(
        self, subscriber: Subscriber, contract: str | None, name: str | None
    ) -> str:
        subscription = self._new(subscriber, Kind.EVENTS, contract=contract, name=name)
        self._events.setdefault((contract, name), {})[subscription.id] = subscription
        return subscription.id

    def unsubscribe(self, subscriber: Subscriber, subscription_id: str) -> bool:
        subscription = subscriber.subscriptions.get(subscription_id)
        if subscription is None:
            raise UnknownSubscription(f"no subscription {subscription_id[:64]!r} here")
        self._remove(subscription)
        return True

    def _remove(self, subscription: Subscription) -> None:
        if subscription.subscriber.subscriptions.pop(subscription.id, None) is None:
            return
        self._count -= 1
        if subscription.kind is Kind.BLOCKS:
            del self._blocks[subscription.id]
        elif subscription.kind is Kind.RECEIPT:
            _discard(self._receipts, subscription.tx_hash, subscription.id)
        else:
            _discard(self._events, (subscription.contract, subscription.name), subscription.id)

    def _deliver_if_committed(self, subscription: Subscription) -> None:
        if subscription.id not in subscription.subscriber.subscriptions:
            return  # delivered by a commit in between, or unsubscribed
        payload = self._service.tx_receipt(subscription.tx_hash)
        if payload is not None:
            subscription.subscriber.send(notification(subscription.id, dumps(payload)))
            self._remove(subscription)

    # --- publishing ------------------------------------------------------------------------

    def publish(self, block: Block, receipts: tuple[Receipt, ...] | list[Receipt]) -> None:
        """Notify the subscribers of a committed block. Never raises into the commit path: a
        failure to notify is logged, the chain goes on."""
        try:
            self._publish_blocks(block)
            self._publish_receipts(receipts)
            self._publish_events(block.height, receipts)
        except Exception:
            logger.exception("publishing block %d to subscribers failed", block.height)
        self.published_height = block.height

    def _publish_blocks(self, block: Block) -> None:
        if not self._blocks:
            return
        payload = dumps(self._service.block_notification(block))
        for subscription in list(self._blocks.values()):
            subscription.subscriber.send(notification(subscription.id, payload))

    def _publish_receipts(self, receipts: tuple[Receipt, ...] | list[Receipt]) -> None:
        if not self._receipts:
            return
        for receipt in receipts:
            waiting = self._receipts.get(receipt.tx_hash)
            if not waiting:
                continue
            payload = dumps(self._service.tx_receipt(receipt.tx_hash))
            for subscription in list(waiting.values()):
                subscription.subscriber.send(notification(subscription.id, payload))
                self._remove(subscription)

    def _publish_events(self, height: int, receipts: tuple[Receipt, ...] | list[Receipt]) -> None:
        if not self._events:
            return
        for tx_index, receipt in enumerate(receipts):
            for event_index, event in enumerate(receipt.events):
                matching = list(self._matching(event.contract, event.name))
                if not matching:
                    continue
                payload: Json = {
                    "height": height,
                    "tx_index": tx_index,
                    "event_index": event_index,
                    "tx_hash": to_hex(receipt.tx_hash),
                    "contract": event.contract,
                    "name": event.name,
                    "fields": value_to_json(event.fields),
                }
                text = dumps(payload)
                for subscription in matching:
                    subscription.subscriber.send(notification(subscription.id, text))

    def _matching(self, contract: str, name: str) -> Iterator[Subscription]:
        for key in ((contract, name), (contract, None), (None, name), (None, None)):
            found = self._events.get(key)
            if found:
                yield from found.values()


def _discard(index: dict[Any, dict[str, Subscription]], key: Any, subscription_id: str) -> None:
    found = index.get(key)
    if found is not None:
        found.pop(subscription_id, None)
        if not found:
            del index[key]
