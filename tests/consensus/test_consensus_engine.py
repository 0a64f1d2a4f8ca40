"""Engine unit tests: a hand-driven cluster, no simulator. Messages are delivered in FIFO
order, the application answers at once, timers fire only when a test fires them."""

from __future__ import annotations

from collections import deque
from dataclasses import replace

import pytest

from gongshi.consensus import actions as act
from gongshi.consensus.bootstrap import genesis_root
from gongshi.consensus.engine import Engine, EngineConfig
from gongshi.consensus.errors import InvalidEngineConfig, InvalidValidatorSet
from gongshi.consensus.events import (
    BlockValidated,
    Event,
    ProposalBuilt,
    Received,
    Start,
    TimerFired,
)
from gongshi.consensus.evidence import verify_evidence
from gongshi.consensus.messages import (
    CommitSignature,
    Message,
    Proposal,
    SyncRequest,
    SyncResponse,
    Timeout,
    Vote,
)
from gongshi.consensus.quorum import verify_commit
from gongshi.consensus.signing import timeout_bytes, vote_bytes
from gongshi.consensus.sim.app import build_block, genesis_block, validate_block
from gongshi.consensus.sim.keys import KeyRing, MacSigner, secret_for
from gongshi.consensus.types import Phase, ValidatorSet

CHAIN = b"test-chain"


class Harness:
    def __init__(self, size: int = 4) -> None:
        self.ring = KeyRing()
        self.signers = [MacSigner(secret_for(0, index)) for index in range(size)]
        for index in range(size):
            self.ring.add(secret_for(0, index))
        self.validators = ValidatorSet(
            epoch=0, public_keys=tuple(signer.public_key() for signer in self.signers)
        )
        self.config = EngineConfig(chain_id=CHAIN, timeout_base_ms=100)
        self.root = genesis_root(genesis_block(), self.validators)
        self.engines = [
            Engine(self.config, signer, self.ring, self.root) for signer in self.signers
        ]
        self.inbox: deque[tuple[int, Event]] = deque()
        self.log: list[tuple[int, list[act.Action]]] = []
        self.commits: list[list[act.Commit]] = [[] for _ in range(size)]
        self.down: set[int] = set()
        self.timers: list[set[tuple[int, int]]] = [set() for _ in range(size)]

    def index_of(self, key: bytes) -> int:
        return self.validators.public_keys.index(key)

    def step(self, index: int, event: Event) -> list[act.Action]:
        actions = self.engines[index].step(event)
        self.log.append((index, actions))
        for action in actions:
            self.carry_out(index, action)
        return actions

    def carry_out(self, index: int, action: act.Action) -> None:
        if isinstance(action, act.Send):
            self.post(index, self.index_of(action.to), action.message)
        elif isinstance(action, act.Broadcast):
            for target in range(len(self.engines)):
                if target != index:
                    self.post(index, target, action.message)
        elif isinstance(action, act.ValidateBlock):
            valid, change = validate_block(action.block)
            answer = BlockValidated(block_hash=action.block.block_hash, valid=valid, change=change)
            self.inbox.append((index, answer))
        elif isinstance(action, act.BuildProposal):
            block, change = build_block(
                action.height, action.parent_hash, action.round, index, None
            )
            built = ProposalBuilt(
                epoch=action.epoch, round=action.round, block=block, change=change
            )
            self.inbox.append((index, built))
        elif isinstance(action, act.Commit):
            self.commits[index].append(action)
        elif isinstance(action, act.SetTimer):
            self.timers[index].add((action.epoch, action.round))

    def post(self, source: int, target: int, message: Message) -> None:
        if target not in self.down:
            sender = self.signers[source].public_key()
            self.inbox.append((target, Received(sender=sender, message=message)))

    def start(self) -> None:
        for index in range(len(self.engines)):
            if index not in self.down:
                self.step(index, Start())

    def run(self, steps_max: int = 5000) -> None:
        for _ in range(steps_max):
            if not self.inbox:
                return
            index, event = self.inbox.popleft()
            if index not in self.down:
                self.step(index, event)
        raise AssertionError("cluster did not quiesce")

    def run_until_height(self, height: int, steps_max: int = 5000) -> None:
        for _ in range(steps_max):
            live = [i for i in range(len(self.engines)) if i not in self.down]
            if all(self.engines[i].committed_height >= height for i in live):
                return
            index, event = self.inbox.popleft()
            if index not in self.down:
                self.step(index, event)
        raise AssertionError("height not reached")


