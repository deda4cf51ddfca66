"""Write and check the committed ``openapi.json``."""

from __future__ import annotations

import json
from pathlib import Path

from paralab.app import create_app
from paralab.settings import REPO_ROOT, Settings

OPENAPI_PATH = REPO_ROOT / "openapi.json"


def render_openapi() -> str:
    """The app's OpenAPI 3.1 document, as committed (stable key order, trailing newline)."""
    schema = create_app(Settings()).openapi_schema.to_schema()
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def export_openapi(path: Path = OPENAPI_PATH, check: bool = False) -> bool:
    """Write the document; with ``check`` only compare. Returns whether the file is current."""
    rendered = render_openapi()
    current = path.exists() and path.read_text() == rendered
    if not check and not current:
        path.write_text(rendered)
    return current
