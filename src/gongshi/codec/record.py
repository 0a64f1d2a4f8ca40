"""The record mechanism: frozen dataclasses encoded as canonical CBOR maps keyed by field name.

    @record
    @dataclass(frozen=True, slots=True, kw_only=True)
    class Vote(Record):
        height: Annotated[int, UInt()]
        block_hash: Annotated[bytes, Bytes(sizes=(32,))]

Every field carries a `Kind` (its type and validation). Constructing a record validates every
field and then the record's own `check_invariants()`, so an invalid record cannot exist;
`encode` therefore never fails. `decode` accepts exactly the canonical encodings of valid
records: unknown, missing or mistyped fields, null for an absent optional field, and anything
that does not re-encode to the very same bytes raise a `DecodeError` naming the problem.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self, TypeVar

import cbor2
from cbor2 import frozendict

from gongshi.codec.cbor import ValueProblem, describe, load_item, map_key_order, show
from gongshi.codec.diagnose import explain_mismatch
from gongshi.codec.errors import (
    InvalidEncodedField,
    InvalidField,
    MissingField,
    UnknownField,
)
from gongshi.codec.hashing import Hasher, digest
from gongshi.codec.kinds import Kind, Optional
from gongshi.errors import InvariantViolation

__all__ = [
    "FieldSpec",
    "Record",
    "Schema",
    "decode",
    "encode",
    "encode_without",
    "record",
    "record_from_wire",
    "record_to_wire",
    "write_nested",
]

R = TypeVar("R", bound="Record")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FieldSpec:
    name: str
    kind: Kind
    optional: bool


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Schema:
    """How a record class is encoded; built once by `@record` and stored on the class."""

    record_name: str
    # Invariant: in canonical map-key order, so encoding inserts keys in the order CBOR needs.
    fields: tuple[FieldSpec, ...]
    names: frozenset[str]
    required: frozenset[str]
    # (name, kind.check) of every field, in `fields` order: the constructor's loop.
    checks: tuple[tuple[str, Callable[[object], object]], ...]
    # The fields whose kind converts between wire and Python values (nested records, enums).
    converted: tuple[FieldSpec, ...]
    # (name, dataclass default or `REQUIRED`) of every field: `Record.from_checked`'s loop.
    defaults: tuple[tuple[str, object], ...]


# The default of a field without one, in `Schema.defaults`.
REQUIRED: Any = object()


class Record:
    """Base of every codec record; subclasses are frozen dataclasses decorated with `@record`."""

    # Memos of the canonical encoding and of the last digest (with the hasher that made it):
    # records are immutable, so neither goes stale (as go-ethereum caches a transaction's
    # hash). Not dataclass fields: no part of equality, hashing, repr or replace.
    __slots__ = ("_digest_memo", "_encoding")
    _encoding: bytes | None
    _digest_memo: tuple[Hasher, bytes] | None
    _codec_schema: ClassVar[Schema]
    # Default `max_size` for `decode`; each record type states its own.
    encoded_bytes_max: ClassVar[int] = 64 * 1024

    def __post_init__(self) -> None:
        # Runs after the dataclass __init__; `record_from_wire` builds decoded records without
        # __init__ and makes the same checks through `_check_fields`.
        schema = _schema_of(type(self))
        name = ""
        try:
            for name, check in schema.checks:
                value = getattr(self, name)
                checked = check(value)
                if checked is not value:
                    object.__setattr__(self, name, checked)
        except ValueProblem as problem:
            raise InvalidField(schema.record_name, name + problem.where, problem.problem) from None
        self._finish()

    def _finish(self) -> None:
        self.check_invariants()
        object.__setattr__(self, "_encoding", None)
        object.__setattr__(self, "_digest_memo", None)

    def check_invariants(self) -> None:
        """Rules across fields; raise InvalidField. Field kinds have been checked already."""

    def encode(self) -> bytes:
        return encode(self)

    def memo_digest(self, hasher: Hasher, hashed_bytes: Callable[[], bytes]) -> bytes:
        """`digest(hasher, hashed_bytes())`, computed once per record and hasher object (a
        suite is a singleton, so a node hashes each record once)."""
        memo = self._digest_memo
        if memo is not None and memo[0] is hasher:
            return memo[1]
        result = digest(hasher, hashed_bytes())
        object.__setattr__(self, "_digest_memo", (hasher, result))
        return result

    @classmethod
    def decode(cls, data: bytes, *, max_size: int | None = None) -> Self:
        return decode(cls, data, max_size=max_size)

    @classmethod
    def from_checked(cls, **values: Any) -> Self:
        """The record `cls(**values)` makes, without checking the field values again.

        Only for values that already passed their field's kind (taken from a checked record,
        or checked by the same rules, in the form `check` returns: frozen values, tuples,
        enum members): the executor builds receipts, events and contract records this way on
        its hot path. `check_invariants` still runs; absent fields take their defaults."""
        schema = _schema_of(cls)
        obj = object.__new__(cls)
        used = 0
        for name, default in schema.defaults:
            if name in values:
                object.__setattr__(obj, name, values[name])
                used += 1
            elif default is REQUIRED:
                raise TypeError(f"{cls.__name__}.from_checked: missing field {name!r}")
            else:
                object.__setattr__(obj, name, default)
        if used != len(values):
            unknown = sorted(set(values) - schema.names)
            raise TypeError(f"{cls.__name__}.from_checked: unknown fields {unknown}")
        obj._finish()
        return obj

    def __reduce__(
        self,
    ) -> tuple[Callable[[type[Record], bytes], Record], tuple[type[Record], bytes]]:
        # Pickle and copy as the canonical encoding (frozendict values cannot be pickled).
        return (_decode_any_size, (type(self), encode(self)))


def record(cls: type[R]) -> type[R]:
    """Class decorator: build the codec schema of a frozen, slotted, kw-only dataclass."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not issubclass(cls, Record):
        raise TypeError(f"{cls.__name__}: @record goes above @dataclass on a Record subclass")
    if not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(
            f"{cls.__name__}: records are @dataclass(frozen=True, slots=True, kw_only=True)"
        )
    if "__post_init__" in cls.__dict__ or "__new__" in cls.__dict__:
        raise TypeError(f"{cls.__name__}: put rules across fields in check_invariants()")
    hints = typing.get_type_hints(cls, include_extras=True)
    specs: list[FieldSpec] = []
    defaults: dict[str, object] = {}
    for field in dataclasses.fields(typing.cast(Any, cls)):
        kinds = [
            item
            for item in getattr(hints[field.name], "__metadata__", ())
            if isinstance(item, Kind)
        ]
        if len(kinds) != 1:
            raise TypeError(f"{cls.__name__}.{field.name}: annotate as Annotated[type, Kind]")
        optional = isinstance(kinds[0], Optional)
        if optional and field.default is not None:
            raise TypeError(f"{cls.__name__}.{field.name}: an Optional field defaults to None")
        specs.append(FieldSpec(name=field.name, kind=kinds[0], optional=optional))
        defaults[field.name] = _field_default(field)
    specs.sort(key=lambda spec: map_key_order(spec.name))
    cls._codec_schema = Schema(
        record_name=cls.__name__,
        fields=tuple(specs),
        names=frozenset(spec.name for spec in specs),
        required=frozenset(spec.name for spec in specs if not spec.optional),
        checks=tuple((spec.name, spec.kind.check) for spec in specs),
        converted=tuple(spec for spec in specs if not spec.kind.plain),
        defaults=tuple((spec.name, defaults[spec.name]) for spec in specs),
    )
    return cls


