"""`gongshi status`, `tx send`, `block get`, `notary put/get` against a real API server."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gongshi.api.testing import LocalChain, ServedChain
from gongshi.cli.main import EXIT_FAILURE, EXIT_INPUT_ERROR, main


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedChain]:
    chain = LocalChain.create(tmp_path / "chain", organisations=4)
    server = ServedChain(chain, auto_commit_ms=30).start()
    yield server
    server.stop()


@pytest.fixture
def run(served: ServedChain, capsys: pytest.CaptureFixture[str]) -> Callable[..., Any]:
    """Run a command against the served chain; (exit code, stdout, stderr)."""

    def invoke(*arguments: str) -> tuple[int, str, str]:
        command = list(arguments)
        command += ["--network", str(served.chain.network_dir), "--url", served.url]
        try:
            main(command)
            code = 0
        except SystemExit as exit_info:
            code = int(exit_info.code or 0)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def test_status(run) -> None:
    code, out, err = run("status")
    assert code == 0, err
    assert "chain gongshi-localnet (suite intl)" in out
    assert "validators  4: node1, node2, node3, node4 (epoch 0)" in out
    assert re.search(r"height\s+0, head 0x[0-9a-f]{64}", out)


def test_notary_put_then_get(run, tmp_path: Path, served: ServedChain) -> None:
    document = tmp_path / "contract.pdf"
    document.write_bytes(b"%PDF-1.7 the contract")
    doc_hash = "0x" + served.chain.suite.hash(document.read_bytes()).hex()
    code, out, err = run(
        "notary",
        "put",
        str(document),
        "--metadata",
        '{"title": "contract"}',
        "--locator",
        "https://files.example/c.pdf",
    )
    assert code == 0, err
    assert f"document  {doc_hash}" in out
    assert '"title": "contract"' in out and "https://files.example/c.pdf" in out
    assert "status    SUCCESS" in out
    assert re.search(r"proof verified against block \d+ signed by 4/4 validators", out)
    for lookup in (str(document), doc_hash, doc_hash[2:]):
        code, out, err = run("notary", "get", lookup)
        assert code == 0, err
        assert f"document  {doc_hash}" in out
        assert re.search(r"^proof verified against block \d+ signed by 4/4", out, re.M)
    code, out, err = run("notary", "put", str(document))
    assert code == EXIT_FAILURE
    assert "already registered" in err and "\n" not in err.strip()


def test_notary_get_unknown_document_proves_absence(run) -> None:
    # Something committed, so the answer is proven against a signed block (not block 0).
    first = run(
        "tx",
        "send",
        "--target",
        "notary",
        "--method",
        "register",
        "--args",
        json.dumps({"doc_hash": "0x" + "01" * 32, "metadata": {}}),
    )
    assert first[0] == 0
    code, out, err = run("notary", "get", "0x" + "ee" * 32)
    assert code == 0, err
    assert "is not registered" in out and "absence proof verified" in out


def test_tx_send(run) -> None:
    args = json.dumps({"doc_hash": "0x" + "42" * 32, "metadata": {"k": "v"}})
    code, out, err = run("tx", "send", "--target", "notary", "--method", "register", "--args", args)
    assert code == 0, err
    assert "status    SUCCESS" in out and "event     notary.Registered" in out
    assert '"sequence": 0' in out
    code, out, err = run(
        "tx",
        "send",
        "--target",
        "notary",
        "--method",
        "register",
        "--no-wait",
        "--args",
        json.dumps({"doc_hash": "0x" + "43" * 32, "metadata": {}}),
    )
    assert code == 0 and re.fullmatch(r"0x[0-9a-f]{64}\n", out)
    code, out, err = run("tx", "send", "--target", "notary", "--method", "register", "--args", "{")
    assert code == EXIT_INPUT_ERROR and "not valid JSON" in err
    code, out, err = run("tx", "send", "--target", "notary", "--method", "nothing")
    assert code == EXIT_FAILURE and "NOT_FOUND" in err


def test_block_get(run, served: ServedChain) -> None:
    served.commit()
    code, out, err = run("block", "get", "1")
    assert code == 0, err
    block_hash = re.search(r"^block 1 (0x[0-9a-f]{64})", out).group(1)
    assert "signed by 4/4 validators" in out
    code, out, _ = run("block", "get", block_hash, "--full")
    assert code == 0 and out.startswith("block 1 ")
    code, out, _ = run("block", "get", "0")
    assert code == 0 and "matches this network's genesis file" in out
    code, _, err = run("block", "get", "banana")
    assert code == EXIT_INPUT_ERROR and "not a 32-byte hash" in err
    code, _, err = run("block", "get", "99999")
    assert code == EXIT_FAILURE and "error [1430]" in err


def test_a_block_without_quorum_is_refused(run, served: ServedChain) -> None:
    block, _ = served.commit(signers=2)
    code, out, err = run("block", "get", str(block.height))
    assert code == EXIT_INPUT_ERROR
    assert "not a valid quorum" in err and out == ""


def test_default_network_directory_is_localnet(
    served: ServedChain,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    os.symlink(served.chain.network_dir, workdir / "localnet")
    monkeypatch.chdir(workdir)
    main(["status", "--url", served.url])
    assert "chain gongshi-localnet" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["status", "--url", served.url])
    assert exit_info.value.code == EXIT_INPUT_ERROR
    assert "localnet/genesis.toml" in capsys.readouterr().err
