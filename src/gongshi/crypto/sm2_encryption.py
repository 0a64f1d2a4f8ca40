"""SM2 public-key encryption (GB/T 32918.4) through Tongsuo, in the raw C1 || C3 || C2 order.

tongsuopy 1.0.1 has no public SM2-encryption API, so this module, and only this module, calls
its private cffi binding (`backend._lib.EVP_PKEY_encrypt` / `EVP_PKEY_decrypt` on the key's
`_evp_pkey`). Tongsuo speaks the GM/T 0009 ASN.1 form

    SEQUENCE { INTEGER x1, INTEGER y1, OCTET STRING c3 (SM3 digest), OCTET STRING c2 }

which we convert to and from the raw form C1 (04 || x1 || y1, 65 bytes) || C3 (32) || C2
with `cryptography`'s strict DER codec. The primitive itself is entirely Tongsuo's.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat import asn1
from tongsuopy.backends.tongsuo.backend import backend as _tongsuo

from gongshi.crypto.errors import MalformedCiphertext
from gongshi.errors import CryptoError, DecryptionError

COORDINATE_SIZE = 32
C1_SIZE = 1 + 2 * COORDINATE_SIZE
C3_SIZE = 32
OVERHEAD = C1_SIZE + C3_SIZE
UNCOMPRESSED_POINT_TAG = 0x04


@asn1.sequence
class Sm2CiphertextDer:
    """GM/T 0009 SM2Cipher."""

    x: int
    y: int
    hash: bytes
    ciphertext: bytes


def raw_to_der(ciphertext: bytes) -> bytes:
    """C1 || C3 || C2 -> GM/T 0009 DER; raises MalformedCiphertext on a bad layout."""
    if len(ciphertext) <= OVERHEAD:
        raise MalformedCiphertext(f"SM2 ciphertext must be longer than {OVERHEAD} bytes")
    if ciphertext[0] != UNCOMPRESSED_POINT_TAG:
        raise MalformedCiphertext("SM2 ciphertext C1 must be an uncompressed point (04 || x || y)")
    x = int.from_bytes(ciphertext[1 : 1 + COORDINATE_SIZE], "big")
    y = int.from_bytes(ciphertext[1 + COORDINATE_SIZE : C1_SIZE], "big")
    structure = Sm2CiphertextDer(
        x=x, y=y, hash=ciphertext[C1_SIZE:OVERHEAD], ciphertext=ciphertext[OVERHEAD:]
    )
    return asn1.encode_der(structure)


def der_to_raw(der: bytes) -> bytes:
    """GM/T 0009 DER (as Tongsuo outputs it) -> C1 || C3 || C2."""
    try:
        structure = asn1.decode_der(Sm2CiphertextDer, der)
    except ValueError as error:
        raise MalformedCiphertext(f"SM2 ciphertext is not GM/T 0009 DER: {error}") from error
    limit = 1 << (8 * COORDINATE_SIZE)
    if not (0 <= structure.x < limit and 0 <= structure.y < limit):
        raise MalformedCiphertext("SM2 ciphertext point coordinates are out of range")
    if len(structure.hash) != C3_SIZE:
        raise MalformedCiphertext(f"SM2 ciphertext C3 must be {C3_SIZE} bytes")
    return b"".join(
        (
            bytes([UNCOMPRESSED_POINT_TAG]),
            structure.x.to_bytes(COORDINATE_SIZE, "big"),
            structure.y.to_bytes(COORDINATE_SIZE, "big"),
            structure.hash,
            structure.ciphertext,
        )
    )


def _run_pkey_operation(evp_pkey: Any, *, encrypt: bool, data: bytes) -> bytes | None:
    """One EVP_PKEY_encrypt/decrypt call; None if Tongsuo reports failure (queue cleared)."""
    ffi, lib = _tongsuo._ffi, _tongsuo._lib
    context = lib.EVP_PKEY_CTX_new(evp_pkey, ffi.NULL)
    if context == ffi.NULL:
        _tongsuo._consume_errors()
        raise CryptoError("Tongsuo could not create an SM2 key context")
    context = ffi.gc(context, lib.EVP_PKEY_CTX_free)
    init = lib.EVP_PKEY_encrypt_init if encrypt else lib.EVP_PKEY_decrypt_init
    operation = lib.EVP_PKEY_encrypt if encrypt else lib.EVP_PKEY_decrypt
    output_size = ffi.new("size_t *")
    if init(context) != 1 or operation(context, ffi.NULL, output_size, data, len(data)) != 1:
        _tongsuo._consume_errors()
        return None
    output = ffi.new("unsigned char[]", max(output_size[0], 1))
    if operation(context, output, output_size, data, len(data)) != 1:
        _tongsuo._consume_errors()
        return None
    return bytes(ffi.buffer(output, output_size[0]))


def encrypt(evp_pkey: Any, plaintext: bytes) -> bytes:
    """SM2-encrypt `plaintext` (non-empty) to the key in `evp_pkey`; returns C1 || C3 || C2."""
    der = _run_pkey_operation(evp_pkey, encrypt=True, data=plaintext)
    if der is None:
        raise CryptoError("Tongsuo SM2 encryption failed")
    raw = der_to_raw(der)
    if len(raw) != OVERHEAD + len(plaintext):
        raise CryptoError("Tongsuo SM2 encryption returned a ciphertext of the wrong size")
    return raw


def decrypt(evp_pkey: Any, ciphertext: bytes) -> bytes:
    """Decrypt C1 || C3 || C2 with the private key in `evp_pkey`."""
    der = raw_to_der(ciphertext)
    plaintext = _run_pkey_operation(evp_pkey, encrypt=False, data=der)
    if plaintext is None:
        raise DecryptionError("SM2 decryption failed (wrong key, or corrupted ciphertext)")
    return plaintext
