"""Who may call which API method: signed requests, members resolved from chain state, and the
access level each route declares (docs/api.md, "Access control").

With `[api] access = "members"` a request carries `X-Gongshi-Auth` (`gongshi.api.auth`: the
member's signature over the chain id, genesis hash and a timestamp), accepted for
`AUTH_WINDOW_MS` either side of the node's clock. The key must be a
registered member of the committed state: certificate valid at the head block's time, not
revoked, organisation present (what admission asks of a sender).

Costs: a header's signature is verified once and cached (bounded LRU) while its timestamp is
in the window; a key's standing is read from state once per committed height (a handful of
point reads), so a revocation takes effect with the block that commits it.
"""

from __future__ import annotations

import enum
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Protocol

from gongshi.api.auth import (
    AUTH_HEADER,
    AUTH_WINDOW_MS,
    AuthHeader,
    auth_header,
    auth_message,
    parse_auth_header,
)
from gongshi.api.errors import AccessDenied, AuthenticationFailed, AuthenticationRequired
from gongshi.api.wire import to_hex
from gongshi.crypto import Suite
from gongshi.errors import GongshiError
from gongshi.execution import StateIdentityReader
from gongshi.execution.identity_records import MemberIdentity
from gongshi.pki.roles import Role
from gongshi.storage import Ledger

SIGNATURES_CACHED_MAX: Final = 4096
MEMBERS_CACHED_MAX: Final = 4096


class AccessMode(enum.Enum):
    MEMBERS = "members"  # signed requests; routes checked against the member's role
    OPEN = "open"  # no authentication: development networks only


class Access(enum.Enum):
    """What a route needs of its caller (with access = members)."""

    PUBLIC = "public"  # anyone: what a client needs to start
    SUBMIT = "submit"  # anyone: the transaction's own signature and admission decide
    MEMBER = "member"  # a member in good standing: data the chain publishes
    FULL = "full"  # regulator, observer, admin: what the chain does not publish


# Role -> may it read what the chain does not publish (pending transactions, node state)?
ROLE_READS_ALL: Final[Mapping[Role, bool]] = MappingProxyType(
    {
        Role.ADMIN: True,
        Role.REGULATOR: True,
        Role.OBSERVER: True,
        Role.CLIENT: False,
        Role.NODE: False,
    }
)
assert set(ROLE_READS_ALL) == set(Role), "every role needs a rule"
FULL_READERS: Final = ", ".join(sorted(role.value for role, ok in ROLE_READS_ALL.items() if ok))


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """An authenticated caller: a registered member in good standing."""

    public_key: bytes
    address: bytes
    organisation: str
    role: Role
    # End of the member's certificate validity (block time): standing lapses then, with no
    # transaction to say so.
    not_after_ms: int | None = None

    @property
    def reads_all(self) -> bool:
        return ROLE_READS_ALL[self.role]


def authorize(access: Access, principal: Principal | None, method: str) -> None:
    """AccessDenied unless `principal` may call a route of level `access` (None: nobody
    authenticated, only checked where the level needs no member)."""
    if access in (Access.PUBLIC, Access.SUBMIT):
        return
    if principal is None:
        raise AuthenticationRequired(f"{method} needs a member's signed request ({AUTH_HEADER})")
    if access is Access.FULL and not principal.reads_all:
        raise AccessDenied(
            f"role {principal.role.value} may not call {method} (allowed: {FULL_READERS})"
        )


def redact_pending(result: Any, principal: Principal | None) -> Any:
    """`tx_get` for a caller who does not read everything: a pending transaction is not
    published chain data, so only its sender sees its content (others see that it is
    pending). `principal` None: access is open, nothing is withheld."""
    if principal is None or principal.reads_all:
        return result
    if not isinstance(result, dict) or result.get("status") != "pending":
        return result
    transaction = result.get("transaction")
    if isinstance(transaction, dict) and transaction.get("sender") == to_hex(principal.public_key):
        return result
    return {"status": "pending", "tx_hash": result.get("tx_hash")}


