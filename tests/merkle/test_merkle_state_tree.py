"""The Jellyfish state tree against a reference model: a dict and a root recomputed from scratch."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from gongshi.errors import InvalidProof, ValidationError
from gongshi.merkle.errors import (
    CorruptNode,
    InvalidVersion,
    MalformedProof,
    MissingNode,
    RootMismatch,
    VersionNotFound,
)
from gongshi.merkle.state_nodes import decode_internal, node_key, root_node_key
from gongshi.merkle.state_tree import (
    EMPTY_ROOT,
    MemoryNodeStore,
    StateTree,
    TreeUpdate,
    verify_state_proof,
)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def transparent_hash(data: bytes) -> bytes:
    """SHA-256, except that a key b"path:" + 32 bytes hashes to those 32 bytes: lets tests put
    keys wherever they like in the tree (long shared prefixes, deepest leaves)."""
    if data.startswith(b"path:") and len(data) == 37:
        return data[5:]
    return hashlib.sha256(data).digest()


# The reference: the definition in docs/state-tree.md, computed from scratch.


def nibble_at(key_hash: bytes, depth: int) -> int:
    return key_hash[depth // 2] >> 4 if depth % 2 == 0 else key_hash[depth // 2] & 0x0F


def reference_root(hash_fn: Callable[[bytes], bytes], state: dict[bytes, bytes]) -> bytes:
    pairs = sorted((hash_fn(key), hash_fn(value)) for key, value in state.items())

    def subtree(pairs: list[tuple[bytes, bytes]], depth: int) -> bytes:
        if len(pairs) == 1:
            return hash_fn(b"\x10" + pairs[0][0] + pairs[0][1])
        bitmap, hashes = 0, b""
        for child in range(16):
            below = [pair for pair in pairs if nibble_at(pair[0], depth) == child]
            if below:
                bitmap |= 1 << child
                hashes += subtree(below, depth + 1)
        return hash_fn(b"\x11" + bitmap.to_bytes(2, "big") + hashes)

    return subtree(pairs, 0) if pairs else EMPTY_ROOT


def apply_to_model(state: dict[bytes, bytes], updates: dict[bytes, bytes | None]) -> None:
    for key, value in updates.items():
        if value is None:
            state.pop(key, None)
        else:
            state[key] = value


def check_proofs(
    tree: StateTree, version: int, root: bytes, state: dict[bytes, bytes], keys: list[bytes]
) -> None:
    for key in keys:
        proof = tree.get_proof(key, version)
        value = state.get(key)
        verify_state_proof(tree.hash_fn, root, key, value, proof)
        if value is None:
            with pytest.raises(RootMismatch):
                verify_state_proof(tree.hash_fn, root, key, b"anything", proof)
        else:
            with pytest.raises(RootMismatch):
                verify_state_proof(tree.hash_fn, root, key, None, proof)
            with pytest.raises(RootMismatch):
                verify_state_proof(tree.hash_fn, root, key, value + b"!", proof)


def tree_hash(tree: StateTree) -> object:
    return tree._hash_fn


def reachable_nodes(store: MemoryNodeStore, version: int) -> set[bytes]:
    """Keys of every node the root of `version` reaches; checks the canonical shape too."""
    found: set[bytes] = set()
    pending = [(root_node_key(version), 0, b"")]
    while pending:
        key, depth, path = pending.pop()
        encoded = store.nodes[key]
        found.add(key)
        if encoded[0] == 1:
            assert encoded[1:33].hex().startswith(path.hex()[:depth])
        if encoded[0] != 2:
            continue
        bitmap, leaf_bitmap, _, versions_blob = decode_internal(encoded)
        assert bitmap.bit_count() >= 2 or not leaf_bitmap, "a lone leaf child must rise"
        position = 0
        for child in range(16):
            if bitmap >> child & 1:
                child_path = bytes.fromhex((path.hex()[:depth] + f"{child:x}").ljust(64, "0"))
                version_prefix = versions_blob[8 * position : 8 * position + 8]
                pending.append(
                    (node_key(version_prefix, depth + 1, child_path), depth + 1, child_path)
                )
                position += 1
    return found


keys_strategy = st.binary(min_size=0, max_size=6)
values_strategy = st.binary(min_size=0, max_size=8)


def seeded_state(size: int, seed: int) -> dict[bytes, bytes]:
    rng = random.Random(seed)
    return {rng.randbytes(rng.randint(1, 4)): rng.randbytes(rng.randint(0, 4)) for _ in range(size)}


# Small hand-shrinkable dictionaries, and larger seeded ones (hundreds of keys, depth 3+).
states = st.dictionaries(keys_strategy, values_strategy, max_size=40) | st.builds(
    seeded_state, size=st.integers(40, 400), seed=st.integers(0, 2**32)
)


@settings(max_examples=100, deadline=None)
@given(state=states, seed=st.integers(0, 2**32))
def test_root_depends_only_on_the_key_value_set(state: dict[bytes, bytes], seed: int) -> None:
    rng = random.Random(seed)
    expected = reference_root(sha256, state)
    one_batch = StateTree(MemoryNodeStore(), sha256).apply(None, 0, state)
    assert one_batch.root_hash == expected
    # The same pairs in shuffled batches, with noise written and then overwritten or deleted.
    store = MemoryNodeStore()
    tree = StateTree(store, sha256)
    items = list(state.items())
    rng.shuffle(items)
    version: int | None = None
    noise: dict[bytes, bytes | None] = {b"noise-" + bytes([i]): b"x" for i in range(5)}
    batches: list[dict[bytes, bytes | None]] = [dict(noise)]
    while items:
        take = rng.randint(1, len(items))
        batches.append(dict(items[:take]))
        items = items[take:]
    batches.append(dict.fromkeys(noise))
    version: int | None = None
    for batch in batches:
        next_version = 0 if version is None else version + rng.randint(1, 3)
        store.write(tree.apply(version, next_version, batch))
        version = next_version
    assert tree.root_hash(version or 0) == expected


@settings(max_examples=40, deadline=None)
@given(state=states, absent=st.lists(keys_strategy, max_size=10))
def test_membership_and_non_membership_proofs(
    state: dict[bytes, bytes], absent: list[bytes]
) -> None:
    store = MemoryNodeStore()
    tree = StateTree(store, sha256)
    update = tree.apply(None, 7, state)
    store.write(update)
    check_proofs(tree, 7, update.root_hash, state, [*state, *absent])
    if state:
        key, value = next(iter(state.items()))
        other_root = reference_root(sha256, {**state, key: value + b"?"})
        with pytest.raises(RootMismatch):
            verify_state_proof(sha256, other_root, key, value, tree.get_proof(key, 7))


@settings(max_examples=30, deadline=None)
@given(
    first=states,
    second=st.dictionaries(keys_strategy, st.none() | values_strategy, max_size=60),
)
def test_past_versions_stay_readable(
    first: dict[bytes, bytes], second: dict[bytes, bytes | None]
) -> None:
    store = MemoryNodeStore()
    tree = StateTree(store, sha256)
    v1 = tree.apply(None, 1, first)
    store.write(v1)
    v2 = tree.apply(1, 2, second)
    store.write(v2)
    later = dict(first)
    apply_to_model(later, second)
    assert v2.root_hash == reference_root(sha256, later)
    assert tree.root_hash(1) == v1.root_hash
    check_proofs(tree, 1, v1.root_hash, first, [*first, *second])
    check_proofs(tree, 2, v2.root_hash, later, [*first, *second])


@settings(max_examples=40, deadline=None)
@given(base=states, added=st.dictionaries(keys_strategy, values_strategy, max_size=60))
def test_deletes_restore_the_previous_root(
    base: dict[bytes, bytes], added: dict[bytes, bytes]
) -> None:
    added = {key: value for key, value in added.items() if key not in base}
    store = MemoryNodeStore()
    tree = StateTree(store, sha256)
    before = tree.apply(None, 0, base)
    store.write(before)
    grown = tree.apply(0, 1, added)
    store.write(grown)
    shrunk = tree.apply(1, 2, dict.fromkeys(added))
    assert shrunk.root_hash == before.root_hash


def test_deep_paths_and_collapse() -> None:
    """Keys sharing 63 nibbles: a chain of one-child internal nodes down to depth 64; deleting
    one key lets the other rise back to the root."""
    store = MemoryNodeStore()
    tree = StateTree(store, transparent_hash)
    near = [b"path:" + bytes(31) + bytes([last]) for last in (0x00, 0x01, 0x10)]
    state = {key: b"v" + key[-1:] for key in near}
    update = tree.apply(None, 0, state)
    store.write(update)
    assert update.root_hash == reference_root(transparent_hash, state)
    check_proofs(tree, 0, update.root_hash, state, [*near, b"path:" + bytes(31) + b"\x02"])
    assert len(tree.get_proof(near[0], 0).levels) == 64
    reachable_nodes(store, 0)
    update = tree.apply(0, 1, {near[0]: None, near[2]: None})
    store.write(update)
    lone = {near[1]: state[near[1]]}
    assert update.root_hash == reference_root(transparent_hash, lone)
    assert tree.get_proof(near[1], 1).levels == ()
    assert reachable_nodes(store, 1) == {root_node_key(1)}
    assert len(update.stale_nodes) == 64 + 3  # the chain of internal nodes and the leaves
    check_proofs(tree, 1, update.root_hash, lone, near)
    check_proofs(tree, 0, tree.root_hash(0), state, near)


def test_empty_tree_and_empty_batches_are_cheap() -> None:
    store = MemoryNodeStore()
    tree = StateTree(store, sha256)
    empty = tree.apply(None, 0, {})
    assert empty.root_hash == EMPTY_ROOT == bytes(32)
    assert len(empty.new_nodes) == 1 and not empty.stale_nodes
    store.write(empty)
    filled = tree.apply(0, 1, {b"a": b"1", b"b": b"2", b"c": b"3"})
    store.write(filled)
    skipped = tree.apply(1, 5, {})  # versions 2..4 had no block writes
    assert skipped.root_hash == filled.root_hash
    assert len(skipped.new_nodes) == 1 and len(skipped.stale_nodes) == 1
    store.write(skipped)
    noop = tree.apply(5, 6, {b"a": b"1", b"zzz": None})  # same value, delete of absent key
    assert noop.root_hash == filled.root_hash
    assert len(noop.new_nodes) == 1
    store.write(noop)
    check_proofs(tree, 6, noop.root_hash, {b"a": b"1", b"b": b"2", b"c": b"3"}, [b"a", b"x"])
    with pytest.raises(VersionNotFound):
        tree.root_hash(3)


def test_single_key_tree_and_root_leaf_proofs() -> None:
    store = MemoryNodeStore()
    tree = StateTree(store, sha256)
    update = tree.apply(None, 0, {b"only": b"one"})
    store.write(update)
    assert update.root_hash == reference_root(sha256, {b"only": b"one"})
    check_proofs(tree, 0, update.root_hash, {b"only": b"one"}, [b"only", b"other"])
    cleared = tree.apply(0, 1, {b"only": None})
    store.write(cleared)
    assert cleared.root_hash == EMPTY_ROOT
    check_proofs(tree, 1, EMPTY_ROOT, {}, [b"only"])


def test_versions_are_checked() -> None:
    store = MemoryNodeStore()
    tree = StateTree(store, sha256)
    store.write(tree.apply(None, 3, {b"k": b"v"}))
    for base, version in ((3, 3), (3, 2), (None, -1), (3, 2**64), (-1, 4)):
        with pytest.raises(InvalidVersion):
            tree.apply(base, version, {})
    with pytest.raises(VersionNotFound):
        tree.apply(2, 4, {})
    with pytest.raises(VersionNotFound):
        tree.get_proof(b"k", 9)
    with pytest.raises(ValidationError):
        tree.apply(3, 4, {"text-key": b"v"})  # type: ignore[dict-item]


def test_missing_and_corrupt_nodes_are_integrity_errors() -> None:
    store = MemoryNodeStore()
    tree = StateTree(store, sha256)
    update = tree.apply(None, 0, {bytes([i]): b"v" for i in range(40)})
    store.write(update)
    root_key = (0).to_bytes(8, "big") + b"\x00"
    child_key = next(key for key in update.new_nodes if key != root_key)
    saved = store.nodes.pop(child_key)
    with pytest.raises(MissingNode):
        for i in range(40):
            tree.get_proof(bytes([i]), 0)
    store.nodes[child_key] = saved
    store.nodes[root_key] = b"\x02\x00"
    with pytest.raises(CorruptNode):
        tree.root_hash(0)
    with pytest.raises(CorruptNode):
        tree.apply(0, 1, {b"x": b"y"})


def test_nodes_are_written_once_and_pruning_keeps_recent_versions() -> None:
    rng = random.Random(5)
    store = MemoryNodeStore()
    tree = StateTree(store, sha256)
    states: list[dict[bytes, bytes]] = []
    roots: list[bytes] = []
    state: dict[bytes, bytes] = {}
    for version in range(12):
        updates: dict[bytes, bytes | None] = {
            bytes([rng.randrange(60)]): (None if rng.random() < 0.3 else bytes([rng.randrange(4)]))
            for _ in range(rng.randrange(1, 25))
        }
        update = tree.apply(version - 1 if version else None, version, updates)
        assert not set(update.new_nodes) & set(store.nodes), "a node key is written twice"
        assert all(key in store.nodes for _, key in update.stale_nodes)
        store.write(update)
        apply_to_model(state, updates)
        states.append(dict(state))
        roots.append(update.root_hash)
        stale_now = {key for since, key in store.stale if since <= version}
        assert not stale_now & reachable_nodes(store, version)
    deleted = store.prune(8)
    assert deleted > 0
    # Pruning keeps exactly what versions 8.. reach: nothing they need, no leaked node.
    assert set(store.nodes) == set().union(*(reachable_nodes(store, v) for v in range(8, 12)))
    for version in range(8, 12):
        assert tree.root_hash(version) == roots[version]
        check_proofs(
            tree, version, roots[version], states[version], [bytes([i]) for i in range(60)]
        )
    with pytest.raises(VersionNotFound):
        tree.root_hash(7)


def test_tree_update_contract_shape() -> None:
    update = StateTree(MemoryNodeStore(), sha256).apply(None, 0, {b"k": b"v"})
    assert isinstance(update, TreeUpdate)
    assert update.version == 0
    assert all(
        isinstance(key, bytes) and isinstance(node, bytes) for key, node in update.new_nodes.items()
    )
    assert update.stale_nodes == []


class StateTreeMachine(RuleBasedStateMachine):
    """Random write batches, version gaps, proofs at old versions and pruning, against a dict."""

    def __init__(self) -> None:
        super().__init__()
        self.store = MemoryNodeStore()
        self.tree = StateTree(self.store, sha256)
        self.version: int | None = None
        self.state: dict[bytes, bytes] = {}
        self.history: dict[int, tuple[bytes, dict[bytes, bytes]]] = {}
        self.oldest_kept = 0

    @rule(
        updates=st.dictionaries(
            st.binary(max_size=2), st.none() | st.binary(max_size=3), max_size=30
        ),
        gap=st.integers(1, 3),
    )
    def write_block(self, updates: dict[bytes, bytes | None], gap: int) -> None:
        version = 0 if self.version is None else self.version + gap
        update = self.tree.apply(self.version, version, updates)
        self.store.write(update)
        apply_to_model(self.state, updates)
        self.version = version
        self.history[version] = (update.root_hash, dict(self.state))
        assert update.root_hash == reference_root(sha256, self.state)

    @precondition(lambda self: self.history)
    @rule(data=st.data())
    def prove_at_a_kept_version(self, data: st.DataObject) -> None:
        version = data.draw(st.sampled_from(sorted(self.history)))
        root, state = self.history[version]
        keys = data.draw(st.lists(st.binary(max_size=2), max_size=6))
        check_proofs(self.tree, version, root, state, [*keys, *list(state)[:4]])

    @precondition(lambda self: len(self.history) > 2)
    @rule(data=st.data())
    def prune(self, data: st.DataObject) -> None:
        kept = sorted(self.history)
        oldest = data.draw(st.sampled_from(kept[1:]))
        self.store.prune(oldest)
        for version in kept:
            if version < oldest:
                del self.history[version]

    @invariant()
    def latest_root_is_readable(self) -> None:
        if self.version is not None:
            assert self.tree.root_hash(self.version) == self.history[self.version][0]


TestStateTreeMachine = StateTreeMachine.TestCase
TestStateTreeMachine.settings = settings(max_examples=80, stateful_step_count=30, deadline=None)


@pytest.mark.slow
def test_large_random_histories_match_the_reference() -> None:
    """Campaign: 20 versions of up to 2,000 writes over a 20,000-key space, checked in full."""
    for seed in range(5):
        rng = random.Random(seed)
        store = MemoryNodeStore()
        tree = StateTree(store, sha256)
        state: dict[bytes, bytes] = {}
        version: int | None = None
        for _ in range(20):
            updates: dict[bytes, bytes | None] = {}
            for _ in range(rng.randrange(2_000)):
                key = b"k%d" % rng.randrange(20_000)
                updates[key] = None if rng.random() < 0.25 else rng.randbytes(rng.randrange(9))
            next_version = 0 if version is None else version + rng.randint(1, 2)
            update = tree.apply(version, next_version, updates)
            store.write(update)
            apply_to_model(state, updates)
            assert update.root_hash == reference_root(sha256, state)
            version = next_version
            sample = rng.sample(sorted(updates), min(50, len(updates)))
            check_proofs(tree, version, update.root_hash, state, sample)


def test_proof_for_wrong_key_type_is_rejected() -> None:
    store = MemoryNodeStore()
    tree = StateTree(store, sha256)
    store.write(tree.apply(None, 0, {b"k": b"v"}))
    with pytest.raises(ValidationError):
        tree.get_proof("k", 0)  # type: ignore[arg-type]
    proof = tree.get_proof(b"k", 0)
    with pytest.raises(InvalidProof):
        verify_state_proof(sha256, bytes(32), b"k", b"v", proof)
    with pytest.raises(MalformedProof):
        verify_state_proof(sha256, b"short", b"k", b"v", proof)
