"""Parallel signature verification, and determinism across processes."""

from __future__ import annotations

import dataclasses
import itertools
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gongshi.crypto import Suite
from gongshi.execution import (
    ParallelMap,
    PreparedTransaction,
    first_invalid_signature,
    require_valid_signatures,
    verify_signatures,
)
from gongshi.execution.errors import BadTransactionSignature
from gongshi.execution.parallel import CHUNKS_PER_WORKER, PARALLEL_BATCH_MIN, chunk_bounds

from .conftest import key_of, notarize  # type: ignore[import-not-found]


def _batch(suite: Suite, count: int) -> list[PreparedTransaction]:
    keys = [key_of(suite, f"signer{i}") for i in range(3)]
    return [
        PreparedTransaction.from_transaction(notarize(keys[i % 3], i // 3, b"doc%d" % i), suite)
        for i in range(count)
    ]


def _tamper(prepared: PreparedTransaction) -> PreparedTransaction:
    forged = dataclasses.replace(prepared.tx, nonce=prepared.tx.nonce + 1000)
    return dataclasses.replace(prepared, tx=forged)


@pytest.mark.parametrize("workers", [1, 2])
def test_parallel_verification_reports_the_first_invalid(any_suite: Suite, workers: int) -> None:
    batch = _batch(any_suite, 40)
    with ThreadPoolExecutor(max_workers=workers) as executor:
        parallel = ParallelMap(executor=executor, workers=workers)
        assert verify_signatures(batch, any_suite, parallel) == [True] * 40
        assert first_invalid_signature(batch, any_suite, parallel) is None
        require_valid_signatures(batch, any_suite, parallel)
        batch[33] = _tamper(batch[33])
        batch[17] = _tamper(batch[17])
        results = verify_signatures(batch, any_suite, parallel)
        assert [i for i, ok in enumerate(results) if not ok] == [17, 33]
        assert first_invalid_signature(batch, any_suite, parallel) == 17
        with pytest.raises(BadTransactionSignature) as raised:
            require_valid_signatures(batch, any_suite, parallel)
        assert raised.value.index == 17


def test_unsigned_transaction_is_invalid(any_suite: Suite) -> None:
    prepared = _batch(any_suite, 1)[0]
    unsigned = dataclasses.replace(prepared, tx=dataclasses.replace(prepared.tx, signature=b""))
    assert first_invalid_signature([unsigned], any_suite, ParallelMap()) == 0


_SCRIPT = textwrap.dedent(
    """
    import hashlib, sys
    sys.path.insert(0, sys.argv[1])
    from conftest import Chain, notarize, signed
    from gongshi.codec import encode
    from gongshi.crypto import get_suite

    chain = Chain(suite=get_suite("intl"))
    keys = [chain.key(name) for name in ("alice", "bob", "carol")]
    chain.commit([notarize(keys[0], 0, b"first")])
    txs = [notarize(keys[i % 3], i // 3 + (i % 3 == 0), b"doc%d" % (i % 5)) for i in range(30)]
    txs.append(signed(keys[1], 10, "notary", "list", {"owner": keys[0].address()}))
    result = chain.execute(txs)
    digest = hashlib.sha256()
    for receipt in result.receipts:
        digest.update(encode(receipt))
    for key, value in result.state_writes.items():
        digest.update(key + b"=" + (value or b"-"))
    print(digest.hexdigest())
    """
)


def test_same_result_under_different_hash_seeds(tmp_path: Path) -> None:
    """Execution must not depend on set or dict-of-str iteration order (PYTHONHASHSEED)."""
    script = tmp_path / "run_block.py"
    script.write_text(_SCRIPT)
    here = str(Path(__file__).parent)
    digests = set()
    for seed in ("1", "2", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        output = subprocess.run(
            [sys.executable, str(script), here], env=env, capture_output=True, text=True, check=True
        )
        digests.add(output.stdout.strip())
    assert len(digests) == 1 and len(next(iter(digests))) == 64


@given(st.integers(1, 5_000), st.integers(1, 8))
def test_chunks_cover_the_batch_in_order_with_few_hand_offs(count: int, workers: int) -> None:
    bounds = chunk_bounds(count, workers)
    assert bounds[0][0] == 0 and bounds[-1][1] == count
    assert all(end == start for (_, end), (start, _) in itertools.pairwise(bounds))
    assert 1 <= len(bounds) <= workers * CHUNKS_PER_WORKER
    sizes = [end - start for start, end in bounds]
    assert max(sizes) - min(sizes) <= 1
    if len(bounds) > 1:  # never split into chunks smaller than the fan-out threshold
        assert min(sizes) >= PARALLEL_BATCH_MIN
