"""Scale-out: the same service on a real Dask cluster (a LocalCluster of worker processes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from paralab.app import create_app
from paralab.settings import Settings
from tests.clients import local_client
from tests.inference.uploads import encode, halves, solid, wait_ready

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def dask_client(
    tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient[Litestar]]:
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
    ) as cluster:
        settings = Settings().replace(
            data_dir=tmp_path_factory.mktemp("var"),
            models_dir=tiny_models_dir,
            executor="dask",
            dask_scheduler=cluster.scheduler_address,
        )
        with local_client(create_app(settings)) as client:
            wait_ready(client)
            yield client


def test_predictions_run_on_the_dask_worker(dask_client: TestClient[Litestar]) -> None:
    response = dask_client.post(
        "/api/models/colour-cnn/predict", content=encode(solid((20, 230, 20)))
    )
    assert response.status_code == 200, response.text
    assert response.json()["label"] == "green"
    service = dask_client.app.state.services.inference
    assert service.worker_pids() == []  # no local pool: the work went to the cluster


def test_bad_images_are_still_4xx_on_dask(dask_client: TestClient[Litestar]) -> None:
    response = dask_client.post("/api/models/colour-fcn/predict", content=b"not an image")
    assert response.status_code == 415
    ok = dask_client.post(
        "/api/models/colour-fcn/predict",
        content=encode(halves((230, 20, 20), (20, 230, 20), (32, 16))),
    )
    assert ok.json()["class_fractions"]["pet"] == pytest.approx(0.5, abs=0.07)
