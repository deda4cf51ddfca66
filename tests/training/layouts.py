"""Tiny generated datasets in the public layouts (CIFAR-10 image folders, Oxford-IIIT Pet)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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
