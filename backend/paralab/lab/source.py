"""The source a learner sees for a scenario: its function and everything it names.

Walks the scenario module's syntax tree: starting from the scenario function and its
params struct, it follows names to the module's own top-level functions, classes and
constants, and returns them in file order.
"""

from __future__ import annotations

import ast
import inspect
from functools import cache

from paralab.lab.scenario import Scenario

Definition = ast.FunctionDef | ast.ClassDef | ast.Assign | ast.AnnAssign


def scenario_source(scenario: Scenario) -> str:
    module = inspect.getmodule(scenario.run)
    if module is None:
        return inspect.getsource(scenario.run)
    text = inspect.getsource(module)
    definitions = _top_level_definitions(text)
    wanted = _closure({scenario.run.__name__, scenario.params.__name__}, definitions)
    ordered = sorted((definitions[name] for name in wanted), key=lambda node: node.lineno)
    unique = list(dict.fromkeys(id(node) for node in ordered))
    nodes = {id(node): node for node in ordered}
    return "\n\n".join(_segment(text, nodes[key]) for key in unique) + "\n"


@cache
def _top_level_definitions(text: str) -> dict[str, Definition]:
    definitions: dict[str, Definition] = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            definitions[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id != "SCENARIOS":
                    definitions[target.id] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            definitions[node.target.id] = node
    return definitions


def _closure(start: set[str], definitions: dict[str, Definition]) -> set[str]:
    seen: set[str] = set()
    todo = [name for name in start if name in definitions]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in ast.walk(definitions[name]):
            if isinstance(node, ast.Name) and node.id in definitions and node.id not in seen:
                todo.append(node.id)
    return seen


def _segment(text: str, node: Definition) -> str:
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    lines = text.splitlines()[first - 1 : node.end_lineno]
    return "\n".join(lines)
