"""Member roles, as carried in the role extension of a member certificate."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a certificate's holder may do; the chain's permission rules are keyed on it."""

    ADMIN = "admin"  # votes on governance proposals for its organisation
    CLIENT = "client"  # submits transactions
    NODE = "node"  # runs a consensus node (signs votes, serves peers over mutual TLS)
    OBSERVER = "observer"  # reads everything, signs nothing consensus-relevant
    REGULATOR = "regulator"  # reads private payloads, freezes; only from designated orgs


ROLE_NAMES: tuple[str, ...] = tuple(role.value for role in Role)
