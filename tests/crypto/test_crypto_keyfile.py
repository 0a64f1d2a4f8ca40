"""Private key files: mode 0600, full atomic replacement, bounded reads."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gongshi.crypto.keyfile import read_file, write_private_file
from gongshi.errors import ConfigError, SizeLimitExceeded


def test_write_creates_a_0600_file_with_the_exact_bytes(tmp_path: Path) -> None:
    path = tmp_path / "a.key"
    data = os.urandom(3 * 65536 + 7)  # larger than one pipe-sized write
    write_private_file(path, data)
    assert path.read_bytes() == data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.key"]  # no temporary left


def test_write_replaces_an_existing_readable_file(tmp_path: Path) -> None:
    path = tmp_path / "b.key"
    path.write_bytes(b"old contents that are longer than the new ones")
    path.chmod(0o644)
    write_private_file(path, b"new")
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_write_into_a_missing_directory_raises_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot write"):
        write_private_file(tmp_path / "missing" / "c.key", b"x")


def test_failed_replace_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "d.key"
    target.mkdir()  # os.replace of a file onto a directory fails
    with pytest.raises(ConfigError):
        write_private_file(target, b"x")
    assert target.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.key"]


def test_read_is_bounded_and_reports_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "e.key"
    path.write_bytes(b"x" * 11)
    assert read_file(path, max_size=11) == b"x" * 11
    with pytest.raises(SizeLimitExceeded):
        read_file(path, max_size=10)
    with pytest.raises(ConfigError, match="cannot read"):
        read_file(tmp_path / "absent")
