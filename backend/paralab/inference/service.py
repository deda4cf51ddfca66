"""The inference service: model registry, worker pool, micro-batchers, health, metrics.

A worker that dies breaks the pool: requests it held get 503 + Retry-After, readiness
turns false, and a new pool is built and warmed before readiness turns true again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncGenerator
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from pathlib import Path

import msgspec

from paralab.errors import InvalidInput, ParaLabError, Unavailable, UnknownModel
from paralab.health import CheckResult
from paralab.inference import pool as pools
from paralab.inference import worker
from paralab.inference.batcher import MicroBatcher
from paralab.inference.manifest import Manifest
from paralab.inference.metrics import InferenceMetrics
from paralab.inference.registry import load_manifests
from paralab.inference.schemas import (
    ImageFailure,
    ModelMetadata,
    ModelSummary,
    Prediction,
    TensorSpec,
    Variant,
)
from paralab.settings import Settings

log = logging.getLogger(__name__)
WATCH_INTERVAL_S = 0.5
WARMUP_ATTEMPTS = 20


class ImageRejected(ParaLabError):
    def __init__(self, failure: ImageFailure) -> None:
        super().__init__(failure.detail)
        self.status_code = failure.status_code
        self.error = failure.error


class InferenceTimeout(ParaLabError):
    status_code = 504
    error = "inference_timeout"


class InferenceService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings.inference
        self.cluster = settings.cluster
        self.metrics = InferenceMetrics()
        self.manifests: dict[str, Manifest] = {
            manifest.name: manifest
            for _, manifest in load_manifests(
                Path(settings.inference.models_dir), settings.inference.model_names
            )
        }
        self._pool: pools.WorkerPool | None = None
        self._ready = False
        self._detail = "starting"
        self._batchers: dict[tuple[str, str], MicroBatcher[bytes, Prediction | ImageFailure]] = {}
        self._pending = 0
        self._batch_starts: dict[int, float] = {}
        """When each batch now in the pool was sent (monotonic), by an id of the call."""
        self._rebuild_task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        threads = (
            settings.inference.inference_workers * settings.inference.inference_threads_per_worker
        )
        if threads > (os.cpu_count() or 1):
            log.warning(
                "%d workers x %d TensorFlow threads oversubscribe %d cores: expect slower "
                "inference (set PARALAB_INFERENCE_WORKERS / _THREADS_PER_WORKER)",
                settings.inference.inference_workers,
                settings.inference.inference_threads_per_worker,
                os.cpu_count(),
            )

    # --- lifecycle ----------------------------------------------------------------

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, settings: Settings) -> AsyncGenerator[InferenceService, None]:
        """The service for the app's lifetime: models load in the background from the
        start; on exit the batchers and the pool are closed."""
        service = cls(settings)
        await service.start()
        try:
            yield service
        finally:
            await service.stop()

    async def start(self) -> None:
        """Start loading in the background; readiness says when the models are loaded."""
        if not self.manifests:
            self._ready = True  # nothing to load: the lab alone is a valid deployment
            self._detail = f"no models configured in {self.settings.models_dir}"
            return
        self._rebuild_task = asyncio.create_task(self._build_pool())
        self._watch_task = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        for task in (self._watch_task, self._rebuild_task):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for batcher in self._batchers.values():
            await batcher.close()
        await self._close_pool()

    def readiness(self) -> CheckResult:
        return CheckResult(self._ready, self._detail)

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def pending(self) -> int:
        """Requests accepted and not yet answered."""
        return self._pending

    def worker_pids(self) -> list[int]:
        """Process ids of the local pool's workers (empty for a Dask cluster)."""
        return self._pool.worker_pids() if self._pool else []

    # --- queries ------------------------------------------------------------------

    def manifest(self, name: str) -> Manifest:
        """The model's manifest; ``UnknownModel`` if no such model is served."""
        manifest = self.manifests.get(name)
        if manifest is None:
            raise UnknownModel(f"Unknown model {name!r}.")
        return manifest

    def models(self) -> list[ModelSummary]:
        """The served models and whether the workers have loaded them."""
        return [
            ModelSummary(m.name, m.version, m.task, list(m.classes), list(m.files), self._ready)
            for m in self.manifests.values()
        ]

    def metadata(self, name: str) -> ModelMetadata:
        """Inputs, outputs, classes, versions, variants and held-out metrics of one model."""
        return _metadata(self.manifest(name), self._ready)

    async def predict(self, name: str, variant: Variant, payload: bytes) -> Prediction:
        """One image through the model's micro-batcher; raises a ParaLabError on failure."""
        manifest = self.manifest(name)
        if variant not in manifest.files:
            known = ", ".join(manifest.files)
            raise InvalidInput(f"Model {name} has no variant {variant!r} (has: {known}).")
        started = time.perf_counter()
        status = 500
        try:
            result = await self._predict(name, variant, payload)
            status = 200
        except ParaLabError as exc:
            status = exc.status_code
            raise
        finally:
            self.metrics.requests.labels(name, variant, str(status)).inc()
            self.metrics.latency.labels(name).observe(time.perf_counter() - started)
        return result

    def count_refused(self, name: str, variant: Variant, status_code: int) -> None:
        """Count a request for a known model refused before it reached the service
        (an upload too large or malformed), so the metrics see every request."""
        if name in self.manifests:
            self.metrics.requests.labels(name, variant, str(status_code)).inc()

    async def _predict(self, name: str, variant: Variant, payload: bytes) -> Prediction:
        if not self._ready:
            raise Unavailable(f"Models are not loaded yet ({self._detail}).", retry_after_s=5)
        if self._pending >= self.settings.inference_queue_size:
            raise Unavailable("The inference queue is full; retry shortly.", retry_after_s=1)
        self._pending += 1
        batcher = self._batcher(name, variant)
        self.metrics.queue_depth.labels(name, variant).set(batcher.depth + 1)
        try:
            result = await asyncio.wait_for(
                batcher.submit(payload), timeout=self.settings.inference_timeout_s
            )
        except TimeoutError:
            raise InferenceTimeout(
                f"Inference took longer than {self.settings.inference_timeout_s:g} s."
            ) from None
        except BrokenProcessPool:
            self._pool_broken("a worker died while holding this request")
            raise Unavailable(
                "An inference worker died while holding this request; retry shortly.",
                retry_after_s=5,
            ) from None
        finally:
            self._pending -= 1
            self.metrics.queue_depth.labels(name, variant).set(batcher.depth)
        if isinstance(result, ImageFailure):
            raise ImageRejected(result)
        return result

    def _batcher(
        self, name: str, variant: Variant
    ) -> MicroBatcher[bytes, Prediction | ImageFailure]:
        key = (name, variant)
        if key not in self._batchers:
            self._batchers[key] = MicroBatcher(
                partial(self._run_batch, name, variant),
                max_batch_size=self.settings.max_batch_size,
                max_delay_s=self.settings.max_batch_delay_ms / 1000,
                max_in_flight=max(2, 2 * self.settings.inference_workers),
                on_batch=self.metrics.batch_size.labels(name).observe,
            )
        return self._batchers[key]

    async def _run_batch(
        self, name: str, variant: Variant, payloads: list[bytes]
    ) -> list[Prediction | ImageFailure]:
        pool = self._pool
        if pool is None or not self._ready:
            raise BrokenProcessPool("the worker pool is being rebuilt")
        call = partial(
            worker.predict_batch, name, variant, payloads, self.settings.max_image_pixels
        )
        self._batch_starts[id(call)] = time.monotonic()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool.executor, call)
        finally:
            del self._batch_starts[id(call)]

    # --- the pool -----------------------------------------------------------------

    async def _build_pool(self, reason: str = "") -> None:
        names = sorted(self.manifests)
        self._ready = False
        self.metrics.ready.set(0)
        self._detail = f"loading {', '.join(names)} in {self.settings.inference_workers} workers"
        if reason:
            self._detail += f" (rebuilding: {reason})"
        await self._close_pool()
        self._pool = await asyncio.to_thread(pools.make_pool, self.settings, self.cluster, names)
        try:
            await self._warm_up(self._pool, names)
        except Exception as exc:
            # The watchdog retries the build after a pause; a half-built pool must go.
            await self._close_pool()
            self._detail = f"workers failed to load the models: {exc!r}; retrying"
            log.exception("inference pool failed to start")
            return
        self._ready = True
        self.metrics.ready.set(1)
        self._detail = f"{', '.join(names)} loaded in {self.settings.inference_workers} workers"

    async def _warm_up(self, pool: pools.WorkerPool, names: list[str]) -> None:
        """Wait until every worker reports the models loaded."""
        loop = asyncio.get_running_loop()
        seen: set[int] = set()
        wanted = pool.workers
        for _ in range(WARMUP_ATTEMPTS):
            # submit() starts the workers, and with a forkserver the first start waits for
            # it to import TensorFlow: keep that wait off the event loop.
            futures = [
                await asyncio.to_thread(pool.executor.submit, worker.loaded_models, 0.2)
                for _ in range(wanted)
            ]
            calls = [asyncio.wrap_future(future, loop=loop) for future in futures]
            for pid, loaded in await asyncio.gather(*calls):
                if set(loaded) != set(names):
                    raise RuntimeError(f"worker {pid} loaded {loaded}, expected {names}")
                seen.add(pid)
            if len(seen) >= wanted:
                return
        raise RuntimeError(f"only {len(seen)} of {wanted} workers answered")

    def _pool_broken(self, reason: str) -> None:
        if self._rebuild_task and not self._rebuild_task.done():
            return
        log.warning("inference pool broken (%s); rebuilding", reason)
        self._ready = False
        self.metrics.ready.set(0)
        self._detail = f"rebuilding the worker pool: {reason}"
        self.metrics.worker_restarts.inc()
        self._rebuild_task = asyncio.create_task(self._build_pool(reason))

    async def _watch(self) -> None:
        """Notice a dead worker even when no request is running; retry failed builds."""
        failed_builds = 0
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            building = self._rebuild_task is not None and not self._rebuild_task.done()
            if self._ready:
                failed_builds = 0
                if self._pool is not None and self._pool.broken():
                    self._pool_broken("a worker process died")
                elif self._stalled():
                    stall = self.settings.inference_stall_s
                    self._pool_broken(f"a batch ran for over {stall:g} s: a worker is stuck")
            elif not building:
                failed_builds += 1
                await asyncio.sleep(min(30.0, 2.0**failed_builds))
                self._rebuild_task = asyncio.create_task(self._build_pool())

    def _stalled(self) -> bool:
        oldest = min(self._batch_starts.values(), default=None)
        return oldest is not None and time.monotonic() - oldest > self.settings.inference_stall_s

    async def _close_pool(self) -> None:
        # Closing joins the executor (and waits for workers still starting): off the loop.
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.close)


def _metadata(manifest: Manifest, ready: bool) -> ModelMetadata:
    height, width, channels = manifest.input_size
    output_name = "probabilities" if manifest.task == "classification" else "mask"
    return ModelMetadata(
        name=manifest.name,
        versions=[manifest.version],
        platform="tensorflow-keras+litert",
        task=manifest.task,
        inputs=[
            TensorSpec(
                "image",
                "BYTES",
                [-1],
                f"An encoded image (JPEG, PNG, GIF, WebP, BMP, TIFF); resized to "
                f"{width}x{height}x{channels} by the server.",
            )
        ],
        outputs=[
            TensorSpec(
                output_name, "FP32", list(manifest.output.shape), manifest.output.description
            )
        ],
        classes=list(manifest.classes),
        variants=msgspec.to_builtins(manifest.files),
        metrics=dict(manifest.metrics),
        latency_note=manifest.latency_note,
        training={
            "data": msgspec.to_builtins(manifest.training_data),
            "architecture": msgspec.to_builtins(manifest.architecture),
            "epochs": manifest.epochs,
            "training_seconds": manifest.training_seconds,
            "seed": manifest.seed,
            "baseline": msgspec.to_builtins(manifest.baseline),
        },
        ready=ready,
    )
