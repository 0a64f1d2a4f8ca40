"""The extra client identities the chain benchmark signs with (`NetworkOptions.extra_clients`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gongshi.bench.loadgen import client_keys
from gongshi.cli.init_network import NetworkOptions, create_network, plan_network
from gongshi.crypto import get_suite
from gongshi.node.genesis import MEMBERS_MAX, load_genesis
from gongshi.pki.errors import InvalidInitOption
from gongshi.pki.roles import Role

NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("suite", ["intl", "gm"])
def test_extra_clients_are_genesis_members_with_key_files(tmp_path: Path, suite: str) -> None:
    options = NetworkOptions(organisations=2, suite=suite, extra_clients=3)
    create_network(options, tmp_path, now=datetime.now(UTC))
    genesis = load_genesis(tmp_path / "genesis.toml")
    clients = sorted(m.name for m in genesis.members if m.role is Role.CLIENT)
    assert clients == sorted(f"org{o}-client{k}" for o in (1, 2) for k in ("", "2", "3", "4"))
    keys = client_keys(tmp_path, get_suite(suite))
    assert len(keys) == 8
    member_keys = {m.public_key for m in genesis.members if m.role is Role.CLIENT}
    assert {key.public_key_bytes() for key in keys} == member_keys
    assert (tmp_path / "orgs" / "org2" / "clients" / "client4.crt").is_file()


def test_no_extra_clients_by_default() -> None:
    plan = plan_network(NetworkOptions(organisations=1, suite="intl"), now=NOW)
    assert [m.name for m in plan.genesis.members] == ["org1-admin", "org1-client"]
    assert not any("/clients/" in str(f.path) for f in plan.files)


def test_extra_clients_are_bounded_by_the_genesis_member_limit() -> None:
    too_many = MEMBERS_MAX // 4 - 1
    with pytest.raises(InvalidInitOption):
        plan_network(NetworkOptions(organisations=4, suite="intl", extra_clients=too_many), now=NOW)
    with pytest.raises(InvalidInitOption):
        plan_network(NetworkOptions(organisations=4, suite="intl", extra_clients=-1), now=NOW)
