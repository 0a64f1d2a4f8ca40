"""Known Python sandbox escapes: each is rejected at deploy or stopped at run time, with a
clear message, and the runtime keeps serving a following normal call.

One row per technique: (id, source, expected outcome). Sources are full contracts; `{body}`
rows are the body of `def main(a=1)`.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import pytest

from gongshi.contracts import (
    ContractRejected,
    ContractRuntimeError,
    InvalidContractValue,
    LimitExceeded,
    RecursionTooDeep,
    check_contract,
)
from gongshi.contracts.testing import MemoryChain
from gongshi.errors import GongshiError
from gongshi.execution.errors import OutOfGas
from gongshi.execution.gas import GasMeter

HEADER = "from gongshi.contract import export, Map, Value, ctx, require, emit, call, Decimal\n"
GAS = 5_000_000


@dataclass(frozen=True)
class Deploy:
    """Rejected by the checker with a problem containing `reason`."""

    reason: str


@dataclass(frozen=True)
class Run:
    """Deploys, then the call fails with `error` whose message contains `fragment`."""

    error: type[GongshiError]
    fragment: str = ""
    gas: int = GAS


def main(code: str) -> str:
    indented = textwrap.indent(textwrap.dedent(code).strip() + "\n", "    ")
    return HEADER + "box = Map(key=str)\n\n@export\ndef main(a=1):\n" + indented


def module(code: str) -> str:
    return HEADER + textwrap.dedent(code)


CORPUS: list[tuple[str, str, Deploy | Run]] = [
    # --- class hierarchy and introspection -----------------------------------------------------
    (
        "subclasses-walk",
        main("return ().__class__.__bases__[0].__subclasses__()"),
        Deploy("'__subclasses__'"),
    ),
    ("mro-walk", main("return ''.__class__.__mro__[1]"), Deploy("'__mro__'")),
    (
        "getattr-by-string",
        main("return getattr((), '__cl' + 'ass__')"),
        Deploy("'getattr' is not allowed"),
    ),
    ("type-three-arg", main("K = type('K', (), {})\nreturn K"), Deploy("'type' is not allowed")),
    ("vars-call", main("return vars()"), Deploy("'vars' is not allowed")),
    (
        "globals-builtins",
        main("return globals()['__builtins__']"),
        Deploy("'globals' is not allowed"),
    ),
    ("builtins-name", main("return __builtins__"), Deploy("names starting with '_'")),
    ("import-dunder", main("return __import__('os')"), Deploy("names starting with '_'")),
    ("dunder-method-call", main("return (1).__add__(2)"), Deploy("'__add__'")),
    ("function-globals", main("return main.__globals__"), Deploy("'__globals__'")),
    ("function-code", main("return main.__code__.co_consts"), Deploy("'__code__'")),
    (
        "instrumentation-names",
        main("__gs_charge = len\nreturn 1"),
        Deploy("names starting with '_'"),
    ),
    ("decimal-internals", main("return Decimal('1')._units"), Deploy("'_units'")),
    ("map-dict", main("return box.__dict__"), Deploy("'__dict__'")),
    ("map-private", main("return box._machine"), Deploy("'_machine'")),
    # --- formatting ------------------------------------------------------------------------
    (
        "str-format-attribute",
        main("return '{0.__class__}'.format(a)"),
        Deploy("method 'format' is not allowed"),
    ),
    (
        "str-format-map",
        main("return '{a.__class__}'.format_map({'a': 1})"),
        Deploy("method 'format_map' is not allowed"),
    ),
    ("fstring-conversion", main("return f'{a!r}'"), Deploy("f-string conversions")),
    ("fstring-width-bomb", main("return f'{a:>1000000000}'"), Deploy("format specs")),
    (
        "percent-format-bomb",
        main("return '%*d' % (10 ** 9, 1)"),
        Run(ContractRuntimeError, "unsupported operand types for %"),
    ),
    ("ljust-bomb", main("return 'a'.ljust(10 ** 9)"), Deploy("method 'ljust' is not allowed")),
    # --- frames via exceptions, generators, coroutines --------------------------------------
    (
        "traceback-frame",
        main("try:\n    1 // 0\nexcept Exception as e:\n    return e.__traceback__.tb_frame"),
        Deploy("try/except is not allowed"),
    ),
    (
        "generator-frame",
        module("""
        def gen():
            yield 1

        @export
        def main():
            return gen().gi_frame.f_back.f_globals
        """),
        Deploy("generators are not allowed"),
    ),
    (
        "genexp-frame",
        main("return (x for x in [1]).gi_frame"),
        Deploy("generator expressions are not allowed"),
    ),
    (
        "coroutine-frame",
        module("""
        async def co():
            return 1

        @export
        def main():
            return co().cr_frame
        """),
        Deploy("async code is not allowed"),
    ),
    ("raise-exception-object", main("raise ValueError(a)"), Deploy("raise is not allowed")),
    (
        "catch-out-of-gas",
        main("try:\n    pass\nfinally:\n    return 1"),
        Deploy("try/except is not allowed"),
    ),
    # --- decorators, classes, metaclasses ---------------------------------------------------
    (
        "foreign-decorator",
        module("""
        @staticmethod
        @export
        def main():
            return 1
        """),
        Deploy("the only decorator allowed"),
    ),
    (
        "metaclass",
        module("""
        class Meta(type):
            pass

        class K(metaclass=Meta):
            pass

        @export
        def main():
            return 1
        """),
        Deploy("classes are not allowed"),
    ),
    ("lambda-closure", main("f = lambda: a\nreturn f"), Deploy("lambda is not allowed")),
    # --- unicode normalisation ------------------------------------------------------------
    (
        "fullwidth-eval",
        main("return \uff45\uff56\uff41\uff4c('1')"),
        Deploy("non-ASCII identifier"),
    ),
    (
        "fullwidth-underscore-class",
        main("return ()._\uff3fclass__"),
        Deploy("non-ASCII identifier"),
    ),
    # --- imports ----------------------------------------------------------------------------
    (
        "import-os",
        module("import os\n@export\ndef main():\n    return 1\n"),
        Deploy("imports are not allowed"),
    ),
    (
        "from-os-import",
        module("from os import system\n@export\ndef main():\n    return 1\n"),
        Deploy("imports are not allowed"),
    ),
    (
        "import-as",
        module("import os as o\n@export\ndef main():\n    return 1\n"),
        Deploy("imports are not allowed"),
    ),
    (
        "relative-import",
        module("from . import x\n@export\ndef main():\n    return 1\n"),
        Deploy("imports are not allowed"),
    ),
    (
        "import-in-function",
        main("import os\nreturn os"),
        Deploy("imports are only allowed at module level"),
    ),
    (
        "runtime-module-extra-name",
        module("from gongshi.contract import OPEN\n@export\ndef main():\n    return 1\n"),
        Deploy("has no name 'OPEN'"),
    ),
    (
        "exec-compile-open",
        main("exec('1')\ncompile('1', 'f', 'exec')\nopen('/etc/passwd')"),
        Deploy("'exec' is not allowed"),
    ),
    # --- rebinding the runtime --------------------------------------------------------------
    ("modify-ctx", main("ctx.sender = b'admin'"), Deploy("assigning to attributes")),
    (
        "shadow-require",
        module("require = len\n@export\ndef main():\n    return 1\n"),
        Deploy("'require' is a builtin"),
    ),
    ("shadow-builtin-local", main("len = 3\nreturn len"), Deploy("'len' is a builtin")),
    (
        "shadow-param",
        module("@export\ndef main(require):\n    return 1\n"),
        Deploy("'require' is a builtin"),
    ),
    (
        "rebind-export",
        module("export = 1\n@export\ndef main():\n    return 1\n"),
        Deploy("'export' is a builtin"),
    ),
    ("call-through-variable", main("f = len\nreturn f('x')"), Deploy("is a variable")),
    # --- resource bombs stopped at run time -------------------------------------------------
    ("huge-power", main("return 10 ** 10 ** 10"), Run(LimitExceeded, "more than 4096 bits")),
    ("huge-shift", main("return 1 << 10 ** 9"), Run(LimitExceeded, "more than 4096 bits")),
    ("huge-int-text", main("return int('9' * 5000)"), Run(LimitExceeded, "int() of a text")),
    ("huge-string", main("return 'a' * 10 ** 10"), Run(LimitExceeded, "str of 10000000000")),
    ("huge-list", main("return [0] * 10 ** 9"), Run(LimitExceeded, "list of 1000000000")),
    ("huge-bytes", main("return bytes(10 ** 10)"), Run(LimitExceeded, "bytes(10000000000)")),
    (
        "doubling-string",
        main("s = 'a'\nwhile True:\n    s = s + s"),
        Run(LimitExceeded, "str of 2097152"),
    ),
    (
        "doubling-list",
        main("xs = [0]\nwhile True:\n    xs.extend(xs)"),
        Run(LimitExceeded, "list of 131072"),
    ),
    (
        "replace-bomb",
        main("return ('a' * 100000).replace('a', 'b' * 1000)"),
        Run(LimitExceeded, "str of"),
    ),
    ("join-bomb", main("s = 'a' * 1000000\nreturn s.join([s, s])"), Run(LimitExceeded, "str of")),
    (
        "dict-growth",
        main("d = {i: i for i in range(100000)}\nd[-1] = 0"),
        Run(LimitExceeded, "dict of more than 100000"),
    ),
    ("range-huge", main("return sorted(range(10 ** 9))"), Run(LimitExceeded, "range of")),
    (
        "comprehension-bomb",
        main("return [[0] * 100000 for i in range(100000)]"),
        Run(OutOfGas, "out of gas"),
    ),
    (
        "nested-comprehension",
        main("return len([0 for i in range(10**5) for j in range(10**5)])"),
        Run(OutOfGas, "out of gas"),
    ),
    (
        "allocation-budget",
        main("xs = []\nfor i in range(100):\n    xs.append('a' * 1000000)"),
        Run(LimitExceeded, "bytes of values", gas=100_000_000),
    ),
    ("infinite-loop", main("while True:\n    pass"), Run(OutOfGas, "out of gas")),
    (
        "tuple-key-hashing",
        main("t = tuple(range(100000))\nd = {}\nwhile True:\n    d[t] = 1"),
        Run(OutOfGas, "contract code needs 400000"),
    ),
    (
        "nested-compare-bomb",
        main("big = list(range(100000))\nx = [big] * 1000\ny = [list(big)] * 1000\nreturn x == y"),
        Run(OutOfGas, "contract operator needs 800"),
    ),
    (
        "nested-hash-bomb",
        main("t = tuple(range(50000))\nk = (t,) * 1000\nd = {}\nreturn k in d"),
        Run(OutOfGas, "out of gas"),
    ),
    (
        "deep-tuple-hash-crash",
        main("t = ()\nfor i in range(100000):\n    t = (t,)\nd = {t: 1}"),
        Run(LimitExceeded, "nested deeper than 100 cannot be compared or hashed"),
    ),
    (
        "deep-tuple-dict-key",
        main("t = ()\nfor i in range(1000):\n    t = (t,)\nd = {}\ndel d[t]"),
        Run(LimitExceeded, "nested deeper than 100"),
    ),
    (
        "deep-list-compare",
        main("a = []\nb = []\nfor i in range(5000):\n    a = [a]\n    b = [b]\nreturn a == b"),
        Run(LimitExceeded, "nested deeper than 100"),
    ),
    (
        "big-compare-loop",
        main("s = 'a' * 1000000\nt = 'a' * 1000000\nwhile s == t:\n    pass"),
        Run(OutOfGas, "out of gas"),
    ),
    (
        "deep-recursion",
        module("""
        def down(n):
            return down(n + 1)

        @export
        def main():
            return down(0)
        """),
        Run(RecursionTooDeep, "more than 64 nested"),
    ),
    (
        "mutual-recursion",
        module("""
        def ping(n):
            return pong(n)

        def pong(n):
            return ping(n)

        @export
        def main():
            return ping(0)
        """),
        Run(RecursionTooDeep, "more than 64 nested"),
    ),
    (
        "recursive-sort-key",
        module("""
        def key(x):
            return sorted([x, x], key=key)[0]

        @export
        def main():
            return key(1)
        """),
        Run(RecursionTooDeep, "more than 64 nested"),
    ),
    (
        "storage-enormous-value",
        main("s = 'a' * 1000000\nbox['k'] = [s] * 1000"),
        Run(LimitExceeded, "stored value is more than"),
    ),
    (
        "return-enormous-value",
        main("s = 'a' * 1000000\nreturn [s] * 1000"),
        Run(InvalidContractValue, "more than 1048576 bytes"),
    ),
    (
        "self-referencing-list",
        main("xs = []\nxs.append(xs)\nreturn xs"),
        Run(InvalidContractValue, "nested deeper"),
    ),
    (
        "negative-power-float",
        main("return 2 ** -1"),
        Run(ContractRuntimeError, "negative exponent"),
    ),
    ("true-division-float", main("return 7 / 2"), Run(ContractRuntimeError, "gives a float")),
    (
        "map-iteration",
        main("return [k for k in box]"),
        Run(ContractRuntimeError, "a Map cannot be iterated"),
    ),
    (
        "str-of-container",
        main("return str([1, 2] * 50000)"),
        Run(ContractRuntimeError, "str() of a list"),
    ),
    (
        "codec-lookup",
        main("return 'x'.encode('rot13')"),
        Run(ContractRuntimeError, "supports only 'utf-8'"),
    ),
]


NORMAL = HEADER + textwrap.dedent(
    """
    counter = Value(default=0)

    @export
    def bump():
        counter.set(counter.get() + 1)
        return counter.get()
    """
)


@pytest.fixture(scope="module")
def survivor() -> MemoryChain:
    chain = MemoryChain()
    chain.deploy("normal", NORMAL)
    return chain


def test_the_corpus_has_at_least_30_distinct_techniques() -> None:
    names = [name for name, _, _ in CORPUS]
    assert len(names) == len(set(names)) >= 30


@pytest.mark.parametrize(("name", "source", "outcome"), CORPUS, ids=[row[0] for row in CORPUS])
def test_escape_is_stopped(
    name: str, source: str, outcome: Deploy | Run, survivor: MemoryChain
) -> None:
    if isinstance(outcome, Deploy):
        with pytest.raises(ContractRejected) as rejected:
            check_contract(source)
        reasons = [problem.reason for problem in rejected.value.problems]
        assert any(outcome.reason in reason for reason in reasons), reasons
    else:
        check_contract(source)
        survivor.deploy(name, source)
        with pytest.raises(outcome.error) as failed:
            survivor.invoke(name, "main", {}, meter=GasMeter(outcome.gas))
        assert outcome.fragment in str(failed.value)
        assert "0x" not in str(failed.value)  # no memory addresses in receipts
    before = survivor.invoke("normal", "bump")
    assert survivor.invoke("normal", "bump") == before + 1  # type: ignore[operator]
