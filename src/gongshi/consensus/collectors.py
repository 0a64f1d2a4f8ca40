"""Signature collection for the current epoch: votes into certificates, timeouts into timeout
certificates, and conflicting statements into evidence.

Every structure is keyed by round and pruned below a floor the engine raises as it advances,
so memory is bounded by (round window) x (validators). Signatures are verified by the engine
before anything is added here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gongshi.consensus.evidence import Evidence, SignedStatement, StatementKind
from gongshi.consensus.messages import Timeout, Vote
from gongshi.consensus.quorum import build_qc
from gongshi.consensus.types import Justify, Phase, TimeoutCertificate, ValidatorSet

VoteKey = tuple[int, bytes, tuple[tuple[int, int, bytes], ...]]


@dataclass(slots=True)
class VoteCollector:
    """Votes per (round, block hash) until a quorum forms a `Justify`."""

    validators: ValidatorSet
    # (round, block hash, blocks the commit signatures cover) -> voter -> vote. Votes whose
    # commit lists differ are never mixed, so every certificate formed is consistent.
    votes: dict[VoteKey, dict[int, Vote]] = field(default_factory=dict)
    formed: set[tuple[int, bytes]] = field(default_factory=set)

    def add(self, vote: Vote) -> Justify | None:
        """Record `vote`; the certificate the first time a quorum is reached, else None."""
        if (vote.round, vote.block_hash) in self.formed:
            return None
        covered = tuple((item.height, item.round, item.block_hash) for item in vote.commits)
        key = (vote.round, vote.block_hash, covered)
        by_voter = self.votes.setdefault(key, {})
        by_voter[vote.voter] = vote
        if len(by_voter) < self.validators.quorum:
            return None
        self.formed.add((vote.round, vote.block_hash))
        self.votes = {other: value for other, value in self.votes.items() if other[:2] != key[:2]}
        return self._justify(list(by_voter.values()))

    def _justify(self, votes: list[Vote]) -> Justify:
        first = votes[0]
        qc = build_qc(
            Phase.VOTE,
            first.height,
            first.round,
            first.block_hash,
            {vote.voter: vote.signature for vote in votes},
        )
        commits = tuple(
            build_qc(
                Phase.COMMIT,
                item.height,
                item.round,
                item.block_hash,
                {vote.voter: vote.commits[position].signature for vote in votes},
            )
            for position, item in enumerate(first.commits)
        )
        return Justify(epoch=self.validators.epoch, qc=qc, commits=commits)

    def prune(self, round_floor: int) -> None:
        self.votes = {key: value for key, value in self.votes.items() if key[0] >= round_floor}
        self.formed = {key for key in self.formed if key[0] >= round_floor}


@dataclass(slots=True)
class TimeoutCollector:
    """Timeouts per round until a quorum forms a `TimeoutCertificate`."""

    validators: ValidatorSet
    timeouts: dict[int, dict[int, Timeout]] = field(default_factory=dict)
    high_rounds: dict[tuple[int, int], int] = field(default_factory=dict)
    formed: set[int] = field(default_factory=set)

    def add(self, timeout: Timeout, high_qc_round: int) -> int:
        """Record `timeout` (whose certified round is `high_qc_round`); returns how many
        distinct validators have timed out in that round."""
        by_voter = self.timeouts.setdefault(timeout.round, {})
        if timeout.voter not in by_voter:
            by_voter[timeout.voter] = timeout
            self.high_rounds[(timeout.round, timeout.voter)] = high_qc_round
        return len(by_voter)

    def certificate(self, round_number: int) -> TimeoutCertificate | None:
        """The timeout certificate of `round_number` the first time a quorum is there."""
        by_voter = self.timeouts.get(round_number, {})
        if round_number in self.formed or len(by_voter) < self.validators.quorum:
            return None
        self.formed.add(round_number)
        signers = tuple(sorted(by_voter))
        return TimeoutCertificate(
            epoch=self.validators.epoch,
            round=round_number,
            signers=signers,
            high_qc_rounds=tuple(self.high_rounds[(round_number, signer)] for signer in signers),
            signatures=tuple(by_voter[signer].signature for signer in signers),
        )

    def prune(self, round_floor: int) -> None:
        self.timeouts = {key: value for key, value in self.timeouts.items() if key >= round_floor}
        self.high_rounds = {
            key: value for key, value in self.high_rounds.items() if key[0] >= round_floor
        }
        self.formed = {key for key in self.formed if key >= round_floor}


@dataclass(slots=True)
class EquivocationDetector:
    """Remembers the first proposal per round and the first vote per (round, voter); a second,
    different one becomes `Evidence` (once per validator and round)."""

    validators: ValidatorSet
    seen: dict[tuple[StatementKind, int, int], SignedStatement] = field(default_factory=dict)
    reported: set[tuple[StatementKind, int, int]] = field(default_factory=set)

    def observe(
        self, kind: StatementKind, round_number: int, validator: int, statement: SignedStatement
    ) -> Evidence | None:
        key = (kind, round_number, validator)
        first = self.seen.setdefault(key, statement)
        if first.block_hash == statement.block_hash or key in self.reported:
            return None
        self.reported.add(key)
        return Evidence(
            kind=kind,
            epoch=self.validators.epoch,
            round=round_number,
            validator=validator,
            public_key=self.validators.public_keys[validator],
            first=first,
            second=statement,
        )

    def prune(self, round_floor: int) -> None:
        self.seen = {key: value for key, value in self.seen.items() if key[1] >= round_floor}
        self.reported = {key for key in self.reported if key[1] >= round_floor}
