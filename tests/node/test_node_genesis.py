"""Genesis: round trip, hash stability, and validation errors that name the field."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import tomllib
from collections.abc import Callable
from pathlib import Path

import cbor2
import pytest

from gongshi.cli.init_network import NetworkPlan
from gongshi.errors import ConfigError
from gongshi.node.config_fields import HostPort
from gongshi.node.genesis import (
    ChainParams,
    Genesis,
    MemberInfo,
    Organisation,
    RegulatorInfo,
    ValidatorInfo,
    genesis_hash,
    load_genesis,
    parse_genesis,
    render_genesis,
)
from gongshi.pki import Role
from gongshi.pki.errors import ConfigFieldError, GenesisHashMismatch

Document = dict[str, object]


def _document(network: NetworkPlan) -> Document:
    return tomllib.loads(render_genesis(network.genesis))


def _file(network: NetworkPlan, path: str) -> str:
    return next(f.content for f in network.files if str(f.path) == path).decode()


def test_round_trip(network: NetworkPlan) -> None:
    text = render_genesis(network.genesis)
    parsed = parse_genesis(tomllib.loads(text))
    assert parsed == network.genesis
    assert render_genesis(parsed) == text
    assert genesis_hash(parsed) == network.genesis_hash


def test_contents(network: NetworkPlan) -> None:
    genesis = network.genesis
    assert [org.name for org in genesis.organisations] == ["org1", "org2", "org3", "org4"]
    assert [v.name for v in genesis.validators] == ["node1", "node2", "node3", "node4"]
    assert [(r.organisation, r.name) for r in genesis.regulators] == [("org1", "org1-regulator")]
    assert [(m.organisation, m.role.value) for m in genesis.members] == [
        (f"org{index}", role) for index in range(1, 5) for role in ("admin", "client")
    ]
    assert genesis.params.governance_threshold == 3
    assert {v.p2p_address.host for v in genesis.validators} == {"127.0.0.1"}
    trust = genesis.trust_store()
    assert trust.suite.name == genesis.suite
    assert trust.regulator_organisations == frozenset({"org1"})


def test_hash_ignores_presentation(network: NetworkPlan) -> None:
    text = render_genesis(network.genesis)
    document = tomllib.loads(text)
    reordered = {key: document[key] for key in reversed(list(document))}
    reordered["params"] = dict(reversed(list(document["params"].items())))
    defaults = ChainParams(chain_id="x")
    sparse = copy.deepcopy(document)
    for key, value in list(sparse["params"].items()):
        if key != "chain_id" and value == getattr(defaults, key, None):
            del sparse["params"][key]
    del sparse["params"]["governance_threshold"]  # absent: the majority, 3 of 4
    assert len(sparse["params"]) == 1
    rewrapped = copy.deepcopy(document)
    for organisation in rewrapped["organisations"]:
        organisation["ca_certificate"] = "\n\n" + organisation["ca_certificate"].strip() + "\n"
    commented = "# a comment\n" + text.replace("\n[params]\n", "\n[params] # params\n")
    for variant in (reordered, sparse, rewrapped, tomllib.loads(commented)):
        assert genesis_hash(parse_genesis(variant)) == network.genesis_hash


def test_hash_changes_with_the_content(network: NetworkPlan) -> None:
    genesis = network.genesis
    variants = [
        dataclasses.replace(genesis, params=dataclasses.replace(genesis.params, block_txs_max=7)),
        dataclasses.replace(genesis, validators=tuple(reversed(genesis.validators))),
        dataclasses.replace(genesis, genesis_time_ms=genesis.genesis_time_ms + 1),
        dataclasses.replace(genesis, regulators=()),
        dataclasses.replace(genesis, members=genesis.members[1:]),
    ]
    hashes = {genesis_hash(variant) for variant in variants} | {network.genesis_hash}
    assert len(hashes) == len(variants) + 1


def test_hash_is_the_suite_hash_of_canonical_cbor() -> None:
    """A fixed genesis (not validated: the hash does not need real certificates) hashes to
    this value; a change means every existing chain's genesis hash changed."""
    genesis = Genesis(
        suite="intl",
        genesis_time_ms=1_700_000_000_000,
        params=ChainParams(chain_id="golden", governance_threshold=1),
        organisations=(Organisation(name="org1", ca_certificate=b"\x30\x00"),),
        validators=(
            ValidatorInfo(
                name="node1",
                organisation="org1",
                public_key=bytes(range(32)),
                p2p_address=HostPort(host="127.0.0.1", port=26600),
                api_address=HostPort(host="127.0.0.1", port=26601),
                certificate=b"\x30\x01\x00",
            ),
        ),
        regulators=(
            RegulatorInfo(
                name="reg", organisation="org1", public_key=bytes(32), certificate=b"\x30\x00"
            ),
        ),
        members=(
            MemberInfo(
                name="alice",
                organisation="org1",
                role=Role.CLIENT,
                public_key=bytes([7]) * 32,
                certificate=b"\x30\x02\x00\x00",
            ),
        ),
    )
    encoded = cbor2.dumps(
        {
            "format": 1,
            "suite": "intl",
            "genesis_time_ms": 1_700_000_000_000,
            "params": {
                f.name: getattr(genesis.params, f.name) for f in dataclasses.fields(ChainParams)
            },
            "organisations": [{"name": "org1", "ca_certificate": b"\x30\x00"}],
            "validators": [
                {
                    "name": "node1",
                    "organisation": "org1",
                    "public_key": bytes(range(32)),
                    "p2p_address": "127.0.0.1:26600",
                    "api_address": "127.0.0.1:26601",
                    "certificate": b"\x30\x01\x00",
                }
            ],
            "regulators": [
                {
                    "name": "reg",
                    "organisation": "org1",
                    "public_key": bytes(32),
                    "certificate": b"\x30\x00",
                }
            ],
            "members": [
                {
                    "name": "alice",
                    "organisation": "org1",
                    "role": "client",
                    "public_key": bytes([7]) * 32,
                    "certificate": b"\x30\x02\x00\x00",
                }
            ],
        },
        canonical=True,
    )
    assert genesis_hash(genesis) == hashlib.sha256(encoded).digest()
    assert genesis_hash(genesis).hex() == GOLDEN_GENESIS_HASH


