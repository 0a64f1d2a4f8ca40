"""`gongshi bench storage`: what committing blocks costs on this machine's disk.

Commits synthetic blocks (`gongshi.storage.synthetic`: N transactions, W state writes each,
real roots, placeholder signatures since storage never verifies them) to a RocksDB ledger and
reports, per the Ledger issue:
- authenticated state writes per second: the state tree's `apply` over the block's writes,
  root included (what the proposer and every replica pay to get the header's state root);
- block commit latency: `commit_block` (roots recomputed, encodings, indexes, tree nodes,
  one synced write batch), given the state root the proposer already computed;
- bytes on disk per transaction (after flushing memtables);
- state and transaction proof generation and verification per second.
Wall-clock reads are fine here: a measuring tool at the edge, not deterministic code.
"""

from __future__ import annotations

import dataclasses
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import click

from gongshi.bench.options import json_option, suite_option, write_json
from gongshi.crypto import Suite, get_suite
from gongshi.merkle.rfc6962 import hash_leaf, verify_inclusion
from gongshi.merkle.state_tree import verify_state_proof
from gongshi.storage.ledger import Ledger
from gongshi.storage.rocks import RocksStore
from gongshi.storage.schema import state_key
from gongshi.storage.synthetic import ChainShape, block_content, make_block

PROOF_SAMPLES = 2000
PREFILL_CHUNK = 100_000
# Effectively unbounded key space: nearly every benchmark write inserts a new key, the
# costlier case for the tree (a new leaf, often a new internal node).
BENCH_KEY_SPACE = 1 << 40


@dataclass(frozen=True, slots=True, kw_only=True)
class StorageBenchResult:
    """Figures of one run; times in milliseconds, rates per second, one thread."""

    suite: str
    blocks: int
    txs_per_block: int
    state_writes_per_block: int
    prefill_keys: int
    state_keys_at_end: int
    state_writes_per_s: float
    state_writes_per_cpu_s: float  # the same over this thread's CPU time
    state_root_ms_median: float
    commit_ms_median: float
    commit_ms_max: float
    commit_cpu_ms_median: float
    build_ms_median: float  # synthetic block construction, for reference only
    commit_and_root_txs_per_s: float
    bytes_on_disk_per_tx: float
    state_proofs_per_s: float
    state_proof_verifications_per_s: float
    state_proof_bytes_mean: float
    tx_proofs_per_s: float
    tx_proof_verifications_per_s: float


def _prefill(ledger: Ledger, suite: Suite, keys: int) -> None:
    """Commit blocks without transactions holding `keys` state keys, in chunks."""
    for start in range(0, keys, PREFILL_CHUNK):
        writes: dict[bytes, bytes | None] = {
            state_key("prefill", index.to_bytes(8, "big")): index.to_bytes(32, "big")
            for index in range(start, min(start + PREFILL_CHUNK, keys))
        }
        made = make_block(ledger, suite, (), (), writes)
        ledger.commit_block(made.block, made.receipts, made.state_writes, made.certificate)


@dataclass
class _Timings:
    """Per-block seconds: wall clock, and CPU of this thread (robust on a shared machine)."""

    build: list[float] = dataclasses.field(default_factory=list)
    root: list[float] = dataclasses.field(default_factory=list)
    root_cpu: list[float] = dataclasses.field(default_factory=list)
    commit: list[float] = dataclasses.field(default_factory=list)
    commit_cpu: list[float] = dataclasses.field(default_factory=list)


