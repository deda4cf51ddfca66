"""The executor the models run in: a local process pool, or a Dask cluster.

Local pools start workers from a forkserver that has preloaded TensorFlow, so the web
process never imports it and no worker is ever forked from a process that ran TF.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

from paralab.inference import worker
from paralab.settings import Settings

PRELOAD = ["tensorflow", "keras", "paralab.inference.worker"]


def local_pool(settings: Settings, names: list[str]) -> ProcessPoolExecutor:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return ProcessPoolExecutor(
        max_workers=settings.inference_workers,
        mp_context=context,
        initializer=worker.initialize,
        initargs=(str(settings.models_dir), names, settings.inference_threads_per_worker),
    )


def dask_executor(settings: Settings, names: list[str]) -> Executor:
    """An Executor on a Dask cluster; each Dask worker loads the models once (a plugin)."""
    from distributed import Client, WorkerPlugin

    models_dir = str(Path(settings.models_dir))
    threads = settings.inference_threads_per_worker

    class LoadModels(WorkerPlugin):
        def setup(self, worker: object) -> None:
            from paralab.inference import worker as model_worker

            model_worker.initialize(models_dir, names, threads)

    client = Client(settings.dask_scheduler)  # type: ignore[no-untyped-call]
    client.register_plugin(LoadModels(), name="paralab-models")
    executor: Executor = client.get_executor()  # type: ignore[no-untyped-call]
    return executor
