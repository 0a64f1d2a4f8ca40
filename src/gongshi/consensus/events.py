"""Events: everything that enters the engine. Time enters only as `TimerFired` for a timer
the engine asked for; the application's answers enter as `BlockValidated` / `ProposalBuilt`."""

from __future__ import annotations

from dataclasses import dataclass

from gongshi.consensus.messages import Message
from gongshi.consensus.types import Block, ValidatorSetChange


@dataclass(frozen=True, slots=True, kw_only=True)
class Start:
    """The shell is ready: the engine arms its first timer (and proposes if it leads)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Received:
    """`message` arrived from the peer whose node key is `sender` (authenticated by TLS)."""

    sender: bytes
    message: Message


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerFired:
    """The timer set by `SetTimer(epoch, round, ...)` expired. Stale timers are ignored."""

    epoch: int
    round: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockValidated:
    """The application's answer to `ValidateBlock`: it re-executed the block on its parent's
    state. `change` is a validator-set change the block decides, if any."""

    block_hash: bytes
    valid: bool
    change: ValidatorSetChange | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProposalBuilt:
    """The application's answer to `BuildProposal`: a block it built and executed on the
    requested parent (so it is valid by construction), or `block=None` if it cannot build."""

    epoch: int
    round: int
    block: Block | None
    change: ValidatorSetChange | None = None


Event = Start | Received | TimerFired | BlockValidated | ProposalBuilt
