"""The identity contract and the genesis state, with real certificates of both suites."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from gongshi.cli.init_network import NetworkOptions, plan_network
from gongshi.codec import ReceiptStatus
from gongshi.crypto import get_suite
from gongshi.execution import (
    StateIdentityReader,
    genesis_members,
    genesis_state_writes,
    query,
)
from gongshi.execution.builtin import default_registry
from gongshi.execution.errors import (
    GenesisMemberRejected,
    UnauthorisedSender,
    UnregisteredSender,
)
from gongshi.execution.identity_records import NAMESPACE, encode_member, member_key
from gongshi.node.genesis import Genesis
from gongshi.pki import Identity, Role, Validity, create_certificate_authority, validate_certificate
from gongshi.storage.schema import state_key

from .conftest import (  # type: ignore[import-not-found]
    START,
    Chain,
    Network,
    key_of,
    notarize,
    signed,
)


class StateChain(Chain):
    """A chain whose identities come from state (as a node's do), started from genesis."""

    def __init__(self, network: Network, members: list[bytes]) -> None:
        super().__init__(suite=network.suite)
        writes = genesis_state_writes(network.genesis(), members)
        self.state.update({k: v for k, v in writes.items() if v is not None})
        self.members = StateIdentityReader(self.state, self.suite)  # type: ignore[assignment]


def load_identity(pem: bytes, genesis: Genesis) -> Identity:
    return validate_certificate(pem, trust=genesis.trust_store(), now_ms=genesis.genesis_time_ms)


def register(chain: Chain, key: Any, pem: bytes, nonce: int = 0) -> Any:
    tx = signed(key, nonce, "identity", "register", {"certificate_pem": pem.decode()})
    return chain.commit([tx]).receipts[0]


def identity_get(chain: Chain, address: bytes) -> Any:
    return query(default_registry(), chain.state, "identity", "get", {"address": address})


def test_genesis_registers_validators_and_given_members(network: Network) -> None:
    client = key_of(network.suite, "genesis-client")
    chain = StateChain(network, [network.pem("org2", Role.CLIENT, client)])
    member = chain.members.resolve(client.public_key_bytes())
    assert member is not None
    assert (member.organisation, member.role, member.registered_height) == (
        "org2",
        Role.CLIENT,
        0,
    )
    validator = network.validators[0]
    node = chain.members.resolve(validator.public_key)
    assert node is not None and node.role is Role.NODE
    # the member may transact; the validator's node key may not
    assert chain.commit([notarize(client, 0, b"d")]).receipts[0].status is ReceiptStatus.SUCCESS


def test_genesis_state_is_deterministic(network: Network) -> None:
    pems = [network.pem("org1", Role.ADMIN, key_of(network.suite, f"admin{i}")) for i in range(2)]
    first = genesis_state_writes(network.genesis(), pems)
    second = genesis_state_writes(network.genesis(), list(reversed(pems)) + pems[:1])
    assert first == second
    assert list(first) == sorted(first)


def test_genesis_rejects_a_foreign_certificate(network: Network) -> None:
    outsider = create_certificate_authority(
        organisation="org1", suite=network.suite, validity=Validity.starting(START, 3650)
    )
    key = key_of(network.suite, "outsider")
    pem = network.pem("org1", Role.CLIENT, key, authority=outsider)
    with pytest.raises(GenesisMemberRejected, match="member certificate 0"):
        genesis_members(network.genesis(), [pem])


def test_genesis_rejects_two_certificates_for_one_key(network: Network) -> None:
    key = key_of(network.suite, "twice")
    pems = [network.pem("org1", Role.CLIENT, key), network.pem("org1", Role.ADMIN, key)]
    with pytest.raises(GenesisMemberRejected, match="already registers"):
        genesis_members(network.genesis(), pems)


def test_register_a_valid_certificate(network: Network) -> None:
    chain = StateChain(network, [])
    key = key_of(network.suite, "newcomer")
    with pytest.raises(UnregisteredSender):
        chain.execute([notarize(key, 0, b"early")])
    receipt = register(chain, key, network.pem("org2", Role.CLIENT, key))
    assert receipt.status is ReceiptStatus.SUCCESS, receipt.error
    [event] = receipt.events
    assert (event.contract, event.name) == ("identity", "Registered")
    stored = identity_get(chain, network.suite.address(key.public_key_bytes()))
    assert stored["organisation"] == "org2" and stored["role"] == "client"
    assert stored["registered_height"] == 1
    assert stored["not_after_ms"] > stored["not_before_ms"]
    certificate = query(
        default_registry(), chain.state, "identity", "certificate", {"address": key.address()}
    )
    assert isinstance(certificate, bytes) and certificate[:1] == b"\x30"  # DER
    # from the next block on, the newcomer may notarize
    assert chain.commit([notarize(key, 1, b"doc")]).receipts[0].status is ReceiptStatus.SUCCESS


def test_register_refuses_a_certificate_of_an_unknown_ca(network: Network) -> None:
    chain = StateChain(network, [])
    rogue = create_certificate_authority(
        organisation="org2", suite=network.suite, validity=Validity.starting(START, 3650)
    )
    key = key_of(network.suite, "rogue")
    receipt = register(chain, key, network.pem("org2", Role.CLIENT, key, authority=rogue))
    assert receipt.status is ReceiptStatus.FAILED
    assert "[117" in receipt.error  # a CertificateRejected code (wrong issuer / signature)
    assert identity_get(chain, key.address()) is None


def test_register_refuses_a_certificate_of_another_key(network: Network) -> None:
    chain = StateChain(network, [])
    owner, thief = key_of(network.suite, "owner"), key_of(network.suite, "thief")
    receipt = register(chain, thief, network.pem("org1", Role.CLIENT, owner))
    assert receipt.status is ReceiptStatus.FAILED
    assert "another chain signing key" in receipt.error
    assert identity_get(chain, owner.address()) is None
    assert identity_get(chain, thief.address()) is None


def test_register_twice_fails_and_renewal_succeeds(network: Network) -> None:
    chain = StateChain(network, [])
    key = key_of(network.suite, "renewing")
    pem = network.pem("org1", Role.CLIENT, key)
    assert register(chain, key, pem).status is ReceiptStatus.SUCCESS
    again = register(chain, key, pem, nonce=1)
    assert again.status is ReceiptStatus.FAILED and "already registered" in again.error
    renewed = register(chain, key, network.pem("org1", Role.CLIENT, key, days=700), nonce=2)
    assert renewed.status is ReceiptStatus.SUCCESS, renewed.error


def test_register_an_expired_certificate_fails(network: Network) -> None:
    chain = StateChain(network, [])
    key = key_of(network.suite, "late")
    receipt = register(chain, key, network.pem("org1", Role.CLIENT, key, days=1))
    assert receipt.status is ReceiptStatus.FAILED
    assert "expired" in receipt.error


def test_registered_node_certificate_still_may_not_transact(network: Network) -> None:
    chain = StateChain(network, [])
    key = key_of(network.suite, "spare-node")
    assert register(chain, key, network.pem("org1", Role.NODE, key)).status is (
        ReceiptStatus.SUCCESS
    )
    with pytest.raises(UnauthorisedSender):
        chain.execute([notarize(key, 1, b"doc")])


def test_state_reader_insists_on_the_full_key(network: Network) -> None:
    """A record found by address must also carry the very key: an address is a hash prefix."""
    client = key_of(network.suite, "exact")
    chain = StateChain(network, [network.pem("org1", Role.CLIENT, client)])
    member = chain.members.resolve(client.public_key_bytes())
    assert member is not None
    other_key = key_of(network.suite, "other").public_key_bytes()
    raw_key = state_key(NAMESPACE, member_key(member.address))
    chain.state[raw_key] = encode_member(dataclasses.replace(member, public_key=other_key))
    assert chain.members.resolve(client.public_key_bytes()) is None


def test_validity_window_uses_the_block_time(network: Network) -> None:
    """The genesis member's certificate is checked against block time, not a clock."""
    client = key_of(network.suite, "timed")
    chain = StateChain(network, [network.pem("org1", Role.CLIENT, client, days=2)])
    member = chain.members.resolve(client.public_key_bytes())
    assert member is not None
    assert member.not_after_ms - member.not_before_ms == timedelta(days=2) // timedelta(
        milliseconds=1
    )


@pytest.mark.parametrize("suite_name", ["intl", "gm"])
def test_genesis_from_gongshi_init_output(suite_name: str) -> None:
    """The network `gongshi init` plans: its admins and clients become members at genesis,
    from the genesis file alone (listing their certificates again changes nothing)."""
    plan = plan_network(NetworkOptions(organisations=2, suite=suite_name), now=START)
    certificates = {
        str(item.path): item.content
        for item in plan.files
        if item.path.name in ("admin.crt", "client.crt")
    }
    assert len(certificates) == 4
    writes = genesis_state_writes(plan.genesis)
    assert writes == genesis_state_writes(plan.genesis, list(certificates.values()))
    state = {key: value for key, value in writes.items() if value is not None}
    reader = StateIdentityReader(state, get_suite(suite_name))
    roles = []
    for path, pem in sorted(certificates.items()):
        member = reader.resolve(load_identity(pem, plan.genesis).public_key)
        assert member is not None, path
        roles.append((member.organisation, member.role.value))
    assert roles == [("org1", "admin"), ("org1", "client"), ("org2", "admin"), ("org2", "client")]
    for validator in plan.genesis.validators:
        node = reader.resolve(validator.public_key)
        assert node is not None and node.role is Role.NODE
