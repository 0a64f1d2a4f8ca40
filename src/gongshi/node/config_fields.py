"""Typed reading and documented writing of TOML configuration (genesis and node files).

Every option is a field of a frozen dataclass whose `metadata` (made by `option`) holds its
documentation and range: the loader checks each value against it and names the field in any
error, the writer puts the documentation above each key, and `docs/configuration.md` is
checked against the same fields. One source for default, range and meaning.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

import tomli_w

from gongshi.pki.errors import ConfigFieldError

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_HOST_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
STRING_LENGTH_MAX = 4096
LIST_LENGTH_MAX = 1024
PORT_MAX = 65535

Section = TypeVar("Section")


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class HostPort:
    """A `host:port` address: host is a DNS name or an IP literal (IPv6 in brackets)."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @classmethod
    def parse(cls, text: str) -> HostPort:
        """Parse `host:port`; ValueError with the reason otherwise."""
        host, separator, port_text = text.rpartition(":")
        if not separator or not port_text.isdigit() or len(port_text) > 5:
            raise ValueError(f"{text!r} is not host:port")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
            if ipaddress.ip_address(host).version != 6:
                raise ValueError(f"{text!r}: only IPv6 addresses go in brackets")
        elif ":" in host:
            raise ValueError(f"{text!r}: write an IPv6 address as [address]:port")
        elif not _is_host_name(host):
            raise ValueError(f"{text!r}: {host!r} is not a host name or IP address")
        port = int(port_text)
        if not 1 <= port <= PORT_MAX:
            raise ValueError(f"{text!r}: port must be 1..{PORT_MAX}")
        return cls(host=host, port=port)


def _is_host_name(host: str) -> bool:
    if not host or len(host) > 253:
        return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return all(_HOST_LABEL.fullmatch(label) for label in host.split("."))


def option(
    doc: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    choices: tuple[str, ...] = (),
) -> dict[str, object]:
    """Metadata of one configuration field: its documentation and accepted range."""
    return {"doc": doc, "minimum": minimum, "maximum": maximum, "choices": choices}


def option_doc(field: dataclasses.Field[object]) -> str:
    return str(field.metadata.get("doc", ""))


@dataclass(frozen=True, slots=True)
class TomlTable:
    """A parsed TOML table and the dotted path that names its fields in error messages."""

    values: Mapping[str, object]
    path: str = ""
    source: str = ""

    def name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, problem: str) -> ConfigFieldError:
        return ConfigFieldError(self.name(key), problem, source=self.source)

    def check_keys(self, allowed: Iterable[str]) -> None:
        """Unknown keys are errors: a misspelt option must not silently take its default."""
        known = set(allowed)
        for key in sorted(self.values):
            if key not in known:
                raise self.error(key, "unknown key")

    def get(self, key: str, kind: type, what: str) -> object | None:
        value = self.values.get(key)
        if value is None:
            return None
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.error(key, f"must be {what}, not {type(value).__name__}")
        return value

    def string(self, key: str, *, default: str | None = None, choices: tuple[str, ...] = ()) -> str:
        value = self.get(key, str, "a string")
        if value is None:
            if default is None:
                raise self.error(key, "missing")
            return default
        assert isinstance(value, str)
        if len(value) > STRING_LENGTH_MAX:
            raise self.error(key, f"longer than {STRING_LENGTH_MAX} characters")
        if choices and value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}")
        return value

    def name_string(self, key: str) -> str:
        """A required name (organisation, node, chain id): letters, digits, `_.-`, ≤ 64."""
        value = self.string(key)
        if not NAME_PATTERN.fullmatch(value):
            raise self.error(key, f"{value[:80]!r} is not a name ({NAME_PATTERN.pattern})")
        return value

    def integer(
        self, key: str, *, default: int | None, minimum: int | None, maximum: int | None
    ) -> int:
        value = self.get(key, int, "an integer")
        if value is None:
            if default is None:
                raise self.error(key, "missing")
            return default
        assert isinstance(value, int)
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise self.error(key, f"{value} is outside {minimum}..{maximum}")
        return value

    def boolean(self, key: str, *, default: bool) -> bool:
        value = self.get(key, bool, "true or false")
        return default if value is None else bool(value)

    def host_port(self, key: str, *, default: HostPort | None = None) -> HostPort:
        if default is not None and key not in self.values:
            return default
        return self._parse_host_port(key, self.string(key))

    def _parse_host_port(self, key: str, text: str) -> HostPort:
        try:
            return HostPort.parse(text)
        except ValueError as error:
            raise self.error(key, str(error)) from error

    def host_ports(self, key: str) -> tuple[HostPort, ...]:
        items = self.get(key, list, "a list of host:port strings") or []
        assert isinstance(items, list)
        if len(items) > LIST_LENGTH_MAX:
            raise self.error(key, f"more than {LIST_LENGTH_MAX} entries")
        result = []
        for index, item in enumerate(items):
            if not isinstance(item, str):
                raise self.error(f"{key}[{index}]", "must be a host:port string")
            result.append(self._parse_host_port(f"{key}[{index}]", item))
        return tuple(result)

    def hex_bytes(self, key: str, *, default: bytes | None = None) -> bytes:
        text = self.string(key, default=None if default is None else default.hex())
        try:
            return bytes.fromhex(text)
        except ValueError as error:
            raise self.error(key, "is not hexadecimal") from error

    def table(self, key: str) -> TomlTable:
        """The sub-table `key`; an absent table reads as empty (every option defaults)."""
        value = self.get(key, dict, "a table") or {}
        assert isinstance(value, dict)
        return TomlTable(value, self.name(key), self.source)

    def tables(self, key: str, *, count_min: int, count_max: int) -> tuple[TomlTable, ...]:
        """The array of tables `[[key]]`."""
        items = self.get(key, list, "an array of tables ([[" + key + "]])") or []
        assert isinstance(items, list)
        if not count_min <= len(items) <= count_max:
            raise self.error(key, f"needs {count_min}..{count_max} entries, has {len(items)}")
        tables = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise self.error(f"{key}[{index}]", "must be a table")
            tables.append(TomlTable(item, f"{self.name(key)}[{index}]", self.source))
        return tuple(tables)