def test_happy_path_commits_with_verifiable_certificates() -> None:
    harness = Harness()
    harness.start()
    harness.run_until_height(5)
    chains = [[commit.block.block_hash for commit in commits[:5]] for commits in harness.commits]
    assert all(chain == chains[0] for chain in chains)
    for commits in harness.commits:
        for height, commit in enumerate(commits[:5], start=1):
            assert commit.block.height == height
            assert verify_commit(
                CHAIN,
                harness.validators,
                commit.block.block_hash,
                height,
                commit.certificate,
                harness.ring,
            )


def test_pipelining_one_vote_round_certifies_h_and_finalises_h_minus_1() -> None:
    harness = Harness()
    harness.start()
    harness.run_until_height(4)
    # Every vote after the first carries exactly one commit signature: for its parent.
    votes = [
        action.message
        for _, actions in harness.log
        for action in actions
        if isinstance(action, act.Send) and isinstance(action.message, Vote)
    ]
    assert votes
    assert all(len(vote.commits) == (0 if vote.height == 1 else 1) for vote in votes)
    assert all(vote.commits[0].height == vote.height - 1 for vote in votes if vote.commits)


def test_persist_always_precedes_the_vote_or_timeout_it_covers() -> None:
    harness = Harness()
    harness.start()
    harness.run_until_height(3)
    harness.down.add(1)  # leader of round 1 + 4k stays silent, so rounds time out
    for index in (0, 2, 3):
        round_number = harness.engines[index].round
        harness.step(index, TimerFired(epoch=0, round=round_number))
    harness.run()
    for _, actions in harness.log:
        persisted = -1
        for action in actions:
            if isinstance(action, act.PersistSafetyState):
                persisted = action.state.last_voted_round
            message = getattr(action, "message", None)
            if isinstance(message, Vote | Timeout):
                assert persisted >= message.round, "sent before its safety state was persisted"


def test_restarted_validator_never_votes_twice_in_a_round() -> None:
    harness = Harness()
    harness.start()
    harness.run_until_height(2)
    voter = 2
    sent_votes = [
        action.message
        for index, actions in harness.log
        if index == voter
        for action in actions
        if isinstance(action, act.PersistSafetyState | act.Send)
        and isinstance(getattr(action, "message", None), Vote)
    ]
    last_vote = sent_votes[-1]
    assert isinstance(last_vote, Vote)
    safety = harness.engines[voter].safety_state()
    restarted = Engine(harness.config, harness.signers[voter], harness.ring, harness.root, safety)
    restarted.step(Start())
    proposal = next(
        action.message
        for _, actions in harness.log
        for action in actions
        if isinstance(action, act.Broadcast)
        and isinstance(action.message, Proposal)
        and action.message.round == last_vote.round
    )
    # Replaying the very proposal it voted for yields no second vote after the restart.
    leader_key = harness.signers[proposal.proposer].public_key()
    actions = restarted.step(Received(sender=leader_key, message=proposal))
    for action in actions:
        if isinstance(action, act.ValidateBlock):
            valid, _ = validate_block(action.block)
            actions += restarted.step(
                BlockValidated(block_hash=action.block.block_hash, valid=valid)
            )
    assert not any(isinstance(getattr(a, "message", None), Vote) for a in actions)


def test_equivocating_leader_produces_verifiable_evidence() -> None:
    harness = Harness()
    harness.start()
    harness.run_until_height(2)
    proposals = [
        action.message
        for _, actions in harness.log
        for action in actions
        if isinstance(action, act.Broadcast) and isinstance(action.message, Proposal)
    ]
    original = proposals[-1]
    other_block, _ = build_block(
        original.block.height, original.block.parent_hash, original.round, 99, None
    )
    leader = harness.signers[original.proposer]
    from gongshi.consensus.signing import proposal_bytes

    signature = leader.sign(
        proposal_bytes(
            CHAIN,
            0,
            original.round,
            other_block.height,
            other_block.parent_hash,
            other_block.block_hash,
        )
    )
    conflicting = replace(original, block=other_block, signature=signature)
    observer = (original.proposer + 1) % 4
    actions = harness.engines[observer].step(
        Received(sender=leader.public_key(), message=conflicting)
    )
    evidence = [action.evidence for action in actions if isinstance(action, act.RecordEvidence)]
    assert len(evidence) == 1
    assert evidence[0].validator == original.proposer
    assert verify_evidence(CHAIN, harness.validators, evidence[0], harness.ring)
    forged = replace(evidence[0], second=replace(evidence[0].second, signature=b"x" * 16))
    assert not verify_evidence(CHAIN, harness.validators, forged, harness.ring)


