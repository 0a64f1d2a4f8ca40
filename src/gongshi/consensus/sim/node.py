"""A simulated node: an engine, the durable state a crash keeps, and its Byzantine behaviour.

Durable state is exactly what a real node keeps across a crash: the last persisted safety
state and the committed chain (blocks are committed atomically with their certificate). The
engine object, its tree, collected votes and timers are lost.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace

import cbor2

from gongshi.consensus.actions import Commit
from gongshi.consensus.bootstrap import root_after_commit
from gongshi.consensus.engine import Engine, EngineConfig
from gongshi.consensus.messages import Message, Proposal, Timeout, Vote
from gongshi.consensus.signing import (
    DOMAIN_VOTE,
    Signer,
    Verifier,
    proposal_bytes,
    timeout_bytes,
    vote_bytes,
)
from gongshi.consensus.sim.app import ReconfigPlan, build_block
from gongshi.consensus.sim.options import Behaviour
from gongshi.consensus.types import CommittedRoot, Phase, SafetyState, ValidatorSetChange

FAR_FUTURE_ROUNDS = 1_000_000

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


@dataclass(slots=True)
class Durable:
    """What survives a crash: the last persisted safety state and the committed root."""

    safety: SafetyState | None
    root: CommittedRoot

    def record_commit(self, commit: Commit, change: ValidatorSetChange | None) -> None:
        self.root = root_after_commit(self.root, commit, change)


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
        return self.engine

    def crash(self, now_ms: int) -> None:
        self.engine = None
        self.crash_budget = None
        self.down_since_ms = now_ms


def corrupt(message: Message) -> Message:
    """The same message with a broken signature (first byte flipped)."""
    if isinstance(message, Proposal | Vote | Timeout):
        signature = bytes([message.signature[0] ^ 0xFF]) + message.signature[1:]
        return replace(message, signature=signature)
    return message


def equivocating_twin(
    node: SimNode, proposal: Proposal, chain_id: bytes, plan: ReconfigPlan | None
) -> Proposal | None:
    """A second, conflicting proposal for the same round, validly signed by the leader."""
    block = proposal.block
    if block.nil:
        return None
    other, _ = build_block(block.height, block.parent_hash, proposal.round, -1 - node.node_id, plan)
    signature = node.signer.sign(
        proposal_bytes(
            chain_id,
            proposal.epoch,
            proposal.round,
            other.height,
            other.parent_hash,
            other.block_hash,
        )
    )
    return replace(proposal, block=other, signature=signature)


def future_spam(node: SimNode, rng: random.Random, chain_id: bytes) -> list[Message]:
    """Validly signed messages for rounds far ahead; honest engines must bound what they keep."""
    engine = node.engine
    if engine is None or engine.my_index is None:
        return []
    far = engine.round + FAR_FUTURE_ROUNDS + rng.randrange(1000)
    high_qc = engine.high_qc
    timeout = Timeout(
        epoch=engine.epoch,
        round=far,
        voter=engine.my_index,
        high_qc=high_qc,
        high_tc=None,
        signature=node.signer.sign(
            timeout_bytes(chain_id, engine.epoch, far, engine.high_qc_round)
        ),
    )
    block_hash = bytes(rng.randrange(256) for _ in range(32))
    vote = Vote(
        epoch=engine.epoch,
        round=far,
        height=far,
        block_hash=block_hash,
        voter=engine.my_index,
        signature=node.signer.sign(
            vote_bytes(chain_id, engine.epoch, Phase.VOTE, far, far, block_hash)
        ),
        commits=(),
    )
    return [timeout, vote]