def _commit_blocks(
    ledger: Ledger, suite: Suite, shape: ChainShape, blocks: int
) -> tuple[_Timings, list[bytes], dict[bytes, bytes | None]]:
    """Commit `blocks` synthetic blocks, timing the state root and the commit of each."""
    timings = _Timings()
    tx_hashes: list[bytes] = []
    writes: dict[bytes, bytes | None] = {}
    clock, cpu = time.perf_counter, time.thread_time
    for _ in range(blocks):
        started = clock()
        height = 0 if ledger.committed_height is None else ledger.committed_height + 1
        transactions, receipts, writes = block_content(suite, 1, height, shape)
        built, built_cpu = clock(), cpu()
        ledger.compute_state_root(height, writes)
        rooted, rooted_cpu = clock(), cpu()
        made = make_block(ledger, suite, transactions, receipts, writes)  # reuses the root
        made_at, made_cpu = clock(), cpu()
        ledger.commit_block(made.block, made.receipts, made.state_writes, made.certificate)
        committed, committed_cpu = clock(), cpu()
        timings.build.append((built - started) + (made_at - rooted))
        timings.root.append(rooted - built)
        timings.root_cpu.append(rooted_cpu - built_cpu)
        timings.commit.append(committed - made_at)
        timings.commit_cpu.append(committed_cpu - made_cpu)
        tx_hashes = [tx.hash(suite) for tx in transactions]
    return timings, tx_hashes, writes


def _measure_proofs(
    ledger: Ledger, suite: Suite, keys: list[bytes], tx_hashes: list[bytes]
) -> tuple[float, float, float, float, float]:
    started = time.perf_counter()
    reads = [ledger.get_state_raw(key) for key in keys]
    generated = time.perf_counter()
    for read in reads:
        verify_state_proof(suite.hash, read.state_root, read.key, read.value, read.proof)
    verified = time.perf_counter()
    proof_bytes = statistics.fmean(len(read.proof.encode()) for read in reads) if reads else 0.0
    tx_started = time.perf_counter()
    found = [ledger.get_transaction(tx_hash) for tx_hash in tx_hashes]
    tx_generated = time.perf_counter()
    for item in found:
        leaf = hash_leaf(suite.hash, item.tx_hash)
        verify_inclusion(suite.hash, leaf_hash=leaf, proof=item.proof, root=item.tx_root)
    tx_verified = time.perf_counter()
    return (
        len(reads) / max(generated - started, 1e-9),
        len(reads) / max(verified - generated, 1e-9),
        proof_bytes,
        len(found) / max(tx_generated - tx_started, 1e-9),
        len(found) / max(tx_verified - tx_generated, 1e-9),
    )


def run_storage_bench(
    *,
    suite: Suite,
    directory: Path,
    blocks: int,
    txs_per_block: int,
    writes_per_tx: int = 2,
    prefill_keys: int = 0,
    seed: int = 1,
) -> StorageBenchResult:
    """Commit `blocks` synthetic blocks to a new ledger under `directory` and measure."""
    store = RocksStore(directory / "ledger")
    ledger = Ledger(store, suite)
    try:
        _prefill(ledger, suite, prefill_keys)
        store.flush()
        disk_before = store.disk_usage_bytes()
        shape = ChainShape(
            txs_per_block=txs_per_block,
            writes_per_tx=writes_per_tx,
            key_space=BENCH_KEY_SPACE,
            delete_every=0,
        )
        timings, tx_hashes, last_writes = _commit_blocks(ledger, suite, shape, blocks)
        store.flush()
        disk_after = store.disk_usage_bytes()
        rng = random.Random(seed)
        keys = rng.sample(sorted(last_writes), min(PROOF_SAMPLES, len(last_writes)))
        sampled = rng.sample(tx_hashes, min(PROOF_SAMPLES, len(tx_hashes)))
        proofs = _measure_proofs(ledger, suite, keys, sampled)
    finally:
        ledger.close()
    writes_per_block = txs_per_block * writes_per_tx
    total_txs = blocks * txs_per_block
    return StorageBenchResult(
        suite=suite.name,
        blocks=blocks,
        txs_per_block=txs_per_block,
        state_writes_per_block=writes_per_block,
        prefill_keys=prefill_keys,
        state_keys_at_end=prefill_keys + blocks * writes_per_block,
        state_writes_per_s=blocks * writes_per_block / max(sum(timings.root), 1e-9),
        state_writes_per_cpu_s=blocks * writes_per_block / max(sum(timings.root_cpu), 1e-9),
        state_root_ms_median=statistics.median(timings.root) * 1e3,
        commit_ms_median=statistics.median(timings.commit) * 1e3,
        commit_ms_max=max(timings.commit) * 1e3,
        commit_cpu_ms_median=statistics.median(timings.commit_cpu) * 1e3,
        build_ms_median=statistics.median(timings.build) * 1e3,
        commit_and_root_txs_per_s=total_txs / max(sum(timings.root) + sum(timings.commit), 1e-9),
        bytes_on_disk_per_tx=(disk_after - disk_before) / max(total_txs, 1),
        state_proofs_per_s=proofs[0],
        state_proof_verifications_per_s=proofs[1],
        state_proof_bytes_mean=proofs[2],
        tx_proofs_per_s=proofs[3],
        tx_proof_verifications_per_s=proofs[4],
    )


