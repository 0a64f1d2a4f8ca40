"""`gongshi gov`: every propose kind, votes, list, show, params, validators, organisations,
and each governance error as the command shows it, against a real API server."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from gongshi.api.testing import LocalChain, ServedChain
from gongshi.cli.main import EXIT_FAILURE, EXIT_INPUT_ERROR, main
from gongshi.crypto import PrivateKey
from gongshi.pki import (
    CertificateAuthority,
    MemberRequest,
    Role,
    Validity,
    create_certificate_authority,
    issue_member_certificate,
)
from gongshi.sdk import Client, Identity, NetworkInfo

Run = Callable[..., tuple[int, str, str]]
START = datetime(2029, 1, 1, tzinfo=UTC)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedChain]:
    chain = LocalChain.create(tmp_path / "chain", organisations=4)
    server = ServedChain(chain, auto_commit_ms=30).start()
    yield server
    server.stop()


@pytest.fixture
def run(served: ServedChain, capsys: pytest.CaptureFixture[str]) -> Run:
    """Run a command against the served chain; (exit code, stdout, stderr)."""

    def invoke(*arguments: str) -> tuple[int, str, str]:
        command = [*arguments, "--network", str(served.chain.network_dir), "--url", served.url]
        try:
            main(command)
            code = 0
        except SystemExit as exit_info:
            code = int(exit_info.code or 0)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def proposal_id(out: str) -> int:
    found = re.search(r"^proposal (\d+) \(\w+\): open$", out, re.M)
    assert found, out
    return int(found.group(1))


def approve(run: Run, number: int, *organisations: str) -> str:
    """Vote yes from each organisation; the last command's output."""
    out = ""
    for organisation in organisations:
        code, out, err = run("gov", "vote", str(number), "yes", "--org", organisation)
        assert code == 0, err
    return out


def error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# --- kinds ---------------------------------------------------------------------------------------


def test_set_params_with_an_activation_height_is_read_back(run: Run) -> None:
    code, out, err = run("gov", "params")
    assert code == 0, err
    assert re.search(r"^  block_txs_max +2000$", out, re.M) and "scheduled: none" in out
    code, out, err = run(
        "gov", "propose", "set-params", "block_txs_max=77", "block_gas_max=5000000",
        "--activation-height", "60", "--description", "smaller blocks",
    )  # fmt: skip
    assert code == 0, err
    assert "status    SUCCESS" in out and "governance.ProposalSubmitted" in out
    assert re.search(r"^proof verified against block \d+ signed by 4/4 validators$", out, re.M)
    number = proposal_id(out)
    out = approve(run, number, "org2", "org3")
    assert f"proposal {number}: executed, yes 3, no 0" in out
    assert "governance.ParametersChanged" in out
    code, out, err = run("gov", "params")
    assert code == 0, err
    assert re.search(r"^  block_txs_max +2000$", out, re.M)  # not before block 60
    assert "scheduled from block 60: block_gas_max=5000000, block_txs_max=77" in out
    code, out, err = run("gov", "show", str(number))
    assert code == 0, err
    assert "change_parameters (executed)" in out and "description  smaller blocks" in out
    assert "activation   block 60" in out and "effective    block 60" in out
    assert re.search(r"^    org3 +yes$", out, re.M) and re.search(r"^    org4 +-$", out, re.M)
    assert '"block_txs_max": 77' in out


def _authority(served: ServedChain, organisation: str) -> CertificateAuthority:
    suite = served.chain.suite
    return create_certificate_authority(
        organisation=organisation, suite=suite, validity=Validity.starting(START, 3650)
    )


def _member(
    served: ServedChain, authority: CertificateAuthority, role: Role, folder: Path
) -> tuple[Path, PrivateKey]:
    """A member certificate and key written as `folder/<role>.crt` and `.key`."""
    suite = served.chain.suite
    key = suite.generate_private_key()
    request = MemberRequest(
        common_name=f"{authority.organisation}-{role.value}",
        role=role,
        chain_public_key=key.public_key_bytes(),
        validity=Validity.starting(START, 3650),
    )
    certificate = issue_member_certificate(authority, suite, request)
    folder.mkdir(parents=True, exist_ok=True)
    key.save(folder / f"{role.value}.key")
    path = folder / f"{role.value}.crt"
    path.write_bytes(certificate.public_bytes(Encoding.PEM))
    return path, key


