"""`load_contract`: check, instrument and compile; `LoadedContract.invoke`: run an export.

Loading is pure and the result immutable: the compiled code objects are shared, while each
invocation gets fresh globals (its own `Machine`, storage objects, `ctx` and function
objects), so one `LoadedContract` can serve nested and concurrent calls.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import CodeType, FunctionType, MappingProxyType, TracebackType
from typing import Any

from gongshi.codec import CborValue
from gongshi.contracts.checker import analyse
from gongshi.contracts.declarations import ExportSpec, StorageDecl
from gongshi.contracts.errors import (
    ContractRuntimeError,
    LimitExceeded,
    ReadOnlyViolation,
    RecursionTooDeep,
)
from gongshi.contracts.faults import ContractFault, FramesFault, LimitFault
from gongshi.contracts.fixedpoint import Decimal
from gongshi.contracts.host import Context, ContractHost
from gongshi.contracts.instrument import PREFIX, instrument_function
from gongshi.contracts.machine import OPEN_FRAMES, Machine, ReadOnlyFault, result_value
from gongshi.contracts.stack import ensure_stack_headroom
from gongshi.contracts.storage import Map, Value
from gongshi.contracts.values import from_cbor
from gongshi.errors import GongshiError, InvariantViolation
from gongshi.execution.errors import CallNotFound, InvalidArguments, ReadOnlyCall

CONTRACT_FILENAME = "<contract>"

# CPython builtins whose cost stays within the value caps: bound as they are.
_PLAIN_BUILTINS: Mapping[str, object] = MappingProxyType(
    {"len": len, "abs": abs, "bool": bool, "hex": hex, "Decimal": Decimal}
)
_MACHINE_METHODS = frozenset(
    name for name in dir(Machine) if not name.startswith("_") and callable(getattr(Machine, name))
) - {"charge"}


@dataclass(frozen=True, slots=True, kw_only=True)
class _Function:
    name: str
    code: CodeType
    defaults: tuple[object, ...] | None
    parameters: tuple[str, ...]
    required: frozenset[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Plan:
    """What one export's invocation binds: only the functions it can reach, and only the
    storage objects and helpers those functions name (binding is per call, so less is faster)."""

    entry: _Function
    functions: tuple[_Function, ...]
    storage: tuple[StorageDecl, ...]
    base_globals: Mapping[str, object]
    helpers: tuple[tuple[str, str], ...]  # (global name, Machine attribute)
    uses_ctx: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class _Program:
    plans: Mapping[str, _Plan]


@dataclass(frozen=True, slots=True)
class LoadedContract:
    """A checked, instrumented and compiled contract; immutable, safe to cache by code hash."""

    exports: Mapping[str, ExportSpec]
    program: _Program = field(repr=False)

    def invoke(self, method: str, args: Mapping[str, CborValue], host: ContractHost) -> CborValue:
        """Run export `method` with named `args`; its return value as CBOR.

        Raises CallNotFound, InvalidArguments, ReadOnlyCall before running; while running,
        OutOfGas (from the meter), errors of nested calls as they are, and this package's
        `CallFailed` subclasses for everything else."""
        spec = self.exports.get(method)
        if spec is None:
            raise CallNotFound(f"contract has no export {method!r}")
        if host.read_only and not spec.read_only:
            raise ReadOnlyCall(f"{method} changes state; it cannot run read-only")
        plan = self.program.plans[method]
        arguments = _arguments(plan.entry, args)
        if OPEN_FRAMES.get() == 0:
            ensure_stack_headroom()
        machine = Machine(host, writable=not (host.read_only or spec.read_only))
        entry = _bind(plan, machine)[method]
        try:
            # The return value's conversion too: no raw Python error may leave the runtime.
            return result_value(entry(**arguments), host.meter.charge)
        except GongshiError:
            raise
        except InvariantViolation:
            raise
        except ContractFault as fault:
            raise _public(fault, _contract_line(fault.__traceback__)) from None
        except RecursionError as error:
            # Where it strikes depends on the caller's stack, not on the contract: turning it
            # into a receipt could make nodes disagree, so it stops this node instead.
            raise InvariantViolation(
                "contract invocation hit the interpreter's recursion limit"
            ) from error
        except MemoryError as error:
            # The allocation budget bounds what a contract holds: running out of memory is
            # this node's condition, not the contract's, and must not become a receipt.
            raise InvariantViolation("contract invocation ran out of memory") from error
        except Exception as error:  # any Python error of contract code becomes a receipt error
            line = _contract_line(error.__traceback__)
            raise ContractRuntimeError(f"line {line}: {type(error).__name__}") from None


def _bind(plan: _Plan, machine: Machine) -> dict[str, Any]:
    scope: dict[str, Any] = dict(plan.base_globals)
    for global_name, attribute in plan.helpers:
        scope[global_name] = getattr(machine, attribute)
    scope[PREFIX + "charge"] = machine.charge
    if plan.uses_ctx:
        scope[PREFIX + "ctx"] = Context.of(machine.host)
    for decl in plan.storage:
        scope[decl.name] = (Map if decl.kind == "Map" else Value)(machine, decl)
    for function in plan.functions:
        scope[function.name] = FunctionType(function.code, scope, function.name, function.defaults)
    return scope


def load_contract(source: str) -> LoadedContract:
    """Check, instrument and compile `source`; ContractRejected lists every problem."""
    module = analyse(source)
    instrumented = [instrument_function(module.functions[name]) for name in module.functions]
    tree = ast.Module(body=list(instrumented), type_ignores=[])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = compile(tree, CONTRACT_FILENAME, "exec", dont_inherit=True)
    # Running the module only defines the functions (their defaults are literals).
    scratch: dict[str, Any] = {"__builtins__": {}}
    exec(code, scratch)
    functions = tuple(_compiled(scratch[name], module.functions[name]) for name in module.functions)
    names_of = {
        function.name: frozenset(
            node.id for node in ast.walk(function) if isinstance(node, ast.Name)
        )
        for function in instrumented
    }
    plans = {
        name: _plan(name, functions, names_of, module.storage, module.constants)
        for name in module.exports
    }
    program = _Program(plans=MappingProxyType(plans))
    return LoadedContract(module.exports, program)


def _plan(
    export: str,
    functions: tuple[_Function, ...],
    names_of: Mapping[str, frozenset[str]],
    storage: tuple[StorageDecl, ...],
    constants: Mapping[str, object],
) -> _Plan:
    reachable = {export}
    pending = [export]
    while pending:
        for name in names_of[pending.pop()]:
            if name in names_of and name not in reachable:
                reachable.add(name)
                pending.append(name)
    used = frozenset().union(*(names_of[name] for name in reachable))
    # Helpers are the Machine's methods, named `__gs_<method>` in the compiled code.
    helpers = tuple(
        (name, name[len(PREFIX) :])
        for name in sorted(used)
        if name.startswith(PREFIX) and name[len(PREFIX) :] in _MACHINE_METHODS
    )
    base: dict[str, object] = {"__builtins__": MappingProxyType({})}
    base.update({name: value for name, value in _PLAIN_BUILTINS.items() if name in used})
    base.update({name: value for name, value in constants.items() if name in used})
    by_name = {function.name: function for function in functions}
    return _Plan(
        entry=by_name[export],
        functions=tuple(function for function in functions if function.name in reachable),
        storage=tuple(decl for decl in storage if decl.name in used),
        base_globals=MappingProxyType(base),
        helpers=helpers,
        uses_ctx=PREFIX + "ctx" in used,
    )


def _compiled(function: object, node: ast.FunctionDef) -> _Function:
    assert isinstance(function, FunctionType)
    parameters = tuple(argument.arg for argument in node.args.args)
    optional = len(node.args.defaults)
    return _Function(
        name=node.name,
        code=function.__code__,
        defaults=function.__defaults__,
        parameters=parameters,
        required=frozenset(parameters[: len(parameters) - optional]),
    )


def _arguments(function: _Function, args: Mapping[str, CborValue]) -> dict[str, object]:
    if not isinstance(args, Mapping):
        raise InvalidArguments(f"{function.name}: arguments must be a map")
    unknown = sorted(str(name) for name in args if name not in function.parameters)
    if unknown:
        raise InvalidArguments(f"{function.name}: unknown argument {unknown[0]!r}")
    missing = sorted(function.required - set(args))
    if missing:
        raise InvalidArguments(f"{function.name}: missing argument {missing[0]!r}")
    return {name: from_cbor(value) for name, value in args.items()}


def _contract_line(trace: TracebackType | None) -> int:
    """The line of the innermost contract frame of a traceback (0 if none)."""
    line = 0
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == CONTRACT_FILENAME:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


def _public(fault: ContractFault, line: int) -> GongshiError:
    if isinstance(fault, FramesFault):
        return RecursionTooDeep(f"line {line}: {fault.detail}")
    if isinstance(fault, LimitFault):
        return LimitExceeded(f"line {line}: {fault.detail}")
    if isinstance(fault, ReadOnlyFault):
        return ReadOnlyViolation(f"line {line}: {fault.detail}")
    return ContractRuntimeError(f"line {line}: {fault.kind}: {fault.detail}")
