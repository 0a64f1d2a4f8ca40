"""Governance on a real 4-node network: parameters and revocations take force in the running
nodes, a fifth organisation's node joins consensus, a node certificate is revoked (its TLS
connections are refused) and a node is removed while the others keep committing.

Proposals and votes are plain `governance.propose` / `governance.vote` transactions sent
with the SDK; receipts are read over JSON-RPC, so the test observes what each node says
(tests/sdk/test_sdk_epochs.py covers the SDK's verification across epochs).
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography import x509

from gongshi.cli.main import cli
from gongshi.codec import decode
from gongshi.codec.qc import QuorumCertificate
from gongshi.node.config import load_node_config
from gongshi.node.localnet import NodeInfo
from gongshi.sdk import Client
from gongshi.sdk.errors import RemoteError
from gongshi.storage import Ledger

GOVERNANCE_GAS = 5_000_000
RECEIPT_TIMEOUT_S = 30.0


def wait_for(predicate: Any, what: str, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for: {what}")
        time.sleep(0.2)


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            probe.bind(("127.0.0.1", 0))
            sockets.append(probe)
        return [probe.getsockname()[1] for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


@dataclass
class Governance:
    """Admins of the network's organisations, sending through one node."""

    localnet: Any
    node: str = "node1"
    clients: dict[tuple[str, str], Client] = field(default_factory=dict)

    def client(self, organisation: str, role: str = "admin") -> Client:
        key = (organisation, role)
        if key not in self.clients:
            self.clients[key] = Client.connect(
                self.localnet.directory, node=self.node, organisation=organisation, role=role
            )
        return self.clients[key]

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    def send(self, organisation: str, method: str, args: dict[str, Any]) -> bytes:
        client = self.client(organisation)
        return client.submit("governance", method, args, gas_limit=GOVERNANCE_GAS)

    def receipt(self, tx_hash: bytes) -> dict[str, Any]:
        def fetch() -> dict[str, Any] | None:
            params = {"tx_hash": "0x" + tx_hash.hex()}
            found = self.localnet.rpc.call(self.node, "tx_receipt", params)
            return found if isinstance(found, dict) else None

        found = wait_for(fetch, f"receipt of {tx_hash.hex()[:16]}", RECEIPT_TIMEOUT_S)
        receipt = found["receipt"]
        assert receipt["status"] == "SUCCESS", receipt
        return dict(found)

    def enact(self, kind: str, payload: dict[str, Any], **extra: Any) -> dict[str, Any]:
        """Propose as org1's admin and vote yes with as many more genesis organisations as
        the proposal's threshold needs (votes sent together); the executing block's height
        and the `ProposalExecuted` event's `effective_height`."""
        args = {"kind": kind, "payload": payload, **extra}
        proposed = self.receipt(self.send("org1", "propose", args))
        proposal_id = proposed["receipt"]["return_value"]["id"]
        (submitted,) = [
            e["fields"] for e in proposed["receipt"]["events"] if e["name"] == "ProposalSubmitted"
        ]
        voters = ["org2", "org3", "org4"][: submitted["threshold"] - 1]
        votes = [self.send(org, "vote", {"id": proposal_id, "approve": True}) for org in voters]
        events = [
            (found["height"], event)
            for found in (self.receipt(vote) for vote in votes)
            for event in found["receipt"]["events"]
        ]
        executed = [(h, e["fields"]) for h, e in events if e["name"] == "ProposalExecuted"]
        assert len(executed) == 1, f"proposal {proposal_id} ({kind}) not executed once: {events}"
        height, fields = executed[0]
        return {"id": proposal_id, "height": height, "effective": fields["effective_height"]}


@pytest.fixture
def governance(localnet: Any) -> Iterator[Governance]:
    gov = Governance(localnet)
    try:
        yield gov
    finally:
        gov.close()


