"""The source a learner sees for a scenario: its function plus the helpers it uses."""

from __future__ import annotations

import inspect
import types
from typing import Any

from paralab.lab.scenario import Scenario


def scenario_source(scenario: Scenario) -> str:
    """Source of the params struct, the helpers the function names, and the function itself."""
    module = inspect.getmodule(scenario.run)
    parts: list[Any] = [scenario.params]
    for helper in _helpers(scenario.run, module):
        if helper not in parts:
            parts.append(helper)
    parts.append(scenario.run)
    return "\n\n".join(inspect.getsource(part).rstrip() for part in parts) + "\n"


def _helpers(function: Any, module: types.ModuleType | None, depth: int = 2) -> list[Any]:
    if module is None or depth == 0:
        return []
    found: list[Any] = []
    code = function.__code__
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= set(const.co_names)
    for name in sorted(names):
        value = getattr(module, name, None)
        local = (inspect.isfunction(value) or inspect.isclass(value)) and (
            getattr(value, "__module__", None) == module.__name__
        )
        if local and value is not function:
            if inspect.isfunction(value):
                found.extend(_helpers(value, module, depth - 1))
            found.append(value)
    return found
