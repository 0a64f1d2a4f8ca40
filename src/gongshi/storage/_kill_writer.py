"""Writer process of the crash test: commits synthetic blocks until it is killed.

    python -m gongshi.storage._kill_writer PATH --seed S [--txs N] [--retention K]

Prints `ready <committed height or -1>` once the ledger is open, then `committed <h>` after
each commit returns (so h is durable: a reopened ledger must be at h or later). The chain is
`gongshi.storage.synthetic` with the given seed, so the checker can rebuild every block.
Test scaffolding, kept in the package so `python -m` finds it without path tricks.
"""

from __future__ import annotations

import argparse
import sys

from gongshi.crypto import get_suite
from gongshi.storage.ledger import Ledger, LedgerConfig
from gongshi.storage.synthetic import ChainShape, build_block

SUITE_NAME = "intl"


def writer_config(retention: int | None) -> LedgerConfig:
    return LedgerConfig(state_retention_blocks=retention, prune_versions_per_pass=4)


def writer_shape(txs: int) -> ChainShape:
    return ChainShape(
        txs_per_block=txs,
        writes_per_tx=2,
        key_space=50,
        delete_every=5,
        large_block_every=4,
        large_block_txs=txs * 25,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--txs", type=int, default=30)
    parser.add_argument("--retention", type=int, default=None)
    parser.add_argument("--blocks-max", type=int, default=100_000)
    arguments = parser.parse_args(argv)
    suite = get_suite(SUITE_NAME)
    shape = writer_shape(arguments.txs)
    with Ledger.open(arguments.path, suite, writer_config(arguments.retention)) as ledger:
        height = ledger.committed_height
        print(f"ready {-1 if height is None else height}", flush=True)
        for _ in range(arguments.blocks_max):
            made = build_block(ledger, arguments.seed, shape, suite=suite)
            ledger.commit_block(made.block, made.receipts, made.state_writes, made.certificate)
            print(f"committed {made.block.header.height}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