class Caller:
    """Who makes one request (an HTTP request, or one WebSocket message): found when the
    first call that needs a member asks, then kept for the rest of the request (a batch).
    `find` None: access is open and nobody is asked for anything."""

    def __init__(self, find: Callable[[], Awaitable[Principal]] | None) -> None:
        self._find = find
        self._found: Principal | GongshiError | None = None

    async def member(self) -> Principal:
        """The authenticated member (access must not be open)."""
        assert self._find is not None, "access is open: there is no member to find"
        if self._found is None:
            try:
                self._found = await self._find()
            except GongshiError as error:
                self._found = error
        if isinstance(self._found, GongshiError):
            raise self._found
        return self._found

    async def check(self, access: Access, method: str) -> Principal | None:
        """The principal if `access` needs one (None when it does not or access is open);
        the authentication error or AccessDenied otherwise."""
        if self._find is None or access in (Access.PUBLIC, Access.SUBMIT):
            return None
        try:
            principal = await self.member()
        except AuthenticationRequired:
            raise AuthenticationRequired(
                f"{method} needs a member's signed request ({AUTH_HEADER})"
            ) from None
        authorize(access, principal, method)
        return principal


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


# --- members --------------------------------------------------------------------------------


class MemberSource(Protocol):
    """What authentication needs of the chain."""

    def head(self) -> tuple[int, int]:
        """(committed height, its block's timestamp in ms)."""
        ...

    def resolve(self, public_key: bytes, height: int) -> MemberIdentity | None:
        """The member holding `public_key` in the state at `height`, standing applied."""
        ...


class LedgerMembers:
    """A `MemberSource` over the node's ledger (thread-safe: the ledger allows readers)."""

    def __init__(self, ledger: Ledger, suite: Suite) -> None:
        self._ledger = ledger
        self._suite = suite
        self._head: tuple[int, int] = (-1, 0)

    def head(self) -> tuple[int, int]:
        height = self._ledger.committed_height
        if height is None:
            raise AuthenticationFailed("the node has no committed block to check members against")
        cached = self._head
        if cached[0] != height:
            cached = (height, self._ledger.get_header(height).timestamp_ms)
            self._head = cached
        return cached

    def resolve(self, public_key: bytes, height: int) -> MemberIdentity | None:
        reader = StateIdentityReader(self._ledger.state_reader(height), self._suite)
        return reader.resolve(public_key)


def member_refusal(member: MemberIdentity | None, head_time_ms: int) -> str:
    """Why `member` may not read through the API ("" if it may)."""
    if member is None:
        return "unknown member: the key has no registered certificate"
    if member.revocation:
        return f"revoked: {member.revocation}"
    if not member.not_before_ms <= head_time_ms <= member.not_after_ms:
        return (
            f"certificate not valid: valid from {member.not_before_ms} to "
            f"{member.not_after_ms} ms, the chain is at {head_time_ms} ms"
        )
    return ""


