"""docs/status.md lists every phase, reason and condition type the operator writes.

The reasons are read from the operator's source with `ast`, not imported: a reason is the
argument of a call that builds a status (Derived, Condition, ...) when it is a string
literal, or a name bound to one at module level, in its own module or imported from
another operator module. A reason the code gains and the doc lacks fails the test.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "operator" / "sftjob_operator"
DOC = ROOT / "docs" / "status.md"

# The reason argument of a call that sets the phase: (position, keyword).
PHASE_REASON_ARG = ("Derived", 1, "reason")
# Other calls whose reason a user reads in status.conditions or in an Event.
OTHER_REASON_ARGS = {
    "Decision": (1, "reason"),  # decide/restart.py (decide/model.Decision takes keywords)
    "Stall": (0, "reason"),  # decide/watchdog.py, the Stalled condition
    "StorageCheck": (1, "reason"),  # decide/storage.py, the CheckpointStorage condition
    "Condition": (2, "reason"),  # decide/model.Condition
    "set_": (2, "reason"),  # status/update.phase_conditions
    "Event": (1, "reason"),  # status/update.Event
}
# Module-level sets of reasons that reach the status as they are (pod waiting reasons,
# Job failure reasons): names ending in _REASONS, and these.
REASON_SETS = frozenset({"NOT_RESTARTABLE"})
CAMEL = re.compile(r"[A-Z][A-Za-z0-9]+")


@dataclass
class Module:
    name: str  # dotted, e.g. sftjob_operator.status.phase
    path: Path
    tree: ast.Module
    constants: dict[str, ast.expr] = field(default_factory=dict)
    imported: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (module, name)
    modules: dict[str, str] = field(default_factory=dict)  # alias -> module


@dataclass(frozen=True)
class Found:
    name: str
    where: str  # path:line

    def __str__(self) -> str:
        return f"`{self.name}` ({self.where})"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _load() -> dict[str, Module]:
    modules: dict[str, Module] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        modules[_module_name(path)] = Module(_module_name(path), path, tree)
    for module in modules.values():
        _bind(module, modules)
    return modules


def _bind(module: Module, modules: dict[str, Module]) -> None:
    package = module.name if module.path.name == "__init__.py" else module.name.rpartition(".")[0]
    for node in module.tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            if isinstance(node.targets[0], ast.Name):
                module.constants[node.targets[0].id] = node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            if isinstance(node.target, ast.Name):
                module.constants[node.target.id] = node.value
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([source] if source else [])])
            for alias in node.names:
                local = alias.asname or alias.name
                if f"{source}.{alias.name}" in modules:
                    module.modules[local] = f"{source}.{alias.name}"
                elif source in modules:
                    module.imported[local] = (source, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules and alias.asname:
                    module.modules[alias.asname] = alias.name


def _strings(
    modules: dict[str, Module], module: Module, expr: ast.expr, depth: int = 0
) -> set[str]:
    """The string values `expr` may have, as far as they can be read from the source."""
    if depth > 20:
        return set()
    again = depth + 1
    if isinstance(expr, ast.Constant):
        return {expr.value} if isinstance(expr.value, str) and expr.value else set()
    if isinstance(expr, ast.Name):
        if expr.id in module.constants:
            return _strings(modules, module, module.constants[expr.id], again)
        if expr.id in module.imported:
            source, name = module.imported[expr.id]
            return _strings(modules, modules[source], ast.Name(name), again)
        return set()  # a local or a parameter: not known here
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
        if target := module.modules.get(expr.value.id):
            return _strings(modules, modules[target], ast.Name(expr.attr), again)
        return set()
    if isinstance(expr, ast.BoolOp):
        return {s for value in expr.values for s in _strings(modules, module, value, again)}
    if isinstance(expr, ast.IfExp):
        return _strings(modules, module, expr.body, again) | _strings(
            modules, module, expr.orelse, again
        )
    if isinstance(expr, ast.Set | ast.List | ast.Tuple):
        return {s for e in expr.elts for s in _strings(modules, module, e, again)}
    if isinstance(expr, ast.Dict):
        return {s for k in expr.keys if k is not None for s in _strings(modules, module, k, again)}
    if (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Name)
        and expr.func.id in ("frozenset", "set", "tuple")
        and len(expr.args) == 1
    ):
        return _strings(modules, module, expr.args[0], again)
    return set()


def _where(module: Module, node: ast.AST) -> str:
    return f"{module.path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"


def _calls(modules: dict[str, Module]) -> Iterator[tuple[Module, ast.Call, str]]:
    for module in modules.values():
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else None
                if isinstance(func, ast.Attribute):
                    name = func.attr
                if name:
                    yield module, node, name


def _argument(call: ast.Call, position: int, keyword: str) -> ast.expr | None:
    if len(call.args) > position and not any(
        isinstance(a, ast.Starred) for a in call.args[: position + 1]
    ):
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def _reasons(modules: dict[str, Module], calls: dict[str, tuple[int, str]]) -> list[Found]:
    found = []
    for module, call, name in _calls(modules):
        if name in calls and (arg := _argument(call, *calls[name])) is not None:
            found += [Found(s, _where(module, call)) for s in _strings(modules, module, arg)]
    return found


def _constants(module: Module) -> list[Found]:
    """The module's top-level names bound to a CamelCase string literal."""
    return [
        Found(value.value, _where(module, value))
        for value in module.constants.values()
        if isinstance(value, ast.Constant)
        and isinstance(value.value, str)
        and CAMEL.fullmatch(value.value)
    ]


