"""Rules of contract function bodies: allowed statements, expressions, names and attributes."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from gongshi.contracts.errors import Problem
from gongshi.contracts.fixedpoint import Decimal
from gongshi.contracts.limits import INT_BITS_MAX, PROBLEMS_MAX, SCOPES_NESTED_MAX
from gongshi.contracts.names import (
    ALL_METHOD_NAMES,
    BUILTIN_NAMES,
    CLASS_METHODS,
    CTX_FIELDS,
    DECLARATION_NAMES,
    FORBIDDEN_NAMES,
    RUNTIME_NAMES,
)

KEY_TYPES = frozenset({"str", "int", "bytes"})
TYPE_NAMES = frozenset({"int", "str", "bool", "bytes", "list", "dict", "tuple", "Decimal"})

# Node types a body may hold with no rule beyond their children's.
_PLAIN = (
    ast.Expr,
    ast.Pass,
    ast.Break,
    ast.Continue,
    ast.Return,
    ast.If,
    ast.While,
    ast.BoolOp,
    ast.UnaryOp,
    ast.IfExp,
    ast.List,
    ast.Tuple,
    ast.ListComp,
    ast.DictComp,
    ast.Load,
    ast.Store,
    ast.Del,
    ast.boolop,
    ast.unaryop,
    ast.cmpop,
    ast.operator,
    ast.Slice,
    ast.JoinedStr,
)

REJECTED_NODES: dict[type[ast.AST], str] = {
    ast.Try: "try/except is not allowed: fail with require()",
    ast.Raise: "raise is not allowed: fail with require()",
    ast.Assert: "assert is not allowed: use require()",
    ast.With: "with is not allowed",
    ast.AsyncWith: "async code is not allowed",
    ast.AsyncFor: "async code is not allowed",
    ast.AsyncFunctionDef: "async code is not allowed",
    ast.Await: "async code is not allowed",
    ast.Global: "global is not allowed",
    ast.Nonlocal: "nonlocal is not allowed",
    ast.ClassDef: "classes are not allowed",
    ast.FunctionDef: "nested functions are not allowed (define functions at module level)",
    ast.Lambda: "lambda is not allowed: define a function at module level",
    ast.Yield: "generators are not allowed",
    ast.YieldFrom: "generators are not allowed",
    ast.GeneratorExp: "generator expressions are not allowed: use a list comprehension",
    ast.Import: "imports are only allowed at module level",
    ast.ImportFrom: "imports are only allowed at module level",
    ast.Set: "sets are not allowed",
    ast.SetComp: "sets are not allowed",
    ast.Match: "match is not allowed",
    ast.NamedExpr: "assignment expressions (:=) are not allowed",
    ast.Starred: "star arguments and star targets are not allowed",
    ast.MatMult: "the @ operator is not allowed",
}
if hasattr(ast, "TryStar"):
    REJECTED_NODES[ast.TryStar] = "try/except is not allowed: fail with require()"


@dataclass(slots=True)
class Problems:
    """Problems found so far, in any order."""

    items: list[Problem] = field(default_factory=list)

    def add(self, node: ast.AST, reason: str) -> None:
        line = getattr(node, "lineno", 1) or 1
        col = (getattr(node, "col_offset", 0) or 0) + 1
        self.add_at(line, col, reason)

    def add_at(self, line: int, col: int, reason: str) -> None:
        self.items.append(Problem(line, col, reason))

    def sorted(self) -> tuple[Problem, ...]:
        unique = sorted(set(self.items), key=lambda p: (p.line, p.col, p.reason))
        if len(unique) <= PROBLEMS_MAX:
            return tuple(unique)
        last = unique[PROBLEMS_MAX - 1]
        more = len(unique) - PROBLEMS_MAX + 1
        return (*unique[: PROBLEMS_MAX - 1], Problem(last.line, last.col, f"... {more} more"))


@dataclass(slots=True)
class ModuleNames:
    """Names the module binds, by kind."""

    functions: set[str] = field(default_factory=set)
    storage: set[str] = field(default_factory=set)
    constants: set[str] = field(default_factory=set)

    @property
    def all(self) -> set[str]:
        return self.functions | self.storage | self.constants


def is_constant(node: ast.expr, *, allow_decimal: bool) -> bool:
    """Whether `node` is an immutable literal the loader can evaluate."""
    if isinstance(node, ast.Constant):
        value = node.value
        if type(value) is int:
            return value.bit_length() <= INT_BITS_MAX
        return value is None or type(value) in (bool, str, bytes)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        return isinstance(node.operand, ast.Constant) and type(node.operand.value) is int
    if isinstance(node, ast.Tuple):
        return all(is_constant(item, allow_decimal=allow_decimal) for item in node.elts)
    if allow_decimal and isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return (
            node.func.id == "Decimal"
            and len(node.args) == 1
            and not node.keywords
            and isinstance(node.args[0], ast.Constant)
            and type(node.args[0].value) in (int, str)
            and _decimal_parses(node.args[0].value)
        )
    return False


def _decimal_parses(value: object) -> bool:
    try:
        Decimal(value)
    except Exception:  # a bad literal is a problem to report, whatever the failure
        return False
    return True


def constant_value(node: ast.expr) -> object:
    """The value of a node `is_constant` accepted."""
    if isinstance(node, ast.Call):
        return Decimal(constant_value(node.args[0]))
    if isinstance(node, ast.Tuple):
        return tuple(constant_value(item) for item in node.elts)
    return ast.literal_eval(node)


class BodyChecker:
    """Checks one module-level function: signature, statements, expressions, names."""

    def __init__(self, problems: Problems, names: ModuleNames) -> None:
        self.problems = problems
        self.names = names
        self.locals: set[str] = set()

    def check_function(self, function: ast.FunctionDef) -> None:
        self._signature(function)
        self.locals.update(argument.arg for argument in function.args.args)
        self.locals.update(_assigned_names(function))
        for statement in function.body:
            self.visit(statement)
        self._scopes(function, 0)

    def _scopes(self, node: ast.AST, depth: int) -> None:
        """Reject comprehensions and chained comparisons nested past SCOPES_NESTED_MAX."""
        if isinstance(node, ast.ListComp | ast.DictComp) or (
            isinstance(node, ast.Compare) and len(node.ops) > 1
        ):
            depth += 1
            if depth > SCOPES_NESTED_MAX:
                self.problems.add(
                    node,
                    f"comprehensions and chained comparisons nest at most {SCOPES_NESTED_MAX} "
                    "deep in a function",
                )
                return
        for child in ast.iter_child_nodes(node):
            self._scopes(child, depth)

    def _signature(self, function: ast.FunctionDef) -> None:
        arguments = function.args
        if arguments.posonlyargs or arguments.kwonlyargs or arguments.vararg or arguments.kwarg:
            self.problems.add(
                function, "only plain parameters are allowed (no *args, **kwargs, / or *)"
            )
        for argument in arguments.args:
            self._check_binding(argument, argument.arg)
        for default in arguments.defaults:
            if not is_constant(default, allow_decimal=False):
                self.problems.add(default, "parameter defaults must be immutable constants")

    def _check_binding(self, node: ast.AST, name: str) -> None:
        from gongshi.contracts.checker import reserved_reason

        reason = reserved_reason(name)
        if reason is None and name in self.names.all:
            reason = f"{name!r} would shadow a module-level name"
        if reason is not None:
            self.problems.add(node, reason)

    # --- dispatch ---------------------------------------------------------------------------
    def visit(self, node: ast.AST) -> None:
        rejected = REJECTED_NODES.get(type(node))
        if rejected is not None:
            self.problems.add(node, rejected)
            return
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is not None:
            method(node)
        elif isinstance(node, _PLAIN):
            self.visit_children(node)
        else:
            self.problems.add(node, f"{type(node).__name__} is not allowed in contracts")

    def visit_children(self, node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            self.visit(child)

    # --- statements -------------------------------------------------------------------------
    def visit_Assign(self, node: ast.Assign) -> None:
        single = len(node.targets) == 1 and isinstance(node.targets[0], ast.Subscript)
        for target in node.targets:
            self._target(target, items=single)
        self.visit(node.value)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._target(node.target)
        if isinstance(node.op, ast.MatMult):
            self.problems.add(node, REJECTED_NODES[ast.MatMult])
        if isinstance(node.target, ast.Name):
            self.visit_Name(ast.Name(id=node.target.id, ctx=ast.Load(), lineno=node.lineno))
        self.visit(node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is None or not isinstance(node.target, ast.Name):
            self.problems.add(node, "annotated assignments must bind one name to a value")
            return
        self._target(node.target)
        self.visit(node.value)

    def visit_For(self, node: ast.For) -> None:
        self._target(node.target, items=False)
        self.visit(node.iter)
        for statement in [*node.body, *node.orelse]:
            self.visit(statement)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Subscript) and not isinstance(target.slice, ast.Slice):
                self.visit(target)
            else:
                self.problems.add(target, "del only removes an item: del mapping[key]")

    def _target(self, target: ast.expr, *, items: bool = True) -> None:
        if isinstance(target, ast.Name):
            self._check_binding(target, target.id)
        elif isinstance(target, ast.Tuple | ast.List):
            for item in target.elts:
                self._target(item, items=False)
        elif isinstance(target, ast.Subscript):
            if not items:
                self.problems.add(target, "assign items one at a time: d[k] = v")
            elif isinstance(target.slice, ast.Slice):
                self.problems.add(target, "slice assignment is not allowed")
            self.visit(target)
        elif isinstance(target, ast.Attribute):
            self.problems.add(target, "assigning to attributes is not allowed")
        else:
            self.visit(target)

    # --- expressions ------------------------------------------------------------------------
    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if type(value) is float:
            self.problems.add(node, "float literals are not allowed: use Decimal('...') or int")
        elif type(value) is complex or value is Ellipsis:
            self.problems.add(node, f"{type(value).__name__} literals are not allowed")
        elif type(value) is int and value.bit_length() > INT_BITS_MAX:
            self.problems.add(node, f"integer literal has more than {INT_BITS_MAX} bits")

    def visit_Name(self, node: ast.Name) -> None:
        name = node.id
        if name.startswith("_"):
            self.problems.add(node, f"name {name!r}: names starting with '_' are not allowed")
        elif isinstance(node.ctx, ast.Store | ast.Del):
            return  # checked as a binding target
        elif name in FORBIDDEN_NAMES:
            self.problems.add(node, f"name {name!r} is not allowed: {FORBIDDEN_NAMES[name]}")
        elif name in DECLARATION_NAMES:
            self.problems.add(node, f"{name!r} is only for module-level declarations")
        elif not (
            name in self.locals
            or name in self.names.all
            or name in BUILTIN_NAMES
            or name in RUNTIME_NAMES
        ):
            self.problems.add(node, f"name {name!r} is not defined")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr.startswith("_"):
            self.problems.add(
                node, f"attribute {node.attr!r}: private and dunder attributes are not allowed"
            )
        elif isinstance(node.value, ast.Name) and node.value.id == "ctx":
            if node.attr not in CTX_FIELDS:
                self.problems.add(node, f"ctx has no field {node.attr!r}")
            elif not isinstance(node.ctx, ast.Load):
                self.problems.add(node, "ctx fields cannot be assigned")
        else:
            self.problems.add(
                node, f"attribute access .{node.attr} is only allowed as a method call"
            )
        self.visit(node.value)

    def visit_Call(self, node: ast.Call) -> None:
        function = node.func
        if isinstance(function, ast.Attribute):
            self._method(function)
        elif isinstance(function, ast.Name):
            self._callee(function)
            if function.id == "isinstance":
                self._isinstance(node)
        else:
            self.problems.add(node, "only named functions and methods can be called")
            self.visit(function)
        for argument in node.args:
            self.visit(argument)
        for keyword in node.keywords:
            if keyword.arg is None:
                self.problems.add(keyword.value, "** arguments are not allowed")
            elif keyword.arg.startswith("_"):
                self.problems.add(
                    keyword, f"keyword {keyword.arg!r}: names starting with '_' are not allowed"
                )
            self.visit(keyword.value)

    def _method(self, function: ast.Attribute) -> None:
        name = function.attr
        receiver = function.value
        if name.startswith("_"):
            self.problems.add(
                function, f"attribute {name!r}: private and dunder attributes are not allowed"
            )
        elif isinstance(receiver, ast.Name) and receiver.id in TYPE_NAMES:
            if (receiver.id, name) not in CLASS_METHODS:
                self.problems.add(function, f"{receiver.id}.{name} is not allowed")
            return
        elif name not in ALL_METHOD_NAMES:
            self.problems.add(function, f"method {name!r} is not allowed")
        self.visit(receiver)

    def _callee(self, function: ast.Name) -> None:
        name = function.id
        self.visit_Name(function)
        if name in self.locals and name not in self.names.functions:
            self.problems.add(function, f"{name!r} is a variable: only functions can be called")
        elif name in self.names.storage or name in self.names.constants:
            self.problems.add(function, f"{name!r} is not a function")
        elif name == "ctx":
            self.problems.add(function, "ctx is not a function")

    def _isinstance(self, node: ast.Call) -> None:
        if len(node.args) != 2 or node.keywords:
            self.problems.add(node, "isinstance takes a value and a type")
            return
        kinds = node.args[1]
        items = kinds.elts if isinstance(kinds, ast.Tuple) else [kinds]
        if not items or any(not isinstance(i, ast.Name) or i.id not in TYPE_NAMES for i in items):
            self.problems.add(
                kinds, f"isinstance types must be among {', '.join(sorted(TYPE_NAMES))}"
            )

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.MatMult):
            self.problems.add(node, REJECTED_NODES[ast.MatMult])
        self.visit(node.left)
        self.visit(node.right)

    def visit_Compare(self, node: ast.Compare) -> None:
        sides = [node.left, *node.comparators]
        for index, operator in enumerate(node.ops):
            pair = sides[index : index + 2]
            if isinstance(operator, ast.Is | ast.IsNot) and not any(
                isinstance(side, ast.Constant) and side.value is None for side in pair
            ):
                # Identity of ints and strings is a CPython implementation detail.
                self.problems.add(node, "'is' is only allowed with None (x is None): use ==")
        self.visit_children(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        self.visit_children(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        if any(key is None for key in node.keys):
            self.problems.add(node, "** unpacking is not allowed")
        self.visit_children(node)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        if node.is_async:
            self.problems.add(node.target, "async code is not allowed")
        self._target(node.target, items=False)
        self.visit(node.iter)
        for condition in node.ifs:
            self.visit(condition)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> None:
        if node.conversion != -1 or node.format_spec is not None:
            self.problems.add(node, "f-string conversions (!r) and format specs are not allowed")
        self.visit(node.value)

    def visit_keyword(self, node: ast.keyword) -> None:
        self.visit(node.value)


def _assigned_names(function: ast.FunctionDef) -> set[str]:
    """Names a function body binds (assignments, loop and comprehension targets)."""
    names: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names
