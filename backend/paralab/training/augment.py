"""Training-time augmentation.

Classification: random crop from a reflect-padded image and a horizontal flip that alternates
every epoch (as in airbench). Segmentation: random resized crop + flip that samples image and
mask on the same grid, and colour jitter on the image. Both run inside tf.data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
from numpy.typing import NDArray


def crop_flip_dataset(
    images: NDArray[np.uint8],
    labels: NDArray[np.int64],
    num_classes: int,
    batch_size: int,
    pad: int = 4,
    seed: int = 0,
) -> Any:
    """Endless shuffled batches of (float images, one-hot labels): pad-``pad`` crop + flip.

    Crops are taken from the reflect-padded image. Each image is mirrored at random in the
    first epoch and the other way in every following one ("alternating flip", airbench), so
    consecutive epochs always see both orientations. Pure tf.data: a Python generator here
    was 40% slower, because it competes with the training step for the two cores.
    """
    n, size = len(images), images.shape[1]
    steps_per_epoch = max(1, n // batch_size)
    padded_size = size + 2 * pad
    extent = (size - 1) / (padded_size - 1)
    first_flip = tf.constant(np.random.default_rng(seed).random(n) < 0.5)
    indices = np.arange(n, dtype=np.int32)
    data = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32), indices))
    data = data.shuffle(n, seed=seed, reshuffle_each_iteration=True).repeat()
    data = tf.data.Dataset.zip((data.batch(batch_size, drop_remainder=True), counter()))

    def augment(batch: tuple[Any, Any, Any], step: Any) -> tuple[Any, Any]:
        x, y, index = batch
        x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="REFLECT")
        step_seed = tf.stack([tf.constant(seed, tf.int64), step])
        shape = [batch_size, 2]
        offsets = tf.random.stateless_uniform(shape, step_seed, 0, 2 * pad + 1, tf.int32)
        top_left = tf.cast(offsets, tf.float32) / (padded_size - 1)
        odd_epoch = tf.equal((step // steps_per_epoch) % 2, 1)
        flip = tf.not_equal(tf.gather(first_flip, index), odd_epoch)
        left, right = top_left[:, 1], top_left[:, 1] + extent
        boxes = tf.stack(
            [
                top_left[:, 0],
                tf.where(flip, right, left),
                top_left[:, 0] + extent,
                tf.where(flip, left, right),
            ],
            axis=1,
        )
        # Nearest-neighbour sampling at integer offsets is an exact crop (and mirror).
        crops = tf.image.crop_and_resize(
            tf.cast(x, tf.float32), boxes, tf.range(batch_size), (size, size), method="nearest"
        )
        return crops, tf.one_hot(y, num_classes)

    return data.map(augment).prefetch(2)


def counter() -> Any:
    return tf.data.Dataset.counter()


def crop_boxes(batch: Any, seed: Any, min_scale: float = 0.35, max_ratio: float = 4 / 3) -> Any:
    """Random normalised crop boxes (y1, x1, y2, x2); x1 > x2 means a horizontal flip."""
    seeds = tf.random.experimental.stateless_split(seed, 4)
    area = tf.random.stateless_uniform([batch], seeds[0], min_scale, 1.0)
    log_ratio = tf.random.stateless_uniform(
        [batch], seeds[1], -np.log(max_ratio), np.log(max_ratio)
    )
    ratio = tf.exp(log_ratio)
    height = tf.minimum(tf.sqrt(area / ratio), 1.0)
    width = tf.minimum(tf.sqrt(area * ratio), 1.0)
    corner = tf.random.stateless_uniform([batch, 2], seeds[2])
    y1 = corner[:, 0] * (1.0 - height)
    x1 = corner[:, 1] * (1.0 - width)
    flip = tf.random.stateless_uniform([batch], seeds[3]) < 0.5
    left = tf.where(flip, x1 + width, x1)
    right = tf.where(flip, x1, x1 + width)
    return tf.stack([y1, left, y1 + height, right], axis=1)


def crop_image_and_mask(
    images: Any, masks: Any, boxes: Any, size: tuple[int, int]
) -> tuple[Any, Any]:
    """Resample images (bilinear) and masks (nearest) from the same boxes to ``size``."""
    index = tf.range(tf.shape(images)[0])
    out_images = tf.image.crop_and_resize(tf.cast(images, tf.float32), boxes, index, size)
    mask_channel = tf.cast(masks[..., tf.newaxis], tf.float32)
    out_masks = tf.image.crop_and_resize(mask_channel, boxes, index, size, method="nearest")
    return out_images, tf.cast(tf.round(out_masks[..., 0]), tf.int32)


def jitter_colour(images: Any, seed: Any, strength: float = 0.2) -> Any:
    """Random brightness, contrast and saturation, kept in 0..255."""
    seeds = tf.random.experimental.stateless_split(seed, 3)
    n = tf.shape(images)[0]
    brightness = tf.random.stateless_uniform([n, 1, 1, 1], seeds[0], -strength, strength) * 255.0
    contrast = tf.random.stateless_uniform([n, 1, 1, 1], seeds[1], 1 - strength, 1 + strength)
    saturation = tf.random.stateless_uniform([n, 1, 1, 1], seeds[2], 1 - strength, 1 + strength)
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    images = (images - mean) * contrast + mean + brightness
    grey = tf.reduce_mean(images, axis=3, keepdims=True)
    images = (images - grey) * saturation + grey
    return tf.clip_by_value(images, 0.0, 255.0)


def segmentation_dataset(
    images: NDArray[np.uint8],
    masks: NDArray[np.uint8],
    batch_size: int,
    size: tuple[int, int],
    seed: int = 0,
) -> Any:
    """Endless shuffled batches of (float RGB images, int masks) at ``size``, augmented."""
    n = len(images)
    data = tf.data.Dataset.from_tensor_slices((images, masks))
    data = data.shuffle(n, seed=seed, reshuffle_each_iteration=True).repeat()
    data = data.batch(batch_size, drop_remainder=True)
    data = tf.data.Dataset.zip((data, counter()))

    def augment(pair: tuple[Any, Any], step: Any) -> tuple[Any, Any]:
        batch_images, batch_masks = pair
        step_seed = tf.stack([tf.constant(seed, tf.int64), step])
        seeds = tf.random.experimental.stateless_split(step_seed, 2)
        boxes = crop_boxes(tf.shape(batch_images)[0], seeds[0])
        out_images, out_masks = crop_image_and_mask(batch_images, batch_masks, boxes, size)
        return jitter_colour(out_images, seeds[1]), out_masks

    return data.map(augment, num_parallel_calls=1).prefetch(2)
