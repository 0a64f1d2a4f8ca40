"""The intl suite against RFC 8032 and Wycheproof, plus its own encryption format."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings
from hypothesis import strategies as st

from gongshi.crypto import get_suite
from gongshi.crypto.errors import InvalidAeadKey, InvalidNonce, MalformedCiphertext
from gongshi.crypto.intl import (
    CIPHERTEXT_OVERHEAD,
    INTL,
    IntlPrivateKey,
    hkdf_sha256,
    seal_to_ed25519,
    x25519_shared_secret,
)
from gongshi.errors import DecryptionError, InvalidKey, SizeLimitExceeded

VECTORS = Path(__file__).resolve().parent.parent / "vectors"


def wycheproof_cases(name: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    data = json.loads((VECTORS / "wycheproof" / name).read_text())
    return [(group, case) for group in data["testGroups"] for case in group["tests"]]


def case_id(item: tuple[dict[str, Any], dict[str, Any]]) -> str:
    return f"tc{item[1]['tcId']}"


RFC8032 = json.loads((VECTORS / "ed25519_rfc8032.json").read_text())["tests"]


def test_registry_returns_the_intl_singleton() -> None:
    assert get_suite("intl") is INTL
    assert INTL.public_key_size == 32 and INTL.signature_size == 64


@pytest.mark.parametrize("vector", RFC8032, ids=lambda v: v["desc"])
def test_rfc8032_key_derivation_and_signature(vector: dict[str, str]) -> None:
    key = IntlPrivateKey(INTL, bytes.fromhex(vector["secret_key"]))
    message = bytes.fromhex(vector["msg"])
    assert key.public_key_bytes().hex() == vector["public_key"]
    assert key.sign(message).hex() == vector["signature"]
    assert INTL.verify(key.public_key_bytes(), message, bytes.fromhex(vector["signature"]))


@pytest.mark.parametrize("item", wycheproof_cases("ed25519_test.json"), ids=case_id)
def test_wycheproof_ed25519(item: tuple[dict[str, Any], dict[str, Any]]) -> None:
    group, case = item
    public_key = bytes.fromhex(group["publicKey"]["pk"])
    verdict = INTL.verify(public_key, bytes.fromhex(case["msg"]), bytes.fromhex(case["sig"]))
    assert verdict is (case["result"] == "valid")


@pytest.mark.parametrize("item", wycheproof_cases("x25519_test.json"), ids=case_id)
def test_wycheproof_x25519(item: tuple[dict[str, Any], dict[str, Any]]) -> None:
    _, case = item
    private, public = bytes.fromhex(case["private"]), bytes.fromhex(case["public"])
    expected = bytes.fromhex(case["shared"])
    if case["result"] == "valid":
        assert x25519_shared_secret(private, public) == expected
        return
    # "acceptable": rejecting is allowed (we reject all-zero results); accepting must be right
    try:
        shared = x25519_shared_secret(private, public)
    except DecryptionError:
        assert expected == bytes(32)
    else:
        assert shared == expected


@pytest.mark.parametrize("item", wycheproof_cases("hkdf_sha256_test.json"), ids=case_id)
def test_wycheproof_hkdf_sha256(item: tuple[dict[str, Any], dict[str, Any]]) -> None:
    _, case = item
    arguments = {
        "salt": bytes.fromhex(case["salt"]),
        "info": bytes.fromhex(case["info"]),
        "length": case["size"],
    }
    if case["result"] == "valid":
        assert hkdf_sha256(bytes.fromhex(case["ikm"]), **arguments).hex() == case["okm"]
    else:
        with pytest.raises(SizeLimitExceeded):
            hkdf_sha256(bytes.fromhex(case["ikm"]), **arguments)


def supported_aes_gcm(item: tuple[dict[str, Any], dict[str, Any]]) -> bool:
    group, _ = item
    return bool(group["keySize"] == 256 and group["ivSize"] == 96 and group["tagSize"] == 128)


AES_GCM_CASES = [item for item in wycheproof_cases("aes_gcm_test.json") if supported_aes_gcm(item)]


def test_aes_gcm_vector_selection_is_not_empty() -> None:
    assert len(AES_GCM_CASES) > 30


@pytest.mark.parametrize("item", AES_GCM_CASES, ids=case_id)
def test_wycheproof_aes_256_gcm(item: tuple[dict[str, Any], dict[str, Any]]) -> None:
    _, case = item
    key, nonce = bytes.fromhex(case["key"]), bytes.fromhex(case["iv"])
    aad, message = bytes.fromhex(case["aad"]), bytes.fromhex(case["msg"])
    sealed = bytes.fromhex(case["ct"] + case["tag"])
    if case["result"] == "valid":
        assert INTL.aead_encrypt(key, nonce, message, aad) == sealed
        assert INTL.aead_decrypt(key, nonce, sealed, aad) == message
    else:
        with pytest.raises(DecryptionError):
            INTL.aead_decrypt(key, nonce, sealed, aad)


def test_validate_public_key_rejects_bad_points() -> None:
    key = INTL.generate_private_key()
    INTL.validate_public_key(key.public_key_bytes())
    for bad in (b"", bytes(31), bytes(32), b"\x01" + bytes(31), key.public_key_bytes() + b"\x00"):
        with pytest.raises(InvalidKey):
            INTL.validate_public_key(bad)


def test_encrypt_to_format_and_failures() -> None:
    key = INTL.generate_private_key()
    ciphertext = INTL.encrypt_to(key.public_key_bytes(), b"payload key")
    assert ciphertext[0] == 1
    assert len(ciphertext) == len(b"payload key") + CIPHERTEXT_OVERHEAD
    assert key.decrypt(ciphertext) == b"payload key"
    with pytest.raises(DecryptionError):
        INTL.generate_private_key().decrypt(ciphertext)
    with pytest.raises(MalformedCiphertext):
        key.decrypt(b"\x02" + ciphertext[1:])
    with pytest.raises(MalformedCiphertext):
        key.decrypt(ciphertext[: CIPHERTEXT_OVERHEAD - 1])
    with pytest.raises(DecryptionError):  # ephemeral key of order 1 (u = 0)
        key.decrypt(b"\x01" + bytes(32) + ciphertext[33:])
    with pytest.raises(InvalidKey):
        INTL.encrypt_to(bytes(32), b"x")


@settings(max_examples=40, deadline=None)
@given(plaintext=st.binary(max_size=300), position=st.integers(min_value=0))
def test_encrypt_to_round_trip_and_any_bit_flip_fails(plaintext: bytes, position: int) -> None:
    key = INTL.derive_private_key(b"recipient seed for the property test, 32+ bytes")
    ciphertext = INTL.encrypt_to(key.public_key_bytes(), plaintext)
    assert key.decrypt(ciphertext) == plaintext
    index = position % len(ciphertext)
    tampered = bytearray(ciphertext)
    tampered[index] ^= 0x01
    with pytest.raises(DecryptionError):
        key.decrypt(bytes(tampered))


def test_aead_rejects_wrong_sizes() -> None:
    with pytest.raises(InvalidAeadKey):
        INTL.aead_encrypt(bytes(16), bytes(12), b"")
    with pytest.raises(InvalidNonce):
        INTL.aead_encrypt(bytes(32), bytes(16), b"")
    with pytest.raises(DecryptionError):
        INTL.aead_decrypt(bytes(32), bytes(12), bytes(15))


def test_encrypt_to_matches_the_documented_format_rebuilt_from_primitives() -> None:
    # Recompute format 1 from the module docstring with `cryptography` alone.
    vector = RFC8032[1]
    recipient_seed = bytes.fromhex(vector["secret_key"])
    recipient = IntlPrivateKey(INTL, recipient_seed)
    ephemeral_secret = bytes(range(32))
    ciphertext = seal_to_ed25519(ephemeral_secret, recipient.public_key_bytes(), b"wrapped key")

    # X25519 secret of an Ed25519 seed: the clamped first half of SHA-512(seed) (RFC 8032 5.1.5)
    recipient_x_secret = X25519PrivateKey.from_private_bytes(
        hashlib.sha512(recipient_seed).digest()[:32]
    )
    recipient_x = recipient_x_secret.public_key().public_bytes_raw()
    ephemeral = X25519PrivateKey.from_private_bytes(ephemeral_secret)
    ephemeral_public = ephemeral.public_key().public_bytes_raw()
    shared = recipient_x_secret.exchange(ephemeral.public_key())
    okm = HKDF(
        algorithm=hashes.SHA256(),
        length=44,
        salt=None,
        info=b"gongshi/intl/encrypt-to/v1" + ephemeral_public + recipient_x,
    ).derive(shared)
    header = b"\x01" + ephemeral_public
    expected = header + AESGCM(okm[:32]).encrypt(okm[32:], b"wrapped key", header)
    assert ciphertext == expected
    assert recipient.decrypt(ciphertext) == b"wrapped key"
