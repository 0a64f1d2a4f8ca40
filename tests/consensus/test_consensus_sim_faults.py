"""Targeted scenarios: the checkers can fail, Byzantine behaviours within f are survived,
and a seed replays exactly."""

from __future__ import annotations

import logging
import random

import pytest

from gongshi.consensus import actions as act
from gongshi.consensus.engine import Engine
from gongshi.consensus.events import Received
from gongshi.consensus.messages import SyncResponse, Timeout
from gongshi.consensus.quorum import verify_commit
from gongshi.consensus.sim.cluster import CHAIN_ID, Cluster, run_scenario
from gongshi.consensus.sim.options import Behaviour, Partition, Reconfig, SimOptions


@pytest.fixture(autouse=True)
def quiet_engine_logs() -> None:
    logging.getLogger("gongshi.consensus").setLevel(logging.ERROR)


def twins_split(twinned: tuple[int, ...]) -> SimOptions:
    """n = 4 (f = 1). Node ids: 0-3 validators, then one twin per twinned key. The partition
    puts honest 0 and one copy of each twinned key on one side, honest 1 and the other copies
    on the other, for the whole safety phase."""
    validators = 4
    twin_ids = {key: validators + position for position, key in enumerate(twinned)}
    groups = [0] * (validators + len(twinned))
    groups[1] = 1
    for honest in (2, 3):
        if honest not in twinned:
            groups[honest] = 0
    for twin_id in twin_ids.values():
        groups[twin_id] = 1
    return SimOptions(
        seed=7,
        validators=validators,
        byzantine=tuple((key, Behaviour.TWIN) for key in twinned),
        partitions=(Partition(start_ms=0, end_ms=1000, groups=tuple(groups)),),
        safety_ms=1000,
    )


def test_twins_on_f_plus_1_keys_break_agreement_and_the_checker_catches_it() -> None:
    result = run_scenario(7, options=twins_split((2, 3)))
    assert [v.invariant for v in result.violations] == ["CONS-SAFETY-1"]


def test_twins_on_f_keys_cannot_break_safety() -> None:
    result = run_scenario(7, options=twins_split((2,)))
    assert result.ok, result.violations


@pytest.mark.parametrize("behaviour", list(Behaviour))
@pytest.mark.parametrize("validators", [4, 5, 7])
def test_each_byzantine_behaviour_within_f_is_survived(
    behaviour: Behaviour, validators: int
) -> None:
    faulty = tuple((index, behaviour) for index in range((validators - 1) // 3))
    options = SimOptions(
        seed=3, validators=validators, byzantine=faulty, loss_permille=20, safety_ms=600
    )
    result = run_scenario(3, options=options)
    assert result.ok, result.violations
    assert min(result.heights[:validators]) >= 3


def test_reconfiguration_hands_over_to_the_new_set_at_the_epoch_boundary() -> None:
    # node 4 starts as an observer and replaces validator 1 from height 6 on
    options = SimOptions(
        seed=11,
        validators=4,
        observers=1,
        reconfig=Reconfig(height=3, activation_height=6, validators=(0, 2, 3, 4)),
        safety_ms=800,
    )
    cluster = Cluster(options, random.Random(11))
    result = cluster.run()
    assert result.ok, result.violations
    assert 1 in cluster.checkers.validator_sets
    new_set = cluster.checkers.validator_sets[1]
    assert new_set.public_keys == tuple(cluster.nodes[i].public_key for i in (0, 2, 3, 4))
    for node in cluster.nodes:
        assert node.durable.root.epoch == 1
        assert node.tip_height > 6


def test_node_past_an_epoch_end_serves_the_last_block_to_a_peer_still_before_it() -> None:
    # Found by the campaign (seed 779204): the validator that left at the boundary committed
    # the epoch's last block first; the old set, short of it and with a Byzantine member,
    # never finalised that block again, and the leaver ignored their old-epoch messages.
    options = SimOptions(
        seed=11,
        validators=4,
        observers=1,
        reconfig=Reconfig(height=3, activation_height=6, validators=(0, 2, 3, 4)),
        safety_ms=800,
    )
    cluster = Cluster(options, random.Random(11))
    assert cluster.run().ok
    leaver = cluster.nodes[1].engine
    assert leaver is not None and leaver.epoch == 1
    old_set = cluster.checkers.validator_sets[0]
    last = next(s for s in leaver.committed_blocks if s.proposal.block.height == 5)
    laggard = old_set.public_keys[0]
    stale = Timeout(
        epoch=0,
        round=last.proposal.round + 1,
        voter=0,
        high_qc=last.proposal.justify,  # certifies block 4: the laggard may lack 5's proof
        high_tc=None,
        signature=b"x" * 16,
    )
    actions = leaver.step(Received(sender=laggard, message=stale))
    responses = [a.message for a in actions if isinstance(a, act.Send) and a.to == laggard]
    served = {
        synced.proposal.block.height: synced.certificate
        for response in responses
        if isinstance(response, SyncResponse)
        for synced in response.blocks
    }
    certificate = served.get(5)
    assert certificate is not None
    assert verify_commit(
        CHAIN_ID, old_set, last.proposal.block.block_hash, 5, certificate, cluster.verifier
    )
    again = leaver.step(Received(sender=laggard, message=stale))
    assert not any(isinstance(a, act.Send) for a in again)  # once per round and height


def test_checker_catches_a_vote_sent_before_its_safety_state_is_persisted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = Engine.step

    def unpersisted(self: Engine, event: object) -> list[act.Action]:
        return [a for a in original(self, event) if not isinstance(a, act.PersistSafetyState)]

    monkeypatch.setattr(Engine, "step", unpersisted)
    result = run_scenario(5, options=SimOptions(seed=5, validators=4))
    assert result.violations and result.violations[0].invariant == "CONS-SAFETY-6"


def test_same_seed_replays_exactly_and_different_seeds_differ() -> None:
    first = run_scenario(424_242)
    again = run_scenario(424_242)
    other = run_scenario(424_243)
    assert first.trace_hash == again.trace_hash
    assert (first.events, first.heights, first.violations) == (
        again.events,
        again.heights,
        again.violations,
    )
    assert first.trace_hash != other.trace_hash


def test_crash_and_restart_from_persisted_state_keeps_safety() -> None:
    from gongshi.consensus.sim.options import Crash

    crashes = tuple(
        Crash(node=node, at_ms=at_ms, down_ms=60, actions_kept=kept)
        for node, at_ms, kept in ((0, 100, 0), (1, 150, 1), (2, 230, 2), (0, 300, 1))
    )
    options = SimOptions(seed=9, validators=4, crashes=crashes, safety_ms=500)
    result = run_scenario(9, options=options)
    assert result.ok, result.violations
