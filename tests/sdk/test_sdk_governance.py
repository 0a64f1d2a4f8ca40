"""Governance through the SDK: proposals, votes, their errors, proven reads, payload checks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from gongshi.api.testing import LocalChain, ServedChain
from gongshi.api.wire import to_hex
from gongshi.codec import ReceiptStatus
from gongshi.execution.governance_payloads import Kind
from gongshi.execution.governance_records import proposal_key as contract_proposal_key
from gongshi.execution.governance_state import CHANGEABLE_PARAMS
from gongshi.pki import (
    MemberRequest,
    Role,
    Validity,
    create_certificate_authority,
    issue_member_certificate,
)
from gongshi.sdk import AsyncClient, Client, Identity, NetworkInfo, RemoteError
from gongshi.sdk import governance as gov
from gongshi.sdk.errors import GovernanceCallFailed, InvalidGovernancePayload

Connect = Callable[[str], Client]


@pytest.fixture
def admin(chain: LocalChain, served: ServedChain, network: NetworkInfo) -> Iterator[Connect]:
    """Clients signing as an organisation's admin (closed at the end of the test)."""
    opened: list[Client] = []

    def connect(organisation: str) -> Client:
        identity = Identity.load(chain.network_dir, organisation, "admin", network=network)
        opened.append(Client(served.url, network, identity))
        return opened[-1]

    yield connect
    for client in opened:
        client.close()


def change(step: int = 1) -> dict[str, Any]:
    """A payload any proposal test can use: it applies whenever approved."""
    return gov.parameters_payload({"mempool_txs_max": 50_000 + step})


def test_propose_vote_execute_and_read_back(admin: Connect) -> None:
    org1, org2, org3 = admin("org1"), admin("org2"), admin("org3")
    proposal_id = org1.propose("change_parameters", change(), description="a smaller mempool")
    assert proposal_id == 0
    assert org1.propose("change_parameters", change(2)) == 1
    assert org2.vote(proposal_id, True) == {"id": 0, "status": "open", "yes": 2, "no": 0}
    assert org3.vote(proposal_id, True)["status"] == "executed"
    proven = org1.proposal(proposal_id)
    assert proven.id == 0 and proven.status == "executed"
    assert proven.proposal["votes"] == {"org1": True, "org2": True, "org3": True}
    assert proven.proposal["description"] == "a smaller mempool"
    assert proven.state.key == contract_proposal_key(0)
    page = org1.proposals()
    assert page["total"] == 2 and page["next"] is None
    assert [p["status"] for p in page["proposals"]] == ["executed", "open"]
    assert [p["id"] for p in org1.proposals(status="open")["proposals"]] == [1]
    assert org1.proposals(start=1, limit=1)["proposals"][0]["id"] == 1


def test_receipt_errors_carry_the_contract_codes(admin: Connect, client: Client) -> None:
    org1, org2, org3, org4 = admin("org1"), admin("org2"), admin("org3"), admin("org4")
    proposal_id = org1.propose("change_parameters", change())
    with pytest.raises(GovernanceCallFailed) as double:
        org1.vote(proposal_id, False)
    assert double.value.code == 1614 and "already voted yes" in double.value.message
    assert double.value.receipt.receipt.status is ReceiptStatus.FAILED
    with pytest.raises(GovernanceCallFailed) as unknown:
        org2.vote(99, True)
    assert unknown.value.code == 1617
    org2.vote(proposal_id, True)
    org3.vote(proposal_id, True)
    with pytest.raises(GovernanceCallFailed) as closed:
        org4.vote(proposal_id, True)
    assert closed.value.code == 1616 and "executed" in closed.value.message
    with pytest.raises(RemoteError) as refused:  # a client is refused at admission
        client.propose("change_parameters", change())
    assert refused.value.code == 1661 and "governance.propose" in refused.value.message
    with pytest.raises(RemoteError) as missing:
        org1.proposal(42)
    assert missing.value.code == 1965 and missing.value.name == "GovProposalNotFound"


def test_voting_after_expiry_fails(admin: Connect) -> None:
    org1, org2 = admin("org1"), admin("org2")
    head = org1.chain_info()["height"]
    proposal_id = org1.propose("change_parameters", change(), expiry_height=head + 1)
    assert org1.proposal(proposal_id).status == "expired"  # as of the next block
    assert org1.proposals(status="expired")["proposals"][0]["id"] == proposal_id
    with pytest.raises(GovernanceCallFailed) as expired:
        org2.vote(proposal_id, True)
    assert expired.value.code == 1615


