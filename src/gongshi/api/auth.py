"""The signed request header of the API, `X-Gongshi-Auth`: what a client signs and how a
node parses it. Light on purpose (codec and crypto only): the SDK imports it; the node's
checks against chain state are in `gongshi.api.access`.

    X-Gongshi-Auth: <public key hex>.<unix ms>.<signature hex>

The signature (chain suite) is over `auth_message`: the canonical CBOR array of the domain
`gongshi-api-auth`, the chain id, the genesis hash, the timestamp and the public key, so a
header is good on every node of one chain, on no other chain, and means nothing else the key
might sign.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from gongshi.api.errors import AuthenticationFailed
from gongshi.codec import encode_value
from gongshi.crypto import PrivateKey

AUTH_HEADER: Final = "X-Gongshi-Auth"
AUTH_DOMAIN: Final = "gongshi-api-auth"
AUTH_WINDOW_MS: Final = 5 * 60 * 1000  # a header is accepted this long either side of now
HEADER_CHARS_MAX: Final = 1024
TIMESTAMP_DIGITS_MAX: Final = 15


def auth_message(
    *, chain_id: str, genesis_hash: bytes, timestamp_ms: int, public_key: bytes
) -> bytes:
    """The bytes a member signs to authenticate API requests (canonical CBOR)."""
    return encode_value([AUTH_DOMAIN, chain_id, genesis_hash, timestamp_ms, public_key])


def auth_header(key: PrivateKey, *, chain_id: str, genesis_hash: bytes, timestamp_ms: int) -> str:
    """The `X-Gongshi-Auth` value of `key` at `timestamp_ms` (unix milliseconds)."""
    public_key = key.public_key_bytes()
    message = auth_message(
        chain_id=chain_id,
        genesis_hash=genesis_hash,
        timestamp_ms=timestamp_ms,
        public_key=public_key,
    )
    return f"{public_key.hex()}.{timestamp_ms}.{key.sign(message).hex()}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthHeader:
    public_key: bytes
    timestamp_ms: int
    signature: bytes


def parse_auth_header(text: str) -> AuthHeader:
    """The parts of an `X-Gongshi-Auth` value; AuthenticationFailed if malformed."""
    parts = text.strip().split(".") if len(text) <= HEADER_CHARS_MAX else []
    if len(parts) != 3 or not parts[1].isdigit() or len(parts[1]) > TIMESTAMP_DIGITS_MAX:
        raise AuthenticationFailed(
            f"malformed {AUTH_HEADER}: expected <public key hex>.<unix ms>.<signature hex>"
        )
    try:
        public_key, signature = bytes.fromhex(parts[0]), bytes.fromhex(parts[2])
    except ValueError:
        raise AuthenticationFailed(
            f"malformed {AUTH_HEADER}: key or signature is not hex"
        ) from None
    if not public_key or not signature:
        raise AuthenticationFailed(f"malformed {AUTH_HEADER}: empty key or signature")
    return AuthHeader(public_key=public_key, timestamp_ms=int(parts[1]), signature=signature)
