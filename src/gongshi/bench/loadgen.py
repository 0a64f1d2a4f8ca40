"""The chain benchmark's load generator: a process of its own,
`python -m gongshi.bench.loadgen PLAN.json`, started by `gongshi bench chain`.

For each step it pre-signs `rate × duration` `notary.register` transactions (unique document
hashes) round-robin over every client identity of the network directory, then offers them at
`rate` over the nodes' JSON-RPC APIs (HTTP batches of `tx_send`; sender k always talks to
node k mod n, so each node gets a quarter of the load and a sender's nonces arrive in order).
It shares the cores with the nodes, so it keeps its own CPU low: each call is JSON-encoded once
when signed, and batches go over kept-open connections (`chain_http`).
Receipts are not polled: a `subscribe_blocks` WebSocket per node reports the hashes each block
committed; a transaction's receipt time is when the node it was sent to announced it.

A sender never has more than `sender_window` transactions pending (the mempool's nonce window):
beyond that the transaction waits on this side, so admission is not flooded with refusals.
Refusals that go away (`NonceTooHigh`, `MempoolFull`) are retried; `AlreadyKnown`/`NonceTooLow`
after a resend mean the first attempt went in. Progress goes to stdout as JSON lines; the
result (per-transaction and per-block times of each step) goes to `plan.result_path`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import sys
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from gongshi.api.wire import to_hex
from gongshi.bench.chain_http import JsonRpcHttp
from gongshi.bench.chain_stats import (
    BlockSample,
    TxSample,
    committed_rate,
    latency_stats,
    steady_window,
)
from gongshi.bench.chain_steps import SearchPolicy, StepOutcome, next_rate
from gongshi.bench.errors import LoadGeneratorFailed
from gongshi.codec import encode
from gongshi.crypto import PrivateKey, Suite, get_suite
from gongshi.errors import GongshiError
from gongshi.node.genesis import load_genesis
from gongshi.sdk.core import ws_url
from gongshi.sdk.transactions import build_transaction

logger = logging.getLogger(__name__)

TICK_S = 0.01
PROGRESS_EVERY_S = 0.5
RETRY_AFTER_S = 0.05
SETTLE_MAX_S = 60.0  # between steps: wait this long at most for the previous backlog
HTTP_TIMEOUT_S = 30.0
WS_MESSAGE_BYTES_MAX = 64 << 20
EXPIRY_MARGIN_BLOCKS = 4000
TRANSIENT_REFUSALS = frozenset({"NonceTooHigh", "MempoolFull"})
ALREADY_IN = frozenset({"AlreadyKnown", "NonceTooLow", "NonceAlreadyPending"})

QUEUED, SENDING, ACCEPTED, COMMITTED, FAILED = range(5)


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadPlan:
    """What the benchmark asks of the load generator (written as JSON by the parent)."""

    network_dir: str
    api_urls: tuple[str, ...]
    result_path: str
    rate: float  # the fixed rate, or the first step's rate with `search`
    duration_s: float  # of each step
    drain_s: float  # after a step's load: wait this long at most for its receipts
    search: bool = False
    p99_bound_s: float = 2.0
    growth: float = 1.25
    steps_max: int = 16
    batch_max: int = 100
    batches_in_flight: int = 4  # per node
    sender_window: int = 64
    gas_limit: int = 40_000  # notary.register uses ~25,000; the block gas max counts limits
    run_tag: str = ""

    @classmethod
    def from_json(cls, text: str) -> LoadPlan:
        document = json.loads(text)
        document["api_urls"] = tuple(document["api_urls"])
        return cls(**document)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


@dataclass(slots=True)
class PendingTx:
    sender: int
    node: int
    call: bytes  # its `tx_send` JSON-RPC call, encoded once when signed; id = call_id
    call_id: int  # unique in the run: answers of a batch are matched by it
    hash_hex: str
    step: StepRecord
    state: int = QUEUED
    sent: float | None = None  # first attempt, monotonic
    committed: float | None = None


@dataclass(slots=True)
class StepRecord:
    rate: float
    duration_s: float
    started: float = 0.0  # monotonic
    sign_s: float = 0.0
    txs: list[PendingTx] = field(default_factory=list)
    # height, seen (monotonic), transactions, header timestamp (s)
    blocks: list[tuple[int, float, int, float]] = field(default_factory=list)
    refusals: Counter[str] = field(default_factory=Counter)
    transport_errors: int = 0
    sent_count: int = 0
    closed_count: int = 0  # committed or failed

    @property
    def open_count(self) -> int:
        return len(self.txs) - self.closed_count

    def samples(self) -> tuple[list[TxSample], list[BlockSample]]:
        t0 = self.started
        txs = [
            TxSample(
                submitted=tx.sent - t0,
                committed=None if tx.committed is None else tx.committed - t0,
            )
            for tx in self.txs
            if tx.sent is not None
        ]
        blocks = [
            BlockSample(height=h, seen=seen - t0, tx_count=n, proposed=proposed)
            for h, seen, n, proposed in self.blocks
            if seen >= t0
        ]
        return txs, blocks

    def outcome(self) -> StepOutcome:
        txs, blocks = self.samples()
        window = steady_window(self.duration_s)
        latency = latency_stats(txs, window)
        return StepOutcome(
            rate=self.rate,
            committed_tps=committed_rate(blocks, window),
            p99_s=math.inf if latency is None else latency.p99,
        )

    def to_json(self) -> dict[str, Any]:
        t0 = self.started
        return {
            "rate": self.rate,
            "duration_s": self.duration_s,
            "started_monotonic": t0,
            "sign_s": self.sign_s,
            "txs": [
                [
                    None if tx.sent is None else round(tx.sent - t0, 6),
                    None if tx.committed is None else round(tx.committed - t0, 6),
                ]
                for tx in self.txs
            ],
            "blocks": [[h, round(seen - t0, 6), n, p] for h, seen, n, p in self.blocks],
            "refusals": dict(sorted(self.refusals.items())),
            "failed": sum(1 for tx in self.txs if tx.state == FAILED),
            "transport_errors": self.transport_errors,
        }


def tx_send_call(call_id: int, raw_hex: str) -> bytes:
    """One `tx_send` call of a JSON-RPC batch, as the bytes the batch body joins."""
    call = {"jsonrpc": "2.0", "id": call_id, "method": "tx_send", "params": {"tx": raw_hex}}
    return json.dumps(call, separators=(",", ":")).encode()


def emit(event: str, **fields: Any) -> None:
    """One progress line for the parent process."""
    print(json.dumps({"event": event, **fields}), flush=True)


def client_keys(network_dir: Path, suite: Suite) -> list[PrivateKey]:
    """Every client identity `gongshi init` wrote (`<org>-client` and the extra clients)."""
    paths = sorted(network_dir.glob("orgs/*/client/client.key"))
    extra = network_dir.glob("orgs/*/clients/client*.key")
    paths += sorted(path for path in extra if not path.stem.endswith("-tls"))  # gm TLS keys
    return [suite.load_private_key(path) for path in paths]


class LoadGenerator:
    """Offers the load of a plan; one instance per process, on one event loop."""

    def __init__(self, plan: LoadPlan) -> None:
        directory = Path(plan.network_dir)
        genesis = load_genesis(directory / "genesis.toml")
        self.plan = plan
        self.suite = get_suite(genesis.suite)
        self.chain_id = genesis.params.chain_id
        self.keys = client_keys(directory, self.suite)
        if not self.keys:
            raise SystemExit(f"no client keys under {directory}/orgs")
        self.nonces = [0] * len(self.keys)
        self.in_flight = [0] * len(self.keys)
        self.queues: list[deque[PendingTx]] = [deque() for _ in self.keys]
        self.not_before = [0.0] * len(self.keys)
        self.by_hash: dict[str, PendingTx] = {}
        self.step: StepRecord | None = None
        self.calls_made = 0  # the next `PendingTx.call_id`
        # One kept-open connection per batch in flight, per node.
        self.http = [
            JsonRpcHttp(url, connections_max=plan.batches_in_flight, timeout_s=HTTP_TIMEOUT_S)
            for url in plan.api_urls
        ]
        self.head_height = 0
        self.subscribed = 0
        self.watchers: list[asyncio.Task[None]] = []

    # --- set-up --------------------------------------------------------------------------

    async def call(self, node: int, body: Any) -> Any:
        return await self.http[node].post(json.dumps(body).encode())

    async def read_chain(self) -> None:
        """The head height (for expiry heights) and each sender's next nonce: the committed
        one, after those still pending (a sender's pending nonces follow its committed one)."""
        info = await self.call(0, {"jsonrpc": "2.0", "id": 0, "method": "chain_info"})
        self.head_height = int(info["result"]["height"])
        for first in range(0, len(self.keys), self.plan.batch_max):
            chunk = range(first, min(first + self.plan.batch_max, len(self.keys)))
            body = [
                {
                    "jsonrpc": "2.0",
                    "id": index,
                    "method": "account_nonce",
                    "params": [to_hex(self.keys[index].address())],
                }
                for index in chunk
            ]
            for answer in await self.call(0, body):
                index = int(answer["id"])
                committed = int(answer["result"]["nonce"])
                self.nonces[index] = committed + self.in_flight[index]

    def sign_step(self, step_number: int, rate: float) -> StepRecord:
        plan = self.plan
        record = StepRecord(rate=rate, duration_s=plan.duration_s)
        count = max(1, math.ceil(rate * plan.duration_s))
        started = time.monotonic()
        expiry = self.head_height + EXPIRY_MARGIN_BLOCKS
        nodes = len(plan.api_urls)
        for index in range(count):
            sender = index % len(self.keys)
            document = f"gongshi-bench {plan.run_tag} step {step_number} tx {index}"
            tx = build_transaction(
                self.keys[sender],
                chain_id=self.chain_id,
                nonce=self.nonces[sender],
                target="notary",
                method="register",
                args={"doc_hash": self.suite.hash(document.encode()), "metadata": {}},
                gas_limit=plan.gas_limit,
                expiry_height=expiry,
            )
            self.nonces[sender] += 1
            call_id = self.calls_made
            self.calls_made += 1
            pending = PendingTx(
                sender=sender,
                node=sender % nodes,
                call=tx_send_call(call_id, to_hex(encode(tx))),
                call_id=call_id,
                hash_hex=to_hex(tx.hash(self.suite)),
                step=record,
            )
            record.txs.append(pending)
            self.by_hash[pending.hash_hex] = pending
        record.sign_s = time.monotonic() - started
        return record

    # --- receipts ------------------------------------------------------------------------

    async def watch(self, node: int, ready: asyncio.Event) -> None:
        """Follow node `node`'s committed blocks for the whole run."""
        url = ws_url(self.plan.api_urls[node])
        async with connect(url, max_size=WS_MESSAGE_BYTES_MAX) as socket:
            request = {"jsonrpc": "2.0", "id": 1, "method": "subscribe_blocks"}
            await socket.send(json.dumps(request))
            json.loads(await socket.recv())
            self.subscribed += 1
            if self.subscribed == len(self.plan.api_urls):
                ready.set()
            async for message in socket:
                document = json.loads(message)
                result = document.get("params", {}).get("result")
                if isinstance(result, dict):
                    self.on_block(node, result, time.monotonic())

    def on_block(self, node: int, block: dict[str, Any], seen: float) -> None:
        hashes = block.get("tx_hashes") or []
        height = int(block.get("height", 0))
        self.head_height = max(self.head_height, height)
        if node == 0 and self.step is not None:
            header = block.get("header") or {}
            proposed = int(header.get("timestamp_ms", 0)) / 1000
            self.step.blocks.append((height, seen, len(hashes), proposed))
        for hash_hex in hashes:
            tx = self.by_hash.get(hash_hex)
            if tx is not None and tx.node == node and tx.state in (SENDING, ACCEPTED):
                tx.state = COMMITTED
                tx.committed = seen
                tx.step.closed_count += 1
                self.in_flight[tx.sender] -= 1
                del self.by_hash[hash_hex]

    # --- sending -------------------------------------------------------------------------

    def ready_batches(self, now: float) -> dict[int, list[PendingTx]]:
        """Transactions that may go now (sender under its window), by node."""
        window = self.plan.sender_window
        chosen: dict[int, list[PendingTx]] = {}
        for sender, queue in enumerate(self.queues):
            if not queue or self.not_before[sender] > now:
                continue
            room = window - self.in_flight[sender]
            while queue and room > 0:
                tx = queue.popleft()
                tx.state = SENDING
                if tx.sent is None:
                    tx.sent = now
                    tx.step.sent_count += 1
                self.in_flight[sender] += 1
                room -= 1
                chosen.setdefault(tx.node, []).append(tx)
        return chosen

    async def send_batch(self, node: int, txs: list[PendingTx]) -> None:
        body = b"[" + b",".join([tx.call for tx in txs]) + b"]"
        try:
            answers = await self.http[node].post(body)
        except (OSError, ValueError) as error:
            logger.warning("batch to node %d failed: %s", node, error)
            assert self.step is not None
            self.step.transport_errors += 1
            self.requeue(txs)
            return
        if not isinstance(answers, list):  # the whole batch was refused (an error object)
            answers = [answers] * len(txs)
        by_id = {answer.get("id"): answer for answer in answers if isinstance(answer, dict)}
        retry: list[PendingTx] = []
        for tx in txs:
            self.settle_answer(tx, by_id.get(tx.call_id, by_id.get(None)), retry)
        if retry:
            self.requeue(retry)

    def settle_answer(self, tx: PendingTx, answer: Any, retry: list[PendingTx]) -> None:
        error = answer.get("error") if isinstance(answer, dict) else {"data": {"name": "None"}}
        if error is None or tx.state != SENDING:
            if tx.state == SENDING:
                tx.state = ACCEPTED
            return
        name = str((error.get("data") or {}).get("name", "Unknown"))
        assert self.step is not None
        self.step.refusals[name] += 1
        if name in ALREADY_IN:
            tx.state = ACCEPTED
        elif name in TRANSIENT_REFUSALS:
            retry.append(tx)
        else:
            tx.state = FAILED
            tx.step.closed_count += 1
            self.in_flight[tx.sender] -= 1
            self.by_hash.pop(tx.hash_hex, None)

    def requeue(self, txs: list[PendingTx]) -> None:
        """Back to the front of their senders' queues, in nonce order, after a pause."""
        now = time.monotonic()
        for tx in reversed(txs):
            if tx.state != SENDING:
                continue
            tx.state = QUEUED
            self.in_flight[tx.sender] -= 1
            self.queues[tx.sender].appendleft(tx)
            self.not_before[tx.sender] = now + RETRY_AFTER_S

    async def offer(self, step_number: int, record: StepRecord) -> None:
        """Release the step's transactions at its rate, then wait for their receipts."""
        plan = self.plan
        record.started = start = time.monotonic()
        self.step = record
        released, last_progress = 0, 0.0
        tasks: set[asyncio.Task[None]] = set()
        drain_end = start + plan.duration_s + plan.drain_s
        while True:
            now = time.monotonic()
            due = min(len(record.txs), math.floor(record.rate * (now - start)) + 1)
            for tx in record.txs[released:due]:
                self.queues[tx.sender].append(tx)
            released = max(released, due)
            for node, txs in self.ready_batches(now).items():
                for first in range(0, len(txs), plan.batch_max):
                    task = asyncio.create_task(
                        self.send_batch(node, txs[first : first + plan.batch_max])
                    )
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
            if now - last_progress >= PROGRESS_EVERY_S:
                last_progress = now
                self.progress(step_number, record, now - start)
            if record.open_count == 0 or now > drain_end:
                break
            self.check_watchers()
            await asyncio.sleep(TICK_S)
        self.progress(step_number, record, time.monotonic() - start)

    def check_watchers(self) -> None:
        """Without its block subscriptions the run measures nothing: stop if one ended."""
        for watcher in self.watchers:
            if watcher.done():
                watcher.result()  # raises what ended it
                raise LoadGeneratorFailed("a node closed its block subscription")

    def progress(self, step_number: int, record: StepRecord, elapsed: float) -> None:
        emit(
            "progress",
            step=step_number,
            rate=record.rate,
            elapsed=round(elapsed, 3),
            duration=record.duration_s,
            sent=record.sent_count,
            closed=record.closed_count,
            open=record.open_count,
        )

    async def settle(self) -> None:
        """Before another step: let the previous step's backlog commit (bounded)."""
        deadline = time.monotonic() + SETTLE_MAX_S
        while any(self.in_flight) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        for queue in self.queues:
            for tx in queue:
                self.by_hash.pop(tx.hash_hex, None)
            queue.clear()  # what never went out stays out: its nonces are signed again
        await self.read_chain()

    # --- the run -------------------------------------------------------------------------

    async def run(self) -> list[StepRecord]:
        plan = self.plan
        ready = asyncio.Event()
        watchers = [asyncio.create_task(self.watch(node, ready)) for node in range(len(self.http))]
        self.watchers = watchers
        steps: list[StepRecord] = []
        try:
            await self.read_chain()
            await asyncio.wait_for(ready.wait(), timeout=30)
            policy = SearchPolicy(
                start_rate=plan.rate,
                p99_bound_s=plan.p99_bound_s,
                growth=plan.growth,
                steps_max=plan.steps_max if plan.search else 1,
            )
            outcomes: list[StepOutcome] = []
            rate = next_rate(policy, outcomes)
            while rate is not None:
                if steps:
                    await self.settle()
                emit("signing", step=len(steps), rate=rate)
                record = self.sign_step(len(steps), rate)
                emit("signed", step=len(steps), count=len(record.txs), seconds=record.sign_s)
                await self.offer(len(steps), record)
                steps.append(record)
                outcome = record.outcome()
                outcomes.append(outcome)
                emit(
                    "step",
                    step=len(steps) - 1,
                    rate=rate,
                    committed_tps=outcome.committed_tps,
                    p99_s=None if math.isinf(outcome.p99_s) else outcome.p99_s,
                    sustained=outcome.sustained(plan.p99_bound_s),
                )
                rate = next_rate(policy, outcomes) if plan.search else None
        finally:
            for watcher in watchers:
                watcher.cancel()
            self.watchers = []
            await asyncio.gather(*watchers, return_exceptions=True)
            for client in self.http:
                await client.aclose()
        return steps


def write_result(plan: LoadPlan, senders: int, steps: list[StepRecord]) -> None:
    document = {"senders": senders, "steps": [step.to_json() for step in steps]}
    path = Path(plan.result_path)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document))
    os.replace(temporary, path)


async def main_async(plan: LoadPlan) -> None:
    try:
        generator = LoadGenerator(plan)
        emit("senders", count=len(generator.keys))
        steps = await generator.run()
    except (GongshiError, OSError, WebSocketException, TimeoutError) as error:
        emit("error", message=f"{type(error).__name__}: {error}")
        raise SystemExit(3) from None
    write_result(plan, len(generator.keys), steps)
    emit("done")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m gongshi.bench.loadgen PLAN.json", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    plan = LoadPlan.from_json(Path(argv[1]).read_text())
    try:
        asyncio.run(main_async(plan))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
