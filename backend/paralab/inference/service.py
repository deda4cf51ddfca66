"""The inference service: model registry, worker pool, micro-batchers, health, metrics.

Each model and variant has two batchers: one for small images and one for images that
decode to more than ``large_image_pixels``, of which at most one batch per worker runs at
a time, so small images never queue behind a crowd of large ones; every batch decodes at
most ``max_batch_pixels`` (read from the headers here, without decoding).

A worker that dies breaks the pool: readiness turns false, and a new pool is built and
warmed before readiness turns true again. Inference is idempotent, so the batches the
broken pool lost are resubmitted to the new one; the batch that was in the worker that
died is split, each image resubmitted alone, and an image that is in a dying worker a
second time is answered 503: a poison image fails alone and cannot crash pools in a loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import time
from collections.abc import AsyncGenerator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import msgspec

from paralab.errors import InvalidInput, ParaLabError, Unavailable, UnknownModel
from paralab.health import CheckResult
from paralab.inference import images, worker
from paralab.inference import pool as pools
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
MAX_STRIKES = 2
"""A request fails once its batch was this many times in a worker that died."""


class ImageRejected(ParaLabError):
    def __init__(self, failure: ImageFailure) -> None:
        super().__init__(failure.detail)
        self.status_code = failure.status_code
        self.error = failure.error


class InferenceTimeout(ParaLabError):
    status_code = 504
    error = "inference_timeout"


@dataclass
class Job:
    """One request on its way through a batcher to the pool."""

    payload: bytes
    pixels: int
    """Pixels its decoding takes (from the header; 0 if unreadable or refused)."""
    deadline: float
    """When its request gives up (event-loop time)."""
    strikes: int = 0
    """Times its batch was in a worker that died."""


Outcome = Prediction | ImageFailure | ParaLabError


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
        self._ready_event = asyncio.Event()
        self._served = False
        self._batchers: dict[tuple[str, str, bool], MicroBatcher[Job, Outcome]] = {}
        self._large_slots = asyncio.Semaphore(settings.inference.inference_workers)
        self._pending = 0
        self._tokens = itertools.count(1)
        self._batch_starts: dict[int, float] = {}
        """When each batch now in the pool was sent (monotonic), by its token."""
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
            self._set_ready(True)  # nothing to load: the lab alone is a valid deployment
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
        if not self._ready and not self._recovering():
            raise Unavailable(f"Models are not loaded yet ({self._detail}).", retry_after_s=5)
        if self._pending >= self.settings.inference_queue_size:
            raise Unavailable("The inference queue is full; retry shortly.", retry_after_s=1)
        pixels = images.decoded_pixels(payload, worker.keep_size(self.manifests[name]))
        if pixels > self.settings.max_image_pixels:
            pixels = 0  # the worker refuses it from its header, decoding nothing
        timeout = self.settings.inference_timeout_s
        job = Job(payload, pixels, asyncio.get_running_loop().time() + timeout)
        batcher = self._batcher(name, variant, large=pixels > self.settings.large_image_pixels)
        self._pending += 1
        self.metrics.queue_depth.labels(name, variant).set(self._depth(name, variant) + 1)
        try:
            async with asyncio.timeout(timeout):
                result = await batcher.submit(job)
        except TimeoutError:
            raise InferenceTimeout(f"Inference took longer than {timeout:g} s.") from None
        finally:
            self._pending -= 1
            self.metrics.queue_depth.labels(name, variant).set(self._depth(name, variant))
        if isinstance(result, ParaLabError):
            raise result
        if isinstance(result, ImageFailure):
            raise ImageRejected(result)
        return result

    def _batcher(self, name: str, variant: Variant, large: bool) -> MicroBatcher[Job, Outcome]:
        key = (name, variant, large)
        if key not in self._batchers:
            self._batchers[key] = MicroBatcher(
                partial(self._run_batch, name, variant),
                max_batch_size=self.settings.max_batch_size,
                max_delay_s=self.settings.max_batch_delay_ms / 1000,
                max_in_flight=(
                    self._large_slots if large else max(2, 2 * self.settings.inference_workers)
                ),
                on_batch=self.metrics.batch_size.labels(name).observe,
                cost=lambda job: job.pixels,
                max_batch_cost=self.settings.max_batch_pixels,
            )
        return self._batchers[key]

    def _depth(self, name: str, variant: Variant) -> int:
        return sum(
            batcher.depth
            for (n, v, _), batcher in self._batchers.items()
            if (n, v) == (name, variant)
        )

    async def _run_batch(self, name: str, variant: Variant, jobs: list[Job]) -> list[Outcome]:
        """Run the jobs in the pool, resubmitting them when the pool breaks (see above)."""
        loop = asyncio.get_running_loop()
        deadline = max(job.deadline for job in jobs)
        while True:
            if loop.time() >= deadline:  # every request of the batch has given up
                return [InferenceTimeout("Inference timed out.") for _ in jobs]
            pool = await self._ready_pool(deadline)
            if pool is None:
                return [self._not_rebuilt() for _ in jobs]
            token = next(self._tokens)
            try:
                return await self._call(pool, token, name, variant, jobs)
            except BrokenProcessPool:
                self._pool_broken("a worker died while holding a batch", pool)
            # Wait for the new pool: the old one is closed by then, so its exit codes tell
            # whether this batch was in the worker that died.
            if await self._ready_pool(deadline) is None:
                return [self._not_rebuilt() for _ in jobs]
            if not pool.died_running(token):
                self.metrics.resubmitted.inc()
                continue  # lost with the pool (queued, or on another worker)
            for job in jobs:
                job.strikes += 1
            if len(jobs) > 1:  # any of them may be the culprit: each goes alone
                self.metrics.resubmitted.inc(len(jobs))
                alone = [self._run_batch(name, variant, [job]) for job in jobs]
                return [outcome for (outcome,) in await asyncio.gather(*alone)]
            if jobs[0].strikes >= MAX_STRIKES:
                return [
                    Unavailable(
                        "This image was in an inference worker that died, twice; it is not "
                        "retried again.",
                        retry_after_s=5,
                    )
                ]
            self.metrics.resubmitted.inc()

    async def _call(
        self, pool: pools.WorkerPool, token: int, name: str, variant: Variant, jobs: list[Job]
    ) -> list[Outcome]:
        payloads = [job.payload for job in jobs]
        call = partial(
            worker.predict_batch, name, variant, payloads, self.settings.max_image_pixels, token
        )
        self._batch_starts[token] = time.monotonic()
        try:
            return list(await asyncio.get_running_loop().run_in_executor(pool.executor, call))
        finally:
            del self._batch_starts[token]

    async def _ready_pool(self, deadline: float) -> pools.WorkerPool | None:
        """The pool once it is ready, or None if it is not ready by ``deadline``.

        Readiness may turn false again between the event being set and this waiter
        running (another batch broke the new pool): then it waits for the next one."""
        loop = asyncio.get_running_loop()
        while not self._ready:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._ready_event.wait()
        return self._pool

    def _not_rebuilt(self) -> Unavailable:
        return Unavailable(
            f"The worker pool was not rebuilt in time ({self._detail}); retry shortly.",
            retry_after_s=5,
        )

    def _recovering(self) -> bool:
        """A pool that served is being rebuilt: requests wait for it (within their time-out)
        rather than fail; readiness still says not-ready, to steer new traffic away."""
        building = self._rebuild_task is not None and not self._rebuild_task.done()
        return self._served and building

    def _set_ready(self, ready: bool) -> None:
        self._served = self._served or ready
        self._ready = ready
        self.metrics.ready.set(int(ready))
        if ready:
            self._ready_event.set()
        else:
            self._ready_event.clear()

    # --- the pool -----------------------------------------------------------------

    async def _build_pool(self, reason: str = "") -> None:
        names = sorted(self.manifests)
        self._set_ready(False)
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
        self._set_ready(True)
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

    def _pool_broken(self, reason: str, pool: pools.WorkerPool | None = None) -> None:
        if pool is not None and pool is not self._pool:
            return  # that pool was already replaced
        if self._rebuild_task and not self._rebuild_task.done():
            return
        log.warning("inference pool broken (%s); rebuilding", reason)
        self._set_ready(False)
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
