"""The deploy-time checker: parse contract source and report every rule it breaks.

`check_contract(source)` raises `ContractRejected` listing each problem as `line:col: reason`
(columns 1-based). Module-level rules live here; the rules of function bodies in
`checker_body`. Identifiers must be ASCII: Python folds `ｅｖａｌ` to `eval` (NFKC) when it
parses, so the checker reads the raw tokens and rejects any non-ASCII name rather than
comparing normalised forms.
"""

from __future__ import annotations

import ast
import io
import tokenize
import warnings
from types import MappingProxyType

from gongshi.contracts.checker_body import (
    KEY_TYPES,
    REJECTED_NODES,
    BodyChecker,
    ModuleNames,
    Problems,
    constant_value,
    is_constant,
)
from gongshi.contracts.declarations import CheckedModule, ExportSpec, StorageDecl
from gongshi.contracts.errors import ContractRejected, Problem
from gongshi.contracts.limits import (
    AST_DEPTH_MAX,
    AST_NODES_MAX,
    SOURCE_BYTES_MAX,
    STATEMENT_TOKENS_MAX,
)
from gongshi.contracts.names import (
    BUILTIN_NAMES,
    CONTRACT_MODULE,
    FORBIDDEN_NAMES,
    RUNTIME_NAMES,
)
from gongshi.contracts.stack import ensure_stack_headroom

__all__ = ["analyse", "check_contract"]


def check_contract(source: str) -> None:
    """Raise ContractRejected listing every problem of `source`, or return."""
    analyse(source)


def analyse(source: str) -> CheckedModule:
    """Check `source` and return its declarations; ContractRejected otherwise."""
    tree = _parse(source)
    problems = Problems()
    _check_shape(tree, problems)
    if not problems.items:
        _check_identifiers(source, problems)
        module = _ModuleChecker(problems).check(tree)
    if problems.items:
        raise ContractRejected(problems.sorted())
    return module


def _parse(source: str) -> ast.Module:
    if not isinstance(source, str):
        raise ContractRejected((Problem(1, 1, "contract source must be text"),))
    size = len(source.encode("utf-8", errors="surrogatepass"))
    if size > SOURCE_BYTES_MAX:
        raise ContractRejected(
            (Problem(1, 1, f"source is {size} bytes, more than {SOURCE_BYTES_MAX}"),)
        )
    _check_statement_lengths(source)
    ensure_stack_headroom()
    try:
        with warnings.catch_warnings():
            # Invalid escapes and the like warn; whether a warning is an error must not depend
            # on the process's warning filters.
            warnings.simplefilter("ignore")
            return ast.parse(source, filename="<contract>", mode="exec")
    except SyntaxError as error:
        reason = f"syntax error: {error.msg}"
        raise ContractRejected((Problem(error.lineno or 1, error.offset or 1, reason),)) from None
    except (ValueError, RecursionError, MemoryError) as error:
        # NUL bytes, nesting past the parser's own limits, absurd literals.
        reason = f"source cannot be parsed ({type(error).__name__})"
        raise ContractRejected((Problem(1, 1, reason),)) from None


def _check_statement_lengths(source: str) -> None:
    """Refuse, before parsing, a statement of more than STATEMENT_TOKENS_MAX tokens: how deep
    the parser recurses grows with them, and a RecursionError's place would depend on the
    caller's stack. The tokenizer is iterative; what it cannot read the parser reports."""
    count = 0
    start = (1, 0)
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type in _STATEMENT_ENDS:
                count = 0
                continue
            if token.type in _NOT_COUNTED:
                continue
            if count == 0:
                start = token.start
            count += 1
            if count > STATEMENT_TOKENS_MAX:
                reason = f"statement of more than {STATEMENT_TOKENS_MAX} tokens"
                raise ContractRejected((Problem(start[0], start[1] + 1, reason),))
    except (tokenize.TokenError, SyntaxError):
        return


_STATEMENT_ENDS = frozenset({tokenize.NEWLINE, tokenize.ENDMARKER})
_NOT_COUNTED = frozenset({tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT})


