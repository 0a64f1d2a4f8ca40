"""`gongshi contract check / propose-deploy / propose-upgrade / call / query / show` against a
real API server (and `check` without one)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gongshi.api.testing import LocalChain, ServedChain
from gongshi.cli.main import EXIT_FAILURE, EXIT_INPUT_ERROR, main

SOURCE = """from gongshi.contract import export, Map, ctx, emit, require

notes = Map(key=bytes, default="")


@export
def write(text: str) -> str:
    require(len(text) > 0, "empty note")
    notes[ctx.sender] = text
    emit("Written", author=ctx.sender, size=len(text))
    return text


@export(read_only=True)
def read(author: bytes) -> str:
    return notes[author]


@export(roles=("admin",))
def erase(author: bytes) -> None:
    del notes[author]
"""

BAD = """import os

def steal():
    return eval("os.system('x')")
"""

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedChain]:
    chain = LocalChain.create(tmp_path / "chain", organisations=4)
    server = ServedChain(chain, auto_commit_ms=30).start()
    yield server
    server.stop()


def _invoke(capsys: pytest.CaptureFixture[str], command: list[str]) -> tuple[int, str, str]:
    try:
        main(command)
        code = 0
    except SystemExit as exit_info:
        code = int(exit_info.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def run(served: ServedChain, capsys: pytest.CaptureFixture[str]) -> Run:
    """Run a command against the served chain; (exit code, stdout, stderr)."""

    def invoke(*arguments: str) -> tuple[int, str, str]:
        command = [*arguments, "--network", str(served.chain.network_dir), "--url", served.url]
        return _invoke(capsys, command)

    return invoke


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {"good": tmp_path / "notes.py", "bad": tmp_path / "bad.py"}
    paths["good"].write_text(SOURCE)
    paths["bad"].write_text(BAD)
    return paths


def test_check_is_local_and_lists_problems(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _invoke(capsys, ["contract", "check", str(files["good"])])
    assert code == 0, err
    assert "ok" in out and "write(text)  writes; any role" in out
    assert "erase(author)  writes; admin" in out and "read(author)  read-only" in out
    code, out, _ = _invoke(capsys, ["contract", "check", str(files["bad"])])
    assert code == EXIT_INPUT_ERROR
    lines = out.strip().splitlines()
    assert lines and all(re.fullmatch(r"\d+:\d+: .+", line) for line in lines)
    assert any(line.startswith("1:1:") for line in lines)
    assert any(line.startswith("4:") for line in lines)


def deploy(run: Run, path: Path, name: str, kind: str = "deploy") -> int:
    code, out, err = run("contract", f"propose-{kind}", str(path), "--name", name)
    assert code == 0, err
    assert "uploaded code 0x" in out
    found = re.search(r"proposal (\d+) \((deploy|upgrade)_contract " + name + r"\)", out)
    assert found, out
    proposal = int(found.group(1))
    for org in ("org2", "org3"):
        code, out, err = run("gov", "vote", str(proposal), "yes", "--org", org)
        assert code == 0, err
    return proposal


def test_deploy_call_query_show(run: Run, files: dict[str, Path], served: ServedChain) -> None:
    deploy(run, files["good"], "notes")
    code, out, err = run("contract", "call", "notes", "write", '{"text": "hello"}')
    assert code == 0, err
    assert "status    SUCCESS" in out and 'returned  "hello"' in out
    assert re.search(r"event     notes\.Written \{.*\"size\": 5", out)
    assert re.search(r"proof verified against block \d+ signed by 4/4 validators", out)
    client = served.chain.suite.load_private_key(
        served.chain.network_dir / "orgs/org1/client/client.key"
    )
    args = json.dumps({"author": "0x" + client.address().hex()})
    code, out, err = run("contract", "query", "notes", "read", args)
    assert code == 0, err
    assert json.loads(out) == "hello"
    code, out, err = run("contract", "show", "notes", "--code")
    assert code == 0, err
    assert re.search(r"contract notes at 0x[0-9a-f]{40} \(active\)", out)
    assert "version    1" in out and "erase(author)  writes; admin" in out
    assert "v1  block" in out and "def write(text: str)" in out
    assert re.search(r"proof verified against block \d+", out)


def test_failures_exit_with_the_receipt(run: Run, files: dict[str, Path]) -> None:
    deploy(run, files["good"], "notes")
    code, out, err = run("contract", "call", "notes", "write", '{"text": ""}')
    assert code == EXIT_FAILURE
    assert "status    FAILED" in out and "empty note" in err
    code, out, err = run("contract", "call", "notes", "erase", '{"author": "0x00"}')
    # Refused at admission (issue #7): the node's SenderNotPermitted, before any receipt.
    assert code == EXIT_FAILURE and "error [1661]" in err and "notes.erase" in err
    code, _, err = run("contract", "call", "notes", "write", "[1]")
    assert code == EXIT_INPUT_ERROR and "JSON object" in err
    code, _, err = run("contract", "propose-deploy", str(files["bad"]), "--name", "bad")
    assert code == EXIT_INPUT_ERROR
    code, _, err = run("contract", "show", "nobody")
    assert code != 0 and "nobody" in err


def test_upgrade_keeps_notes(
    run: Run, files: dict[str, Path], tmp_path: Path, served: ServedChain
) -> None:
    deploy(run, files["good"], "notes")
    run("contract", "call", "notes", "write", '{"text": "kept"}')
    second = tmp_path / "notes2.py"
    second.write_text(SOURCE.replace("return notes[author]", "return notes[author] + '!'"))
    deploy(run, second, "notes", kind="upgrade")
    code, out, err = run("contract", "show", "notes")
    assert code == 0, err
    assert "version    2" in out and "v2  block" in out
    client = served.chain.suite.load_private_key(
        served.chain.network_dir / "orgs/org1/client/client.key"
    )
    args = json.dumps({"author": "0x" + client.address().hex()})
    code, out, err = run("contract", "query", "notes", "read", args)
    assert code == 0, err
    assert json.loads(out) == "kept!"  # the new code reads the old storage
