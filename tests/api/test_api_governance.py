"""The governance methods of the API: gov_proposal(s), gov_params, gov_validators,
gov_organisations, their parameters, errors and OpenRPC entries."""

from __future__ import annotations

from typing import Any

import pytest

from gongshi.api.testing import LocalChain, ServedChain
from gongshi.api.wire import to_hex
from gongshi.codec import ReceiptStatus, Transaction, decode_value, encode
from gongshi.crypto import PrivateKey
from gongshi.execution.governance_records import proposal_key

from .conftest import Rpc  # type: ignore[import-not-found]

GOV_METHODS = ("gov_proposal", "gov_proposals", "gov_params", "gov_validators", "gov_organisations")


class Admins:
    """Each organisation's admin key and its nonce count, sending governance calls."""

    def __init__(self, chain: LocalChain, served: ServedChain, rpc: Rpc) -> None:
        self.chain, self.served, self.rpc = chain, served, rpc
        self.keys = {
            org: chain.suite.load_private_key(chain.network_dir / f"orgs/{org}/admin/admin.key")
            for org in ("org1", "org2", "org3", "org4")
        }
        self.nonces: dict[str, int] = {}

    def send(self, org: str, method: str, args: Any, *, key: PrivateKey | None = None) -> str:
        nonce = self.nonces.get(org, 0)
        self.nonces[org] = nonce + 1
        signer = key or self.keys[org]
        tx = Transaction(
            chain_id=self.chain.genesis.params.chain_id,
            nonce=nonce,
            sender=signer.public_key_bytes(),
            target="governance",
            method=method,
            args=args,
            gas_limit=5_000_000,
            expiry_height=1000,
        ).sign(signer)
        return str(self.rpc("tx_send", {"tx": to_hex(encode(tx))})["tx_hash"])

    def commit(self, org: str, method: str, args: Any) -> Any:
        """Send, commit a block, and return the receipt's JSON."""
        tx_hash = self.send(org, method, args)
        self.served.commit()
        receipt = self.rpc("tx_receipt", [tx_hash])["receipt"]
        assert receipt["status"] == ReceiptStatus.SUCCESS.name, receipt
        return receipt["return_value"]


@pytest.fixture
def admins(chain: LocalChain, served: ServedChain, rpc: Rpc) -> Admins:
    return Admins(chain, served, rpc)


def params_change(value: int, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "change_parameters",
        "payload": {"changes": {"mempool_txs_max": value}},
        **extra,
    }


def test_proposals_through_their_life(admins: Admins, rpc: Rpc) -> None:
    assert rpc("gov_proposals") == {"height": 0, "total": 0, "proposals": [], "next": None}
    first = admins.commit("org1", "propose", params_change(5000, description="d"))
    assert first == {"id": 0, "status": "open"}
    admins.commit("org1", "propose", params_change(6000))
    found = rpc("gov_proposal", {"id": 0})
    proposal = found["proposal"]
    assert found["height"] == 2 and proposal["status"] == "open" and proposal["yes"] == 1
    assert proposal["payload"] == {"changes": {"mempool_txs_max": 5000}}
    assert proposal["proposer"] == to_hex(admins.keys["org1"].address())
    assert proposal["votes"] == {"org1": True} and proposal["description"] == "d"
    admins.commit("org2", "vote", {"id": 0, "approve": True})
    assert admins.commit("org3", "vote", {"id": 0, "approve": True})["status"] == "executed"
    page = rpc("gov_proposals", {"limit": 1})
    assert page["total"] == 2 and page["next"] == 1 and page["proposals"][0]["id"] == 0
    assert rpc("gov_proposals", [None, 1])["proposals"][0]["id"] == 1  # by position
    executed = rpc("gov_proposals", {"status": "executed"})["proposals"]
    assert [p["id"] for p in executed] == [0]
    assert executed[0]["votes"] == {"org1": True, "org2": True, "org3": True}


def test_the_proposal_comes_with_a_state_proof_of_its_encoding(admins: Admins, rpc: Rpc) -> None:
    admins.commit("org1", "propose", params_change(5000))
    found = rpc("gov_proposal", [0])
    state = found["state"]
    assert state["namespace"] == "governance" and state["key"] == to_hex(proposal_key(0))
    assert state["height"] == found["height"] == state["anchor"]["height"]
    stored = decode_value(bytes.fromhex(state["value"][2:]))
    assert stored["id"] == 0 and stored["status"] == "open"  # type: ignore[index]
    assert stored["expiry_height"] == found["proposal"]["expiry_height"]  # type: ignore[index]


