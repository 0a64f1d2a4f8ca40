"""`gongshi org new`: a joining organisation's files, node configuration and the governance
payloads, for an existing network directory."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from gongshi.cli.init_network import NetworkOptions, create_network
from gongshi.cli.main import cli
from gongshi.crypto import get_suite
from gongshi.crypto.keyfile import read_file
from gongshi.node.config import load_node_config
from gongshi.node.genesis import load_genesis
from gongshi.node.node import own_authorities
from gongshi.pki.roles import Role
from gongshi.pki.validation import validate_certificate


@pytest.fixture(scope="module", params=["intl", "gm"])
def network(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp(f"org-{request.param}") / "net"
    options = NetworkOptions(organisations=2, suite=request.param, base_port=31000)
    create_network(options, directory, now=datetime.now(UTC))
    return directory


def org_new(directory: Path, *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, error: stderr or the GongshiError `main` would print)."""
    result = CliRunner().invoke(cli, ["org", "new", *args, "--network", str(directory)])
    error = result.stderr + (str(result.exception) if result.exception else "")
    return result.exit_code, result.stdout, error


def test_org_new_creates_a_node_that_trusts_its_own_ca(network: Path) -> None:
    code, out, err = org_new(network, "org3")
    assert code == 0, err
    proposals = json.loads(out)
    assert proposals == json.loads((network / "orgs" / "org3" / "proposals.json").read_text())
    genesis = load_genesis(network / "genesis.toml")
    config = load_node_config(network / "nodes" / "node3" / "config.toml")
    # Numbered after the existing nodes, ports in gongshi init's pattern, same genesis.
    assert config.node.name == "node3" and config.p2p.listen_address.port == 31020
    assert config.api.listen_address.port == 31021 and config.metrics.listen_address.port == 31022
    assert config.node.genesis_file.resolve() == (network / "genesis.toml").resolve()
    assert set(config.p2p.peers) == {v.p2p_address for v in genesis.validators}
    authorities = own_authorities(config)
    assert [a.organisation for a in authorities] == ["org3"]
    # The node's certificate validates against genesis CAs plus its own (not genesis alone).
    suite = get_suite(genesis.suite)
    trust = genesis.trust_store()
    joined = type(trust)(
        suite=suite,
        authorities=(*trust.authorities, *authorities),
        regulator_organisations=trust.regulator_organisations,
    )
    identity = validate_certificate(
        read_file(config.identity.certificate_file),
        trust=joined,
        now_ms=int(datetime.now(UTC).timestamp() * 1000),
        roles=(Role.NODE,),
    )
    assert proposals["add_node"]["public_key"] == identity.public_key.hex()
    signing_key = suite.load_private_key(config.identity.signing_key_file)
    assert signing_key.public_key_bytes() == identity.public_key
    assert proposals["add_node"]["p2p_address"] == str(config.p2p.listen_address)
    assert proposals["add_organisation"]["name"] == "org3"
    assert "BEGIN CERTIFICATE" in proposals["add_organisation"]["ca_certificate_pem"]
    for role in ("admin", "client"):
        assert (network / "orgs" / "org3" / role / f"{role}.crt").exists()
    key_mode = (network / "nodes" / "node3" / "node.key").stat().st_mode & 0o777
    assert key_mode == 0o600


def test_org_new_refuses_existing_names_and_makes_observers(network: Path) -> None:
    code, _, err = org_new(network, "org1")
    assert code != 0 and "genesis" in err
    code, out, err = org_new(network, "watchers", "--role", "observer", "--node", "watch1")
    assert code == 0, err
    proposals = json.loads(out)
    assert proposals["add_node"]["role"] == "observer"
    config = load_node_config(network / "nodes" / "watch1" / "config.toml")
    assert config.identity.certificate_file.name == "observer.crt"
    code, _, err = org_new(network, "watchers")
    assert code != 0 and "exists" in err
