"""A simulated node: an engine, the durable state a crash keeps, and its Byzantine behaviour
(what a Byzantine node sends instead: `adversary.py`).

Durable state is exactly what a real node keeps across a crash: the last persisted safety
state and the committed chain (blocks are committed atomically with their certificate, at
once or, with `SimOptions.commit_lag_ms`, some time after the engine's `Commit`). The engine
object, its tree, collected votes, timers and commits not yet durable are lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cbor2

from gongshi.consensus.actions import Commit
from gongshi.consensus.bootstrap import root_after_commit
from gongshi.consensus.engine import Engine, EngineConfig
from gongshi.consensus.messages import Proposal
from gongshi.consensus.signing import DOMAIN_VOTE, Signer, Verifier
from gongshi.consensus.sim.options import Behaviour
from gongshi.consensus.types import CommittedRoot, SafetyState, ValidatorSetChange

# (node id, signed message) -> None; the cluster records honest votes from here.
SignHook = Callable[[int, bytes], None]


@dataclass(slots=True)
class RecordingSigner:
    """Wraps a signer and reports every signature, so checkers see each vote an honest
    validator signs, even one it hands to itself as the next leader."""

    inner: Signer
    node: int
    hook: SignHook

    def public_key(self) -> bytes:
        return self.inner.public_key()

    def sign(self, message: bytes) -> bytes:
        self.hook(self.node, message)
        return self.inner.sign(message)


def decode_vote_statement(message: bytes) -> tuple[int, int, bytes] | None:
    """(epoch, round, block hash) if `message` is a VOTE statement, else None."""
    fields = cbor2.loads(message)
    if fields[0] != DOMAIN_VOTE:
        return None
    return fields[2], fields[4], fields[5]


def statement_epoch(message: bytes) -> int:
    """The epoch every signed statement names (third field: `signing.py`)."""
    epoch = cbor2.loads(message)[2]
    assert isinstance(epoch, int)
    return epoch


@dataclass(slots=True)
class Durable:
    """What survives a crash: the last persisted safety state and the committed root.

    Commits may become durable late (`stage`, then `flush`), as a real node's ledger writes
    run behind consensus; a crash loses the staged ones (`lose_staged`)."""

    safety: SafetyState | None
    root: CommittedRoot
    # (durable at ms, commit, change), in commit order.
    staged: list[tuple[int, Commit, ValidatorSetChange | None]] = field(default_factory=list)

    def record_commit(self, commit: Commit, change: ValidatorSetChange | None) -> None:
        self.root = root_after_commit(self.root, commit, change)

    def stage(self, due_ms: int, commit: Commit, change: ValidatorSetChange | None) -> None:
        self.staged.append((due_ms, commit, change))

    def flush(self, now_ms: int | None = None) -> None:
        """Make the staged commits due by `now_ms` durable (all of them if None), in order."""
        while self.staged and (now_ms is None or self.staged[0][0] <= now_ms):
            _, commit, change = self.staged.pop(0)
            self.record_commit(commit, change)

    def lose_staged(self) -> None:
        self.staged.clear()


@dataclass(slots=True)
class SimNode:
    node_id: int
    signer: Signer
    behaviour: Behaviour | None
    durable: Durable
    config: EngineConfig
    verifier: Verifier
    engine: Engine | None = None
    crash_budget: int | None = None  # actions of the next step carried out before crashing
    tip_height: int = 0
    down_since_ms: int | None = None
    # The fork proposal a `fork` leader sent in place of its engine's; its own vote follows it.
    forged_proposal: Proposal | None = None
    boots: int = 0  # engines started so far; the application puts restarts in its blocks

    @property
    def incarnation(self) -> int:
        return max(self.boots - 1, 0)

    @property
    def public_key(self) -> bytes:
        return self.signer.public_key()

    @property
    def honest(self) -> bool:
        return self.behaviour is None

    def boot(self) -> Engine:
        self.engine = Engine(
            self.config, self.signer, self.verifier, self.durable.root, self.durable.safety
        )
        self.down_since_ms = None
        self.boots += 1
        return self.engine

    def crash(self, now_ms: int) -> None:
        self.engine = None
        self.crash_budget = None
        self.down_since_ms = now_ms
        self.durable.lose_staged()
        self.tip_height = self.durable.root.block.height
