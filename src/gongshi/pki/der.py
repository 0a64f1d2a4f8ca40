"""The few DER (ITU-T X.690) shapes our certificate extensions use, encoded and parsed strictly.

Only definite, minimally encoded lengths and single-byte tags are accepted, and a value must
fill its input exactly, so every extension value has exactly one accepted encoding.
"""

from __future__ import annotations

from gongshi.pki.errors import BadIdentityExtension

TAG_OCTET_STRING = 0x04
TAG_UTF8_STRING = 0x0C
TAG_SEQUENCE = 0x30

# Our extension values are a role name or a suite name and a public key: far below this.
VALUE_SIZE_MAX = 1024


def encode(tag: int, content: bytes) -> bytes:
    """One tag-length-value: `tag` is a single byte, the length DER-minimal."""
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    length_bytes = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length_bytes)]) + length_bytes + content


def encode_utf8_string(text: str) -> bytes:
    return encode(TAG_UTF8_STRING, text.encode("utf-8"))


def encode_sequence(*elements: bytes) -> bytes:
    return encode(TAG_SEQUENCE, b"".join(elements))


def _read_length(data: bytes, offset: int) -> tuple[int, int]:
    """The length at `offset` and the offset just after it; DER-minimal only."""
    if offset >= len(data):
        raise BadIdentityExtension("DER value is truncated (no length)")
    first = data[offset]
    if first < 0x80:
        return first, offset + 1
    count = first & 0x7F
    if count == 0 or count > 2:  # 0: indefinite length; > 2: larger than VALUE_SIZE_MAX
        raise BadIdentityExtension("DER length is indefinite or too large")
    if offset + 1 + count > len(data):
        raise BadIdentityExtension("DER value is truncated (length)")
    length = int.from_bytes(data[offset + 1 : offset + 1 + count], "big")
    if length < 0x80 or data[offset + 1] == 0:
        raise BadIdentityExtension("DER length is not minimally encoded")
    return length, offset + 1 + count


def split_elements(data: bytes) -> list[tuple[int, bytes]]:
    """All consecutive TLVs of `data` as (tag, content); `data` must hold nothing else."""
    if len(data) > VALUE_SIZE_MAX:
        raise BadIdentityExtension(f"DER value is larger than {VALUE_SIZE_MAX} bytes")
    elements: list[tuple[int, bytes]] = []
    offset = 0
    while offset < len(data):  # bounded: each pass consumes at least two bytes
        tag = data[offset]
        length, start = _read_length(data, offset + 1)
        end = start + length
        if end > len(data):
            raise BadIdentityExtension("DER value is truncated (content)")
        elements.append((tag, data[start:end]))
        offset = end
    return elements


def decode_single(data: bytes, tag: int, what: str) -> bytes:
    """The content of the single TLV that is all of `data`, which must carry `tag`."""
    elements = split_elements(data)
    if len(elements) != 1 or elements[0][0] != tag:
        raise BadIdentityExtension(f"{what} is not a single DER value of tag 0x{tag:02x}")
    return elements[0][1]


def decode_utf8_string(data: bytes, what: str) -> str:
    content = decode_single(data, TAG_UTF8_STRING, what)
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadIdentityExtension(f"{what} is not valid UTF-8") from error
