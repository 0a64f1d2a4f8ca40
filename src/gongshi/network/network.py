"""The peer network the node drives: listen, dial, authenticate, route envelopes.

    network = Network(config, identity, trust, peers_from_genesis(genesis), on_message)
    await network.start()
    network.broadcast(MessageKind.CONSENSUS, vote_bytes)
    ...
    await network.stop()

Every task it starts (the listener's per-socket handlers, one dialler per peer this node
dials, the dispatcher feeding `on_message`) is tracked and cancelled by `stop()`. Pure rules
live in `peers.py` (who dials, which duplicate survives), `queues.py`, `inbound.py`,
`backoff.py`, `framing.py` and `messages.py`; this module only sequences them.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

from gongshi.errors import GongshiError
from gongshi.network.config import LocalIdentity, NetworkConfig
from gongshi.network.connection import ConnectionLimits, PeerConnection, describe_peer
from gongshi.network.counters import NetworkCounters, QueueGauges
from gongshi.network.errors import FrameTooLarge, ListenFailed
from gongshi.network.framing import encode_frame
from gongshi.network.handshake import (
    PEER_ROLES,
    Admission,
    Handshaken,
    handshake,
    local_hello,
)
from gongshi.network.inbound import InboundMessage, InboundQueue
from gongshi.network.messages import BODY_BYTES_MAX, LANE_OF_KIND, Envelope, MessageKind
from gongshi.network.peers import (
    PeerInfo,
    dial_targets,
    index_peers,
    is_reachable,
    keep_new_connection,
    should_dial,
)
from gongshi.node.config_fields import HostPort
from gongshi.pki.errors import CertificateRejected
from gongshi.pki.tls import mutual_tls_context
from gongshi.pki.validation import NO_REVOCATIONS, RevocationList, TrustStore, validate_certificate

logger = logging.getLogger(__name__)

OnMessage = Callable[[InboundMessage], Awaitable[None]]


def wall_clock_ms() -> int:
    """Unix time in ms, for certificate validity checks (the network is I/O, not consensus)."""
    return time.time_ns() // 1_000_000


class Network:
    """Mutual-TLS connections to the allowed peers, one per pair, identified by chain key."""

    def __init__(
        self,
        config: NetworkConfig,
        identity: LocalIdentity,
        trust: TrustStore,
        allowed_peers: Iterable[PeerInfo],
        on_message: OnMessage,
        *,
        revocations: RevocationList = NO_REVOCATIONS,
        rng: random.Random | None = None,
        clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self._config = config
        self._identity = identity
        self._trust = trust
        self._revocations = revocations
        self._allowed = index_peers(allowed_peers)
        self._on_message = on_message
        self._rng = rng if rng is not None else random.Random()
        self._clock_ms = clock_ms
        self._counters = NetworkCounters()
        self._limits = ConnectionLimits(
            frame_bytes_max=config.frame_bytes_max,
            gossip=config.gossip_limits,
            reliable=config.reliable_limits,
            close_timeout_s=config.close_timeout_ms / 1000,
        )
        self._inbound = InboundQueue(
            frames_max=config.inbound_queue_frames_max, bytes_max=config.inbound_queue_bytes_max
        )
        self._hello = local_hello(config.genesis_hash)
        self._contexts = self._build_contexts(trust)
        self._connections: dict[bytes, PeerConnection] = {}
        self._handshakes_open = 0
        self._dialers: dict[bytes, asyncio.Task[None]] = {}
        self._dialer_wakes: dict[bytes, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._held_until: dict[bytes, float] = {}  # loop.time() until which a peer is refused
        self._partitioned = False
        self._heal_timer: asyncio.TimerHandle | None = None
        self._server: asyncio.Server | None = None
        self._running = False
        self._failure: BaseException | None = None

    # --- life cycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Listen and start dialling; ListenFailed if the address cannot be bound."""
        assert not self._running and self._server is None, "start() once"
        address = self._config.listen_address
        try:
            self._server = await asyncio.start_server(self._accept, address.host, address.port)
        except OSError as error:
            raise ListenFailed(f"cannot listen on {address}: {error.strerror or error}") from error
        self._running = True
        self._spawn(self._dispatch())
        self._update_dialers()
        logger.info(
            "network started node=%s listen=%s peers=%d",
            self._identity.name,
            self.listen_address,
            len(self._allowed),
        )

    async def stop(self) -> None:
        """Close every connection and task; re-raises a bug that ended one of our tasks."""
        self._running = False
        if self._heal_timer is not None:
            self._heal_timer.cancel()
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections.values()):
            connection.close("node stopping")
        tasks = [*self._dialers.values(), *self._tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._dialers.clear()
        if self._server is not None:
            await self._server.wait_closed()
        logger.info("network stopped node=%s", self._identity.name)
        if self._failure is not None:
            raise self._failure

    @property
    def failure(self) -> BaseException | None:
        """A bug that ended one of the network's tasks (the node should stop), or None."""
        return self._failure

    @property
    def listen_address(self) -> HostPort:
        """The address actually listened on (the configured one, with port 0 resolved)."""
        assert self._server is not None and self._server.sockets, "start() first"
        host, port = self._server.sockets[0].getsockname()[:2]
        return HostPort(host=host, port=port)

    # --- the node's API -----------------------------------------------------------------

    def send(self, peer_key: bytes, kind: MessageKind, body: bytes) -> bool:
        """Queue a message to one peer; False if it is not connected or the message was not
        queued. FrameTooLarge if the message could never be sent."""
        frame = self._frame(kind, body)
        connection = self._connections.get(peer_key)
        if connection is None:
            self._counters.unsent += 1
            return False
        return connection.enqueue(LANE_OF_KIND[kind], frame)

    def broadcast(self, kind: MessageKind, body: bytes) -> int:
        """Queue a message to every connected peer; how many queued it."""
        frame = self._frame(kind, body)
        lane = LANE_OF_KIND[kind]
        return sum(
            connection.enqueue(lane, frame) for connection in list(self._connections.values())
        )

    def connected_peers(self) -> tuple[bytes, ...]:
        """Chain keys of the peers with a live connection, sorted."""
        return tuple(sorted(key for key, c in self._connections.items() if not c.closing))

    def counters(self) -> NetworkCounters:
        return self._counters.snapshot()

    def queues(self) -> QueueGauges:
        connections = list(self._connections.values())
        return QueueGauges(
            inbound_messages=len(self._inbound),
            inbound_bytes=self._inbound.bytes_queued,
            outbound_frames=sum(c.queued_frames() for c in connections),
            outbound_bytes=sum(c.queued_bytes() for c in connections),
        )

    def set_allowed_peers(self, peers: Iterable[PeerInfo]) -> None:
        """Replace the allowed set (governance added or removed nodes): connections of
        removed peers close, new peers are dialled by the rule of `should_dial`."""
        self._allowed = index_peers(peers)
        for key, connection in list(self._connections.items()):
            if key not in self._allowed:
                connection.close("no longer an allowed peer")
        self._update_dialers()

    def set_revocations(self, revocations: RevocationList) -> None:
        """Replace the revocation list; live connections of revoked certificates close."""
        self._revocations = revocations
        self._revalidate_connections()

    def set_trust(self, trust: TrustStore) -> None:
        """Replace the organisation CAs (governance); ConfigError leaves the old ones."""
        self._contexts = self._build_contexts(trust)
        self._trust = trust
        self._revalidate_connections()

    def disconnect(self, peer_key: bytes, *, hold_ms: int = 0) -> None:
        """Close the connection to a peer; with `hold_ms`, refuse it that long."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._held_until = {key: until for key, until in self._held_until.items() if until > now}
        if hold_ms > 0:
            self._held_until[peer_key] = now + hold_ms / 1000
            loop.call_later(hold_ms / 1000, self._wake_dialer, peer_key)
        connection = self._connections.get(peer_key)
        if connection is not None:
            connection.close("disconnected by the node")

    def partition(self, *, hold_ms: int | None = None) -> None:
        """Cut this node off: close every connection, refuse new ones and stop dialling,
        until `heal()` (or for `hold_ms`)."""
        self._partitioned = True
        if self._heal_timer is not None:
            self._heal_timer.cancel()
            self._heal_timer = None
        if hold_ms is not None:
            self._heal_timer = asyncio.get_running_loop().call_later(hold_ms / 1000, self.heal)
        for connection in list(self._connections.values()):
            connection.close("partitioned")
        logger.info("network partitioned node=%s hold_ms=%s", self._identity.name, hold_ms)

    def heal(self) -> None:
        self._partitioned = False
        if self._heal_timer is not None:
            self._heal_timer.cancel()
            self._heal_timer = None
        self._wake_dialers()
        logger.info("network healed node=%s", self._identity.name)

    # --- internals: tasks ---------------------------------------------------------------

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coroutine)
        self._track(task)
        return task

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        error = task.exception()
        logger.critical("network task failed node=%s", self._identity.name, exc_info=error)
        if self._failure is None:
            self._failure = error

    async def _dispatch(self) -> None:
        while True:
            message = await self._inbound.get()
            try:
                await self._on_message(message)
            except GongshiError as error:
                peer = self._allowed.get(message.peer_key)
                logger.warning(
                    "message rejected by the node peer=%s kind=%s reason=%r",
                    describe_peer(peer) if peer else message.peer_key[:6].hex(),
                    message.kind.name,
                    error.message,
                )

    # --- internals: connections ---------------------------------------------------------

    def _build_contexts(self, trust: TrustStore) -> dict[bool, ssl.SSLContext]:
        """TLS contexts by `server_side`."""
        return {
            server_side: mutual_tls_context(
                server_side=server_side,
                certificate_file=self._identity.certificate_file,
                key_file=self._identity.key_file,
                trust=trust,
            )
            for server_side in (False, True)
        }

    def _admission(self, expected_key: bytes | None) -> Admission:
        return Admission(
            trust=self._trust,
            revocations=self._revocations,
            now_ms=self._clock_ms(),
            allowed=self._allowed,
            hello=self._hello,
            expected_key=expected_key,
        )

    async def _handshake(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        expected_key: bytes | None,
        where: str,
    ) -> Handshaken | None:
        try:
            return await handshake(
                reader,
                writer,
                context=self._contexts[expected_key is None],
                admission=self._admission(expected_key),
                timeout_s=self._config.handshake_timeout_ms / 1000,
            )
        except GongshiError as error:
            self._counters.handshake_failures += 1
            logger.warning(
                "peer handshake failed %s reason=%s detail=%r",
                where,
                getattr(error, "reason", type(error).__name__),  # pki and network errors
                error.message,
            )
            writer.transport.abort()
            return None
        except asyncio.CancelledError:
            writer.transport.abort()  # stopping: do not leave the socket to the collector
            raise

    def _refusal(self, key: bytes) -> str:
        """Why a connection with `key` may not be kept now ("" if it may)."""
        if not self._running:
            return "node stopping"
        if self._partitioned:
            return "partitioned"
        if key not in self._allowed:
            return "no longer an allowed peer"
        held = self._held_until.get(key)
        if held is not None and asyncio.get_running_loop().time() < held:
            return "peer is held off by the node"
        return ""

    def _admit(
        self,
        handshaken: Handshaken,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        dialled: bool,
    ) -> PeerConnection | None:
        peer = handshaken.peer
        reachable = is_reachable(self._identity.public_key, self._allowed)
        preferred = dialled == should_dial(self._identity.public_key, reachable, peer)
        existing = self._connections.get(peer.public_key)
        refusal = self._refusal(peer.public_key)
        if (
            not refusal
            and existing is not None
            and not existing.closing
            and not keep_new_connection(
                existing_preferred=existing.preferred, new_preferred=preferred
            )
        ):
            refusal = "duplicate connection"
        if refusal:
            self._counters.refused += 1
            logger.info("peer refused peer=%s reason=%r", describe_peer(peer), refusal)
            writer.transport.abort()
            return None
        if existing is not None:
            existing.close("replaced by a newer connection")
        connection = PeerConnection(
            handshaken,
            reader,
            writer,
            dialled=dialled,
            preferred=preferred,
            limits=self._limits,
            counters=self._counters,
            inbound=self._inbound,
        )
        self._connections[peer.public_key] = connection
        self._counters.connects += 1
        logger.info("peer connected peer=%s dialled=%s", describe_peer(peer), dialled)
        return connection

    async def _serve(self, connection: PeerConnection) -> None:
        key = connection.peer.public_key
        reason = "node stopping"
        try:
            reason = await connection.run()
        finally:
            if self._connections.get(key) is connection:
                del self._connections[key]
            self._counters.disconnects += 1
            logger.info(
                "peer disconnected peer=%s reason=%r", describe_peer(connection.peer), reason
            )
            self._wake_dialer(key)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The listener's callback: refuse at once or hand the socket to a task of ours
        (asyncio's own per-socket task must not be cancelled: Python 3.11 logs that as an
        error)."""
        where = f"address={writer.get_extra_info('peername')}"
        busy = len(self._connections) + self._handshakes_open >= self._config.peers_max
        if not self._running or self._partitioned or busy:
            self._counters.refused += 1
            logger.debug("connection refused %s busy=%s", where, busy)
            writer.transport.abort()
            return
        self._handshakes_open += 1  # counted from now, so a burst of accepts respects peers_max
        self._spawn(self._serve_inbound(reader, writer, where))

    async def _serve_inbound(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, where: str
    ) -> None:
        try:
            handshaken = await self._handshake(reader, writer, expected_key=None, where=where)
        finally:
            self._handshakes_open -= 1
        if handshaken is None:
            return
        connection = self._admit(handshaken, reader, writer, dialled=False)
        if connection is not None:
            await self._serve(connection)

    def _revalidate_connections(self) -> None:
        now_ms = self._clock_ms()
        for connection in list(self._connections.values()):
            try:
                validate_certificate(
                    connection.handshaken.certificate_der,
                    trust=self._trust,
                    now_ms=now_ms,
                    revocations=self._revocations,
                    roles=PEER_ROLES,
                )
            except CertificateRejected as error:
                logger.warning(
                    "closing peer connection peer=%s reason=%s detail=%r",
                    describe_peer(connection.peer),
                    error.reason,
                    error.message,
                )
                connection.close(f"certificate {error.reason}")

    # --- internals: dialling ------------------------------------------------------------

    def _update_dialers(self) -> None:
        if not self._running:
            return
        targets = dial_targets(self._identity.public_key, self._allowed)
        for key in [key for key in self._dialers if key not in targets]:
            self._dialers.pop(key).cancel()
            del self._dialer_wakes[key]
        for key in sorted(targets - self._dialers.keys()):
            self._dialer_wakes[key] = asyncio.Event()
            self._dialers[key] = self._spawn(self._dial_loop(key))
        self._wake_dialers()

    def _wake_dialers(self) -> None:
        for wake in self._dialer_wakes.values():
            wake.set()

    def _wake_dialer(self, key: bytes) -> None:
        wake = self._dialer_wakes.get(key)
        if wake is not None:
            wake.set()

    def _may_dial(self, key: bytes) -> bool:
        return not self._refusal(key) and key not in self._connections

    async def _dial_loop(self, key: bytes) -> None:
        """Keep one connection to `key` while we are its dialler: dial, serve, redial after
        an exponential, jittered, capped delay (see backoff.py)."""
        wake = self._dialer_wakes[key]
        failures = 0
        delay_first = False
        while True:
            while not self._may_dial(key):
                wake.clear()
                await wake.wait()
            if delay_first:
                delay_ms = self._config.backoff.delay_ms(failures, self._rng)
                await asyncio.sleep(delay_ms / 1000)
                if not self._may_dial(key):
                    continue
            delay_first = True
            connection = await self._dial(self._allowed[key], first_failure=failures == 0)
            if connection is None:
                failures += 1
                continue
            failures = 0
            await self._serve(connection)

    async def _dial(self, peer: PeerInfo, *, first_failure: bool) -> PeerConnection | None:
        assert peer.address is not None, "only peers with an address are dialled"
        address = peer.address
        where = f"peer={describe_peer(peer)} address={address}"
        try:
            async with asyncio.timeout(self._config.handshake_timeout_ms / 1000):
                reader, writer = await asyncio.open_connection(address.host, address.port)
        except OSError as error:  # TimeoutError included
            self._counters.dial_failures += 1
            level = logging.INFO if first_failure else logging.DEBUG
            logger.log(level, "dial failed %s reason=%r", where, str(error) or "timeout")
            return None
        handshaken = await self._handshake(
            reader, writer, expected_key=peer.public_key, where=where
        )
        if handshaken is None:
            return None
        return self._admit(handshaken, reader, writer, dialled=True)

    def _frame(self, kind: MessageKind, body: bytes) -> bytes:
        frame_bytes_max = self._config.frame_bytes_max
        if len(body) > min(BODY_BYTES_MAX, frame_bytes_max):
            raise FrameTooLarge(len(body), frame_bytes_max)
        envelope = Envelope(kind=kind, body=body)
        return encode_frame(envelope.encode(), frame_bytes_max=frame_bytes_max)
