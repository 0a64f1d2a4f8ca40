"""The consensus driver: the only asyncio code that touches the engine.

One task takes events one at a time (internal ones first: timers and the application's
answers, then peers' messages from a bounded queue), calls `Engine.step` and carries out the
returned actions in order. A `PersistSafetyState` is awaited (fsync) before any later action
of the same step runs, so no vote or timeout leaves before the state covering it is durable.
Building and validating blocks run as tasks whose answers come back as events; commits are
handed to the application in order, synchronously; the last block of an epoch is awaited
until durable before anything that follows it.

After block sync committed past the engine's root, `reroot` replaces the engine with one
rooted at the ledger's head (keeping the safety state); answers of tasks started for the old
engine are dropped by generation.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from gongshi.consensus import (
    Action,
    BlockValidated,
    Broadcast,
    BuildProposal,
    Commit,
    CommittedRoot,
    Engine,
    EngineConfig,
    Event,
    Message,
    PersistSafetyState,
    ProposalBuilt,
    Received,
    RecordEvidence,
    SafetyState,
    Send,
    SetTimer,
    Signer,
    Start,
    TimerFired,
    ValidateBlock,
    Verifier,
)
from gongshi.consensus.messages import Timeout
from gongshi.node.errors import OptimisedRun, UnsupportedInterpreter

logger = logging.getLogger(__name__)

INBOUND_EVENTS_MAX = 4096
TASKS_MAX = 256  # outstanding build/validate tasks; more means the engine asks too much


class Application(Protocol):
    """What the driver needs from the node's application (real: `NodeApplication`)."""

    async def build_proposal(self, action: BuildProposal) -> ProposalBuilt: ...

    async def validate_block(self, action: ValidateBlock) -> BlockValidated: ...

    def commit(self, action: Commit) -> Awaitable[object] | None:
        """Apply `action` after every commit handed over before it (may finish later; the
        answer, if any, completes once the block is durable)."""

    def record_evidence(self, action: RecordEvidence) -> None: ...


class Transport(Protocol):
    def send(self, to: bytes, message: Message) -> None: ...

    def broadcast(self, message: Message) -> None: ...


class SafetySink(Protocol):
    def save(self, state: SafetyState) -> None: ...


@dataclass(slots=True)
class DriverCounters:
    """What the driver counts for metrics."""

    steps: int = 0
    local_timeouts: int = 0  # rounds this node gave up on (a timeout it broadcast)
    view_changes: int = 0  # rounds entered through a timeout certificate
    reroots: int = 0
    dropped_answers: int = 0


def refuse_optimised_run(optimize_flag: int) -> None:
    """The engine's assertions are part of its safety: `python -O` would strip them."""
    if optimize_flag:
        raise OptimisedRun("refusing to run consensus under python -O (assertions are required)")


# Contract source is parsed and tokenized by the interpreter: which uploads are accepted,
# and the text of their rejections (hashed into receipts), differ between minor versions
# (3.12's f-string tokens, for one), so every node of a chain runs the same one.
CONTRACT_INTERPRETER = (3, 11)


def refuse_other_interpreter(version: tuple[int, int]) -> None:
    if version != CONTRACT_INTERPRETER:
        wanted = ".".join(map(str, CONTRACT_INTERPRETER))
        raise UnsupportedInterpreter(
            f"this node runs Python {version[0]}.{version[1]}; Gongshi nodes run Python "
            f"{wanted}, so that every node accepts and executes the same contracts"
        )


