"""`gongshi contract`: check, deploy, upgrade, call and query Python contracts.

    gongshi contract check token.py                       (local: no node needed)
    gongshi contract propose-deploy token.py --name token (an admin: upload, then propose)
    gongshi contract propose-upgrade token.py --name token
    gongshi contract call token transfer '{"to": "0x…", "amount": 5}'
    gongshi contract query token balance_of '{"holder": "0x…"}'
    gongshi contract show token

Deploying takes a governance proposal: `propose-*` uploads the code (`contracts.upload`) and
submits the proposal (counting as the organisation's yes); other organisations' admins vote
with `gongshi gov vote ID yes`. Arguments are JSON objects; strings "0x<hex>" are bytes.
Problems found by `check` (or by the chain on upload) print as `line:col: reason`, exit 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from gongshi.api.wire import to_hex, value_from_json, value_to_json
from gongshi.cli.client_cmds import CliInputError, connection_options, proof_line
from gongshi.cli.gov_cmds import gov_options
from gongshi.execution.contract_errors import ContractCodeRejected
from gongshi.execution.contract_records import CODE_BYTES_MAX
from gongshi.execution.contract_runtime import PythonRuntime
from gongshi.sdk import Client, VerifiedReceipt

EXIT_PROBLEMS = 2
ARGUMENT_BYTES_MAX = 64 * 1024

Connect = Callable[..., Client]


def read_source(path: Path) -> str:
    """The contract source in `path` (UTF-8, at most the chain's code size)."""
    try:
        data = path.read_bytes()[: CODE_BYTES_MAX + 1]
    except OSError as error:
        raise CliInputError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > CODE_BYTES_MAX:
        raise CliInputError(f"{path} is larger than {CODE_BYTES_MAX} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CliInputError(f"{path} is not UTF-8 text") from None


def check_locally(source: str) -> tuple[str, ...]:
    """The checker's problems with `source` (`line:col: reason`), none if it is accepted."""
    try:
        PythonRuntime().check(source)
    except ContractCodeRejected as error:
        return error.problems
    return ()


def require_checked(source: str) -> None:
    """Print the problems and exit 2 unless `source` passes the checker."""
    problems = check_locally(source)
    if problems:
        click.echo("\n".join(problems))
        sys.exit(EXIT_PROBLEMS)


def json_args(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    if len(text) > ARGUMENT_BYTES_MAX:
        raise CliInputError(f"ARGS is longer than {ARGUMENT_BYTES_MAX} bytes")
    try:
        value = value_from_json(json.loads(text))
    except ValueError as error:
        raise CliInputError(f"ARGS is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise CliInputError("ARGS must be a JSON object of named arguments")
    return value


def receipt_lines(verified: VerifiedReceipt) -> list[str]:
    receipt = verified.receipt
    lines = [
        f"transaction {to_hex(verified.tx_hash)}",
        f"  status    {receipt.status.name}" + (f": {receipt.error}" if receipt.error else ""),
        f"  block     {verified.block.height}, index {verified.index}",
        f"  gas used  {receipt.gas_used}",
        f"  returned  {json.dumps(value_to_json(receipt.return_value))}",
    ]
    for event in receipt.events:
        fields = json.dumps(value_to_json(event.fields))
        lines.append(f"  event     {event.contract}.{event.name} {fields}")
    lines.append(proof_line(verified.block))
    return lines


def record_lines(record: dict[str, Any]) -> list[str]:
    state = "frozen" if record.get("frozen") else "active"
    lines = [
        f"contract {record.get('name')} at {record.get('address')} ({state})",
        f"  version    {record.get('version')}, code {record.get('code_hash')}",
        "  exports",
    ]
    exports = record.get("exports") or {}
    for name in sorted(exports):
        spec = exports[name]
        kind = "read-only" if spec.get("read_only") else "writes"
        roles = spec.get("roles")
        who = "any role" if roles is None else ", ".join(roles)
        parameters = ", ".join(spec.get("parameters") or ())
        lines.append(f"    {name}({parameters})  {kind}; {who}")
    lines.append("  history")
    for entry in record.get("history") or ():
        lines.append(
            f"    v{entry.get('version')}  block {entry.get('height')}  "
            f"proposal {entry.get('proposal')}  code {entry.get('code_hash')}"
        )
    return lines


# --- commands ----------------------------------------------------------------------------------


@click.group("contract")
def contract() -> None:
    """Python contracts: check, propose deploy/upgrade, call, query, show."""


@contract.command("check")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
def check(file: Path) -> None:
    """Check FILE against the contract language's rules, locally (no node). Prints each
    problem as `line:col: reason` and exits 2, or prints the exports."""
    source = read_source(file)
    require_checked(source)
    loaded = PythonRuntime().load(source)
    click.echo(f"{file}: ok")
    for name in sorted(loaded.exports):
        spec = loaded.exports[name]
        kind = "read-only" if spec.read_only else "writes"
        roles = "any role" if spec.roles is None else ", ".join(sorted(spec.roles))
        click.echo(f"  {name}({', '.join(spec.parameters)})  {kind}; {roles}")


def _propose(connect: Connect, file: Path, name: str, kind: str, description: str | None) -> None:
    source = read_source(file)
    require_checked(source)
    with connect(sign=True) as client:
        code_hash = client.contract_upload(source)
        click.echo(f"uploaded code {to_hex(code_hash)} ({len(source.encode())} bytes)")
        proposal_id = client.propose(
            kind, {"name": name, "code_hash": code_hash}, description=description
        )
    click.echo(f"proposal {proposal_id} ({kind} {name}) submitted")
    click.echo(f"  other organisations' admins approve it: gongshi gov vote {proposal_id} yes")


@contract.command("propose-deploy")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--name", required=True, help="Contract name ([a-z][a-z0-9_]*).")
@click.option("--description", default=None, help="Why (at most 1024 bytes).")
@gov_options
def propose_deploy(connect: Connect, file: Path, name: str, description: str | None) -> None:
    """Upload FILE and propose deploying it as NAME (as an organisation admin)."""
    _propose(connect, file, name, "deploy_contract", description)


@contract.command("propose-upgrade")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--name", required=True, help="Name of the deployed contract.")
@click.option("--description", default=None, help="Why (at most 1024 bytes).")
@gov_options
def propose_upgrade(connect: Connect, file: Path, name: str, description: str | None) -> None:
    """Upload FILE and propose it as the next version of NAME (storage is kept)."""
    _propose(connect, file, name, "upgrade_contract", description)


@contract.command("call")
@click.argument("name")
@click.argument("method")
@click.argument("args_json", metavar="[ARGS]", required=False)
@click.option("--gas-limit", type=click.IntRange(1), default=1_000_000, show_default=True)
@click.option("--timeout", "timeout_s", type=click.FloatRange(0.1), default=30.0)
@connection_options
def call(
    connect: Connect,
    name: str,
    method: str,
    args_json: str | None,
    gas_limit: int,
    timeout_s: float,
) -> None:
    """Call export METHOD of contract NAME (or 0x address) by a signed transaction; print
    the verified receipt: status, return value, events. Exit 1 unless it succeeded."""
    args = json_args(args_json)
    with connect(sign=True) as client:
        receipt = client.contract_call(
            name, method, args, gas_limit=gas_limit, timeout_s=timeout_s, check=False
        )
        click.echo("\n".join(receipt_lines(receipt)))
        client.core.require_success(receipt)


@contract.command("query")
@click.argument("name")
@click.argument("method")
@click.argument("args_json", metavar="[ARGS]", required=False)
@click.option("--height", type=click.IntRange(0), default=None, help="State of this block.")
@connection_options
def query(
    connect: Connect, name: str, method: str, args_json: str | None, height: int | None
) -> None:
    """Run read-only export METHOD of NAME against the node's state (no transaction); print
    the result as JSON."""
    args = json_args(args_json)
    with connect() as client:
        result = client.contract_query(name, method, args, height=height)
    click.echo(json.dumps(result))


@contract.command("show")
@click.argument("name")
@click.option("--code", "show_code", is_flag=True, help="Also print the current source.")
@connection_options
def show(connect: Connect, name: str, show_code: bool) -> None:
    """Show contract NAME (or 0x address): address, version, exports, history, verified by
    a state proof; with --code, the source (proven to hash to the code hash)."""
    with connect() as client:
        proven = client.contract_get(name)
        source = client.contract_code(proven.name) if show_code else None
    click.echo("\n".join(record_lines(proven.record)))
    click.echo(proof_line(proven.block))
    if source is not None:
        click.echo(f"--- {proven.name} v{source.version} ({to_hex(source.code_hash)})")
        click.echo(source.code.rstrip("\n"))
