"""Errors of governance and permissions (execution's codes 1610-1619, 1627-1629, 1633-1639,
1642-1649).

Permission failures of a call (`CallNotPermitted` subclasses) give a PERMISSION_DENIED
receipt; the other call errors a FAILED one. `RevokedSender` is a block validity rule, like
`UnauthorisedSender`: an honest proposer never includes a revoked sender's transaction.
"""

from __future__ import annotations

from gongshi.errors import ConfigError
from gongshi.execution.errors import CallFailed, CallNotPermitted, InvalidBlock


class RevokedSender(InvalidBlock):
    """Raised when a block carries a transaction of a sender whose certificate is revoked or
    whose organisation was removed."""

    code = 1610


class RoleNotPermitted(CallNotPermitted):
    """Raised when the sender's role may not call this system-contract method."""

    code = 1611


class ProposerNotAdmin(CallNotPermitted):
    """Raised when a sender that is not an organisation admin submits a governance proposal."""

    code = 1612


class VoterNotAdmin(CallNotPermitted):
    """Raised when a sender that is not an organisation admin votes on a proposal."""

    code = 1613


class AlreadyVoted(CallFailed):
    """Raised when an organisation votes a second time on the same proposal."""

    code = 1614


class ProposalExpired(CallFailed):
    """Raised when a vote arrives after the proposal's expiry height."""

    code = 1615


class ProposalClosed(CallFailed):
    """Raised when a vote names a proposal already executed, rejected or failed."""

    code = 1616


class ProposalNotFound(CallFailed):
    """Raised when a vote names a proposal id that does not exist."""

    code = 1617


class InvalidProposal(CallFailed):
    """Raised when a proposal's kind or payload breaks a governance rule."""

    code = 1618


class NotInElectorate(CallNotPermitted):
    """Raised when the voter's organisation was not a member when the proposal was made."""

    code = 1619


class ProposalActionFailed(CallFailed):
    """Raised when an approved proposal's action cannot be applied in the current state."""

    code = 1627


class GovernanceNotInitialised(ConfigError):
    """Raised when state holds no governance records (a genesis made without them)."""

    code = 1642
