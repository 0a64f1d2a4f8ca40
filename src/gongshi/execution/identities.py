"""Resolving a transaction's sender key to a registered member: what admission and execution
consult before they let a sender call anything.

`StateIdentityReader` reads state each time (execution memoizes per block itself);
`CachedIdentityReader` is the mempool's, over the latest committed state, cached across
blocks until one writes the identity or governance namespace."""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Final, Protocol

from gongshi.crypto import Suite
from gongshi.execution.governance_records import NAMESPACE as GOVERNANCE_NAMESPACE
from gongshi.execution.governance_state import member_standing
from gongshi.execution.identity_records import (
    NAMESPACE,
    MemberIdentity,
    decode_member,
    member_key,
)
from gongshi.execution.state import StateReader
from gongshi.storage.schema import state_key


class IdentityReader(Protocol):
    """The registered member holding `public_key`, or None if it has no registered
    certificate."""

    def resolve(self, public_key: bytes, /) -> MemberIdentity | None: ...


class StateIdentityReader:
    """An `IdentityReader` over state (as the `identity` contract stores members).

    Give it the state *before* the block (execution) or the latest committed state (the
    mempool): a registration takes effect from the next block, so the proposer that builds a
    block and the replicas that check it agree on every sender.
    """

    __slots__ = ("_state", "_suite")

    def __init__(self, state: StateReader, suite: Suite) -> None:
        self._state = state
        self._suite = suite

    def resolve(self, public_key: bytes, /) -> MemberIdentity | None:
        address = self._suite.address(public_key)
        data = self._state.get(state_key(NAMESPACE, member_key(address)))
        if data is None:
            return None
        member = decode_member(address, data)
        # The address is a hash prefix: insist on the full key, not just its address.
        if member.public_key != public_key:
            return None
        standing = member_standing(self._state, member, self._suite.hash(public_key))
        return dataclasses.replace(member, revocation=standing) if standing else member


class MemberDirectory:
    """An `IdentityReader` over a dict of members: for tests, benchmarks and simulations."""

    __slots__ = ("_members",)

    def __init__(self, members: Iterable[MemberIdentity] = ()) -> None:
        self._members = {member.public_key: member for member in members}

    def add(self, member: MemberIdentity) -> None:
        self._members[member.public_key] = member

    def resolve(self, public_key: bytes, /) -> MemberIdentity | None:
        return self._members.get(public_key)


# What `StateIdentityReader.resolve` reads: member records and organisation authorities
# (identity), revocations (governance). Nothing else changes its answer.
RESOLUTION_NAMESPACES: Final = (NAMESPACE, GOVERNANCE_NAMESPACE)
IDENTITY_CACHE_SIZE = 16_384  # above the genesis member limit; an entry is ~1 KB


class PinnedState(StateReader, Protocol):
    """State fixed at one committed `height` (`storage.ledger.StateView`)."""

    @property
    def height(self) -> int: ...


class CommittedState(Protocol):
    """What `CachedIdentityReader` needs of the ledger (`storage.Ledger` is one)."""

    @property
    def committed_height(self) -> int | None: ...

    def state_reader(self, height: int | None = None, /) -> PinnedState: ...

    def namespace_written_height(self, namespace: str, /) -> int | None: ...


class CachedIdentityReader:
    """`StateIdentityReader` over the latest committed state, with a bounded LRU cache of
    answers by public key: what admission uses, where the same few senders send every
    transaction.

    Exact: every answer is `StateIdentityReader(state at h).resolve(key)` for the committed
    height h seen by this call. The cache holds answers computed at `_height`; when the head
    moves to h', they stay valid unless a block in (`_height`, h'] wrote the identity or
    governance namespace, which the ledger's last written height per namespace tells (it only
    grows, so reading it late, after more commits, can only clear more). A revocation
    committed at h therefore applies to the first resolve that sees h committed.
    Thread-safe; a hit is a height comparison and a dict look-up.
    """

    __slots__ = ("_entries", "_height", "_lock", "_size_max", "_source", "_suite")

    def __init__(
        self, source: CommittedState, suite: Suite, *, size_max: int = IDENTITY_CACHE_SIZE
    ) -> None:
        if size_max < 1:
            raise ValueError("the identity cache needs room for at least one entry")
        self._source = source
        self._suite = suite
        self._size_max = size_max
        self._entries: OrderedDict[bytes, MemberIdentity | None] = OrderedDict()
        self._height: int | None = None  # the committed height the entries are valid at
        self._lock = threading.Lock()

    def resolve(self, public_key: bytes, /) -> MemberIdentity | None:
        with self._lock:
            if self._source.committed_height == self._height and public_key in self._entries:
                self._entries.move_to_end(public_key)
                return self._entries[public_key]
            state = self._source.state_reader()  # pinned at the committed height now
            self._advance(state.height)
            if public_key in self._entries:  # still valid at the new height
                self._entries.move_to_end(public_key)
                return self._entries[public_key]
            member = StateIdentityReader(state, self._suite).resolve(public_key)
            self._entries[public_key] = member
            if len(self._entries) > self._size_max:
                self._entries.popitem(last=False)
            return member

    def __len__(self) -> int:
        return len(self._entries)

    def _advance(self, height: int) -> None:
        """Keep the entries for `height` if no block after `_height` touched what they read."""
        previous = self._height
        if previous == height:
            return
        if previous is None or height < previous or self._touched_after(previous):
            self._entries.clear()
        self._height = height

    def _touched_after(self, height: int) -> bool:
        for namespace in RESOLUTION_NAMESPACES:
            written = self._source.namespace_written_height(namespace)
            if written is not None and written > height:
                return True
        return False
