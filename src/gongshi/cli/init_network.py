"""Building a network directory for `gongshi init` (and `gongshi up`, which reuses it).

`plan_network` makes every key, certificate, the genesis and the node configurations in
memory; `write_network` puts them on disk through a staging directory, so a failure never
leaves half a network behind. Layout (see docs/pki.md)::

    DIR/genesis.toml
    DIR/orgs/<org>/ca/ca.crt, ca.key
    DIR/orgs/<org>/<role>/<role>.crt, <role>.key [, <role>-tls.key (gm)]   admin, client, regulator
    DIR/orgs/<org>/clients/client<k>.crt, client<k>.key    extra clients (k = 2..), if asked
    DIR/nodes/<node>/config.toml, node.crt, node.key [, node-tls.key (gm)], data/
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

from cryptography.hazmat.primitives import serialization

from gongshi.crypto import Suite, get_suite
from gongshi.crypto.keyfile import write_private_file
from gongshi.errors import InvariantViolation
from gongshi.node.config import (
    API_ACCESS_MODES,
    ApiSection,
    IdentitySection,
    MetricsSection,
    NodeConfig,
    NodeSection,
    P2PSection,
    render_node_config,
)
from gongshi.node.config_fields import NAME_PATTERN, PORT_MAX, HostPort
from gongshi.node.genesis import (
    MEMBERS_MAX,
    ORGANISATIONS_MAX,
    ChainParams,
    Genesis,
    MemberInfo,
    Organisation,
    RegulatorInfo,
    ValidatorInfo,
    genesis_hash,
    majority_threshold,
    parse_genesis,
    render_genesis,
)
from gongshi.pki.errors import InvalidInitOption, NetworkDirectoryError
from gongshi.pki.issue import (
    CA_VALIDITY_DAYS,
    MEMBER_VALIDITY_DAYS,
    CertificateAuthority,
    MemberRequest,
    Validity,
    create_certificate_authority,
    issue_member_certificate,
)
from gongshi.pki.profile import generate_certificate_key, private_key_pem, profile_for
from gongshi.pki.roles import Role
from gongshi.pki.validation import datetime_to_ms

logger = logging.getLogger(__name__)

DEFAULT_CHAIN_ID = "gongshi-localnet"
DEFAULT_BASE_PORT = 26600
LOCAL_HOST = "127.0.0.1"
PORTS_PER_NODE = 10  # node i listens on base + 10 i (p2p), + 1 (API), + 2 (metrics)
CLOCK_SKEW_MARGIN = timedelta(hours=1)  # certificates start this long before genesis
GENESIS_FILE = PurePosixPath("genesis.toml")
MANAGED_ENTRIES = ("genesis.toml", "orgs", "nodes")  # what --force replaces, nothing else
PUBLIC_FILE_MODE = 0o644
PRIVATE_DIRECTORY_MODE = 0o700
ORG_MEMBER_ROLES = (Role.ADMIN, Role.CLIENT)
EXTRA_CLIENTS_DIR = "clients"  # orgs/<org>/clients/: more client identities (load generators)


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkOptions:
    organisations: int
    suite: str
    chain_id: str = DEFAULT_CHAIN_ID
    base_port: int = DEFAULT_BASE_PORT
    regulator_organisation: str = "org1"
    host: str = LOCAL_HOST
    # Client members per organisation beyond `<org>-client` (named `<org>-client<k>`, k = 2..);
    # the chain benchmark signs with many senders, each with its own nonce window.
    extra_clients: int = 0
    # `[api] access` of every node configuration: "members" (production) or "open".
    api_access: str = "members"


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputFile:
    path: PurePosixPath  # relative to the network directory
    content: bytes
    private: bool  # key material: mode 0600


@dataclass(frozen=True, slots=True, kw_only=True)
class NodePlan:
    name: str
    organisation: str
    p2p_address: HostPort
    api_address: HostPort
    config_path: PurePosixPath


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkPlan:
    genesis: Genesis
    genesis_hash: bytes
    nodes: tuple[NodePlan, ...]
    files: tuple[OutputFile, ...]
    directories: tuple[PurePosixPath, ...]  # created empty (node data directories)


def organisation_name(index: int) -> str:
    return f"org{index + 1}"


def check_options(options: NetworkOptions) -> Suite:
    """The suite of `options`; InvalidInitOption / UnknownSuite for bad input."""
    if not 1 <= options.organisations <= ORGANISATIONS_MAX:
        raise InvalidInitOption(
            f"--orgs must be between 1 and {ORGANISATIONS_MAX}, not {options.organisations}"
        )
    suite = get_suite(options.suite)
    if not NAME_PATTERN.fullmatch(options.chain_id):
        raise InvalidInitOption(
            f"--chain-id {options.chain_id!r} must match {NAME_PATTERN.pattern}"
        )
    last_port = options.base_port + PORTS_PER_NODE * (options.organisations - 1) + 2
    if options.base_port < 1 or last_port > PORT_MAX:
        raise InvalidInitOption(
            f"--base-port {options.base_port}: ports base..{last_port} must lie in 1..{PORT_MAX}"
        )
    members_max = MEMBERS_MAX // options.organisations - len(ORG_MEMBER_ROLES)
    if not 0 <= options.extra_clients <= members_max:
        raise InvalidInitOption(
            f"extra clients per organisation must be between 0 and {members_max}, "
            f"not {options.extra_clients}"
        )
    names = [organisation_name(index) for index in range(options.organisations)]
    if options.regulator_organisation not in names:
        raise InvalidInitOption(
            f"--regulator-org {options.regulator_organisation!r} is not one of "
            f"org1..org{options.organisations}"
        )
    if options.api_access not in API_ACCESS_MODES:
        raise InvalidInitOption(
            f"--api-access {options.api_access!r} must be one of {', '.join(API_ACCESS_MODES)}"
        )
    return suite


def _certificate_pem(authority: CertificateAuthority) -> bytes:
    return authority.certificate.public_bytes(serialization.Encoding.PEM)


def _issue(
    authority: CertificateAuthority,
    suite: Suite,
    *,
    name: str,
    role: Role,
    directory: PurePosixPath,
    validity: Validity,
    hosts: tuple[str, ...] = (),
    stem: str | None = None,
) -> tuple[bytes, bytes, list[OutputFile]]:
    """Keys and certificate of one member: (chain public key, DER certificate, files)."""
    chain_key = suite.generate_private_key()
    tls_key = (
        generate_certificate_key(authority.profile)
        if authority.profile.chain_key_in_extension
        else None
    )
    request = MemberRequest(
        common_name=name,
        role=role,
        chain_public_key=chain_key.public_key_bytes(),
        validity=validity,
        tls_public_key=None if tls_key is None else tls_key.public_key(),
        hosts=hosts,
    )
    certificate = issue_member_certificate(authority, suite, request)
    if stem is None:
        stem = "node" if role is Role.NODE else role.value
    files = [
        OutputFile(
            path=directory / f"{stem}.crt",
            content=certificate.public_bytes(serialization.Encoding.PEM),
            private=False,
        ),
        OutputFile(path=directory / f"{stem}.key", content=chain_key.to_pem(), private=True),
    ]
    if tls_key is not None:
        files.append(
            OutputFile(
                path=directory / f"{stem}-tls.key", content=private_key_pem(tls_key), private=True
            )
        )
    return request.chain_public_key, certificate.public_bytes(serialization.Encoding.DER), files


@dataclass(frozen=True, slots=True, kw_only=True)
class _OrganisationPlan:
    organisation: Organisation
    validator: ValidatorInfo
    regulator: RegulatorInfo | None
    members: tuple[MemberInfo, ...]
    files: tuple[OutputFile, ...]


def _node_addresses(options: NetworkOptions, index: int) -> tuple[HostPort, HostPort, HostPort]:
    """(p2p, API, metrics) of the node of organisation `index`."""
    base = options.base_port + PORTS_PER_NODE * index
    return (
        HostPort(host=options.host, port=base),
        HostPort(host=options.host, port=base + 1),
        HostPort(host=options.host, port=base + 2),
    )


def _extra_clients(
    authority: CertificateAuthority,
    suite: Suite,
    count: int,
    org_dir: PurePosixPath,
    validity: Validity,
) -> tuple[list[MemberInfo], list[OutputFile]]:
    """`count` more client members of the organisation, `<org>-client2` onwards."""
    organisation = authority.organisation
    members: list[MemberInfo] = []
    files: list[OutputFile] = []
    for number in range(2, count + 2):
        name = f"{organisation}-client{number}"
        key, certificate, member_files = _issue(
            authority,
            suite,
            name=name,
            role=Role.CLIENT,
            directory=org_dir / EXTRA_CLIENTS_DIR,
            validity=validity,
            stem=f"client{number}",
        )
        files.extend(member_files)
        members.append(
            MemberInfo(
                name=name,
                organisation=organisation,
                role=Role.CLIENT,
                public_key=key,
                certificate=certificate,
            )
        )
    return members, files


def _plan_organisation(
    options: NetworkOptions, suite: Suite, index: int, start: datetime
) -> _OrganisationPlan:
    """One organisation: its CA, admin, client, node and (if designated) regulator."""
    name = organisation_name(index)
    ca_validity = Validity.starting(start, CA_VALIDITY_DAYS)
    member_validity = Validity.starting(start, MEMBER_VALIDITY_DAYS)
    authority = create_certificate_authority(organisation=name, suite=suite, validity=ca_validity)
    org_dir = PurePosixPath("orgs") / name
    files = [
        OutputFile(
            path=org_dir / "ca" / "ca.crt", content=_certificate_pem(authority), private=False
        ),
        OutputFile(
            path=org_dir / "ca" / "ca.key",
            content=private_key_pem(authority.private_key),
            private=True,
        ),
    ]
    roles = [*ORG_MEMBER_ROLES]
    if name == options.regulator_organisation:
        roles.append(Role.REGULATOR)
    regulator = None
    members: list[MemberInfo] = []
    for role in roles:
        member = f"{name}-{role.value}"
        key, certificate, member_files = _issue(
            authority,
            suite,
            name=member,
            role=role,
            directory=org_dir / role.value,
            validity=member_validity,
        )
        files.extend(member_files)
        if role is Role.REGULATOR:
            regulator = RegulatorInfo(
                name=member, organisation=name, public_key=key, certificate=certificate
            )
        else:
            members.append(
                MemberInfo(
                    name=member,
                    organisation=name,
                    role=role,
                    public_key=key,
                    certificate=certificate,
                )
            )
    extra_members, extra_files = _extra_clients(
        authority, suite, options.extra_clients, org_dir, member_validity
    )
    members.extend(extra_members)
    files.extend(extra_files)
    node = f"node{index + 1}"
    p2p, api, _ = _node_addresses(options, index)
    key, certificate, node_files = _issue(
        authority,
        suite,
        name=node,
        role=Role.NODE,
        directory=PurePosixPath("nodes") / node,
        validity=member_validity,
        hosts=(node, options.host),
    )
    files.extend(node_files)
    validator = ValidatorInfo(
        name=node,
        organisation=name,
        public_key=key,
        p2p_address=p2p,
        api_address=api,
        certificate=certificate,
    )
    organisation = Organisation(
        name=name, ca_certificate=authority.certificate.public_bytes(serialization.Encoding.DER)
    )
    return _OrganisationPlan(
        organisation=organisation,
        validator=validator,
        regulator=regulator,
        members=tuple(members),
        files=tuple(files),
    )


def _node_config(
    options: NetworkOptions, index: int, genesis: Genesis, hash_value: bytes, gm_keys: bool
) -> NodeConfig:
    validator = genesis.validators[index]
    _, _, metrics = _node_addresses(options, index)
    peers = tuple(v.p2p_address for v in genesis.validators if v.name != validator.name)
    return NodeConfig(
        node=NodeSection(
            name=validator.name,
            data_dir=Path("data"),
            genesis_file=Path("../..") / str(GENESIS_FILE),
            genesis_hash=hash_value,
        ),
        identity=IdentitySection(
            certificate_file=Path("node.crt"),
            signing_key_file=Path("node.key"),
            tls_key_file=Path("node-tls.key") if gm_keys else None,
        ),
        p2p=P2PSection(listen_address=validator.p2p_address, peers=peers),
        api=ApiSection(listen_address=validator.api_address, access=options.api_access),
        metrics=MetricsSection(listen_address=metrics),
    )


def plan_network(options: NetworkOptions, *, now: datetime) -> NetworkPlan:
    """Every file of a new network, in memory. `now` (timezone-aware) is the genesis time;
    certificates start CLOCK_SKEW_MARGIN earlier so nodes with slow clocks accept them."""
    suite = check_options(options)
    genesis_time = now.astimezone(UTC).replace(microsecond=0)
    plans = [
        _plan_organisation(options, suite, index, genesis_time - CLOCK_SKEW_MARGIN)
        for index in range(options.organisations)
    ]
    genesis = Genesis(
        suite=suite.name,
        genesis_time_ms=datetime_to_ms(genesis_time),
        params=ChainParams(
            chain_id=options.chain_id,
            governance_threshold=majority_threshold(options.organisations),
        ),
        organisations=tuple(plan.organisation for plan in plans),
        validators=tuple(plan.validator for plan in plans),
        regulators=tuple(plan.regulator for plan in plans if plan.regulator is not None),
        members=tuple(member for plan in plans for member in plan.members),
    )
    genesis_text = render_genesis(genesis)
    # Pair check: what we write must read back as exactly what we planned.
    if parse_genesis(tomllib.loads(genesis_text)) != genesis:
        raise InvariantViolation("rendered genesis does not parse back to the planned genesis")
    hash_value = genesis_hash(genesis)
    files = [OutputFile(path=GENESIS_FILE, content=genesis_text.encode("utf-8"), private=False)]
    nodes: list[NodePlan] = []
    directories: list[PurePosixPath] = []
    gm_keys = profile_for(suite.name).chain_key_in_extension
    for index, plan in enumerate(plans):
        files.extend(plan.files)
        config = _node_config(options, index, genesis, hash_value, gm_keys)
        node_dir = PurePosixPath("nodes") / plan.validator.name
        config_path = node_dir / "config.toml"
        files.append(
            OutputFile(path=config_path, content=render_node_config(config).encode(), private=False)
        )
        directories.append(node_dir / "data")
        nodes.append(
            NodePlan(
                name=plan.validator.name,
                organisation=plan.organisation.name,
                p2p_address=plan.validator.p2p_address,
                api_address=plan.validator.api_address,
                config_path=config_path,
            )
        )
    return NetworkPlan(
        genesis=genesis,
        genesis_hash=hash_value,
        nodes=tuple(nodes),
        files=tuple(files),
        directories=tuple(directories),
    )


# --- writing -------------------------------------------------------------------------------


def _directory_error(out: Path, action: str, error: OSError) -> NetworkDirectoryError:
    reason = error.strerror or type(error).__name__
    return NetworkDirectoryError(f"cannot {action} {out}: {reason}")


def _prepare_output(out: Path, force: bool) -> None:
    """Check `out` may receive a network, creating it if needed."""
    if out.exists() and not out.is_dir():
        raise NetworkDirectoryError(f"{out} exists and is not a directory")
    try:
        if out.is_dir() and any(out.iterdir()) and not force:
            raise NetworkDirectoryError(
                f"{out} is not empty; use --force to replace its genesis.toml, orgs/ and nodes/"
            )
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _directory_error(out, "create", error) from error


def _make_directory(path: Path) -> None:
    """Create `path` and missing parents as private (0700) directories: they hold keys."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        directory.mkdir(mode=PRIVATE_DIRECTORY_MODE)
        os.chmod(directory, PRIVATE_DIRECTORY_MODE)  # mkdir's mode is masked by the umask