def test_bad_signature_is_dropped_and_counted_not_raised() -> None:
    harness = Harness()
    harness.start()
    harness.run_until_height(2)
    engine = harness.engines[0]
    broken = Timeout(
        epoch=0,
        round=engine.round,
        voter=1,
        high_qc=engine.high_qc,
        high_tc=None,
        signature=b"\x00" * 16,
    )
    actions = engine.step(Received(sender=harness.signers[1].public_key(), message=broken))
    assert actions == []
    assert engine.drops.get("timeout_signature") == 1


def test_far_future_timeouts_do_not_move_the_round_or_grow_memory() -> None:
    harness = Harness()
    harness.start()
    harness.run_until_height(2)
    engine = harness.engines[0]
    round_before = engine.round
    spammer = harness.signers[3]
    for offset in range(1, 200):
        far = round_before + 10_000 + offset
        timeout = Timeout(
            epoch=0,
            round=far,
            voter=3,
            high_qc=engine.high_qc,
            high_tc=None,
            signature=spammer.sign(timeout_bytes(CHAIN, 0, far, engine.high_qc_round)),
        )
        engine.step(Received(sender=spammer.public_key(), message=timeout))
    assert engine.round == round_before
    assert len(engine.timeouts.timeouts) <= 2
    assert engine.drops["timeout_round_window"] == 199


def test_silent_leader_is_skipped_by_timeout_certificates() -> None:
    harness = Harness()
    harness.down.add(1)  # leader of rounds 1, 5, 9, ...
    harness.start()
    harness.run()
    assert all(harness.engines[i].committed_height == 0 for i in (0, 2, 3))
    for index in (0, 2, 3):
        harness.step(index, TimerFired(epoch=0, round=1))
    harness.run()
    live = [harness.engines[i] for i in (0, 2, 3)]
    assert all(engine.high_tc is not None and engine.high_tc.round >= 1 for engine in live)
    assert all(engine.committed_height >= 1 for engine in live)
    timers: dict[tuple[int, int], int] = {}
    for index, actions in harness.log:
        for action in actions:
            if isinstance(action, act.SetTimer):
                timers.setdefault((index, action.round), action.delay_ms)
    # Back-off: the round entered through a timeout certificate waits twice as long; the
    # round after a certificate of votes is back to the base timeout.
    assert timers[(0, 1)] == 100
    assert timers[(0, 2)] == 200
    assert timers[(0, 3)] == 100


class StrippingHarness(Harness):
    """The leader of round 3 strips the finality certificates off the justify it carries
    (the proposal's signature does not cover them): replicas learn that block 1 is final
    from no message they receive."""

    def post(self, source: int, target: int, message: Message) -> None:
        if isinstance(message, Proposal) and message.round == 3:
            message = replace(message, justify=replace(message.justify, commits=()))
        super().post(source, target, message)


def test_replica_missing_a_finality_certificate_fetches_it_and_commits_again() -> None:
    # Found by the campaign (`gongshi sim --runs 1 --seed 779570`): a replica that missed the
    # certificate of one block kept voting but never committed again.
    harness = StrippingHarness()
    harness.start()
    harness.run_until_height(6)
    for commits in harness.commits:
        assert [commit.block.height for commit in commits[:6]] == [1, 2, 3, 4, 5, 6]
    requests = [
        action.message
        for index, actions in harness.log
        if index != 3  # the leader of round 3 made the certificate itself
        for action in actions
        if isinstance(action, act.Send) and isinstance(action.message, SyncRequest)
    ]
    assert requests and all(request.committed_height == 0 for request in requests)


