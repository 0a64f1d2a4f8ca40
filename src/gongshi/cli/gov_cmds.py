"""`gongshi gov`: governance proposals, votes and what governance decided, over a node's API.

    gongshi gov propose set-params block_txs_max=500 --activation-height 120
    gongshi gov vote 3 yes --org org2
    gongshi gov list [--status S | --all]      gongshi gov show 3
    gongshi gov params                         gongshi gov validators

Proposals and votes are signed by an organisation admin: `--org ORG` (that organisation's
admin in the network directory) or `--identity DIR` (a folder holding one `<role>.key` and
`<role>.crt`). Payloads are checked before anything is sent (exit 2). Each transaction
prints its verified receipt; a FAILED or PERMISSION_DENIED receipt exits 1 with the
contract's `[code] message`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from gongshi.api.wire import to_hex, value_to_json
from gongshi.cli.client_cmds import CliInputError, endpoint_options, proof_line
from gongshi.crypto import Suite
from gongshi.errors import GongshiError
from gongshi.pki.validation import load_certificate
from gongshi.sdk import Client, Identity, IdentityNotFound, NetworkInfo, VerifiedReceipt
from gongshi.sdk import governance as gov

F = TypeVar("F", bound=Callable[..., Any])
Connect = Callable[..., Client]

LIST_ROWS_MAX = 1000  # `gov list` follows pages up to this many proposals
LIST_PAGES_MAX = 100  # ... or this many pages (each looks at 500 proposals at most)
KEY_FILE_BYTES_MAX = 64 * 1024


# --- connection and identity -------------------------------------------------------------------


def _identity_from_folder(folder: Path, network: NetworkInfo) -> Identity:
    """The identity in `folder`: its one `<role>.key` and the `<role>.crt` beside it."""
    keys = sorted(folder.glob("*.key")) if folder.is_dir() else []
    if len(keys) != 1:
        raise IdentityNotFound(f"{folder} must hold exactly one <role>.key (found {len(keys)})")
    key_file = keys[0]
    certificate_file = key_file.with_suffix(".crt")
    suite = network.suite
    try:
        key = suite.load_private_key(key_file)
        certificate_pem = certificate_file.read_bytes()[:KEY_FILE_BYTES_MAX]
        organisation = gov.organisation_of(load_certificate(certificate_pem))
    except OSError as error:
        raise IdentityNotFound(f"cannot read {folder}: {error.strerror}") from None
    except GongshiError as error:
        raise IdentityNotFound(f"{certificate_file}: {error.message}") from None
    return Identity(
        organisation=organisation,
        role=key_file.stem,
        suite=suite,
        key=key,
        certificate_pem=certificate_pem,
    )


def gov_options(command: F) -> F:
    """--network, --node, --url and the signer (--org's admin, or --identity DIR), passed on
    as one `connect` callable."""

    @endpoint_options
    @click.option(
        "--org", "organisation", default="org1", show_default=True, help="Signer: ORG's admin."
    )
    @click.option(
        "--identity",
        "identity_dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="Signer folder (<role>.key, <role>.crt), e.g. localnet/orgs/org2/admin.",
    )
    @functools.wraps(command)
    def wrapper(
        network_dir: Path,
        node: str | None,
        url: str | None,
        organisation: str,
        identity_dir: Path | None,
        **kwargs: Any,
    ) -> Any:
        def connect(*, sign: bool = False) -> Client:
            network = NetworkInfo.load(network_dir)
            # Reads are signed too (a node with [api] access = "members" wants a member);
            # a read without that identity on disk goes unsigned (an open node answers).
            identity = None
            try:
                if identity_dir is not None:
                    identity = _identity_from_folder(identity_dir, network)
                else:
                    identity = Identity.load(network_dir, organisation, "admin", network=network)
            except IdentityNotFound:
                if sign or identity_dir is not None:
                    raise
            return Client(url or network.api_url(node), network, identity)

        return command(connect=connect, **kwargs)

    return wrapper  # type: ignore[return-value]


# --- argument parsing --------------------------------------------------------------------------


def _hex_argument(text: str, what: str, sizes: tuple[int, ...] | None = None) -> bytes:
    body = text[2:] if text.lower().startswith("0x") else text
    try:
        value = bytes.fromhex(body)
    except ValueError:
        raise CliInputError(f"{what} {text[:80]!r} is not hex") from None
    if not value or (sizes is not None and len(value) not in sizes):
        expected = " or ".join(str(size) for size in sizes or ())
        raise CliInputError(f"{what} must be {expected or 'some'} bytes of hex")
    return value


def _parameter_changes(assignments: tuple[str, ...]) -> dict[str, int]:
    changes: dict[str, int] = {}
    for assignment in assignments:
        name, separator, value = assignment.partition("=")
        if not separator or not value.isdigit() or not value.isascii():
            raise CliInputError(f"{assignment[:80]!r} is not KEY=VALUE with an unsigned VALUE")
        if name in changes:
            raise CliInputError(f"parameter {name} is given twice")
        changes[name] = int(value)
    return changes


def _certificate(path: Path | None) -> bytes | None:
    return None if path is None else gov.read_certificate_file(path)


# --- output ------------------------------------------------------------------------------------


def _receipt_lines(verified: VerifiedReceipt) -> list[str]:
    receipt = verified.receipt
    lines = [
        f"transaction {to_hex(verified.tx_hash)}",
        f"  status    {receipt.status.name}" + (f": {receipt.error}" if receipt.error else ""),
        f"  block     {verified.block.height} ({to_hex(verified.block.hash)}), index "
        f"{verified.index}",
    ]
    for event in receipt.events:
        fields = json.dumps(value_to_json(event.fields))
        lines.append(f"  event     {event.contract}.{event.name} {fields}")
    lines.append(proof_line(verified.block))
    return lines


def _send(connect: Connect, method: str, args: Mapping[str, Any]) -> Mapping[str, Any]:
    """Sign and send `governance.<method>`, print the verified receipt; GovernanceCallFailed
    (exit 1, the contract's code) unless it succeeded. The call's return value."""
    with connect(sign=True) as client:
        tx_hash = client.submit(
            "governance", method, dict(args), gas_limit=gov.GOVERNANCE_GAS_LIMIT
        )
        receipt = client.wait_receipt(tx_hash)
    click.echo("\n".join(_receipt_lines(receipt)))
    return gov.returned_map(gov.require_accepted(receipt, method))


def _height(value: object) -> str:
    return "-" if value is None else f"block {value}"


# --- gov ---------------------------------------------------------------------------------------


@click.group("gov")
def gov_group() -> None:
    """Governance: propose, vote, list and show proposals; parameters and validators."""


@gov_group.group("propose")
def propose() -> None:
    """Submit a proposal (as an organisation admin; it counts as the organisation's yes)."""


def proposal_options(command: F) -> F:
    """--description, --expiry-height, --activation-height and the connection options; the
    command returns (kind, payload) and this submits it."""

    @click.option("--description", default=None, help="Why (at most 1024 bytes).")
    @click.option("--expiry-height", type=click.IntRange(0), default=None, help="Last block.")
    @click.option(
        "--activation-height",
        type=click.IntRange(0),
        default=None,
        help="First block of the effect (nodes and parameters only).",
    )
    @gov_options
    @functools.wraps(command)
    def wrapper(
        connect: Connect,
        description: str | None,
        expiry_height: int | None,
        activation_height: int | None,
        **kwargs: Any,
    ) -> None:
        with connect() as reader:
            suite = reader.network.suite
        kind, payload = command(suite=suite, **kwargs)
        args = gov.proposal_args(
            kind,
            payload,
            description=description,
            expiry_height=expiry_height,
            activation_height=activation_height,
        )
        returned = _send(connect, "propose", args)
        click.echo(f"proposal {returned.get('id')} ({kind}): {returned.get('status')}")

    return wrapper  # type: ignore[return-value]


Payload = tuple[str, dict[str, Any]]


@propose.command("add-organisation")
@click.option("--name", required=True, help="Organisation name (the CA's O=).")
@click.option("--ca-cert", type=click.Path(path_type=Path, dir_okay=False), required=True)
@click.option("--regulator", is_flag=True, help="It may issue regulator certificates.")
@proposal_options
def add_organisation(suite: Suite, name: str, ca_cert: Path, regulator: bool) -> Payload:
    """Add organisation NAME with its CA certificate."""
    certificate = gov.read_certificate_file(ca_cert)
    return "add_organisation", gov.organisation_payload(name, certificate, regulator=regulator)


@propose.command("remove-organisation")
@click.option("--name", required=True)
@proposal_options
def remove_organisation(suite: Suite, name: str) -> Payload:
    """Remove organisation NAME (not while it runs nodes)."""
    return "remove_organisation", {"name": gov.check_name(name)}


@propose.command("add-node")
@click.option("--role", type=click.Choice(gov.NODE_ROLES), required=True)
@click.option("--name", required=True, help="Node name.")
@click.option("--cert", type=click.Path(path_type=Path, dir_okay=False), required=True)
@click.option("--p2p", required=True, help="Peer address HOST:PORT.")
@click.option("--api", "api", required=True, help="API address HOST:PORT.")
@proposal_options
def add_node(suite: Suite, role: str, name: str, cert: Path, p2p: str, api: str) -> Payload:
    """Add a consensus node (--role node) or an observer; its key is the certificate's."""
    certificate = gov.read_certificate_file(cert)
    payload = gov.node_payload(
        suite, role=role, name=name, certificate=certificate, p2p_address=p2p, api_address=api
    )
    return "add_node", payload


@propose.command("remove-node")
@click.option("--public-key", default=None, help="The node's public key (hex).")
@click.option("--cert", type=click.Path(path_type=Path, dir_okay=False), default=None)
@proposal_options
def remove_node(suite: Suite, public_key: str | None, cert: Path | None) -> Payload:
    """Remove a consensus node or observer, by --public-key or --cert."""
    key = None if public_key is None else _hex_argument(public_key, "--public-key")
    payload = gov.remove_node_payload(suite, public_key=key, certificate=_certificate(cert))
    return "remove_node", payload


@propose.command("revoke-certificate")
@click.option("--cert", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--serial", default=None, help="Certificate serial (hex), with --organisation.")
@click.option("--organisation", "serial_organisation", default=None, help="Its organisation.")
@click.option("--key-hash", default=None, help="Suite hash of the chain signing key (hex).")
@proposal_options
def revoke_certificate(
    suite: Suite,
    cert: Path | None,
    serial: str | None,
    serial_organisation: str | None,
    key_hash: str | None,
) -> Payload:
    """Revoke a certificate: --cert FILE, --serial HEX --organisation N, or --key-hash HEX."""
    payload = gov.revocation_payload(
        suite,
        certificate=_certificate(cert),
        serial=None if serial is None else _hex_argument(serial, "--serial"),
        organisation=serial_organisation,
        key_hash=None if key_hash is None else _hex_argument(key_hash, "--key-hash", (32,)),
    )
    return "revoke_certificate", payload


@propose.command("change-role")
@click.option("--address", required=True, help="Member address (20 bytes, hex).")
@click.option("--role", required=True, help="New role.")
@proposal_options
def change_role(suite: Suite, address: str, role: str) -> Payload:
    """Change a member's role."""
    return "change_role", gov.role_payload(_hex_argument(address, "--address", (20,)), role)


@propose.command("set-params")
@click.argument("assignments", nargs=-1, required=True, metavar="KEY=VALUE...")
@proposal_options
def set_params(suite: Suite, assignments: tuple[str, ...]) -> Payload:
    """Change chain parameters (see `gongshi gov params`)."""
    return "change_parameters", gov.parameters_payload(_parameter_changes(assignments))


@propose.command("freeze-contract")
@click.option("--name", required=True)
@proposal_options
def freeze_contract(suite: Suite, name: str) -> Payload:
    """Freeze contract NAME."""
    return "freeze_contract", gov.contract_payload(name)


@propose.command("unfreeze-contract")
@click.option("--name", required=True)
@proposal_options
def unfreeze_contract(suite: Suite, name: str) -> Payload:
    """Unfreeze contract NAME."""
    return "unfreeze_contract", gov.contract_payload(name)


@gov_group.command("vote")
@click.argument("proposal_id", type=click.IntRange(0), metavar="ID")
@click.argument("choice", type=click.Choice(["yes", "no"]))
@gov_options
def vote(connect: Connect, proposal_id: int, choice: str) -> None:
    """Vote yes or no on proposal ID (as an organisation admin)."""
    returned = _send(connect, "vote", {"id": proposal_id, "approve": choice == "yes"})
    click.echo(
        f"proposal {proposal_id}: {returned.get('status')}, yes {returned.get('yes')}, "
        f"no {returned.get('no')}"
    )


@gov_group.command("list")
@click.option("--status", type=click.Choice(gov.STATUSES), default=None, help="Default: open.")
@click.option("--all", "every", is_flag=True, help="Proposals of every status.")
@gov_options
def list_proposals(connect: Connect, status: str | None, every: bool) -> None:
    """List proposals (open ones unless --status or --all) by id."""
    if every and status is not None:
        raise CliInputError("give --status or --all, not both")
    wanted = None if every else (status or "open")
    rows: list[dict[str, Any]] = []
    start: int | None = 0
    height = None
    with connect() as client:
        for _ in range(LIST_PAGES_MAX):
            page = client.proposals(status=wanted, start=start or 0, limit=50)
            rows.extend(page["proposals"])
            start, height = page["next"], page["height"]
            if start is None or len(rows) >= LIST_ROWS_MAX:
                break
    click.echo(f"{len(rows)} {wanted or ''} proposal(s) at block {height}".replace("  ", " "))
    if rows:
        click.echo(f"{'id':>6}  {'kind':<20} {'status':<9} {'yes/no/threshold':<17} expiry")
    for row in rows[:LIST_ROWS_MAX]:
        tally = f"{row['yes']}/{row['no']}/{row['threshold']}"
        click.echo(
            f"{row['id']:>6}  {row['kind']:<20} {row['status']:<9} {tally:<17} "
            f"{row['expiry_height']}"
        )
    if start is not None:
        click.echo(f"(more from id {start})")


@gov_group.command("show")
@click.argument("proposal_id", type=click.IntRange(0), metavar="ID")
@gov_options
def show(connect: Connect, proposal_id: int) -> None:
    """Show proposal ID, verified against a certified block: every field, votes by
    organisation."""
    with connect() as client:
        proven = client.proposal(proposal_id)
    value = value_to_json(dict(proven.proposal))
    electorate = list(value["electorate"])
    votes: dict[str, bool] = value["votes"]
    lines = [
        f"proposal {value['id']}: {value['kind']} ({proven.status})",
        f"  description  {value['description'] or '-'}",
        f"  proposer     {value['proposer']} ({value['organisation']})",
        f"  created      block {value['created_height']}",
        f"  expiry       block {value['expiry_height']}",
        f"  activation   {_height(value['activation_height'])}",
        f"  threshold    {value['threshold']} of {len(electorate)}: {', '.join(electorate)}",
        f"  votes        yes {value['yes']}, no {value['no']}",
    ]
    for organisation in electorate:
        cast = votes.get(organisation)
        lines.append(f"    {organisation:<12} {'-' if cast is None else 'yes' if cast else 'no'}")
    lines += [
        f"  closed       {_height(value['closed_height'])}",
        f"  effective    {_height(value['effective_height'])}",
        f"  result       {value['result'] or '-'}",
        f"  payload      {json.dumps(value['payload'], sort_keys=True)}",
        proof_line(proven.state.block),
    ]
    click.echo("\n".join(lines))


@gov_group.command("params")
@gov_options
def params(connect: Connect) -> None:
    """Chain parameters in force for the next block, and scheduled changes."""
    with connect() as client:
        found = client.params()
    current = found["in_force"]
    click.echo(
        f"parameters in force after block {found['height']} "
        f"(since block {current['effective_height']}):"
    )
    for name, value in sorted(current["params"].items()):
        click.echo(f"  {name:<26} {value}")
    if not found["scheduled"]:
        click.echo("scheduled: none")
    for entry in found["scheduled"]:
        changed = {
            name: value
            for name, value in sorted(entry["params"].items())
            if current["params"].get(name) != value
        }
        text = ", ".join(f"{name}={value}" for name, value in changed.items()) or "no change"
        click.echo(f"scheduled from block {entry['effective_height']}: {text}")


def _set_lines(entry: Mapping[str, Any]) -> list[str]:
    return [
        f"  {node['name']:<10} {node['organisation']:<10} {node['public_key']}  "
        f"p2p {node['p2p_address']}  api {node['api_address']}"
        for node in entry["validators"]
    ]


@gov_group.command("validators")
@gov_options
def validators(connect: Connect) -> None:
    """The validator set in force for the next block, pending sets and observers."""
    with connect() as client:
        found = client.validators()
    current = found["in_force"]
    click.echo(
        f"validators in force after block {found['height']} "
        f"(since block {current['activation_height']}): {len(current['validators'])}"
    )
    click.echo("\n".join(_set_lines(current)))
    for entry in found["pending"]:
        click.echo(
            f"pending from block {entry['activation_height']} "
            f"(announced by block {entry['announce_height']}): {len(entry['validators'])}"
        )
        click.echo("\n".join(_set_lines(entry)))
    observers = found["observers"]
    click.echo(f"observers: {len(observers) or 'none'}")
    if observers:
        click.echo("\n".join(_set_lines({"validators": observers})))


@gov_group.command("organisations")
@gov_options
def organisations(connect: Connect) -> None:
    """The member organisations (the electorate of new proposals)."""
    with connect() as client:
        found = client.organisations()
    listed = found["organisations"]
    click.echo(f"{len(listed)} organisations after block {found['height']}")
    for item in listed:
        flag = "  regulator" if item["regulator"] else ""
        click.echo(f"  {item['name']}{flag}")
