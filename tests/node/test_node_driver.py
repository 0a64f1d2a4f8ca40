"""The consensus driver in-process: four drivers over a fake transport and a fake
application (the simulator's deterministic blocks), no sockets, no disk."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from gongshi.consensus import (
    BlockValidated,
    BuildProposal,
    Commit,
    EngineConfig,
    Message,
    ProposalBuilt,
    RecordEvidence,
    SafetyState,
    ValidateBlock,
    ValidatorSet,
    Vote,
    genesis_root,
    root_after_commit,
)
from gongshi.consensus.sim.app import ReconfigPlan, build_block, genesis_block, validate_block
from gongshi.consensus.sim.keys import KeyRing, MacSigner, secret_for
from gongshi.node.driver import (
    CONTRACT_INTERPRETER,
    Driver,
    refuse_optimised_run,
    refuse_other_interpreter,
)
from gongshi.node.errors import OptimisedRun, UnsupportedInterpreter
from gongshi.node.wire import (
    decode_consensus,
    decode_safety_state,
    encode_consensus,
    encode_safety_state,
)

CHAIN_ID = b"driver-test"
NODES = 4
TIMEOUT_S = 30.0


@dataclass
class Journal:
    """Everything the nodes did, in order: ("save", node, state) and ("send", node, msg)."""

    entries: list[tuple[str, int, object]] = field(default_factory=list)


@dataclass
class FakeApp:
    node: int
    commits: list[bytes] = field(default_factory=list)
    actions: list[Commit] = field(default_factory=list)
    built: int = 0

    async def build_proposal(self, action: BuildProposal) -> ProposalBuilt:
        await asyncio.sleep(0.001)
        block, change = build_block(
            action.height, action.parent_hash, action.round, action.proposer, None
        )
        self.built += 1
        return ProposalBuilt(epoch=action.epoch, round=action.round, block=block, change=change)

    async def validate_block(self, action: ValidateBlock) -> BlockValidated:
        await asyncio.sleep(0)
        valid, change = validate_block(action.block)
        return BlockValidated(block_hash=action.block.block_hash, valid=valid, change=change)

    def commit(self, action: Commit) -> None:
        self.commits.append(action.block.block_hash)
        self.actions.append(action)

    def record_evidence(self, action: RecordEvidence) -> None:
        raise AssertionError("no equivocation among honest fakes")


@dataclass
class Mesh:
    """Delivers each node's messages to the others' drivers (optionally cutting one off)."""

    journal: Journal
    drivers: dict[bytes, Driver] = field(default_factory=dict)
    isolated: set[bytes] = field(default_factory=set)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def deliver(self, sender: bytes, to: bytes, message: Message) -> None:
        if sender in self.isolated or to in self.isolated:
            return
        task = asyncio.ensure_future(self.drivers[to].received(sender, message))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


@dataclass
class NodeTransport:
    mesh: Mesh
    key: bytes
    index: int

    def send(self, to: bytes, message: Message) -> None:
        self.mesh.journal.entries.append(("send", self.index, message))
        self.mesh.deliver(self.key, to, message)

    def broadcast(self, message: Message) -> None:
        self.mesh.journal.entries.append(("send", self.index, message))
        for key in self.mesh.drivers:
            if key != self.key:
                self.mesh.deliver(self.key, key, message)


@dataclass
class JournalSink:
    journal: Journal
    index: int
    saved: SafetyState | None = None

    def save(self, state: SafetyState) -> None:
        self.journal.entries.append(("save", self.index, state))
        self.saved = state


async def immediate(write: object) -> None:
    write()  # type: ignore[operator]


def build_cluster(timeout_ms: int = 200) -> tuple[Mesh, list[FakeApp], list[JournalSink]]:
    ring = KeyRing()
    secrets = [secret_for(7, index) for index in range(NODES)]
    keys = [ring.add(secret) for secret in secrets]
    validators = ValidatorSet(epoch=0, public_keys=tuple(keys))
    root = genesis_root(genesis_block(), validators)
    journal = Journal()
    mesh = Mesh(journal)
    apps = [FakeApp(index) for index in range(NODES)]
    sinks = [JournalSink(journal, index) for index in range(NODES)]
    for index, secret in enumerate(secrets):
        mesh.drivers[keys[index]] = Driver(
            config=EngineConfig(chain_id=CHAIN_ID, timeout_base_ms=timeout_ms),
            signer=MacSigner(secret),
            verifier=ring,
            root=root,
            safety=None,
            application=apps[index],
            transport=NodeTransport(mesh, keys[index], index),
            safety_sink=sinks[index],
            persist=immediate,
        )
    return mesh, apps, sinks


async def run_until(mesh: Mesh, done: object, timeout_s: float = TIMEOUT_S) -> None:
    runners = [asyncio.ensure_future(driver.run()) for driver in mesh.drivers.values()]
    try:
        async with asyncio.timeout(timeout_s):
            while not done():  # type: ignore[operator]
                await asyncio.sleep(0.01)
                for runner in runners:
                    if runner.done():
                        runner.result()  # a driver bug surfaces here
    finally:
        for runner in runners:
            runner.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
        for driver in mesh.drivers.values():
            await driver.drain()
        for task in list(mesh.tasks):
            task.cancel()
        await asyncio.gather(*mesh.tasks, return_exceptions=True)


def test_four_drivers_commit_the_same_chain() -> None:
    mesh, apps, _ = build_cluster()
    asyncio.run(run_until(mesh, lambda: min(len(app.commits) for app in apps) >= 8))
    shortest = min(len(app.commits) for app in apps)
    reference = apps[0].commits[:shortest]
    assert all(app.commits[:shortest] == reference for app in apps)
    assert len(set(reference)) == shortest  # no block committed twice
    assert sum(app.built for app in apps) >= shortest


def test_votes_leave_only_after_their_safety_state_is_saved() -> None:
    mesh, apps, _ = build_cluster()
    asyncio.run(run_until(mesh, lambda: min(len(app.commits) for app in apps) >= 4))
    saved_round = dict.fromkeys(range(NODES), 0)
    votes = 0
    for kind, node, item in mesh.journal.entries:
        if kind == "save":
            assert isinstance(item, SafetyState)
            saved_round[node] = item.last_voted_round
        elif isinstance(item, Vote):
            votes += 1
            assert item.round <= saved_round[node], f"node {node} sent an unsaved vote"
    assert votes > 0


def test_three_drivers_keep_committing_while_one_is_cut_off() -> None:
    mesh, apps, _ = build_cluster(timeout_ms=100)
    cut = list(mesh.drivers)[3]
    mesh.isolated.add(cut)
    asyncio.run(run_until(mesh, lambda: min(len(app.commits) for app in apps[:3]) >= 5))
    assert apps[3].commits == []


def test_reroot_moves_the_engine_to_a_later_root() -> None:
    mesh, apps, _ = build_cluster()
    asyncio.run(run_until(mesh, lambda: min(len(app.commits) for app in apps) >= 3))
    first = next(iter(mesh.drivers.values()))
    root = genesis_root(genesis_block(), first.engine.validators)
    for action in apps[0].actions:
        root = root_after_commit(root, action, None)
    # A fresh driver at genesis (a node that slept) learns the later root from block sync.
    fresh_mesh, _, _ = build_cluster()
    fresh = next(iter(fresh_mesh.drivers.values()))
    fresh_mesh.isolated.update(fresh_mesh.drivers)

    async def scenario() -> None:
        runner = asyncio.ensure_future(fresh.run())
        await asyncio.sleep(0.01)
        fresh.reroot(root)
        fresh.reroot(genesis_root(genesis_block(), first.engine.validators))  # stale: ignored
        async with asyncio.timeout(TIMEOUT_S):
            while fresh.counters.steps < 3:
                await asyncio.sleep(0.01)
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await fresh.drain()

    asyncio.run(scenario())
    assert fresh.engine.committed_height == root.block.height >= 3
    assert fresh.counters.reroots == 1


def test_refuses_python_optimise() -> None:
    refuse_optimised_run(0)
    with pytest.raises(OptimisedRun):
        refuse_optimised_run(1)


def test_refuses_another_python_minor_version() -> None:
    refuse_other_interpreter(CONTRACT_INTERPRETER)
    with pytest.raises(UnsupportedInterpreter, match=r"Python 3\.12"):
        refuse_other_interpreter((3, 12))


def test_every_message_the_drivers_sent_round_trips_through_the_wire() -> None:
    mesh, apps, _ = build_cluster()
    asyncio.run(run_until(mesh, lambda: min(len(app.commits) for app in apps) >= 3))
    kinds = set()
    for kind, _, item in mesh.journal.entries:
        if kind == "send":
            body = encode_consensus(item)  # type: ignore[arg-type]
            assert decode_consensus(body) == item
            kinds.add(type(item).__name__)
        else:
            assert isinstance(item, SafetyState)
            assert decode_safety_state(encode_safety_state(item)) == item
    assert {"Proposal", "Vote"} <= kinds


@dataclass
class SlowCommitApp(FakeApp):
    """Announces a validator-set change at height 2 (same keys, from height 4) and makes
    every commit durable only a little later, journaled as ("durable", node, height)."""

    journal: Journal = field(default_factory=Journal)
    keys: tuple[bytes, ...] = ()

    async def build_proposal(self, action: BuildProposal) -> ProposalBuilt:
        await asyncio.sleep(0.001)
        plan = ReconfigPlan(height=2, activation_height=4, public_keys=self.keys)
        block, change = build_block(
            action.height, action.parent_hash, action.round, action.proposer, plan
        )
        return ProposalBuilt(epoch=action.epoch, round=action.round, block=block, change=change)

    def commit(self, action: Commit) -> asyncio.Future[None]:
        super().commit(action)
        durable: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def done() -> None:
            self.journal.entries.append(("durable", self.node, action.block.height))
            durable.set_result(None)

        asyncio.get_running_loop().call_later(0.02, done)
        return durable


def test_the_last_block_of_an_epoch_is_durable_before_any_vote_of_the_next() -> None:
    mesh, _, _ = build_cluster()
    keys = tuple(mesh.drivers)
    slow = [SlowCommitApp(index, journal=mesh.journal, keys=keys) for index in range(NODES)]
    for index, driver in enumerate(mesh.drivers.values()):
        driver._application = slow[index]
    asyncio.run(run_until(mesh, lambda: min(len(app.commits) for app in slow) >= 6))
    assert all(app.actions[2].next_validators is not None for app in slow)  # height 3 ends it
    for node in range(NODES):
        entries = [(kind, item) for kind, n, item in mesh.journal.entries if n == node]
        durable_at = entries.index(("durable", 3))
        later_epoch = [
            index
            for index, (kind, item) in enumerate(entries)
            if (kind == "save" and isinstance(item, SafetyState) and item.epoch == 1)
            or (isinstance(item, Vote) and item.epoch == 1)
        ]
        assert later_epoch and min(later_epoch) > durable_at, f"node {node} voted too early"
