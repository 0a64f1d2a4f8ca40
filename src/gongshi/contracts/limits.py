"""Bounds and gas prices of the contract runtime: one place, checked against each other.

Every size check happens before the allocation it guards. Gas figures are in the execution
meter's units (`gongshi.execution.gas`), where a state write costs 2,000 and a transaction
10,000: a statement costs about what CPython spends on it relative to a state write.
"""

from __future__ import annotations

# --- source (deploy time) ---------------------------------------------------------------------
SOURCE_BYTES_MAX = 64 * 1024
AST_NODES_MAX = 40_000
AST_DEPTH_MAX = 60
# Tokens in one statement (logical line): the parser's recursion grows with a statement's
# tokens (about one Python frame per three nesting levels on CPython 3.11), so this bounds it
# whatever the source, well inside PYTHON_FRAMES_NEEDED.
STATEMENT_TOKENS_MAX = 2000
PROBLEMS_MAX = 200  # problems reported per rejection; the rest are summarised

# --- values (run time) ------------------------------------------------------------------------
INT_BITS_MAX = 4096
INT_LIMIT = 1 << INT_BITS_MAX  # |int| < INT_LIMIT
STR_LENGTH_MAX = 1024 * 1024  # characters of a str, bytes of a bytes
CONTAINER_ITEMS_MAX = 100_000  # items of one list, tuple, dict or range
# Digits accepted by int(str): any INT_BITS_MAX-bit number has at most 1234 decimal digits;
# the bound keeps CPython's own int/str digit limit (4300, configurable per process) out of play.
INT_TEXT_LENGTH_MAX = 1300
DECIMAL_SCALE = 18  # digits after the point of every Decimal
STORED_VALUE_BYTES_MAX = 256 * 1024
# Containers nested deeper cannot be compared, hashed or searched (`sizes.size_gas`).
NESTING_MAX = 100
MESSAGE_LENGTH_MAX = 1024  # characters of a require() message kept in the receipt

# Bytes of values one invocation may create through the runtime's helpers (a container item
# counts ITEM_BYTES): bounds memory whatever the gas limit.
ALLOCATION_BYTES_MAX = 64 * 1024 * 1024
ITEM_BYTES = 8
OBJECT_BYTES = 64  # a new small object (a str of `split`, a tuple of `list(d.items())`)
WIDE_CHAR_BYTES = 4  # a non-ASCII str may take 4 bytes a character

# --- frames -----------------------------------------------------------------------------------
FRAMES_MAX = 64  # nested contract function frames, counted across cross-contract calls
# Comprehensions and chained comparisons run in frames of their own: at most this many nest
# in one function, so that a contract's Python frames stay a fixed multiple of FRAMES_MAX,
# far below the interpreter's recursion limit whatever the caller's stack (a RecursionError
# would depend on it, and nodes would disagree).
SCOPES_NESTED_MAX = 3
# Python frames the deepest possible invocation needs (measured on CPython 3.11: about 655),
# with a margin: an outermost invocation makes sure this much of the recursion limit is free.
PYTHON_FRAMES_NEEDED = 1000

# --- gas --------------------------------------------------------------------------------------
GAS_STATEMENT = 20  # each statement, charged at the start of its straight-line segment
GAS_ITERATION = 20  # each loop or comprehension iteration
GAS_CALL = 100  # each contract function call
GAS_BUILTIN = 20  # each call of a runtime helper, on top of its size-dependent part
GAS_PER_ITEM = 4  # each item a helper copies, compares or creates
GAS_PER_BYTES = 1  # each GAS_BYTES_UNIT bytes (characters) a helper copies or scans
GAS_BYTES_UNIT = 4
GAS_INT_WORD = 1  # per 64-bit word squared in multiplication, division and power
GAS_SORT_ITEM = 8  # per item * log2(items) of a sort
# Per reference to a nested container in a value the runtime sizes (`sizes.size_gas`): the
# walk that measures it costs ~1 us a node in Python, 40x what GAS_PER_ITEM pays for.
GAS_NESTED = 150
# Per dict key whose hash is public (a tuple, a Decimal, an int past 61 bits), checked for
# collisions before it is inserted (`keys.check_new_key`).
GAS_KEY_PROBE = 120
# Per value (container or scalar) of a `call` argument, event field or return value other
# than a plain scalar: converted to CBOR, checked by the host, rebuilt by the callee.
GAS_BOUNDARY_VALUE = 40

# Invariant: 10**INT_TEXT_LENGTH_MAX > INT_LIMIT (log2(10) > 3.32), so the cap never bites first.
assert INT_TEXT_LENGTH_MAX * 332 > INT_BITS_MAX * 100
assert STORED_VALUE_BYTES_MAX <= 1024 * 1024  # the codec's VALUE_BYTES_MAX