GOLDEN_GENESIS_HASH = "c28ceae3d6a7f327f4e9d9761cab5a2b18ff18a0b5b762f4e5b1c19f5fbed388"


def _set(path: str, value: object) -> Callable[[Document, NetworkPlan], None]:
    """A mutation setting `path` (dotted, with [index]) to `value` (a callable: computed)."""

    def mutate(document: Document, network: NetworkPlan) -> None:
        *parents, last = path.replace("[", ".").replace("]", "").split(".")
        target: object = document
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]  # type: ignore[index]
        resolved = value(document, network) if callable(value) else value
        if resolved is _DELETE:
            del target[last]  # type: ignore[attr-defined]
        elif last.isdigit():
            target[int(last)] = resolved  # type: ignore[index]
        else:
            target[last] = resolved  # type: ignore[index]

    return mutate


_DELETE = object()


def _member_pem(path: str) -> Callable[[Document, NetworkPlan], str]:
    return lambda _document, network: _file(network, path)


MUTATIONS = [
    ("params.chain_id", _DELETE, "params.chain_id: missing"),
    ("params.chain_id", "no spaces", r"params.chain_id: 'no spaces' is not a name"),
    ("params.block_txs_max", "10", "params.block_txs_max: must be an integer, not str"),
    ("params.block_txs_max", True, "params.block_txs_max: must be an integer, not bool"),
    ("params.block_txs_max", 0, r"params.block_txs_max: 0 is outside 1..100000"),
    ("params.block_gas_max", 1.5, "params.block_gas_max: must be an integer, not float"),
    ("params.bogus", 1, "params.bogus: unknown key"),
    ("extra", 1, "extra: unknown key"),
    ("params", "x", "params: must be a table"),
    ("suite", "rot13", "suite: unknown crypto suite 'rot13'"),
    ("format", 2, r"format: 2 is outside 1..1"),
    ("genesis_time_ms", -1, "genesis_time_ms: -1 is outside"),
    ("params.block_bytes_max", 32 << 10, "params.tx_bytes_max: exceeds block_bytes_max"),
    # The chain's limits stay within what the codec decodes, so a block can always be encoded.
    ("params.tx_bytes_max", 8 << 20, r"params.tx_bytes_max: 8388608 is outside 128..262144"),
    ("params.block_txs_max", 100_001, r"params.block_txs_max: 100001 is outside 1..100000"),
    ("params.round_timeout_max_ms", 100, "params.round_timeout_max_ms: is below"),
    ("params.mempool_txs_max", 10, "params.mempool_txs_max: is below block_txs_max"),
    ("params.governance_threshold", 2, r"params.governance_threshold: must be 3..4"),
    ("params.governance_threshold", 5, r"params.governance_threshold: must be 3..4"),
    (
        "organisations[1]",
        lambda document, _: document["organisations"][0],
        r"organisations\[1\].name: repeats organisations\[0\].name",
    ),
    ("organisations[0].ca_certificate", "junk", r"organisations\[0\].ca_certificate: is not a PEM"),
    (
        "organisations[0].ca_certificate",
        _member_pem("orgs/org2/ca/ca.crt"),
        r"organisations\[0\].ca_certificate: certificate rejected \(unknown-organisation\)",
    ),
    (
        "organisations[0].ca_certificate",
        _member_pem("orgs/org1/admin/admin.crt"),
        r"organisations\[0\].ca_certificate: certificate rejected \(malformed\): CA cert",
    ),
    ("organisations", [], r"organisations: needs 1..100 entries, has 0"),
    ("validators", [], r"validators: needs 1..256 entries, has 0"),
    (
        "validators[1].p2p_address",
        "127.0.0.1:26600",
        r"validators\[1\].p2p_address: repeats validators\[0\].p2p_address",
    ),
    (
        "validators[2].api_address",
        "127.0.0.1:26600",
        r"validators\[2\].api_address: repeats validators\[0\].p2p_address",
    ),
    ("validators[0].api_address", "nope", r"validators\[0\].api_address: 'nope' is not host:port"),
    ("validators[0].name", "node2", r"validators\[1\].name: repeats validators\[0\].name"),
    ("validators[0].organisation", "org9", r"validators\[0\].organisation: 'org9' is not a listed"),
    (
        "validators[0].organisation",
        "org2",
        r"validators\[0\].certificate: is issued to organisation 'org1'",
    ),
    ("validators[0].public_key", "zz", r"validators\[0\].public_key: is not hexadecimal"),
    ("validators[0].public_key", "00", r"validators\[0\].public_key: .*public key"),
    (
        "validators[0].public_key",
        lambda document, _: document["validators"][1]["public_key"],
        r"validators\[0\].public_key: differs from the key the certificate binds",
    ),
    (
        "validators[0].certificate",
        _member_pem("orgs/org1/admin/admin.crt"),
        r"validators\[0\].certificate: certificate rejected \(wrong-role\)",
    ),
    (
        "regulators[0].certificate",
        _member_pem("orgs/org1/client/client.crt"),
        r"regulators\[0\].certificate: certificate rejected \(wrong-role\)",
    ),
    (
        "members[0].role",
        "node",
        r"members\[0\].role: must be one of admin, client, observer, got 'node'",
    ),
    (
        "members[1].role",
        "admin",
        r"members\[1\].certificate: certificate rejected \(wrong-role\)",
    ),
    ("members[1].name", "org1-admin", r"members\[1\].name: repeats members\[0\].name"),
    (
        "members[0].public_key",
        lambda document, _: document["members"][1]["public_key"],
        r"members\[0\].public_key: differs from the key the certificate binds",
    ),
    (
        "genesis_time_ms",
        1_000,
        r"validators\[0\].certificate: certificate rejected \(not-yet-valid\)",
    ),
    (
        "genesis_time_ms",
        4_102_444_800_000,  # 2100
        r"certificate rejected \(expired\)",
    ),
]


