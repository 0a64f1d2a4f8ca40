"""Resolving a transaction's sender key to a registered member: what admission and execution
consult before they let a sender call anything.

`StateIdentityReader` reads state each time (execution memoizes per block itself);
`CachedIdentityReader` is the mempool's, over the latest committed state, cached across
blocks until one writes the identity or governance namespace."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Final, Protocol

from gongshi.crypto import Suite
from gongshi.execution.committed_cache import CommittedState, CommittedStateCache
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


class CachedIdentityReader:
    """`StateIdentityReader` over the latest committed state, with a bounded LRU cache of
    answers by public key: what admission uses, where the same few senders send every
    transaction. Exact (`committed_cache`): a revocation committed at h applies to the first
    resolve that sees h committed.
    """

    __slots__ = ("_answers", "_suite")

    def __init__(
        self, source: CommittedState, suite: Suite, *, size_max: int = IDENTITY_CACHE_SIZE
    ) -> None:
        self._suite = suite
        self._answers: CommittedStateCache[bytes, MemberIdentity | None] = CommittedStateCache(
            source, namespaces=RESOLUTION_NAMESPACES, size_max=size_max
        )

    def resolve(self, public_key: bytes, /) -> MemberIdentity | None:
        return self._answers.get(
            public_key, lambda state: StateIdentityReader(state, self._suite).resolve(public_key)
        )

    def __len__(self) -> int:
        return len(self._answers)
