"""Rewrite checked contract functions into metered, bounded code.

- Every straight-line segment of a block (function body, branch, loop body; a segment ends
  after each `if`/`for`/`while`) starts by charging for its statements (`GAS_STATEMENT`
  each), plus `GAS_ITERATION` for a loop body and `GAS_CALL` for a function body: statements
  after an early `return`/`break`/`continue` are never charged; a segment cut short by a
  failure has paid for all of it.
- Every function body starts with `__gs_enter(gas)` (frame count) and every return passes
  through `__gs_leave(value)`.
- Comprehensions charge each iteration through an `if __gs_tick()` condition.
- Operators, comparisons, slices, method calls and f-strings become helper calls
  (`operators`, `methods`, `builtins`) that bound sizes before CPython allocates.
Names created here all start with `__gs_`, which contract source cannot spell.
"""

from __future__ import annotations

import ast
import copy

from gongshi.contracts.keys import SAFE_INT
from gongshi.contracts.limits import GAS_CALL, GAS_ITERATION, GAS_STATEMENT

PREFIX = "__gs_"

BINARY_HELPERS: dict[type[ast.operator], str] = {
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "truediv",
    ast.FloorDiv: "floordiv",
    ast.Mod: "mod",
    ast.Pow: "pow",
    ast.LShift: "lshift",
    ast.RShift: "rshift",
    ast.BitAnd: "bitand",
    ast.BitOr: "bitor",
    ast.BitXor: "bitxor",
}
COMPARE_HELPERS: dict[type[ast.cmpop], str] = {
    ast.Eq: "eq",
    ast.NotEq: "ne",
    ast.Lt: "lt",
    ast.LtE: "le",
    ast.Gt: "gt",
    ast.GtE: "ge",
    ast.In: "contains",
    ast.NotIn: "not_contains",
}
# Contract builtin name -> Machine attribute (those not listed are CPython's own).
BUILTIN_HELPERS: dict[str, str] = {
    "range": "range_",
    "list": "list_",
    "tuple": "tuple_",
    "dict": "dict_",
    "sorted": "sorted_",
    "reversed": "reversed_",
    "enumerate": "enumerate_",
    "zip": "zip_",
    "min": "min_",
    "max": "max_",
    "sum": "sum_",
    "any": "any_",
    "all": "all_",
    "str": "str_",
    "int": "int_",
    "bytes": "bytes_",
    "Decimal": "decimal_",
    "require": "require",
    "emit": "emit",
    "call": "call",
}


def _operator_name(operator: ast.cmpop) -> str:
    if isinstance(operator, ast.Is):
        return "is_"
    if isinstance(operator, ast.IsNot):
        return "is_not"
    return COMPARE_HELPERS[type(operator)]


def helper(name: str, node: ast.AST, *args: ast.expr) -> ast.Call:
    call = ast.Call(func=ast.Name(id=PREFIX + name, ctx=ast.Load()), args=list(args), keywords=[])
    return ast.copy_location(call, node)


def instrument_function(function: ast.FunctionDef) -> ast.FunctionDef:
    """A metered copy of a checked module-level function (decorators and annotations gone)."""
    function = copy.deepcopy(function)
    function.decorator_list = []
    function.returns = None
    for argument in function.args.args:
        argument.annotation = None
    rewriter = _Rewriter()
    body = rewriter.block(function.body, extra=0)
    # The block charge becomes the frame entry: one call of __gs_enter(gas).
    charge = body[0]
    assert isinstance(charge, ast.Expr) and isinstance(charge.value, ast.Call)
    gas = charge.value.args[0]
    assert isinstance(gas, ast.Constant) and isinstance(gas.value, int)
    body[0] = ast.Expr(value=helper("enter", function, ast.Constant(gas.value + GAS_CALL)))
    if not isinstance(body[-1], ast.Return):
        body.append(ast.Return(value=helper("leave", function, ast.Constant(None))))
    function.body = body
    ast.fix_missing_locations(function)
    return function


