"""`gongshi org new`: a joining organisation for an existing `gongshi init` network.

Creates, beside the network's own files, a new organisation's CA, its admin and client
identities and one node (key, certificate, `config.toml` on the same genesis), and prints
the governance payloads that admit them (`add_organisation`, then `add_node`). Layout::

    DIR/orgs/<org>/ca/ca.crt, ca.key
    DIR/orgs/<org>/admin/admin.crt, admin.key [, admin-tls.key (gm)]   (also client/)
    DIR/orgs/<org>/proposals.json         the payloads below, bytes as hex
    DIR/nodes/<node>/config.toml, node.crt (or observer.crt), node.key, data/

The node trusts its own CA from `identity.organisation_ca_file` until governance adds the
organisation; it syncs from genesis once its peers allow it (after `add_node`), and votes
from the proposal's activation height on.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

import click
from cryptography.hazmat.primitives import serialization

from gongshi.cli.init_network import PORTS_PER_NODE
from gongshi.crypto import Suite, get_suite
from gongshi.crypto.keyfile import write_private_file
from gongshi.errors import ConfigError, GongshiError
from gongshi.node.config import (
    ApiSection,
    IdentitySection,
    MetricsSection,
    NodeConfig,
    NodeSection,
    P2PSection,
    load_node_config,
    render_node_config,
)
from gongshi.node.config_fields import NAME_PATTERN, PORT_MAX, HostPort
from gongshi.node.genesis import Genesis, genesis_hash, load_genesis
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
from gongshi.pki.profile import generate_certificate_key, private_key_pem
from gongshi.pki.roles import Role

CLOCK_SKEW_MARGIN = timedelta(hours=1)
MEMBER_ROLES = (Role.ADMIN, Role.CLIENT)
PROPOSALS_FILE = "proposals.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinOptions:
    organisation: str
    node: str
    role: Role  # NODE or OBSERVER
    p2p_address: HostPort
    api_address: HostPort
    metrics_address: HostPort
    # `[api] access` of the new node: "members" or "open" (by default the network's own).
    api_access: str = "members"


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedFile:
    path: PurePosixPath  # relative to the network directory
    content: bytes
    private: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinPlan:
    files: tuple[PlannedFile, ...]
    directories: tuple[PurePosixPath, ...]
    proposals: dict[str, dict[str, Any]]  # kind -> payload (JSON: bytes as hex)


def default_options(
    directory: Path,
    genesis: Genesis,
    organisation: str,
    *,
    node: str | None,
    role: Role,
    p2p: HostPort | None,
    api: HostPort | None,
    metrics: HostPort | None,
    api_access: str | None = None,
) -> JoinOptions:
    """Options with the defaults filled in: the node is numbered after the existing ones,
    its ports follow `gongshi init`'s pattern (base + 10 per node), its API access is that
    of the first existing node (a network's nodes share one policy; "members" if none)."""
    existing = sorted(p.name for p in (directory / "nodes").iterdir() if p.is_dir())
    index = len(existing)
    name = node or f"node{index + 1}"
    first = genesis.validators[0].p2p_address
    base = first.port + PORTS_PER_NODE * index
    if p2p is None and base + 2 > PORT_MAX:
        raise InvalidInitOption(f"default ports {base}..{base + 2} are out of range; pass --p2p")
    p2p = p2p or HostPort(host=first.host, port=base)
    return JoinOptions(
        organisation=organisation,
        node=name,
        role=role,
        p2p_address=p2p,
        api_address=api or HostPort(host=p2p.host, port=p2p.port + 1),
        metrics_address=metrics or HostPort(host=p2p.host, port=p2p.port + 2),
        api_access=api_access or _network_api_access(directory, existing),
    )


def _network_api_access(directory: Path, nodes: list[str]) -> str:
    for node in nodes:
        try:
            return load_node_config(directory / "nodes" / node / "config.toml").api.access
        except GongshiError:
            continue
    return "members"


def check_options(directory: Path, genesis: Genesis, options: JoinOptions) -> None:
    for what, name in (("organisation", options.organisation), ("node", options.node)):
        if not NAME_PATTERN.fullmatch(name):
            raise InvalidInitOption(f"{what} name {name!r} must match {NAME_PATTERN.pattern}")
    if options.role not in (Role.NODE, Role.OBSERVER):
        raise InvalidInitOption("--role must be node or observer")
    if any(org.name == options.organisation for org in genesis.organisations):
        raise InvalidInitOption(f"organisation {options.organisation} is in the genesis already")
    for path in (directory / "orgs" / options.organisation, directory / "nodes" / options.node):
        if path.exists():
            raise NetworkDirectoryError(f"{path} exists already")
    addresses = {options.p2p_address, options.api_address, options.metrics_address}
    if len(addresses) != 3:
        raise InvalidInitOption("the p2p, API and metrics addresses must differ")


def _issue(
    authority: CertificateAuthority,
    suite: Suite,
    *,
    name: str,
    role: Role,
    directory: PurePosixPath,
    stem: str,
    validity: Validity,
    hosts: tuple[str, ...] = (),
) -> tuple[bytes, bytes, list[PlannedFile]]:
    """(chain public key, PEM certificate, files) of one member."""
    chain_key = suite.generate_private_key()
    profile = authority.profile
    tls_key = generate_certificate_key(profile) if profile.chain_key_in_extension else None
    request = MemberRequest(
        common_name=name,
        role=role,
        chain_public_key=chain_key.public_key_bytes(),
        validity=validity,
        tls_public_key=None if tls_key is None else tls_key.public_key(),
        hosts=hosts,
    )
    pem = issue_member_certificate(authority, suite, request).public_bytes(
        serialization.Encoding.PEM
    )
    files = [
        PlannedFile(path=directory / f"{stem}.crt", content=pem, private=False),
        PlannedFile(path=directory / f"{stem}.key", content=chain_key.to_pem(), private=True),
    ]
    if tls_key is not None:
        files.append(
            PlannedFile(
                path=directory / f"{stem}-tls.key", content=private_key_pem(tls_key), private=True
            )
        )
    return request.chain_public_key, pem, files


def plan_join(
    genesis: Genesis, options: JoinOptions, *, now: datetime, genesis_file: PurePosixPath
) -> JoinPlan:
    """Every file of the joining organisation and its node, and the proposals' payloads."""
    suite = get_suite(genesis.suite)
    start = now.astimezone(UTC).replace(microsecond=0) - CLOCK_SKEW_MARGIN
    authority = create_certificate_authority(
        organisation=options.organisation,
        suite=suite,
        validity=Validity.starting(start, CA_VALIDITY_DAYS),
    )
    member_validity = Validity.starting(start, MEMBER_VALIDITY_DAYS)
    org_dir = PurePosixPath("orgs") / options.organisation
    ca_pem = authority.certificate.public_bytes(serialization.Encoding.PEM)
    files = [
        PlannedFile(path=org_dir / "ca" / "ca.crt", content=ca_pem, private=False),
        PlannedFile(
            path=org_dir / "ca" / "ca.key",
            content=private_key_pem(authority.private_key),
            private=True,
        ),
    ]
    for role in MEMBER_ROLES:
        _, _, member_files = _issue(
            authority,
            suite,
            name=f"{options.organisation}-{role.value}",
            role=role,
            directory=org_dir / role.value,
            stem=role.value,
            validity=member_validity,
        )
        files.extend(member_files)
    node_dir = PurePosixPath("nodes") / options.node
    stem = "node" if options.role is Role.NODE else "observer"
    public_key, node_pem, node_files = _issue(
        authority,
        suite,
        name=options.node,
        role=options.role,
        directory=node_dir,
        stem=stem,
        validity=member_validity,
        hosts=(options.node, options.p2p_address.host),
    )
    files.extend(node_files)
    gm_keys = authority.profile.chain_key_in_extension
    config = NodeConfig(
        node=NodeSection(
            name=options.node,
            data_dir=Path("data"),
            genesis_file=Path("../..") / str(genesis_file),
            genesis_hash=genesis_hash(genesis),
        ),
        identity=IdentitySection(
            certificate_file=Path(f"{stem}.crt"),
            signing_key_file=Path(f"{stem}.key"),
            tls_key_file=Path(f"{stem}-tls.key") if gm_keys else None,
            organisation_ca_file=Path("../..") / str(org_dir / "ca" / "ca.crt"),
        ),
        p2p=P2PSection(
            listen_address=options.p2p_address,
            peers=tuple(v.p2p_address for v in genesis.validators),
        ),
        api=ApiSection(listen_address=options.api_address, access=options.api_access),
        metrics=MetricsSection(listen_address=options.metrics_address),
    )
    files.append(
        PlannedFile(
            path=node_dir / "config.toml",
            content=render_node_config(config).encode(),
            private=False,
        )
    )
    proposals = {
        "add_organisation": {"name": options.organisation, "ca_certificate_pem": ca_pem.decode()},
        "add_node": {
            "role": options.role.value,
            "name": options.node,
            "public_key": public_key.hex(),
            "p2p_address": str(options.p2p_address),
            "api_address": str(options.api_address),
            "certificate_pem": node_pem.decode(),
        },
    }
    files.append(
        PlannedFile(
            path=org_dir / PROPOSALS_FILE,
            content=(json.dumps(proposals, indent=2) + "\n").encode(),
            private=False,
        )
    )
    return JoinPlan(files=tuple(files), directories=(node_dir / "data",), proposals=proposals)


def write_join(directory: Path, plan: JoinPlan) -> None:
    """Write the plan's files (keys 0600 in 0700 directories); NetworkDirectoryError if a
    file cannot be written."""
    try:
        for planned in plan.files:
            path = directory / planned.path
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if planned.private:
                write_private_file(path, planned.content)
            else:
                path.write_bytes(planned.content)
                os.chmod(path, 0o644)
        for planned_dir in plan.directories:
            (directory / planned_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise NetworkDirectoryError(f"cannot write in {directory}: {error.strerror}") from error


def _host_port(
    _context: click.Context, _parameter: click.Parameter, value: str | None
) -> HostPort | None:
    if value is None:
        return None
    try:
        return HostPort.parse(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@click.group("org")
def org() -> None:
    """Organisations joining a running network."""


@org.command("new")
@click.argument("name")
@click.option(
    "--network",
    "directory",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    required=True,
    help="The `gongshi init` network directory (with genesis.toml).",
)
@click.option("--node", "node_name", default=None, help="Node name (default: node<N+1>).")
@click.option(
    "--role",
    type=click.Choice(["node", "observer"]),
    default="node",
    show_default=True,
    help="A consensus node or an observer.",
)
@click.option("--p2p", callback=_host_port, help="host:port for peers (default: next in line).")
@click.option("--api", callback=_host_port, help="host:port of the API (default: p2p + 1).")
@click.option("--metrics", callback=_host_port, help="host:port of metrics (default: p2p + 2).")
@click.option(
    "--api-access",
    type=click.Choice(["members", "open"]),
    default=None,
    help="[api] access of the node (default: that of the network's existing nodes).",
)
def new(
    name: str,
    directory: Path,
    node_name: str | None,
    role: str,
    p2p: HostPort | None,
    api: HostPort | None,
    metrics: HostPort | None,
    api_access: str | None,
) -> None:
    """Create organisation NAME (CA, admin, client) and its node for the network in
    --network, and print the governance payloads that admit them (JSON)."""
    genesis_file = directory / "genesis.toml"
    if not genesis_file.is_file():
        raise ConfigError(f"{directory} has no genesis.toml (run gongshi init first)")
    genesis = load_genesis(genesis_file)
    options = default_options(
        directory,
        genesis,
        name,
        node=node_name,
        role=Role(role),
        p2p=p2p,
        api=api,
        metrics=metrics,
        api_access=api_access,
    )
    check_options(directory, genesis, options)
    plan = plan_join(
        genesis, options, now=datetime.now(UTC), genesis_file=PurePosixPath("genesis.toml")
    )
    write_join(directory, plan)
    config_path = directory / "nodes" / options.node / "config.toml"
    click.echo(
        f"Created organisation {name} in {directory / 'orgs' / name} and node {options.node} "
        f"({role}, p2p {options.p2p_address}, api {options.api_address}).\n"
        f"Submit these proposals (saved in {directory / 'orgs' / name / PROPOSALS_FILE}; "
        "public_key is hex), add_organisation first, then start the node:\n"
        f"  gongshi node start --config {config_path}",
        err=True,
    )
    click.echo(json.dumps(plan.proposals, indent=2))
