"""CachedIdentityReader: the mempool's identity resolution, cached across blocks, stays exact."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongshi.crypto import PrivateKey, get_suite
from gongshi.execution.governance_records import key_revocation_key, serial_revocation_key
from gongshi.execution.identities import CachedIdentityReader, StateIdentityReader
from gongshi.execution.identity_records import (
    MemberIdentity,
    authority_key,
    encode_member,
    member_key,
)
from gongshi.pki import Role
from gongshi.storage.ledger import Ledger, StateView
from gongshi.storage.memory import MemoryStore
from gongshi.storage.schema import KeySpace, state_key
from gongshi.storage.synthetic import make_block

SUITE = get_suite("intl")
ORGANISATIONS = ("org1", "org2")


def key(index: int) -> PrivateKey:
    return SUITE.derive_private_key(bytes([index + 1]) * 32)


KEYS = [key(index) for index in range(4)]  # the last one is never registered
PUBLIC_KEYS = [k.public_key_bytes() for k in KEYS]


def member(index: int, role: Role = Role.CLIENT) -> MemberIdentity:
    return MemberIdentity(
        organisation=ORGANISATIONS[index % 2],
        role=role,
        public_key=PUBLIC_KEYS[index],
        address=KEYS[index].address(),
        serial=100 + index,
        not_before_ms=0,
        not_after_ms=2**63,
        registered_height=0,
    )


def member_state_key(index: int) -> bytes:
    return state_key("identity", member_key(KEYS[index].address()))


def authority(organisation: str) -> bytes:
    return state_key("identity", authority_key(organisation))


def serial_revocation(index: int) -> bytes:
    return state_key("governance", serial_revocation_key(ORGANISATIONS[index % 2], 100 + index))


def key_revocation(index: int) -> bytes:
    return state_key("governance", key_revocation_key(SUITE.hash(PUBLIC_KEYS[index])))


UNRELATED = state_key("notary", b"doc")


class CountingStore(MemoryStore):
    """Counts point reads of state values (head and versioned)."""

    def __init__(self) -> None:
        super().__init__()
        self.state_reads = 0

    def get(self, space: KeySpace, key: bytes) -> bytes | None:
        if space in (KeySpace.STATE_HEAD, KeySpace.STATE_VALUES):
            self.state_reads += 1
        return super().get(space, key)

    def scan(
        self, space: KeySpace, start: bytes, stop: bytes | None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        if space is KeySpace.STATE_VALUES:
            self.state_reads += 1
        return super().scan(space, start, stop, reverse=reverse)


def genesis_ledger(store: MemoryStore | None = None) -> Ledger:
    ledger = Ledger(store or MemoryStore(), SUITE)
    writes: dict[bytes, bytes | None] = {authority(name): b"ca" for name in ORGANISATIONS}
    for index in range(3):
        writes[member_state_key(index)] = encode_member(member(index))
    commit(ledger, writes)
    return ledger


def commit(ledger: Ledger, writes: dict[bytes, bytes | None]) -> None:
    made = make_block(ledger, SUITE, (), (), writes)
    ledger.commit_block(made.block, made.receipts, made.state_writes, made.certificate)


def uncached(ledger: Ledger, index: int) -> MemberIdentity | None:
    return StateIdentityReader(ledger.state_reader(), SUITE).resolve(PUBLIC_KEYS[index])


def test_a_revocation_committed_at_h_applies_to_the_first_resolve_after_it() -> None:
    ledger = genesis_ledger()
    cache = CachedIdentityReader(ledger, SUITE)
    first = cache.resolve(PUBLIC_KEYS[0])
    assert first is not None and first.revocation == ""
    commit(ledger, {UNRELATED: b"x"})
    assert cache.resolve(PUBLIC_KEYS[0]) is first  # kept: the block touched neither namespace
    commit(ledger, {serial_revocation(0): b"revoked"})
    revoked = cache.resolve(PUBLIC_KEYS[0])
    assert revoked is not None and "is revoked" in revoked.revocation
    commit(ledger, {authority("org2"): None})
    removed = cache.resolve(PUBLIC_KEYS[1])
    assert removed is not None and "was removed" in removed.revocation
    assert cache.resolve(PUBLIC_KEYS[3]) is None
    commit(ledger, {member_state_key(3): encode_member(member(3)), authority("org2"): b"ca"})
    assert cache.resolve(PUBLIC_KEYS[3]) == member(3)


def test_blocks_that_touch_neither_namespace_cost_no_state_read() -> None:
    store = CountingStore()
    ledger = genesis_ledger(store)
    cache = CachedIdentityReader(ledger, SUITE)
    for public_key in PUBLIC_KEYS:
        cache.resolve(public_key)
    store.state_reads = 0
    for block in range(5):
        commit(ledger, {UNRELATED: b"%d" % block})
        for public_key in PUBLIC_KEYS * 3:
            cache.resolve(public_key)
    assert store.state_reads == 0
    commit(ledger, {key_revocation(2): b"revoked"})
    resolved = cache.resolve(PUBLIC_KEYS[2])
    assert resolved is not None and "key is revoked" in resolved.revocation
    assert store.state_reads > 0


def test_the_cache_is_a_bounded_lru() -> None:
    store = CountingStore()
    ledger = genesis_ledger(store)
    cache = CachedIdentityReader(ledger, SUITE, size_max=2)
    for index in (0, 1, 0, 2):  # 2 evicts 1, the least recently used
        cache.resolve(PUBLIC_KEYS[index])
    assert len(cache) == 2
    store.state_reads = 0
    cache.resolve(PUBLIC_KEYS[0])
    cache.resolve(PUBLIC_KEYS[2])
    assert store.state_reads == 0
    cache.resolve(PUBLIC_KEYS[1])
    assert store.state_reads > 0
    with pytest.raises(ValueError):
        CachedIdentityReader(ledger, SUITE, size_max=0)


class LaggingView:
    """The ledger as a reader that has not yet seen the newest commits: its committed height
    is `visible`, while the namespaces' last written heights are the ledger's (newer)."""

    def __init__(self, ledger: Ledger, visible: int) -> None:
        self.ledger = ledger
        self.visible = visible

    @property
    def committed_height(self) -> int | None:
        return self.visible

    def state_reader(self, height: int | None = None, /) -> StateView:
        return self.ledger.state_reader(self.visible if height is None else height)

    def namespace_written_height(self, namespace: str, /) -> int | None:
        return self.ledger.namespace_written_height(namespace)


def test_a_commit_seen_only_through_the_namespace_heights_is_not_missed() -> None:
    ledger = genesis_ledger()
    source = LaggingView(ledger, 0)
    cache = CachedIdentityReader(source, SUITE)
    assert cache.resolve(PUBLIC_KEYS[0]) == member(0)
    commit(ledger, {UNRELATED: b"x"})  # height 1
    commit(ledger, {serial_revocation(0): b"revoked"})  # height 2
    source.visible = 1
    assert cache.resolve(PUBLIC_KEYS[0]) == member(0)  # exact at height 1
    source.visible = 2
    resolved = cache.resolve(PUBLIC_KEYS[0])
    assert resolved is not None and "is revoked" in resolved.revocation


def _block_writes(kind: str, index: int) -> dict[bytes, bytes | None]:
    organisation = ORGANISATIONS[index % 2]
    return {
        "revoke_serial": {serial_revocation(index): b"revoked"},
        "restore_serial": {serial_revocation(index): None},
        "revoke_key": {key_revocation(index): b"revoked"},
        "restore_key": {key_revocation(index): None},
        "remove_organisation": {authority(organisation): None},
        "restore_organisation": {authority(organisation): b"ca"},
        "change_role": {member_state_key(index): encode_member(member(index, Role.OBSERVER))},
        "register": {member_state_key(index): encode_member(member(index))},
        "unregister": {member_state_key(index): None},
        "foreign_key": {
            member_state_key(index): encode_member(
                dataclasses.replace(member(index), public_key=PUBLIC_KEYS[(index + 1) % 4])
            )
        },
        "unrelated": {UNRELATED: b"%d" % index},
    }[kind]


operations = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "resolve",
                "revoke_serial",
                "restore_serial",
                "revoke_key",
                "restore_key",
                "remove_organisation",
                "restore_organisation",
                "change_role",
                "register",
                "unregister",
                "foreign_key",
                "unrelated",
                "empty",
            ]
        ),
        st.integers(min_value=0, max_value=3),
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(history=operations, size_max=st.integers(min_value=1, max_value=5))
def test_cached_answers_equal_fresh_state_answers_over_random_histories(
    history: list[tuple[str, int]], size_max: int
) -> None:
    ledger = genesis_ledger()
    cache = CachedIdentityReader(ledger, SUITE, size_max=size_max)
    for kind, index in history:
        if kind == "resolve":
            assert cache.resolve(PUBLIC_KEYS[index]) == uncached(ledger, index)
            continue
        commit(ledger, {} if kind == "empty" else _block_writes(kind, index))
        for other in range(4):
            assert cache.resolve(PUBLIC_KEYS[other]) == uncached(ledger, other)