def _reason_sets(modules: dict[str, Module]) -> list[Found]:
    found = []
    for module in modules.values():
        for name, value in module.constants.items():
            if name.endswith("_REASONS") or name in REASON_SETS:
                found += [Found(s, _where(module, value)) for s in _strings(modules, module, value)]
    return found


def _documented() -> set[str]:
    return set(re.findall(r"`([^`\n]+)`", DOC.read_text()))


def _missing(found: list[Found]) -> list[str]:
    documented = _documented()
    first: dict[str, Found] = {}
    for f in found:
        first.setdefault(f.name, f)
    return sorted(str(f) for name, f in first.items() if name not in documented)


MODULES = _load()


def test_every_phase_reason_is_documented() -> None:
    found = _reasons(MODULES, {PHASE_REASON_ARG[0]: PHASE_REASON_ARG[1:]})
    names = {f.name for f in found}
    assert len(names) >= 15, f"only {sorted(names)} found: has Derived(...) moved?"
    assert {"Creating", "Running", "Completed", "Restarting", "Preempted"} <= names
    missing = _missing(found)
    assert not missing, f"docs/status.md does not list these phase reasons: {', '.join(missing)}"


def test_every_condition_and_event_reason_is_documented() -> None:
    found = _reasons(MODULES, OTHER_REASON_ARGS) + _reason_sets(MODULES)
    names = {f.name for f in found}
    assert len(names) >= 15, f"only {sorted(names)} found"
    assert {"EmptyDir", "LossNotFinite", "BackoffLimitExceeded", "ConfigTranslated"} <= names
    missing = _missing(found)
    assert not missing, f"docs/status.md does not list these reasons: {', '.join(missing)}"


def test_every_phase_is_documented() -> None:
    constants = _constants(MODULES["sftjob_operator.status.phase"])
    phases = {
        s
        for module, call, name in _calls(MODULES)
        if name == "Derived" and (arg := _argument(call, 0, "phase")) is not None
        for s in _strings(MODULES, module, arg)
    }
    assert len(phases) >= 8, f"only the phases {sorted(phases)} found"
    assert phases <= {c.name for c in constants}, "a phase is not a constant of status/phase.py"
    missing = _missing(constants)
    assert not missing, f"docs/status.md does not list: {', '.join(missing)}"


def test_every_condition_type_is_documented() -> None:
    types = _constants(MODULES["sftjob_operator.status.conditions"])
    assert len(types) >= 10, f"only the condition types {[t.name for t in types]} found"
    missing = _missing(types)
    assert not missing, f"docs/status.md does not list these condition types: {', '.join(missing)}"
