"""Authenticated state through the ledger: determinism, a reference model, and pruning."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from gongshi.crypto import get_suite
from gongshi.errors import ConfigError
from gongshi.merkle.state_tree import verify_state_proof
from gongshi.storage.errors import StateVersionPruned
from gongshi.storage.integrity import recompute_state_root
from gongshi.storage.ledger import Ledger, LedgerConfig
from gongshi.storage.memory import MemoryStore
from gongshi.storage.schema import KeySpace, decode_u64, state_key
from gongshi.storage.synthetic import ChainShape, SyntheticBlock, build_block, make_block

SUITE = get_suite("intl")
HASH = SUITE.hash

raw_keys = st.builds(state_key, st.sampled_from(["bank", "0x" + "ab" * 20]), st.binary(max_size=3))
values = st.binary(min_size=0, max_size=8)


def commit_writes(ledger: Ledger, writes: dict[bytes, bytes | None]) -> SyntheticBlock:
    made = make_block(ledger, SUITE, (), (), writes)
    ledger.commit_block(made.block, made.receipts, made.state_writes, made.certificate)
    return made


@settings(max_examples=40, deadline=None)
@given(
    final=st.dictionaries(raw_keys, values, max_size=12),
    noise=st.dictionaries(raw_keys, values, max_size=6),
    order=st.randoms(use_true_random=False),
    split=st.integers(min_value=1, max_value=4),
)
def test_state_root_depends_only_on_the_final_pairs(
    final: dict[bytes, bytes], noise: dict[bytes, bytes], order: object, split: int
) -> None:
    single = Ledger(MemoryStore(), SUITE)
    commit_writes(single, dict(final))
    expected = single.get_header(0).state_root

    stepwise = Ledger(MemoryStore(), SUITE)
    commit_writes(stepwise, {key: value + b"~" for key, value in noise.items()})
    items = list(final.items())
    order.shuffle(items)  # type: ignore[attr-defined]
    chunks = [items[index::split] for index in range(split)]
    for chunk in chunks:
        commit_writes(stepwise, dict(chunk))
    removals: dict[bytes, bytes | None] = {key: None for key in noise if key not in final}
    commit_writes(stepwise, removals)
    assert stepwise.get_header(stepwise.committed_height or 0).state_root == expected
    assert recompute_state_root(stepwise.store, HASH, stepwise.committed_height or 0) == expected


class LedgerAgainstModel(RuleBasedStateMachine):
    """The ledger's state at every committed height equals a list of dict snapshots."""

    def __init__(self) -> None:
        super().__init__()
        self.ledger = Ledger(MemoryStore(), SUITE)
        self.snapshots: list[dict[bytes, bytes]] = []

    @rule(writes=st.dictionaries(raw_keys, st.none() | values, max_size=6))
    def commit(self, writes: dict[bytes, bytes | None]) -> None:
        current = dict(self.snapshots[-1]) if self.snapshots else {}
        for key, value in writes.items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        commit_writes(self.ledger, writes)
        self.snapshots.append(current)

    @precondition(lambda self: bool(self.snapshots))
    @rule(data=st.data(), key=raw_keys)
    def read_with_proof(self, data: st.DataObject, key: bytes) -> None:
        height = data.draw(st.integers(min_value=0, max_value=len(self.snapshots) - 1))
        read = self.ledger.get_state_raw(key, height)
        assert read.value == self.snapshots[height].get(key)
        verify_state_proof(HASH, read.state_root, key, read.value, read.proof)

    @invariant()
    def head_root_recomputes_from_values(self) -> None:
        if self.snapshots:
            height = len(self.snapshots) - 1
            root = self.ledger.get_header(height).state_root
            assert recompute_state_root(self.ledger.store, HASH, height) == root

    def teardown(self) -> None:
        self.ledger.check_integrity()


LedgerAgainstModel.TestCase.settings = settings(
    max_examples=25, stateful_step_count=12, deadline=None
)
TestLedgerAgainstModel = LedgerAgainstModel.TestCase


# --- pruning ----------------------------------------------------------------------------

SHAPE = ChainShape(txs_per_block=8, key_space=3, delete_every=4)


def run_chain(ledger: Ledger, blocks: int) -> list[dict[bytes, bytes]]:
    snapshots: list[dict[bytes, bytes]] = []
    current: dict[bytes, bytes] = {}
    for _ in range(blocks):
        made = build_block(ledger, 5, SHAPE, suite=SUITE)
        ledger.commit_block(made.block, made.receipts, made.state_writes, made.certificate)
        for key, value in made.state_writes.items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        snapshots.append(dict(current))
    return snapshots