def test_expired_is_evaluated_at_the_next_height(
    admins: Admins, rpc: Rpc, served: ServedChain
) -> None:
    admins.commit("org1", "propose", params_change(5000, expiry_height=2))
    assert rpc("gov_proposal", {"id": 0})["proposal"]["status"] == "open"  # next block: 2
    admins.commit("org1", "propose", params_change(6000))  # the head is now 2
    assert rpc("gov_proposal", {"id": 0})["proposal"]["status"] == "expired"
    assert [p["id"] for p in rpc("gov_proposals", {"status": "expired"})["proposals"]] == [0]
    assert [p["id"] for p in rpc("gov_proposals", {"status": "open"})["proposals"]] == [1]
    stored = rpc("contract_query", ["governance", "proposal", {"id": 0}])["result"]
    assert stored["status"] == "open"  # never stored as expired


def test_params_in_force_and_scheduled(admins: Admins, rpc: Rpc, chain: LocalChain) -> None:
    before = rpc("gov_params")
    genesis = chain.genesis.params
    assert before["in_force"]["effective_height"] == 0
    assert before["in_force"]["params"]["block_txs_max"] == genesis.block_txs_max
    assert before["in_force"]["params"]["chain_id"] == genesis.chain_id
    assert before["scheduled"] == []
    change = {"kind": "change_parameters", "payload": {"changes": {"block_txs_max": 9}}}
    admins.commit("org1", "propose", {**change, "activation_height": 8})
    admins.commit("org2", "vote", {"id": 0, "approve": True})
    admins.commit("org3", "vote", {"id": 0, "approve": True})  # executed at 3
    after = rpc("gov_params")
    assert after["in_force"] == before["in_force"]
    assert after["scheduled"] == [
        {"effective_height": 8, "params": {**before["in_force"]["params"], "block_txs_max": 9}}
    ]
    for step in range(4):  # heights 4..7: block 8 comes next, with the new parameters
        admins.commit("org4", "propose", params_change(5000 + step))
    now = rpc("gov_params")
    assert now["height"] == 7 and now["scheduled"] == []
    assert now["in_force"]["effective_height"] == 8
    assert now["in_force"]["params"]["block_txs_max"] == 9


def test_validators_and_organisations(rpc: Rpc, chain: LocalChain) -> None:
    validators = rpc("gov_validators")
    current = validators["in_force"]
    assert current["activation_height"] == 0 and validators["pending"] == []
    assert [v["public_key"] for v in current["validators"]] == [
        to_hex(v.public_key) for v in chain.genesis.validators
    ]
    assert current["validators"][1]["p2p_address"] == str(chain.genesis.validators[1].p2p_address)
    assert validators["observers"] == []
    organisations = rpc("gov_organisations")["organisations"]
    assert [o["name"] for o in organisations] == [o.name for o in chain.genesis.organisations]
    for listed, genesis in zip(organisations, chain.genesis.organisations, strict=True):
        assert listed["ca_certificate"] == to_hex(genesis.ca_certificate)
    assert [o["regulator"] for o in organisations] == [True, False, False, False]


@pytest.mark.parametrize(
    ("method", "params", "code", "name"),
    [
        ("gov_proposal", {"id": 3}, 1965, "GovProposalNotFound"),
        ("gov_proposal", {}, -32602, "InvalidParams"),
        ("gov_proposal", {"id": -1}, -32602, "InvalidParams"),
        ("gov_proposals", {"status": "pending"}, -32602, "InvalidParams"),
        ("gov_proposals", {"limit": 0}, -32602, "InvalidParams"),
        ("gov_proposals", {"limit": 51}, -32602, "InvalidParams"),
        ("gov_params", {"height": 1}, -32602, "InvalidParams"),
    ],
)
def test_errors(rpc_raw: Rpc, method: str, params: Any, code: int, name: str) -> None:
    answer = rpc_raw(method, params)
    assert answer["error"]["code"] == code and answer["error"]["data"]["name"] == name


def test_openrpc_describes_the_governance_methods(rpc: Rpc) -> None:
    methods = {m["name"]: m for m in rpc("rpc_discover")["methods"]}
    assert set(GOV_METHODS) <= set(methods)
    status = {p["name"]: p for p in methods["gov_proposals"]["params"]}["status"]
    assert status["schema"]["enum"] == ["open", "executed", "rejected", "failed", "expired"]
    assert [p["name"] for p in methods["gov_proposal"]["params"]] == ["id"]
