"""The genesis file: the chain's suite, parameters, organisations (with their CA
certificates), consensus nodes, regulators and the other members registered at genesis
(admins, clients, observers), as human-editable TOML.

Every node checks it runs the same chain by the **genesis hash**: the suite hash of the
deterministic CBOR encoding (RFC 8949 §4.2; `cbor2` with `canonical=True`, which agrees with
§4.2.1 for our text-keyed maps) of the *parsed* content, so comments, key order, defaults left
out and PEM line breaks do not change it; any parameter, certificate or key does. The order of
`validators` is meaningful: a validator's index in it is its index in quorum certificates.
"""

from __future__ import annotations

import dataclasses
import logging
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cbor2
import tomli_w
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gongshi.codec.limits import (
    BLOCK_BYTES_MAX,
    BLOCK_TRANSACTIONS_MAX,
    TRANSACTION_BYTES_MAX,
)
from gongshi.crypto import Suite, get_suite
from gongshi.crypto.keyfile import read_file
from gongshi.errors import InvalidKey, UnknownSuite
from gongshi.node.config_fields import (
    NAME_PATTERN,
    HostPort,
    TomlTable,
    option,
    read_section,
    render_section,
    toml_value,
)
from gongshi.pki.errors import CertificateRejected, ConfigFieldError, GenesisHashMismatch
from gongshi.pki.profile import profile_for
from gongshi.pki.roles import Role
from gongshi.pki.validation import (
    OrganisationAuthority,
    TrustStore,
    check_authority_certificate,
    load_certificate,
    validate_certificate,
)

logger = logging.getLogger(__name__)

