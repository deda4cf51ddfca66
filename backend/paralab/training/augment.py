"""Training-time augmentation.

Classification: whole-epoch numpy augmentation (random crop from a reflect-padded image and
horizontal flip, alternating the flip every epoch as in airbench). Segmentation: a TensorFlow
random resized crop + flip that samples image and mask on the same grid.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import tensorflow as tf
from numpy.typing import NDArray


def random_crops(
    padded: NDArray[np.uint8], size: int, rng: np.random.Generator
) -> NDArray[np.uint8]:
    """One random ``size`` x ``size`` crop per image of an already padded batch."""
    n, height, width = padded.shape[:3]
    rows = rng.integers(0, height - size + 1, n)
    cols = rng.integers(0, width - size + 1, n)
    tall = np.empty((n, size, width, padded.shape[3]), dtype=padded.dtype)
    for r in np.unique(rows):
        tall[rows == r] = padded[rows == r, r : r + size]
    out = np.empty((n, size, size, padded.shape[3]), dtype=padded.dtype)
    for c in np.unique(cols):
        out[cols == c] = tall[cols == c, :, c : c + size]
    return out


class CropFlipEpochs:
    """Endless epochs of (images, one-hot labels) batches: pad-``pad`` crop + flip.

    Each image is flipped at random in the first epoch and the other way every following
    epoch, so consecutive epochs always see both orientations ("alternating flip").
    """

    def __init__(
        self,
        images: NDArray[np.uint8],
        labels: NDArray[np.int64],
        num_classes: int,
        batch_size: int,
        pad: int = 4,
        seed: int = 0,
    ) -> None:
        self.size = images.shape[1]
        self.padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
        self.onehot = np.eye(num_classes, dtype=np.float32)[labels]
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self.flips = self.rng.random(len(images)) < 0.5

    @property
    def steps_per_epoch(self) -> int:
        return max(1, len(self.onehot) // self.batch_size)

    def epoch(self, index: int) -> Iterator[tuple[NDArray[np.float32], NDArray[np.float32]]]:
        images = random_crops(self.padded, self.size, self.rng)
        flip = self.flips ^ bool(index % 2)
        images[flip] = images[flip, :, ::-1]
        order = self.rng.permutation(len(images))
        for step in range(self.steps_per_epoch):
            batch = order[step * self.batch_size : (step + 1) * self.batch_size]
            yield images[batch].astype(np.float32), self.onehot[batch]

    def __call__(self) -> Iterator[tuple[NDArray[np.float32], NDArray[np.float32]]]:
        index = 0
        while True:
            yield from self.epoch(index)
            index += 1

    def dataset(self) -> Any:
        """A prefetching tf.data pipeline over :meth:`__call__`."""
        spec = (
            tf.TensorSpec((None, self.size, self.size, 3), tf.float32),
            tf.TensorSpec((None, self.onehot.shape[1]), tf.float32),
        )
        return tf.data.Dataset.from_generator(self, output_signature=spec).prefetch(2)


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
    counter = tf.data.Dataset.counter()
    data = tf.data.Dataset.zip((data, counter))

    def augment(pair: tuple[Any, Any], step: Any) -> tuple[Any, Any]:
        batch_images, batch_masks = pair
        step_seed = tf.stack([tf.constant(seed, tf.int64), step])
        seeds = tf.random.experimental.stateless_split(step_seed, 2)
        boxes = crop_boxes(tf.shape(batch_images)[0], seeds[0])
        out_images, out_masks = crop_image_and_mask(batch_images, batch_masks, boxes, size)
        return jitter_colour(out_images, seeds[1]), out_masks

    return data.map(augment, num_parallel_calls=1).prefetch(2)
