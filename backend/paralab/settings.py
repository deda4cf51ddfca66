"""The one settings object, read once from ``PARALAB_*`` environment variables."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Settings:
    """Everything the app can be configured with; each field maps to ``PARALAB_<NAME>``."""

    host: str = "127.0.0.1"
    """Interface uvicorn binds to."""
    port: int = 8000
    """TCP port uvicorn listens on."""
    data_dir: Path = REPO_ROOT / "var"
    """Where the run store (SQLite) lives."""
    frontend_dir: Path = REPO_ROOT / "frontend"
    """The static single-page app."""
    models_dir: Path = REPO_ROOT / "models"
    """Shipped models, one folder per model with a manifest.json."""
    max_body_bytes: int = 8 * 1024 * 1024
    """Largest request body accepted (413 beyond)."""
    max_concurrent_runs: int = 2
    """Scenario runs executing at once."""
    run_queue_size: int = 8
    """Runs waiting for a slot; beyond this POST /api/runs answers 429."""
    run_time_limit_s: float = 60.0
    """Wall-time limit of one scenario run."""
    cancel_grace_s: float = 2.0
    """Time between SIGTERM and SIGKILL when a run is cancelled or times out."""
    inference_workers: int = 2
    """Processes in the inference pool."""
    inference_threads_per_worker: int = 1
    """TensorFlow intra-op threads per inference worker."""
    max_batch_size: int = 16
    """Largest micro-batch sent to a worker."""
    max_batch_delay_ms: float = 2.0
    """Longest a request waits for companions before its batch is sent."""
    inference_queue_size: int = 256
    """Requests waiting for inference; beyond this predict answers 503."""
    inference_timeout_s: float = 30.0
    """Per-request inference timeout."""
    inference_stall_s: float = 120.0
    """A batch still running after this long means a worker is stuck (alive but not
    answering): the pool is rebuilt, as when a worker dies."""
    max_image_pixels: int = 40_000_000
    """Decoded-image pixel limit (decompression-bomb guard)."""
    executor: str = "local"
    """``local`` (ProcessPoolExecutor) or ``dask`` (a Dask cluster at ``dask_scheduler``)."""
    dask_scheduler: str = ""
    """Address of a Dask scheduler, e.g. ``tcp://scheduler:8786``."""
    model_names: tuple[str, ...] = ()
    """Models to serve (empty: every model in ``models_dir``)."""

    def __post_init__(self) -> None:
        positive = (
            "port",
            "max_body_bytes",
            "max_concurrent_runs",
            "run_time_limit_s",
            "inference_workers",
            "inference_threads_per_worker",
            "max_batch_size",
            "inference_timeout_s",
            "inference_stall_s",
            "max_image_pixels",
        )
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"PARALAB_{name.upper()} must be positive")
        for name in ("run_queue_size", "cancel_grace_s", "max_batch_delay_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"PARALAB_{name.upper()} must not be negative")
        if self.executor not in ("local", "dask"):
            raise ValueError("PARALAB_EXECUTOR must be 'local' or 'dask'")
        if self.executor == "dask" and not self.dask_scheduler:
            raise ValueError("PARALAB_EXECUTOR=dask needs PARALAB_DASK_SCHEDULER")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every field from ``PARALAB_<FIELD>``; unknown values raise ``ValueError``."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(f"PARALAB_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _parse(f, raw)
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _parse(f: dataclasses.Field[Any], raw: str) -> Any:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "Path":
            return Path(raw)
        if kind.startswith("tuple"):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
    except ValueError as exc:
        raise ValueError(f"PARALAB_{f.name.upper()}={raw!r}: {exc}") from None
    return raw
