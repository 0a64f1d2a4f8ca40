"""Received messages waiting for the node: one bounded queue for all peers.

Gossip offered to a full queue is dropped (and counted by the caller). Reliable messages wait
for room, which stops reading from that peer: TCP then pushes back to the sender, whose own
bounded queues decide what to drop. So a slow node never holds unbounded received data.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

from gongshi.network.messages import MessageKind


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundMessage:
    """A message from an authenticated peer, identified by its chain public key."""

    peer_key: bytes
    kind: MessageKind
    body: bytes


class InboundQueue:
    """Bounded in messages and in body bytes; an empty queue accepts any one message."""

    __slots__ = ("_bytes_max", "_bytes_queued", "_frames_max", "_items", "_not_empty", "_not_full")

    def __init__(self, *, frames_max: int, bytes_max: int) -> None:
        assert frames_max >= 1 and bytes_max >= 1
        self._frames_max = frames_max
        self._bytes_max = bytes_max
        self._items: deque[InboundMessage] = deque()
        # Invariant: _bytes_queued == sum of len(body) over _items.
        self._bytes_queued = 0
        self._not_empty = asyncio.Event()
        self._not_full = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def bytes_queued(self) -> int:
        return self._bytes_queued

    def _fits(self, message: InboundMessage) -> bool:
        if not self._items:
            return True
        return (
            len(self._items) < self._frames_max
            and self._bytes_queued + len(message.body) <= self._bytes_max
        )

    def _append(self, message: InboundMessage) -> None:
        self._items.append(message)
        self._bytes_queued += len(message.body)
        self._not_empty.set()

    def offer(self, message: InboundMessage) -> bool:
        """Queue `message` if there is room now; False (not queued) otherwise."""
        if not self._fits(message):
            return False
        self._append(message)
        return True

    async def put(self, message: InboundMessage) -> None:
        """Queue `message`, waiting for room."""
        while not self._fits(message):
            self._not_full.clear()
            await self._not_full.wait()
        self._append(message)

    async def get(self) -> InboundMessage:
        while not self._items:
            self._not_empty.clear()
            await self._not_empty.wait()
        message = self._items.popleft()
        self._bytes_queued -= len(message.body)
        self._not_full.set()
        return message
