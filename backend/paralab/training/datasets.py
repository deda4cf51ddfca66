"""Loaders for the public dataset layouts ParaLab trains on, decoded to uint8 numpy arrays.

* Classification: an image-folder tree ``train/<class>/*.jpg`` and ``test/<class>/*.jpg``
  (CIFAR-10's common JPEG release), as a folder or read straight from a ``.tar.gz``.
* Segmentation: Oxford-IIIT Pet, ``images/<Name>.jpg`` + ``annotations/trimaps/<Name>.png``,
  split by ``annotations/test.txt`` when present.
"""

from __future__ import annotations

import io
import random
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from numpy.typing import NDArray
from PIL import Image

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"})
PET_CLASSES = ("pet", "background", "border")
# Oxford-IIIT trimaps: 1 = pet, 2 = background, 3 = border; anything else counts as border.
_TRIMAP_LUT = np.full(256, 2, dtype=np.uint8)
_TRIMAP_LUT[1], _TRIMAP_LUT[2], _TRIMAP_LUT[3] = 0, 1, 2


class DatasetError(ValueError):
    """The data on disk does not have the expected layout."""


@dataclass(frozen=True)
class LabelledImages:
    images: NDArray[np.uint8]  # (n, h, w, 3) RGB
    labels: NDArray[np.int64]  # (n,) class indices


@dataclass(frozen=True)
class ClassificationData:
    train: LabelledImages
    test: LabelledImages
    classes: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class SegmentedImages:
    images: NDArray[np.uint8]  # (n, h, w, 3) RGB
    masks: NDArray[np.uint8]  # (n, h, w) class indices, see PET_CLASSES
    names: tuple[str, ...]