def test_a_demoted_admin_gets_permission_denied_receipts(admin: Connect, network) -> None:
    """Admission checks the role as committed; a transaction admitted before a role change
    and executed after it gets PERMISSION_DENIED with the governance code."""
    org1, org2, org3, org4 = admin("org1"), admin("org2"), admin("org3"), admin("org4")
    target = org1.propose("change_parameters", change())
    assert org4.identity is not None
    demotion = gov.role_payload(org4.identity.address, "client")
    demote_id = org1.propose("change_role", demotion)
    org4.chain_info()  # the head height for expiry heights
    gap_vote = org4.core.build(
        "governance", "vote", {"id": target, "approve": True}, nonce=1, gas_limit=5_000_000
    )
    gap_propose = org4.core.build(
        "governance",
        "propose",
        gov.proposal_args("change_parameters", change(9)),
        nonce=2,
        gas_limit=5_000_000,
    )
    vote_hash, propose_hash = org4.send(gap_vote), org4.send(gap_propose)  # not ready: gap
    org2.vote(demote_id, True)
    assert org3.vote(demote_id, True)["status"] == "executed"
    filler = org4.core.build(
        "notary", "register", {"doc_hash": b"\1" * 32, "metadata": {}}, nonce=0
    )
    org4.send(filler)
    for tx_hash, code in ((vote_hash, 1613), (propose_hash, 1612)):
        receipt = org4.wait_receipt(tx_hash)
        assert receipt.receipt.status is ReceiptStatus.PERMISSION_DENIED
        with pytest.raises(GovernanceCallFailed) as denied:
            gov.require_accepted(receipt, "call")
        assert denied.value.code == code


def test_parameter_change_is_scheduled_at_its_activation_height(admin: Connect) -> None:
    org1, org2, org3 = admin("org1"), admin("org2"), admin("org3")
    before = org1.params()
    assert before["in_force"]["params"]["block_txs_max"] != 77 and before["scheduled"] == []
    activation = before["height"] + 50
    payload = gov.parameters_payload({"block_txs_max": 77})
    proposal_id = org1.propose("change_parameters", payload, activation_height=activation)
    org2.vote(proposal_id, True)
    org3.vote(proposal_id, True)
    after = org1.params()
    assert after["in_force"]["params"] == before["in_force"]["params"]
    assert after["scheduled"] == [
        {
            "effective_height": activation,
            "params": {**before["in_force"]["params"], "block_txs_max": 77},
        }
    ]
    assert org1.proposal(proposal_id).proposal["effective_height"] == activation


def test_validators_and_organisations(client: Client, chain: LocalChain) -> None:
    validators = client.validators()
    names = [v["name"] for v in validators["in_force"]["validators"]]
    assert names == [v.name for v in chain.genesis.validators]
    assert validators["pending"] == [] and validators["observers"] == []
    organisations = client.organisations()["organisations"]
    assert [o["name"] for o in organisations] == ["org1", "org2", "org3", "org4"]
    assert all(o["ca_certificate"].startswith("0x30") for o in organisations)


def test_async_client_governance(chain: LocalChain, served: ServedChain, network) -> None:
    async def scenario() -> None:
        identities = [
            Identity.load(chain.network_dir, org, "admin", network=network)
            for org in ("org1", "org2", "org3")
        ]
        clients = [AsyncClient(served.url, network, identity) for identity in identities]
        try:
            proposal_id = await clients[0].propose("change_parameters", change())
            await clients[1].vote(proposal_id, True)
            assert (await clients[2].vote(proposal_id, True))["status"] == "executed"
            assert (await clients[0].proposal(proposal_id)).status == "executed"
            assert (await clients[0].proposals())["total"] == 1
            in_force = (await clients[0].params())["in_force"]
            assert in_force["params"]["mempool_txs_max"] == 50_001
            assert len((await clients[0].validators())["in_force"]["validators"]) == 4
            assert len((await clients[0].organisations())["organisations"]) == 4
        finally:
            for connected in clients:
                await connected.close()

    asyncio.run(scenario())


# --- payload helpers --------------------------------------------------------------------------


def _authority(chain: LocalChain, organisation: str = "org5") -> Any:
    start = datetime(2029, 1, 1, tzinfo=UTC)
    return create_certificate_authority(
        organisation=organisation, suite=chain.suite, validity=Validity.starting(start, 3650)
    )


