"""A damaged database makes the ledger refuse to open, naming the height; nothing is repaired."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gongshi.codec import encode
from gongshi.crypto import get_suite
from gongshi.errors import IntegrityError
from gongshi.merkle.state_nodes import root_node_key
from gongshi.storage.errors import LedgerIntegrityError
from gongshi.storage.ledger import Ledger
from gongshi.storage.memory import MemoryStore
from gongshi.storage.rocks import RocksStore
from gongshi.storage.schema import (
    KeySpace,
    MetaKey,
    encode_u64,
    height_key,
    position_key,
    state_value_key,
)
from gongshi.storage.synthetic import ChainShape, SyntheticBlock, build_block

SUITE = get_suite("intl")
SHAPE = ChainShape(txs_per_block=4)
HEAD = 2


def build_chain(path: Path) -> list[SyntheticBlock]:
    made = []
    with Ledger.open(path, SUITE) as ledger:
        for _ in range(HEAD + 1):
            item = build_block(ledger, 3, SHAPE, suite=SUITE)
            ledger.commit_block(item.block, item.receipts, item.state_writes, item.certificate)
            made.append(item)
    return made


def tamper(path: Path, change: Callable[[RocksStore], None]) -> None:
    store = RocksStore(path)
    change(store)
    store.close()


def put(space: KeySpace, key: bytes, value: bytes) -> Callable[[RocksStore], None]:
    def change(store: RocksStore) -> None:
        batch = store.new_batch()
        batch.put(space, key, value)
        store.write(batch)

    return change


def delete(space: KeySpace, key: bytes) -> Callable[[RocksStore], None]:
    def change(store: RocksStore) -> None:
        batch = store.new_batch()
        batch.delete(space, key)
        store.write(batch)

    return change


def test_intact_database_reopens_and_passes_the_deep_check(tmp_path: Path) -> None:
    made = build_chain(tmp_path / "db")
    with Ledger.open(tmp_path / "db", SUITE) as ledger:
        assert ledger.committed_height == HEAD
        assert ledger.head_hash == made[-1].block.hash(SUITE)
        ledger.check_integrity()


def _other_tx(made: list[SyntheticBlock]) -> bytes:
    return encode(made[0].block.transactions[0])


CASES: dict[
    str, tuple[Callable[[list[SyntheticBlock]], Callable[[RocksStore], None]], int, str]
] = {
    "swapped transaction": (
        lambda made: put(KeySpace.TXS, position_key(HEAD, 1), _other_tx(made)),
        HEAD,
        "tx root",
    ),
    "missing receipt": (
        lambda made: delete(KeySpace.RECEIPTS, position_key(HEAD, 3)),
        HEAD,
        "receipt",
    ),
    "garbage header": (
        lambda made: put(KeySpace.HEADERS, height_key(HEAD), b"\xa1garbage"),
        HEAD,
        "does not decode",
    ),
    "missing header": (
        lambda made: delete(KeySpace.HEADERS, height_key(HEAD)),
        HEAD,
        "no committed block",
    ),
    "missing state root node": (
        lambda made: delete(KeySpace.STATE_NODES, root_node_key(HEAD)),
        HEAD,
        "state tree",
    ),
    "state root node of another version": (
        lambda made: put(KeySpace.STATE_NODES, root_node_key(HEAD), b"\x00"),
        HEAD,
        "state root",
    ),
    "data of the next height": (
        lambda made: put(KeySpace.RECEIPTS, position_key(HEAD + 1, 0), b"x"),
        HEAD,
        "above the committed height",
    ),
    "tree nodes of the next version": (
        lambda made: put(KeySpace.STATE_NODES, root_node_key(HEAD + 1), b"\x00"),
        HEAD,
        "version 3",
    ),
    "committed height moved back": (
        lambda made: put(KeySpace.META, MetaKey.COMMITTED_HEIGHT, encode_u64(HEAD - 1)),
        HEAD - 1,
        "above the committed height",
    ),
    "broken parent link": (
        lambda made: put(KeySpace.HEADERS, height_key(HEAD - 1), _encoded_header(made, 0)),
        HEAD,
        "parent hash",
    ),
    "missing certificate": (
        lambda made: delete(KeySpace.CERTIFICATES, height_key(HEAD)),
        HEAD,
        "certificate",
    ),
}


def _encoded_header(made: list[SyntheticBlock], height: int) -> bytes:
    return encode(made[height].block.header)


@pytest.mark.parametrize("case", sorted(CASES))
def test_damage_at_the_head_refuses_open_naming_the_height(tmp_path: Path, case: str) -> None:
    path = tmp_path / "db"
    made = build_chain(path)
    change, height, reason = CASES[case]
    tamper(path, change(made))
    with pytest.raises(LedgerIntegrityError) as raised:
        Ledger.open(path, SUITE)
    assert raised.value.height == height
    assert f"at height {height}" in str(raised.value)
    assert reason in str(raised.value)
    assert isinstance(raised.value, IntegrityError)
    # The refusal left the database closed and untouched: it fails the same way again.
    with pytest.raises(LedgerIntegrityError):
        Ledger.open(path, SUITE)


@pytest.mark.parametrize(
    ("space", "key_of", "height"),
    [
        (KeySpace.TXS, lambda: position_key(0, 2), 0),
        (KeySpace.TX_INDEX, None, 1),
        (KeySpace.STATE_VALUES, None, HEAD),
    ],
)
def test_damage_below_the_head_is_found_by_the_deep_check(
    tmp_path: Path, space: KeySpace, key_of: Callable[[], bytes] | None, height: int
) -> None:
    path = tmp_path / "db"
    made = build_chain(path)
    if space is KeySpace.TXS:
        assert key_of is not None
        change = put(space, key_of(), _other_tx(made))
    elif space is KeySpace.TX_INDEX:
        tx_hash = made[1].block.transactions[0].hash(SUITE)
        change = put(space, tx_hash, position_key(1, 3))
    else:
        raw_key, value = next(
            (key, value)
            for key, value in made[1].state_writes.items()
            if value is not None and key not in made[2].state_writes
        )
        change = put(space, state_value_key(raw_key, 1), b"\x01" + value + b"!")
    tamper(path, change)
    # The head block itself is intact, so the ledger opens.
    with Ledger.open(path, SUITE) as ledger, pytest.raises(LedgerIntegrityError) as raised:
        ledger.check_integrity()
    assert raised.value.height == height


def test_an_empty_ledger_holding_block_data_refuses_open() -> None:
    store = MemoryStore()
    batch = store.new_batch()
    batch.put(KeySpace.HEADERS, height_key(0), b"x")
    store.write(batch)
    with pytest.raises(LedgerIntegrityError, match="HEADERS"):
        Ledger(store, SUITE)
