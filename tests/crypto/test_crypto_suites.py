"""Behaviour both suites share: the `Suite` contract, round trips and failure cases."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongshi.crypto import ADDRESS_SIZE, SUITE_NAMES, Suite, get_suite
from gongshi.crypto.errors import InvalidSeed
from gongshi.errors import ConfigError, DecryptionError, InvalidKey, UnknownSuite

SUITES = [get_suite(name) for name in SUITE_NAMES]
OTHER = {"gm": "intl", "intl": "gm"}


@pytest.fixture(params=SUITE_NAMES)
def suite(request: pytest.FixtureRequest) -> Suite:
    return get_suite(request.param)


def test_registry_names_and_unknown_suite() -> None:
    assert SUITE_NAMES == ("gm", "intl")
    assert [s.name for s in SUITES] == list(SUITE_NAMES)
    assert get_suite("gm") is get_suite("gm")
    for bad in ("GM", "", "sm2", None, 3):
        with pytest.raises(UnknownSuite, match="gm, intl"):
            get_suite(bad)  # type: ignore[arg-type]


def test_sign_verify_and_tampering(suite: Suite) -> None:
    key = suite.generate_private_key()
    public_key = key.public_key_bytes()
    assert len(public_key) == suite.public_key_size
    signature = key.sign(b"transfer 10 to bob")
    assert len(signature) == suite.signature_size
    assert suite.verify(public_key, b"transfer 10 to bob", signature)
    assert not suite.verify(public_key, b"transfer 11 to bob", signature)
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert not suite.verify(public_key, b"transfer 10 to bob", flipped)
    other = suite.generate_private_key().public_key_bytes()
    assert not suite.verify(other, b"transfer 10 to bob", signature)


def test_signatures_of_one_suite_do_not_verify_in_the_other(suite: Suite) -> None:
    key = suite.generate_private_key()
    other = get_suite(OTHER[suite.name])
    assert not other.verify(key.public_key_bytes(), b"m", key.sign(b"m"))


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(SUITE_NAMES),
    public_key=st.one_of(st.binary(max_size=80), st.none(), st.text(max_size=5)),
    message=st.one_of(st.binary(max_size=40), st.none(), st.integers()),
    signature=st.one_of(st.binary(max_size=80), st.none(), st.text(max_size=5)),
)
def test_verify_never_raises(
    name: str, public_key: object, message: object, signature: object
) -> None:
    verdict = get_suite(name).verify(public_key, message, signature)  # type: ignore[arg-type]
    assert verdict is False


def test_verify_with_a_signature_of_the_right_size_but_garbage(suite: Suite) -> None:
    key = suite.generate_private_key()
    assert not suite.verify(key.public_key_bytes(), b"m", bytes(suite.signature_size))
    assert not suite.verify(key.public_key_bytes(), b"m", b"\xff" * suite.signature_size)
    assert not suite.verify(bytes(suite.public_key_size), b"m", key.sign(b"m"))


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(SUITE_NAMES), plaintext=st.binary(min_size=1, max_size=500))
def test_encrypt_to_round_trip(name: str, plaintext: bytes) -> None:
    suite = get_suite(name)
    key = suite.derive_private_key(b"encrypt-to round-trip recipient seed 0123456789")
    ciphertext = suite.encrypt_to(key.public_key_bytes(), plaintext)
    assert plaintext not in ciphertext or len(plaintext) < 4
    assert key.decrypt(ciphertext) == plaintext


def test_encryption_is_randomised(suite: Suite) -> None:
    key = suite.generate_private_key()
    first = suite.encrypt_to(key.public_key_bytes(), b"same")
    assert first != suite.encrypt_to(key.public_key_bytes(), b"same")


def test_decrypt_garbage_raises_decryption_error(suite: Suite) -> None:
    key = suite.generate_private_key()
    for garbage in (b"", b"\x01", bytes(200), b"\x04" + bytes(150), b"\x01" * 120):
        with pytest.raises(DecryptionError):
            key.decrypt(garbage)


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(SUITE_NAMES),
    plaintext=st.binary(max_size=300),
    aad=st.binary(max_size=40),
    data=st.data(),
)
def test_aead_round_trip_and_wrong_key_nonce_aad(
    name: str, plaintext: bytes, aad: bytes, data: st.DataObject
) -> None:
    suite = get_suite(name)
    key = data.draw(st.binary(min_size=suite.aead_key_size, max_size=suite.aead_key_size))
    nonce = data.draw(st.binary(min_size=12, max_size=12))
    sealed = suite.aead_encrypt(key, nonce, plaintext, aad)
    assert len(sealed) == len(plaintext) + 16
    assert suite.aead_decrypt(key, nonce, sealed, aad) == plaintext
    wrong_key = bytes([key[0] ^ 1]) + key[1:]
    wrong_nonce = bytes([nonce[0] ^ 1]) + nonce[1:]
    for arguments in ((wrong_key, nonce, aad), (key, wrong_nonce, aad), (key, nonce, aad + b"x")):
        with pytest.raises(DecryptionError):
            suite.aead_decrypt(arguments[0], arguments[1], sealed, arguments[2])
    tampered = bytearray(sealed)
    tampered[data.draw(st.integers(0, len(sealed) - 1))] ^= 0x80
    with pytest.raises(DecryptionError):
        suite.aead_decrypt(key, nonce, bytes(tampered), aad)


def test_pem_save_load_mode_and_address(suite: Suite, tmp_path: Path) -> None:
    key = suite.generate_private_key()
    path = tmp_path / "node.key"
    key.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = suite.load_private_key(path)
    assert loaded.public_key_bytes() == key.public_key_bytes()
    assert suite.verify(key.public_key_bytes(), b"m", loaded.sign(b"m"))
    assert key.address() == suite.hash(key.public_key_bytes())[:ADDRESS_SIZE]
    assert len(key.address()) == ADDRESS_SIZE
    assert loaded.address() == key.address()


def test_loading_wrong_suite_or_garbage_pem_raises_invalid_key(suite: Suite) -> None:
    other_pem = get_suite(OTHER[suite.name]).generate_private_key().to_pem()
    truncated = suite.generate_private_key().to_pem()[:60]
    for bad in (other_pem, truncated, b"", b"garbage", b"-----BEGIN PRIVATE KEY-----\n\n"):
        with pytest.raises(InvalidKey, match=suite.name):
            suite.load_private_key_pem(bad)


def test_loading_a_missing_file_raises_config_error(suite: Suite, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        suite.load_private_key(tmp_path / "absent.key")


def test_derived_keys_are_deterministic_and_seed_bound(suite: Suite) -> None:
    seed = b"validator-0 of the simulation, at least 32 bytes"
    first, again = suite.derive_private_key(seed), suite.derive_private_key(seed)
    assert first.public_key_bytes() == again.public_key_bytes()
    other = suite.derive_private_key(seed + b"!")
    assert other.public_key_bytes() != first.public_key_bytes()
    with pytest.raises(InvalidSeed):
        suite.derive_private_key(b"short")


def test_validate_public_key_accepts_generated_keys(suite: Suite) -> None:
    suite.validate_public_key(suite.generate_private_key().public_key_bytes())
    with pytest.raises(InvalidKey):
        suite.validate_public_key(b"\x00" * suite.public_key_size)


def test_concurrent_sign_and_verify_with_one_shared_key(suite: Suite) -> None:
    key = suite.generate_private_key()
    failures: list[int] = []

    def work(worker: int) -> None:
        for index in range(150):
            message = f"{worker}:{index}".encode()
            signature = key.sign(message)
            ok = suite.verify(key.public_key_bytes(), message, signature)
            if not ok or suite.verify(key.public_key_bytes(), message + b"x", signature):
                failures.append(index)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
