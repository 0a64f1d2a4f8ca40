"""`Decimal`: the contracts' fixed-point number for money.

A Decimal is an integer count of units of 10**-18 (`DECIMAL_SCALE`): add and subtract are
exact; multiply and divide round the exact result to 18 places, half to even (banker's
rounding), so sums of many rounded amounts do not drift one way. No floats anywhere: text is
parsed digit by digit. Operations with an `int` treat it exactly (`Decimal(2) == 2`).
"""

from __future__ import annotations

import re

from gongshi.contracts.faults import ContractFault, LimitFault
from gongshi.contracts.limits import DECIMAL_SCALE, INT_LIMIT, INT_TEXT_LENGTH_MAX

SCALE_FACTOR: int = 10**DECIMAL_SCALE
_DECIMAL_TEXT = re.compile(r"([+-]?)([0-9]+)(?:\.([0-9]+))?")


# CPython refuses int <-> decimal text past `sys.get_int_max_str_digits()` digits, a per-process
# setting (640 at least) that a node's environment may change: convert in chunks well below it,
# so the result never depends on the node.
_CHUNK_DIGITS = 500
_CHUNK: int = 10**_CHUNK_DIGITS


def int_to_text(value: int) -> str:
    """`str(value)` for any size, independent of the interpreter's digit limit."""
    if -_CHUNK < value < _CHUNK:
        return str(value)
    high, low = divmod(abs(value), _CHUNK)
    text = int_to_text(high) + str(low).rjust(_CHUNK_DIGITS, "0")
    return "-" + text if value < 0 else text


def digits_to_int(digits: str) -> int:
    """`int(digits)` for a string of ASCII digits of any length, chunked as above."""
    value = 0
    head = len(digits) % _CHUNK_DIGITS or _CHUNK_DIGITS
    value = int(digits[:head])
    for start in range(head, len(digits), _CHUNK_DIGITS):
        value = value * _CHUNK + int(digits[start : start + _CHUNK_DIGITS])
    return value


def _checked(units: int) -> Decimal:
    if not -INT_LIMIT < units < INT_LIMIT:
        raise LimitFault("Decimal is too large")
    result = Decimal.__new__(Decimal)
    result._units = units
    return result


def _units_of(value: object) -> int | None:
    """The units of a Decimal operand, an int scaled, or None for any other type."""
    if type(value) is Decimal:
        return value._units
    if isinstance(value, int):
        return int(value) * SCALE_FACTOR
    return None


def _divide_half_even(numerator: int, denominator: int) -> int:
    if denominator == 0:
        raise ContractFault("ZeroDivisionError", "Decimal division by zero")
    negative = (numerator < 0) != (denominator < 0)
    quotient, remainder = divmod(abs(numerator), abs(denominator))
    twice = 2 * remainder
    if twice > abs(denominator) or (twice == abs(denominator) and quotient % 2 == 1):
        quotient += 1
    return -quotient if negative else quotient


def parse_units(text: str) -> int:
    """Units of a decimal text like `-12.50`; ContractFault if it is not one."""
    if len(text) > INT_TEXT_LENGTH_MAX:
        raise LimitFault("Decimal text is too long")
    match = _DECIMAL_TEXT.fullmatch(text)
    if match is None:
        raise ContractFault("ValueError", "Decimal text must look like -12.345")
    sign, whole, fraction = match.groups()
    fraction = fraction or ""
    if len(fraction) > DECIMAL_SCALE:
        raise ContractFault("ValueError", f"Decimal has more than {DECIMAL_SCALE} places")
    units = digits_to_int(whole) * SCALE_FACTOR + int(fraction.ljust(DECIMAL_SCALE, "0"))
    return -units if sign == "-" else units