def render(result: StorageBenchResult) -> str:
    r = result
    return "\n".join(
        [
            f"storage benchmark: suite {r.suite}, {r.blocks} blocks of {r.txs_per_block:,} "
            f"transactions, {r.state_writes_per_block:,} state writes per block, one thread",
            f"  state keys                 {r.prefill_keys:>12,} prefilled, "
            f"{r.state_keys_at_end:,} at the end",
            f"  authenticated state writes {r.state_writes_per_s:>12,.0f} /s  (tree apply incl. "
            f"root; {r.state_root_ms_median:,.0f} ms per block, median; "
            f"{r.state_writes_per_cpu_s:,.0f} /s of thread CPU)",
            f"  block commit latency       {r.commit_ms_median:>12,.0f} ms median, "
            f"{r.commit_ms_max:,.0f} ms max  (one synced batch; "
            f"{r.commit_cpu_ms_median:,.0f} ms thread CPU, median)",
            f"  root + commit throughput   {r.commit_and_root_txs_per_s:>12,.0f} tx/s",
            f"  bytes on disk              {r.bytes_on_disk_per_tx:>12,.0f} per transaction",
            f"  state proofs               {r.state_proofs_per_s:>12,.0f} /s generated, "
            f"{r.state_proof_verifications_per_s:,.0f} /s verified, "
            f"{r.state_proof_bytes_mean:,.0f} bytes mean",
            f"  tx inclusion proofs        {r.tx_proofs_per_s:>12,.0f} /s generated, "
            f"{r.tx_proof_verifications_per_s:,.0f} /s verified",
            f"  (synthetic block building, not storage: {r.build_ms_median:,.0f} ms per block)",
        ]
    )


@click.command("storage")
@click.option("--blocks", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--txs", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("--writes-per-tx", type=click.IntRange(min=0), default=2, show_default=True)
@click.option(
    "--prefill",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="State keys committed before measuring (a larger tree is deeper).",
)
@suite_option(default="gm", allow_all=False)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to create the database (default: a temporary directory, removed after).",
)
@json_option
def storage_command(
    blocks: int,
    txs: int,
    writes_per_tx: int,
    prefill: int,
    suite_choice: str,
    directory: Path | None,
    json_path: Path | None,
) -> None:
    """Commit blocks to a RocksDB ledger and report state, commit, disk and proof figures."""
    suite = get_suite(suite_choice)
    if directory is None:
        with tempfile.TemporaryDirectory(prefix="gongshi-bench-storage-") as temporary:
            result = run_storage_bench(
                suite=suite,
                directory=Path(temporary),
                blocks=blocks,
                txs_per_block=txs,
                writes_per_tx=writes_per_tx,
                prefill_keys=prefill,
            )
    else:
        directory.mkdir(parents=True, exist_ok=True)
        if any(directory.iterdir()):
            raise click.ClickException(f"{directory} is not empty: give a new directory")
        result = run_storage_bench(
            suite=suite,
            directory=directory,
            blocks=blocks,
            txs_per_block=txs,
            writes_per_tx=writes_per_tx,
            prefill_keys=prefill,
        )
    click.echo(render(result))
    write_json(json_path, dataclasses.asdict(result))
