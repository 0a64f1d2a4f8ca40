"""`gongshi bench mempool`: admission throughput with one thread and with a thread pool.

Admission is decode + hash + signature verification + the pool's bookkeeping; the signature
is most of the cost, and both suites' verification releases the GIL, so a pool of threads
should scale it. Transactions are signed before the clock starts: only admission is timed.
Wall-clock reads are fine here: this is a measuring tool at the edge.
"""

from __future__ import annotations

import dataclasses
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import click

from gongshi.bench.options import json_option, rounds_option, suite_option, write_json
from gongshi.codec import Transaction, decode, encode
from gongshi.crypto import SUITE_NAMES, Suite, get_suite
from gongshi.execution import MemberDirectory, MemberIdentity, MemoryNonces, ParallelMap
from gongshi.mempool import Admitted, ChainHead, Mempool, MempoolConfig
from gongshi.pki.roles import Role

CHAIN_ID = "bench-mempool"
SENDERS = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class AdmissionFigures:
    suite: str
    transactions: int
    batch: int
    threads: int
    serial_per_s: float
    parallel_per_s: float
    verify_only_per_s: float  # the suite's single-thread verify rate, for comparison

    @property
    def speedup(self) -> float:
        return self.parallel_per_s / self.serial_per_s if self.serial_per_s else 0.0


def _signed_batch(suite: Suite, count: int) -> tuple[list[bytes], MemberDirectory]:
    keys = [suite.derive_private_key(b"bench-sender-%03d" % i + b"." * 16) for i in range(SENDERS)]
    members = MemberDirectory(
        MemberIdentity(
            organisation="bench",
            role=Role.CLIENT,
            public_key=key.public_key_bytes(),
            address=key.address(),
            serial=index + 1,
            not_before_ms=0,
            not_after_ms=2**62,
            registered_height=0,
        )
        for index, key in enumerate(keys)
    )
    raws = []
    for index in range(count):
        key = keys[index % SENDERS]
        tx = Transaction(
            chain_id=CHAIN_ID,
            nonce=index // SENDERS,
            sender=key.public_key_bytes(),
            target="notary",
            method="register",
            args={"doc_hash": index.to_bytes(32, "big"), "metadata": {"n": index}},
            gas_limit=100_000,
            expiry_height=1_000_000,
        )
        raws.append(encode(tx.sign(key)))
    return raws, members


def _admission_rate(
    suite: Suite, raws: list[bytes], members: MemberDirectory, batch: int, threads: int
) -> float:
    config = MempoolConfig(
        chain_id=CHAIN_ID, nonce_window=len(raws) // SENDERS + 1, txs_max=len(raws) + 1
    )
    with ThreadPoolExecutor(max_workers=threads) as executor:
        pool = Mempool(
            config=config,
            suite=suite,
            nonces=MemoryNonces(),
            identities=members,
            head=ChainHead(height=0, timestamp_ms=1),
            parallel=ParallelMap(executor=executor, workers=threads),
        )
        start = time.perf_counter()
        for offset in range(0, len(raws), batch):
            results = pool.admit_batch(raws[offset : offset + batch])
            if not all(isinstance(result, Admitted) for result in results):
                raise click.ClickException(f"bench transaction refused: {results}")
        elapsed = time.perf_counter() - start
    return len(raws) / elapsed


def _verify_rate(suite: Suite, raws: list[bytes]) -> float:
    sample = [decode(Transaction, raw) for raw in raws[:200]]
    signed = [(tx.sender, tx.signing_bytes(), tx.signature) for tx in sample]
    start = time.perf_counter()
    for sender, message, signature in signed:
        suite.verify(sender, message, signature)
    return len(signed) / (time.perf_counter() - start)


def measure_admission(
    suite: Suite, count: int, batch: int, threads: int, rounds: int = 3
) -> AdmissionFigures:
    """Best of `rounds` for each figure: on a shared machine the best run is the one least
    disturbed by other work."""
    raws, members = _signed_batch(suite, count)
    _admission_rate(suite, raws[: min(200, count)], members, batch, 1)  # warm-up
    serial = parallel = verify = 0.0
    for _ in range(rounds):  # interleaved, so a busy spell hurts both alike
        serial = max(serial, _admission_rate(suite, raws, members, batch, 1))
        parallel = max(parallel, _admission_rate(suite, raws, members, batch, threads))
        verify = max(verify, _verify_rate(suite, raws))
    return AdmissionFigures(
        suite=suite.name,
        transactions=count,
        batch=batch,
        threads=threads,
        serial_per_s=serial,
        parallel_per_s=parallel,
        verify_only_per_s=verify,
    )


def render(figures: list[AdmissionFigures]) -> str:
    lines = [f"mempool admission benchmark ({os.cpu_count() or 1} CPUs seen)"]
    for item in figures:
        lines += [
            "",
            f"suite {item.suite}: {item.transactions} transactions, batches of {item.batch}",
            f"  verify only, 1 thread     {item.verify_only_per_s:10,.0f} /s",
            f"  admission, 1 thread       {item.serial_per_s:10,.0f} tx/s",
            f"  admission, {item.threads} threads"
            f"{item.parallel_per_s:{16 - len(str(item.threads))},.0f} tx/s  "
            f"({item.speedup:.2f}x)",
        ]
    return "\n".join(lines)


@click.command("mempool")
@suite_option(default="all", allow_all=True)
@click.option(
    "--count",
    type=click.IntRange(min=SENDERS, max=1_000_000),
    default=4000,
    show_default=True,
    help="Transactions admitted per measurement.",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1, max=4096),
    default=256,
    show_default=True,
    help="Transactions per admit_batch call.",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1, max=256),
    default=None,
    help="Threads of the parallel measurement (default: CPU count, at least 2).",
)
@rounds_option
@json_option
def mempool_command(
    suite_choice: str,
    count: int,
    batch: int,
    threads: int | None,
    rounds: int,
    json_path: Path | None,
) -> None:
    """Admission throughput (decode, verify, pool) with 1 thread and with N threads."""
    names = SUITE_NAMES if suite_choice == "all" else (suite_choice,)
    workers = threads or max(2, os.cpu_count() or 1)
    figures = [measure_admission(get_suite(name), count, batch, workers, rounds) for name in names]
    click.echo(render(figures))
    write_json(
        json_path, [{**dataclasses.asdict(item), "speedup": item.speedup} for item in figures]
    )