def _check_shape(tree: ast.Module, problems: Problems) -> None:
    """Bound the AST's size and depth, so later walks (and compile) stay cheap."""
    count = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    deepest: tuple[ast.AST, int] = (tree, 0)
    while stack:
        node, depth = stack.pop()
        count += 1
        if depth > deepest[1]:
            deepest = (node, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    if count > AST_NODES_MAX:
        problems.add(tree, f"contract has {count} syntax nodes, more than {AST_NODES_MAX}")
    if deepest[1] > AST_DEPTH_MAX:
        problems.add(deepest[0], f"expression nested deeper than {AST_DEPTH_MAX} levels")


def _check_identifiers(source: str, problems: Problems) -> None:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):  # parsed already; defensive
        problems.add_at(1, 1, "source cannot be tokenized")
        return
    # Any non-ASCII token outside strings and comments: a name, or (like U+FF3F in
    # `_\uff3fclass__`) a character the tokenizer cannot place but the parser folds in.
    for token in tokens:
        if token.type not in _TEXT_TOKENS and not token.string.isascii():
            problems.add_at(
                token.start[0],
                token.start[1] + 1,
                f"non-ASCII identifier {token.string!r} (identifiers must be ASCII)",
            )


_TEXT_TOKENS = frozenset({tokenize.STRING, tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE})


