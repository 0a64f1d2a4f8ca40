"""The consensus safety state on disk: one small file, replaced atomically and durably.

`save` writes a temporary file, fsyncs it, renames it over the old one and fsyncs the
directory, so after a crash the file holds either the previous or the new state, never a torn
one. The driver awaits `save` before it sends anything that follows a `PersistSafetyState`.
"""

from __future__ import annotations

import os
from pathlib import Path

from gongshi.consensus.types import SafetyState
from gongshi.errors import GongshiError
from gongshi.node.errors import SafetyStateCorrupt
from gongshi.node.wire import decode_safety_state, encode_safety_state

SAFETY_FILE = "safety_state.cbor"


class SafetyStore:
    """Reads and writes `data_dir/safety_state.cbor`. Not thread-safe: one writer."""

    __slots__ = ("_directory", "_path", "_temporary")

    def __init__(self, data_dir: Path) -> None:
        self._directory = data_dir
        self._path = data_dir / SAFETY_FILE
        self._temporary = data_dir / (SAFETY_FILE + ".tmp")

    @property
    def path(self) -> Path:
        return self._path

    def load(self) -> SafetyState | None:
        """The last saved state, None if none was ever saved; SafetyStateCorrupt if the file
        cannot be decoded (the node must not vote from a guess)."""
        try:
            data = self._path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return decode_safety_state(data)
        except GongshiError as error:
            raise SafetyStateCorrupt(f"{self._path}: {error.message}") from None

    def save(self, state: SafetyState) -> None:
        """Replace the stored state durably (returns once it survives a power loss)."""
        data = encode_safety_state(state)
        descriptor = os.open(self._temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                written = os.write(descriptor, view)
                view = view[written:]
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(self._temporary, self._path)
        directory = os.open(self._directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
