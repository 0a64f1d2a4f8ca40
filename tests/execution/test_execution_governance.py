"""The governance contract: proposals, votes, tallies, every proposal kind, and its readers."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from gongshi.codec import Receipt, ReceiptStatus, encode_value
from gongshi.crypto import PrivateKey, get_suite
from gongshi.execution import StateIdentityReader, genesis_state_writes, query
from gongshi.execution.builtin import default_registry
from gongshi.execution.contract_records import exports_key
from gongshi.execution.governance_errors import RevokedSender
from gongshi.execution.governance_state import (
    chain_params_at,
    revocation_list,
    validator_set_at,
    validator_set_change,
)
from gongshi.pki import Role, Validity, create_certificate_authority
from gongshi.storage.schema import state_key

from .conftest import BLOCK_MS, START, Chain, Network, key_of, signed  # type: ignore[import-not-found]

ORGS = ("org1", "org2", "org3", "org4")


class GovChain(Chain):
    """A chain from genesis with four organisations, an admin and a client in each."""

    def __init__(self, network: Network) -> None:
        super().__init__(suite=network.suite)
        self.network = network
        self.admins = {org: key_of(self.suite, f"{org}-admin") for org in ORGS}
        self.clients = {org: key_of(self.suite, f"{org}-client") for org in ORGS}
        self.pems: dict[bytes, bytes] = {}
        members = []
        for org in ORGS:
            for role, key in ((Role.ADMIN, self.admins[org]), (Role.CLIENT, self.clients[org])):
                pem = network.pem(org, role, key)
                self.pems[key.public_key_bytes()] = pem
                members.append(pem)
        writes = genesis_state_writes(network.genesis(), members)
        self.state.update({k: v for k, v in writes.items() if v is not None})
        self.members = StateIdentityReader(self.state, self.suite)  # type: ignore[assignment]
        self.sent: dict[bytes, int] = {}
        # Deploy proposals name code hashes 1, 2 and 3: uploaded code (without exports).
        for byte in (1, 2, 3):
            key = state_key("contracts", exports_key(bytes([byte]) * 32))
            self.state[key] = encode_value({})

    def tx(self, key: PrivateKey, target: str, method: str, args: Any) -> Any:
        nonce = self.sent.get(key.public_key_bytes(), 0)
        self.sent[key.public_key_bytes()] = nonce + 1
        return signed(key, nonce, target, method, args, gas_limit=5_000_000)

    def send(self, key: PrivateKey, method: str, args: Any) -> Receipt:
        receipt: Receipt = self.commit([self.tx(key, "governance", method, args)]).receipts[0]
        return receipt

    def propose(self, org: str, kind: str, payload: Any, **extra: Any) -> Receipt:
        return self.send(self.admins[org], "propose", {"kind": kind, "payload": payload, **extra})

    def vote(self, org: str, proposal_id: int, approve: bool = True) -> Receipt:
        return self.send(self.admins[org], "vote", {"id": proposal_id, "approve": approve})

    def proposal(self, proposal_id: int, **extra: Any) -> Any:
        args = {"id": proposal_id, **extra}
        return query(default_registry(), self.state, "governance", "proposal", args)

    def approve(self, kind: str, payload: Any, **extra: Any) -> tuple[Receipt, Any]:
        """Propose from org1 and vote yes from org2 and org3 (the threshold of 4 is 3)."""
        receipt = self.propose("org1", kind, payload, **extra)
        assert receipt.status is ReceiptStatus.SUCCESS, receipt.error
        proposal_id = receipt.return_value["id"]  # type: ignore[index]
        self.vote("org2", proposal_id)
        final = self.vote("org3", proposal_id)
        return final, self.proposal(proposal_id)


@pytest.fixture(scope="module")
def network() -> Network:
    built = Network(suite=get_suite("intl"))
    for org in ORGS:
        built.add_organisation(org)
    return built


@pytest.fixture
def gov(network: Network) -> GovChain:
    return GovChain(network)


def event_names(receipt: Receipt) -> list[str]:
    return [event.name for event in receipt.events]


def code_of(receipt: Receipt) -> int:
    assert receipt.error is not None
    return int(receipt.error[1:5])


# --- proposing and voting ---------------------------------------------------------------------


def test_an_admin_proposal_counts_its_organisation_as_yes(gov: GovChain) -> None:
    receipt = gov.propose("org1", "freeze_contract", {"name": "c1"}, description="why")
    assert receipt.status is ReceiptStatus.SUCCESS, receipt.error
    assert event_names(receipt) == ["ProposalSubmitted", "VoteCast"]
    stored = gov.proposal(0)
    assert stored["status"] == "open" and stored["yes"] == 1 and stored["threshold"] == 3
    assert stored["votes"] == {"org1": True} and stored["electorate"] == ORGS


def test_the_threshold_vote_executes_in_its_block(gov: GovChain) -> None:
    final, stored = gov.approve("deploy_contract", {"name": "c1", "code_hash": b"\1" * 32})
    assert final.status is ReceiptStatus.SUCCESS, final.error
    assert event_names(final) == ["VoteCast", "ContractDeployed", "ProposalExecuted"]
    assert stored["status"] == "executed"
    assert stored["closed_height"] == gov.height and stored["effective_height"] == gov.height + 1


def test_a_no_majority_rejects(gov: GovChain) -> None:
    gov.propose("org1", "freeze_contract", {"name": "c1"})
    assert gov.vote("org2", 0, approve=False).status is ReceiptStatus.SUCCESS
    assert gov.proposal(0)["status"] == "open"  # 1 yes, 1 no: 3 yes still possible
    last = gov.vote("org3", 0, approve=False)
    assert event_names(last) == ["VoteCast", "ProposalRejected"]
    assert gov.proposal(0)["status"] == "rejected"


@pytest.mark.parametrize("role", [Role.CLIENT])
def test_non_admins_may_neither_propose_nor_vote(gov: GovChain, role: Role) -> None:
    client = gov.clients["org2"]
    receipt = gov.send(client, "propose", {"kind": "freeze_contract", "payload": {"name": "x"}})
    assert receipt.status is ReceiptStatus.PERMISSION_DENIED and code_of(receipt) == 1612
    gov.propose("org1", "freeze_contract", {"name": "c1"})
    receipt = gov.send(client, "vote", {"id": 0, "approve": True})
    assert receipt.status is ReceiptStatus.PERMISSION_DENIED and code_of(receipt) == 1613
    assert gov.proposal(0)["votes"] == {"org1": True}


def test_a_second_vote_of_an_organisation_fails(gov: GovChain) -> None:
    gov.propose("org1", "freeze_contract", {"name": "c1"})
    assert code_of(gov.vote("org1", 0)) == 1614  # the proposer's organisation voted already
    gov.vote("org2", 0, approve=False)
    receipt = gov.vote("org2", 0, approve=True)
    assert receipt.status is ReceiptStatus.FAILED and code_of(receipt) == 1614
    assert gov.proposal(0)["votes"] == {"org1": True, "org2": False}


def test_votes_on_expired_executed_or_missing_proposals_fail(gov: GovChain) -> None:
    gov.propose("org1", "freeze_contract", {"name": "c1"}, expiry_height=gov.height + 2)
    gov.commit([])
    gov.commit([])  # the next block is past the expiry height
    assert gov.proposal(0, height=gov.height + 1)["status"] == "expired"
    assert gov.proposal(0)["status"] == "open"  # without a height: as stored
    assert code_of(gov.vote("org2", 0)) == 1615
    gov.approve("deploy_contract", {"name": "c1", "code_hash": b"\1" * 32})
    assert code_of(gov.vote("org4", 1)) == 1616
    assert code_of(gov.vote("org4", 99)) == 1617


def test_bad_proposals_fail_with_a_reason(gov: GovChain) -> None:
    cases: list[tuple[dict[str, Any], int]] = [
        ({"kind": "abolish_chain", "payload": {}}, 1618),
        ({"kind": "freeze_contract", "payload": {"name": "bad name!"}}, 1618),
        ({"kind": "freeze_contract", "payload": {"nom": "c"}}, 1631),
        ({"kind": "change_parameters", "payload": {"changes": {"chain_id": 3}}}, 1618),
        ({"kind": "freeze_contract", "payload": {"name": "c"}, "activation_height": 9}, 1618),
        ({"kind": "freeze_contract", "payload": {"name": "c"}, "expiry_height": 0}, 1618),
        ({"kind": "revoke_certificate", "payload": {}}, 1618),
    ]
    for args, code in cases:
        receipt = gov.send(gov.admins["org1"], "propose", args)
        assert receipt.status is ReceiptStatus.FAILED and code_of(receipt) == code, args


def test_proposals_are_listed_in_pages_by_status(gov: GovChain) -> None:
    for index in range(5):
        gov.propose("org1", "freeze_contract", {"name": f"c{index}"})
    gov.vote("org2", 1, approve=False)
    gov.vote("org3", 1, approve=False)  # proposal 1 rejected

    def page(**args: Any) -> Any:
        return query(default_registry(), gov.state, "governance", "proposals", args)

    first = page(limit=2)
    assert [p["id"] for p in first["proposals"]] == [0, 1] and first["next"] == 2
    assert first["total"] == 5
    rest = page(start=first["next"], limit=10)
    assert [p["id"] for p in rest["proposals"]] == [2, 3, 4] and rest["next"] is None
    assert [p["id"] for p in page(status="rejected")["proposals"]] == [1]
    assert [p["id"] for p in page(status="open")["proposals"]] == [0, 2, 3, 4]


# --- the kinds ----------------------------------------------------------------------------------


def test_parameter_change_applies_from_the_stated_height(gov: GovChain) -> None:
    final, stored = gov.approve(
        "change_parameters",
        {"changes": {"block_txs_max": 7, "block_bytes_max": 100_000}},
        activation_height=50,
    )
    assert final.status is ReceiptStatus.SUCCESS and stored["status"] == "executed"
    assert stored["effective_height"] == 50
    assert chain_params_at(gov.state, 49).block_txs_max == 2000
    assert chain_params_at(gov.state, 50).block_txs_max == 7
    assert chain_params_at(gov.state, 50).block_bytes_max == 100_000
    assert chain_params_at(gov.state, 50).chain_id == "test-chain"


def test_an_inconsistent_parameter_change_fails_when_approved(gov: GovChain) -> None:
    final, stored = gov.approve("change_parameters", {"changes": {"tx_bytes_max": 5 << 20}})
    assert final.status is ReceiptStatus.SUCCESS  # the vote counts; the action failed
    assert stored["status"] == "failed" and "[1627]" in stored["result"]
    assert "ProposalFailed" in event_names(final)
    assert chain_params_at(gov.state, gov.height + 1).tx_bytes_max == 64 << 10


def test_adding_a_validator_announces_a_validator_set_change(gov: GovChain) -> None:
    key = key_of(gov.suite, "org4-node2")
    pem = gov.network.pem("org4", Role.NODE, key).decode()
    payload = {
        "role": "node",
        "name": "node5",
        "public_key": key.public_key_bytes(),
        "p2p_address": "10.0.0.5:30000",
        "api_address": "10.0.0.5:30001",
        "certificate_pem": pem,
    }
    _final, stored = gov.approve("add_node", payload)
    assert stored["status"] == "executed", stored["result"]
    height = gov.height
    change = validator_set_change(gov.state, height)
    assert change is not None and change.activation_height == height + 1
    assert change.public_keys[-1] == key.public_key_bytes() and len(change.public_keys) == 5
    assert validator_set_change(gov.state, height + 1) is None
    assert len(validator_set_at(gov.state, height).validators) == 4
    assert validator_set_at(gov.state, height + 1).validators[-1].name == "node5"
    # the node is a registered member now
    member = StateIdentityReader(gov.state, gov.suite).resolve(key.public_key_bytes())
    assert member is not None and member.role is Role.NODE


def test_removing_validators_down_to_none_fails(gov: GovChain) -> None:
    keys = [v.public_key for v in gov.network.validators]
    for index, key in enumerate(keys):
        _final, stored = gov.approve("remove_node", {"public_key": key})
        if index < len(keys) - 1:
            assert stored["status"] == "executed", stored["result"]
        else:
            assert stored["status"] == "failed" and "last validator" in stored["result"]
    assert validator_set_change(gov.state, gov.height) is None


def test_a_revoked_client_is_refused_from_the_next_block(gov: GovChain) -> None:
    client = gov.clients["org2"]
    certificate = gov.pems[client.public_key_bytes()]
    from gongshi.pki import load_certificate

    serial = load_certificate(certificate).serial_number
    payload = {"organisation": "org2", "serial": serial.to_bytes(20, "big")}
    final, stored = gov.approve("revoke_certificate", payload)
    assert stored["status"] == "executed" and "CertificateRevoked" in event_names(final)
    assert ("org2", serial) in revocation_list(gov.state).serials
    with pytest.raises(RevokedSender):
        gov.execute([gov.tx(client, "notary", "get", {"doc_hash": b"\0" * 32})])
    from gongshi.execution.permissions import RefusalKind, admission_refusal

    member = StateIdentityReader(gov.state, gov.suite).resolve(client.public_key_bytes())
    refusal = admission_refusal(member, "notary", "get", BLOCK_MS)
    assert refusal is not None and refusal.kind is RefusalKind.REVOKED


def test_a_revoked_key_is_refused(gov: GovChain) -> None:
    client = gov.clients["org3"]
    gov.approve("revoke_certificate", {"public_key": client.public_key_bytes()})
    assert gov.suite.hash(client.public_key_bytes()) in revocation_list(gov.state).key_hashes
    with pytest.raises(RevokedSender):
        gov.execute([gov.tx(client, "notary", "get", {"doc_hash": b"\0" * 32})])


def test_a_role_change_lets_a_client_propose(gov: GovChain) -> None:
    client = gov.clients["org1"]
    args = {"kind": "freeze_contract", "payload": {"name": "c"}}
    assert gov.send(client, "propose", args).status is ReceiptStatus.PERMISSION_DENIED
    final, stored = gov.approve("change_role", {"address": client.address(), "role": "admin"})
    assert stored["status"] == "executed" and "RoleChanged" in event_names(final)
    assert gov.send(client, "propose", args).status is ReceiptStatus.SUCCESS
    # a renewed certificate keeps the governed role
    renewed = gov.network.pem("org1", Role.CLIENT, client, days=400).decode()
    receipt = gov.commit(
        [gov.tx(client, "identity", "register", {"certificate_pem": renewed})]
    ).receipts[0]
    assert receipt.status is ReceiptStatus.SUCCESS, receipt.error
    assert receipt.return_value["role"] == "admin"  # type: ignore[index]


def test_organisations_are_added_and_removed(gov: GovChain) -> None:
    authority = create_certificate_authority(
        organisation="org5", suite=gov.suite, validity=Validity.starting(START, 3650)
    )
    ca_pem = authority.certificate.public_bytes(serialization.Encoding.PEM).decode()
    final, stored = gov.approve("add_organisation", {"name": "org5", "ca_certificate_pem": ca_pem})
    assert stored["status"] == "executed" and "OrganisationAdded" in event_names(final)
    member = key_of(gov.suite, "org5-client")
    pem = gov.network.pem("org5", Role.CLIENT, member, authority=authority).decode()
    register = gov.tx(member, "identity", "register", {"certificate_pem": pem})
    assert gov.commit([register]).receipts[0].status is ReceiptStatus.SUCCESS
    # five organisations now: a new proposal needs 3 of 5
    gov.propose("org1", "freeze_contract", {"name": "c"})
    assert gov.proposal(1)["threshold"] == 3 and len(gov.proposal(1)["electorate"]) == 5
    final, stored = gov.approve("remove_organisation", {"name": "org5"})
    assert stored["status"] == "executed", stored["result"]
    with pytest.raises(RevokedSender):
        gov.execute([gov.tx(member, "notary", "get", {"doc_hash": b"\0" * 32})])
    # an organisation that runs a validator cannot be removed
    final, stored = gov.approve("remove_organisation", {"name": "org4"})
    assert stored["status"] == "failed" and "nodes" in stored["result"]


def test_contract_lifecycle_records(gov: GovChain) -> None:
    from gongshi.execution.governance_state import contract_record

    gov.approve("deploy_contract", {"name": "c1", "code_hash": b"\1" * 32})
    gov.approve("freeze_contract", {"name": "c1"})
    assert contract_record(gov.state, "c1")["frozen"] is True  # type: ignore[index]
    _, stored = gov.approve("upgrade_contract", {"name": "c1", "code_hash": b"\2" * 32})
    assert stored["status"] == "failed" and "frozen" in stored["result"]
    gov.approve("unfreeze_contract", {"name": "c1"})
    gov.approve("upgrade_contract", {"name": "c1", "code_hash": b"\2" * 32})
    record = contract_record(gov.state, "c1")
    assert record is not None and record["version"] == 2 and record["code_hash"] == b"\2" * 32
    _, stored = gov.approve("deploy_contract", {"name": "c1", "code_hash": b"\3" * 32})
    assert stored["status"] == "failed"


def test_a_second_validator_change_waits_for_the_first_epoch(gov: GovChain) -> None:
    first_key, second_key = (v.public_key for v in gov.network.validators[:2])
    gov.approve("remove_node", {"public_key": first_key}, activation_height=gov.height + 20)
    first_height = gov.height
    first = validator_set_change(gov.state, first_height)
    assert first is not None and first.activation_height == first_height + 17
    gov.approve("remove_node", {"public_key": second_key})
    assert validator_set_change(gov.state, gov.height) is None  # one change per epoch
    second = validator_set_change(gov.state, first.activation_height)
    assert second is not None and second.activation_height == first.activation_height + 1
    assert first_key not in second.public_keys and second_key not in second.public_keys
    assert len(validator_set_at(gov.state, first.activation_height + 1).validators) == 2


def test_observers_are_added_and_removed(gov: GovChain) -> None:
    from gongshi.execution.governance_state import observers

    key = key_of(gov.suite, "org2-observer")
    payload = {
        "role": "observer",
        "name": "watch1",
        "public_key": key.public_key_bytes(),
        "p2p_address": "watch.example:30000",
        "api_address": "watch.example:30001",
        "certificate_pem": gov.network.pem("org2", Role.OBSERVER, key).decode(),
    }
    _, stored = gov.approve("add_node", payload)
    assert stored["status"] == "executed", stored["result"]
    assert [node.name for node in observers(gov.state)] == ["watch1"]
    assert validator_set_change(gov.state, gov.height) is None
    _, stored = gov.approve("add_node", payload)
    assert stored["status"] == "failed"  # the same key twice
    gov.approve("remove_node", {"public_key": key.public_key_bytes()})
    assert observers(gov.state) == ()
