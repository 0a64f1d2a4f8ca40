"""The rule-breaking Byzantine behaviours (fork, wrong-parent, vote-all): each really breaks
its rule, honest engines refuse it, and an engine whose defence is switched off is caught by
the checkers within a bounded number of seeds, while the real engine passes the same seeds.
Same style as "dropping persist is caught" in test_consensus_sim_faults.py."""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import replace

import pytest

import gongshi.consensus.checks as checks_module
import gongshi.consensus.engine as engine_module
from gongshi.codec.qc import QuorumCertificate
from gongshi.consensus.checks import commits_match
from gongshi.consensus.evidence import Evidence, StatementKind
from gongshi.consensus.messages import Proposal
from gongshi.consensus.sim import cluster as cluster_module
from gongshi.consensus.sim.adversary import vote_for
from gongshi.consensus.sim.checkers import Checkers, voting_rule_problem
from gongshi.consensus.sim.cluster import Cluster, SimResult, run_scenario
from gongshi.consensus.sim.network import SimNetwork
from gongshi.consensus.sim.options import Behaviour, SimOptions
from gongshi.consensus.types import (
    Block,
    Justify,
    Phase,
    TimeoutCertificate,
)

# n = 4 with one Byzantine validator of the given behaviour; everything else drawn per seed.
FORK = {"nodes": 4, "byzantine": 1, "behaviours": (Behaviour.FORK,)}
WRONG_PARENT = {"nodes": 4, "byzantine": 1, "behaviours": (Behaviour.WRONG_PARENT,)}
SEEDS_MAX = 60  # the bound within which a weakened engine must be caught


@pytest.fixture(autouse=True)
def quiet_engine_logs() -> None:
    logging.getLogger("gongshi.consensus").setLevel(logging.ERROR)


def lockless_voting_rule(
    round_number: int, justify_round: int, tc: TimeoutCertificate | None
) -> bool:
    """The voting rule without its lock: any TC of the previous round justifies any QC,
    however far below the high QCs the timed-out validators report."""
    return round_number == justify_round + 1 or (tc is not None and tc.round + 1 == round_number)


def weaken_lock(patch: pytest.MonkeyPatch) -> None:
    # The engine's vote and its proposal check both apply the rule, each under its own name.
    patch.setattr(engine_module, "voting_rule_allows", lockless_voting_rule)
    patch.setattr(checks_module, "voting_rule_allows", lockless_voting_rule)


def weaken_parent_check(patch: pytest.MonkeyPatch) -> None:
    original = checks_module.proposal_problem

    def without_parent_check(*args: object) -> str | None:
        problem = original(*args)  # type: ignore[arg-type]
        return None if problem == "proposal_parent" else problem

    patch.setattr(engine_module, "proposal_problem", without_parent_check)


def agreement_checkers_only(patch: pytest.MonkeyPatch) -> None:
    """Turn the voting-rule checker off, so what a run shows is the fork's outcome itself."""
    patch.setattr(Checkers, "on_vote_rule", lambda *args, **kwargs: None)


def first_failure(seeds: range, **draw: object) -> SimResult | None:
    for seed in seeds:
        result = run_scenario(seed, **draw)  # type: ignore[arg-type]
        if not result.ok:
            return result
    return None


def test_lock_switched_off_lets_a_fork_leader_break_agreement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seeds = range(SEEDS_MAX)
    with monkeypatch.context() as patch:
        weaken_lock(patch)
        agreement_checkers_only(patch)
        broken = first_failure(seeds, **FORK)
    assert broken is not None, f"a lockless engine survived {SEEDS_MAX} fork scenarios"
    assert broken.violations[0].invariant in ("CONS-SAFETY-1", "CONS-SAFETY-2")
    assert first_failure(seeds, **FORK) is None  # the real engine keeps the same seeds safe