def _member_pem(chain: LocalChain, authority: Any, role: Role) -> tuple[bytes, bytes]:
    key = chain.suite.generate_private_key()
    request = MemberRequest(
        common_name="n5",
        role=role,
        chain_public_key=key.public_key_bytes(),
        validity=Validity.starting(datetime(2029, 1, 1, tzinfo=UTC), 365),
    )
    certificate = issue_member_certificate(authority, chain.suite, request)
    return certificate.public_bytes(Encoding.PEM), key.public_key_bytes()


def test_payload_helpers_build_what_the_contract_takes(chain: LocalChain, tmp_path: Path) -> None:
    authority = _authority(chain)
    ca_pem = authority.certificate.public_bytes(Encoding.PEM)
    path = tmp_path / "ca.crt"
    path.write_bytes(ca_pem)
    payload = gov.organisation_payload("org5", gov.read_certificate_file(path), regulator=True)
    assert payload["name"] == "org5" and payload["regulator"] is True
    assert payload["ca_certificate_pem"] == ca_pem.decode()
    node_pem, node_key = _member_pem(chain, authority, Role.NODE)
    node = gov.node_payload(
        chain.suite,
        role="node",
        name="node5",
        certificate=node_pem,
        p2p_address="10.0.0.5:26600",
        api_address="node5.example:26601",
    )
    assert node["public_key"] == node_key and node["api_address"] == "node5.example:26601"
    assert gov.remove_node_payload(chain.suite, certificate=node_pem) == {"public_key": node_key}
    revoked = gov.revocation_payload(chain.suite, certificate=node_pem)
    assert revoked["organisation"] == "org5"
    assert int.from_bytes(revoked["serial"], "big") > 0
    assert gov.revocation_payload(chain.suite, key_hash=b"\2" * 32) == {"key_hash": b"\2" * 32}


@pytest.mark.parametrize(
    "build",
    [
        lambda chain, ca, node: gov.organisation_payload("org6", ca),  # O= is org5
        lambda chain, ca, node: gov.organisation_payload("org5", node),  # not a CA
        lambda chain, ca, node: gov.organisation_payload("org5", b"not a certificate"),
        lambda chain, ca, node: gov.node_payload(
            chain.suite,
            role="observer",
            name="n",
            certificate=node,
            p2p_address="h:1",
            api_address="h:2",
        ),  # the certificate's role is node
        lambda chain, ca, node: gov.node_payload(
            chain.suite,
            role="node",
            name="n",
            certificate=node,
            p2p_address="h",
            api_address="h:2",
        ),
        lambda chain, ca, node: gov.node_payload(
            chain.suite,
            role="node",
            name="bad name",
            certificate=node,
            p2p_address="h:1",
            api_address="h:2",
        ),
        lambda chain, ca, node: gov.remove_node_payload(chain.suite),
        lambda chain, ca, node: gov.remove_node_payload(chain.suite, public_key=b"\1" * 5),
        lambda chain, ca, node: gov.revocation_payload(chain.suite, serial=b"\1"),
        lambda chain, ca, node: gov.revocation_payload(
            chain.suite, serial=b"\1", key_hash=b"\1" * 32
        ),
        lambda chain, ca, node: gov.revocation_payload(chain.suite, key_hash=b"\1" * 31),
        lambda chain, ca, node: gov.role_payload(b"\1" * 19, "client"),
        lambda chain, ca, node: gov.role_payload(b"\1" * 20, "king"),
        lambda chain, ca, node: gov.parameters_payload({}),
        lambda chain, ca, node: gov.parameters_payload({"chain_id": 1}),
        lambda chain, ca, node: gov.parameters_payload({"block_txs_max": -1}),
        lambda chain, ca, node: gov.contract_payload("c", b"\1" * 31),
        lambda chain, ca, node: gov.proposal_args("make_coffee", {}),
        lambda chain, ca, node: gov.proposal_args("freeze_contract", {}, activation_height=9),
        lambda chain, ca, node: gov.proposal_args("freeze_contract", {}, description="x" * 1025),
    ],
)
def test_payload_helpers_refuse_before_sending(chain: LocalChain, build: Any) -> None:
    authority = _authority(chain)
    ca_pem = authority.certificate.public_bytes(Encoding.PEM)
    node_pem, _ = _member_pem(chain, authority, Role.NODE)
    with pytest.raises(InvalidGovernancePayload):
        build(chain, ca_pem, node_pem)


def test_sdk_lists_match_the_contract() -> None:
    assert gov.CHANGEABLE_PARAMS == CHANGEABLE_PARAMS
    assert tuple(kind.value for kind in Kind) == gov.KINDS
    assert gov.proposal_key(7) == contract_proposal_key(7)
    assert to_hex(gov.proposal_key(1)) == "0x700000000000000001"
