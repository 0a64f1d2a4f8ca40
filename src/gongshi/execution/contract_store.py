"""The `contracts` system contract: uploaded code and the deployed contracts' records.

    upload {code}            admins; checks the code, stores it under its suite hash
    code {code_hash}         the uploaded source and its exports, or null
    get {name}               a deployed contract's lifecycle record (name or 0x address)
    list {start, limit}      a page of deployed contracts

Uploading is idempotent (the same code twice is stored once) and does not deploy: a
`deploy_contract` / `upgrade_contract` governance proposal names the code hash, and
governance (`governance_actions.contract_lifecycle`) keeps the lifecycle record.
"""

from __future__ import annotations

from gongshi.codec import CborValue, decode_value, encode_value, frozendict
from gongshi.errors import DecodeError
from gongshi.execution.args import Args
from gongshi.execution.context import ReadCall, WriteCall
from gongshi.execution.contract_errors import ContractCodeTooLarge, ContractRecordCorrupt
from gongshi.execution.contract_records import (
    ADDRESS_TEXT_PATTERN,
    CODE_BYTES_MAX,
    CODE_HASH_SIZE,
    NAMES_KEY,
    NAMESPACE,
    ContractRecord,
    address_key,
    code_key,
    exports_from_value,
    exports_key,
    exports_to_value,
    names_from_value,
    record_from_value,
)
from gongshi.execution.contract_runtime import ContractRuntime, PythonRuntime, export_info
from gongshi.execution.governance_records import NAMESPACE as GOVERNANCE
from gongshi.execution.governance_records import contract_key
from gongshi.execution.registry import ReadMethod, SystemContract, WriteMethod

CODE_BYTE_GAS = 50  # per byte uploaded: checking and loading cost grow with the code
PAGE_LIMIT_MAX = 50
PAGE_LIMIT_DEFAULT = 20
NAME_TEXT_BYTES_MAX = 64


def _stored(data: bytes, what: str) -> CborValue:
    try:
        return decode_value(data)
    except DecodeError as error:
        raise ContractRecordCorrupt(f"contracts {what}: {error}") from None


def read_record(call: ReadCall, target: str) -> ContractRecord | None:
    """The record of the contract `target` names (its name or 0x address), or None."""
    name = target
    if ADDRESS_TEXT_PATTERN.fullmatch(target):
        found = call.storage.get(address_key(bytes.fromhex(target[2:])))
        if found is None:
            return None
        name = found.decode("utf-8", errors="replace")
    data = call.storage.sibling(GOVERNANCE).get(contract_key(name))
    if data is None:
        return None
    return record_from_value(_stored(data, f"record {name}"))


def deployed_names(call: ReadCall) -> tuple[str, ...]:
    data = call.storage.get(NAMES_KEY)
    return () if data is None else names_from_value(_stored(data, "names"))


def _upload(runtime: ContractRuntime, call: WriteCall, args: Args) -> CborValue:
    code = args.text("code", bytes_max=1 << 30, required=True)
    assert code is not None
    encoded = code.encode("utf-8")
    if len(encoded) > CODE_BYTES_MAX:
        raise ContractCodeTooLarge(f"code is {len(encoded)} bytes, limit {CODE_BYTES_MAX}")
    call.meter.charge(CODE_BYTE_GAS * len(encoded), "code upload")
    code_hash = call.suite.hash(encoded)
    known = call.storage.get(exports_key(code_hash))
    if known is not None:
        exports = exports_from_value(_stored(known, "exports"))
        return _uploaded(code_hash, len(encoded), exports_to_value(exports), new=False)
    runtime.check(code)
    loaded = runtime.load(code)
    exports = {name: export_info(loaded.exports[name]) for name in sorted(loaded.exports)}
    call.storage.set(code_key(code_hash), encoded)
    call.storage.set(exports_key(code_hash), encode_value(exports_to_value(exports)))
    call.emit(
        "CodeUploaded",
        {"code_hash": code_hash, "size": len(encoded), "uploader": call.sender.address},
    )
    return _uploaded(code_hash, len(encoded), exports_to_value(exports), new=True)


def _uploaded(code_hash: bytes, size: int, exports: CborValue, *, new: bool) -> CborValue:
    return frozendict({"code_hash": code_hash, "size": size, "new": new, "exports": exports})


def code(call: ReadCall, args: Args) -> CborValue:
    """The source uploaded under `code_hash` and its exports, or null."""
    code_hash = args.bytes_("code_hash", sizes=(CODE_HASH_SIZE,))
    source = call.storage.get(code_key(code_hash))
    exports = call.storage.get(exports_key(code_hash))
    if source is None or exports is None:
        return None
    return frozendict(
        {
            "code_hash": code_hash,
            "code": source.decode("utf-8"),
            "exports": _stored(exports, "exports"),
        }
    )


def get(call: ReadCall, args: Args) -> CborValue:
    """The lifecycle record of contract `name` (a name or a 0x address), or null."""
    target = args.text("name", bytes_max=NAME_TEXT_BYTES_MAX, required=True)
    assert target is not None
    record = read_record(call, target)
    return None if record is None else record.to_value()


def list_(call: ReadCall, args: Args) -> CborValue:
    """A page of deployed contracts in deployment order: name, address, version, frozen."""
    start = args.uint("start", default=0, maximum=1 << 32)
    limit = args.uint("limit", default=PAGE_LIMIT_DEFAULT, maximum=PAGE_LIMIT_MAX)
    names = deployed_names(call)
    page: list[CborValue] = []
    for name in names[start : start + limit]:
        record = read_record(call, name)
        if record is None:
            raise ContractRecordCorrupt(f"contract {name} is listed but has no record")
        page.append(
            frozendict(
                {
                    "name": record.name,
                    "address": record.address,
                    "version": record.version,
                    "frozen": record.frozen,
                }
            )
        )
    end = start + len(page)
    return frozendict(
        {"total": len(names), "contracts": tuple(page), "next": end if end < len(names) else None}
    )


def code_store(runtime: ContractRuntime | None = None) -> SystemContract:
    """The `contracts` system contract, checking uploads with `runtime` (default: the real
    Python contract runtime)."""
    checker = runtime if runtime is not None else PythonRuntime()

    def upload(call: WriteCall, args: Args) -> CborValue:
        """Check and store contract code (admins); returns its hash and exports."""
        return _upload(checker, call, args)

    return SystemContract(
        name=NAMESPACE,
        methods={
            "upload": WriteMethod(handler=upload, arguments=frozenset({"code"})),
            "code": ReadMethod(handler=code, arguments=frozenset({"code_hash"})),
            "get": ReadMethod(handler=get, arguments=frozenset({"name"})),
            "list": ReadMethod(handler=list_, arguments=frozenset({"start", "limit"})),
        },
    )
