"""`gongshi init`: the network directory it writes, and its answers to bad input."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from gongshi.cli.main import EXIT_INPUT_ERROR, main
from gongshi.crypto import get_suite
from gongshi.node.config import load_node_config
from gongshi.node.genesis import Genesis, genesis_hash, load_genesis
from gongshi.pki import Role, load_certificate, validate_certificate

ORG_ROLES = {"admin": Role.ADMIN, "client": Role.CLIENT, "regulator": Role.REGULATOR}


def _init(*arguments: str) -> None:
    main(["init", *arguments])


def _fail(capsys: pytest.CaptureFixture[str], *arguments: str) -> str:
    """Run init expecting exit code 2; return its one-line error message."""
    with pytest.raises(SystemExit) as exit_info:
        _init(*arguments)
    assert exit_info.value.code == EXIT_INPUT_ERROR
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "Traceback" not in error
    return error


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("suite", ["intl", "gm"])
@pytest.mark.parametrize("organisations", [1, 4, 7])
def test_init_writes_a_complete_network(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], suite: str, organisations: int
) -> None:
    out = tmp_path / "net"
    _init("--orgs", str(organisations), "--suite", suite, "--out", str(out))
    summary = capsys.readouterr().out
    genesis = load_genesis(out / "genesis.toml")
    digest = genesis_hash(genesis)
    assert digest.hex() in summary
    assert f"gongshi node start --config {out / 'nodes' / 'node1' / 'config.toml'}" in summary
    assert genesis.suite == suite and len(genesis.organisations) == organisations
    assert genesis.params.governance_threshold == organisations // 2 + 1
    trust = genesis.trust_store()
    now_ms = genesis.genesis_time_ms
    for index, organisation in enumerate(genesis.organisations):
        org_dir = out / "orgs" / organisation.name
        ca = load_certificate((org_dir / "ca" / "ca.crt").read_bytes())
        assert ca.public_bytes(serialization.Encoding.DER) == organisation.ca_certificate
        members = sorted(path.name for path in org_dir.iterdir() if path.name != "ca")
        expected = ["admin", "client", "regulator"] if index == 0 else ["admin", "client"]
        assert members == expected
        for member in members:
            identity = validate_certificate(
                (org_dir / member / f"{member}.crt").read_bytes(),
                trust=trust,
                now_ms=now_ms,
                roles=[ORG_ROLES[member]],
            )
            assert identity.organisation == organisation.name
            key = get_suite(suite).load_private_key(org_dir / member / f"{member}.key")
            assert key.public_key_bytes() == identity.public_key
        _check_node(out, genesis, index, now_ms)


def _check_node(out: Path, genesis: Genesis, index: int, now_ms: int) -> None:
    validator = genesis.validators[index]
    config = load_node_config(out / "nodes" / validator.name / "config.toml")
    assert config.node.name == validator.name
    assert config.node.genesis_hash == genesis_hash(load_genesis(config.node.genesis_file))
    assert config.p2p.listen_address == validator.p2p_address
    assert config.api.listen_address == validator.api_address
    assert set(config.p2p.peers) == {v.p2p_address for v in genesis.validators} - {
        validator.p2p_address
    }
    assert config.node.data_dir.is_dir()
    identity = validate_certificate(
        config.identity.certificate_file.read_bytes(),
        trust=genesis.trust_store(),
        now_ms=now_ms,
        roles=[Role.NODE],
    )
    assert identity.public_key == validator.public_key
    key = get_suite(genesis.suite).load_private_key(config.identity.signing_key_file)
    assert key.public_key_bytes() == validator.public_key
    assert config.tls_key_file.is_file()


@pytest.mark.parametrize("suite", ["intl", "gm"])
def test_key_material_is_private(tmp_path: Path, suite: str) -> None:
    out = tmp_path / "net"
    _init("--orgs", "2", "--suite", suite, "--out", str(out))
    keys = list(out.rglob("*.key"))
    per_member = 2 if suite == "gm" else 1  # gm: SM2 signing key + P-256 TLS key
    assert len(keys) == 2 * (1 + per_member * 3) + per_member  # CA + admin, client, node; regulator
    for key in keys:
        assert _mode(key) == 0o600, key
    for directory in [out / "orgs", out / "nodes", *out.glob("orgs/*/*"), *out.glob("nodes/*")]:
        assert _mode(directory) == 0o700, directory
    for public in [out / "genesis.toml", *out.rglob("*.crt"), *out.rglob("config.toml")]:
        assert _mode(public) == 0o644, public
    assert not list(out.glob(".gongshi-init-*"))  # the staging directory is gone


def test_options_reach_genesis_and_configs(tmp_path: Path) -> None:
    out = tmp_path / "net"
    _init(
        "--orgs", "3", "--suite", "intl", "--out", str(out),
        "--chain-id", "supply-chain", "--base-port", "31000", "--regulator-org", "org3",
    )  # fmt: skip
    genesis = load_genesis(out / "genesis.toml")
    assert genesis.params.chain_id == "supply-chain"
    assert [v.p2p_address.port for v in genesis.validators] == [31000, 31010, 31020]
    assert [v.api_address.port for v in genesis.validators] == [31001, 31011, 31021]
    assert [r.organisation for r in genesis.regulators] == ["org3"]
    assert (out / "orgs" / "org3" / "regulator" / "regulator.crt").is_file()
    assert not (out / "orgs" / "org1" / "regulator").exists()
    config = load_node_config(out / "nodes" / "node2" / "config.toml")
    assert config.metrics.listen_address.port == 31012


def test_force_replaces_only_the_network(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "net"
    _init("--orgs", "3", "--suite", "intl", "--out", str(out))
    (out / "notes.txt").write_text("mine")
    first = load_genesis(out / "genesis.toml")
    message = _fail(capsys, "--orgs", "1", "--suite", "intl", "--out", str(out))
    assert message.startswith("error [1187]:") and "not empty; use --force" in message
    assert load_genesis(out / "genesis.toml") == first  # untouched
    _init("--orgs", "1", "--suite", "gm", "--out", str(out), "--force")
    second = load_genesis(out / "genesis.toml")
    assert second.suite == "gm" and len(second.organisations) == 1
    assert sorted(path.name for path in (out / "orgs").iterdir()) == ["org1"]
    assert sorted(path.name for path in (out / "nodes").iterdir()) == ["node1"]
    assert (out / "notes.txt").read_text() == "mine"


def test_empty_existing_directory_is_used(tmp_path: Path) -> None:
    _init("--orgs", "1", "--suite", "intl", "--out", str(tmp_path))
    assert (tmp_path / "genesis.toml").is_file()


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--orgs", "0", "--suite", "gm"], "error [1188]: --orgs must be between 1 and 100, not 0"),
        (["--orgs", "-3", "--suite", "intl"], "error [1188]: --orgs must be between 1 and 100"),
        (["--orgs", "101", "--suite", "intl"], "error [1188]: --orgs must be between 1 and 100"),
        (["--orgs", "2", "--suite", "rsa"], "error [1108]: unknown crypto suite 'rsa'"),
        (["--orgs", "2", "--suite", "gm", "--chain-id", "a b"], "error [1188]: --chain-id 'a b'"),
        (["--orgs", "2", "--suite", "gm", "--base-port", "65530"], "error [1188]: --base-port"),
        (["--orgs", "2", "--suite", "gm", "--base-port", "0"], "error [1188]: --base-port"),
        (
            ["--orgs", "2", "--suite", "gm", "--regulator-org", "org3"],
            "error [1188]: --regulator-org",
        ),
    ],
)
def test_bad_options_exit_2_and_create_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], expected: str
) -> None:
    out = tmp_path / "net"
    assert _fail(capsys, *arguments, "--out", str(out)).startswith(expected)
    assert not out.exists()


def test_unwritable_output_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    message = _fail(capsys, "--orgs", "1", "--suite", "intl", "--out", str(blocker))
    assert message == f"error [1187]: {blocker} exists and is not a directory"
    message = _fail(capsys, "--orgs", "1", "--suite", "intl", "--out", str(blocker / "net"))
    assert message.startswith(f"error [1187]: cannot create {blocker / 'net'}: ")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_directory_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        message = _fail(capsys, "--orgs", "1", "--suite", "intl", "--out", str(locked / "net"))
        assert message.startswith("error [1187]:") and "Permission denied" in message
    finally:
        locked.chmod(0o700)


def test_missing_required_option_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _init("--orgs", "2", "--out", str(tmp_path / "net"))
    assert exit_info.value.code == EXIT_INPUT_ERROR
    assert "--suite" in capsys.readouterr().err