class Driver:
    """Feeds events to one engine and carries out its actions."""

    def __init__(
        self,
        *,
        config: EngineConfig,
        signer: Signer,
        verifier: Verifier,
        root: CommittedRoot,
        safety: SafetyState | None,
        application: Application,
        transport: Transport,
        safety_sink: SafetySink,
        persist: Callable[[Callable[[], None]], Awaitable[None]] | None = None,
    ) -> None:
        self._config = config
        self._signer = signer
        self._verifier = verifier
        self.engine = Engine(config, signer, verifier, root, safety)
        self._application = application
        self._transport = transport
        self._safety_sink = safety_sink
        # How a durable write is awaited (default: in a thread, so the loop keeps running).
        self._persist = persist or _in_thread
        self._internal: deque[tuple[int, Event] | CommittedRoot] = deque()
        self._inbound: asyncio.Queue[Received] = asyncio.Queue(INBOUND_EVENTS_MAX)
        self._wake = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._generation = 0
        self.counters = DriverCounters()
        self.failure: BaseException | None = None

    def set_config(self, config: EngineConfig) -> None:
        """Round timeouts governance changed: used from the engine's next timer on (timers
        are liveness, not safety, so nodes may switch at slightly different moments)."""
        self._config = config
        self.engine.config = config

    # --- inputs -----------------------------------------------------------------------------

    async def received(self, sender: bytes, message: Message) -> None:
        """A peer's message (waits while the bounded queue is full: back-pressure)."""
        await self._inbound.put(Received(sender=sender, message=message))
        self._wake.set()

    def reroot(self, root: CommittedRoot) -> None:
        """Continue from `root` (block sync committed past the engine's tree)."""
        self._internal.append(root)
        self._wake.set()

    def _post(self, generation: int, event: Event) -> None:
        self._internal.append((generation, event))
        self._wake.set()

    # --- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Process events until cancelled. Any exception here is a bug: it ends the node."""
        try:
            await self._step(Start())
            while True:
                item = await self._next()
                if isinstance(item, CommittedRoot):
                    await self._reroot(item)
                elif isinstance(item, Received):
                    await self._step(item)
                elif item[0] == self._generation:
                    await self._step(item[1])
                else:
                    self.counters.dropped_answers += 1
        finally:
            self._stop_tasks()

    async def _next(self) -> tuple[int, Event] | CommittedRoot | Received:
        while True:
            if self._internal:
                return self._internal.popleft()
            if not self._inbound.empty():
                return self._inbound.get_nowait()
            self._wake.clear()
            await self._wake.wait()

    async def _reroot(self, root: CommittedRoot) -> None:
        if root.block.height <= self.engine.committed_height:
            return
        safety = self.engine.safety_state()
        self._generation += 1
        self.counters.reroots += 1
        logger.info("consensus rerooted height=%d round=%d", root.block.height, self.engine.round)
        self.engine = Engine(self._config, self._signer, self._verifier, root, safety)
        await self._step(Start())

    async def _step(self, event: Event) -> None:
        self.counters.steps += 1
        round_before = self.engine.round
        actions = self.engine.step(event)
        for action in actions:
            await self._carry_out(action)
        if self.engine.round > round_before and self.engine.consecutive_timeouts > 0:
            self.counters.view_changes += 1

    async def _carry_out(self, action: Action) -> None:
        if isinstance(action, PersistSafetyState):
            state = action.state
            await self._persist(lambda: self._safety_sink.save(state))
        elif isinstance(action, Send):
            self._transport.send(action.to, action.message)
        elif isinstance(action, Broadcast):
            if isinstance(action.message, Timeout):
                self.counters.local_timeouts += 1
            self._transport.broadcast(action.message)
        elif isinstance(action, SetTimer):
            self._set_timer(action)
        elif isinstance(action, ValidateBlock):
            self._spawn(self._application.validate_block(action))
        elif isinstance(action, BuildProposal):
            self._spawn(self._application.build_proposal(action))
        elif isinstance(action, Commit):
            durable = self._application.commit(action)
            if action.next_validators is not None and durable is not None:
                # The epoch's last block is made durable before this node votes in the next
                # epoch, so a restart resumes in the epoch of its safety state instead of
                # fenced behind it (CONS-SAFETY-8 keeps it safe either way: this is liveness).
                await asyncio.wait([asyncio.ensure_future(durable)])
        else:
            self._application.record_evidence(action)

    def _set_timer(self, action: SetTimer) -> None:
        # Only the latest timer matters: the engine ignores timers of rounds it has left.
        if self._timer is not None:
            self._timer.cancel()
        generation = self._generation
        event = TimerFired(epoch=action.epoch, round=action.round)
        self._timer = asyncio.get_running_loop().call_later(
            action.delay_ms / 1000, self._post, generation, event
        )

    def _spawn(self, answer: Awaitable[ProposalBuilt | BlockValidated]) -> None:
        if len(self._tasks) >= TASKS_MAX:
            logger.error("too many outstanding block tasks; dropping one")
            self.counters.dropped_answers += 1
            if asyncio.iscoroutine(answer):
                answer.close()
            return
        generation = self._generation

        async def deliver() -> None:
            event = await answer
            self._post(generation, event)

        task = asyncio.ensure_future(deliver())
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        logger.critical("block task failed", exc_info=task.exception())
        if self.failure is None:
            self.failure = task.exception()

    def _stop_tasks(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for task in list(self._tasks):
            task.cancel()

    async def drain(self) -> None:
        """Wait for cancelled tasks to finish (after `run` was cancelled)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def _in_thread(write: Callable[[], None]) -> None:
    await asyncio.to_thread(write)