class _Rewriter(ast.NodeTransformer):
    def block(self, statements: list[ast.stmt], *, extra: int) -> list[ast.stmt]:
        """The block, each straight-line segment starting with the charge for its statements.

        A segment ends after each `if`/`for`/`while`, which may leave the block early
        (`return`, `break`, `continue`): statements after it are charged only if reached."""
        segments: list[list[ast.stmt]] = [[]]
        for statement in statements:
            segments[-1].append(statement)
            if isinstance(statement, ast.If | ast.For | ast.While):
                segments.append([])
        result: list[ast.stmt] = []
        for index, segment in enumerate(segment for segment in segments if segment):
            gas = GAS_STATEMENT * len(segment) + (extra if index == 0 else 0)
            charge = helper("charge", segment[0], ast.Constant(gas), ast.Constant("contract code"))
            result.append(ast.copy_location(ast.Expr(value=charge), segment[0]))
            for statement in segment:
                rewritten = self.visit(statement)
                result.extend(rewritten if isinstance(rewritten, list) else [rewritten])
        return result

    # --- statements -------------------------------------------------------------------------
    def visit_Return(self, node: ast.Return) -> ast.Return:
        value = self.visit(node.value) if node.value is not None else ast.Constant(None)
        return ast.copy_location(ast.Return(value=helper("leave", node, value)), node)

    def visit_If(self, node: ast.If) -> ast.If:
        node.test = self.visit(node.test)
        node.body = self.block(node.body, extra=0)
        node.orelse = self.block(node.orelse, extra=0) if node.orelse else []
        return node

    def visit_While(self, node: ast.While) -> ast.While:
        node.test = self.visit(node.test)
        node.body = self.block(node.body, extra=GAS_ITERATION)
        node.orelse = self.block(node.orelse, extra=0) if node.orelse else []
        return node

    def visit_For(self, node: ast.For) -> ast.For:
        node.target = self.visit(node.target)
        node.iter = self.visit(node.iter)
        node.body = self.block(node.body, extra=GAS_ITERATION)
        node.orelse = self.block(node.orelse, extra=0) if node.orelse else []
        return node

    def visit_Assign(self, node: ast.Assign) -> ast.stmt:
        target = node.targets[0]
        if len(node.targets) == 1 and isinstance(target, ast.Subscript):
            call = helper(
                "setitem",
                node,
                self.visit(target.value),
                self.visit(target.slice),
                self.visit(node.value),
            )
            return ast.copy_location(ast.Expr(value=call), node)
        self.generic_visit(node)
        return node

    def visit_Delete(self, node: ast.Delete) -> list[ast.stmt]:
        statements: list[ast.stmt] = []
        for target in node.targets:
            assert isinstance(target, ast.Subscript)  # the checker allows nothing else
            call = helper("delitem", node, self.visit(target.value), self.visit(target.slice))
            statements.append(ast.copy_location(ast.Expr(value=call), node))
        return statements

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.Assign:
        assert node.value is not None
        assign = ast.Assign(targets=[node.target], value=self.visit(node.value))
        return ast.copy_location(assign, node)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.stmt | list[ast.stmt]:
        # `xs += ys` extends the list in place, as in Python; other operators rebind.
        operator = "iadd" if isinstance(node.op, ast.Add) else BINARY_HELPERS[type(node.op)]
        value = self.visit(node.value)
        target = node.target
        if isinstance(target, ast.Name):
            current = ast.Name(id=target.id, ctx=ast.Load())
            assign = ast.Assign(targets=[target], value=helper(operator, node, current, value))
            return ast.copy_location(assign, node)
        assert isinstance(target, ast.Subscript)
        # Evaluate the container and the key once, as Python does.
        holder = f"{PREFIX}holder{node.lineno}_{node.col_offset}"
        key = f"{PREFIX}key{node.lineno}_{node.col_offset}"
        statements: list[ast.stmt] = [
            ast.Assign(
                targets=[ast.Name(id=holder, ctx=ast.Store())], value=self.visit(target.value)
            ),
            ast.Assign(targets=[ast.Name(id=key, ctx=ast.Store())], value=self.visit(target.slice)),
        ]
        item = helper(
            "getitem", node, ast.Name(id=holder, ctx=ast.Load()), ast.Name(id=key, ctx=ast.Load())
        )
        store = helper(
            "setitem",
            node,
            ast.Name(id=holder, ctx=ast.Load()),
            ast.Name(id=key, ctx=ast.Load()),
            helper(operator, node, item, value),
        )
        statements.append(ast.Expr(value=store))
        return [ast.copy_location(statement, node) for statement in statements]

    # --- expressions ------------------------------------------------------------------------
    def visit_BinOp(self, node: ast.BinOp) -> ast.Call:
        name = BINARY_HELPERS[type(node.op)]
        return helper(name, node, self.visit(node.left), self.visit(node.right))

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        if len(node.ops) > 1:
            return self._chain(node)
        operator = node.ops[0]
        left = self.visit(node.left)
        right = self.visit(node.comparators[0])
        if isinstance(operator, ast.Is | ast.IsNot):
            node.left, node.comparators = left, [right]
            return node
        return helper(COMPARE_HELPERS[type(operator)], node, left, right)

    def _chain(self, node: ast.Compare) -> ast.Call:
        """`a < b <= c` -> `__gs_chain(a, ("lt", "le"), lambda: b, lambda: c)`: each operand
        evaluated once and only if needed, as in Python."""
        names = ast.Tuple(
            elts=[ast.Constant(_operator_name(op)) for op in node.ops], ctx=ast.Load()
        )
        thunks = [
            ast.Lambda(
                args=ast.arguments(
                    posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]
                ),
                body=self.visit(comparator),
            )
            for comparator in node.comparators
        ]
        return helper("chain", node, self.visit(node.left), names, *thunks)

    def visit_Subscript(self, node: ast.Subscript) -> ast.expr:
        if isinstance(node.slice, ast.Slice) and isinstance(node.ctx, ast.Load):
            part = node.slice
            bounds = [
                self.visit(bound) if bound is not None else ast.Constant(None)
                for bound in (part.lower, part.upper, part.step)
            ]
            return helper("slice", node, self.visit(node.value), *bounds)
        if isinstance(node.ctx, ast.Load):
            return helper("getitem", node, self.visit(node.value), self.visit(node.slice))
        self.generic_visit(node)
        return node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        function = node.func
        if isinstance(function, ast.Name) and function.id == "isinstance":
            # The type names, read before visiting rewrites `int` into its helper's name.
            kinds = node.args[1]
            items = kinds.elts if isinstance(kinds, ast.Tuple) else [kinds]
            names = ast.Tuple(
                elts=[ast.Constant(item.id) for item in items if isinstance(item, ast.Name)],
                ctx=ast.Load(),
            )
            return helper("isinstance_", node, self.visit(node.args[0]), names)
        args = [self.visit(argument) for argument in node.args]
        keywords = [
            ast.keyword(arg=keyword.arg, value=self.visit(keyword.value))
            for keyword in node.keywords
        ]
        if isinstance(function, ast.Attribute):
            receiver = function.value
            if isinstance(receiver, ast.Name) and receiver.id == "bytes":
                return helper("fromhex", node, *args)
            call = helper("method", node, self.visit(receiver), ast.Constant(function.attr), *args)
            call.keywords = keywords
            return call
        node.func = self.visit(function)
        node.args = args
        node.keywords = keywords
        return node

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if isinstance(node.ctx, ast.Load) and node.id in BUILTIN_HELPERS:
            return ast.copy_location(
                ast.Name(id=PREFIX + BUILTIN_HELPERS[node.id], ctx=ast.Load()), node
            )
        if isinstance(node.ctx, ast.Load) and node.id == "ctx":
            return ast.copy_location(ast.Name(id=PREFIX + "ctx", ctx=ast.Load()), node)
        return node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.Call:
        parts: list[ast.expr] = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                parts.append(self.visit(value.value))
            else:
                parts.append(value)
        return helper("fstring", node, ast.Tuple(elts=parts, ctx=ast.Load()))

    def visit_Dict(self, node: ast.Dict) -> ast.expr:
        self.generic_visit(node)
        if all(_salted_constant(key) for key in node.keys):
            return node
        # Keys whose hashes can be made to collide are checked one by one (`keys.py`):
        # `{k: v, ...}` -> `__gs_dict_of(((k, v), ...))`, evaluated in the same order.
        pairs: list[ast.expr] = [
            ast.Tuple(elts=[key, value], ctx=ast.Load())
            for key, value in zip(node.keys, node.values, strict=True)
            if key is not None  # `**` unpacking is rejected by the checker
        ]
        return helper("dict_of", node, ast.Tuple(elts=pairs, ctx=ast.Load()))

    def visit_ListComp(self, node: ast.ListComp) -> ast.ListComp:
        self.generic_visit(node)
        for generator in node.generators:
            generator.ifs.insert(0, helper("tick", node))
        return node

    def visit_DictComp(self, node: ast.DictComp) -> ast.Call:
        """`{k: v for ...}` -> `__gs_dict_of([(k, v) for ...])`: keys checked as in `visit_Dict`."""
        self.generic_visit(node)
        for generator in node.generators:
            generator.ifs.insert(0, helper("tick", node))
        pair = ast.Tuple(elts=[node.key, node.value], ctx=ast.Load())
        pairs = ast.copy_location(ast.ListComp(elt=pair, generators=node.generators), node)
        return helper("dict_of", node, pairs)


def _salted_constant(key: ast.expr | None) -> bool:
    """A literal key whose hash cannot collide on purpose (see `keys.py`)."""
    if not isinstance(key, ast.Constant):
        return False
    value = key.value
    if type(value) is int:
        return -SAFE_INT < value < SAFE_INT
    return type(value) in (str, bytes, bool) or value is None