def test_lock_switched_off_is_caught_by_the_voting_rule_checker_in_default_draws(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with monkeypatch.context() as patch:
        weaken_lock(patch)
        broken = first_failure(range(200))
    assert broken is not None
    assert broken.violations[0].invariant == "CONS-SAFETY-7"
    assert Behaviour.FORK in {kind for _, kind in broken.options.byzantine}
    assert run_scenario(broken.options.seed).ok


def test_parent_check_switched_off_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    seeds = range(SEEDS_MAX)
    with monkeypatch.context() as patch:
        weaken_parent_check(patch)
        broken = first_failure(seeds, **WRONG_PARENT)
    assert broken is not None
    assert broken.violations[0].invariant == "CONS-SAFETY-7"
    assert "parent" in broken.violations[0].detail
    assert first_failure(seeds, **WRONG_PARENT) is None


def honest_drops(behaviours: tuple[Behaviour, ...], seeds: range) -> Counter[str]:
    """Drop reasons counted by the honest engines alive at the end of each run."""
    drops: Counter[str] = Counter()
    for seed in seeds:
        options = SimOptions(seed=seed, validators=4, byzantine=((0, behaviours[0]),))
        cluster = Cluster(options, random.Random(seed))
        assert cluster.run().ok
        for node in cluster.nodes:
            if node.honest and node.engine is not None:
                drops.update(node.engine.drops)
    return drops


def test_fork_proposals_are_sent_and_refused_by_the_voting_rule() -> None:
    assert honest_drops((Behaviour.FORK,), range(5))["proposal_unjustified_round"] > 0


def test_wrong_parent_proposals_are_sent_and_refused() -> None:
    assert honest_drops((Behaviour.WRONG_PARENT,), range(5))["proposal_parent"] > 0


def test_vote_all_votes_for_two_blocks_in_a_round_and_is_named_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Twins (validator 2) propose two blocks per round to everyone; voting for every proposal
    # means voting for both, which honest leaders record as evidence (CONS-EVIDENCE-1 checks
    # that evidence never names an honest validator).
    recorded: list[Evidence] = []
    original = Checkers.on_evidence

    def record(self: Checkers, time_ms: int, node: int, evidence: Evidence) -> None:
        recorded.append(evidence)
        original(self, time_ms, node, evidence)

    monkeypatch.setattr(Checkers, "on_evidence", record)
    byzantine = ((2, Behaviour.TWIN), (5, Behaviour.VOTE_ALL))
    for seed in range(4):
        options = SimOptions(seed=seed, validators=7, byzantine=byzantine)
        result = run_scenario(seed, options=options)
        assert result.ok, result.violations
    assert 5 in {e.validator for e in recorded if e.kind == StatementKind.VOTE}


def test_vote_all_votes_carry_the_commit_signatures_a_leader_accepts() -> None:
    cluster = Cluster(SimOptions(seed=1, validators=4, safety_ms=300), random.Random(1))
    assert cluster.run().ok
    engine = cluster.nodes[0].engine
    assert engine is not None
    checked = 0
    for node in list(engine.tree.nodes.values()):
        if node.proposal is None or node.parent is None:
            continue
        vote = vote_for(engine, cluster.nodes[0].signer, node.proposal)
        assert vote is not None
        segment = engine.tree.commit_segment(node)
        assert commits_match(
            engine.config.chain_id, engine.validators, cluster.verifier, vote, segment
        )
        checked += bool(segment)
    assert checked > 0  # some votes finalised blocks, so commit lists were really compared


def test_fork_leader_builds_on_an_older_certificate_than_its_engine() -> None:
    seen: list[tuple[Proposal, Proposal]] = []
    original = cluster_module.fork_proposal

    def spy(*args: object) -> Proposal | None:
        forged = original(*args)  # type: ignore[arg-type]
        if forged is not None:
            proposal = args[2]
            assert isinstance(proposal, Proposal)
            seen.append((proposal, forged))
        return forged

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cluster_module, "fork_proposal", spy)
        for seed in range(4):
            assert run_scenario(seed, **FORK).ok  # type: ignore[arg-type]
    assert seen
    for honest, forged in seen:
        assert forged.timeout_certificate == honest.timeout_certificate is not None
        assert forged.round == honest.round and forged.proposer == honest.proposer
        assert forged.justify.qc.round < honest.justify.qc.round or honest.justify.epoch > 0
        assert forged.block.parent_hash == forged.justify.qc.block_hash


def test_eclipse_cuts_a_node_off_both_ways_until_it_ends_or_the_network_heals() -> None:
    network = SimNetwork.from_options(random.Random(0), SimOptions(seed=0, validators=4))
    network.eclipse(1, until_ms=100)
    assert not network.connected(50, 1, 2) and not network.connected(50, 3, 1)
    assert network.connected(50, 2, 3) and network.connected(100, 1, 2)
    network.eclipse(2, until_ms=100)
    network.stabilise(10)
    assert network.connected(50, 2, 3)


def certificate(round_number: int, block_hash: bytes, phase: Phase = Phase.VOTE) -> Justify:
    qc = QuorumCertificate(
        phase=phase,
        height=round_number,
        round=round_number,
        block_hash=block_hash,
        signers=(),
        signatures=(),
    )
    return Justify(epoch=0, qc=qc)


def proposal_on(
    justify: Justify, round_number: int, tc_high_rounds: tuple[int, ...] = ()
) -> Proposal:
    tc = None
    if tc_high_rounds:
        tc = TimeoutCertificate(
            epoch=0,
            round=round_number - 1,
            signers=tuple(range(len(tc_high_rounds))),
            high_qc_rounds=tc_high_rounds,
            signatures=tuple(b"s" for _ in tc_high_rounds),
        )
    block = Block(height=1, parent_hash=justify.qc.block_hash, payload=b"", block_hash=bytes(32))
    return Proposal(
        epoch=0,
        round=round_number,
        proposer=0,
        block=block,
        justify=justify,
        timeout_certificate=tc,
        signature=b"s",
    )


@pytest.mark.parametrize(
    ("justify_round", "round_number", "tc_high_rounds", "allowed"),
    [
        (4, 5, (), True),  # QC of the previous round
        (3, 5, (), False),  # a gap and no TC
        (3, 5, (3, 2, 1), True),  # TC whose highest reported QC is the proposal's
        (3, 5, (4, 2, 1), False),  # TC reporting a higher QC: the lock forbids it (fork)
    ],
)
def test_voting_rule_checker(
    justify_round: int, round_number: int, tc_high_rounds: tuple[int, ...], allowed: bool
) -> None:
    proposal = proposal_on(certificate(justify_round, b"\x01" * 32), round_number, tc_high_rounds)
    assert (voting_rule_problem(0, proposal) is None) is allowed


def test_voting_rule_checker_refuses_a_block_off_its_certificate() -> None:
    proposal = proposal_on(certificate(4, b"\x01" * 32), 5)
    wrong = Block(height=1, parent_hash=b"\x02" * 32, payload=b"", block_hash=bytes(32))
    problem = voting_rule_problem(0, replace(proposal, block=wrong))
    assert problem is not None and "parent" in problem


def test_voting_rule_checker_counts_the_epoch_root_as_round_zero() -> None:
    root = certificate(9, b"\x01" * 32, Phase.COMMIT)  # previous epoch's finality certificate
    proposal = replace(proposal_on(root, 1), epoch=1)
    assert voting_rule_problem(1, proposal) is None
    assert voting_rule_problem(1, replace(proposal, round=2)) is not None
