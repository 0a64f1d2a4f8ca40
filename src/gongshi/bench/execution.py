"""`gongshi bench execution`: what one node's execution thread pays per transaction.

Builds blocks of pre-signed `notary.register` transactions on one ledger (the proposer's path:
`Chain.build`), re-executes each on a second ledger (a validator's path:
`Chain.validate_block`) and commits both two blocks later, as the two-chain rule does, and
reports the CPU time of each stage per transaction. No network, no consensus, no signature
checks (admission did those before a block is built): this is the part of a node's work that
runs on its single execution thread, and so bounds what one node can commit per second.

Signing happens before anything is measured. Wall-clock and thread-CPU reads are fine here:
a measuring tool at the edge.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import click

from gongshi.bench.options import json_option, suite_option, write_json
from gongshi.cli.init_network import NetworkOptions, NetworkPlan, plan_network
from gongshi.codec import Transaction
from gongshi.codec.qc import QuorumCertificate
from gongshi.consensus.quorum import build_qc
from gongshi.consensus.signing import vote_bytes
from gongshi.consensus.types import Phase
from gongshi.crypto import PrivateKey, Suite, get_suite
from gongshi.execution import ParallelMap, PreparedTransaction
from gongshi.node.chain import Chain
from gongshi.node.genesis import genesis_hash
from gongshi.node.wire import ProposalPayload
from gongshi.storage import Ledger, LedgerConfig

GENESIS_TIME = datetime(2030, 1, 1, tzinfo=UTC)
GAS_LIMIT = 40_000
COMMIT_FOLLOWERS = 2  # a block commits once two more extend it
ORGANISATIONS = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionBenchResult:
    """Per-transaction CPU time (µs) of each stage, one thread; rates per CPU second."""

    suite: str
    blocks: int
    txs_per_block: int
    senders: int
    build_us_per_tx: float
    validate_us_per_tx: float
    commit_us_per_tx: float
    commit_wall_ms_median: float
    # A validator's execution thread: validate + commit of every transaction.
    validator_txs_per_cpu_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class _Network:
    plan: NetworkPlan
    clients: tuple[PrivateKey, ...]
    validators: tuple[PrivateKey, ...]


def _network(suite: Suite, senders: int) -> _Network:
    """An in-memory network of four organisations with at least `senders` client keys."""
    # Each organisation has its default client; the rest are extra (as `bench chain` counts).
    extra_clients = math.ceil(senders / ORGANISATIONS) - 1
    plan = plan_network(
        NetworkOptions(organisations=ORGANISATIONS, suite=suite.name, extra_clients=extra_clients),
        now=GENESIS_TIME,
    )
    files = {output.path: output.content for output in plan.files}
    clients = [
        suite.load_private_key_pem(content)
        for path, content in files.items()
        if path.parent.name in ("client", "clients") and path.name.startswith("client")
        if path.suffix == ".key" and not path.stem.endswith("-tls")
    ]
    validators = [
        suite.load_private_key_pem(files[PurePosixPath(f"nodes/node{i}/node.key")])
        for i in range(1, ORGANISATIONS + 1)
    ]
    return _Network(plan=plan, clients=tuple(clients[:senders]), validators=tuple(validators))


def _sign_blocks(
    network: _Network, suite: Suite, blocks: int, txs_per_block: int
) -> list[list[PreparedTransaction]]:
    """Pre-signed, prepared registrations, round-robin over the senders, nonces in order."""
    chain_id = network.plan.genesis.params.chain_id
    clients = network.clients
    nonces = [0] * len(clients)
    signed: list[list[PreparedTransaction]] = []
    for block in range(blocks):
        batch = []
        for index in range(txs_per_block):
            sender = index % len(clients)
            tx = Transaction(
                chain_id=chain_id,
                nonce=nonces[sender],
                sender=clients[sender].public_key_bytes(),
                target="notary",
                method="register",
                args={
                    "doc_hash": hashlib.sha256(b"%d/%d" % (block, index)).digest(),
                    "metadata": {"n": index},
                },
                gas_limit=GAS_LIMIT,
                expiry_height=blocks + 1_000,
            ).sign(clients[sender])
            nonces[sender] += 1
            batch.append(PreparedTransaction.from_transaction(tx, suite))
        signed.append(batch)
    return signed


def _certificate(network: _Network, height: int, block_hash: bytes) -> QuorumCertificate:
    chain_id = network.plan.genesis.params.chain_id.encode()
    message = vote_bytes(chain_id, 0, Phase.COMMIT, height, height, block_hash)
    quorum = network.validators[: 2 * ORGANISATIONS // 3 + 1]
    signatures = {index: key.sign(message) for index, key in enumerate(quorum)}
    return build_qc(Phase.COMMIT, height, height, block_hash, signatures)


class _Stopwatch:
    """Thread CPU seconds per stage, and the wall time of each measured call."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = {}
        self.walls: dict[str, list[float]] = {}

    @contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        cpu, wall = time.thread_time(), time.perf_counter()
        yield
        self.cpu[stage] = self.cpu.get(stage, 0.0) + time.thread_time() - cpu
        self.walls.setdefault(stage, []).append(time.perf_counter() - wall)


