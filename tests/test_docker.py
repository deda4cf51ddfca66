"""No Docker engine runs here: lint the Dockerfile and validate the compose file instead."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from paralab.settings import REPO_ROOT

BIN = Path(sys.executable).parent
DOCKER = REPO_ROOT / "docker"


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [BIN / "hadolint", DOCKER / "Dockerfile"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("profile", "services"),
    [
        ([], {"app"}),
        (["--profile", "cluster"], {"app", "scheduler", "worker"}),
    ],
)
def test_compose_file_is_valid(profile: list[str], services: set[str]) -> None:
    result = subprocess.run(
        [BIN / "docker-compose", "-f", DOCKER / "compose.yaml", *profile, "config", "--services"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == services
