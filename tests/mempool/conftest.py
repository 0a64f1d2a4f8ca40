"""Fixtures for mempool tests: signed transactions, members, a pool on dict-backed readers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from gongshi.codec import Transaction, encode
from gongshi.crypto import PrivateKey, Suite, get_suite
from gongshi.execution import MemberDirectory, MemberIdentity, MemoryNonces, PreparedTransaction
from gongshi.mempool import ChainHead, Mempool, MempoolConfig
from gongshi.pki import Role

CHAIN_ID = "pool-chain"
HEAD_MS = 1_900_000_000_000


def key_of(suite: Suite, name: str) -> PrivateKey:
    return suite.derive_private_key(name.encode().ljust(32, b"."))


def member_of(
    key: PrivateKey, role: Role = Role.CLIENT, not_after_ms: int = 2**62
) -> MemberIdentity:
    return MemberIdentity(
        organisation="org1",
        role=role,
        public_key=key.public_key_bytes(),
        address=key.address(),
        serial=7,
        not_before_ms=0,
        not_after_ms=not_after_ms,
        registered_height=0,
    )


def transaction(
    key: PrivateKey,
    nonce: int,
    *,
    doc: bytes = b"",
    gas_limit: int = 100_000,
    expiry_height: int = 100,
    chain_id: str = CHAIN_ID,
    target: str = "notary",
    method: str = "register",
    args: Any = None,
    sign: bool = True,
) -> Transaction:
    if args is None:
        args = {"doc_hash": (doc or b"%d" % nonce).ljust(32, b"\0")[:32]}
    tx = Transaction(
        chain_id=chain_id,
        nonce=nonce,
        sender=key.public_key_bytes(),
        target=target,
        method=method,
        args=args,
        gas_limit=gas_limit,
        expiry_height=expiry_height,
    )
    return tx.sign(key) if sign else tx


@dataclass
class PoolWorld:
    suite: Suite
    config: MempoolConfig
    nonces: MemoryNonces = field(default_factory=MemoryNonces)
    members: MemberDirectory = field(default_factory=MemberDirectory)
    keys: dict[str, PrivateKey] = field(default_factory=dict)

    def key(self, name: str, role: Role | None = Role.CLIENT) -> PrivateKey:
        if name not in self.keys:
            self.keys[name] = key_of(self.suite, name)
            if role is not None:
                self.members.add(member_of(self.keys[name], role))
        return self.keys[name]

    def raw(self, name: str, nonce: int, **kwargs: Any) -> bytes:
        return encode(transaction(self.key(name), nonce, **kwargs))

    def prepared(self, name: str, nonce: int, **kwargs: Any) -> PreparedTransaction:
        return PreparedTransaction.from_transaction(
            transaction(self.key(name), nonce, **kwargs), self.suite
        )

    def pool(self, height: int = 0, **kwargs: Any) -> Mempool:
        return Mempool(
            config=self.config,
            suite=self.suite,
            nonces=self.nonces,
            identities=self.members,
            head=ChainHead(height=height, timestamp_ms=HEAD_MS),
            **kwargs,
        )


def make_world(suite_name: str = "intl", **config: Any) -> PoolWorld:
    return PoolWorld(suite=get_suite(suite_name), config=MempoolConfig(chain_id=CHAIN_ID, **config))


@pytest.fixture
def world() -> PoolWorld:
    return make_world()


@pytest.fixture(params=["intl", "gm"])
def suite_world(request: pytest.FixtureRequest) -> PoolWorld:
    return make_world(request.param)
