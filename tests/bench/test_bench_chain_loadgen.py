"""The load generator's bookkeeping, without a network: signing, sender windows, answers to
`tx_send`, and receipts from block notifications."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gongshi.bench.errors import LoadGeneratorFailed
from gongshi.bench.loadgen import (
    ACCEPTED,
    COMMITTED,
    FAILED,
    QUEUED,
    SENDING,
    LoadGenerator,
    LoadPlan,
    PendingTx,
    StepRecord,
)
from gongshi.cli.init_network import NetworkOptions, create_network


@pytest.fixture(scope="module")
def network_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("net")
    options = NetworkOptions(organisations=2, suite="intl", extra_clients=1)
    create_network(options, directory, now=datetime.now(UTC))
    return directory


def generator(network_dir: Path, **changes: object) -> LoadGenerator:
    plan = LoadPlan(
        network_dir=str(network_dir),
        api_urls=("http://127.0.0.1:1/", "http://127.0.0.1:2/"),
        result_path=str(network_dir / "result.json"),
        rate=10.0,
        duration_s=2.0,
        drain_s=1.0,
        **changes,  # type: ignore[arg-type]
    )
    return asyncio.run(_make(plan))


async def _make(plan: LoadPlan) -> LoadGenerator:
    return LoadGenerator(plan)  # its HTTP clients want a running loop's thread, not I/O


def test_signing_spreads_senders_and_counts_nonces(network_dir: Path) -> None:
    load = generator(network_dir)
    assert len(load.keys) == 4  # org1-client, org2-client, org1-client2, org2-client2
    record = load.sign_step(0, 10.0)
    assert len(record.txs) == 20
    assert [tx.sender for tx in record.txs[:5]] == [0, 1, 2, 3, 0]
    assert all(tx.node == tx.sender % 2 for tx in record.txs)
    assert len({tx.hash_hex for tx in record.txs}) == 20
    assert load.nonces == [5, 5, 5, 5]
    again = load.sign_step(1, 10.0)
    assert not {tx.hash_hex for tx in again.txs} & {tx.hash_hex for tx in record.txs}


def test_a_sender_never_exceeds_its_window(network_dir: Path) -> None:
    load = generator(network_dir, sender_window=2)
    record = load.sign_step(0, 10.0)
    load.step = record
    for tx in record.txs:
        load.queues[tx.sender].append(tx)
    chosen = load.ready_batches(now=1.0)
    sent = [tx for txs in chosen.values() for tx in txs]
    assert len(sent) == 8  # 4 senders × 2
    assert load.in_flight == [2, 2, 2, 2]
    assert all(tx.state == SENDING and tx.sent == 1.0 for tx in sent)
    assert record.sent_count == 8
    assert not any(load.ready_batches(now=2.0).values())


def test_answers_retry_accept_or_fail(network_dir: Path) -> None:
    load = generator(network_dir)
    record = load.sign_step(0, 2.0)  # 4 transactions, one per sender
    load.step = record
    for tx in record.txs:
        load.queues[tx.sender].append(tx)
    load.ready_batches(now=1.0)
    ok, too_high, known, bad = record.txs
    retry: list = []
    load.settle_answer(ok, {"id": 0, "result": {"tx_hash": ok.hash_hex}}, retry)
    load.settle_answer(too_high, {"id": 1, "error": {"data": {"name": "NonceTooHigh"}}}, retry)
    load.settle_answer(known, {"id": 2, "error": {"data": {"name": "AlreadyKnown"}}}, retry)
    load.settle_answer(bad, {"id": 3, "error": {"data": {"name": "BadSignature"}}}, retry)
    assert (ok.state, known.state, bad.state) == (ACCEPTED, ACCEPTED, FAILED)
    assert retry == [too_high]
    load.requeue(retry)
    assert too_high.state == QUEUED and load.queues[too_high.sender][0] is too_high
    assert too_high.sent == 1.0  # latency still counts from the first attempt
    assert load.in_flight[bad.sender] == 0 and load.in_flight[too_high.sender] == 0
    assert record.refusals == {"NonceTooHigh": 1, "AlreadyKnown": 1, "BadSignature": 1}
    assert record.closed_count == 1


class FakeApi:
    """Stands for a node's HTTP client: keeps each batch body, answers from a script."""

    def __init__(self, answer: Callable[[list[dict[str, Any]]], Any]) -> None:
        self.answer = answer
        self.bodies: list[list[dict[str, Any]]] = []

    async def post(self, body: bytes) -> Any:
        calls = json.loads(body)
        self.bodies.append(calls)
        return self.answer(calls)


