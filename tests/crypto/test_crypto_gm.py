"""The gm suite against GB/T and RFC 8998 examples and Wycheproof."""

from __future__ import annotations

import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from tongsuopy.crypto.ciphers import Cipher, algorithms, modes

from gongshi.crypto import get_suite
from gongshi.crypto.errors import EmptyPlaintext, InvalidAeadKey, InvalidNonce, MalformedCiphertext
from gongshi.crypto.gm import GM, SM2_ORDER, GmPrivateKey, signature_to_der, sm3
from gongshi.errors import DecryptionError, InvalidKey

VECTORS = Path(__file__).resolve().parent.parent / "vectors"


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


def wycheproof_cases(name: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    data = load(f"wycheproof/{name}")
    return [(group, case) for group in data["testGroups"] for case in group["tests"]]


def case_id(item: tuple[dict[str, Any], dict[str, Any]]) -> str:
    return f"tc{item[1]['tcId']}"


SM2_SIGNATURE = load("sm2.json")["signature"]
SM2_ENCRYPTION = load("sm2.json")["encryption"]


def vector_public_key(vector: dict[str, str]) -> bytes:
    return bytes.fromhex("04" + vector["public_key_x"] + vector["public_key_y"])


def vector_signature() -> bytes:
    return bytes.fromhex(SM2_SIGNATURE["r"] + SM2_SIGNATURE["s"])


def test_registry_returns_the_gm_singleton() -> None:
    assert get_suite("gm") is GM
    assert (GM.public_key_size, GM.signature_size, GM.aead_key_size) == (65, 64, 16)


@pytest.mark.parametrize("vector", load("sm3.json")["tests"], ids=lambda v: v["desc"])
def test_sm3_standard_examples(vector: dict[str, str]) -> None:
    assert GM.hash(vector["msg_ascii"].encode()).hex() == vector["digest"]


@pytest.mark.parametrize("vector", load("sm4.json")["tests"], ids=lambda v: v["desc"])
def test_sm4_block_examples_including_a_million_chained_encryptions(
    vector: dict[str, Any],
) -> None:
    # SM4 as Tongsuo provides it to SM4-GCM; the chain is iterated literally (about 1 s)
    key = bytes.fromhex(vector["key"])
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    block = bytes.fromhex(vector["plaintext"])
    for _ in range(vector["iterations"]):
        block = encryptor.update(block)
    assert block.hex() == vector["ciphertext"]


@pytest.mark.parametrize("vector", load("sm4_gcm.json")["tests"], ids=lambda v: v["desc"])
def test_sm4_gcm_rfc8998(vector: dict[str, str]) -> None:
    key, nonce = bytes.fromhex(vector["key"]), bytes.fromhex(vector["iv"])
    aad, plaintext = bytes.fromhex(vector["aad"]), bytes.fromhex(vector["plaintext"])
    sealed = bytes.fromhex(vector["ciphertext"] + vector["tag"])
    assert GM.aead_encrypt(key, nonce, plaintext, aad) == sealed
    assert GM.aead_decrypt(key, nonce, sealed, aad) == plaintext


SM4_GCM_CASES = [
    item
    for item in wycheproof_cases("sm4_gcm_test.json")
    if item[0]["ivSize"] == 96 and item[0]["tagSize"] == 128 and item[0]["keySize"] == 128
]


def test_sm4_gcm_vector_selection_is_not_empty() -> None:
    assert len(SM4_GCM_CASES) > 30


@pytest.mark.parametrize("item", SM4_GCM_CASES, ids=case_id)
def test_wycheproof_sm4_gcm(item: tuple[dict[str, Any], dict[str, Any]]) -> None:
    _, case = item
    key, nonce = bytes.fromhex(case["key"]), bytes.fromhex(case["iv"])
    aad, message = bytes.fromhex(case["aad"]), bytes.fromhex(case["msg"])
    sealed = bytes.fromhex(case["ct"] + case["tag"])
    if case["result"] == "valid":
        assert GM.aead_encrypt(key, nonce, message, aad) == sealed
        assert GM.aead_decrypt(key, nonce, sealed, aad) == message
    else:
        with pytest.raises(DecryptionError):
            GM.aead_decrypt(key, nonce, sealed, aad)


@pytest.mark.parametrize("item", wycheproof_cases("hmac_sm3_test.json"), ids=case_id)
def test_wycheproof_hmac_sm3_exercises_the_sm3_engine(
    item: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    # The suite has no MAC; HMAC-SM3 runs the same hashlib SM3 over many input lengths.
    group, case = item
    full = hmac.new(bytes.fromhex(case["key"]), bytes.fromhex(case["msg"]), "sm3").digest()
    matches = hmac.compare_digest(full[: group["tagSize"] // 8], bytes.fromhex(case["tag"]))
    assert matches is (case["result"] == "valid")


def test_sm2_vector_z_a_and_e_follow_the_documented_formula() -> None:
    curve_a = "fffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffc"
    curve_b = "28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93"
    base = (
        "32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7"
        "bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0"
    )
    user_id = SM2_SIGNATURE["user_id_ascii"].encode()
    z_a = sm3(
        (len(user_id) * 8).to_bytes(2, "big")
        + user_id
        + bytes.fromhex(curve_a + curve_b + base)
        + vector_public_key(SM2_SIGNATURE)[1:]
    )
    assert z_a.hex() == SM2_SIGNATURE["z_a"]
    assert sm3(z_a + SM2_SIGNATURE["msg_ascii"].encode()).hex() == SM2_SIGNATURE["e"]


def test_sm2_standard_signature_verifies() -> None:
    public_key = vector_public_key(SM2_SIGNATURE)
    assert GM.verify(public_key, SM2_SIGNATURE["msg_ascii"].encode(), vector_signature())


def test_sm2_private_key_gives_the_standard_public_key() -> None:
    key = GmPrivateKey(GM, int(SM2_SIGNATURE["private_key"], 16))
    assert key.public_key_bytes() == vector_public_key(SM2_SIGNATURE)


def test_sm2_fixed_k_signature_cannot_be_reproduced_but_ours_verify() -> None:
    # tongsuopy draws k inside Tongsuo with no way to inject it, so the fixed-k (r, s) cannot
    # be reproduced; a signature by the standard's key must still verify under its public key.
    key = GmPrivateKey(GM, int(SM2_SIGNATURE["private_key"], 16))
    message = SM2_SIGNATURE["msg_ascii"].encode()
    signature = key.sign(message)
    assert signature != vector_signature()  # fresh k each time
    assert GM.verify(vector_public_key(SM2_SIGNATURE), message, signature)


@pytest.mark.parametrize("part", ["message", "signature", "public_key"])
def test_sm2_standard_signature_rejected_with_any_byte_changed(part: str) -> None:
    inputs = {
        "public_key": vector_public_key(SM2_SIGNATURE),
        "message": SM2_SIGNATURE["msg_ascii"].encode(),
        "signature": vector_signature(),
    }
    original = inputs[part]
    for index in range(1 if part == "public_key" else 0, len(original)):
        changed = bytearray(original)
        changed[index] ^= 0x01
        mutated = dict(inputs, **{part: bytes(changed)})
        assert not GM.verify(mutated["public_key"], mutated["message"], mutated["signature"])


@pytest.mark.parametrize(
    ("r", "s"),
    [(0, 1), (1, 0), (SM2_ORDER, 1), (1, SM2_ORDER), (2**256 - 1, 1), (1, 2**256 - 1)],
)
def test_out_of_range_r_s_are_not_canonical(r: int, s: int) -> None:
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert signature_to_der(signature) is None
    assert not GM.verify(vector_public_key(SM2_SIGNATURE), b"m", signature)


def test_sm2_standard_encryption_example_decrypts() -> None:
    key = GmPrivateKey(GM, int(SM2_ENCRYPTION["private_key"], 16))
    ciphertext = bytes.fromhex(SM2_ENCRYPTION["c1"] + SM2_ENCRYPTION["c3"] + SM2_ENCRYPTION["c2"])
    assert key.decrypt(ciphertext) == SM2_ENCRYPTION["msg_ascii"].encode()
    tampered = bytearray(ciphertext)
    tampered[-1] ^= 0x01  # C2 changed: the C3 digest no longer matches
    with pytest.raises(DecryptionError):
        key.decrypt(bytes(tampered))


def test_sm2_encryption_format_and_failures() -> None:
    key = GM.generate_private_key()
    ciphertext = GM.encrypt_to(key.public_key_bytes(), b"payload key")
    assert ciphertext[0] == 0x04 and len(ciphertext) == 65 + 32 + len(b"payload key")
    assert key.decrypt(ciphertext) == b"payload key"
    with pytest.raises(DecryptionError):
        GM.generate_private_key().decrypt(ciphertext)
    with pytest.raises(MalformedCiphertext):
        key.decrypt(ciphertext[:97])
    with pytest.raises(DecryptionError):
        key.decrypt(b"\x02" + ciphertext[1:])
    off_curve = bytearray(ciphertext)
    off_curve[64] ^= 0x01  # y of C1 changed: not on the curve
    with pytest.raises(DecryptionError):
        key.decrypt(bytes(off_curve))
    with pytest.raises(EmptyPlaintext):
        GM.encrypt_to(key.public_key_bytes(), b"")


def test_public_key_validation() -> None:
    public_key = GM.generate_private_key().public_key_bytes()
    GM.validate_public_key(public_key)
    off_curve = public_key[:-1] + bytes([public_key[-1] ^ 1])
    compressed = bytes([2 + (public_key[-1] & 1)]) + public_key[1:33]
    for bad in (b"", public_key[:64], off_curve, b"\x04" + bytes(64), compressed):
        with pytest.raises(InvalidKey):
            GM.validate_public_key(bad)
        with pytest.raises(InvalidKey):
            GM.encrypt_to(bad, b"x")


def test_private_scalar_range_is_enforced() -> None:
    for scalar in (0, SM2_ORDER - 1, SM2_ORDER):
        with pytest.raises(InvalidKey):
            GmPrivateKey(GM, scalar)
    assert GmPrivateKey(GM, SM2_ORDER - 2).public_key_bytes()[0] == 0x04


def test_aead_rejects_wrong_sizes() -> None:
    with pytest.raises(InvalidAeadKey):
        GM.aead_encrypt(bytes(32), bytes(12), b"")
    with pytest.raises(InvalidNonce):
        GM.aead_encrypt(bytes(16), bytes(8), b"")
    with pytest.raises(DecryptionError):
        GM.aead_decrypt(bytes(16), bytes(12), bytes(15))
