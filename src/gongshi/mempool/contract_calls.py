"""Admission's view of deployed Python contracts: would a call of `target.method` by a member
of a given role be refused for a reason of the contract itself?

Three such reasons, each a PERMISSION_DENIED or NOT_FOUND receipt if the transaction went
through (`execution.contract_dispatch.call_deployed` decides the same from the state before
the block): the contract is frozen, it has no export `method`, or the export's `roles` leave
the sender's role out. A target that names no deployed contract is *not* refused here (its
receipt says NOT_FOUND, as before), nor is a system contract (`permissions.CALL_ROLES` covers
those).

`StateContractCalls` reads state each time; `CachedContractCalls` is the node's, over the
latest committed state, cached across blocks until one writes the namespaces it reads.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Final, Protocol

from gongshi.errors import IntegrityError
from gongshi.execution.committed_cache import CommittedState, CommittedStateCache
from gongshi.execution.contract_dispatch import StateContracts
from gongshi.execution.contract_records import NAMESPACE as CONTRACTS_NAMESPACE
from gongshi.execution.contract_records import RESERVED_NAMES
from gongshi.execution.contract_runtime import ContractCache
from gongshi.execution.errors import CallNotFound
from gongshi.execution.governance_records import NAMESPACE as GOVERNANCE_NAMESPACE
from gongshi.execution.state import StateReader
from gongshi.pki.roles import Role

logger = logging.getLogger(__name__)

# What `call_rule` reads: lifecycle records (`c` + name in governance) and, for a 0x target,
# the name deployed at that address (`a` + address in contracts). Nothing else changes it.
RULE_NAMESPACES: Final = (GOVERNANCE_NAMESPACE, CONTRACTS_NAMESPACE)
CONTRACT_CALL_CACHE_SIZE: Final = 4_096  # (target, method) pairs; an entry is ~200 bytes


class ContractRefusalKind(enum.Enum):
    FROZEN = "frozen"  # governance froze the contract
    NO_EXPORT = "no_export"  # the contract does not export the method
    ROLE = "role"  # the export's roles leave the sender's role out


@dataclass(frozen=True, slots=True, kw_only=True)
class ContractRefusal:
    kind: ContractRefusalKind
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRule:
    """What the committed state says about calls of one deployed contract's method."""

    contract: str  # the contract's name (the target may be its 0x address)
    frozen: bool
    exported: bool
    roles: tuple[str, ...] | None  # the export's roles; None: every role that may transact


class ContractCallReader(Protocol):
    """Why a member of `role` (None: unregistered) may not call `target.method`, for a
    reason of the deployed contract, or None."""

    def refusal(self, target: str, method: str, role: Role | None, /) -> ContractRefusal | None: ...


def call_rule(
    state: StateReader, target: str, method: str, cache: ContractCache
) -> CallRule | None:
    """The rule for `target.method` in `state`, or None if `target` is a system contract's
    name, no deployed contract, or one whose stored record no longer decodes (execution
    reports that; admission refuses only what it is sure of)."""
    if target in RESERVED_NAMES:
        return None
    try:
        record = StateContracts(state, cache).record(target)
    except CallNotFound:
        return None
    except IntegrityError as error:  # ContractRecordCorrupt, CorruptRecord
        logger.warning("contract record unreadable at admission target=%s error=%s", target, error)
        return None
    export = record.exports.get(method)
    return CallRule(
        contract=record.name,
        frozen=record.frozen,
        exported=export is not None,
        roles=None if export is None else export.roles,
    )


def rule_refusal(rule: CallRule | None, method: str, role: Role | None) -> ContractRefusal | None:
    """The refusal `rule` gives a sender of `role`, in the order execution checks them."""
    if rule is None:
        return None
    name = rule.contract
    if rule.frozen:
        return ContractRefusal(
            kind=ContractRefusalKind.FROZEN,
            message=f"contract {name} is frozen by governance; {name}.{method} may not be called",
        )
    if not rule.exported:
        return ContractRefusal(
            kind=ContractRefusalKind.NO_EXPORT,
            message=f"contract {name} has no export {method!r}",
        )
    if rule.roles is None or (role is not None and role.value in rule.roles):
        return None
    return ContractRefusal(
        kind=ContractRefusalKind.ROLE,
        message=(
            f"{name}.{method} is restricted to roles {', '.join(rule.roles)}; the sender's "
            f"role is {'unregistered' if role is None else role.value}"
        ),
    )


class StateContractCalls:
    """A `ContractCallReader` over one state (tests, tools; the node uses the cached one)."""

    __slots__ = ("_cache", "_state")

    def __init__(self, state: StateReader, cache: ContractCache | None = None) -> None:
        self._state = state
        self._cache = cache if cache is not None else ContractCache(capacity=1)

    def refusal(self, target: str, method: str, role: Role | None, /) -> ContractRefusal | None:
        return rule_refusal(call_rule(self._state, target, method, self._cache), method, role)


class CachedContractCalls:
    """`call_rule` over the latest committed state, with a bounded LRU cache of rules by
    (target, method): what admission uses, where the same few contract methods are called
    by every transaction. System-contract targets cost one set look-up and no entry.

    Exact (`execution.committed_cache`): every answer is `rule_refusal(call_rule(state at h,
    target, method))` for the committed height h this call sees, since `call_rule` reads only
    the governance and contracts namespaces. A freeze committed at h therefore refuses the
    first admission that sees h committed, and an unfreeze admits it again.
    """

    __slots__ = ("_cache", "_rules")

    def __init__(
        self,
        source: CommittedState,
        *,
        cache: ContractCache | None = None,
        size_max: int = CONTRACT_CALL_CACHE_SIZE,
    ) -> None:
        self._cache = cache if cache is not None else ContractCache(capacity=1)
        self._rules: CommittedStateCache[tuple[str, str], CallRule | None] = CommittedStateCache(
            source, namespaces=RULE_NAMESPACES, size_max=size_max
        )

    def refusal(self, target: str, method: str, role: Role | None, /) -> ContractRefusal | None:
        if target in RESERVED_NAMES:  # system contracts: permissions.CALL_ROLES decides
            return None
        rule = self._rules.get(
            (target, method), lambda state: call_rule(state, target, method, self._cache)
        )
        return rule_refusal(rule, method, role)

    def __len__(self) -> int:
        return len(self._rules)
