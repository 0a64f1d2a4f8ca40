"""Read commands against a members-only node (`[api] access = "members"`): with a member's
identity on disk they work; without one (an outsider holding only genesis.toml, or an
organisation not on disk) they fail with the SDK's one-line message, exit 1."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gongshi.api.access import AccessMode
from gongshi.api.testing import LocalChain, ServedChain
from gongshi.cli.main import EXIT_FAILURE, main

Run = Callable[..., tuple[int, str, str]]

# One read command of each group: each needs a member (chain_info alone is public).
READ_COMMANDS = (
    ("status",),
    ("block", "get", "0"),
    ("notary", "get", "0x" + "ab" * 32),
    ("contract", "query", "identity", "get", '{"address": "0x' + "00" * 20 + '"}'),
    ("gov", "params"),
    ("gov", "organisations"),
)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedChain]:
    chain = LocalChain.create(tmp_path / "chain", organisations=2)
    server = ServedChain(chain, access=AccessMode.MEMBERS).start()
    server.commit()  # a signed block (1) to prove reads against: block 0 proves nothing
    yield server
    server.stop()


@pytest.fixture
def outsider(served: ServedChain, tmp_path: Path) -> Path:
    """A network directory with the genesis file only: no member's key or certificate."""
    directory = tmp_path / "outsider"
    directory.mkdir()
    shutil.copy(served.chain.network_dir / "genesis.toml", directory / "genesis.toml")
    return directory


@pytest.fixture
def run(served: ServedChain, capsys: pytest.CaptureFixture[str]) -> Run:
    """Run a command against the served chain; (exit code, stdout, stderr)."""

    def invoke(*arguments: str, network: Path | None = None) -> tuple[int, str, str]:
        directory = network or served.chain.network_dir
        try:
            main([*arguments, "--network", str(directory), "--url", served.url])
            code = 0
        except SystemExit as exit_info:
            code = int(exit_info.code or 0)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def assert_needs_identity(code: int, err: str, command: tuple[str, ...]) -> None:
    assert code == EXIT_FAILURE, (command, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, (command, err)
    assert re.match(r"error \[1967\]: [a-z_]+ needs a member's signed request", lines[0]), err
    assert "give the client an identity" in lines[0] and "--org and --role" in lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize("command", READ_COMMANDS, ids=" ".join)
def test_reads_without_an_identity_fail_with_one_line(
    run: Run, outsider: Path, command: tuple[str, ...]
) -> None:
    code, _, err = run(*command, network=outsider)
    assert_needs_identity(code, err, command)


def test_an_organisation_not_on_disk_reads_unsigned_and_is_told_so(run: Run) -> None:
    for command in (("status", "--org", "org9"), ("gov", "params", "--org", "org9")):
        code, _, err = run(*command)
        assert_needs_identity(code, err, command)


def test_status_tells_the_public_part_before_it_stops(run: Run, outsider: Path) -> None:
    code, out, err = run("status", network=outsider)
    assert code == EXIT_FAILURE
    assert out.startswith("chain gongshi-localnet (suite intl)")  # chain_info is public
    assert "block_get" in err


@pytest.mark.parametrize("command", READ_COMMANDS, ids=" ".join)
def test_reads_with_a_members_identity_work(run: Run, command: tuple[str, ...]) -> None:
    code, out, err = run(*command)
    assert code == 0, (command, err)
    assert out.strip() and not err.strip()
    if command[0] in ("status", "notary"):
        assert "proof verified against block 1" in out
