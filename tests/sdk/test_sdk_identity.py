"""Identities and network information from a `gongshi init` directory; the SDK's copies of
chain encodings agree with the chain's own; the SDK stays free of server-side imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gongshi.api.testing import LocalChain
from gongshi.execution.notary import record_key as contract_record_key
from gongshi.sdk import Identity, IdentityNotFound, NetworkInfo, SdkError, hash_file
from gongshi.sdk.keys import state_key
from gongshi.sdk.notary import record_key
from gongshi.storage import state_key as storage_state_key


def test_identity_load(chain: LocalChain) -> None:
    identity = Identity.load(chain.network_dir, "org3", "admin")
    assert identity.suite.name == "intl"
    assert identity.address == identity.suite.address(identity.public_key)
    assert b"BEGIN CERTIFICATE" in identity.certificate_pem
    members = {m.public_key for m in chain.genesis.members}
    assert identity.public_key in members


@pytest.mark.parametrize(("org", "role"), [("org9", "client"), ("org1", "node"), ("org1", "boss")])
def test_identity_load_errors(chain: LocalChain, org: str, role: str) -> None:
    with pytest.raises(IdentityNotFound):
        Identity.load(chain.network_dir, org, role)


def test_identity_needs_a_network(tmp_path: Path) -> None:
    with pytest.raises(IdentityNotFound, match=r"genesis\.toml"):
        Identity.load(tmp_path)


def test_network_info(chain: LocalChain) -> None:
    network = NetworkInfo.load(chain.network_dir)
    assert network.validators.size == 4 and network.validators.quorum == 3
    assert network.genesis_hash == chain.plan.genesis_hash
    assert network.api_url() == "http://127.0.0.1:26601"
    assert network.api_url("node2") == network.api_url(2) == network.api_url("2")
    for bad in ("node9", 0, "5"):
        with pytest.raises(SdkError):
            network.api_url(bad)


@given(st.text(min_size=1, max_size=20), st.binary(max_size=40))
def test_state_key_agrees_with_storage(namespace: str, key: bytes) -> None:
    if len(namespace.encode()) <= 255:
        assert state_key(namespace, key) == storage_state_key(namespace, key)


def test_record_key_agrees_with_contract() -> None:
    assert record_key(b"\x01" * 32) == contract_record_key(b"\x01" * 32)


def test_hash_file(tmp_path: Path, chain: LocalChain) -> None:
    path = tmp_path / "doc.txt"
    path.write_bytes(b"hello")
    assert hash_file(chain.suite, path) == chain.suite.hash(b"hello")
    with pytest.raises(SdkError):
        hash_file(chain.suite, tmp_path / "missing")


def test_sdk_imports_no_server_side_packages() -> None:
    code = (
        "import sys, gongshi.sdk; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('rocksdict', 'starlette', 'uvicorn')"
        " or m.startswith(('gongshi.storage', 'gongshi.execution', 'gongshi.mempool'))]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