GENESIS_FORMAT = 1
GENESIS_FILE_SIZE_MAX = 16 * 1024 * 1024
ORGANISATIONS_MAX = 100
VALIDATORS_MAX = 256
GENESIS_TIME_MS_MAX = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
_TOP_LEVEL_KEYS = (
    "format",
    "suite",
    "genesis_time_ms",
    "params",
    "organisations",
    "validators",
    "regulators",
    "members",
)
MEMBERS_MAX = 4096
# A block's transactions leave room for its header and certificates within the codec's bound.
BLOCK_TRANSACTIONS_BYTES_MAX = BLOCK_BYTES_MAX - (1 << 20)
# Roles a genesis member may have; validators and regulators have sections of their own.
MEMBER_ROLES = (Role.ADMIN, Role.CLIENT, Role.OBSERVER)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainParams:
    """Chain-wide parameters; changed later only by governance."""

    chain_id: str = field(
        metadata=option("Chain identifier, part of every signed transaction (required).")
    )
    block_txs_max: int = field(
        default=2000,
        metadata=option(
            "Most transactions in one block.", minimum=1, maximum=BLOCK_TRANSACTIONS_MAX
        ),
    )
    block_bytes_max: int = field(
        default=4 << 20,
        metadata=option(
            "Largest block, in bytes of transactions.",
            minimum=1024,
            maximum=BLOCK_TRANSACTIONS_BYTES_MAX,
        ),
    )
    tx_bytes_max: int = field(
        default=64 << 10,
        metadata=option(
            "Largest transaction in bytes (≤ block_bytes_max).",
            minimum=128,
            maximum=TRANSACTION_BYTES_MAX,
        ),
    )
    block_gas_max: int = field(
        default=100_000_000,
        metadata=option(
            "Most gas all transactions of a block may use.", minimum=1, maximum=(1 << 63) - 1
        ),
    )
    block_interval_ms: int = field(
        default=500,
        metadata=option(
            "Target time between blocks, ms (0: propose as soon as possible).",
            minimum=0,
            maximum=3_600_000,
        ),
    )
    round_timeout_ms: int = field(
        default=2000,
        metadata=option(
            "Consensus round timeout in the first round of a height, ms.",
            minimum=10,
            maximum=3_600_000,
        ),
    )
    round_timeout_increase_ms: int = field(
        default=1000,
        metadata=option(
            "Added to the round timeout for each failed round, ms.", minimum=0, maximum=3_600_000
        ),
    )
    round_timeout_max_ms: int = field(
        default=60_000,
        metadata=option(
            "Upper bound of the round timeout, ms (≥ round_timeout_ms).",
            minimum=10,
            maximum=3_600_000,
        ),
    )
    governance_threshold: int = field(
        default=0,
        metadata=option(
            "Organisations whose admins must approve a governance proposal;\n"
            "0 means more than half of the organisations. At least a majority.",
            minimum=0,
            maximum=ORGANISATIONS_MAX,
        ),
    )
    mempool_txs_max: int = field(
        default=100_000,
        metadata=option(
            "Mempool capacity in transactions (≥ block_txs_max).", minimum=1, maximum=10_000_000
        ),
    )
    mempool_bytes_max: int = field(
        default=256 << 20,
        metadata=option(
            "Mempool capacity in bytes (≥ block_bytes_max).", minimum=1024, maximum=16 << 30
        ),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Organisation:
    name: str
    ca_certificate: bytes  # DER


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidatorInfo:
    """A consensus node: its chain signing key, addresses, and certificate (role `node`)."""

    name: str
    organisation: str
    public_key: bytes  # raw chain signing public key of the suite
    p2p_address: HostPort
    api_address: HostPort
    certificate: bytes  # DER


@dataclass(frozen=True, slots=True, kw_only=True)
class RegulatorInfo:
    """A regulator: private payload keys are also wrapped to `public_key`."""

    name: str
    organisation: str
    public_key: bytes
    certificate: bytes  # DER


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberInfo:
    """A member registered in the genesis state (admin, client or observer), so that every
    node derives the same initial identities from the genesis file alone."""

    name: str
    organisation: str
    role: Role
    public_key: bytes
    certificate: bytes  # DER


@dataclass(frozen=True, slots=True, kw_only=True)
class Genesis:
    suite: str
    genesis_time_ms: int
    params: ChainParams
    organisations: tuple[Organisation, ...]
    validators: tuple[ValidatorInfo, ...]
    regulators: tuple[RegulatorInfo, ...] = ()
    members: tuple[MemberInfo, ...] = ()
    format: int = GENESIS_FORMAT

    def trust_store(self) -> TrustStore:
        """The chain's trust anchors for `gongshi.pki.validate_certificate`."""
        return TrustStore(
            suite=get_suite(self.suite),
            authorities=tuple(
                OrganisationAuthority(
                    organisation=org.name, certificate=load_certificate(org.ca_certificate)
                )
                for org in self.organisations
            ),
            regulator_organisations=frozenset(r.organisation for r in self.regulators),
        )


def majority_threshold(organisation_count: int) -> int:
    """More than half of the organisations."""
    return organisation_count // 2 + 1


# --- parsing -------------------------------------------------------------------------------


def _rejected(table: TomlTable, key: str, error: CertificateRejected) -> ConfigFieldError:
    return table.error(key, f"certificate rejected ({error.reason}): {error.message}")


def _certificate_der(table: TomlTable, key: str) -> bytes:
    text = table.string(key)
    try:
        certificate = x509.load_pem_x509_certificate(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as error:
        raise table.error(key, "is not a PEM certificate") from error
    return certificate.public_bytes(serialization.Encoding.DER)


def _public_key(table: TomlTable, key: str, suite: Suite) -> bytes:
    public_key = table.hex_bytes(key)
    try:
        suite.validate_public_key(public_key)
    except InvalidKey as error:
        raise table.error(key, error.message) from error
    return public_key


def _parse_params(table: TomlTable, organisation_count: int) -> ChainParams:
    params = read_section(ChainParams, table)
    if not NAME_PATTERN.fullmatch(params.chain_id):
        raise table.error(
            "chain_id", f"{params.chain_id[:80]!r} is not a name ({NAME_PATTERN.pattern})"
        )
    if params.tx_bytes_max > params.block_bytes_max:
        raise table.error("tx_bytes_max", "exceeds block_bytes_max")
    if params.round_timeout_max_ms < params.round_timeout_ms:
        raise table.error("round_timeout_max_ms", "is below round_timeout_ms")
    if params.mempool_txs_max < params.block_txs_max:
        raise table.error("mempool_txs_max", "is below block_txs_max")
    if params.mempool_bytes_max < params.block_bytes_max:
        raise table.error("mempool_bytes_max", "is below block_bytes_max")
    majority = majority_threshold(organisation_count)
    if params.governance_threshold == 0:
        return dataclasses.replace(params, governance_threshold=majority)
    if not majority <= params.governance_threshold <= organisation_count:
        raise table.error(
            "governance_threshold",
            f"must be {majority}..{organisation_count} (a majority of the organisations)",
        )
    return params


def _parse_organisations(root: TomlTable, suite: Suite) -> tuple[Organisation, ...]:
    profile = profile_for(suite.name)
    organisations: list[Organisation] = []
    for table in root.tables("organisations", count_min=1, count_max=ORGANISATIONS_MAX):
        table.check_keys(("name", "ca_certificate"))
        organisation = Organisation(
            name=table.name_string("name"), ca_certificate=_certificate_der(table, "ca_certificate")
        )
        try:
            certificate = load_certificate(organisation.ca_certificate)
            check_authority_certificate(organisation.name, certificate, profile)
        except CertificateRejected as error:
            raise _rejected(table, "ca_certificate", error) from error
        organisations.append(organisation)
    _require_unique(
        root, [(f"organisations[{i}].name", o.name) for i, o in enumerate(organisations)]
    )
    _require_unique(
        root,
        [
            (f"organisations[{i}].ca_certificate", o.ca_certificate)
            for i, o in enumerate(organisations)
        ],
    )
    return tuple(organisations)


def _check_member(
    table: TomlTable, trust: TrustStore, now_ms: int, role: Role, public_key: bytes
) -> None:
    """The member's certificate must be valid at genesis time, from its organisation's CA,
    of `role`, and bind the listed public key."""
    organisation = table.name_string("organisation")
    if trust.authority(organisation) is None:
        raise table.error("organisation", f"{organisation!r} is not a listed organisation")
    try:
        identity = validate_certificate(
            _certificate_der(table, "certificate"), trust=trust, now_ms=now_ms, roles=(role,)
        )
    except CertificateRejected as error:
        raise _rejected(table, "certificate", error) from error
    if identity.organisation != organisation:
        raise table.error("certificate", f"is issued to organisation {identity.organisation!r}")
    if identity.public_key != public_key:
        raise table.error("public_key", "differs from the key the certificate binds")


def _parse_validators(
    root: TomlTable, suite: Suite, trust: TrustStore, now_ms: int
) -> tuple[ValidatorInfo, ...]:
    validators: list[ValidatorInfo] = []
    keys = ("name", "organisation", "public_key", "p2p_address", "api_address", "certificate")
    for table in root.tables("validators", count_min=1, count_max=VALIDATORS_MAX):
        table.check_keys(keys)
        validator = ValidatorInfo(
            name=table.name_string("name"),
            organisation=table.name_string("organisation"),
            public_key=_public_key(table, "public_key", suite),
            p2p_address=table.host_port("p2p_address"),
            api_address=table.host_port("api_address"),
            certificate=_certificate_der(table, "certificate"),
        )
        _check_member(table, trust, now_ms, Role.NODE, validator.public_key)
        validators.append(validator)
    addresses: list[tuple[str, object]] = []
    for index, validator in enumerate(validators):
        addresses.append((f"validators[{index}].p2p_address", validator.p2p_address))
        addresses.append((f"validators[{index}].api_address", validator.api_address))
    _require_unique(root, addresses)
    return tuple(validators)


def _parse_regulators(
    root: TomlTable, suite: Suite, trust: TrustStore, now_ms: int
) -> tuple[RegulatorInfo, ...]:
    regulators: list[RegulatorInfo] = []
    for table in root.tables("regulators", count_min=0, count_max=ORGANISATIONS_MAX):
        table.check_keys(("name", "organisation", "public_key", "certificate"))
        regulator = RegulatorInfo(
            name=table.name_string("name"),
            organisation=table.name_string("organisation"),
            public_key=_public_key(table, "public_key", suite),
            certificate=_certificate_der(table, "certificate"),
        )
        _check_member(table, trust, now_ms, Role.REGULATOR, regulator.public_key)
        regulators.append(regulator)
    return tuple(regulators)


def _parse_members(
    root: TomlTable, suite: Suite, trust: TrustStore, now_ms: int
) -> tuple[MemberInfo, ...]:
    members: list[MemberInfo] = []
    allowed = ", ".join(role.value for role in MEMBER_ROLES)
    for table in root.tables("members", count_min=0, count_max=MEMBERS_MAX):
        table.check_keys(("name", "organisation", "role", "public_key", "certificate"))
        role_name = table.string("role")
        role = next((role for role in MEMBER_ROLES if role.value == role_name), None)
        if role is None:
            raise table.error("role", f"must be one of {allowed}, got {role_name!r}")
        member = MemberInfo(
            name=table.name_string("name"),
            organisation=table.name_string("organisation"),
            role=role,
            public_key=_public_key(table, "public_key", suite),
            certificate=_certificate_der(table, "certificate"),
        )
        _check_member(table, trust, now_ms, role, member.public_key)
        members.append(member)
    return tuple(members)


def _require_unique(root: TomlTable, entries: Sequence[tuple[str, object]]) -> None:
    """`entries` are (field name, value) pairs; the second occurrence of a value is an error."""
    seen: dict[object, str] = {}
    for name, value in entries:
        if value in seen:
            raise root.error(name, f"repeats {seen[value]}")
        seen[value] = name


def parse_genesis(document: dict[str, object], *, source: str = "") -> Genesis:
    """A validated Genesis from a parsed TOML document; ConfigFieldError names the field."""
    root = TomlTable(document, "", source)
    root.check_keys(_TOP_LEVEL_KEYS)
    genesis_format = root.integer("format", default=None, minimum=1, maximum=GENESIS_FORMAT)
    suite_name = root.string("suite")
    try:
        suite = get_suite(suite_name)
    except UnknownSuite as error:
        raise root.error("suite", error.message) from error
    now_ms = root.integer("genesis_time_ms", default=None, minimum=0, maximum=GENESIS_TIME_MS_MAX)
    organisations = _parse_organisations(root, suite)
    params = _parse_params(root.table("params"), len(organisations))
    partial = Genesis(
        suite=suite_name,
        genesis_time_ms=now_ms,
        params=params,
        organisations=organisations,
        validators=(),
        format=genesis_format,
    )
    regulator_trust = dataclasses.replace(
        partial.trust_store(),
        regulator_organisations=frozenset(org.name for org in organisations),
    )
    validators = _parse_validators(root, suite, partial.trust_store(), now_ms)
    regulators = _parse_regulators(root, suite, regulator_trust, now_ms)
    others = _parse_members(root, suite, partial.trust_store(), now_ms)
    members: list[tuple[str, ValidatorInfo | RegulatorInfo | MemberInfo]] = [
        *((f"validators[{i}]", v) for i, v in enumerate(validators)),
        *((f"regulators[{i}]", r) for i, r in enumerate(regulators)),
        *((f"members[{i}]", m) for i, m in enumerate(others)),
    ]
    _require_unique(root, [(f"{where}.name", member.name) for where, member in members])
    _require_unique(root, [(f"{where}.public_key", m.public_key) for where, m in members])
    return dataclasses.replace(
        partial, validators=validators, regulators=regulators, members=others
    )


def load_genesis(path: Path, *, expected_hash: bytes = b"") -> Genesis:
    """Read and validate a genesis file; with `expected_hash`, insist on that genesis hash."""
    data = read_file(path)
    if len(data) > GENESIS_FILE_SIZE_MAX:
        raise ConfigFieldError("(file)", "genesis file is too large", source=str(path))
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigFieldError("(file)", f"not valid TOML: {error}", source=str(path)) from error
    genesis = parse_genesis(document, source=str(path))
    actual = genesis_hash(genesis)
    if expected_hash and actual != expected_hash:
        raise GenesisHashMismatch(
            f"{path}: genesis hash is {actual.hex()}, the configuration expects "
            f"{expected_hash.hex()}: this is not the same chain"
        )
    logger.info(
        "loaded genesis path=%s chain_id=%s hash=%s", path, genesis.params.chain_id, actual.hex()
    )
    return genesis


# --- encoding ------------------------------------------------------------------------------


def _pem(der: bytes) -> str:
    certificate = x509.load_der_x509_certificate(der)
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def canonical_genesis(genesis: Genesis) -> dict[str, object]:
    """The parsed content as a CBOR-ready map (bytes as bytes, addresses as text)."""
    params = {f.name: getattr(genesis.params, f.name) for f in dataclasses.fields(ChainParams)}
    return {
        "format": genesis.format,
        "suite": genesis.suite,
        "genesis_time_ms": genesis.genesis_time_ms,
        "params": params,
        "organisations": [
            {"name": org.name, "ca_certificate": org.ca_certificate}
            for org in genesis.organisations
        ],
        "validators": [
            {
                "name": v.name,
                "organisation": v.organisation,
                "public_key": v.public_key,
                "p2p_address": str(v.p2p_address),
                "api_address": str(v.api_address),
                "certificate": v.certificate,
            }
            for v in genesis.validators
        ],
        "regulators": [
            {
                "name": r.name,
                "organisation": r.organisation,
                "public_key": r.public_key,
                "certificate": r.certificate,
            }
            for r in genesis.regulators
        ],
        "members": [
            {
                "name": m.name,
                "organisation": m.organisation,
                "role": m.role.value,
                "public_key": m.public_key,
                "certificate": m.certificate,
            }
            for m in genesis.members
        ],
    }


def genesis_hash(genesis: Genesis) -> bytes:
    """Suite hash of the deterministic CBOR encoding of the genesis content."""
    encoded = cbor2.dumps(canonical_genesis(genesis), canonical=True)
    return get_suite(genesis.suite).hash(encoded)


def _toml_member(member: ValidatorInfo | RegulatorInfo | MemberInfo) -> dict[str, object]:
    document: dict[str, object] = {}
    for item in dataclasses.fields(member):
        value = getattr(member, item.name)
        if item.name == "certificate":
            document[item.name] = _pem(value)
        elif isinstance(value, Role):
            document[item.name] = value.value
        else:
            document[item.name] = toml_value(value)
    return document


def render_genesis(genesis: Genesis) -> str:
    """The genesis as documented TOML; `parse_genesis` reads it back to an equal Genesis."""
    header = [
        "# Gongshi genesis. Nodes compare its hash (over the parsed content, not these bytes):",
        "# any change to a value, certificate or key makes a different chain.",
        "# The order of [[validators]] is their index in quorum certificates.",
        "",
        tomli_w.dumps(
            {
                "format": genesis.format,
                "suite": genesis.suite,
                "genesis_time_ms": genesis.genesis_time_ms,
            }
        ),
    ]
    members = {
        "organisations": [
            {"name": org.name, "ca_certificate": _pem(org.ca_certificate)}
            for org in genesis.organisations
        ],
        "validators": [_toml_member(v) for v in genesis.validators],
        "regulators": [_toml_member(r) for r in genesis.regulators],
        "members": [_toml_member(m) for m in genesis.members],
    }
    body = tomli_w.dumps(members, multiline_strings=True)
    return "\n".join([*header, *render_section("params", genesis.params), body])
