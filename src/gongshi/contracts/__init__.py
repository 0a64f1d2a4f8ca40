"""The Python contract runtime: checker, instrumentation (metering, bounds) and sandbox.

    from gongshi.contracts import check_contract, load_contract
    check_contract(source)                     # ContractRejected lists every problem
    contract = load_contract(source)           # pure; cache it by code hash
    result = contract.invoke("transfer", {"to": addr, "amount": 5}, host)

The language, the gas rules and the value conversions: docs/contracts.md.
"""

from gongshi.contracts.checker import check_contract
from gongshi.contracts.declarations import ExportSpec
from gongshi.contracts.errors import (
    ContractRejected,
    ContractRuntimeError,
    CorruptStoredValue,
    InvalidContractValue,
    LimitExceeded,
    Problem,
    ReadOnlyViolation,
    RecursionTooDeep,
    RequireFailed,
)
from gongshi.contracts.fixedpoint import Decimal
from gongshi.contracts.host import Context, ContractHost
from gongshi.contracts.loader import LoadedContract, load_contract

__all__ = [
    "Context",
    "ContractHost",
    "ContractRejected",
    "ContractRuntimeError",
    "CorruptStoredValue",
    "Decimal",
    "ExportSpec",
    "InvalidContractValue",
    "LimitExceeded",
    "LoadedContract",
    "Problem",
    "ReadOnlyViolation",
    "RecursionTooDeep",
    "RequireFailed",
    "check_contract",
    "load_contract",
]
