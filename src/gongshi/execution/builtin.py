"""The system contracts every chain starts with."""

from __future__ import annotations

from gongshi.execution.contract_records import RESERVED_NAMES
from gongshi.execution.contract_runtime import ContractRuntime
from gongshi.execution.contract_store import code_store
from gongshi.execution.governance import GOVERNANCE
from gongshi.execution.identity import IDENTITY
from gongshi.execution.notary import NOTARY
from gongshi.execution.registry import ContractRegistry


def default_registry(runtime: ContractRuntime | None = None) -> ContractRegistry:
    """`identity`, `notary`, `governance` and `contracts` (the code store, checking uploads
    with `runtime`, by default the Python contract runtime). Any other transaction target is
    a deployed contract (`contract_dispatch`)."""
    registry = (
        ContractRegistry()
        .with_contract(IDENTITY)
        .with_contract(NOTARY)
        .with_contract(GOVERNANCE)
        .with_contract(code_store(runtime))
    )
    # Invariant: no deployed contract can take a system contract's name.
    assert set(registry.contracts) <= RESERVED_NAMES
    return registry
