"""The epoch fence (SPEC.md CONS-SAFETY-8): a validator whose persisted safety state is from a
later epoch than its committed root (the commit of the epoch's last block was lost in a
crash, its first votes of the next epoch were not) signs nothing until it is back in that
epoch, and resumes there from the persisted state.

Shown three ways: the engine on its own; a targeted simulation (a crash at a validator's
first vote of epoch 1, with a shell whose commits become durable late and without the node
driver's barrier at the epoch's end) that passes with the fence and double-votes without it;
and seeds of the default campaign that do the same."""

from __future__ import annotations

import logging
import random
from dataclasses import replace

import pytest

from gongshi.consensus import actions as act
from gongshi.consensus.bootstrap import genesis_root
from gongshi.consensus.engine import Engine, EngineConfig
from gongshi.consensus.events import Start, TimerFired
from gongshi.consensus.messages import SyncRequest
from gongshi.consensus.signing import Signer, Verifier
from gongshi.consensus.sim.app import genesis_block
from gongshi.consensus.sim.checkers import Checkers
from gongshi.consensus.sim.cluster import Cluster, SimResult, run_scenario
from gongshi.consensus.sim.keys import KeyRing, MacSigner, secret_for
from gongshi.consensus.sim.node import SimNode
from gongshi.consensus.sim.options import Boundary, BoundaryCrash, Reconfig, SimOptions
from gongshi.consensus.types import CommittedRoot, SafetyState, ValidatorSet

# Seeds of the default campaign (test_consensus_sim_campaign.py) in which a validator votes
# twice in one (epoch, round) once the fence is removed: a crash at its first vote of epoch 1,
# commits durable late, no barrier at the epoch's end.
DEFAULT_CAMPAIGN_DOUBLE_VOTES = (20241422, 20241457)


@pytest.fixture(autouse=True)
def quiet_engine_logs() -> None:
    logging.getLogger("gongshi.consensus").setLevel(logging.ERROR)


