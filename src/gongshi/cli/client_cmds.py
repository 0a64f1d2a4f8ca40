"""Client commands over a node's API: `gongshi status`, `tx send`, `block get`,
`notary put` and `notary get`.

Defaults fit what `gongshi up` creates: the network directory `localnet/` in the current
directory, the first node's API and org1's client identity. Everything the chain can prove
is verified by the SDK (against the validator set of its epoch, proven from genesis) before it
is printed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from gongshi.api.wire import to_hex, value_from_json, value_to_json
from gongshi.errors import ValidationError
from gongshi.sdk import Client, VerifiedHeader, VerifiedReceipt, hash_file
from gongshi.sdk.errors import IdentityNotFound
from gongshi.sdk.network import DEFAULT_NETWORK_DIR
from gongshi.sdk.notary import NotaryRecord, ProvenRecord

F = TypeVar("F", bound=Callable[..., Any])

HASH_SIZE = 32
JSON_ARGUMENT_BYTES_MAX = 64 * 1024


class CliInputError(ValidationError):
    """Raised when a client command's argument (JSON, hash, height) is malformed."""

    code = 1964


_ENDPOINT_OPTIONS = (
    click.option(
        "--network",
        "network_dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=DEFAULT_NETWORK_DIR,
        show_default=True,
        help="Network directory (genesis.toml, orgs/).",
    ),
    click.option("--node", default=None, help="Node name or number (default: the first)."),
    click.option("--url", default=None, help="API URL, instead of the node's genesis address."),
)


def endpoint_options(command: F) -> F:
    """--network, --node and --url (passed as `network_dir`, `node`, `url`)."""
    for option in reversed(_ENDPOINT_OPTIONS):
        command = option(command)
    return command


def connection_options(command: F) -> F:
    """--network, --node, --url, --org and --role, passed on as one `connect` callable."""

    @endpoint_options
    @click.option("--org", "organisation", default="org1", show_default=True, help="Signer org.")
    @click.option("--role", default="client", show_default=True, help="Signer role.")
    @functools.wraps(command)
    def wrapper(
        network_dir: Path,
        node: str | None,
        url: str | None,
        organisation: str,
        role: str,
        **kwargs: Any,
    ) -> Any:
        def connect(*, sign: bool = False) -> Client:
            # Reads are signed too (a node with [api] access = "members" wants a member);
            # a read without that identity on disk goes unsigned (an open node answers).
            try:
                return Client.connect(
                    network_dir, node=node, url=url, organisation=organisation, role=role
                )
            except IdentityNotFound:
                if sign:
                    raise
            return Client.connect(network_dir, node=node, url=url, organisation=None, role=role)

        return command(connect=connect, **kwargs)

    return wrapper  # type: ignore[return-value]


def _json_argument(text: str, what: str) -> Any:
    if len(text) > JSON_ARGUMENT_BYTES_MAX:
        raise CliInputError(f"{what} is longer than {JSON_ARGUMENT_BYTES_MAX} bytes")
    try:
        return json.loads(text)
    except ValueError as error:
        raise CliInputError(f"{what} is not valid JSON: {error}") from None


def _hash_argument(text: str) -> bytes:
    body = text[2:] if text.startswith("0x") else text
    try:
        value = bytes.fromhex(body)
    except ValueError:
        value = b""
    if len(value) != HASH_SIZE or len(body) != 2 * HASH_SIZE:
        raise CliInputError(f"{text[:80]!r} is not a 32-byte hash in hex")
    return value


def _time(timestamp_ms: int) -> str:
    moment = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def proof_line(block: VerifiedHeader) -> str:
    return (
        f"proof verified against block {block.height} signed by "
        f"{block.signers}/{block.validators} validators"
    )


def _receipt_lines(verified: VerifiedReceipt) -> list[str]:
    receipt = verified.receipt
    lines = [
        f"transaction {to_hex(verified.tx_hash)}",
        f"  status    {receipt.status.name}" + (f": {receipt.error}" if receipt.error else ""),
        f"  block     {verified.block.height} ({to_hex(verified.block.hash)}), index "
        f"{verified.index}",
        f"  gas used  {receipt.gas_used}",
    ]
    if receipt.return_value is not None:
        lines.append(f"  returned  {json.dumps(value_to_json(receipt.return_value))}")
    for event in receipt.events:
        fields = json.dumps(value_to_json(event.fields))
        lines.append(f"  event     {event.contract}.{event.name} {fields}")
    lines.append(proof_line(verified.block))
    return lines


def _record_lines(record: NotaryRecord) -> list[str]:
    lines = [
        f"document  {to_hex(record.doc_hash)}",
        f"  owner     {to_hex(record.owner)} (record #{record.sequence})",
        f"  at        block {record.height}, {_time(record.timestamp_ms)}",
        f"  tx        {to_hex(record.tx_hash)}",
        f"  metadata  {json.dumps(value_to_json(dict(record.metadata)))}",
    ]
    if record.locator is not None:
        lines.append(f"  locator   {record.locator}")
    return lines


# --- status ----------------------------------------------------------------------------------


