"""Where the models run: a local process pool, or a Dask cluster.

Both are a ``concurrent.futures.Executor``. Local pools start their workers from a
forkserver that has preloaded TensorFlow, so the web process never imports it and no
worker is ever forked from a process that ran TF. On Dask, a worker plugin loads the
models once per Dask worker.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from paralab.inference import worker
from paralab.settings import ClusterSettings, InferenceSettings

PRELOAD = ["tensorflow", "keras", "paralab.inference.worker"]
BROKEN_JOIN_S = 10.0


@dataclass
class WorkerPool:
    executor: Executor
    workers: int
    """How many distinct workers must report the models loaded before it counts as ready."""
    client: Any = None
    """The Dask client, when the pool is a cluster."""
    started: Any = None
    """Which worker runs which batch (``worker.RING`` slots), for a local pool."""
    _processes: dict[int, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        # The executor's own pid -> process map (it drops it on shutdown; we need the
        # exit codes afterwards).
        processes = getattr(self.executor, "_processes", None)
        if processes is not None:
            self._processes = processes

    def worker_pids(self) -> list[int]:
        return sorted(getattr(self.executor, "_processes", None) or {})

    def broken(self) -> bool:
        """A local pool breaks when a worker dies; Dask reschedules work by itself."""
        return bool(getattr(self.executor, "_broken", False))

    def close(self) -> None:
        if self.client is not None:  # Dask: the cluster outlives us, only the client goes
            self.executor.shutdown(wait=False)
            self.client.close()
            return
        if self.broken():
            # The executor is stopping the other workers (SIGTERM) and joining them: let
            # it finish, so exit codes tell the worker that died from those it stopped.
            thread = getattr(self.executor, "_executor_manager_thread", None)
            if thread is not None:
                thread.join(BROKEN_JOIN_S)
        # Kill (a stuck worker would never take its exit message), then join the
        # executor's manager thread so its queues and semaphores are released now.
        for process in list(self._processes.values()):
            with contextlib.suppress(Exception):
                process.kill()
        self.executor.shutdown(wait=True, cancel_futures=True)

    def died_running(self, token: int) -> bool:
        """Whether batch ``token`` was in a worker that died by itself (killed, crashed),
        not in one the executor stopped after another died. Valid once closed."""
        if self.started is None:
            return False
        process = self._processes.get(self.started[token % worker.RING])
        return process is not None and process.exitcode not in (None, -signal.SIGTERM)


def make_pool(
    settings: InferenceSettings, cluster: ClusterSettings, names: list[str]
) -> WorkerPool:
    if cluster.executor == "dask":
        return _dask_pool(settings, cluster.dask_scheduler, names)
    return _local_pool(settings, names)


def _local_pool(settings: InferenceSettings, names: list[str]) -> WorkerPool:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    started = context.Array("q", worker.RING, lock=False)  # one writer per slot
    executor = ProcessPoolExecutor(
        max_workers=settings.inference_workers,
        mp_context=context,
        initializer=worker.initialize,
        initargs=(
            str(settings.models_dir),
            names,
            settings.inference_threads_per_worker,
            os.getpid(),
            started,
        ),
    )
    return WorkerPool(executor=executor, workers=settings.inference_workers, started=started)


def _dask_pool(settings: InferenceSettings, scheduler: str, names: list[str]) -> WorkerPool:
    from distributed import Client, WorkerPlugin

    models_dir = str(settings.models_dir)
    threads = settings.inference_threads_per_worker

    class LoadModels(WorkerPlugin):
        def setup(self, worker: object) -> None:
            from paralab.inference import worker as model_worker

            model_worker.initialize(models_dir, names, threads)

    client = Client(scheduler)  # type: ignore[no-untyped-call]
    client.register_plugin(LoadModels(), name="paralab-models")
    executor: Executor = client.get_executor()  # type: ignore[no-untyped-call]
    return WorkerPool(executor=executor, workers=1, client=client)
