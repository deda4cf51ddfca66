from __future__ import annotations

from pathlib import Path

import pytest

from paralab.settings import Settings


def test_fields_are_read_from_paralab_environment_variables() -> None:
    settings = Settings.from_env(
        {
            "PARALAB_PORT": "9001",
            "PARALAB_DATA_DIR": "/tmp/x",
            "PARALAB_MAX_BATCH_DELAY_MS": "2.5",
            "PARALAB_MODEL_NAMES": "a, b",
            "OTHER": "ignored",
        }
    )
    assert settings.server.port == 9001
    assert settings.server.data_dir == Path("/tmp/x")
    assert settings.inference.max_batch_delay_ms == 2.5
    assert settings.inference.model_names == ("a", "b")
    assert settings.server.host == "127.0.0.1"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PARALAB_PORT": "eighty"}, "PARALAB_PORT"),
        ({"PARALAB_MAX_CONCURRENT_RUNS": "0"}, "PARALAB_MAX_CONCURRENT_RUNS"),
        ({"PARALAB_RUN_QUEUE_SIZE": "-1"}, "PARALAB_RUN_QUEUE_SIZE"),
        ({"PARALAB_EXECUTOR": "ray"}, "PARALAB_EXECUTOR"),
        ({"PARALAB_EXECUTOR": "dask"}, "PARALAB_DASK_SCHEDULER"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env(environ)
