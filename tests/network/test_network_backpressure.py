"""Bounded memory when the node or a peer is slower than the traffic."""

from __future__ import annotations

import asyncio
from typing import Any

from gongshi.network import InboundMessage, MessageKind
from gongshi.network.inbound import InboundQueue

BODY_BYTES = 60_000
SMALL_QUEUES = {
    "frame_bytes_max": 64 * 1024,
    "gossip_queue_frames_max": 8,
    "gossip_queue_bytes_max": 8 * 64 * 1024,
    "reliable_queue_frames_max": 8,
    "reliable_queue_bytes_max": 8 * 64 * 1024,
    "inbound_queue_frames_max": 4,
    "inbound_queue_bytes_max": 4 * 64 * 1024,
}
SENDS_MAX = 5000  # a bound on the flood loops; the limits are reached far earlier


def _numbered(number: int) -> bytes:
    return number.to_bytes(4, "big") + bytes(BODY_BYTES - 4)


def test_inbound_queue_drops_offers_and_holds_puts_when_full(net: Any) -> None:
    async def main() -> None:
        queue = InboundQueue(frames_max=2, bytes_max=1000)

        def message(body: bytes) -> InboundMessage:
            return InboundMessage(peer_key=b"k", kind=MessageKind.CONSENSUS, body=body)

        assert queue.offer(message(b"a")) and queue.offer(message(b"b"))
        assert not queue.offer(message(b"c"))
        waiting = asyncio.create_task(queue.put(message(b"d")))
        await asyncio.sleep(0)
        assert not waiting.done() and len(queue) == 2
        assert (await queue.get()).body == b"a"
        await asyncio.wait_for(waiting, 5)
        assert [(await queue.get()).body for _ in range(2)] == [b"b", b"d"]
        assert queue.bytes_queued == 0
        # one message larger than the byte bound still passes an empty queue (no deadlock)
        assert queue.offer(message(bytes(5000)))

    net.run(main)


def test_gossip_to_a_stalled_node_is_dropped_within_bounds(cluster: Any, net: Any) -> None:
    async def main() -> None:
        gate = asyncio.Event()
        networks = {
            0: cluster.network(0, **SMALL_QUEUES),
            1: cluster.network(1, inbox=net.Inbox(gate=gate), **SMALL_QUEUES),
        }
        try:
            await cluster.start(networks)
            await net.wait_until(lambda: networks[0].connected_peers(), "connected")
            for number in range(SENDS_MAX):
                networks[0].send(cluster.key(1), MessageKind.TX_GOSSIP, _numbered(number))
                assert networks[0].queues().outbound_bytes <= SMALL_QUEUES["gossip_queue_bytes_max"]
                assert networks[1].queues().inbound_messages <= 4
                if number % 4 == 0:
                    await asyncio.sleep(0)
                if networks[1].counters().inbound_dropped and networks[0].counters().gossip_dropped:
                    break
            assert networks[1].counters().inbound_dropped > 0
            assert networks[0].counters().gossip_dropped > 0
            assert networks[0].connected_peers() == (cluster.key(1),)  # gossip never cuts
            gate.set()
        finally:
            await cluster.stop_all()

    net.run(main)


def test_a_peer_that_cannot_keep_up_with_consensus_is_cut_not_buffered(
    cluster: Any, net: Any
) -> None:
    async def main() -> None:
        gate = asyncio.Event()
        inbox = net.Inbox(gate=gate)
        networks = {
            0: cluster.network(0, **SMALL_QUEUES),
            1: cluster.network(1, inbox=inbox, **SMALL_QUEUES),
        }
        try:
            await cluster.start(networks)
            await net.wait_until(lambda: networks[0].connected_peers(), "connected")
            sent = 0
            for number in range(SENDS_MAX):
                if not networks[0].send(cluster.key(1), MessageKind.CONSENSUS, _numbered(number)):
                    break
                sent += 1
                assert (
                    networks[0].queues().outbound_bytes <= SMALL_QUEUES["reliable_queue_bytes_max"]
                )
                assert networks[1].queues().inbound_messages <= 4
                await asyncio.sleep(0)
            assert networks[0].counters().slow_peer_closes == 1
            assert 0 < sent < SENDS_MAX
            gate.set()
            await net.wait_until(lambda: networks[1].queues().inbound_messages == 0, "drained")
            # never dropped while the connection lived: what arrived is a gap-free prefix
            numbers = [int.from_bytes(body[:4], "big") for body in inbox.bodies()]
            assert numbers == list(range(len(numbers)))
            assert 0 < len(numbers) < sent
            # and the pair reconnects afterwards
            await net.wait_until(lambda: networks[0].connected_peers(), "reconnected")
        finally:
            await cluster.stop_all()

    net.run(main)
