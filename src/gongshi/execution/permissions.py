"""Who may send what: the one table of role rules.

Two levels, checked in this order:
1. the sender (a block validity rule, `sender_refusal`): a registered, unrevoked
   certificate valid at block time, of a role that may transact at all;
2. the call (`CALL_ROLES`, `require_call_permitted`): which roles may call each
   system-contract method. Breaking it is a PERMISSION_DENIED receipt with the method's
   specific error code.
The mempool checks both at admission (`admission_refusal`). Every role is listed in each
table, so adding a role or a method forces a decision here.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from gongshi.execution.errors import CallNotPermitted
from gongshi.execution.governance_errors import ProposerNotAdmin, RoleNotPermitted, VoterNotAdmin
from gongshi.execution.identity_records import MemberIdentity
from gongshi.pki.roles import Role

# Role -> may it send transactions? `node` and `observer` only run nodes.
ROLE_MAY_TRANSACT: Final[Mapping[Role, bool]] = MappingProxyType(
    {
        Role.ADMIN: True,
        Role.CLIENT: True,
        Role.REGULATOR: True,
        Role.NODE: False,
        Role.OBSERVER: False,
    }
)

# (contract, method) a key without a valid registered certificate may call: registering one.
UNREGISTERED_CALLS: Final[frozenset[tuple[str, str]]] = frozenset({("identity", "register")})

assert set(ROLE_MAY_TRANSACT) == set(Role), "every role needs a rule"

TRANSACTING_ROLES: Final[frozenset[Role]] = frozenset(
    role for role, allowed in ROLE_MAY_TRANSACT.items() if allowed
)
ADMINS: Final[frozenset[Role]] = frozenset({Role.ADMIN})


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRule:
    """The roles that may call one method by transaction, and the error for the others."""

    roles: frozenset[Role]
    error: type[CallNotPermitted] = RoleNotPermitted


# (contract, method) -> rule. Methods not listed (contracts added later) are open to every
# role that may transact; reads through the query path are not transactions and not checked.
CALL_ROLES: Final[Mapping[tuple[str, str], CallRule]] = MappingProxyType(
    {
        ("identity", "register"): CallRule(roles=frozenset(Role)),
        ("identity", "get"): CallRule(roles=TRANSACTING_ROLES),
        ("identity", "certificate"): CallRule(roles=TRANSACTING_ROLES),
        ("notary", "register"): CallRule(roles=TRANSACTING_ROLES),
        ("notary", "get"): CallRule(roles=TRANSACTING_ROLES),
        ("notary", "list"): CallRule(roles=TRANSACTING_ROLES),
        ("governance", "propose"): CallRule(roles=ADMINS, error=ProposerNotAdmin),
        ("governance", "vote"): CallRule(roles=ADMINS, error=VoterNotAdmin),
        ("governance", "proposal"): CallRule(roles=TRANSACTING_ROLES),
        ("governance", "proposals"): CallRule(roles=TRANSACTING_ROLES),
        ("contracts", "upload"): CallRule(roles=ADMINS),
        ("contracts", "code"): CallRule(roles=TRANSACTING_ROLES),
        ("contracts", "get"): CallRule(roles=TRANSACTING_ROLES),
        ("contracts", "list"): CallRule(roles=TRANSACTING_ROLES),
    }
)
DEFAULT_CALL_RULE: Final = CallRule(roles=TRANSACTING_ROLES)


class RefusalKind(enum.Enum):
    UNREGISTERED = "unregistered"  # no certificate, or one outside its validity period
    ROLE = "role"  # registered, but the role may not make this call
    REVOKED = "revoked"  # certificate or key revoked, or organisation removed


@dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    kind: RefusalKind
    message: str


def sender_refusal(
    identity: MemberIdentity | None, target: str, method: str, now_ms: int
) -> Refusal | None:
    """Why the sender may not call `target.method` at time `now_ms`, or None if it may."""
    if (target, method) in UNREGISTERED_CALLS:
        return None
    if identity is None:
        return Refusal(
            kind=RefusalKind.UNREGISTERED,
            message="sender has no registered certificate; it may only call identity.register",
        )
    if identity.revocation:
        return Refusal(kind=RefusalKind.REVOKED, message=identity.revocation)
    if not identity.not_before_ms <= now_ms <= identity.not_after_ms:
        return Refusal(
            kind=RefusalKind.UNREGISTERED,
            message=(
                f"sender's certificate is valid only from {identity.not_before_ms} to "
                f"{identity.not_after_ms} ms, not at {now_ms} ms; register a current one"
            ),
        )
    if not ROLE_MAY_TRANSACT[identity.role]:
        return Refusal(
            kind=RefusalKind.ROLE,
            message=f"role {identity.role.value} may not send transactions",
        )
    return None


def call_refusal(identity: MemberIdentity | None, target: str, method: str) -> str | None:
    """Why a sender that may transact may still not call `target.method`, or None."""
    if identity is None:  # only identity.register gets this far (sender_refusal)
        return None
    rule = CALL_ROLES.get((target, method), DEFAULT_CALL_RULE)
    if identity.role in rule.roles:
        return None
    allowed = ", ".join(sorted(role.value for role in rule.roles))
    return f"role {identity.role.value} may not call {target}.{method} (allowed: {allowed})"


def require_call_permitted(identity: MemberIdentity | None, target: str, method: str) -> None:
    """Raise the method's CallNotPermitted error (a PERMISSION_DENIED receipt) unless the
    sender's role may call it."""
    refusal = call_refusal(identity, target, method)
    if refusal is not None:
        rule = CALL_ROLES.get((target, method), DEFAULT_CALL_RULE)
        raise rule.error(refusal)


def admission_refusal(
    identity: MemberIdentity | None, target: str, method: str, now_ms: int
) -> Refusal | None:
    """Both levels at once, for the mempool: why the transaction would be rejected from a
    block or get a PERMISSION_DENIED receipt, or None if it may be admitted."""
    refusal = sender_refusal(identity, target, method, now_ms)
    if refusal is not None:
        return refusal
    message = call_refusal(identity, target, method)
    return None if message is None else Refusal(kind=RefusalKind.ROLE, message=message)