def _field_default(field: dataclasses.Field[Any]) -> object:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        raise TypeError(f"{field.name}: record fields take plain (immutable) defaults")
    return REQUIRED


def _schema_of(cls: type[Record]) -> Schema:
    schema = cls.__dict__.get("_codec_schema")
    if schema is None:
        raise TypeError(f"{cls.__name__} is not decorated with @record")
    return typing.cast(Schema, schema)


def record_to_wire(obj: Record, omit: frozenset[str] = frozenset()) -> dict[str, object]:
    """The record as a dict whose insertion order is the canonical key order.

    Nested records stay record objects: encode the dict with `default=write_nested`.
    """
    wire: dict[str, object] = {}
    for spec in _schema_of(type(obj)).fields:
        value = getattr(obj, spec.name)
        if (value is None and spec.optional) or spec.name in omit:
            continue
        wire[spec.name] = value if spec.kind.plain else spec.kind.to_wire(value)
    return wire


def write_nested(encoder: cbor2.CBOREncoder, value: object) -> None:
    """`cbor2` hook for a nested record: write its (memoised) canonical encoding as is."""
    if not isinstance(value, Record):
        raise InvariantViolation(f"a {type(value).__name__} reached the encoder unchecked")
    encoder.write(encode(value))


def encode(obj: Record) -> bytes:
    """The canonical encoding of a record (computed once per record object)."""
    encoding = getattr(obj, "_encoding", None)
    if encoding is None:
        # The dict is in canonical key order and every value is in the subset, so cbor2's
        # plain mode (shortest forms, definite lengths, insertion order) writes canonical bytes.
        encoding = cbor2.dumps(record_to_wire(obj), default=write_nested)
        object.__setattr__(obj, "_encoding", encoding)
    return encoding


