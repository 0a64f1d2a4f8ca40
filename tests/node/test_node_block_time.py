"""A proposal whose timestamp is far ahead of the validator's clock gets no vote: block time
only grows and execution checks certificates against it, so one faulty leader's far-future
timestamp would otherwise expire every member's certificate for good."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import pytest

from gongshi.cli.init_network import NetworkOptions, plan_network
from gongshi.consensus import ValidateBlock
from gongshi.crypto import get_suite
from gongshi.execution import ParallelMap, StateIdentityReader
from gongshi.mempool import ChainHead, Mempool, MempoolConfig
from gongshi.node.app import PROPOSAL_CLOCK_DRIFT_MS, NodeApplication
from gongshi.node.chain import Chain
from gongshi.node.genesis import genesis_hash
from gongshi.node.overlay import LatestState
from gongshi.storage import Ledger, LedgerConfig

PLAN = plan_network(
    NetworkOptions(organisations=4, suite="intl"), now=datetime(2030, 1, 1, tzinfo=UTC)
)
SUITE = get_suite("intl")
NOW_MS = PLAN.genesis.genesis_time_ms + 60_000


def _proposer() -> bytes:
    pem = next(f.content for f in PLAN.files if f.path == PurePosixPath("nodes/node1/node.key"))
    return SUITE.load_private_key_pem(pem).public_key_bytes()


def _chain(directory: Path) -> Chain:
    ledger = Ledger.open(
        directory, SUITE, LedgerConfig(genesis_parent_hash=genesis_hash(PLAN.genesis))
    )
    return Chain(ledger=ledger, genesis=PLAN.genesis, suite=SUITE, parallel=ParallelMap())


@pytest.fixture
def chains(tmp_path: Path) -> Iterator[tuple[Chain, Chain]]:
    proposer, replica = _chain(tmp_path / "proposer"), _chain(tmp_path / "replica")
    yield proposer, replica
    proposer.ledger.close()
    replica.ledger.close()


def _validate(replica: Chain, proposer: Chain, timestamp_ms: int) -> bool:
    built = proposer.build(
        height=1,
        parent_hash=proposer.ledger.head_hash,
        round_number=1,
        proposer=_proposer(),
        timestamp_ms=timestamp_ms,
        candidates=[],
    )
    mempool = Mempool(
        config=MempoolConfig.from_params(PLAN.genesis.params),
        suite=SUITE,
        nonces=replica.ledger,
        identities=StateIdentityReader(LatestState(replica.ledger), SUITE),
        head=ChainHead(height=0, timestamp_ms=PLAN.genesis.genesis_time_ms),
    )
    worker = ThreadPoolExecutor(max_workers=1)
    app = NodeApplication(
        chain=replica,
        mempool=mempool,
        worker=worker,
        fetch=lambda peer, hashes: asyncio.ensure_future(asyncio.sleep(0, [])),
        proposer_key=_proposer(),
        block_interval_ms=500,
        clock_ms=lambda: NOW_MS,
    )
    try:
        answer = asyncio.run(app.validate_block(ValidateBlock(block=built.consensus_block)))
    finally:
        worker.shutdown()
    return answer.valid


def test_a_proposal_within_the_drift_is_voted_for(chains: tuple[Chain, Chain]) -> None:
    proposer, replica = chains
    assert _validate(replica, proposer, NOW_MS + PROPOSAL_CLOCK_DRIFT_MS)


def test_a_proposal_from_the_far_future_is_refused(chains: tuple[Chain, Chain]) -> None:
    proposer, replica = chains
    assert not _validate(replica, proposer, NOW_MS + PROPOSAL_CLOCK_DRIFT_MS + 1)
    assert not _validate(replica, proposer, 2**62)
