"""A connection's outbound queue: two bounded lanes of encoded frames (pure, no asyncio).

The reliable lane (consensus, sync, transaction fetch) is served first and never drops: when
it is full the caller must close the connection. The gossip lane (transaction batches,
status) drops its oldest frames to make room. Both lanes are bounded in frames and bytes, so
a peer that stops reading costs at most the configured bytes, never unbounded memory.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from gongshi.network.messages import Lane


@dataclass(frozen=True, slots=True, kw_only=True)
class LaneLimits:
    frames_max: int
    bytes_max: int

    def __post_init__(self) -> None:
        assert self.frames_max >= 1 and self.bytes_max >= 1


@dataclass(frozen=True, slots=True, kw_only=True)
class PushResult:
    """What `OutboundQueue.push` did: `accepted` is False when the frame was not queued;
    `dropped` counts gossip frames discarded (older ones, or this one if it can never fit)."""

    accepted: bool
    dropped: int = 0


class _Lane:
    __slots__ = ("bytes_queued", "frames", "limits")

    def __init__(self, limits: LaneLimits) -> None:
        self.limits = limits
        self.frames: deque[bytes] = deque()
        # Invariant: bytes_queued == sum(map(len, frames)) <= limits.bytes_max.
        self.bytes_queued = 0

    def fits(self, size: int) -> bool:
        return (
            len(self.frames) < self.limits.frames_max
            and self.bytes_queued + size <= self.limits.bytes_max
        )

    def append(self, frame: bytes) -> None:
        self.frames.append(frame)
        self.bytes_queued += len(frame)

    def popleft(self) -> bytes:
        frame = self.frames.popleft()
        self.bytes_queued -= len(frame)
        return frame


class OutboundQueue:
    """Frames waiting to be written to one peer."""

    __slots__ = ("_lanes",)

    def __init__(self, *, gossip: LaneLimits, reliable: LaneLimits) -> None:
        self._lanes = {Lane.GOSSIP: _Lane(gossip), Lane.RELIABLE: _Lane(reliable)}

    def push(self, lane: Lane, frame: bytes) -> PushResult:
        queue = self._lanes[lane]
        if queue.fits(len(frame)):
            queue.append(frame)
            return PushResult(accepted=True)
        if lane is Lane.RELIABLE:
            return PushResult(accepted=False)
        if len(frame) > queue.limits.bytes_max:
            return PushResult(accepted=False, dropped=1)
        dropped = 0
        while not queue.fits(len(frame)):  # ends: an empty lane fits any frame under bytes_max
            queue.popleft()
            dropped += 1
        queue.append(frame)
        return PushResult(accepted=True, dropped=dropped)

    def pop(self) -> bytes | None:
        """The next frame to write, reliable lane first; None when both lanes are empty."""
        for lane in (Lane.RELIABLE, Lane.GOSSIP):
            queue = self._lanes[lane]
            if queue.frames:
                return queue.popleft()
        return None

    def frames_queued(self, lane: Lane) -> int:
        return len(self._lanes[lane].frames)

    def bytes_queued(self, lane: Lane) -> int:
        return self._lanes[lane].bytes_queued

    def clear(self) -> int:
        """Discard everything; the number of frames discarded."""
        count = 0
        for queue in self._lanes.values():
            count += len(queue.frames)
            queue.frames.clear()
            queue.bytes_queued = 0
        return count