def encode_without(obj: Record, *names: str) -> bytes:
    """The canonical encoding of a record with some fields left out (e.g. a signature)."""
    return cbor2.dumps(record_to_wire(obj, frozenset(names)), default=write_nested)


def decode(cls: type[R], data: bytes, *, max_size: int | None = None) -> R:
    """Decode the canonical encoding of a `cls` record, at most `max_size` bytes long
    (default `cls.encoded_bytes_max`). Raises DecodeError or EncodingTooLarge."""
    what = cls.__name__
    size_max = cls.encoded_bytes_max if max_size is None else max_size
    raw = load_item(data, what=what, size_max=size_max)
    obj = record_from_wire(cls, raw, what)
    canonical = encode(obj)
    if canonical != data:
        raise explain_mismatch(bytes(data), what, canonical)
    return obj


def _decode_any_size(cls: type[R], data: bytes) -> R:
    return decode(cls, data, max_size=len(data))


def record_from_wire(cls: type[R], raw: object, path: str) -> R:
    """Build a record from a decoded CBOR map; errors name `path` and the field."""
    schema = _schema_of(cls)
    if type(raw) is not frozendict:
        raise InvalidEncodedField(
            path, f"expected a map ({schema.record_name}), got {describe(raw)}"
        )
    arguments: dict[Any, Any] = dict(typing.cast(Mapping[object, object], raw).items())
    if not arguments.keys() <= schema.names:
        unknown = ", ".join(sorted(show(key) for key in arguments if key not in schema.names))
        raise UnknownField(f"{path}: unknown field {unknown}")
    if not schema.required <= arguments.keys():
        missing = ", ".join(sorted(repr(name) for name in schema.required - arguments.keys()))
        raise MissingField(f"{path}: missing field {missing}")
    for spec in schema.converted:
        if spec.name in arguments:
            arguments[spec.name] = spec.kind.from_wire(arguments[spec.name], f"{path}.{spec.name}")
    return _construct(cls, schema, arguments, path)


def _construct(cls: type[R], schema: Schema, arguments: dict[str, Any], path: str) -> R:
    """The record `cls(**arguments)` would make, without the dataclass __init__ (decoding is
    the hot path): the same field checks as `__post_init__`, then the same `_finish`."""
    obj = object.__new__(cls)
    name = ""
    try:
        for name, check in schema.checks:
            object.__setattr__(obj, name, check(arguments.get(name)))  # absent: optional, None
        obj._finish()
    except ValueProblem as problem:
        raise InvalidEncodedField(f"{path}.{name}{problem.where}", problem.problem) from None
    except InvalidField as error:
        raise InvalidEncodedField(f"{path}.{error.field}", error.problem) from None
    return obj
