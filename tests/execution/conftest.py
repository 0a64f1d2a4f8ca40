"""Fixtures for execution tests: keys, signed transactions, an in-memory chain, a small PKI."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gongshi.codec import Transaction
from gongshi.crypto import PrivateKey, Suite, get_suite
from gongshi.execution import (
    BlockContext,
    BlockLimits,
    BlockResult,
    ExecutionEnvironment,
    MemberDirectory,
    MemberIdentity,
    MemoryNonces,
    PreparedTransaction,
    execute_block,
)
from gongshi.node.config_fields import HostPort
from gongshi.node.genesis import ChainParams, Genesis, Organisation, ValidatorInfo
from gongshi.pki import (
    CertificateAuthority,
    MemberRequest,
    Role,
    Validity,
    create_certificate_authority,
    datetime_to_ms,
    generate_certificate_key,
    issue_member_certificate,
)

CHAIN_ID = "test-chain"
START = datetime(2030, 1, 1, tzinfo=UTC)
GENESIS_MS = datetime_to_ms(START + timedelta(days=1))
BLOCK_MS = GENESIS_MS + 60_000


def key_of(suite: Suite, name: str) -> PrivateKey:
    return suite.derive_private_key(name.encode().ljust(32, b"."))


def member_of(suite: Suite, key: PrivateKey, role: Role = Role.CLIENT) -> MemberIdentity:
    return MemberIdentity(
        organisation="org1",
        role=role,
        public_key=key.public_key_bytes(),
        address=key.address(),
        serial=1,
        not_before_ms=0,
        not_after_ms=2**63,
        registered_height=0,
    )


def signed(
    key: PrivateKey,
    nonce: int,
    target: str = "notary",
    method: str = "register",
    args: Any = None,
    *,
    gas_limit: int = 1_000_000,
    expiry_height: int = 1_000,
    chain_id: str = CHAIN_ID,
) -> Transaction:
    return Transaction(
        chain_id=chain_id,
        nonce=nonce,
        sender=key.public_key_bytes(),
        target=target,
        method=method,
        args=args,
        gas_limit=gas_limit,
        expiry_height=expiry_height,
    ).sign(key)


def notarize(key: PrivateKey, nonce: int, doc: bytes, **kwargs: Any) -> Transaction:
    metadata = kwargs.pop("metadata", {"name": "contract.pdf"})
    args = {"doc_hash": doc.ljust(32, b"\0")[:32], "metadata": metadata}
    return signed(key, nonce, "notary", "register", args, **kwargs)


@dataclass
class Chain:
    """An in-memory chain: state dict, nonce index and member directory, applied per block."""

    suite: Suite
    limits: BlockLimits = field(default_factory=BlockLimits)
    state: dict[bytes, bytes] = field(default_factory=dict)
    nonces: MemoryNonces = field(default_factory=MemoryNonces)
    members: MemberDirectory = field(default_factory=MemberDirectory)
    height: int = 0

    @property
    def environment(self) -> ExecutionEnvironment:
        return ExecutionEnvironment(suite=self.suite, limits=self.limits)

    def key(self, name: str, role: Role | None = Role.CLIENT) -> PrivateKey:
        key = key_of(self.suite, name)
        if role is not None:
            self.members.add(member_of(self.suite, key, role))
        return key

    def context(self, height: int | None = None) -> BlockContext:
        return BlockContext(
            chain_id=CHAIN_ID,
            height=self.height + 1 if height is None else height,
            timestamp_ms=BLOCK_MS + self.height * 1000,
            proposer=b"\x01" * 32,
        )

    def prepare(self, txs: Sequence[Transaction]) -> list[PreparedTransaction]:
        return [PreparedTransaction.from_transaction(tx, self.suite) for tx in txs]

    def execute(self, txs: Sequence[Transaction]) -> BlockResult:
        """Execute a block on the current state without applying it."""
        return execute_block(
            self.prepare(txs),
            context=self.context(),
            environment=self.environment,
            state=self.state,
            nonces=self.nonces,
            identities=self.members,
        )

    def commit(self, txs: Sequence[Transaction]) -> BlockResult:
        result = self.execute(txs)
        self.apply(result)
        return result

    def apply(self, result: BlockResult) -> None:
        for key, value in result.state_writes.items():
            if value is None:
                self.state.pop(key, None)
            else:
                self.state[key] = value
        self.nonces.advance(result.next_nonces)
        self.height += 1


@pytest.fixture
def chain() -> Chain:
    return Chain(suite=get_suite("intl"))


@pytest.fixture(params=["intl", "gm"])
def any_suite(request: pytest.FixtureRequest) -> Suite:
    return get_suite(request.param)


# --- a small PKI and genesis -----------------------------------------------------------------


@dataclass
class Network:
    """Organisations with CAs, a validator each, and a genesis built from them."""

    suite: Suite
    authorities: dict[str, CertificateAuthority] = field(default_factory=dict)
    validators: list[ValidatorInfo] = field(default_factory=list)

    def add_organisation(self, name: str) -> None:
        self.authorities[name] = create_certificate_authority(
            organisation=name, suite=self.suite, validity=Validity.starting(START, 3650)
        )
        key = key_of(self.suite, f"{name}-node")
        certificate = self.issue(name, Role.NODE, key)
        index = len(self.validators)
        self.validators.append(
            ValidatorInfo(
                name=f"node{index + 1}",
                organisation=name,
                public_key=key.public_key_bytes(),
                p2p_address=HostPort(host="127.0.0.1", port=30000 + 10 * index),
                api_address=HostPort(host="127.0.0.1", port=30001 + 10 * index),
                certificate=certificate.public_bytes(serialization.Encoding.DER),
            )
        )

    def issue(
        self,
        organisation: str,
        role: Role,
        key: PrivateKey,
        *,
        authority: CertificateAuthority | None = None,
        days: int = 365,
    ) -> x509.Certificate:
        authority = authority or self.authorities[organisation]
        tls_key = None
        if self.suite.name == "gm":
            tls_key = generate_certificate_key(authority.profile).public_key()
        request = MemberRequest(
            common_name=f"{organisation}-{role.value}",
            role=role,
            chain_public_key=key.public_key_bytes(),
            validity=Validity.starting(START, days),
            tls_public_key=tls_key,
        )
        return issue_member_certificate(authority, self.suite, request)

    def pem(self, organisation: str, role: Role, key: PrivateKey, **kwargs: Any) -> bytes:
        certificate = self.issue(organisation, role, key, **kwargs)
        return certificate.public_bytes(serialization.Encoding.PEM)

    def genesis(self) -> Genesis:
        return Genesis(
            suite=self.suite.name,
            genesis_time_ms=GENESIS_MS,
            params=ChainParams(chain_id=CHAIN_ID),
            organisations=tuple(
                Organisation(
                    name=name,
                    ca_certificate=authority.certificate.public_bytes(serialization.Encoding.DER),
                )
                for name, authority in self.authorities.items()
            ),
            validators=tuple(self.validators),
        )


@pytest.fixture(scope="session", params=["intl", "gm"])
def network(request: pytest.FixtureRequest) -> Network:
    """Two organisations with a CA and a validator each, per suite (built once a session)."""
    built = Network(suite=get_suite(request.param))
    built.add_organisation("org1")
    built.add_organisation("org2")
    return built
