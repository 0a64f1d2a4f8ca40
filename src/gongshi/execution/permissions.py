"""Who may send what: the one table of role rules.

Every role is listed, so adding a role forces a decision here. The governance issue extends
this into per-method rules; until then a role either may transact or may not.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

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


class RefusalKind(enum.Enum):
    UNREGISTERED = "unregistered"  # no certificate, or one outside its validity period
    ROLE = "role"  # registered, but the role may not make this call


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
