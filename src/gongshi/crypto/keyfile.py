"""Key files on disk: private material is written with mode 0600 from the first byte."""

from __future__ import annotations

import os
from pathlib import Path

from gongshi.errors import ConfigError

PRIVATE_FILE_MODE = 0o600


def write_private_file(path: Path, data: bytes) -> None:
    """Create or replace `path` with `data`, never readable by group or others."""
    path = Path(path)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)


def read_file(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from error