def serial_of(path: Path) -> bytes:
    serial = x509.load_pem_x509_certificate(path.read_bytes()).serial_number
    return serial.to_bytes(max(1, (serial.bit_length() + 7) // 8), "big")


def certificates(ledger: Ledger, start: int, stop: int) -> dict[int, QuorumCertificate]:
    return {
        height: decode(QuorumCertificate, ledger.get_certificate(height))
        for height in range(start, stop)
    }


# --- parameters and a client's revocation (default run) -----------------------------------------

NEW_BLOCK_TXS_MAX = 3
BURST = 48


@pytest.mark.multinode
@pytest.mark.timeout(180)
def test_parameter_change_and_client_revocation(localnet: Any, governance: Governance) -> None:
    start = localnet.height_max()
    activation = start + 24
    changed = governance.enact(
        "change_parameters",
        {"changes": {"block_txs_max": NEW_BLOCK_TXS_MAX}},
        activation_height=activation,
    )
    assert changed["height"] < activation
    # Clients only: the admins keep sending governance transactions through their own SDK
    # clients, whose nonces another client of the same key would race.
    clients = [i for i, identity in enumerate(localnet.identities) if identity[1] == "client"]
    before = []
    for index in range(BURST):
        sender = clients[index % len(clients)]
        client = localnet.client(sender, ("node2", "node3")[sender % 2])
        args = {"doc_hash": (b"before-%d" % index).ljust(32, b"."), "metadata": {"n": index}}
        before.append(client.submit("notary", "register", args, gas_limit=200_000))

    serial = serial_of(localnet.directory / "orgs" / "org4" / "client" / "client.crt")
    revoked = governance.enact("revoke_certificate", {"organisation": "org4", "serial": serial})
    localnet.wait_height(revoked["height"] + 1, timeout_s=30.0)
    org4_client = localnet.client(6, "node2")  # identities: (org, client), (org, admin) per org
    assert localnet.identities[6] == ("org4", "client")
    with pytest.raises(RemoteError) as refused:
        org4_client.submit("notary", "register", {"doc_hash": bytes(32), "metadata": {}})
    assert refused.value.name == "SenderNotPermitted", refused.value

    localnet.wait_height(activation + 1, timeout_s=60.0)
    senders = [i for i, identity in enumerate(localnet.identities) if identity[0] != "org4"]
    after = []
    for index in range(BURST):
        sender = senders[index % len(senders)]
        client = localnet.client(sender, "node3")
        args = {"doc_hash": (b"after-%d" % index).ljust(32, b"."), "metadata": {"n": index}}
        after.append(client.submit("notary", "register", args, gas_limit=200_000))
    localnet.wait_mempools_empty(timeout_s=90.0)
    top = min(h or 0 for h in localnet.heights().values())
    localnet.stop()

    ledgers = localnet.open_ledgers()
    try:
        ledger = ledgers["node1"]
        counts = {h: len(ledger.get_block(h).transactions) for h in range(1, top + 1)}
        landed = {r.tx_hash: h for h in counts for r in ledger.get_receipts(h)}
        assert set(after) <= set(landed) and set(before) <= set(landed)
        assert all(counts[h] <= NEW_BLOCK_TXS_MAX for h in counts if h >= activation)
        assert any(landed[tx] >= activation for tx in after)
        # The old limit (2000) still applied below the activation height.
        assert max(counts[h] for h in counts if h < activation) > NEW_BLOCK_TXS_MAX
    finally:
        for opened in ledgers.values():
            opened.close()


# --- a fifth organisation joins; a node certificate is revoked; a node is removed (slow) -------


def join(governance: Governance, organisation: str, name: str, role: str) -> tuple[NodeInfo, int]:
    """`gongshi org new`, then `add_organisation` and `add_node` enacted and the node
    started; (its info, the add_node proposal's effective height)."""
    localnet = governance.localnet
    p2p, api, metrics = free_ports(3)
    result = CliRunner().invoke(
        cli,
        [
            "org",
            "new",
            organisation,
            "--role",
            role,
            "--network",
            str(localnet.directory),
            "--node",
            name,
            "--p2p",
            f"127.0.0.1:{p2p}",
            "--api",
            f"127.0.0.1:{api}",
            "--metrics",
            f"127.0.0.1:{metrics}",
        ],
    )
    assert result.exit_code == 0, result.output
    config_path = localnet.directory / "nodes" / name / "config.toml"
    info = NodeInfo(name=name, config_path=config_path, config=load_node_config(config_path))
    localnet.network.nodes.append(info)
    localnet.rpc.urls[name] = f"http://127.0.0.1:{api}/"
    proposals = json.loads(
        (localnet.directory / "orgs" / organisation / "proposals.json").read_text()
    )
    governance.enact("add_organisation", proposals["add_organisation"])
    add_node = dict(proposals["add_node"])
    add_node["public_key"] = bytes.fromhex(add_node["public_key"])
    added = governance.enact("add_node", add_node)
    localnet.network.start(name)
    return info, int(added["effective"])


def log_has(info: NodeInfo, pattern: str) -> bool:
    return re.search(pattern, info.log_path.read_text(errors="replace")) is not None


@pytest.mark.slow
@pytest.mark.multinode
@pytest.mark.timeout(400)
def test_fifth_organisation_joins_then_a_node_is_revoked_and_removed(
    localnet: Any, governance: Governance
) -> None:
    node5, joined_at = join(governance, "org5", "node5", "node")
    localnet.wait_height(joined_at + 4, names=["node5"], timeout_s=90.0)
    # An observer of a sixth organisation follows the chain without voting.
    observer, _ = join(governance, "org6", "watch6", "observer")
    localnet.wait_height(localnet.height_max() + 2, names=["watch6"], timeout_s=90.0)
    joined = localnet.metrics("node5")
    assert joined["gongshi_consensus_epoch"] == 1 and joined["gongshi_validators"] == 5
    assert joined["gongshi_validator"] == 1
    watching = localnet.metrics("watch6")
    assert watching["gongshi_validator"] == 0 and watching["gongshi_consensus_epoch"] == 1

    # Revoke node4's TLS certificate: every peer drops it and refuses it again; from then on
    # any quorum of the five validators (4 of 5) must include node5.
    node4 = localnet.network.info("node4")
    serial = serial_of(node4.config_path.parent / "node.crt")
    governance.enact("revoke_certificate", {"organisation": "org4", "serial": serial})
    wait_for(
        lambda: localnet.metrics("node4")["gongshi_peers_connected"] == 0,
        "node4 cut off",
        30.0,
    )
    live = ["node1", "node2", "node3", "node5"]
    wait_for(
        lambda: sum(localnet.metrics(n)["gongshi_peer_handshake_failures_total"] for n in live),
        "node4's redials refused",
        30.0,
    )
    cut_off_from = localnet.height_max()
    localnet.wait_height(cut_off_from + 6, names=live, timeout_s=60.0)
    assert localnet.metrics("node4")["gongshi_peers_connected"] == 0

    node4_key = localnet.network.genesis.validators[3].public_key
    removed = governance.enact("remove_node", {"public_key": node4_key})
    left_at = removed["effective"]
    localnet.wait_height(left_at + 6, names=live, timeout_s=60.0)
    for name in live:  # the other three validators and the observer
        assert localnet.metrics(name)["gongshi_peers_connected"] == 4
    # A validator restarted in the third epoch resumes from its ledger and keeps up.
    localnet.network.stop("node2")
    localnet.wait_height(localnet.height_max() + 3, names=["node1", "node3", "node5"])
    localnet.network.start("node2")
    followers = [*live, "watch6"]
    localnet.wait_height(localnet.height_max() + 4, names=followers, timeout_s=60.0)
    top = min(h or 0 for h in localnet.heights(followers).values())
    localnet.stop()

    node1 = localnet.network.info("node1")
    assert log_has(node1, r"closing peer connection peer=node4.*revoked")
    assert log_has(node1, r"peer handshake failed .*reason=revoked") or log_has(
        node4, r"peer handshake failed"
    )
    ledgers = {
        name: Ledger.open(
            localnet.network.info(name).config.node.data_dir / "ledger", localnet.suite
        )
        for name in followers
    }
    try:
        reference = ledgers["node1"]
        for name, ledger in ledgers.items():
            for height in range(top + 1):
                assert ledger.get_header(height) == reference.get_header(height), (name, height)
        # Epochs: genesis set, +node5, (node4 cut off), -node4.
        assert reference.get_header(joined_at - 1).config_version == 0
        assert reference.get_header(joined_at).config_version == 1
        assert reference.get_header(left_at).config_version == 2
        signed = certificates(reference, cut_off_from + 2, left_at)
        assert signed and all(4 in qc.signers for qc in signed.values())
        assert all(3 not in qc.signers for qc in signed.values())
        after = certificates(reference, left_at, top)
        assert after and all(len(qc.signers) >= 3 for qc in after.values())
        assert all(max(qc.signers) <= 3 for qc in after.values())  # four validators now
    finally:
        for ledger in ledgers.values():
            ledger.close()
    assert log_has(node5, r"node started name=node5 height=0 .*role=observer")
    assert log_has(observer, r"node started name=watch6 height=0 .*role=observer")
    assert not log_has(observer, r"role=validator")