def _write_staged(plan: NetworkPlan, staging: Path) -> None:
    for directory in plan.directories:
        _make_directory(staging / directory)
    for output in plan.files:
        target = staging / output.path
        _make_directory(target.parent)
        if output.private:
            write_private_file(target, output.content)
        else:
            target.write_bytes(output.content)
            os.chmod(target, PUBLIC_FILE_MODE)


def _move_into_place(staging: Path, out: Path) -> None:
    for name in MANAGED_ENTRIES:
        target = out / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        os.replace(staging / name, target)


def write_network(plan: NetworkPlan, out: Path, *, force: bool) -> None:
    """Write `plan` under `out`. Without `force`, `out` must be absent or empty; with it, only
    genesis.toml, orgs/ and nodes/ are replaced and any other file is left alone."""
    out = Path(out)
    _prepare_output(out, force)
    try:
        staging = Path(tempfile.mkdtemp(prefix=".gongshi-init-", dir=out))
    except OSError as error:
        raise _directory_error(out, "write to", error) from error
    try:
        _write_staged(plan, staging)
        _move_into_place(staging, out)
    except OSError as error:
        raise _directory_error(out, "write the network to", error) from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("wrote network dir=%s nodes=%d", out, len(plan.nodes))


def create_network(
    options: NetworkOptions, out: Path, *, force: bool = False, now: datetime | None = None
) -> NetworkPlan:
    """Plan and write a network; `now` defaults to the current time (the genesis time)."""
    check_options(options)  # fail fast: bad options create nothing
    _prepare_output(Path(out), force)  # and a bad directory costs no key generation
    plan = plan_network(options, now=now if now is not None else datetime.now(UTC))
    write_network(plan, Path(out), force=force)
    return plan