@dataclass(frozen=True)
class SegmentationData:
    train: SegmentedImages
    test: SegmentedImages
    classes: tuple[str, ...]
    source: str
    split: str  # how train/test were chosen


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode (palette, RGBA, grayscale, CMYK, 16-bit...) to 8-bit RGB."""
    if image.mode == "RGB":
        return image
    if image.mode == "P":
        image = image.convert("RGBA")
    elif image.mode == "F" or image.mode.startswith("I"):
        scaled = np.asarray(image, dtype=np.float64)
        high = float(scaled.max()) or 1.0
        image = Image.fromarray((scaled * (255.0 / max(high, 255.0))).astype(np.uint8))
    return image.convert("RGB")


def decode_rgb(data: bytes | Path, size: tuple[int, int]) -> NDArray[np.uint8]:
    """Decode an image file to an RGB array resized (squashed) to ``size`` = (h, w)."""
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    with Image.open(source) as opened:
        image = to_rgb(opened)
        if image.size != (size[1], size[0]):
            image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
        return np.asarray(image, dtype=np.uint8)


def decode_trimap(path: Path, size: tuple[int, int]) -> NDArray[np.uint8]:
    """Read a trimap PNG (1/2/3) as class indices 0/1/2 resized with nearest neighbour."""
    with Image.open(path) as opened:
        trimap = opened if opened.mode in ("L", "P") else opened.convert("L")
        if trimap.size != (size[1], size[0]):
            trimap = trimap.resize((size[1], size[0]), Image.Resampling.NEAREST)
        values = np.asarray(trimap, dtype=np.uint8)
    return _TRIMAP_LUT[values]


# ---------------------------------------------------------------- classification


def _folder_entries(root: Path) -> Iterator[tuple[PurePosixPath, bytes]]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            yield PurePosixPath(path.relative_to(root).as_posix()), path.read_bytes()


def _tar_entries(archive: Path) -> Iterator[tuple[PurePosixPath, bytes]]:
    # Streaming mode ("r|*") reads each member once, in archive order, without extracting.
    with tarfile.open(archive, "r|*") as tar:
        for member in tar:
            name = PurePosixPath(member.name)
            if member.isfile() and name.suffix.lower() in IMAGE_SUFFIXES:
                handle = tar.extractfile(member)
                if handle is not None:
                    yield name, handle.read()


def _split_of(path: PurePosixPath) -> tuple[str, str] | None:
    """(split, class) for ``.../train/<class>/<file>``, else None."""
    parts = path.parts
    if len(parts) >= 3 and parts[-3] in ("train", "test"):
        return parts[-3], parts[-2]
    return None


def _take(
    items: list[tuple[str, str, bytes]], limit: int | None, seed: int
) -> list[tuple[str, str, bytes]]:
    items.sort(key=lambda item: item[0])
    if limit is not None and limit < len(items):
        items = random.Random(seed).sample(items, limit)
    return items


def load_image_folder(
    source: Path,
    size: tuple[int, int] = (32, 32),
    limit: int | None = None,
    seed: int = 0,
) -> ClassificationData:
    """Load ``train/<class>/*`` and ``test/<class>/*`` from a folder or a tar archive.

    Classes are the sorted folder names under ``train``. ``limit`` keeps a seeded random
    subset of at most that many images per split (for quick runs).
    """
    entries = _tar_entries(source) if source.is_file() else _folder_entries(source)
    found: dict[str, list[tuple[str, str, bytes]]] = {"train": [], "test": []}
    for path, data in entries:
        where = _split_of(path)
        if where is not None:
            found[where[0]].append((str(path), where[1], data))
    if not found["train"] or not found["test"]:
        raise DatasetError(f"{source}: expected images under train/<class>/ and test/<class>/")
    classes = tuple(sorted({label for _, label, _ in found["train"]}))
    index = {name: i for i, name in enumerate(classes)}

    def decode(items: list[tuple[str, str, bytes]]) -> LabelledImages:
        items = [item for item in items if item[1] in index]
        images = np.stack([decode_rgb(data, size) for _, _, data in items])
        labels = np.array([index[label] for _, label, _ in items], dtype=np.int64)
        return LabelledImages(images, labels)

    return ClassificationData(
        train=decode(_take(found["train"], limit, seed)),
        test=decode(_take(found["test"], limit, seed + 1)),
        classes=classes,
        source=str(source),
    )


# ---------------------------------------------------------------- segmentation


def read_split_file(path: Path) -> list[str]:
    """Names (first column) from an Oxford-IIIT list file, skipping ``#`` comments."""
    names = []
    for line in path.read_text().splitlines():
        fields = line.split()
        if fields and not fields[0].startswith("#"):
            names.append(fields[0])
    return names


def _image_files(images_dir: Path) -> dict[str, Path]:
    return {
        path.stem: path
        for path in sorted(images_dir.iterdir())
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
    }


def split_pet_names(
    root: Path, names: Sequence[str], seed: int, test_fraction: float
) -> tuple[list[str], list[str], str]:
    """Choose (train, test, description) names.

    With ``annotations/test.txt`` its names are the test set and every other pair trains
    (``trainval.txt`` plus any image outside both lists). With only ``trainval.txt`` the
    rest is the test set. With neither, a seeded random split.
    """
    available = sorted(names)
    test_file = root / "annotations" / "test.txt"
    trainval_file = root / "annotations" / "trainval.txt"
    if test_file.exists():
        listed = set(read_split_file(test_file))
        test = [n for n in available if n in listed]
        train = [n for n in available if n not in listed]
        return train, test, "annotations/test.txt is the test set; all other pairs train"
    if trainval_file.exists():
        listed = set(read_split_file(trainval_file))
        train = [n for n in available if n in listed]
        test = [n for n in available if n not in listed]
        return train, test, "annotations/trainval.txt trains; all other pairs are the test set"
    shuffled = available.copy()
    random.Random(seed).shuffle(shuffled)
    n_test = max(1, round(len(shuffled) * test_fraction))
    return (
        sorted(shuffled[n_test:]),
        sorted(shuffled[:n_test]),
        f"seeded random split (seed {seed}, {test_fraction:.0%} test)",
    )


def _load_pairs(
    images: dict[str, Path], trimaps: Path, names: Sequence[str], size: tuple[int, int]
) -> SegmentedImages:
    kept: list[str] = []
    pixels: list[NDArray[np.uint8]] = []
    masks: list[NDArray[np.uint8]] = []
    for name in names:
        try:
            image = decode_rgb(images[name], size)
        except OSError:  # an undecodable file; the full dataset has a few
            continue
        kept.append(name)
        pixels.append(image)
        masks.append(decode_trimap(trimaps / f"{name}.png", size))
    if not kept:
        return SegmentedImages(
            np.zeros((0, *size, 3), np.uint8), np.zeros((0, *size), np.uint8), ()
        )
    return SegmentedImages(np.stack(pixels), np.stack(masks), tuple(kept))


def load_pets(
    root: Path,
    size: tuple[int, int] = (128, 128),
    train_size: tuple[int, int] | None = None,
    limit: int | None = None,
    seed: int = 0,
    test_fraction: float = 0.2,
) -> SegmentationData:
    """Load Oxford-IIIT Pet image/trimap pairs, squashed to ``size`` (h, w).

    ``train_size`` lets the training split be stored larger than the model input so that
    random resized crops keep detail. ``limit`` caps each split (seeded) for quick runs.
    """
    images_dir, trimaps = root / "images", root / "annotations" / "trimaps"
    if not images_dir.is_dir() or not trimaps.is_dir():
        raise DatasetError(f"{root}: expected images/ and annotations/trimaps/")
    images = _image_files(images_dir)
    paired = [name for name in images if (trimaps / f"{name}.png").is_file()]
    if not paired:
        raise DatasetError(f"{root}: no image has a trimap")
    train, test, split = split_pet_names(root, paired, seed, test_fraction)
    if limit is not None:
        train = sorted(random.Random(seed).sample(train, min(limit, len(train))))
        test = sorted(random.Random(seed + 1).sample(test, min(limit, len(test))))
    return SegmentationData(
        train=_load_pairs(images, trimaps, train, train_size or size),
        test=_load_pairs(images, trimaps, test, size),
        classes=PET_CLASSES,
        source=str(root),
        split=split,
    )
