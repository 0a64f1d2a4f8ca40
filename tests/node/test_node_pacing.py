"""Block pacing: the busy interval while transactions wait or recent blocks carry some, the
block interval when idle; and the fetch path skipping signatures verified already."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import pytest

from gongshi.cli.init_network import NetworkOptions, plan_network
from gongshi.codec import Transaction, encode
from gongshi.crypto import get_suite
from gongshi.errors import GongshiError
from gongshi.execution import ParallelMap, PreparedTransaction, StateIdentityReader
from gongshi.mempool import ChainHead, Mempool, MempoolConfig
from gongshi.node import app as app_module
from gongshi.node.app import NodeApplication
from gongshi.node.chain import Chain
from gongshi.node.genesis import genesis_hash
from gongshi.node.overlay import LatestState
from gongshi.storage import Ledger, LedgerConfig

PLAN = plan_network(
    NetworkOptions(organisations=4, suite="intl"), now=datetime(2030, 1, 1, tzinfo=UTC)
)
SUITE = get_suite("intl")
INTERVAL_MS = 400
BUSY_MS = 40


def key(path: str):  # type: ignore[no-untyped-def]
    pem = next(f.content for f in PLAN.files if f.path == PurePosixPath(path))
    return SUITE.load_private_key_pem(pem)


CLIENT = key("orgs/org1/client/client.key")
PROPOSER = key("nodes/node1/node.key").public_key_bytes()


def transaction(nonce: int) -> Transaction:
    return Transaction(
        chain_id=PLAN.genesis.params.chain_id,
        nonce=nonce,
        sender=CLIENT.public_key_bytes(),
        target="notary",
        method="register",
        args={"doc_hash": hashlib.sha256(b"%d" % nonce).digest(), "metadata": {}},
        gas_limit=200_000,
        expiry_height=1000,
    ).sign(CLIENT)


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    ledger = Ledger.open(
        tmp_path / "ledger", SUITE, LedgerConfig(genesis_parent_hash=genesis_hash(PLAN.genesis))
    )
    yield Chain(ledger=ledger, genesis=PLAN.genesis, suite=SUITE, parallel=ParallelMap())
    ledger.close()


def make_app(
    chain: Chain, fetched: list[bytes] | None = None
) -> tuple[NodeApplication, ThreadPoolExecutor]:
    mempool = Mempool(
        config=MempoolConfig.from_params(PLAN.genesis.params),
        suite=SUITE,
        nonces=chain.ledger,
        identities=StateIdentityReader(LatestState(chain.ledger), SUITE),
        head=ChainHead(height=0, timestamp_ms=PLAN.genesis.genesis_time_ms),
        verified=chain.verified,
    )
    answer = [PreparedTransaction.from_bytes(data, SUITE) for data in fetched or []]
    worker = ThreadPoolExecutor(max_workers=1)
    app = NodeApplication(
        chain=chain,
        mempool=mempool,
        worker=worker,
        fetch=lambda proposer, hashes: asyncio.ensure_future(asyncio.sleep(0, answer)),
        proposer_key=PROPOSER,
        block_interval_ms=INTERVAL_MS,
        busy_interval_ms=BUSY_MS,
    )
    return app, worker


def pace(app: NodeApplication, parent_hash: bytes, monkeypatch: pytest.MonkeyPatch) -> float:
    """How long the app waits before building on `parent_hash`, a block just executed."""
    waits: list[float] = []

    async def sleep(delay: float) -> None:
        waits.append(delay)

    async def scenario() -> int:
        app._last_block_at = asyncio.get_running_loop().time()
        monkeypatch.setattr(app_module.asyncio, "sleep", sleep)
        try:
            return len(await app._paced_candidates(parent_hash))
        finally:
            monkeypatch.undo()

    asyncio.run(scenario())
    return sum(waits)


def test_idle_blocks_wait_the_block_interval(chain: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    app, worker = make_app(chain)
    try:
        wait = pace(app, chain.ledger.head_hash, monkeypatch)
    finally:
        worker.shutdown()
    assert BUSY_MS / 1000 < wait <= INTERVAL_MS / 1000


def test_waiting_transactions_shorten_the_wait_to_the_busy_interval(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, worker = make_app(chain)
    try:
        app.mempool.admit(encode(transaction(0)))
        wait = pace(app, chain.ledger.head_hash, monkeypatch)
    finally:
        worker.shutdown()
    assert wait <= BUSY_MS / 1000


def test_blocks_follow_a_block_with_transactions_until_it_commits(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, worker = make_app(chain)
    try:
        prepared = [PreparedTransaction.from_transaction(transaction(0), SUITE)]
        parent = chain.ledger.head_hash
        hashes = []
        for height, candidates in ((1, prepared), (2, []), (3, [])):
            built = chain.build(
                height=height,
                parent_hash=parent,
                round_number=height,
                proposer=PROPOSER,
                timestamp_ms=PLAN.genesis.genesis_time_ms + height,
                candidates=candidates,
            )
            parent = built.executed.block_hash
            hashes.append(parent)
        # The empty pool still waits only the busy interval after block 1 and 2 (they are
        # what commits block 1), the block interval after block 3.
        waits = [pace(app, block_hash, monkeypatch) for block_hash in hashes]
    finally:
        worker.shutdown()
    assert waits[0] <= BUSY_MS / 1000 and waits[1] <= BUSY_MS / 1000
    assert waits[2] > BUSY_MS / 1000


def test_a_fetched_transaction_verified_by_admission_is_not_verified_again(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    txs = [transaction(0), transaction(1)]
    app, worker = make_app(chain, fetched=[encode(tx) for tx in txs])
    checked: list[bytes] = []
    original = PreparedTransaction.verify_signature

    def counting(self: PreparedTransaction, suite: object) -> bool:
        checked.append(self.tx_hash)
        return original(self, SUITE)

    monkeypatch.setattr(PreparedTransaction, "verify_signature", counting)
    hashes = [tx.hash(SUITE) for tx in txs]
    chain.verified.add(hashes[0], txs[0].signature)  # as gossip admission does
    try:
        asyncio.run(app._fetch_missing(PROPOSER, hashes))
    finally:
        worker.shutdown()
    assert checked == [hashes[1]]
    assert all(app._known(tx_hash) is not None for tx_hash in hashes)
    # They joined the pool too: gossip of them later is known, and if their block is
    # abandoned this node can still propose them.
    assert all(app.mempool.contains(tx_hash) for tx_hash in hashes)
    assert chain.verified.contains(hashes[1], txs[1].signature)


def test_a_pool_refusing_fetched_transactions_does_not_fail_the_fetch(chain: Chain) -> None:
    txs = [transaction(0)]
    app, worker = make_app(chain, fetched=[encode(tx) for tx in txs])

    def refuse(prepared: object) -> None:
        raise GongshiError("pool unavailable")

    app._admit_fetched = refuse
    tx_hash = txs[0].hash(SUITE)
    try:
        asyncio.run(app._fetch_missing(PROPOSER, [tx_hash]))
    finally:
        worker.shutdown()
    assert app._known(tx_hash) is not None
