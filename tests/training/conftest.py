"""Tiny generated datasets in the public layouts (CIFAR-10 image folders, Oxford-IIIT Pet)."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# Each class is a flat colour, so a loaded label can be checked against its pixels.
CLASS_COLOURS = {"cat": (200, 30, 30), "ship": (30, 30, 200)}
PET_NAMES = ("Abyssinian_1", "Bengal_2", "Bengal_3", "beagle_4", "keeshond_5", "boxer_6")


def write_image_folder(root: Path, per_class: dict[str, int]) -> Path:
    for split, count in per_class.items():
        for label, colour in CLASS_COLOURS.items():
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(count):
                Image.new("RGB", (32, 32), colour).save(folder / f"{i:04d}.jpg", quality=95)
    return root


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


def trimap(height: int, width: int) -> np.ndarray:
    """Left half pet (1), right half background (2), a border (3) column between."""
    values = np.full((height, width), 2, dtype=np.uint8)
    values[:, : width // 2] = 1
    values[:, width // 2 - 1 : width // 2 + 1] = 3
    return values


def save_odd_image(path: Path, mode: str, size: tuple[int, int]) -> None:
    """An image in ``mode`` saved under a .jpg name (PNG/GIF inside, as in the real dataset)."""
    rgb = Image.new("RGB", size, (120, 80, 40))
    if mode == "P":
        rgb.convert("P").save(path, format="GIF")
    elif mode == "RGBA":
        rgb.convert("RGBA").save(path, format="PNG")
    else:
        rgb.convert(mode).save(path, format="JPEG")


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