class Authenticator:
    """Checks `X-Gongshi-Auth` headers for one chain; see the module docstring.

    Thread-safe: the server checks cached headers on the event loop and does the work
    (signature, state reads) in worker threads."""

    def __init__(
        self,
        *,
        suite: Suite,
        chain_id: str,
        genesis_hash: bytes,
        members: MemberSource,
        clock_ms: Callable[[], int] = wall_clock_ms,
        window_ms: int = AUTH_WINDOW_MS,
    ) -> None:
        self._suite = suite
        self._chain_id = chain_id
        self._genesis_hash = genesis_hash
        self._members = members
        self._clock_ms = clock_ms
        self._window_ms = window_ms
        self._lock = threading.Lock()
        # Header text -> its parts, for headers whose signature verified (LRU).
        self._verified: OrderedDict[str, AuthHeader] = OrderedDict()
        # Public key -> (height, principal or refusal): valid while the head is that height.
        self._standing: OrderedDict[bytes, tuple[int, Principal | str]] = OrderedDict()

    def cached(self, header: str) -> Principal | None:
        """The principal of `header` if nothing needs to be computed (a verified header in
        its window, a standing read at the current head); None otherwise. Raises as
        `authenticate` would for a header that is known to fail."""
        with self._lock:
            parts = self._verified.get(header)
        if parts is None:
            return None
        self._check_time(parts.timestamp_ms)
        return self.cached_standing(parts.public_key)

    def cached_standing(self, public_key: bytes) -> Principal | None:
        """`standing(public_key)` if it is read at the current head already, else None."""
        height, _ = self._members.head()
        with self._lock:
            entry = self._standing.get(public_key)
        if entry is None or entry[0] != height:
            return None
        return _principal_or_raise(entry[1])

    def authenticate(self, header: str | None) -> Principal:
        """The member who signed `header`; AuthenticationRequired (None) or
        AuthenticationFailed with the reason."""
        if header is None:
            raise AuthenticationRequired(
                f"a member's signed request is needed (header {AUTH_HEADER})"
            )
        return self.standing(self.verify(header).public_key)

    def verify(self, header: str) -> AuthHeader:
        """The parts of `header` once its timestamp and signature check (cached)."""
        with self._lock:
            parts = self._verified.get(header)
            if parts is not None:
                self._verified.move_to_end(header)
        known = parts is not None
        if parts is None:
            parts = parse_auth_header(header)
        self._check_time(parts.timestamp_ms)
        if known:
            return parts
        message = auth_message(
            chain_id=self._chain_id,
            genesis_hash=self._genesis_hash,
            timestamp_ms=parts.timestamp_ms,
            public_key=parts.public_key,
        )
        if not self._suite.verify(parts.public_key, message, parts.signature):
            raise AuthenticationFailed(
                "bad signature: not signed by the key for this chain "
                f"({self._chain_id}, genesis {self._genesis_hash.hex()[:16]}...)"
            )
        with self._lock:
            self._verified[header] = parts
            while len(self._verified) > SIGNATURES_CACHED_MAX:
                self._verified.popitem(last=False)
        return parts

    def standing(self, public_key: bytes) -> Principal:
        """The member holding `public_key` at the committed head, or AuthenticationFailed
        (unknown, revoked, certificate outside its validity). Read once per height."""
        height, head_time_ms = self._members.head()
        with self._lock:
            entry = self._standing.get(public_key)
        if entry is None or entry[0] != height:
            member = self._members.resolve(public_key, height)
            refusal = member_refusal(member, head_time_ms)
            if member is None or refusal:
                outcome: Principal | str = refusal
            else:
                outcome = Principal(
                    public_key=public_key,
                    address=member.address,
                    organisation=member.organisation,
                    role=member.role,
                    not_after_ms=member.not_after_ms,
                )
            entry = (height, outcome)
            with self._lock:
                self._standing[public_key] = entry
                self._standing.move_to_end(public_key)
                while len(self._standing) > MEMBERS_CACHED_MAX:
                    self._standing.popitem(last=False)
        return _principal_or_raise(entry[1])

    def _check_time(self, timestamp_ms: int) -> None:
        now_ms = self._clock_ms()
        if timestamp_ms < now_ms - self._window_ms:
            raise AuthenticationFailed(
                f"expired: signed at {timestamp_ms} ms, more than {self._window_ms // 1000} s "
                f"before the node's clock ({now_ms} ms); sign again"
            )
        if timestamp_ms > now_ms + self._window_ms:
            raise AuthenticationFailed(
                f"timestamp {timestamp_ms} ms is more than {self._window_ms // 1000} s ahead of "
                f"the node's clock ({now_ms} ms)"
            )


def _principal_or_raise(outcome: Principal | str) -> Principal:
    if isinstance(outcome, str):
        raise AuthenticationFailed(outcome)
    return outcome


def ledger_authenticator(
    ledger: Ledger,
    suite: Suite,
    *,
    chain_id: str,
    genesis_hash: bytes,
    clock_ms: Callable[[], int] = wall_clock_ms,
) -> Authenticator:
    """The authenticator of a node: members from its ledger's committed state."""
    return Authenticator(
        suite=suite,
        chain_id=chain_id,
        genesis_hash=genesis_hash,
        members=LedgerMembers(ledger, suite),
        clock_ms=clock_ms,
    )


__all__ = [
    "AUTH_HEADER",
    "AUTH_WINDOW_MS",
    "FULL_READERS",
    "Access",
    "AccessMode",
    "AuthHeader",
    "Authenticator",
    "Caller",
    "LedgerMembers",
    "MemberSource",
    "Principal",
    "auth_header",
    "auth_message",
    "authorize",
    "ledger_authenticator",
    "member_refusal",
    "parse_auth_header",
    "redact_pending",
]