def test_lagging_replica_commits_what_it_holds_while_the_newest_final_block_is_missing() -> None:
    # Found by the campaign (seeds 50444, 50606): a replica that learnt of a finality
    # certificate for a block it lacked waited for that block before committing anything,
    # and fell out of its peers' sync window for good.
    harness = Harness()
    harness.start()
    harness.run_until_height(8)
    proposals = {
        action.message.block.height: action.message
        for _, actions in harness.log
        for action in actions
        if isinstance(action, act.Broadcast) and isinstance(action.message, Proposal)
    }
    replica = Engine(harness.config, harness.signers[3], harness.ring, harness.root)
    replica.step(Start())
    committed: list[int] = []
    for height in (8, 1, 2, 3, 4, 5):  # height 8's justify makes block 6 final; 6 never comes
        proposal = proposals[height]
        sender = harness.signers[proposal.proposer].public_key()
        pending = replica.step(Received(sender=sender, message=proposal))
        while pending:
            action = pending.pop(0)
            if isinstance(action, act.ValidateBlock):
                valid, change = validate_block(action.block)
                answer = BlockValidated(
                    block_hash=action.block.block_hash, valid=valid, change=change
                )
                pending += replica.step(answer)
            elif isinstance(action, act.Commit):
                committed.append(action.block.height)
    assert committed == [1, 2, 3]  # the justifies of proposals 3 to 5 made them final
    assert replica.commit_target is not None and replica.commit_target.height == 6


class VoteDroppingHarness(Harness):
    """Votes for round 4 never arrive: its leader-to-be holds block 4 without a QC."""

    def post(self, source: int, target: int, message: Message) -> None:
        if not (isinstance(message, Vote) and message.round == 4):
            super().post(source, target, message)


def test_votes_from_another_committed_root_bring_the_one_behind_up_to_date() -> None:
    # Found by the campaign (seed 3141609): voters whose committed roots differ sign commit
    # lists of different lengths (each segment stops at its node's root), so two groups of
    # them split every quorum 2/2 and nothing was committed again. The leader now serves a
    # voter behind it, or asks a voter ahead of it, so that the roots meet.
    harness = VoteDroppingHarness()
    harness.start()
    harness.run()
    leader_index = harness.validators.leader(5)
    leader = harness.engines[leader_index]
    voter = next(i for i in range(4) if i != leader_index)
    vote = next(
        action.message
        for index, actions in harness.log
        if index == voter
        for action in actions
        if isinstance(action, act.Send)
        and isinstance(action.message, Vote)
        and action.message.round == 4
    )
    assert [item.height for item in vote.commits] == [3]
    assert leader.committed_height == 2
    voter_key = harness.signers[voter].public_key()
    behind_signature = harness.signers[voter].sign(
        vote_bytes(CHAIN, 0, Phase.COMMIT, 2, 2, harness.commits[leader_index][1].block.block_hash)
    )
    behind = CommitSignature(
        height=2,
        round=2,
        block_hash=harness.commits[leader_index][1].block.block_hash,
        signature=behind_signature,
    )
    behind_vote = replace(vote, commits=(*vote.commits, behind))
    ahead_vote = replace(vote, commits=())
    for sent_vote, answer in ((behind_vote, SyncResponse), (ahead_vote, SyncRequest)):
        sent = leader.step(Received(sender=voter_key, message=sent_vote))
        replies = [a.message for a in sent if isinstance(a, act.Send) and a.to == voter_key]
        assert [type(reply) for reply in replies] == [answer]
        if isinstance(replies[0], SyncResponse):
            served = {
                synced.proposal.block.height: synced.certificate for synced in replies[0].blocks
            }
            assert served[2] == harness.commits[leader_index][1].certificate
    assert not leader.step(Received(sender=voter_key, message=behind_vote))  # once a round


def test_invalid_configuration_raises_config_errors() -> None:
    with pytest.raises(InvalidEngineConfig):
        EngineConfig(chain_id=CHAIN, sync_batch_max=0)
    with pytest.raises(InvalidValidatorSet):
        ValidatorSet(epoch=0, public_keys=())
    with pytest.raises(InvalidValidatorSet):
        ValidatorSet(epoch=0, public_keys=(b"a", b"a"))


@pytest.mark.parametrize(
    ("size", "faults", "quorum"),
    [(1, 0, 1), (3, 0, 3), (4, 1, 3), (5, 1, 4), (7, 2, 5), (10, 3, 7)],
)
def test_quorum_sizes(size: int, faults: int, quorum: int) -> None:
    validators = ValidatorSet(epoch=0, public_keys=tuple(bytes([i]) for i in range(size)))
    assert (validators.faults_max, validators.quorum) == (faults, quorum)
