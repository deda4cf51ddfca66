from __future__ import annotations

import numpy as np
import tensorflow as tf

from paralab.training.augment import (
    crop_boxes,
    crop_flip_dataset,
    crop_image_and_mask,
    segmentation_dataset,
)

CLASS_VALUES = np.array([0.0, 100.0, 200.0])


def blocky_pair(n: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Masks of random 8x8 blocks and images whose pixel value encodes the mask class."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 3, (n, size // 8, size // 8))
    masks = blocks.repeat(8, axis=1).repeat(8, axis=2).astype(np.uint8)
    images = np.repeat(CLASS_VALUES[masks][..., None], 3, axis=3).astype(np.uint8)
    return images, masks


def class_from_image(images: np.ndarray) -> np.ndarray:
    distance = np.abs(images[..., :1] - CLASS_VALUES)
    return np.argmin(distance, axis=-1)


def test_crop_flip_batches_are_shifted_windows_of_the_padded_images() -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (6, 8, 8, 3), dtype=np.uint8)
    labels = np.arange(6) % 3
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
    windows = [
        (padded[i, r : r + 8, c : c + 8][:, :: -1 if flip else 1], labels[i])
        for i in range(6)
        for r in range(5)
        for c in range(5)
        for flip in (False, True)
    ]

    batches = crop_flip_dataset(images, labels, num_classes=3, batch_size=3, pad=2).take(4)

    for batch_images, onehot in batches:
        assert batch_images.shape == (3, 8, 8, 3)
        for image, label in zip(batch_images.numpy(), np.argmax(onehot, axis=1), strict=True):
            matches = [
                want
                for want, want_label in windows
                if np.array_equal(image, want) and want_label == label
            ]
            assert matches, "every output is an exact crop (maybe mirrored) with its label"


def test_alternating_flip_mirrors_each_image_the_other_way_next_epoch() -> None:
    image = np.zeros((1, 4, 4, 3), np.uint8)
    image[0, :, 0] = 255  # a bright left column
    epochs = iter(crop_flip_dataset(image, np.zeros(1, np.int64), 1, batch_size=1, pad=0))

    first, _ = next(epochs)
    second, _ = next(epochs)

    np.testing.assert_array_equal(second.numpy(), first.numpy()[:, :, ::-1])


def test_crop_box_with_swapped_x_is_an_exact_mirror_of_image_and_mask() -> None:
    images, masks = blocky_pair(2, 32)
    boxes = tf.constant([[0.0, 1.0, 1.0, 0.0]] * 2)

    out_images, out_masks = crop_image_and_mask(images, masks, boxes, (32, 32))

    np.testing.assert_array_equal(out_images.numpy(), images[:, :, ::-1].astype(np.float32))
    np.testing.assert_array_equal(out_masks.numpy(), masks[:, :, ::-1])


def test_random_crops_move_image_and_mask_together() -> None:
    images, masks = blocky_pair(16, 64, seed=1)
    boxes = crop_boxes(16, tf.constant([3, 4], tf.int64))

    out_images, out_masks = crop_image_and_mask(images, masks, boxes, (48, 48))

    agreement = np.mean(class_from_image(out_images.numpy()) == out_masks.numpy())
    assert agreement > 0.9  # only pixels on block edges, blended by bilinear, may differ
    assert boxes.shape == (16, 4)
    assert (np.asarray(boxes) >= 0).all()
    assert (np.asarray(boxes) <= 1).all()


def test_segmentation_dataset_yields_augmented_batches_of_the_input_size() -> None:
    images, masks = blocky_pair(4, 32)

    batch_images, batch_masks = next(iter(segmentation_dataset(images, masks, 2, (24, 24))))

    assert batch_images.shape == (2, 24, 24, 3)
    assert batch_masks.shape == (2, 24, 24)
    assert set(np.unique(batch_masks.numpy())) <= {0, 1, 2}
