"""SM2 cross-checks against the independent pure-Python `gmssl` (3.2.2).

gmssl conventions: keys are hex strings, the public key as x || y without the 04 tag;
signatures are hex r || s (non-ASN.1 mode); `sign_with_sm3` / `verify_with_sm3` apply the
Z_A prefix with the default user ID; mode=1 encryption is C1 || C3 || C2 with C1 as x || y.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gmssl import sm2 as gmssl_sm2
from hypothesis import given, settings
from hypothesis import strategies as st
from tongsuopy.crypto.serialization import load_pem_private_key

from gongshi.crypto.gm import GM, GmPrivateKey

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
SM2_SIGNATURE = json.loads((VECTORS / "sm2.json").read_text())["signature"]


def gmssl_peer(key: GmPrivateKey) -> gmssl_sm2.CryptSM2:
    scalar = load_pem_private_key(key.to_pem(), password=None).private_numbers().private_value
    peer = gmssl_sm2.CryptSM2(private_key=f"{scalar:064x}", public_key="", mode=1)
    # set after construction: the constructor's lstrip("04") would eat leading 0/4 digits
    peer.public_key = key.public_key_bytes()[1:].hex()
    return peer


KEY = GM.derive_private_key(b"gmssl cross-check key: thirty-two bytes or more")


@settings(max_examples=12, deadline=None)
@given(message=st.binary(max_size=200))
def test_our_signatures_verify_in_gmssl(message: bytes) -> None:
    signature = KEY.sign(message)
    peer = gmssl_peer(KEY)
    assert peer.verify_with_sm3(signature.hex(), message)
    assert not peer.verify_with_sm3(signature.hex(), message + b"!")


@settings(max_examples=12, deadline=None)
@given(message=st.binary(max_size=200))
def test_gmssl_signatures_verify_in_ours(message: bytes) -> None:
    signature = bytes.fromhex(gmssl_peer(KEY).sign_with_sm3(message))
    assert GM.verify(KEY.public_key_bytes(), message, signature)
    assert not GM.verify(KEY.public_key_bytes(), message + b"!", signature)


def test_gmssl_reproduces_the_standard_fixed_k_signature_that_we_verify() -> None:
    key = GmPrivateKey(GM, int(SM2_SIGNATURE["private_key"], 16))
    message = SM2_SIGNATURE["msg_ascii"].encode()
    signature = gmssl_peer(key).sign_with_sm3(message, SM2_SIGNATURE["k"])
    assert signature == SM2_SIGNATURE["r"] + SM2_SIGNATURE["s"]
    assert GM.verify(key.public_key_bytes(), message, bytes.fromhex(signature))


@settings(max_examples=8, deadline=None)
@given(plaintext=st.binary(min_size=1, max_size=100))
def test_encryption_interoperates_with_gmssl(plaintext: bytes) -> None:
    peer = gmssl_peer(KEY)
    ours = GM.encrypt_to(KEY.public_key_bytes(), plaintext)
    assert peer.decrypt(ours[1:]) == plaintext  # gmssl's C1 has no 04 tag
    theirs = peer.encrypt(plaintext)
    assert KEY.decrypt(b"\x04" + theirs) == plaintext


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), message=st.binary(max_size=300))
def test_cross_check_campaign_over_many_keys(seed: bytes, message: bytes) -> None:
    key = GM.derive_private_key(seed)
    peer = gmssl_peer(key)
    assert peer.verify_with_sm3(key.sign(message).hex(), message)
    assert GM.verify(key.public_key_bytes(), message, bytes.fromhex(peer.sign_with_sm3(message)))
    if message:
        assert peer.decrypt(GM.encrypt_to(key.public_key_bytes(), message)[1:]) == message
        assert key.decrypt(b"\x04" + peer.encrypt(message)) == message