def test_pruning_keeps_the_retention_window_and_every_block() -> None:
    full_store, pruned_store = MemoryStore(), MemoryStore()
    full = Ledger(full_store, SUITE)
    pruned = Ledger(pruned_store, SUITE, LedgerConfig(state_retention_blocks=3))
    snapshots = run_chain(full, 12)
    assert run_chain(pruned, 12) == snapshots
    assert pruned.state_pruned_below == 9
    keys = set().union(*snapshots)
    for height in range(12):
        assert pruned.get_block(height) == full.get_block(height)
        if height < 9:
            with pytest.raises(StateVersionPruned):
                pruned.get_state_raw(next(iter(keys)), height)
            continue
        root = pruned.get_header(height).state_root
        for key in keys:
            read = pruned.get_state_raw(key, height)
            assert read.value == snapshots[height].get(key)
            verify_state_proof(HASH, root, key, read.value, read.proof)
    pruned.check_integrity()
    assert pruned_store.key_count(KeySpace.STATE_NODES) < full_store.key_count(KeySpace.STATE_NODES)
    assert pruned_store.key_count(KeySpace.STATE_VALUES) < full_store.key_count(
        KeySpace.STATE_VALUES
    )
    # Pruning indexes: only above the horizon when pruning, never written without it.
    for key, _ in pruned_store.scan(KeySpace.STATE_CHANGES, b"", None):
        assert decode_u64(key[:8]) > 9
    for key, _ in pruned_store.scan(KeySpace.STALE_NODES, b"", None):
        assert decode_u64(key[:8]) > 9
    assert full_store.key_count(KeySpace.STATE_CHANGES) == 0
    assert full_store.key_count(KeySpace.STALE_NODES) == 0


def test_pruning_catches_up_a_bounded_number_of_versions_per_commit() -> None:
    config = LedgerConfig(state_retention_blocks=1, prune_versions_per_pass=2)
    ledger = Ledger(MemoryStore(), SUITE, config)
    horizons = []
    for _ in range(6):
        commit_writes(ledger, {state_key("bank", b"k"): b"v%d" % len(horizons)})
        horizons.append(ledger.state_pruned_below)
    assert horizons == [0, 1, 2, 3, 4, 5]
    slow = Ledger(MemoryStore(), SUITE, LedgerConfig(state_retention_blocks=10_000))
    run_chain(slow, 3)
    assert slow.state_pruned_below == 0


def test_pruning_horizon_survives_a_reopen(tmp_path: Path) -> None:
    config = LedgerConfig(state_retention_blocks=2)
    with Ledger.open(tmp_path / "db", SUITE, config) as ledger:
        snapshots = run_chain(ledger, 6)
        assert ledger.state_pruned_below == 4
    with Ledger.open(tmp_path / "db", SUITE, config) as ledger:
        assert ledger.state_pruned_below == 4
        for key, value in snapshots[5].items():
            assert ledger.get_state_value(key) == value
        ledger.check_integrity()


@pytest.mark.parametrize(
    "options",
    [
        {"state_retention_blocks": 0},
        {"prune_versions_per_pass": 0},
        {"proof_tree_cache_blocks": -1},
        {"genesis_parent_hash": b"short"},
    ],
)
def test_bad_storage_configuration_is_a_config_error(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="storage"):
        LedgerConfig(**options)  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(
    blocks=st.lists(st.dictionaries(raw_keys, st.none() | values, max_size=5), max_size=10),
    retention=st.integers(min_value=1, max_value=3),
    per_pass=st.integers(min_value=1, max_value=3),
)
def test_pruned_ledger_agrees_with_the_model_inside_the_window(
    blocks: list[dict[bytes, bytes | None]], retention: int, per_pass: int
) -> None:
    config = LedgerConfig(state_retention_blocks=retention, prune_versions_per_pass=per_pass)
    ledger = Ledger(MemoryStore(), SUITE, config)
    snapshots: list[dict[bytes, bytes]] = []
    for writes in blocks:
        current = dict(snapshots[-1]) if snapshots else {}
        for key, value in writes.items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        commit_writes(ledger, writes)
        snapshots.append(current)
        height = len(snapshots) - 1
        root = ledger.get_header(height).state_root
        assert recompute_state_root(ledger.store, HASH, height) == root
        every_key = set().union(*snapshots)
        for past in range(ledger.state_pruned_below, height + 1):
            for key in every_key:
                assert ledger.get_state_value(key, past) == snapshots[past].get(key)
    ledger.check_integrity()
