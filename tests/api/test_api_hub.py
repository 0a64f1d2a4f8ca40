"""The outbox bound and the hub's bookkeeping, on a real service without a server."""

from __future__ import annotations

import asyncio

import pytest

from gongshi.api.errors import SubscriptionLimit, UnknownSubscription
from gongshi.api.hub import CommitHub, Outbox
from gongshi.api.limits import ApiLimits
from gongshi.api.service import ChainService
from gongshi.api.testing import LocalChain
from gongshi.errors import ConfigError


def test_outbox_overflow_drops_everything_and_ends() -> None:
    async def scenario() -> None:
        outbox = Outbox(3)
        assert all(outbox.push(str(i)) for i in range(3))
        assert await outbox.next() == "0"
        assert outbox.push("3")
        assert not outbox.push("4")
        assert outbox.overflowed and len(outbox) == 0
        assert await outbox.next() is None
        assert not outbox.push("5")

    asyncio.run(scenario())


def test_outbox_close_drains_first() -> None:
    async def scenario() -> None:
        outbox = Outbox(3)
        outbox.push("a")
        waiter = asyncio.create_task(outbox.next())
        outbox.close()
        assert await waiter == "a"
        assert await outbox.next() is None

    asyncio.run(scenario())


def test_hub_limits_and_cleanup(chain: LocalChain) -> None:
    service = ChainService(ledger=chain.ledger, pool=chain.pool, context=chain.context())
    hub = CommitHub(service, ApiLimits(subscriptions_max=3, subscriptions_per_connection_max=2))

    async def scenario() -> None:
        first, second = hub.connect(), hub.connect()
        a = hub.subscribe_blocks(first)
        hub.subscribe_events(first, "notary", None)
        with pytest.raises(SubscriptionLimit):
            hub.subscribe_blocks(first)
        hub.subscribe_receipt(second, b"\x01" * 32)
        with pytest.raises(SubscriptionLimit):
            hub.subscribe_blocks(second)
        assert hub.subscription_count == 3
        assert hub.unsubscribe(first, a)
        with pytest.raises(UnknownSubscription):
            hub.unsubscribe(second, a)
        hub.disconnect(first)
        hub.disconnect(second)
        assert hub.subscription_count == 0
        block, receipts = chain.commit_pending()
        hub.publish(block, receipts)  # nobody listens: nothing to do, nothing raised
        assert hub.published_height == 1

    asyncio.run(scenario())


def test_limits_are_checked() -> None:
    with pytest.raises(ConfigError):
        ApiLimits(batch_max=0)
    with pytest.raises(ConfigError):
        ApiLimits(request_bytes_max=10)
