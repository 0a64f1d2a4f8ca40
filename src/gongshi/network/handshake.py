"""Opening a peer connection: TLS on an accepted or dialled TCP stream, the peer's node
certificate checked against genesis and the allowed set, then one `Hello` each way.

Thin asyncio glue over pure checks. Every failure is a `GongshiError` naming the reason
(`HandshakeFailed`, a `CertificateRejected`, `PeerRejected`, `ProtocolMismatch`, a frame
error); the caller logs it with the peer's address, counts it and drops the socket.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

from gongshi.network.errors import HandshakeFailed, PeerNotAllowed, ProtocolMismatch, UnexpectedPeer
from gongshi.network.framing import FRAME_HEADER_BYTES, encode_frame, frame_length
from gongshi.network.messages import PROTOCOL_VERSION, Hello, decode_payload
from gongshi.network.peers import PeerInfo
from gongshi.pki.roles import Role
from gongshi.pki.tls import peer_identity
from gongshi.pki.validation import Identity, RevocationList, TrustStore

HELLO_FRAME_BYTES_MAX = Hello.encoded_bytes_max
# Certificates a peer may present: consensus nodes and observers (which governance adds).
PEER_ROLES = (Role.NODE, Role.OBSERVER)


@dataclass(frozen=True, slots=True, kw_only=True)
class Admission:
    """What the peer is checked against, as of the moment the handshake starts."""

    trust: TrustStore
    revocations: RevocationList
    now_ms: int
    allowed: Mapping[bytes, PeerInfo]
    hello: Hello  # what we announce
    expected_key: bytes | None = None  # when dialling: the node we meant to reach


@dataclass(frozen=True, slots=True, kw_only=True)
class Handshaken:
    """An authenticated peer on a TLS stream, ready for envelopes."""

    peer: PeerInfo
    identity: Identity
    certificate_der: bytes  # kept to re-validate when revocations or trust change


async def read_frame(reader: asyncio.StreamReader, *, frame_bytes_max: int) -> bytes:
    """One frame's payload; FrameTooLarge before reading an oversized payload."""
    header = await reader.readexactly(FRAME_HEADER_BYTES)
    return await reader.readexactly(frame_length(header, frame_bytes_max=frame_bytes_max))


def check_peer(identity: Identity, admission: Admission) -> PeerInfo:
    """The allowed peer a validated certificate speaks for; PeerRejected otherwise."""
    peer = admission.allowed.get(identity.public_key)
    if peer is None:
        raise PeerNotAllowed(
            f"{identity.common_name} ({identity.organisation}): chain key "
            f"{identity.public_key[:8].hex()}… is not a validator or observer"
        )
    if admission.expected_key is not None and identity.public_key != admission.expected_key:
        raise UnexpectedPeer(f"dialled another node, reached {peer.name}")
    return peer


def check_hello(hello: Hello, ours: Hello) -> None:
    if hello.protocol_version != ours.protocol_version:
        raise ProtocolMismatch(
            f"peer speaks protocol {hello.protocol_version}, we speak {ours.protocol_version}"
        )
    if ours.genesis_hash and hello.genesis_hash != ours.genesis_hash:
        shown = hello.genesis_hash.hex()[:16] or "(none)"
        raise ProtocolMismatch(f"peer runs genesis {shown}…, not ours")


def local_hello(genesis_hash: bytes) -> Hello:
    return Hello(protocol_version=PROTOCOL_VERSION, genesis_hash=genesis_hash)


async def handshake(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    context: ssl.SSLContext,
    admission: Admission,
    timeout_s: float,
) -> Handshaken:
    """TLS, certificate and hello on a connected TCP stream, all within `timeout_s`.
    Whether we are the TLS server follows from how the stream was made (accepted or dialled)."""
    try:
        async with asyncio.timeout(timeout_s):
            await writer.start_tls(context)
            ssl_object = writer.get_extra_info("ssl_object")
            if not isinstance(ssl_object, ssl.SSLObject):
                raise HandshakeFailed("the stream has no TLS session")
            identity = peer_identity(
                ssl_object,
                trust=admission.trust,
                now_ms=admission.now_ms,
                revocations=admission.revocations,
                roles=PEER_ROLES,
            )
            certificate_der = ssl_object.getpeercert(binary_form=True)
            assert certificate_der, "peer_identity found a certificate"
            peer = check_peer(identity, admission)
            # Sent only now: the hello tells the peer we accepted its certificate.
            writer.write(
                encode_frame(admission.hello.encode(), frame_bytes_max=HELLO_FRAME_BYTES_MAX)
            )
            await writer.drain()
            payload = await read_frame(reader, frame_bytes_max=HELLO_FRAME_BYTES_MAX)
    except TimeoutError as error:
        raise HandshakeFailed(f"no handshake within {timeout_s:g} s") from error
    except asyncio.IncompleteReadError as error:
        raise HandshakeFailed(
            "peer closed the connection during the handshake (did it refuse our certificate?)"
        ) from error
    except ssl.SSLError as error:
        raise HandshakeFailed(f"TLS: {error.reason or error}") from error
    except OSError as error:
        detail = str(error) or type(error).__name__
        raise HandshakeFailed(f"connection lost during the handshake: {detail}") from error
    check_hello(decode_payload(Hello, payload, size_max=HELLO_FRAME_BYTES_MAX), admission.hello)
    return Handshaken(peer=peer, identity=identity, certificate_der=certificate_der)
