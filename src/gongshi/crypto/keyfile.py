"""Key files on disk: private material is written with mode 0600 from the first byte.

A write goes to a fresh temporary file in the same directory (created 0600 by `mkstemp`),
is written in full and fsynced, then atomically renamed over the target and the directory
fsynced: after a crash the path holds either the old key or the new one, never a torn file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from gongshi.errors import ConfigError, SizeLimitExceeded

PRIVATE_FILE_MODE = 0o600
# PEM keys are a few hundred bytes, but node config and genesis files are read here too
MAX_READ_SIZE = 16 << 20


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_private_file(path: Path, data: bytes) -> None:
    """Create or replace `path` with `data`, never readable by group or others."""
    path = Path(path)
    directory = path.parent
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as error:
        raise ConfigError(f"cannot write {path}: {error.strerror}") from error
    try:
        try:
            os.fchmod(fd, PRIVATE_FILE_MODE)
            _write_all(fd, bytes(data))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise ConfigError(f"cannot write {path}: {error.strerror}") from error
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # some file systems refuse fsync on directories
        _fsync_directory(directory)


def read_file(path: Path, max_size: int = MAX_READ_SIZE) -> bytes:
    """The bytes of `path`; ConfigError if unreadable, SizeLimitExceeded if over `max_size`."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_size + 1)
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from error
    if len(data) > max_size:
        raise SizeLimitExceeded(f"{path} is larger than {max_size} bytes")
    return data
