"""Block sync in-process: a node at genesis learns from a peer's status that it is behind,
fetches the committed blocks, checks and applies them, and reroots its engine."""

from __future__ import annotations

import asyncio
import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from gongshi.cli.init_network import NetworkOptions, plan_network
from gongshi.codec import Transaction
from gongshi.consensus import CommittedRoot
from gongshi.consensus.quorum import build_qc
from gongshi.consensus.signing import vote_bytes
from gongshi.consensus.types import Phase
from gongshi.crypto import get_suite
from gongshi.execution import ParallelMap, PreparedTransaction, StateIdentityReader
from gongshi.mempool import ChainHead, Mempool, MempoolConfig
from gongshi.network import MessageKind
from gongshi.node.app import NodeApplication
from gongshi.node.blocksync import BlockSync, SyncOptions
from gongshi.node.chain import Chain
from gongshi.node.genesis import genesis_hash
from gongshi.node.overlay import LatestState
from gongshi.node.wire import Status
from gongshi.storage import Ledger, LedgerConfig

PLAN = plan_network(
    NetworkOptions(organisations=4, suite="intl"), now=datetime(2030, 1, 1, tzinfo=UTC)
)
SUITE = get_suite("intl")
BLOCKS = 9


def key(path: str):  # type: ignore[no-untyped-def]
    pem = next(f.content for f in PLAN.files if f.path == PurePosixPath(path))
    return SUITE.load_private_key_pem(pem)


def open_chain(directory: Path) -> Chain:
    ledger = Ledger.open(
        directory, SUITE, LedgerConfig(genesis_parent_hash=genesis_hash(PLAN.genesis))
    )
    return Chain(ledger=ledger, genesis=PLAN.genesis, suite=SUITE, parallel=ParallelMap())


def fill(chain: Chain) -> None:
    """Commit BLOCKS blocks of notarizations, each with a quorum's finality certificate."""
    client = key("orgs/org1/client/client.key")
    validators = [key(f"nodes/node{i}/node.key") for i in (1, 2, 3)]
    chain_id = PLAN.genesis.params.chain_id
    for height in range(1, BLOCKS + 1):
        tx = Transaction(
            chain_id=chain_id,
            nonce=height - 1,
            sender=client.public_key_bytes(),
            target="notary",
            method="register",
            args={"doc_hash": hashlib.sha256(b"%d" % height).digest(), "metadata": {}},
            gas_limit=200_000,
            expiry_height=1000,
        ).sign(client)
        built = chain.build(
            height=height,
            parent_hash=chain.ledger.head_hash,
            round_number=height,
            proposer=validators[0].public_key_bytes(),
            timestamp_ms=PLAN.genesis.genesis_time_ms + height,
            candidates=[PreparedTransaction.from_transaction(tx, SUITE)],
        )
        block_hash = built.consensus_block.block_hash
        message = vote_bytes(chain_id.encode(), 0, Phase.COMMIT, height, height, block_hash)
        signatures = {i: v.sign(message) for i, v in enumerate(validators)}
        chain.commit(block_hash, build_qc(Phase.COMMIT, height, height, block_hash, signatures))


def test_a_lagging_node_syncs_verifies_and_reroots(tmp_path: Path) -> None:
    source, target = open_chain(tmp_path / "source"), open_chain(tmp_path / "target")
    fill(source)
    worker = ThreadPoolExecutor(max_workers=1)
    peer = b"s" * 32
    reroots: list[CommittedRoot] = []
    committed: list[int] = []
    serves: set[asyncio.Future[None]] = set()

    async def scenario() -> None:
        mempool = Mempool(
            config=MempoolConfig.from_params(PLAN.genesis.params),
            suite=SUITE,
            nonces=target.ledger,
            identities=StateIdentityReader(LatestState(target.ledger), SUITE),
            head=ChainHead(height=0, timestamp_ms=PLAN.genesis.genesis_time_ms),
        )
        app = NodeApplication(
            chain=target,
            mempool=mempool,
            worker=worker,
            fetch=lambda proposer, hashes: asyncio.ensure_future(asyncio.sleep(0, [])),
            proposer_key=b"",
            block_interval_ms=0,
        )
        app.add_commit_listener(lambda executed, _: committed.append(executed.height))
        serving = BlockSync(
            app=app,  # only its chain matters for serving: use the source's below
            send=lambda p, kind, body: True,
            broadcast=lambda kind, body: 0,
            engine_height=lambda: 0,
            reroot=lambda root: None,
        )
        serving._chain = source

        def send(to: bytes, kind: MessageKind, body: bytes) -> bool:
            assert to == peer and kind is MessageKind.SYNC_REQUEST

            def reply(_to: bytes, reply_kind: MessageKind, reply_body: bytes) -> bool:
                assert reply_kind is MessageKind.SYNC_RESPONSE
                asyncio.get_running_loop().call_soon(syncing.response_received, peer, reply_body)
                return True

            serving._send = reply
            serves.add(asyncio.ensure_future(serving.serve(to, body)))
            return True

        syncing = BlockSync(
            app=app,
            send=send,
            broadcast=lambda kind, body: 0,
            engine_height=lambda: 0,
            reroot=reroots.append,
            options=SyncOptions(batch_blocks=4, lag_blocks=0),
        )
        runner = asyncio.ensure_future(syncing.run())
        status = Status(committed_height=BLOCKS, head_hash=source.ledger.head_hash)
        syncing.status_received(peer, status.encode())
        async with asyncio.timeout(20):
            # The reroot follows the batch's commits: wait for it too, not just the height.
            while not reroots or reroots[-1].block.height < BLOCKS:
                await asyncio.sleep(0.01)
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)

    try:
        asyncio.run(scenario())
    finally:
        worker.shutdown()
        for chain in (source, target):
            chain.ledger.close()
    assert committed == list(range(1, BLOCKS + 1))
    assert [root.block.height for root in reroots] == [4, 8, 9]  # after each batch of 4
    assert reroots[-1].justify.qc.block_hash == reroots[-1].block.block_hash