class Decimal:
    """Fixed-point number with 18 decimal places; immutable."""

    __slots__ = ("_units",)

    _units: int

    def __init__(self, value: object = 0) -> None:
        if type(value) is Decimal:
            units = value._units
        elif isinstance(value, int):
            units = int(value) * SCALE_FACTOR
        elif type(value) is str:
            units = parse_units(value)
        else:
            raise ContractFault("TypeError", "Decimal() takes an int, a str or a Decimal")
        if not -INT_LIMIT < units < INT_LIMIT:
            raise LimitFault("Decimal is too large")
        self._units = units

    @classmethod
    def from_units(cls, units: int) -> Decimal:
        return _checked(units)

    @property
    def units(self) -> int:
        return self._units

    def truncate(self) -> int:
        """The integer part, rounded toward zero (what `int(d)` gives)."""
        whole = abs(self._units) // SCALE_FACTOR
        return -whole if self._units < 0 else whole

    # --- arithmetic -------------------------------------------------------------------------
    def __add__(self, other: object) -> Decimal:
        units = _units_of(other)
        if units is None:
            return NotImplemented
        return _checked(self._units + units)

    __radd__ = __add__

    def __sub__(self, other: object) -> Decimal:
        units = _units_of(other)
        if units is None:
            return NotImplemented
        return _checked(self._units - units)

    def __rsub__(self, other: object) -> Decimal:
        units = _units_of(other)
        if units is None:
            return NotImplemented
        return _checked(units - self._units)

    def __mul__(self, other: object) -> Decimal:
        if type(other) is not Decimal and isinstance(other, int):
            return _checked(self._units * int(other))
        units = _units_of(other)
        if units is None:
            return NotImplemented
        return _checked(_divide_half_even(self._units * units, SCALE_FACTOR))

    __rmul__ = __mul__

    def __truediv__(self, other: object) -> Decimal:
        units = _units_of(other)
        if units is None:
            return NotImplemented
        return _checked(_divide_half_even(self._units * SCALE_FACTOR, units))

    def __rtruediv__(self, other: object) -> Decimal:
        units = _units_of(other)
        if units is None:
            return NotImplemented
        return _checked(_divide_half_even(units * SCALE_FACTOR, self._units))

    def __neg__(self) -> Decimal:
        return _checked(-self._units)

    def __pos__(self) -> Decimal:
        return self

    def __abs__(self) -> Decimal:
        return _checked(abs(self._units))

    def __bool__(self) -> bool:
        return self._units != 0

    # --- comparison -------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        # NotImplemented for other types (the answer is then False by identity): a dict
        # compares a key probe of another type with its keys this way (`keys.check_new_key`).
        units = _units_of(other)
        if units is None:
            return NotImplemented
        return self._units == units

    def __ne__(self, other: object) -> bool:
        units = _units_of(other)
        if units is None:
            return NotImplemented
        return self._units != units

    def __lt__(self, other: object) -> bool:
        return self._units < self._other_units(other)

    def __le__(self, other: object) -> bool:
        return self._units <= self._other_units(other)

    def __gt__(self, other: object) -> bool:
        return self._units > self._other_units(other)

    def __ge__(self, other: object) -> bool:
        return self._units >= self._other_units(other)

    def _other_units(self, other: object) -> int:
        units = _units_of(other)
        if units is None:
            raise ContractFault("TypeError", "Decimal compared with a non-number")
        return units

    def __hash__(self) -> int:
        whole, fraction = divmod(self._units, SCALE_FACTOR)
        return hash(whole) if fraction == 0 else hash((self._units, DECIMAL_SCALE))

    # --- text -------------------------------------------------------------------------------
    def __str__(self) -> str:
        whole, fraction = divmod(abs(self._units), SCALE_FACTOR)
        sign = "-" if self._units < 0 else ""
        if fraction == 0:
            return f"{sign}{int_to_text(whole)}"
        digits = str(fraction).rjust(DECIMAL_SCALE, "0").rstrip("0")
        return f"{sign}{int_to_text(whole)}.{digits}"

    def __repr__(self) -> str:
        return f"Decimal('{self}')"
