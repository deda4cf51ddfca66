from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from paralab.training.datasets import (
    PET_CLASSES,
    DatasetError,
    decode_trimap,
    load_image_folder,
    load_pets,
    to_rgb,
)
from tests.training.layouts import CLASS_COLOURS


@pytest.mark.parametrize("source", ["cifar_folder", "cifar_tar"])
def test_image_folder_classes_and_labels_follow_the_folders(
    source: str, request: pytest.FixtureRequest
) -> None:
    data = load_image_folder(request.getfixturevalue(source))

    assert data.classes == ("cat", "ship")
    assert data.train.images.shape == (12, 32, 32, 3)
    assert data.test.images.shape == (6, 32, 32, 3)
    for split in (data.train, data.test):
        for image, label in zip(split.images, split.labels, strict=True):
            colour = np.array(CLASS_COLOURS[data.classes[label]])
            assert np.abs(image.mean(axis=(0, 1)) - colour).max() < 8


def test_tar_and_folder_give_the_same_arrays(cifar_folder: Path, cifar_tar: Path) -> None:
    from_folder, from_tar = load_image_folder(cifar_folder), load_image_folder(cifar_tar)

    np.testing.assert_array_equal(from_folder.train.images, from_tar.train.images)
    np.testing.assert_array_equal(from_folder.test.labels, from_tar.test.labels)


def test_limit_keeps_a_seeded_subset(cifar_tar: Path) -> None:
    first = load_image_folder(cifar_tar, limit=4, seed=3)
    again = load_image_folder(cifar_tar, limit=4, seed=3)

    assert len(first.train.labels) == 4
    assert len(first.test.labels) == 4
    np.testing.assert_array_equal(first.train.labels, again.train.labels)


def test_images_are_resized_to_the_requested_size(cifar_folder: Path) -> None:
    assert load_image_folder(cifar_folder, size=(16, 20)).train.images.shape[1:] == (16, 20, 3)


def test_a_folder_without_splits_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "cat").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "cat" / "1.jpg")

    with pytest.raises(DatasetError):
        load_image_folder(tmp_path)


@pytest.mark.parametrize("mode", ["P", "RGBA", "L", "LA", "CMYK", "I;16", "1"])
def test_odd_modes_become_rgb(mode: str) -> None:
    image = Image.new("RGB", (5, 4), (10, 200, 30)).convert(mode)

    converted = np.asarray(to_rgb(image))

    assert converted.shape == (4, 5, 3)
    assert converted.dtype == np.uint8


def test_trimap_values_become_class_indices(tmp_path: Path) -> None:
    path = tmp_path / "t.png"
    Image.fromarray(np.array([[1, 2, 3, 2]], dtype=np.uint8), mode="L").save(path)

    np.testing.assert_array_equal(decode_trimap(path, (1, 4)), [[0, 1, 2, 1]])


def test_pets_honour_the_split_files(pets_root: Path) -> None:
    data = load_pets(pets_root, size=(32, 32))

    assert data.test.names == ("Bengal_3", "beagle_4")
    # trainval.txt plus the pair named in neither list; the image without a trimap is skipped
    assert data.train.names == ("Abyssinian_1", "Bengal_2", "boxer_6", "keeshond_5")
    assert data.classes == PET_CLASSES


def test_pets_in_odd_modes_load_as_rgb_with_their_masks(pets_root: Path) -> None:
    data = load_pets(pets_root, size=(20, 24), train_size=(30, 36))

    assert data.train.images.shape == (4, 30, 36, 3)
    assert data.train.masks.shape == (4, 30, 36)
    assert data.test.images.shape == (2, 20, 24, 3)
    for masks in (data.train.masks, data.test.masks):
        assert set(np.unique(masks)) == {0, 1, 2}
        assert (masks[:, :, 0] == 0).all()  # left edge: pet
        assert (masks[:, :, -1] == 1).all()  # right edge: background


def test_pets_without_split_files_get_a_seeded_split(pets_root: Path) -> None:
    for name in ("test.txt", "trainval.txt"):
        (pets_root / "annotations" / name).unlink()

    first = load_pets(pets_root, size=(16, 16), seed=1, test_fraction=0.5)
    again = load_pets(pets_root, size=(16, 16), seed=1, test_fraction=0.5)

    assert first.test.names == again.test.names
    assert len(first.test.names) == 3
    assert not set(first.test.names) & set(first.train.names)
