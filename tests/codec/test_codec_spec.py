"""SPEC.md's field tables stay in step with the code (CODEC-SPEC-1)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import gongshi.codec
from gongshi.codec import Block, BlockHeader, Event, QuorumCertificate, Receipt, Record, Transaction

SPEC = Path(gongshi.codec.__file__).parent / "SPEC.md"


def _table_rows(section: str) -> list[list[str]]:
    text = SPEC.read_text(encoding="utf-8")
    match = re.search(rf"^### {section}\n(.*?)(?=^#|\Z)", text, flags=re.S | re.M)
    assert match is not None, f"SPEC.md has no section {section}"
    rows = [line for line in match.group(1).splitlines() if line.startswith("|")]
    assert rows[0] == "| Name | Type | Description | Validation |"
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows[2:]]


@pytest.mark.parametrize(
    "record_class", [Transaction, BlockHeader, Block, Receipt, Event, QuorumCertificate]
)
def test_spec_tables_match_the_types(record_class: type[Record]) -> None:
    rows = _table_rows(record_class.__name__)
    kinds = {spec.name: spec.kind for spec in record_class._codec_schema.fields}
    names = [field.name for field in dataclasses.fields(record_class)]  # type: ignore[arg-type]
    assert [row[0] for row in rows] == names
    for name, type_cell, *_ in rows:
        assert type_cell == kinds[name].description, name


def test_spec_names_an_existing_test_for_every_invariant() -> None:
    text = SPEC.read_text(encoding="utf-8")
    tests = "".join(path.read_text() for path in Path(__file__).parent.glob("test_codec_*.py"))
    rows = re.findall(r"^\| (CODEC-[A-Z]+-\d+) \| .*? \| (.*) \|$", text, flags=re.M)
    assert len(rows) >= 8
    for invariant, enforced_by in rows:
        for test_name in re.findall(r"`(test_\w+)`", enforced_by):
            assert f"def {test_name}(" in tests, f"{invariant}: {test_name} does not exist"
