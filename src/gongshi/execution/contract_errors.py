"""Errors of deployed Python contracts: upload, lifecycle and dispatch (codes 1850-1869).

Receipt statuses follow the executor's families: `CallNotPermitted` subclasses give a
PERMISSION_DENIED receipt (a frozen contract, an export's roles), `CallNotFound` subclasses a
NOT_FOUND one, the other `CallFailed` subclasses a FAILED one.
"""

from __future__ import annotations

from gongshi.errors import IntegrityError
from gongshi.execution.errors import CallFailed, CallNotFound, CallNotPermitted


class ContractCodeRejected(CallFailed):
    """Raised when uploaded contract code breaks the checker's rules; `problems` lists each
    violation as `line:col: reason`."""

    code = 1850

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


class ContractCodeTooLarge(CallFailed):
    """Raised when uploaded contract code is larger than the chain's code size limit."""

    code = 1851


class ContractFrozen(CallNotPermitted):
    """Raised when a transaction or a contract calls a contract that governance froze."""

    code = 1852


class ExportRoleDenied(CallNotPermitted):
    """Raised when the sender's role is not among the roles an export declares (a contract
    caller has no role, so it may not call such an export)."""

    code = 1853


class ExportNotFound(CallNotFound):
    """Raised when a call names a method that the deployed contract does not export."""

    code = 1854


class ContractCallTooDeep(CallFailed):
    """Raised when nested cross-contract calls exceed the depth bound."""

    code = 1856


class ContractReadOnly(CallFailed):
    """Raised when a read-only export (or a query) tries to emit an event or to call a
    state-changing export."""

    code = 1857


class ContractCodeMissing(CallFailed):
    """Raised when a deploy or upgrade names a code hash that was never uploaded, or code
    that does not load."""

    code = 1858


class ReservedContractName(CallFailed):
    """Raised when a deploy names a system contract or is not a valid contract name."""

    code = 1859


class ContractRecordCorrupt(IntegrityError):
    """Raised when a stored contract record or code no longer decodes or loads."""

    code = 1860


class ContractReturnInvalid(CallFailed):
    """Raised when an export returns a value outside the chain's value subset."""

    code = 1861
