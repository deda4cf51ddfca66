"""The one settings object, read once from ``PARALAB_*`` environment variables.

Settings come in groups (server, lab, inference, cluster, channels). Every field is read
from ``PARALAB_<FIELD NAME>`` whatever its group (field names are unique across groups),
and its bounds are declared on its type: msgspec checks them when the settings are read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_origin

import msgspec

REPO_ROOT = Path(__file__).resolve().parents[2]

AtLeastOne = Annotated[int, msgspec.Meta(ge=1)]
NotNegative = Annotated[int, msgspec.Meta(ge=0)]
Seconds = Annotated[float, msgspec.Meta(gt=0, le=86_400)]


class ServerSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The web process: where it listens, what it serves, what it accepts."""

    host: str = "127.0.0.1"
    """Interface uvicorn binds to."""
    port: Annotated[int, msgspec.Meta(ge=1, le=65_535)] = 8000
    """TCP port uvicorn listens on."""
    data_dir: Path = REPO_ROOT / "var"
    """Where the run store (SQLite) lives."""
    frontend_dir: Path = REPO_ROOT / "frontend"
    """The static single-page app."""
    max_body_bytes: AtLeastOne = 8 * 1024 * 1024
    """Largest request body accepted (413 beyond)."""
    allowed_hosts: tuple[str, ...] = ()
    """Host names the server answers to, comma-separated, besides the loopback names and
    ``host`` (anything else gets 400: DNS rebinding)."""
    allowed_origins: tuple[str, ...] = ()
    """Origins (``https://example.org``) besides the server's own that may open a
    WebSocket or send a state-changing request (anything else gets 403)."""
    max_connections: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 2048
    """Connections and requests handled at once; beyond it uvicorn answers 503."""
    header_timeout_s: Seconds = 10.0
    """Time a client has to send a request's headers before its connection is closed."""
    keep_alive_timeout_s: Annotated[int, msgspec.Meta(ge=1, le=3600)] = 30
    """Idle time after which a kept-alive HTTP connection is closed: longer than clients
    keep idle connections (httpx: 5 s), or a request sent just as the server closes the
    connection is lost."""
    shutdown_grace_s: Seconds = 10.0
    """On SIGTERM, time given to requests in flight before they are cut off."""
    ws_max_message_bytes: Annotated[int, msgspec.Meta(ge=64, le=1 << 20)] = 4096
    """Largest WebSocket message a client may send (the connection closes 1009 beyond)."""
    ws_messages_per_s: Annotated[float, msgspec.Meta(gt=0, le=10_000)] = 10.0
    """Messages per second a WebSocket client may send on average (bursts of twice that);
    faster, the connection closes 1008."""
    ws_send_timeout_s: Seconds = 120.0
    """A WebSocket client that takes no data for this long is taken for gone and closed."""
    ws_ping_interval_s: Seconds = 20.0
    """Keepalive pings to WebSocket clients (for proxies and NATs; never a reason to close)."""


class LabSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Scenario runs: how many at once, how long, how they are stopped."""

    max_concurrent_runs: Annotated[int, msgspec.Meta(ge=1, le=64)] = 2
    """Scenario runs executing at once."""
    run_queue_size: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 8
    """Runs waiting for a slot; beyond this a new run is refused (429)."""
    run_time_limit_s: Seconds = 60.0
    """Wall-time limit of one scenario run."""
    cancel_grace_s: Annotated[float, msgspec.Meta(ge=0, le=600)] = 2.0
    """Time between SIGTERM and SIGKILL when a run is cancelled or times out."""
    max_array_mib: Annotated[int, msgspec.Meta(ge=1, le=65_536)] = 1024
    """Largest array a lab may make (``array_mib``, MiB); larger runs are refused (422)."""
    lab_images_dir: str = ""
    """A folder of images for the preprocessing lab (empty: the sample photos)."""


class InferenceSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The models, their worker pool and the micro-batchers in front of it."""

    models_dir: Path = REPO_ROOT / "models"
    """Shipped models, one folder per model with a manifest.json."""
    model_names: tuple[str, ...] = ()
    """Models to serve, comma-separated (empty: every model in ``models_dir``)."""
    inference_workers: Annotated[int, msgspec.Meta(ge=1, le=256)] = 2
    """Processes in the inference pool."""
    inference_threads_per_worker: Annotated[int, msgspec.Meta(ge=1, le=256)] = 1
    """TensorFlow intra-op threads per inference worker."""
    max_batch_size: Annotated[int, msgspec.Meta(ge=1, le=4096)] = 16
    """Largest micro-batch sent to a worker."""
    max_batch_delay_ms: Annotated[float, msgspec.Meta(ge=0, le=10_000)] = 2.0
    """Longest a request waits for companions before its batch is sent."""
    inference_queue_size: NotNegative = 256
    """Requests waiting for inference; beyond this predict answers 503."""
    inference_timeout_s: Seconds = 30.0
    """Per-request inference timeout."""
    inference_stall_s: Seconds = 120.0
    """A batch still running after this long means a worker is stuck (alive but not
    answering): the pool is rebuilt, as when a worker dies."""
    max_image_pixels: AtLeastOne = 40_000_000
    """Decoded-image pixel limit (decompression-bomb guard)."""
    max_batch_pixels: Annotated[int, msgspec.Meta(ge=1, le=1_000_000_000)] = 40_000_000
    """Pixels decoded per micro-batch (from the images' headers); a larger image goes alone."""
    large_image_pixels: Annotated[int, msgspec.Meta(ge=1, le=1_000_000_000)] = 4_000_000
    """Images decoding to more pixels are batched apart, at most one such batch per worker
    at a time, so small images never queue behind them."""


class ClusterSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Where the models run: the local process pool or a Dask cluster."""

    executor: Literal["local", "dask"] = "local"
    """``local`` (ProcessPoolExecutor) or ``dask`` (a Dask cluster at ``dask_scheduler``)."""
    dask_scheduler: str = ""
    """Address of a Dask scheduler, e.g. ``tcp://scheduler:8786``."""

    def __post_init__(self) -> None:
        if self.executor == "dask" and not self.dask_scheduler:
            raise ValueError("PARALAB_EXECUTOR=dask needs PARALAB_DASK_SCHEDULER")


class ChannelsSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How live run events reach subscribers (a Redis backend will join ``memory``)."""

    fanout: Literal["memory"] = "memory"
    """``memory``: subscribers of this server process only."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the app can be configured with."""

    server: ServerSettings = msgspec.field(default_factory=ServerSettings)
    lab: LabSettings = msgspec.field(default_factory=LabSettings)
    inference: InferenceSettings = msgspec.field(default_factory=InferenceSettings)
    cluster: ClusterSettings = msgspec.field(default_factory=ClusterSettings)
    channels: ChannelsSettings = msgspec.field(default_factory=ChannelsSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every field from ``PARALAB_<FIELD>``; bad values raise ``ValueError``
        naming the variable."""
        env = os.environ if environ is None else environ
        values: dict[str, dict[str, Any]] = {}
        for group, field in _fields():
            raw = env.get(f"PARALAB_{field.name.upper()}")
            if raw is not None:
                values.setdefault(group, {})[field.name] = _split_if_sequence(field, raw)
        return _convert(values)

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed, by field name (``port=9000``), checked like
        values read from the environment."""
        values = msgspec.to_builtins(self, enc_hook=str)
        groups = {field.name: group for group, field in _fields()}
        for name, value in changes.items():
            if name not in groups:
                raise TypeError(f"Settings have no field {name!r}")
            values[groups[name]][name] = str(value) if isinstance(value, Path) else value
        return _convert(values)


def _fields() -> list[tuple[str, msgspec.structs.FieldInfo]]:
    """(group name, field) of every setting."""
    return [
        (group.name, field)
        for group in msgspec.structs.fields(Settings)
        for field in msgspec.structs.fields(group.type)
    ]


def _split_if_sequence(field: msgspec.structs.FieldInfo, raw: str) -> Any:
    if get_origin(field.type) is tuple:
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def _convert(values: dict[str, Any]) -> Settings:
    try:
        return msgspec.convert(values, Settings, strict=False, dec_hook=_decode_path)
    except msgspec.ValidationError as exc:
        raise ValueError(_name_the_variable(str(exc))) from None


def _decode_path(kind: type, value: Any) -> Any:
    if kind is Path and isinstance(value, str):
        return Path(value)
    raise NotImplementedError(f"cannot read {kind} settings")


def _name_the_variable(message: str) -> str:
    """msgspec says "... - at `$.lab.max_concurrent_runs`": say PARALAB_MAX_CONCURRENT_RUNS."""
    text, _, path = message.rpartition(" - at `$.")
    parts = path.rstrip("`").split(".")
    if len(parts) == 2:
        return f"PARALAB_{parts[1].upper()}: {text}"
    return text or message
