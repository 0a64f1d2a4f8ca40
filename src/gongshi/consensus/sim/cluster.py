"""The deterministic cluster simulation: a discrete-event loop over n engines.

One `random.Random(seed)` first draws the options (unless given) and then decides every
delay, loss, duplication, app latency and Byzantine choice. Events are ordered by (time,
sequence number), so a seed replays exactly; `trace_hash` fingerprints the whole run.

Two phases, as in TigerBeetle's VOPR: a safety phase with every fault on, then a liveness
phase in which the network heals, crashed nodes restart and the honest nodes must commit
`liveness_blocks` more blocks within `liveness_ms`. Checkers run after every step.

Crashes strike at a time drawn in the options or at an epoch boundary (`BoundaryCrash`: in
the step committing an epoch's last block, or the first persisting a state of the next);
the shell makes commits durable at once or late, with or without the node driver's barrier
at an epoch's end (`SimOptions.commit_lag_ms`, `epoch_barrier`).
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from gongshi.consensus import actions as act
from gongshi.consensus.bootstrap import genesis_root
from gongshi.consensus.engine import EngineConfig
from gongshi.consensus.events import (
    BlockValidated,
    Event,
    ProposalBuilt,
    Received,
    Start,
    TimerFired,
)
from gongshi.consensus.messages import Message, Proposal, Timeout, Vote
from gongshi.consensus.signing import Signer, Verifier
from gongshi.consensus.sim.adversary import (
    corrupt,
    equivocating_twin,
    fork_proposal,
    future_spam,
    vote_for,
    wrong_parent_proposal,
)
from gongshi.consensus.sim.app import ReconfigPlan, build_block, genesis_block, validate_block
from gongshi.consensus.sim.checkers import Checkers, Violation
from gongshi.consensus.sim.keys import KeyRing, MacSigner, secret_for
from gongshi.consensus.sim.network import SimNetwork
from gongshi.consensus.sim.node import (
    Durable,
    RecordingSigner,
    SimNode,
    decode_vote_statement,
    statement_epoch,
)
from gongshi.consensus.sim.options import (
    Behaviour,
    Boundary,
    BoundaryCrash,
    SimOptions,
    draw_options,
)
from gongshi.consensus.types import ValidatorSet

logger = logging.getLogger(__name__)

CHAIN_ID = b"gongshi-sim"
EVENTS_MAX = 2_000_000
STABLE_DELAY_MAX_MS = 10
# A `wrong-parent` leader forges this share of its proposals and sends the rest unchanged.
WRONG_PARENT_SHARE = 0.5
# Share of the proposals of the leader before a `fork` leader that start an eclipse of it,
# and how long (long enough for a fork to be certified and finalised: about four rounds).
ECLIPSE_SHARE = 0.5
ECLIPSE_MS_MIN = 100
ECLIPSE_MS_MAX = 400

# Event kinds in the queue.
DELIVER, TIMER, APP, CRASH, RESTART, STABILISE = range(6)

# index -> (signer, public key); the default makes MAC keys, tests may pass a real suite's.
KeyFactory = Callable[[int], Signer]


@dataclass(frozen=True, slots=True, kw_only=True)
class SimResult:
    options: SimOptions
    violations: tuple[Violation, ...]
    trace_hash: str
    events: int
    time_ms: int
    heights: tuple[int, ...]

    @property
    def ok(self) -> bool:
        return not self.violations


class Cluster:
    def __init__(
        self,
        options: SimOptions,
        rng: random.Random,
        *,
        key_factory: KeyFactory | None = None,
        verifier: Verifier | None = None,
    ) -> None:
        self.options = options
        self.rng = rng
        self.network = SimNetwork.from_options(rng, options)
        self.queue: list[tuple[int, int, int, int, object]] = []
        self.sequence = 0
        self.now_ms = 0
        self.trace = hashlib.blake2b(digest_size=16)
        ring = KeyRing()
        if key_factory is None:
            key_factory = self._mac_factory(ring)
        self.verifier: Verifier = verifier if verifier is not None else ring
        self.nodes = self._make_nodes(key_factory)
        self.by_key: dict[bytes, list[SimNode]] = {}
        for node in self.nodes:
            self.by_key.setdefault(node.public_key, []).append(node)
        self.plan = self._reconfig_plan()
        byzantine_keys = frozenset(
            self.nodes[index].public_key for index in options.byzantine_indices
        )
        self.checkers = Checkers(
            chain_id=CHAIN_ID,
            verifier=self.verifier,
            validator_sets={0: self.genesis_validators},
            byzantine_keys=byzantine_keys,
        )
        self.liveness_start: dict[int, int] | None = None
        self.events = 0
        self.signed_votes: list[tuple[int, int, bytes]] = []
        self.boundary_crashes = list(options.boundary_crashes)  # those not struck yet

    def _mac_factory(self, ring: KeyRing) -> KeyFactory:
        seed = self.options.seed

        def factory(index: int) -> Signer:
            secret = secret_for(seed, index)
            ring.add(secret)
            return MacSigner(secret)

        return factory

    def _make_nodes(self, key_factory: KeyFactory) -> list[SimNode]:
        options = self.options
        key_count = options.validators + options.observers
        signers = [key_factory(index) for index in range(key_count)]
        self.genesis_validators = ValidatorSet(
            epoch=0,
            public_keys=tuple(signer.public_key() for signer in signers[: options.validators]),
        )
        behaviours = dict(options.byzantine)
        owners = list(range(key_count)) + list(options.twins)
        config = EngineConfig(
            chain_id=CHAIN_ID,
            timeout_base_ms=options.timeout_base_ms,
            timeout_backoff_exponent_max=options.backoff_exponent_max,
        )
        root = genesis_root(genesis_block(), self.genesis_validators)
        nodes = []
        for node_id, owner in enumerate(owners):
            signer = RecordingSigner(signers[owner], node_id, self._on_sign)
            nodes.append(
                SimNode(
                    node_id=node_id,
                    signer=signer,
                    behaviour=behaviours.get(owner),
                    durable=Durable(safety=None, root=root),
                    config=config,
                    verifier=self.verifier,
                )
            )
        return nodes

    def _reconfig_plan(self) -> ReconfigPlan | None:
        plan = None
        for reconfig in reversed(self.options.reconfigs):
            keys = tuple(self.nodes[node_id].public_key for node_id in reconfig.validators)
            plan = ReconfigPlan(
                height=reconfig.height,
                activation_height=reconfig.activation_height,
                public_keys=keys,
                then=plan,
            )
        return plan

    # ----------------------------------------------------------------------------- loop

    def _push(self, time_ms: int, kind: int, node_id: int, payload: object) -> None:
        self.sequence += 1
        heapq.heappush(self.queue, (time_ms, self.sequence, kind, node_id, payload))

    def run(self) -> SimResult:
        options = self.options
        logger.info("sim %s", options.describe())
        self.trace.update(options.describe().encode())
        for node in self.nodes:
            self._push(0, RESTART, node.node_id, None)
        for crash in options.crashes:
            self._push(crash.at_ms, CRASH, crash.node, crash.actions_kept)
            self._push(crash.at_ms + crash.down_ms, RESTART, crash.node, None)
        self._push(options.safety_ms, STABILISE, -1, None)
        deadline_ms = options.safety_ms + options.liveness_ms
        while self.queue and not self.checkers.violations:
            time_ms, _, kind, node_id, payload = heapq.heappop(self.queue)
            if time_ms > deadline_ms or self._liveness_reached():
                break
            self.now_ms = time_ms
            self.events += 1
            if self.events > EVENTS_MAX:
                self.checkers.fail("CONS-SIM-1", time_ms, -1, "event budget exhausted")
                break
            self._handle(kind, node_id, payload)
        self._finish(deadline_ms)
        return SimResult(
            options=options,
            violations=tuple(self.checkers.violations),
            trace_hash=self.trace.hexdigest(),
            events=self.events,
            time_ms=self.now_ms,
            heights=tuple(node.tip_height for node in self.nodes),
        )

    def _finish(self, deadline_ms: int) -> None:
        if self.checkers.violations or self.liveness_start is None:
            return
        if len(self.checkers.byzantine_keys) > self.options.faults_max:
            return  # beyond the fault model nothing is promised about liveness
        if not self._liveness_reached():
            self.checkers.check_liveness(
                deadline_ms, self.liveness_start, self.options.liveness_blocks
            )

    def _liveness_reached(self) -> bool:
        start = self.liveness_start
        if start is None:
            return False
        blocks = self.options.liveness_blocks
        return all(
            self.nodes[node_id].tip_height >= height + blocks for node_id, height in start.items()
        )

    def _handle(self, kind: int, node_id: int, payload: object) -> None:
        if kind == STABILISE:
            self._stabilise()
            return
        node = self.nodes[node_id]
        node.durable.flush(self.now_ms)  # the ledger writes due by now are done
        if kind == RESTART:
            if node.engine is None:
                self.trace.update(b"R%d@%d" % (node_id, self.now_ms))
                node.boot()
                self._step(node, Start())
            return
        if kind == CRASH:
            if node.engine is not None:
                assert isinstance(payload, int)
                node.crash_budget = payload
            return
        if node.engine is None:
            return  # a down node loses what reaches it
        assert isinstance(payload, Received | TimerFired | BlockValidated | ProposalBuilt)
        if kind == TIMER and isinstance(payload, TimerFired) and payload.round != node.engine.round:
            return  # stale timer: skip the step entirely (it would be a no-op)
        self._step(node, payload)
        if node.behaviour == Behaviour.VOTE_ALL and isinstance(payload, Received):
            self._vote_regardless(node, payload.message)

    def _stabilise(self) -> None:
        self.trace.update(b"S%d" % self.now_ms)
        self.network.stabilise(STABLE_DELAY_MAX_MS)
        for node in self.nodes:
            if node.engine is None:
                node.boot()
                self._step(node, Start())
            node.crash_budget = None
        self.liveness_start = {node.node_id: node.tip_height for node in self.nodes if node.honest}

    # ----------------------------------------------------------------------------- steps

    def _step(self, node: SimNode, event: Event) -> None:
        engine = node.engine
        assert engine is not None
        self.signed_votes.clear()
        actions = engine.step(event)
        budget = node.crash_budget
        if budget is None:
            budget = self._boundary_crash(node, actions)
        if budget is not None:
            actions = actions[:budget]
        for action in actions:
            self._carry_out(node, action)
        self._release_votes(node)
        if budget is not None:
            self.trace.update(b"C%d@%d" % (node.node_id, self.now_ms))
            node.crash(self.now_ms)
            self.checkers.on_restart(node.node_id, node.durable.root.block)

    def _boundary_crash(self, node: SimNode, actions: list[act.Action]) -> int | None:
        """The actions to carry out before a boundary crash this step triggers, if any (and
        its restart scheduled); safety phase only."""
        if self.liveness_start is not None:
            return None
        for crash in self.boundary_crashes:
            if crash.node != node.node_id:
                continue
            position = next(
                (i for i, action in enumerate(actions) if _triggers(crash, action)), None
            )
            if position is not None:
                self.boundary_crashes.remove(crash)
                self._push(self.now_ms + crash.down_ms, RESTART, node.node_id, None)
                return position + crash.actions_kept
        return None

    def _release_votes(self, node: SimNode) -> None:
        """Votes signed in this step count as cast once their persist is durable (a crash
        before it means they never left the node); conservative: counted even if unsent."""
        safety = node.durable.safety
        engine = node.engine
        for epoch, round_number, block_hash in self.signed_votes:
            if safety is None or (safety.epoch, safety.last_voted_round) < (epoch, round_number):
                continue
            self.checkers.on_vote(
                self.now_ms, node.node_id, node.public_key, epoch, round_number, block_hash
            )
            # The voted block's proposal; gone only if an epoch change in this very step
            # replaced the tree, and then the rule is not checked for that vote.
            voted = engine.tree.get(block_hash) if engine is not None else None
            if voted is not None and voted.proposal is not None and voted.round == round_number:
                self.checkers.on_vote_rule(
                    self.now_ms, node.node_id, node.public_key, epoch, voted.proposal
                )
        self.signed_votes.clear()

    def _carry_out(self, node: SimNode, action: act.Action) -> None:
        if isinstance(action, act.Send):
            self._send(node, action.message, self.by_key.get(action.to, []))
        elif isinstance(action, act.Broadcast):
            self._send(node, action.message, self.nodes)
        elif isinstance(action, act.SetTimer):
            timer = TimerFired(epoch=action.epoch, round=action.round)
            self._push(self.now_ms + action.delay_ms, TIMER, node.node_id, timer)
        elif isinstance(action, act.PersistSafetyState):
            if node.honest:
                self.checkers.on_persist(
                    self.now_ms, node.node_id, node.durable.safety, action.state
                )
            node.durable.safety = action.state
        elif isinstance(action, act.ValidateBlock):
            valid, change = validate_block(action.block)
            answer = BlockValidated(block_hash=action.block.block_hash, valid=valid, change=change)
            self._push(self._app_time(), APP, node.node_id, answer)
        elif isinstance(action, act.BuildProposal):
            block, change = build_block(
                action.height,
                action.parent_hash,
                action.round,
                node.node_id,
                self.plan,
                node.incarnation,
            )
            built = ProposalBuilt(
                epoch=action.epoch, round=action.round, block=block, change=change
            )
            self._push(self._app_time(), APP, node.node_id, built)
        elif isinstance(action, act.Commit):
            self._commit(node, action)
        elif isinstance(action, act.RecordEvidence) and node.honest:
            self.checkers.on_evidence(self.now_ms, node.node_id, action.evidence)

    def _app_time(self) -> int:
        return self.now_ms + self.rng.randint(0, self.options.app_delay_max_ms)

    def _commit(self, node: SimNode, commit: act.Commit) -> None:
        _, change = validate_block(commit.block)
        lag_ms = self.options.commit_lag_ms
        node.durable.stage(self.now_ms + lag_ms, commit, change)
        if not lag_ms or (commit.next_validators is not None and self.options.epoch_barrier):
            node.durable.flush()  # with the barrier, the epoch's last block is durable at once
        node.tip_height = commit.block.height
        self.trace.update(
            b"K%d:%d:" % (node.node_id, commit.block.height) + commit.block.block_hash
        )
        if node.honest:
            self.checkers.on_commit(self.now_ms, node.node_id, commit)

    def _on_sign(self, node_id: int, message: bytes) -> None:
        node = self.nodes[node_id]
        if node.honest:
            persisted = node.durable.safety
            epoch = statement_epoch(message)
            self.checkers.on_signature(self.now_ms, node_id, epoch, persisted)
        statement = decode_vote_statement(message)
        if statement is not None:
            self.signed_votes.append(statement)

    # ----------------------------------------------------------------------------- network

    def _send(self, node: SimNode, message: Message, targets: list[SimNode]) -> None:
        if isinstance(message, Vote) and node.honest:
            safety = node.durable.safety
            if safety is None or (safety.epoch, safety.last_voted_round) < (
                message.epoch,
                message.round,
            ):
                self.checkers.fail(
                    "CONS-SAFETY-6", self.now_ms, node.node_id, "vote sent before persisted"
                )
        if isinstance(message, Proposal) and node.honest:
            self._eclipse_before_fork(node, message)
        behaviour = node.behaviour
        if behaviour == Behaviour.SILENT:
            return
        messages = [(message, targets)]
        if behaviour == Behaviour.EQUIVOCATE and isinstance(message, Proposal):
            messages = self._equivocate(node, message, targets)
        elif behaviour == Behaviour.BAD_SIGNATURES and self.rng.random() < 0.5:
            messages = [(corrupt(message), targets)]
        elif behaviour == Behaviour.FUTURE_SPAM and isinstance(message, Timeout | Proposal):
            engine = node.engine
            assert engine is not None
            spam = future_spam(engine, node.signer, self.rng, CHAIN_ID)
            messages += [(item, self.nodes) for item in spam]
        elif behaviour in (Behaviour.FORK, Behaviour.WRONG_PARENT):
            messages = [(self._forge(node, message), targets)]
        self._transmit(node, messages)

    def _transmit(self, node: SimNode, messages: list[tuple[Message, list[SimNode]]]) -> None:
        sender = node.public_key
        for item, receivers in messages:
            tag = type(item).__name__[0].encode()
            for target in receivers:
                if target is node:
                    continue
                for arrival in self.network.arrival_times(
                    self.now_ms, node.node_id, target.node_id
                ):
                    self.trace.update(b"%s%d>%d@%d" % (tag, node.node_id, target.node_id, arrival))
                    event = Received(sender=sender, message=item)
                    self._push(arrival, DELIVER, target.node_id, event)

    def _equivocate(
        self, node: SimNode, proposal: Proposal, targets: list[SimNode]
    ) -> list[tuple[Message, list[SimNode]]]:
        other = equivocating_twin(node.node_id, node.signer, proposal, CHAIN_ID, self.plan)
        if other is None:
            return [(proposal, targets)]
        half = [target for target in targets if self.rng.random() < 0.5]
        rest = [target for target in targets if target not in half]
        return [(proposal, half), (other, rest)]

    def _forge(self, node: SimNode, message: Message) -> Message:
        """A `fork` or `wrong-parent` leader's replacement for its engine's proposal, and its
        own vote for the forged block instead of the engine's vote for the original."""
        engine = node.engine
        assert engine is not None
        if isinstance(message, Vote):
            forged = node.forged_proposal
            if forged is None or (forged.epoch, forged.round) != (message.epoch, message.round):
                return message
            return vote_for(engine, node.signer, forged) or message
        if not isinstance(message, Proposal):
            return message
        if node.behaviour == Behaviour.FORK:
            forged = fork_proposal(engine, node.signer, message, self.rng, self.plan)
        elif self.rng.random() < WRONG_PARENT_SHARE:
            forged = wrong_parent_proposal(engine, node.signer, message, self.rng, self.plan)
        else:
            forged = None
        if forged is None:
            return message
        self.trace.update(b"F%d:" % node.node_id + forged.block.block_hash)
        node.forged_proposal = forged
        return forged

    def _eclipse_before_fork(self, node: SimNode, proposal: Proposal) -> None:
        """The network as a fork leader's ally (safety phase only): as the honest leader of
        the round before a fork leader's sends its proposal, sometimes cut it off for a while.
        It may just have finalised a block nobody else knows is final; its round then times
        out and the fork leader, proposing after the timeout, can try to fork that block away
        (the voting rule is what stops it)."""
        engine = node.engine
        if engine is None or self.liveness_start is not None:
            return
        validators = engine.validators
        next_leader = validators.public_keys[validators.leader(proposal.round + 1)]
        allies = self.by_key.get(next_leader, [])
        if not any(ally.behaviour == Behaviour.FORK for ally in allies):
            return
        if self.rng.random() < ECLIPSE_SHARE:
            until_ms = self.now_ms + self.rng.randint(ECLIPSE_MS_MIN, ECLIPSE_MS_MAX)
            self.network.eclipse(node.node_id, until_ms)
            self.trace.update(b"E%d@%d-%d" % (node.node_id, self.now_ms, until_ms))

    def _vote_regardless(self, node: SimNode, message: Message) -> None:
        """A `vote-all` validator votes for every proposal it receives, besides what its
        engine does; the vote goes where an honest one would, to the next round's leader."""
        engine = node.engine
        if engine is None or not isinstance(message, Proposal):
            return
        vote = vote_for(engine, node.signer, message)
        if vote is None:
            return
        leader = engine.validators.public_keys[engine.validators.leader(vote.round + 1)]
        self._transmit(node, [(vote, self.by_key.get(leader, []))])


def _triggers(crash: BoundaryCrash, action: act.Action) -> bool:
    if crash.boundary == Boundary.EPOCH_END:
        return (
            isinstance(action, act.Commit)
            and action.next_validators is not None
            and action.next_validators.epoch == crash.epoch
        )
    return isinstance(action, act.PersistSafetyState) and action.state.epoch == crash.epoch


def run_scenario(
    seed: int,
    *,
    nodes: int | None = None,
    byzantine: int | None = None,
    behaviours: tuple[Behaviour, ...] = (),
    epoch_faults: bool = True,
    reconfig: bool = False,
    options: SimOptions | None = None,
    key_factory: KeyFactory | None = None,
    verifier: Verifier | None = None,
) -> SimResult:
    """Run one seeded scenario; options are drawn from the same PRNG unless given."""
    rng = random.Random(seed)
    if options is None:
        options = draw_options(
            rng,
            seed,
            nodes=nodes,
            byzantine=byzantine,
            behaviours=behaviours,
            epoch_faults=epoch_faults,
            reconfig=reconfig,
        )
    cluster = Cluster(options, rng, key_factory=key_factory, verifier=verifier)
    return cluster.run()
