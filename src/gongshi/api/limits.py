"""The API server's bounds: every queue, body, batch and subscription count is limited."""

from __future__ import annotations

from dataclasses import dataclass

from gongshi.errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiLimits:
    # Largest HTTP request body and WebSocket message, in bytes.
    request_bytes_max: int = 1 << 20
    # Most calls in one batch request.
    batch_max: int = 100
    # Read calls running in worker threads at once (others wait their turn).
    concurrent_reads_max: int = 16
    # Open HTTP + WebSocket connections; beyond it the server answers 503.
    connections_max: int = 1000
    # Subscriptions on the whole server, and on one WebSocket connection.
    subscriptions_max: int = 1000
    subscriptions_per_connection_max: int = 100
    # Outgoing messages queued for one WebSocket connection; a subscriber that falls this
    # far behind is sent an error and disconnected.
    subscriber_queue_max: int = 256
    # A WebSocket send that takes longer than this drops the connection too.
    send_timeout_ms: int = 5000

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise ConfigError(f"api limit {name} must be a positive integer, got {value!r}")
        if self.request_bytes_max < 1024:
            raise ConfigError("api limit request_bytes_max must be at least 1024")
