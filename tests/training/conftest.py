"""Fixtures: the tiny datasets of ``layouts``, written to a temporary folder."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from PIL import Image

from tests.training.layouts import PET_NAMES, save_odd_image, trimap, write_image_folder


@pytest.fixture
def cifar_folder(tmp_path: Path) -> Path:
    return write_image_folder(tmp_path / "cifar", {"train": 6, "test": 3})


@pytest.fixture
def cifar_tar(cifar_folder: Path, tmp_path: Path) -> Path:
    archive = tmp_path / "cifar10-jpeg.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for split in ("train", "test"):
            tar.add(cifar_folder / split, arcname=split)
    return archive


@pytest.fixture
def pets_root(tmp_path: Path) -> Path:
    root = tmp_path / "pets"
    images, trimaps = root / "images", root / "annotations" / "trimaps"
    images.mkdir(parents=True)
    trimaps.mkdir(parents=True)
    modes = ("RGB", "P", "RGBA", "L", "CMYK", "RGB")
    for name, mode in zip(PET_NAMES, modes, strict=True):
        size = (48, 40)  # (w, h)
        save_odd_image(images / f"{name}.jpg", mode, size)
        Image.fromarray(trimap(size[1], size[0]), mode="L").save(trimaps / f"{name}.png")
    (images / "no_trimap_7.jpg").write_bytes((images / "Bengal_2.jpg").read_bytes())
    header = "#Image CLASS-ID SPECIES BREED ID\n"
    (root / "annotations" / "test.txt").write_text(header + "Bengal_3 2 1 2\nbeagle_4 3 2 1\n")
    (root / "annotations" / "trainval.txt").write_text(
        header + "Abyssinian_1 1 1 1\nBengal_2 2 1 2\nkeeshond_5 4 2 3\n"
    )
    return root