def test_add_an_organisation_and_its_observer(
    run: Run, served: ServedChain, tmp_path: Path
) -> None:
    authority = _authority(served, "org5")
    ca_file = tmp_path / "org5-ca.crt"
    ca_file.write_bytes(authority.certificate.public_bytes(Encoding.PEM))
    code, out, err = run(
        "gov", "propose", "add-organisation", "--name", "org5", "--ca-cert", str(ca_file)
    )
    assert code == 0, err
    approve(run, proposal_id(out), "org2", "org3")
    code, out, err = run("gov", "organisations")
    assert code == 0, err
    assert "5 organisations" in out and re.search(r"^  org5$", out, re.M)
    observer_cert, observer_key = _member(served, authority, Role.OBSERVER, tmp_path / "obs")
    code, out, err = run(
        "gov", "propose", "add-node", "--role", "observer", "--name", "watch5",
        "--cert", str(observer_cert), "--p2p", "10.0.0.5:26600", "--api", "10.0.0.5:26601",
    )  # fmt: skip
    assert code == 0, err
    approve(run, proposal_id(out), "org2", "org3")
    code, out, err = run("gov", "validators")
    assert code == 0, err
    assert "validators in force" in out and "observers: 1" in out
    assert f"0x{observer_key.public_key_bytes().hex()}" in out and "watch5" in out
    code, out, err = run("gov", "propose", "remove-node", "--cert", str(observer_cert))
    assert code == 0, err
    code, out, err = run("gov", "show", str(proposal_id(out)))
    assert code == 0, err
    assert f'"public_key": "0x{observer_key.public_key_bytes().hex()}"' in out
    node_cert, node_key = _member(served, authority, Role.NODE, tmp_path / "node5")
    code, out, err = run(
        "gov", "propose", "add-node", "--role", "node", "--name", "node5", "--cert",
        str(node_cert), "--p2p", "10.0.0.5:26610", "--api", "10.0.0.5:26611",
        "--activation-height", "90",
    )  # fmt: skip
    assert code == 0, err
    approve(run, proposal_id(out), "org2", "org3")
    code, out, err = run("gov", "validators")
    assert code == 0, err
    assert re.search(r"^validators in force after block \d+ \(since block 0\): 4$", out, re.M)
    assert re.search(r"^pending from block 90 \(announced by block \d+\): 5$", out, re.M)
    assert f"0x{node_key.public_key_bytes().hex()}  p2p 10.0.0.5:26610" in out


def test_every_other_kind_is_submitted(run: Run, served: ServedChain, tmp_path: Path) -> None:
    network = served.chain.network_dir
    client_cert = network / "orgs/org2/client/client.crt"
    address = Identity.load(network, "org2", "client").address.hex()
    node_key = "0x" + served.chain.genesis.validators[3].public_key.hex()
    commands = [
        ("remove-organisation", "--name", "org4"),
        ("remove-node", "--public-key", node_key, "--activation-height", "500"),
        ("revoke-certificate", "--cert", str(client_cert)),
        ("revoke-certificate", "--serial", "0x0a0b", "--organisation", "org2"),
        ("revoke-certificate", "--key-hash", "ab" * 32),
        ("change-role", "--address", address, "--role", "admin"),
        ("freeze-contract", "--name", "c1"),
        ("unfreeze-contract", "--name", "c1"),
    ]
    kinds = []
    for command in commands:
        code, out, err = run("gov", "propose", *command, "--expiry-height", "5000")
        assert code == 0, (command, err)
        kinds.append(re.search(r"^proposal \d+ \((\w+)\): open$", out, re.M).group(1))  # type: ignore[union-attr]
    assert kinds == [
        "remove_organisation",
        "remove_node",
        "revoke_certificate",
        "revoke_certificate",
        "revoke_certificate",
        "change_role",
        "freeze_contract",
        "unfreeze_contract",
    ]
    code, out, err = run("gov", "list")
    assert code == 0, err
    assert f"{len(commands)} open proposal(s)" in out
    rows = re.findall(r"^ +(\d+)  (\w+) +(\w+) +(\d+/\d+/\d+) +(\d+)$", out, re.M)
    assert [row[1] for row in rows] == kinds
    assert all(row[2] == "open" and row[3] == "1/0/3" and row[4] == "5000" for row in rows)
    code, out, err = run("gov", "show", "2")
    assert code == 0, err
    assert '"organisation": "org2"' in out and '"serial": "0x' in out


# --- errors --------------------------------------------------------------------------------------


def test_vote_errors_show_the_contract_codes(run: Run, served: ServedChain) -> None:
    code, out, err = run("gov", "propose", "set-params", "mempool_txs_max=5000")
    assert code == 0, err
    number = proposal_id(out)
    code, out, err = run("gov", "vote", str(number), "no")  # org1 proposed: its yes counts
    assert code == EXIT_FAILURE
    assert "status    FAILED: [1614]" in out
    assert error_line(err).startswith("error [1614]: vote FAILED at height")
    assert "org1 already voted yes" in err
    code, out, err = run("gov", "vote", "77", "yes", "--org", "org2")
    assert code == EXIT_FAILURE and error_line(err).startswith("error [1617]:")
    approve(run, number, "org2", "org3")
    code, out, err = run("gov", "vote", str(number), "yes", "--org", "org4")
    assert code == EXIT_FAILURE and error_line(err).startswith("error [1616]:")
    assert "is executed since height" in err
    code, out, err = run("gov", "list", "--status", "executed")
    assert code == 0 and "1 executed proposal(s)" in out