class _ModuleChecker:
    """Module-level rules: imports, storage declarations, constants, functions, exports."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self.names = ModuleNames()
        self.storage: list[StorageDecl] = []
        self.constants: dict[str, object] = {}
        self.functions: dict[str, ast.FunctionDef] = {}
        self.exports: dict[str, ExportSpec] = {}

    def check(self, tree: ast.Module) -> CheckedModule:
        for statement in tree.body:
            self._statement(statement)
        if not self.exports:
            self.problems.add_at(1, 1, "contract exports no function (mark one with @export)")
        for function in self.functions.values():
            BodyChecker(self.problems, self.names).check_function(function)
        return CheckedModule(
            tree=tree,
            functions=MappingProxyType(self.functions),
            storage=tuple(self.storage),
            constants=MappingProxyType(self.constants),
            exports=MappingProxyType(self.exports),
        )

    def _statement(self, statement: ast.stmt) -> None:
        if (
            isinstance(statement, ast.Expr)
            and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str)
        ):
            return  # a docstring
        if isinstance(statement, ast.ImportFrom):
            self._import(statement)
        elif isinstance(statement, ast.Import):
            self.problems.add(statement, f"imports are not allowed (only from {CONTRACT_MODULE})")
        elif isinstance(statement, ast.FunctionDef):
            self._function(statement)
        elif isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            self._declaration(statement, statement.targets[0], statement.value)
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            self._declaration(statement, statement.target, statement.value)
        elif type(statement) in REJECTED_NODES:
            self.problems.add(statement, REJECTED_NODES[type(statement)])
        else:
            what = type(statement).__name__
            self.problems.add(
                statement,
                f"{what} is not allowed at module level (only imports from {CONTRACT_MODULE}, "
                "storage declarations, constants and functions)",
            )

    def _import(self, statement: ast.ImportFrom) -> None:
        if statement.module != CONTRACT_MODULE or statement.level != 0:
            self.problems.add(statement, f"imports are not allowed (only from {CONTRACT_MODULE})")
            return
        for alias in statement.names:
            if alias.name not in RUNTIME_NAMES:
                self.problems.add(alias, f"{CONTRACT_MODULE} has no name {alias.name!r}")
            elif alias.asname is not None and alias.asname != alias.name:
                self.problems.add(alias, f"{alias.name!r} cannot be imported under another name")

    def _bind(self, node: ast.AST, name: str) -> bool:
        """Claim a module-level name; False (with a problem) if it may not be bound."""
        reason = reserved_reason(name)
        if reason is None and name in self.names.all:
            reason = f"{name!r} is already defined"
        if reason is not None:
            self.problems.add(node, reason)
            return False
        return True

    def _declaration(self, statement: ast.stmt, target: ast.expr, value: ast.expr) -> None:
        if not isinstance(target, ast.Name):
            self.problems.add(statement, "module-level assignments must bind one plain name")
            return
        if not self._bind(target, target.id):
            return
        if (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id in ("Map", "Value")
        ):
            self._storage(target.id, value, value.func.id)
            return
        if is_constant(value, allow_decimal=True):
            self.constants[target.id] = constant_value(value)
            self.names.constants.add(target.id)
            return
        self.problems.add(
            value,
            "module-level values must be Map(...), Value(...) or an immutable constant "
            "(int, str, bytes, bool, None, Decimal('...'), or a tuple of them)",
        )

    def _storage(self, name: str, call: ast.Call, kind: str) -> None:
        self.names.storage.add(name)
        if call.args:
            self.problems.add(call, f"{kind}() takes keyword arguments only")
        key_types: tuple[str, ...] = ("str",) if kind == "Map" else ()
        default: object = None
        for keyword in call.keywords:
            if keyword.arg == "key" and kind == "Map":
                key_types = self._key_types(keyword.value)
            elif keyword.arg == "default" and is_constant(keyword.value, allow_decimal=True):
                default = constant_value(keyword.value)
            elif keyword.arg == "default":
                self.problems.add(keyword.value, "a storage default must be an immutable constant")
            else:
                self.problems.add(call, f"{kind}() has no argument {keyword.arg!r}")
        self.storage.append(StorageDecl(name=name, kind=kind, key_types=key_types, default=default))

    def _key_types(self, node: ast.expr) -> tuple[str, ...]:
        parts = node.elts if isinstance(node, ast.Tuple) else [node]
        names = tuple(part.id if isinstance(part, ast.Name) else "" for part in parts)
        if not names or any(name not in KEY_TYPES for name in names):
            self.problems.add(node, "Map key must be str, int or bytes, or a tuple of them")
            return ("str",)
        return names

    def _function(self, function: ast.FunctionDef) -> None:
        if not self._bind(function, function.name):
            return
        self.names.functions.add(function.name)
        self.functions[function.name] = function
        spec = None
        for decorator in function.decorator_list:
            spec = self._export(function, decorator)
        if spec is not None:
            self.exports[function.name] = spec

    def _export(self, function: ast.FunctionDef, decorator: ast.expr) -> ExportSpec | None:
        parameters = tuple(argument.arg for argument in function.args.args)
        if isinstance(decorator, ast.Name) and decorator.id == "export":
            return ExportSpec(function.name, parameters, None, False)
        if not (
            isinstance(decorator, ast.Call)
            and isinstance(decorator.func, ast.Name)
            and decorator.func.id == "export"
            and not decorator.args
        ):
            self.problems.add(decorator, "the only decorator allowed is @export or @export(...)")
            return None
        roles: frozenset[str] | None = None
        read_only = False
        for keyword in decorator.keywords:
            value = keyword.value
            if (
                keyword.arg == "read_only"
                and isinstance(value, ast.Constant)
                and type(value.value) is bool
            ):
                read_only = value.value
                continue
            if keyword.arg == "roles" and isinstance(value, ast.Tuple | ast.List):
                texts = [item.value for item in value.elts if isinstance(item, ast.Constant)]
                if len(texts) == len(value.elts) and all(type(t) is str for t in texts):
                    roles = frozenset(str(text) for text in texts)
                    continue
            self.problems.add(
                decorator, "export takes roles=('role', ...) and read_only=True/False only"
            )
        return ExportSpec(function.name, parameters, roles, read_only)


def reserved_reason(name: str) -> str | None:
    """Why `name` may not be bound by a contract, or None."""
    if name.startswith("_"):
        return f"name {name!r}: names starting with '_' are not allowed"
    if name in FORBIDDEN_NAMES:
        return f"name {name!r} is reserved: {FORBIDDEN_NAMES[name]}"
    if name in BUILTIN_NAMES or name in RUNTIME_NAMES:
        return f"name {name!r} is a builtin of the contract language and cannot be rebound"
    return None
