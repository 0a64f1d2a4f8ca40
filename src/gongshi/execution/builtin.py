"""The system contracts every chain starts with."""

from __future__ import annotations

from gongshi.execution.governance import GOVERNANCE
from gongshi.execution.identity import IDENTITY
from gongshi.execution.notary import NOTARY
from gongshi.execution.registry import ContractRegistry


def default_registry() -> ContractRegistry:
    """`identity`, `notary` and `governance`; a later issue adds Python contracts."""
    return (
        ContractRegistry().with_contract(IDENTITY).with_contract(NOTARY).with_contract(GOVERNANCE)
    )