@pytest.mark.parametrize(("path", "value", "message"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_invalid_genesis_names_the_field(
    network: NetworkPlan, path: str, value: object, message: str
) -> None:
    document = _document(network)
    _set(path, value)(document, network)
    with pytest.raises(ConfigFieldError, match=message):
        parse_genesis(document)


def test_regulator_certificate_needs_the_regulator_listed(network: NetworkPlan) -> None:
    document = _document(network)
    document["validators"][0]["certificate"] = _file(network, "orgs/org1/regulator/regulator.crt")
    with pytest.raises(ConfigFieldError, match=r"validators\[0\].certificate: .*wrong-role"):
        parse_genesis(document)


def test_load_from_file_and_pin_the_hash(network: NetworkPlan, tmp_path: Path) -> None:
    path = tmp_path / "genesis.toml"
    path.write_text(render_genesis(network.genesis))
    assert load_genesis(path, expected_hash=network.genesis_hash) == network.genesis
    with pytest.raises(GenesisHashMismatch, match="not the same chain"):
        load_genesis(path, expected_hash=bytes(32))
    path.write_text("format = [")
    with pytest.raises(ConfigFieldError, match="not valid TOML"):
        load_genesis(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_genesis(tmp_path / "absent.toml")


def test_certificates_in_genesis_carry_their_roles(network: NetworkPlan) -> None:
    from gongshi.pki import validate_certificate

    genesis = network.genesis
    trust = genesis.trust_store()
    for validator in genesis.validators:
        identity = validate_certificate(
            validator.certificate, trust=trust, now_ms=genesis.genesis_time_ms, roles=[Role.NODE]
        )
        assert identity.public_key == validator.public_key
