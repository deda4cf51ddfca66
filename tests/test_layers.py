"""Layers import one way: api -> runs -> lab, api -> inference; the bottom knows no web."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "backend" / "paralab"

FORBIDDEN = {
    "lab": ("litestar", "paralab.api", "paralab.app", "paralab.runs", "paralab.inference"),
    "runs": ("litestar", "paralab.api", "paralab.app", "paralab.inference"),
    "inference": ("litestar", "paralab.api", "paralab.app", "paralab.runs", "paralab.lab"),
    "errors.py": ("litestar", "paralab."),
    "settings.py": ("litestar", "paralab."),
    "health.py": ("litestar", "paralab."),
}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def files_of(room: str) -> list[Path]:
    target = PACKAGE / room
    return sorted(target.rglob("*.py")) if target.is_dir() else [target]


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_no_module_imports_a_layer_above_it(room: str) -> None:
    offences = [
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in files_of(room)
        for module in sorted(imported_modules(path))
        if module.startswith(FORBIDDEN[room])
    ]
    assert files_of(room), f"no files found for {room}"
    assert offences == []


def modules_loaded_by(code: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; it leaves its result in ``result``."""
    script = f"""
import json, sys
{code}
print(json.dumps({{"result": result, "modules": sorted(sys.modules)}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    loaded: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return loaded


def above(modules: object, *prefixes: str) -> list[str]:
    assert isinstance(modules, list)
    return [m for m in modules if m == "litestar" or m.startswith(("litestar.", *prefixes))]


def test_the_lab_runs_a_scenario_from_the_cli_without_the_web_or_the_run_service() -> None:
    loaded = modules_loaded_by(
        "import paralab.lab, paralab.lab.catalog\n"
        "from paralab.cli import main\n"
        "result = main(['run', 'T1.2', '--param', 'threads=2', '--param', 'time_scale=0.01'])"
    )
    assert loaded["result"] == 0  # the scenario really ran, and succeeded
    assert "paralab.lab.runner" in loaded["modules"]  # type: ignore[operator]
    assert above(loaded["modules"], "paralab.runs", "paralab.api") == []


def test_the_inference_service_loads_without_the_web() -> None:
    loaded = modules_loaded_by(
        "import paralab.inference.service, paralab.inference.pool\nresult = 'imported'"
    )
    assert loaded["result"] == "imported"
    assert above(loaded["modules"], "paralab.api", "paralab.runs") == []