def run_execution_bench(
    *, suite: Suite, directory: Path, blocks: int, txs_per_block: int, senders: int
) -> ExecutionBenchResult:
    """Build, validate and commit `blocks` blocks on two new ledgers under `directory`."""
    network = _network(suite, senders)
    signed = _sign_blocks(network, suite, blocks, txs_per_block)
    config = LedgerConfig(genesis_parent_hash=genesis_hash(network.plan.genesis))
    chains = [
        Chain(
            ledger=Ledger.open(directory / name, suite, config),
            genesis=network.plan.genesis,
            suite=suite,
            parallel=ParallelMap(),
        )
        for name in ("proposer", "validator")
    ]
    proposer, validator = chains
    proposer_key = network.validators[0].public_key_bytes()
    base_ms = network.plan.genesis.genesis_time_ms + 1_000
    watch = _Stopwatch()
    uncommitted: list[tuple[int, bytes]] = []
    parent = proposer.ledger.head_hash
    try:
        for height, batch in enumerate(signed, start=1):
            with watch.measure("build"):
                built = proposer.build(
                    height=height,
                    parent_hash=parent,
                    round_number=height,
                    proposer=proposer_key,
                    timestamp_ms=base_ms + height,
                    candidates=batch,
                )
            if len(built.executed.prepared) != len(batch):
                raise click.ClickException(
                    f"block {height} took {len(built.executed.prepared)} of {len(batch)} "
                    "transactions: lower --txs"
                )
            block = built.consensus_block
            payload = ProposalPayload.decode(block.payload)
            with watch.measure("validate"):
                valid = validator.validate(block, payload, list(built.executed.prepared))
            if not valid:
                raise click.ClickException(f"the validator rejected block {height}")
            parent = block.block_hash
            uncommitted.append((height, parent))
            if len(uncommitted) > COMMIT_FOLLOWERS:
                committed_height, block_hash = uncommitted.pop(0)
                certificate = _certificate(network, committed_height, block_hash)
                for chain in chains:
                    with watch.measure("commit"):
                        chain.commit(block_hash, certificate)
    finally:
        for chain in chains:
            chain.ledger.close()
    built_txs = blocks * txs_per_block
    committed_txs = max(blocks - COMMIT_FOLLOWERS, 0) * txs_per_block
    build_us = 1e6 * watch.cpu["build"] / built_txs
    validate_us = 1e6 * watch.cpu["validate"] / built_txs
    # Both ledgers commit every block: one node's share is half.
    commit_us = 1e6 * watch.cpu["commit"] / len(chains) / committed_txs
    commit_walls = sorted(watch.walls["commit"])
    return ExecutionBenchResult(
        suite=suite.name,
        blocks=blocks,
        txs_per_block=txs_per_block,
        senders=len(network.clients),
        build_us_per_tx=build_us,
        validate_us_per_tx=validate_us,
        commit_us_per_tx=commit_us,
        commit_wall_ms_median=1e3 * commit_walls[len(commit_walls) // 2],
        validator_txs_per_cpu_s=1e6 / max(validate_us + commit_us, 1e-9),
    )


def render(result: ExecutionBenchResult) -> str:
    r = result
    return "\n".join(
        [
            f"execution benchmark: suite {r.suite}, {r.blocks} blocks of {r.txs_per_block:,} "
            f"notary.register transactions from {r.senders} senders, one thread",
            f"  build (proposer)     {r.build_us_per_tx:>9,.1f} µs CPU per transaction",
            f"  validate (replica)   {r.validate_us_per_tx:>9,.1f} µs CPU per transaction",
            f"  commit               {r.commit_us_per_tx:>9,.1f} µs CPU per transaction  "
            f"({r.commit_wall_ms_median:,.1f} ms per block, median wall time, synced)",
            f"  validator thread     {r.validator_txs_per_cpu_s:>9,.0f} tx per CPU second "
            "(validate + commit)",
        ]
    )


@click.command("execution")
@click.option(
    "--blocks", type=click.IntRange(min=COMMIT_FOLLOWERS + 1), default=30, show_default=True
)
@click.option("--txs", type=click.IntRange(min=1, max=5_000), default=300, show_default=True)
@click.option(
    "--senders",
    type=click.IntRange(min=1, max=256),
    default=64,
    show_default=True,
    help="Distinct client keys the transactions come from.",
)
@suite_option(default="intl", allow_all=False)
@json_option
def execution_command(
    blocks: int, txs: int, senders: int, suite_choice: str, json_path: Path | None
) -> None:
    """Build, validate and commit blocks of notarizations: CPU per transaction per stage."""
    suite = get_suite(suite_choice)
    with tempfile.TemporaryDirectory(prefix="gongshi-bench-execution-") as temporary:
        result = run_execution_bench(
            suite=suite,
            directory=Path(temporary),
            blocks=blocks,
            txs_per_block=txs,
            senders=senders,
        )
    click.echo(render(result))
    write_json(json_path, dataclasses.asdict(result))