def test_voting_on_an_expired_proposal(run: Run, served: ServedChain) -> None:
    expiry = served.chain.height + 1
    code, out, err = run(
        "gov", "propose", "set-params", "mempool_txs_max=5000", "--expiry-height", str(expiry)
    )
    assert code == 0, err
    number = proposal_id(out)
    code, out, err = run("gov", "list", "--status", "expired")
    assert code == 0 and re.search(rf"^ +{number}  change_parameters +expired ", out, re.M)
    code, out, err = run("gov", "vote", str(number), "yes", "--org", "org2")
    assert code == EXIT_FAILURE
    assert error_line(err) == f"error [1615]: vote FAILED at height {expiry + 1}: " + (
        f"proposal {number} expired at height {expiry}"
    )


def test_non_admins_are_refused(run: Run, served: ServedChain) -> None:
    client_dir = str(served.chain.network_dir / "orgs/org1/client")
    code, out, err = run(
        "gov", "propose", "freeze-contract", "--name", "c", "--identity", client_dir
    )
    assert code == EXIT_FAILURE
    assert error_line(err) == (
        "error [1661]: role client may not call governance.propose (allowed: admin)"
    )
    code, out, err = run("gov", "propose", "set-params", "tx_bytes_max=1")
    number = proposal_id(out)
    code, out, err = run("gov", "vote", str(number), "yes", "--identity", client_dir)
    assert code == EXIT_FAILURE
    assert error_line(err) == (
        "error [1661]: role client may not call governance.vote (allowed: admin)"
    )


def test_a_new_organisation_may_not_vote_on_older_proposals(
    run: Run, served: ServedChain, tmp_path: Path
) -> None:
    """The electorate is fixed when proposed: PERMISSION_DENIED (1619) in the receipt."""
    code, out, err = run("gov", "propose", "set-params", "tx_bytes_max=30000")
    older = proposal_id(out)
    authority = _authority(served, "org5")
    ca_file = tmp_path / "org5-ca.crt"
    ca_file.write_bytes(authority.certificate.public_bytes(Encoding.PEM))
    code, out, err = run(
        "gov", "propose", "add-organisation", "--name", "org5", "--ca-cert", str(ca_file)
    )
    approve(run, proposal_id(out), "org2", "org3")
    admin_cert, admin_key = _member(served, authority, Role.ADMIN, tmp_path / "org5-admin")
    network = NetworkInfo.load(served.chain.network_dir)
    identity = Identity(
        organisation="org5",
        role="admin",
        suite=served.chain.suite,
        key=admin_key,
        certificate_pem=admin_cert.read_bytes(),
    )
    with Client(served.url, network, identity) as org5:
        pem = admin_cert.read_text()
        org5.execute("identity", "register", {"certificate_pem": pem})
    code, out, err = run("gov", "vote", str(older), "yes", "--identity", str(admin_cert.parent))
    assert code == EXIT_FAILURE
    assert "status    PERMISSION_DENIED: [1619]" in out
    assert error_line(err).startswith("error [1619]: vote PERMISSION_DENIED at height")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("set-params", "chain_id=1"), "parameter 'chain_id' may not be changed"),
        (("set-params", "block_txs_max"), "is not KEY=VALUE"),
        (("change-role", "--address", "0x12", "--role", "client"), "--address must be 20"),
        (("change-role", "--address", "11" * 20, "--role", "king"), "role must be one of"),
        (("remove-node",), "public key or its certificate"),
        (("revoke-certificate", "--serial", "01"), "a serial needs its organisation"),
        (("freeze-contract", "--name", "c", "--activation-height", "9"), "no activation"),
        (("add-organisation", "--name", "x", "--ca-cert", "/nonexistent"), "cannot read"),
    ],
)
def test_bad_payloads_fail_before_sending(run: Run, arguments: Any, message: str) -> None:
    code, out, err = run("gov", "propose", *arguments)
    assert code == EXIT_INPUT_ERROR, (out, err)
    assert message in error_line(err)
    code, out, err = run("gov", "list", "--all")
    assert "0 proposal(s)" in out  # nothing was sent


def test_show_of_an_unknown_proposal(run: Run) -> None:
    code, _, err = run("gov", "show", "5")
    assert code == EXIT_FAILURE
    assert error_line(err) == "error [1965]: no governance proposal 5 at height 0"
