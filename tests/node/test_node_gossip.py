"""Transaction gossip: local admissions go out in batches, received batches are admitted
without being relayed, and pending local transactions are gossiped again."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

import pytest

from gongshi.cli.init_network import NetworkOptions, plan_network
from gongshi.codec import Transaction, encode
from gongshi.crypto import get_suite
from gongshi.errors import NotFound
from gongshi.execution import (
    MemoryNonces,
    PreparedTransaction,
    StateIdentityReader,
    genesis_state_writes,
)
from gongshi.mempool import AdmissionChecker, ChainHead, MempoolConfig
from gongshi.network import MessageKind
from gongshi.node.gossip import REGOSSIP_AGE_S, GossipingMempool, TxFetcher, TxGossip
from gongshi.node.wire import TxBatch

GENESIS_TIME = datetime(2030, 1, 1, tzinfo=UTC)
PLAN = plan_network(NetworkOptions(organisations=1, suite="intl"), now=GENESIS_TIME)
SUITE = get_suite("intl")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def mempool(clock: Clock) -> GossipingMempool:
    state = genesis_state_writes(PLAN.genesis)
    return GossipingMempool(
        clock=clock,
        config=MempoolConfig.from_params(PLAN.genesis.params),
        suite=SUITE,
        nonces=MemoryNonces(),
        identities=StateIdentityReader(state, SUITE),  # type: ignore[arg-type]
        head=ChainHead(height=0, timestamp_ms=PLAN.genesis.genesis_time_ms + 1),
    )


def signed(count: int) -> list[bytes]:
    pem = next(
        f.content for f in PLAN.files if f.path == PurePosixPath("orgs/org1/client/client.key")
    )
    key = SUITE.load_private_key_pem(pem)
    return [
        encode(
            Transaction(
                chain_id=PLAN.genesis.params.chain_id,
                nonce=nonce,
                sender=key.public_key_bytes(),
                target="notary",
                method="register",
                args={"doc_hash": hashlib.sha256(b"%d" % nonce).digest(), "metadata": {}},
                gas_limit=100_000,
                expiry_height=100,
            ).sign(key)
        )
        for nonce in range(count)
    ]


def test_local_admissions_are_gossiped_in_one_batch_and_again_while_pending() -> None:
    clock = Clock()
    pool = mempool(clock)
    sent: list[tuple[MessageKind, bytes]] = []
    gossip = TxGossip(mempool=pool, broadcast=lambda kind, body: sent.append((kind, body)) or 3)
    raw = signed(5)
    for data in raw:
        pool.admit(data)
    gossip.flush()
    assert len(sent) == 1 and sent[0][0] is MessageKind.TX_GOSSIP
    assert TxBatch.decode(sent[0][1]).transactions == tuple(raw)
    gossip.flush()
    assert len(sent) == 1  # nothing new
    assert pool.stale_local(REGOSSIP_AGE_S, 100) == []
    clock.now += REGOSSIP_AGE_S
    pool.remove([pool.checker.check(raw[0], next_height=1).tx_hash])
    assert pool.stale_local(REGOSSIP_AGE_S, 100) == raw[1:]
    assert pool.stale_local(REGOSSIP_AGE_S, 100) == []  # just gossiped again


def test_received_batches_are_admitted_but_not_relayed() -> None:
    pool = mempool(Clock())
    gossip = TxGossip(mempool=pool, broadcast=lambda kind, body: 0)
    raw = signed(4)
    batch = TxBatch(transactions=(*raw, b"\x00garbage")).encode()

    async def scenario() -> None:
        gossip.received(batch)
        gossip.received(b"not a batch")
        runner = asyncio.ensure_future(gossip.run_inbound())
        async with asyncio.timeout(10):
            while gossip.counters.batches_received + gossip.counters.batches_dropped < 2:
                await asyncio.sleep(0.01)
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)

    asyncio.run(scenario())
    assert len(pool) == 4
    assert gossip.counters.transactions_admitted == 4
    assert gossip.counters.transactions_refused == 1
    assert gossip.counters.batches_dropped == 1
    assert pool.outbound == []


class _EmptyLedger:
    def get_transaction(self, tx_hash: bytes) -> object:
        raise NotFound("not committed")


def test_fetch_asks_the_proposer_then_the_other_peers() -> None:
    raw = signed(3)
    holder = mempool(Clock())
    for data in raw:
        holder.admit(data)
    wanted = [holder.checker.check(data, next_height=1).tx_hash for data in raw]
    proposer, other = b"p" * 32, b"o" * 32
    serving = TxFetcher(
        send=lambda peer, kind, body: True,
        peers=lambda: [],
        mempool=holder,
        ledger=_EmptyLedger(),  # type: ignore[arg-type]
    )
    asked: list[bytes] = []

    def send(peer: bytes, kind: MessageKind, body: bytes) -> bool:
        asked.append(peer)
        if peer == proposer:
            return False  # not connected
        assert kind is MessageKind.TX_FETCH_REQUEST

        def answer(reply_kind: MessageKind, reply: bytes) -> bool:
            assert reply_kind is MessageKind.TX_FETCH_RESPONSE
            asyncio.get_running_loop().call_soon(fetcher.response, reply)
            return True

        serving._send = lambda _peer, k, b: answer(k, b)  # type: ignore[method-assign]
        serving.serve(peer, body)
        return True

    fetcher = TxFetcher(
        send=send,
        peers=lambda: [other],
        mempool=mempool(Clock()),
        ledger=_EmptyLedger(),  # type: ignore[arg-type]
        timeout_s=5.0,
    )

    async def scenario() -> list[PreparedTransaction]:
        return await fetcher.fetch(proposer, [*wanted, bytes(32)])

    found = asyncio.run(scenario())
    assert asked == [proposer, other]
    assert sorted(encode(p.tx) for p in found) == sorted(raw)
    assert sorted(p.tx_hash for p in found) == sorted(wanted)


def test_batches_queued_together_are_admitted_in_one_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool = mempool(Clock())
    gossip = TxGossip(mempool=pool, broadcast=lambda kind, body: 0)
    raw = signed(6)
    calls: list[int] = []
    original = AdmissionChecker.check_batch_from_loop

    async def counting(self: AdmissionChecker, batch: Any, **kwargs: Any) -> Any:
        calls.append(len(batch))
        return await original(self, batch, **kwargs)

    monkeypatch.setattr(AdmissionChecker, "check_batch_from_loop", counting)

    async def scenario() -> None:
        for start in range(0, 6, 2):  # three batches queue before the admission task runs
            gossip.received(TxBatch(transactions=tuple(raw[start : start + 2])).encode())
        runner = asyncio.ensure_future(gossip.run_inbound())
        async with asyncio.timeout(10):
            while gossip.counters.transactions_admitted < 6:
                await asyncio.sleep(0.01)
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)

    asyncio.run(scenario())
    assert calls == [6]
    assert gossip.counters.batches_received == 3 and len(pool) == 6
