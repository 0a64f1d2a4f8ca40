"""Field kinds shared by the Gongshi types (one definition per rule, named after its meaning)."""

from __future__ import annotations

from gongshi.codec.kinds import Bytes, Text, UInt
from gongshi.codec.limits import (
    ERROR_MESSAGE_BYTES_MAX,
    HASH_SIZE,
    PUBLIC_KEY_SIZES,
    TEXT_NAME_BYTES_MAX,
)

UINT64 = UInt()
HASH = Bytes(sizes=(HASH_SIZE,))
PUBLIC_KEY = Bytes(sizes=PUBLIC_KEY_SIZES)
CHAIN_ID = Text(
    bytes_max=TEXT_NAME_BYTES_MAX,
    pattern=r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}",
    pattern_hint="a chain id (1-64 of A-Z a-z 0-9 . _ -, not starting with . _ -)",
)
# A contract: a system-contract name (lower-case identifier) or a contract address written as
# 0x and 40 lower-case hex digits. The two forms cannot be confused (a name starts a-z).
CONTRACT = Text(
    bytes_max=TEXT_NAME_BYTES_MAX,
    pattern=r"0x[0-9a-f]{40}|[a-z][a-z0-9_]{0,63}",
    pattern_hint="a system-contract name ([a-z][a-z0-9_]*, ≤ 64) or an address 0x + 40 hex",
)
# Method and event names: ASCII identifiers, as Python contract entry points are.
IDENTIFIER = Text(
    bytes_max=TEXT_NAME_BYTES_MAX,
    pattern=r"[A-Za-z_][A-Za-z0-9_]{0,63}",
    pattern_hint="an identifier ([A-Za-z_][A-Za-z0-9_]*, ≤ 64)",
)
ERROR_MESSAGE = Text(bytes_max=ERROR_MESSAGE_BYTES_MAX)