def read_section(cls: type[Section], table: TomlTable) -> Section:
    """An instance of dataclass `cls` from `table`: each field by its type, its `option`
    range and its default; unknown keys are errors."""
    assert dataclasses.is_dataclass(cls)
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    table.check_keys(field.name for field in fields)
    values: dict[str, Any] = {}
    for field in fields:
        values[field.name] = _read_field(table, field, hints[field.name])
    return cls(**values)


def _read_field(table: TomlTable, field: dataclasses.Field[Any], kind: object) -> object:
    key, metadata = field.name, field.metadata
    has_default = field.default is not dataclasses.MISSING
    default: Any = field.default if has_default else None
    if kind is bool:
        return table.boolean(key, default=bool(default))
    if kind is int:
        return table.integer(
            key,
            default=default,
            minimum=metadata.get("minimum"),
            maximum=metadata.get("maximum"),
        )
    if kind is str:
        choices = metadata.get("choices", ())
        return table.string(key, default=default, choices=choices)
    if kind is Path:
        return Path(table.string(key, default=str(default) if has_default else None))
    if kind == (Path | None):
        text = table.string(key, default="")
        return Path(text) if text else None
    if kind is HostPort:
        return table.host_port(key, default=default)
    if kind == tuple[HostPort, ...]:
        return table.host_ports(key)
    if kind is bytes:
        return table.hex_bytes(key, default=default)
    raise AssertionError(f"no reader for field {key} of type {kind}")


def toml_value(value: object) -> object:
    """A field value as TOML writes it: paths and addresses as strings, bytes as hex."""
    if isinstance(value, Path):
        return PurePosixPath(value).as_posix()
    if value is None:
        return ""
    if isinstance(value, HostPort):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple):
        return [toml_value(item) for item in value]
    return value


def render_section(title: str, section: object) -> list[str]:
    """`[title]` and every field of dataclass `section`, its documentation above it."""
    assert dataclasses.is_dataclass(section) and not isinstance(section, type)
    lines = [f"[{title}]"]
    for field in dataclasses.fields(section):
        for doc_line in option_doc(field).splitlines():
            lines.append(f"# {doc_line}")
        value = toml_value(getattr(section, field.name))
        lines.append(tomli_w.dumps({field.name: value}).rstrip("\n"))
    lines.append("")
    return lines