@pytest.fixture
def no_fence(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine as it was: a safety state of another epoch than the root is ignored."""
    original = Engine.__init__

    def unfenced(
        self: Engine,
        config: EngineConfig,
        signer: Signer,
        verifier: Verifier,
        root: CommittedRoot,
        safety: SafetyState | None = None,
    ) -> None:
        if safety is not None and safety.epoch > root.epoch:
            safety = None
        original(self, config, signer, verifier, root, safety)

    monkeypatch.setattr(Engine, "__init__", unfenced)


@pytest.fixture
def double_votes_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """CONS-SAFETY-8's own checks off: what is left to see is the double vote itself."""
    monkeypatch.setattr(Checkers, "on_persist", lambda *args, **kwargs: None)
    monkeypatch.setattr(Checkers, "on_signature", lambda *args, **kwargs: None)


def boundary_crash(seed: int, *, barrier: bool = False) -> SimOptions:
    """n = 4; node 4 (an observer) replaces validator 2 from height 5 on. Node 3, leader of
    epoch 1's first round, crashes in the step of its first vote of epoch 1, the vote's
    persist done; commits become durable 30 ms late."""
    return SimOptions(
        seed=seed,
        validators=4,
        observers=1,
        reconfig=Reconfig(height=3, activation_height=5, validators=(0, 1, 3, 4)),
        boundary_crashes=(
            BoundaryCrash(
                node=3, epoch=1, boundary=Boundary.FIRST_VOTE, actions_kept=2, down_ms=100
            ),
        ),
        commit_lag_ms=30,
        epoch_barrier=barrier,
        safety_ms=800,
    )


def run_recording_fenced_boots(
    options: SimOptions, monkeypatch: pytest.MonkeyPatch
) -> tuple[Cluster, SimResult, list[tuple[SafetyState, int, set[int]]]]:
    """Run `options`; for each engine booted behind a fence: the fence, the root's epoch and
    the heights of the finality certificates it held at once."""
    fenced: list[tuple[SafetyState, int, set[int]]] = []
    boot = SimNode.boot

    def recording_boot(node: SimNode) -> Engine:
        engine = boot(node)
        if engine.fence is not None:
            held = {certificate.height for certificate in engine.commit_certificates.values()}
            fenced.append((engine.fence, engine.epoch, held))
        return engine

    monkeypatch.setattr(SimNode, "boot", recording_boot)
    cluster = Cluster(options, random.Random(options.seed))
    return cluster, cluster.run(), fenced


# --- the engine alone ---------------------------------------------------------------------


def fenced_engine() -> tuple[Engine, SafetyState, ValidatorSet]:
    ring = KeyRing()
    signers = [MacSigner(secret_for(0, index)) for index in range(4)]
    for index in range(4):
        ring.add(secret_for(0, index))
    validators = ValidatorSet(epoch=0, public_keys=tuple(s.public_key() for s in signers))
    root = genesis_root(genesis_block(), validators)
    # It voted in round 3 of epoch 1, but its ledger is back in epoch 0.
    fence = SafetyState(epoch=1, last_voted_round=3, high_qc=root.justify)
    config = EngineConfig(chain_id=b"fence", timeout_base_ms=100)
    return Engine(config, signers[1], ring, root, fence), fence, validators


def signing_actions(actions: list[act.Action]) -> list[act.Action]:
    return [
        action
        for action in actions
        if isinstance(action, act.PersistSafetyState | act.Broadcast | act.BuildProposal)
        or (isinstance(action, act.Send) and not isinstance(action.message, SyncRequest))
    ]


def test_engine_behind_its_safety_states_epoch_signs_nothing_and_keeps_that_state() -> None:
    engine, fence, validators = fenced_engine()
    assert engine.my_index is None and engine.fence == fence
    assert engine.safety_state() == fence  # never a fresh state of an epoch it voted in
    actions = engine.step(Start())
    timers = [a for a in actions if isinstance(a, act.SetTimer)]
    assert timers and not signing_actions(actions)
    asked: list[bytes] = []
    for _ in range(6):  # its timer: no timeout (it would sign), a sync request instead
        timer = timers[-1]
        actions = engine.step(TimerFired(epoch=timer.epoch, round=timer.round))
        assert not signing_actions(actions)
        asked += [a.to for a in actions if isinstance(a, act.Send)]
        timers = [a for a in actions if isinstance(a, act.SetTimer)]
        assert timers
    others = set(validators.public_keys) - {engine.public_key}
    assert set(asked) == others  # a different validator each time, all of them in turn


def test_safety_state_of_the_roots_epoch_or_older_is_not_a_fence() -> None:
    engine, _, validators = fenced_engine()
    root = genesis_root(genesis_block(), validators)
    voted = SafetyState(epoch=0, last_voted_round=3, high_qc=root.justify)
    same = Engine(engine.config, engine.signer, engine.verifier, root, voted)
    assert same.fence is None and same.last_voted_round == 3 and same.my_index == 1
    later_set = ValidatorSet(epoch=1, public_keys=validators.public_keys)
    later_root = replace(root, epoch=1, validators=later_set)
    later = Engine(engine.config, engine.signer, engine.verifier, later_root, voted)
    assert later.fence is None and later.last_voted_round == 0 and later.my_index == 1


# --- targeted simulation ------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 3, 4])
def test_crash_at_the_first_vote_of_an_epoch_restarts_fenced_and_resumes(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster, result, fenced = run_recording_fenced_boots(boundary_crash(seed), monkeypatch)
    assert result.ok, result.violations
    # The crash lost the commit of epoch 0's last block (height 4) but not the vote of
    # epoch 1: the engine came back fenced, holding that block's finality certificate
    # from its own safety state, so the old set cannot be left short of it.
    assert [(state.epoch, epoch) for state, epoch, _ in fenced] == [(1, 0)]
    assert 4 in fenced[0][2]
    assert min(result.heights) > 10  # and everyone went on, the crashed node included
    crashed = cluster.nodes[3]
    engine = crashed.engine
    assert engine is not None and engine.fence is None and engine.epoch == 1
    assert engine.my_index is not None  # a validator of epoch 1 again
    persisted = crashed.durable.safety
    assert persisted is not None and persisted.epoch == 1
    assert persisted.last_voted_round > fenced[0][0].last_voted_round  # voted on from there


@pytest.mark.usefixtures("no_fence", "double_votes_only")
@pytest.mark.parametrize("seed", [1, 3, 4])
def test_without_the_fence_the_restarted_leader_votes_twice_in_a_round(seed: int) -> None:
    result = run_scenario(seed, options=boundary_crash(seed))
    assert result.violations
    violation = result.violations[0]
    assert violation.invariant == "CONS-SAFETY-3" and violation.node == 3
    assert "epoch 1 round 1" in violation.detail


@pytest.mark.usefixtures("no_fence")
def test_without_the_fence_the_epoch_checker_fires_first() -> None:
    result = run_scenario(1, options=boundary_crash(1))
    # The restarted leader signs in epoch 0 under a safety state of epoch 1, and persists
    # an epoch-0 state over it, before it has a chance to vote twice.
    assert {v.invariant for v in result.violations} == {"CONS-SAFETY-8"}


@pytest.mark.usefixtures("no_fence")
def test_the_drivers_barrier_alone_also_keeps_the_vote() -> None:
    # The node driver makes an epoch's last block durable before anything after it; with
    # that shell the fence never engages, and nothing breaks even without it.
    result = run_scenario(1, options=boundary_crash(1, barrier=True))
    assert result.ok, result.violations


# --- the default campaign -----------------------------------------------------------------


@pytest.mark.parametrize("seed", DEFAULT_CAMPAIGN_DOUBLE_VOTES)
def test_default_campaign_seed_passes_with_the_fence(seed: int) -> None:
    result = run_scenario(seed)
    assert result.ok, result.violations
    options = result.options
    assert options.reconfig is not None and options.commit_lag_ms and not options.epoch_barrier
    assert any(crash.boundary == Boundary.FIRST_VOTE for crash in options.boundary_crashes)


@pytest.mark.usefixtures("no_fence", "double_votes_only")
@pytest.mark.parametrize("seed", DEFAULT_CAMPAIGN_DOUBLE_VOTES)
def test_default_campaign_seed_double_votes_without_the_fence(seed: int) -> None:
    result = run_scenario(seed)
    assert [v.invariant for v in result.violations] == ["CONS-SAFETY-3"]
