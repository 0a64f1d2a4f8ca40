"""Deployed Python contracts from the client side: proven records and code.

`contract_get` and `contract_code` answer with the state read (and proof) of the stored
bytes; the SDK decodes the *proven* bytes, never the node's readable copy: the lifecycle
record's encoding (`governance`, `"c" || name`) and the source itself (`contracts`,
`"s" || code_hash`), whose suite hash must be the code hash the record names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gongshi.api.wire import from_hex, value_to_json
from gongshi.crypto import Suite
from gongshi.errors import GongshiError
from gongshi.sdk.core import ClientCore
from gongshi.sdk.errors import MalformedResponse, ProofMismatch
from gongshi.sdk.verify import VerifiedHeader, VerifiedState, decode_record_value

GOVERNANCE = "governance"
CODE_NAMESPACE = "contracts"
CODE_HASH_SIZE = 32
UPLOAD_GAS_LIMIT = 20_000_000  # checking and storing up to 64 KiB of code


def contract_key(name: str) -> bytes:
    """The key of a lifecycle record in the governance namespace."""
    return b"c" + name.encode("utf-8")


def code_key(code_hash: bytes) -> bytes:
    """The key of uploaded source in the contracts namespace."""
    return b"s" + code_hash


@dataclass(frozen=True, slots=True, kw_only=True)
class ProvenContract:
    """A deployed contract's lifecycle record (JSON form: bytes as 0x hex), proven."""

    name: str
    record: dict[str, Any]
    block: VerifiedHeader


@dataclass(frozen=True, slots=True, kw_only=True)
class ProvenCode:
    """The source of one version of a contract, proven and hashed to its code hash."""

    name: str
    version: int
    code_hash: bytes
    code: str
    block: VerifiedHeader


def record_name(result: Any) -> str:
    """The contract name a `contract_get` answer claims (checked against the proof later)."""
    contract = result.get("contract") if isinstance(result, dict) else None
    name = contract.get("name") if isinstance(contract, dict) else None
    if not isinstance(name, str):
        raise MalformedResponse("contract_get answered without a contract name")
    return name


def proven_contract(state: VerifiedState, asked: str) -> ProvenContract:
    """The record in the proven state value; `asked` (a name or 0x address) must match it."""
    if state.value is None:
        raise ProofMismatch("the node named a contract that the proof shows absent")
    value = decode_record_value(state.value)
    record = value_to_json(value)
    if not isinstance(record, dict) or not isinstance(record.get("name"), str):
        raise MalformedResponse("the proven contract record has no name")
    if asked not in (record["name"], record.get("address")):
        raise ProofMismatch(f"the node proved contract {record['name']}, not {asked}")
    return ProvenContract(name=record["name"], record=record, block=state.block)


def code_hash_of(result: Any) -> bytes:
    try:
        return from_hex(result.get("code_hash"), what="code_hash", sizes=(CODE_HASH_SIZE,))
    except (GongshiError, AttributeError):
        raise MalformedResponse("contract_code answered without a code hash") from None


def proven_code(
    state: VerifiedState, suite: Suite, *, name: str, version: int, code_hash: bytes
) -> ProvenCode:
    """The proven source; its suite hash must be `code_hash`."""
    if state.value is None or suite.hash(state.value) != code_hash:
        raise ProofMismatch(f"the proven source of {name} does not hash to its code hash")
    try:
        code = state.value.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedResponse("the proven source is not UTF-8") from None
    return ProvenCode(name=name, version=version, code_hash=code_hash, code=code, block=state.block)


# --- what `Client` and `AsyncClient` share (everything but the I/O) --------------------------


def query_params(
    name: str, method: str, args: Mapping[str, Any] | None, height: int | None
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "target": name,
        "method": method,
        "args": value_to_json(dict(args or {})),
    }
    if height is not None:
        params["height"] = height
    return params


def query_result(core: ClientCore, result: Any) -> Any:
    return core.object_result(result, "contract_query").get("result")


def get_params(name: str, height: int | None) -> dict[str, Any]:
    params: dict[str, Any] = {"name": name}
    if height is not None:
        params["height"] = height
    return params


def get_result(core: ClientCore, result: Any, name: str, height: int | None) -> ProvenContract:
    """A `contract_get` answer, checked through the state proof of the stored record."""
    key = contract_key(record_name(result))
    document = core.object_result(result, "contract_get")
    state = core.verifier.state(document.get("state"), GOVERNANCE, key, height)
    return proven_contract(state, name)


def code_params(proven: ProvenContract, version: int | None) -> tuple[dict[str, Any], bytes]:
    """The `contract_code` parameters for `version` of a proven record (at its height), and
    the code hash the proven record gives that version."""
    wanted = proven.record["version"] if version is None else version
    entry = next((e for e in proven.record["history"] if e["version"] == wanted), None)
    if entry is None:
        raise MalformedResponse(f"contract {proven.name} has no version {wanted}")
    params = {"name": proven.name, "version": wanted, "height": proven.block.height}
    return params, code_hash_of(entry)


def code_result(
    core: ClientCore, result: Any, params: dict[str, Any], code_hash: bytes
) -> ProvenCode:
    document = core.object_result(result, "contract_code")
    state = core.verifier.state(
        document.get("state"), CODE_NAMESPACE, code_key(code_hash), params["height"]
    )
    return proven_code(
        state,
        core.network.suite,
        name=params["name"],
        version=params["version"],
        code_hash=code_hash,
    )


def upload_result(receipt: Any) -> bytes:
    return code_hash_of(value_to_json(receipt.receipt.return_value))