def test_a_batch_is_the_signed_calls_and_answers_match_by_id(network_dir: Path) -> None:
    load = generator(network_dir)
    record = load.sign_step(0, 4.0)  # 8 transactions, two per sender
    again = load.sign_step(1, 1.0)
    assert [tx.call_id for tx in record.txs + again.txs] == list(range(10))  # unique in the run
    load.step = record
    for tx in record.txs:
        load.queues[tx.sender].append(tx)
    batch = load.ready_batches(now=1.0)[0]  # node 0's: senders 0 and 2

    def refuse_the_first_accept_the_rest(calls: list[dict[str, Any]]) -> Any:
        first, *rest = calls
        refused = {"jsonrpc": "2.0", "id": first["id"], "error": {"data": {"name": "Nope"}}}
        accepted = [{"jsonrpc": "2.0", "id": c["id"], "result": {}} for c in rest]
        return [*accepted[::-1], refused]  # any order: ids say which is which

    api = FakeApi(refuse_the_first_accept_the_rest)
    load.http[0] = api  # type: ignore[assignment]
    asyncio.run(load.send_batch(0, batch))
    (calls,) = api.bodies
    assert calls == [
        {"jsonrpc": "2.0", "id": tx.call_id, "method": "tx_send", "params": {"tx": raw_hex(tx)}}
        for tx in batch
    ]
    assert [tx.state for tx in batch] == [FAILED] + [ACCEPTED] * (len(batch) - 1)
    assert record.refusals == {"Nope": 1}


def test_a_batch_refused_whole_or_lost_in_transit(network_dir: Path) -> None:
    load = generator(network_dir)
    record = load.sign_step(0, 1.0)
    load.step = record
    for tx in record.txs:
        load.queues[tx.sender].append(tx)
    batch = load.ready_batches(now=1.0)[0]
    error = {"jsonrpc": "2.0", "id": None, "error": {"data": {"name": "MempoolFull"}}}
    load.http[0] = FakeApi(lambda calls: error)  # type: ignore[assignment]
    asyncio.run(load.send_batch(0, batch))
    assert all(tx.state == QUEUED for tx in batch)  # to be retried
    assert record.refusals == {"MempoolFull": len(batch)}

    def lost(calls: list[dict[str, Any]]) -> Any:
        raise ConnectionResetError("gone")

    assert all(load.not_before[tx.sender] > 1.0 for tx in batch)  # after a pause
    load.not_before = [0.0] * len(load.keys)
    batch = load.ready_batches(now=2.0)[0]
    load.http[0] = FakeApi(lost)  # type: ignore[assignment]
    asyncio.run(load.send_batch(0, batch))
    assert all(tx.state == QUEUED for tx in batch) and record.transport_errors == 1


def raw_hex(tx: PendingTx) -> str:
    """The signed transaction a call carries (as the API's `tx_send` reads it)."""
    call = json.loads(tx.call)
    assert call["params"]["tx"].startswith("0x")
    return str(call["params"]["tx"])


def test_receipts_come_from_the_node_a_transaction_was_sent_to(network_dir: Path) -> None:
    load = generator(network_dir)
    record = load.sign_step(0, 2.0)
    load.step = record
    record.started = 0.5
    for tx in record.txs:
        load.queues[tx.sender].append(tx)
    load.ready_batches(now=1.0)
    on_node0 = [tx for tx in record.txs if tx.node == 0]
    on_node1 = [tx for tx in record.txs if tx.node == 1]
    block = {
        "height": 7,
        "header": {"timestamp_ms": 123_000},
        "tx_hashes": [tx.hash_hex for tx in record.txs],
    }
    load.on_block(1, block, seen=2.0)  # node 1 reports all: only its own are its receipts
    assert all(tx.state == COMMITTED and tx.committed == 2.0 for tx in on_node1)
    assert all(tx.state == SENDING for tx in on_node0)
    assert record.blocks == []  # node 0 is the reference for blocks
    load.on_block(0, block, seen=2.5)
    assert all(tx.state == COMMITTED and tx.committed == 2.5 for tx in on_node0)
    assert record.blocks == [(7, 2.5, 4, 123.0)]
    assert record.open_count == 0 and load.in_flight == [0, 0, 0, 0]
    txs, blocks = record.samples()
    assert sorted(t.committed - t.submitted for t in txs) == [1.0, 1.0, 1.5, 1.5]
    assert blocks[0].seen == 2.0 and blocks[0].proposed == 123.0
    outcome = record.outcome()
    assert outcome.rate == 2.0


def test_step_record_json_has_relative_times() -> None:
    record = StepRecord(rate=5.0, duration_s=2.0, started=100.0)
    record.blocks.append((3, 101.5, 0, 50.0))
    document = record.to_json()
    assert document["blocks"] == [[3, 1.5, 0, 50.0]]
    assert document["txs"] == [] and document["failed"] == 0


def test_a_lost_block_subscription_stops_the_run(network_dir: Path) -> None:
    load = generator(network_dir)

    async def scenario() -> None:
        async def ends() -> None:
            return None

        async def fails() -> None:
            raise ConnectionResetError("gone")

        async def runs() -> None:
            await asyncio.sleep(10)

        running = asyncio.create_task(runs())
        load.watchers = [running]
        load.check_watchers()  # all alive: nothing happens
        for body, error in ((ends, LoadGeneratorFailed), (fails, ConnectionResetError)):
            task = asyncio.create_task(body())
            await asyncio.sleep(0)
            load.watchers = [running, task]
            with pytest.raises(error):
                load.check_watchers()
        running.cancel()

    asyncio.run(scenario())
