"""The source a learner sees for a scenario: its function and everything it names.

Walks the syntax trees of the scenario's module and of the catalog modules it imports
from: starting at the scenario function and its params struct, it follows names to
top-level functions, classes and constants, and returns them shared-first, in file order.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from dataclasses import dataclass
from functools import cache

from paralab.lab.scenario import Scenario

CATALOG_PACKAGE = "paralab.lab.catalog"
Node = ast.FunctionDef | ast.ClassDef | ast.Assign | ast.AnnAssign


@dataclass(frozen=True)
class Definition:
    order: tuple[int, int]
    """(module rank: imported catalog modules first, line)."""
    text: str
    node: Node


def scenario_source(scenario: Scenario) -> str:
    definitions = _definitions(scenario.run.__module__)
    wanted = _closure({scenario.run.__name__, scenario.params.__name__}, definitions)
    chosen = {definitions[name].order: definitions[name] for name in wanted}
    return "\n\n".join(chosen[key].text for key in sorted(chosen)) + "\n"


@cache
def _definitions(module_name: str) -> dict[str, Definition]:
    """Top-level definitions of a catalog module, plus those it imports from the catalog."""
    text = inspect.getsource(importlib.import_module(module_name))
    found: dict[str, Definition] = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(CATALOG_PACKAGE):
            shared = _definitions(node.module or "")
            for alias in node.names:
                if alias.name in shared:
                    d = shared[alias.name]
                    found[alias.asname or alias.name] = Definition((0, d.order[1]), d.text, d.node)
        for name in _names_defined(node):
            found[name] = Definition((1, node.lineno), _segment(text, node), node)  # type: ignore[arg-type]
    return found


def _names_defined(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name) and t.id != "SCENARIOS"]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def _closure(start: set[str], definitions: dict[str, Definition]) -> set[str]:
    seen: set[str] = set()
    todo = [name for name in start if name in definitions]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in ast.walk(definitions[name].node):
            if isinstance(node, ast.Name) and node.id in definitions and node.id not in seen:
                todo.append(node.id)
    return seen


def _segment(text: str, node: ast.stmt) -> str:
    decorators = getattr(node, "decorator_list", [])
    first = min([node.lineno, *(d.lineno for d in decorators)])
    return "\n".join(text.splitlines()[first - 1 : node.end_lineno])
