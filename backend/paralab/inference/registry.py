"""The shipped models: ``models/<name>/manifest.json``, read without TensorFlow."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import msgspec

from paralab.inference.manifest import MANIFEST_FILE, Manifest


def load_manifests(models_dir: Path, names: Sequence[str] = ()) -> Iterator[tuple[Path, Manifest]]:
    """(folder, manifest) of every model under ``models_dir`` (or only ``names``)."""
    if not models_dir.is_dir():
        return
    for manifest_path in sorted(models_dir.glob(f"*/{MANIFEST_FILE}")):
        manifest = msgspec.json.decode(manifest_path.read_bytes(), type=Manifest)
        if not names or manifest.name in names:
            yield manifest_path.parent, manifest
