"""The deployed-contract reads of the API: lifecycle records and code, with state proofs.

`contract_query` (in `ChainService`) runs read-only exports; these two return what governance
recorded. Each answer carries the state read (with its proof) of the stored bytes it was read
from, so a client can check it instead of trusting the readable copy: the record's encoding
in the `governance` namespace, and the code itself in the `contracts` namespace (whose hash
is the code hash).
"""

from __future__ import annotations

from gongshi.api.service import ChainService
from gongshi.api.wire import Json, from_hex
from gongshi.execution.contract_records import NAMESPACE as CODE_NAMESPACE
from gongshi.execution.contract_records import code_key
from gongshi.execution.errors import CallNotFound
from gongshi.execution.governance_records import NAMESPACE as GOVERNANCE
from gongshi.execution.governance_records import contract_key


def _record(service: ChainService, name: str, height: int | None) -> tuple[int, Json]:
    found = service.contract_query(CODE_NAMESPACE, "get", {"name": name}, height)
    record = found["result"]
    if record is None:
        raise CallNotFound(f"no contract {name!r} at height {found['height']}")
    assert isinstance(record, dict)
    return found["height"], record


def contract_get(service: ChainService, name: str, height: int | None) -> Json:
    """The lifecycle record of contract `name` (a name or 0x address) and the proven state
    read of its stored encoding."""
    at, record = _record(service, name, height)
    state = service.state_get(GOVERNANCE, contract_key(str(record["name"])), at)
    return {"height": at, "contract": record, "state": state}


def contract_code(
    service: ChainService, name: str, version: int | None, height: int | None
) -> Json:
    """The source of contract `name` at `version` (default: the one in force) and the proven
    state read of the stored source."""
    at, record = _record(service, name, height)
    wanted = record["version"] if version is None else version
    entries = [entry for entry in record["history"] if entry["version"] == wanted]
    if not entries:
        raise CallNotFound(f"contract {record['name']} has no version {wanted}")
    code_hash = from_hex(entries[0]["code_hash"], what="code_hash", sizes=(32,))
    found = service.contract_query(CODE_NAMESPACE, "code", {"code_hash": code_hash}, at)
    if found["result"] is None:
        raise CallNotFound(f"code of {record['name']} version {wanted} is missing")
    state = service.state_get(CODE_NAMESPACE, code_key(code_hash), at)
    return {
        "height": at,
        "name": record["name"],
        "version": wanted,
        "code_hash": entries[0]["code_hash"],
        "code": found["result"]["code"],
        "exports": found["result"]["exports"],
        "state": state,
    }
