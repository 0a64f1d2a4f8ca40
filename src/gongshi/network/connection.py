"""One live, authenticated peer connection: a reader and a writer task over a TLS stream.

The reader turns frames into `InboundMessage`s for the node's inbound queue; the writer
drains the connection's `OutboundQueue`. Whatever ends first (the peer closes, a bad frame,
a full reliable queue, `close()`) ends the connection: the other task is cancelled, the socket
closed (aborted if the TLS close does not finish in time) and `run` returns the reason.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass

from gongshi.network.counters import NetworkCounters
from gongshi.network.errors import FrameTooLarge, MalformedFrame
from gongshi.network.framing import FRAME_HEADER_BYTES
from gongshi.network.handshake import Handshaken, read_frame
from gongshi.network.inbound import InboundMessage, InboundQueue
from gongshi.network.messages import LANE_OF_KIND, Envelope, Lane, decode_payload
from gongshi.network.peers import PeerInfo
from gongshi.network.queues import LaneLimits, OutboundQueue

logger = logging.getLogger(__name__)


def describe_peer(peer: PeerInfo) -> str:
    """How logs name a peer: its name and the start of its chain key."""
    return f"{peer.name}/{peer.public_key[:6].hex()}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionLimits:
    frame_bytes_max: int
    gossip: LaneLimits
    reliable: LaneLimits
    close_timeout_s: float


class PeerConnection:
    """A connection from `run()` until it returns; `close()` may be called at any time."""

    def __init__(
        self,
        handshaken: Handshaken,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        dialled: bool,
        preferred: bool,
        limits: ConnectionLimits,
        counters: NetworkCounters,
        inbound: InboundQueue,
    ) -> None:
        self.handshaken = handshaken
        self.dialled = dialled
        self.preferred = preferred  # in the dial rule's direction (see peers.py)
        self._reader = reader
        self._writer = writer
        self._limits = limits
        self._counters = counters
        self._inbound = inbound
        self._queue = OutboundQueue(gossip=limits.gossip, reliable=limits.reliable)
        self._wake_writer = asyncio.Event()
        self._closing = asyncio.Event()
        self._close_reason = ""

    @property
    def peer(self) -> PeerInfo:
        return self.handshaken.peer

    @property
    def closing(self) -> bool:
        return self._closing.is_set()

    def queued_frames(self) -> int:
        return sum(self._queue.frames_queued(lane) for lane in Lane)

    def queued_bytes(self) -> int:
        return sum(self._queue.bytes_queued(lane) for lane in Lane)

    def enqueue(self, lane: Lane, frame: bytes) -> bool:
        """Queue an encoded frame; False if it was not queued (closing, gossip too large,
        or the reliable lane is full, which closes the connection)."""
        if self.closing:
            self._counters.unsent += 1
            return False
        result = self._queue.push(lane, frame)
        self._counters.gossip_dropped += result.dropped
        if result.accepted:
            self._wake_writer.set()
        elif lane is Lane.RELIABLE:
            self._counters.slow_peer_closes += 1
            self._counters.unsent += 1
            self.close("reliable send queue full: the peer does not keep up")
        return result.accepted

    def close(self, reason: str) -> None:
        if not self._closing.is_set():
            self._close_reason = reason
            self._closing.set()

    async def run(self) -> str:
        """Serve the connection until it ends; the reason it ended."""
        tasks = {
            asyncio.create_task(self._read_loop()),
            asyncio.create_task(self._write_loop()),
            asyncio.create_task(self._closing.wait()),
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                reason = task.result()  # a bug in a loop re-raises here
                if isinstance(reason, str):
                    self.close(reason)
        finally:
            self.close("node stopping")  # only if nothing else closed it (cancelled)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._counters.unsent += self._queue.clear()
            await self._close_transport()
        return self._close_reason

    async def _read_loop(self) -> str:
        frame_bytes_max = self._limits.frame_bytes_max
        while True:
            try:
                payload = await read_frame(self._reader, frame_bytes_max=frame_bytes_max)
                envelope = decode_payload(Envelope, payload, size_max=frame_bytes_max)
            except FrameTooLarge as error:
                self._counters.oversized_frames += 1
                return self._bad_frame("oversized frame", error.message)
            except MalformedFrame as error:
                self._counters.malformed_frames += 1
                return self._bad_frame("malformed frame", error.message)
            except asyncio.IncompleteReadError as error:
                return "peer closed the connection" if not error.partial else "truncated frame"
            except (ssl.SSLError, OSError) as error:
                return f"connection lost: {error}"
            self._counters.frames_in += 1
            self._counters.bytes_in += FRAME_HEADER_BYTES + len(payload)
            message = InboundMessage(
                peer_key=self.peer.public_key, kind=envelope.kind, body=envelope.body
            )
            if LANE_OF_KIND[envelope.kind] is Lane.RELIABLE:
                await self._inbound.put(message)  # no room: stop reading this peer
            elif not self._inbound.offer(message):
                self._counters.inbound_dropped += 1

    def _bad_frame(self, what: str, detail: str) -> str:
        logger.warning(
            "closing peer connection peer=%s reason=%r detail=%r",
            describe_peer(self.peer),
            what,
            detail,
        )
        return f"{what}: {detail}"

    async def _write_loop(self) -> str:
        while True:
            frame = self._queue.pop()
            if frame is None:
                self._wake_writer.clear()
                await self._wake_writer.wait()
                continue
            try:
                self._writer.write(frame)
                await self._writer.drain()  # waits while the peer does not read
            except (ssl.SSLError, OSError) as error:
                return f"connection lost: {error}"
            self._counters.frames_out += 1
            self._counters.bytes_out += len(frame)

    async def _close_transport(self) -> None:
        self._writer.close()
        try:
            async with asyncio.timeout(self._limits.close_timeout_s):
                await self._writer.wait_closed()
        except (TimeoutError, ssl.SSLError, OSError):
            self._writer.transport.abort()
