"""The deploy-time checker: every rule reports `line:col: reason`, all problems at once."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gongshi.contracts import ContractRejected, ExportSpec, Problem, check_contract, load_contract
from gongshi.contracts.limits import AST_NODES_MAX, SOURCE_BYTES_MAX
from gongshi.errors import ValidationError

HEADER = "from gongshi.contract import export, Map, Value, ctx, require, emit, call, Decimal\n"


def body(code: str) -> str:
    """A contract whose only export runs `code` (indented into the function)."""
    return (
        HEADER + "@export\ndef main(a=1, b=2):\n" + textwrap.indent(textwrap.dedent(code), "    ")
    )


def problems_of(source: str) -> tuple[Problem, ...]:
    with pytest.raises(ContractRejected) as caught:
        check_contract(source)
    return caught.value.problems


def test_a_valid_contract_passes_and_lists_its_exports() -> None:
    source = HEADER + textwrap.dedent(
        '''
        """A docstring."""
        balances = Map(key=bytes, default=0)
        positions = Map(key=(str, int))
        owner = Value()
        LIMIT = 10
        NAMES = ("a", "b")
        FEE = Decimal("0.25")

        @export
        def transfer(to, amount):
            require(amount > 0, "positive")
            balances[to] += amount

        @export(roles=("admin", "regulator"), read_only=True)
        def balance(who):
            return balances[who]

        def helper(x: int) -> int:
            return x * 2
        '''
    )
    check_contract(source)
    loaded = load_contract(source)
    assert loaded.exports == {
        "transfer": ExportSpec("transfer", ("to", "amount"), None, False),
        "balance": ExportSpec("balance", ("who",), frozenset({"admin", "regulator"}), True),
    }


# (code inside the export, expected line, expected column, a fragment of the reason)
FUNCTION_RULES = [
    ("try:\n    pass\nexcept Exception:\n    pass\n", 4, 5, "try/except is not allowed"),
    ("raise ValueError()\n", 4, 5, "raise is not allowed"),
    ("assert a\n", 4, 5, "assert is not allowed"),
    ("with a:\n    pass\n", 4, 5, "with is not allowed"),
    ("global a\n", 4, 5, "global is not allowed"),
    ("x = lambda: 1\n", 4, 9, "lambda is not allowed"),
    ("x = (i for i in a)\n", 4, 9, "generator expressions are not allowed"),
    ("x = {1, 2}\n", 4, 9, "sets are not allowed"),
    ("x = 1.5\n", 4, 9, "float literals are not allowed"),
    ("x = a.__class__\n", 4, 9, "'__class__'"),
    ("x = a._private\n", 4, 9, "'_private'"),
    ("_x = 1\n", 4, 5, "names starting with '_'"),
    ("x = eval('1')\n", 4, 9, "'eval' is not allowed"),
    ("x = getattr(a, 'b')\n", 4, 9, "'getattr' is not allowed"),
    ("x = type(a)\n", 4, 9, "'type' is not allowed"),
    ("x = '{}'.format(a)\n", 4, 9, "method 'format' is not allowed"),
    ("x = 'a'.zfill(10)\n", 4, 9, "method 'zfill' is not allowed"),
    ("x = a.real\n", 4, 9, "only allowed as a method call"),
    ("ctx.sender = a\n", 4, 5, "assigning to attributes"),
    ("x = ctx.frame\n", 4, 9, "ctx has no field 'frame'"),
    ("len = 3\n", 4, 5, "'len' is a builtin"),
    ("require = 3\n", 4, 5, "'require' is a builtin"),
    ("x = undefined_name\n", 4, 9, "'undefined_name' is not defined"),
    ("x = Map(key=str)\n", 4, 9, "only for module-level declarations"),
    ("def inner():\n    pass\n", 4, 5, "nested functions are not allowed"),
    ("class K:\n    pass\n", 4, 5, "classes are not allowed"),
    ("import os\n", 4, 5, "imports are only allowed at module level"),
    ("x = [*a]\n", 4, 10, "star arguments"),
    ("x = 0 < a is 1\n", 4, 9, "only allowed with None"),
    ("x = a is 1\n", 4, 9, "only allowed with None"),
    ("x = f'{a!r}'\n", 4, 9, "f-string conversions"),
    ("x = (y := 3)\n", 4, 10, "assignment expressions"),
    ("x = a @ b\n", 4, 9, "@ operator"),
    ("x = a[1:2]\na[1:2] = b\n", 5, 5, "slice assignment"),
    ("x = isinstance(a, object)\n", 4, 23, "isinstance types"),
    ("del a\n", 4, 9, "del only removes an item"),
    ("x = a()\n", 4, 9, "only functions can be called"),
    ("x = (a or b)()\n", 4, 9, "only named functions and methods"),
    ("x, a[0] = 1, 2\n", 4, 8, "assign items one at a time"),
]


@pytest.mark.parametrize(("code", "line", "col", "reason"), FUNCTION_RULES)
def test_function_rules(code: str, line: int, col: int, reason: str) -> None:
    problems = problems_of(body(code))
    assert any(p.line == line and p.col == col and reason in p.reason for p in problems), problems


MODULE_RULES = [
    ("import os\n", "imports are not allowed"),
    ("from os import path\n", "imports are not allowed"),
    ("from gongshi.contract import system\n", "has no name 'system'"),
    ("from gongshi.contract import export as e\n", "cannot be imported under another name"),
    ("x = [1, 2]\n", "immutable constant"),
    ("x = 1.5\n", "immutable constant"),
    ("print('hi')\n", "Expr is not allowed at module level"),
    ("if True:\n    pass\n", "If is not allowed at module level"),
    ("export = 1\n", "'export' is a builtin"),
    ("m = Map(key=float)\n", "Map key must be"),
    ("m = Map(key=str, size=3)\n", "has no argument 'size'"),
    ("m = Map(key=str, default=[])\n", "immutable constant"),
    ("@staticmethod\ndef f():\n    pass\n", "only decorator allowed"),
    ("@export(roles='admin')\ndef f():\n    pass\n", "export takes roles="),
    ("def main():\n    pass\n", "'main' is already defined"),
    ("def f(*args):\n    pass\n", "only plain parameters"),
    ("def f(x=[]):\n    pass\n", "parameter defaults must be immutable"),
    ("class K:\n    pass\n", "classes are not allowed"),
]


@pytest.mark.parametrize(("code", "reason"), MODULE_RULES)
def test_module_rules(code: str, reason: str) -> None:
    problems = problems_of(body("return a\n") + code)
    assert any(reason in p.reason for p in problems), problems


def test_every_problem_is_reported_in_source_order() -> None:
    source = body("x = eval('1')\ny = 1.5\ntry:\n    pass\nfinally:\n    pass\n")
    problems = problems_of(source)
    assert [(p.line, p.col) for p in problems] == [(4, 9), (5, 9), (6, 5)]


def test_problem_format_and_error_message() -> None:
    with pytest.raises(ContractRejected) as caught:
        check_contract(body("x = 1.5\ny = 2.5\n"))
    error = caught.value
    assert isinstance(error, ValidationError)
    assert str(error.problems[0]) == f"4:9: {error.problems[0].reason}"
    assert str(error).splitlines() == [str(p) for p in error.problems]


def test_non_ascii_identifiers_are_rejected_even_when_they_fold_to_allowed_names() -> None:
    # NFKC folds the fullwidth letters to `len`, an allowed builtin: still rejected.
    problems = problems_of(body("x = \uff4c\uff45\uff4e(a)\n"))
    assert any("non-ASCII identifier" in p.reason for p in problems)


def test_syntax_errors_point_at_the_line() -> None:
    problems = problems_of(body("x = = 1\n"))
    assert problems[0].line == 4 and "syntax error" in problems[0].reason


def test_source_size_and_node_caps() -> None:
    huge = body("return 1\n") + "#" * SOURCE_BYTES_MAX
    assert "more than" in problems_of(huge)[0].reason
    # Statements of 900 names each (within the per-statement token bound), 25 of them.
    line = "x = [" + "a," * 900 + "]\n"
    many = body(line * (AST_NODES_MAX // 1800 + 3))
    assert any("syntax nodes" in p.reason for p in problems_of(many))


def test_deep_nesting_is_a_problem_not_a_crash() -> None:
    parser_limit = problems_of(body("x = " + "[" * 300 + "]" * 300 + "\n"))
    assert parser_limit[0].line >= 1  # CPython's own nesting limit, reported as a Problem
    nested = body("x = " + "[" * 70 + "]" * 70 + "\n")
    assert any("nested deeper" in p.reason for p in problems_of(nested))


def test_a_contract_must_export_something() -> None:
    problems = problems_of(HEADER + "def f():\n    return 1\n")
    assert any("exports no function" in p.reason for p in problems)


def test_non_text_source_is_rejected() -> None:
    with pytest.raises(ContractRejected):
        check_contract(b"x = 1")  # type: ignore[arg-type]


@given(st.text(max_size=300))
def test_any_text_is_checked_without_crashing(source: str) -> None:
    try:
        check_contract(source)
    except ContractRejected as error:
        assert error.problems and all(p.line >= 1 and p.col >= 1 for p in error.problems)


@given(st.lists(st.sampled_from(FUNCTION_RULES), min_size=1, max_size=6))
def test_problems_of_combined_violations_are_all_found(
    rows: list[tuple[str, int, int, str]],
) -> None:
    code = "".join(row[0] for row in rows)
    reasons = [p.reason for p in problems_of(body(code))]
    for row in rows:
        assert any(row[3] in reason for reason in reasons), (row, reasons)


def _rejection_at_depth(source: str, depth: int) -> str:
    """The rejection of `source` checked from a caller `depth` frames deep."""
    if depth:
        return _rejection_at_depth(source, depth - 1)
    with pytest.raises(ContractRejected) as caught:
        check_contract(source)
    return str(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        "return " + "not " * 1_000 + "1",  # parses: rejected by the depth bound
        "return " + "not " * 2_990 + "1",  # past the parser's recursion at any caller depth
        "return " + " + ".join(["1"] * 1_500),  # a long left-associative chain
    ],
)
def test_a_rejection_does_not_depend_on_the_callers_stack(body: str) -> None:
    """Receipts quote rejections, so the same source must be refused with the same text
    whether the check runs from a shallow or a deep stack."""
    import sys

    source = f"from gongshi.contract import export\n\n@export\ndef f():\n    {body}\n"
    limit = sys.getrecursionlimit()
    try:
        shallow = _rejection_at_depth(source, 0)
        deep = _rejection_at_depth(source, 900)
    finally:
        sys.setrecursionlimit(limit)
    assert shallow == deep
    assert "RecursionError" not in shallow