@click.command("status")
@connection_options
def status(connect: Callable[..., Client]) -> None:
    """Show the chain and the node: height, head (verified), validators, peers, mempool."""
    with connect() as client:
        info = client.chain_info()
        height = info.get("height")
        click.echo(
            f"chain {info.get('chain_id')} (suite {info.get('suite')}) at {client.url}, "
            f"node {info.get('node')}"
        )
        if isinstance(height, int):
            head = client.block(height)
            click.echo(f"  height      {height}, head {to_hex(head.block.hash)}")
            if height > 0:
                click.echo(f"  head block  {proof_line(head.block)}")
        validators = info.get("validators") or []
        names = ", ".join(str(v.get("name")) for v in validators if isinstance(v, dict))
        click.echo(f"  validators  {len(validators)}: {names} (epoch {info.get('epoch')})")
        click.echo(f"  peers       {info.get('peers')}")
        click.echo(f"  mempool     {info.get('mempool_size')} pending")


# --- tx --------------------------------------------------------------------------------------


@click.group("tx")
def tx() -> None:
    """Send transactions."""


@tx.command("send")
@click.option("--target", required=True, help="Contract, e.g. notary.")
@click.option("--method", required=True, help="Method, e.g. register.")
@click.option(
    "--args",
    "args_json",
    default="{}",
    show_default=True,
    help='Arguments as JSON; strings "0x<hex>" are bytes.',
)
@click.option("--gas-limit", type=click.IntRange(1), default=1_000_000, show_default=True)
@click.option("--no-wait", is_flag=True, help="Print the hash; do not wait for the receipt.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(0.1), default=30.0)
@connection_options
def send(
    connect: Callable[..., Client],
    target: str,
    method: str,
    args_json: str,
    gas_limit: int,
    no_wait: bool,
    timeout_s: float,
) -> None:
    """Sign a call with the identity (--org, --role) and send it; wait for its verified
    receipt."""
    args = value_from_json(_json_argument(args_json, "--args"))
    with connect(sign=True) as client:
        tx_hash = client.submit(target, method, args, gas_limit=gas_limit)
        if no_wait:
            click.echo(to_hex(tx_hash))
            return
        receipt = client.wait_receipt(tx_hash, timeout_s=timeout_s)
        click.echo("\n".join(_receipt_lines(receipt)))
        client.core.require_success(receipt)  # a failed call: the receipt, then exit 1


# --- block -----------------------------------------------------------------------------------


@click.group("block")
def block() -> None:
    """Read blocks."""


@block.command("get")
@click.argument("ref")
@click.option("--full", is_flag=True, help="List the transactions.")
@connection_options
def block_get(connect: Callable[..., Client], ref: str, full: bool) -> None:
    """Show block REF (a height or a block hash), verified against its certificate."""
    target: int | bytes = int(ref) if ref.isdigit() else _hash_argument(ref)
    with connect() as client:
        verified = client.block(target, full=full)
    header = verified.block.header
    click.echo(f"block {header.height} {to_hex(verified.block.hash)}")
    click.echo(f"  parent        {to_hex(header.parent_hash)}")
    click.echo(f"  time          {_time(header.timestamp_ms)}")
    click.echo(f"  proposer      {to_hex(header.proposer)}, round {header.round}")
    click.echo(f"  state root    {to_hex(header.state_root)}")
    click.echo(f"  transactions  {len(verified.tx_hashes)}")
    for index, tx_hash in enumerate(verified.tx_hashes):
        line = f"    {index:>4} {to_hex(tx_hash)}"
        if verified.transactions is not None:
            call = verified.transactions[index]
            line += f" {call.target}.{call.method} nonce {call.nonce}"
        click.echo(line)
    if header.height == 0:
        click.echo("genesis block: matches this network's genesis file")
    else:
        click.echo(proof_line(verified.block))


# --- notary ----------------------------------------------------------------------------------


@click.group("notary")
def notary() -> None:
    """Notarize documents (存证) and look them up."""


@notary.command("put")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--metadata", "metadata_json", default="{}", help="Metadata as a JSON object.")
@click.option("--locator", default=None, help="Where the document is kept (URL).")
@click.option("--timeout", "timeout_s", type=click.FloatRange(0.1), default=30.0)
@connection_options
def notary_put(
    connect: Callable[..., Client],
    file: Path,
    metadata_json: str,
    locator: str | None,
    timeout_s: float,
) -> None:
    """Register FILE's hash (the chain suite's hash) with notary.register, wait for the
    receipt and verify its proof."""
    metadata = value_from_json(_json_argument(metadata_json, "--metadata"))
    if not isinstance(metadata, dict):
        raise CliInputError("--metadata must be a JSON object")
    with connect(sign=True) as client:
        doc_hash = hash_file(client.network.suite, file)
        receipt = client.notary_register(doc_hash, metadata, locator, timeout_s=timeout_s)
        proven = client.notary_get(doc_hash, receipt.block.height)
    if proven.record is not None:
        click.echo("\n".join(_record_lines(proven.record)))
    click.echo("\n".join(_receipt_lines(receipt)))


@notary.command("get")
@click.argument("document")
@connection_options
def notary_get(connect: Callable[..., Client], document: str) -> None:
    """Look up DOCUMENT (a file, or a 32-byte hash in hex) and prove the answer."""
    with connect() as client:
        path = Path(document)
        if path.is_file():
            doc_hash = hash_file(client.network.suite, path)
        else:
            doc_hash = _hash_argument(document)
        proven = client.notary_get(doc_hash)
    click.echo("\n".join(_proven_lines(proven, doc_hash)))


def _proven_lines(proven: ProvenRecord, doc_hash: bytes) -> list[str]:
    if proven.record is None:
        lines = [f"document {to_hex(doc_hash)} is not registered"]
        statement = "absence " + proof_line(proven.state.block)
    else:
        lines = _record_lines(proven.record)
        statement = proof_line(proven.state.block)
    return [*lines, statement]
