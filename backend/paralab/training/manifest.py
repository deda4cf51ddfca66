"""Writing a model's manifest (its schema lives with the serving code that reads it)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import msgspec

from paralab.inference.manifest import MANIFEST_FILE, Manifest


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(manifest: Manifest, model_dir: Path) -> Path:
    path = model_dir / MANIFEST_FILE
    path.write_bytes(msgspec.json.format(msgspec.json.encode(manifest), indent=2) + b"\n")
    return path
