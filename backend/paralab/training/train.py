"""Training loops: fixed seeds, a wall-clock budget, a tf.distribute strategy, Keras progress bars.

The learning-rate schedule runs on *progress*, the larger of steps done / steps planned and
seconds used / budget, so a run that is slower than planned still anneals fully and stops
on time instead of being cut off at a high learning rate.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from numpy.typing import NDArray

from paralab.training import architectures
from paralab.training.augment import crop_flip_dataset, segmentation_dataset
from paralab.training.datasets import ClassificationData, SegmentationData

Model = Any


def select_strategy() -> Any:
    """MirroredStrategy across GPUs when there is more than one, else the default strategy."""
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([gpu.name for gpu in gpus])
    return tf.distribute.get_strategy()


def triangle(
    progress: float, start: float = 0.2, peak_at: float = 0.23, end: float = 0.07
) -> float:
    """Learning-rate multiplier: linear from ``start`` up to 1 at ``peak_at``, down to ``end``."""
    if progress < peak_at:
        return start + (1.0 - start) * progress / peak_at
    return 1.0 + (end - 1.0) * min(1.0, (progress - peak_at) / (1.0 - peak_at))


class BudgetSchedule(keras.callbacks.Callback):  # type: ignore[misc]
    """Sets the learning rate from progress, keeps a lookahead EMA, stops at progress 1.

    The EMA (as in airbench) starts at ``ema_start`` progress; every ``ema_every`` steps the
    averaged weights, BatchNorm statistics included, are copied back into the model.
    """

    def __init__(
        self,
        peak_lr: float,
        total_steps: int,
        budget_seconds: float | None,
        lookahead: bool,
        ema_start: float = 0.3,
        ema_every: int = 5,
    ) -> None:
        super().__init__()
        self.peak_lr = peak_lr
        self.total_steps = total_steps
        self.budget_seconds = budget_seconds
        self.lookahead = lookahead
        self.ema_start, self.ema_every = ema_start, ema_every
        self.steps = 0
        self.started = 0.0
        self.seconds = 0.0
        self.stopped_by_budget = False
        self.ema: list[NDArray[np.float32]] | None = None

    def progress(self) -> float:
        by_steps = self.steps / self.total_steps
        if self.budget_seconds is None:
            return by_steps
        return max(by_steps, (time.monotonic() - self.started) / self.budget_seconds)

    def _float_weights(self) -> list[Any]:
        return [w for w in self.model.weights if "float" in str(w.dtype)]

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.started = time.monotonic()

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.model.optimizer.learning_rate.assign(self.peak_lr * triangle(self.progress()))

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.steps += 1
        progress = self.progress()
        if self.lookahead and progress >= self.ema_start and self.steps % self.ema_every == 0:
            self._update_ema(0.95**self.ema_every * min(1.0, progress) ** 3)
        if progress >= 1.0:
            self.stopped_by_budget = self.steps < self.total_steps
            self.model.stop_training = True

    def _update_ema(self, decay: float) -> None:
        weights = self._float_weights()
        if self.ema is None:
            self.ema = [np.array(w.numpy()) for w in weights]
            return
        for average, weight in zip(self.ema, weights, strict=True):
            average *= decay
            average += (1.0 - decay) * weight.numpy()
            weight.assign(average)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.seconds = time.monotonic() - self.started
        if self.ema is not None:
            for average, weight in zip(self.ema, self._float_weights(), strict=True):
                weight.assign(average)


class AirbenchSGD(keras.optimizers.SGD):  # type: ignore[misc]
    """Nesterov SGD with airbench's coupled weight decay and a larger step for BN biases."""

    def __init__(self, coupled_decay: float, bias_scale: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.coupled_decay = coupled_decay
        self.bias_scale = bias_scale

    def apply(self, grads: list[Any], trainable_variables: list[Any] | None = None) -> Any:
        variables = (
            list(trainable_variables)
            if trainable_variables is not None
            else self._trainable_variables
        )
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        decay = self.coupled_decay / replicas
        scaled = [
            None
            if g is None
            else g * (self.bias_scale if _is_norm_bias(v) else 1.0) + decay * tf.cast(v, g.dtype)
            for g, v in zip(grads, variables, strict=True)
        ]
        return super().apply(scaled, trainable_variables)


def _is_norm_bias(variable: Any) -> bool:
    return "norm" in variable.path and variable.name == "beta"


@dataclass(frozen=True)
class TrainResult:
    model: Model  # the training network: logits out
    seconds: float
    epochs: float
    steps: int
    stopped_by_budget: bool


def _fit(
    model: Model,
    data: Any,
    steps_per_epoch: int,
    epochs: float,
    schedule: BudgetSchedule,
    validation: tuple[Any, Any] | None,
    validation_freq: int,
    verbose: int,
) -> TrainResult:
    model.fit(
        data,
        epochs=math.ceil(epochs),
        steps_per_epoch=steps_per_epoch,
        callbacks=[schedule],
        validation_data=validation,
        validation_freq=validation_freq,
        verbose=verbose,
    )
    return TrainResult(
        model=model,
        seconds=schedule.seconds,
        epochs=schedule.steps / steps_per_epoch,
        steps=schedule.steps,
        stopped_by_budget=schedule.stopped_by_budget,
    )


@dataclass(frozen=True)
class ClassifierConfig:
    architecture: str = "airbench"  # or "baseline"
    widths: tuple[int, int, int] = (64, 128, 256)
    epochs: float = 10.0
    budget_seconds: float | None = None
    batch_size: int = 512
    pad: int = 4
    seed: int = 0
    label_smoothing: float = 0.2
    validation_images: int = 2000
    verbose: int = 1


def build_classifier(config: ClassifierConfig, data: ClassificationData) -> tuple[Model, Any]:
    """(network, optimizer) for the configured architecture."""
    mean, std = architectures.channel_stats(data.train.images)
    n_classes = len(data.classes)
    if config.architecture == "baseline":
        return architectures.baseline_cnn(mean, std, num_classes=n_classes), keras.optimizers.Adam()
    whitening = architectures.whitening_kernel(data.train.images, mean, std)
    model = architectures.airbench_cnn(mean, std, whitening, config.widths, n_classes)
    # airbench94's hyperparameters (lr 11.5 and wd 0.0153 per 1024 examples, momentum 0.85)
    # for a mean-reduced loss: coupled decay 0.0153 / 11.5 whatever the batch size.
    optimizer = AirbenchSGD(
        coupled_decay=0.0153 / 11.5,
        bias_scale=64.0,
        momentum=0.85,
        nesterov=True,
    )
    return model, optimizer


def train_classifier(config: ClassifierConfig, data: ClassificationData) -> TrainResult:
    """Train on ``data.train`` with pad-crop + flip; logs accuracy on a test subset."""
    keras.utils.set_random_seed(config.seed)
    batch_size = min(config.batch_size, len(data.train.labels))
    steps = max(1, len(data.train.labels) // batch_size)
    batches = crop_flip_dataset(
        data.train.images,
        data.train.labels,
        len(data.classes),
        batch_size,
        config.pad,
        config.seed,
    )
    # airbench's lr is per 1024 examples: 1.5 for a mean loss over a batch of 1024.
    peak_lr = 2e-3 if config.architecture == "baseline" else 1.5 * batch_size / 1024
    with select_strategy().scope():
        model, optimizer = build_classifier(config, data)
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.CategoricalCrossentropy(
                from_logits=True, label_smoothing=config.label_smoothing
            ),
            metrics=["accuracy"],
        )
    # A seeded sample of the test set, only to show progress; files are sorted by class.
    n_val = min(config.validation_images, len(data.test.labels))
    sample = np.random.default_rng(config.seed).permutation(len(data.test.labels))[:n_val]
    validation = (
        data.test.images[sample].astype(np.float32),
        np.eye(len(data.classes), dtype=np.float32)[data.test.labels[sample]],
    )
    schedule = BudgetSchedule(
        peak_lr,
        max(1, round(config.epochs * steps)),
        config.budget_seconds,
        lookahead=config.architecture != "baseline",
    )
    return _fit(model, batches, steps, config.epochs, schedule, validation, 1, config.verbose)


@dataclass(frozen=True)
class SegmenterConfig:
    input_size: tuple[int, int] = (128, 128)  # evaluation and serving
    train_size: tuple[int, int] = (96, 96)  # random resized crops (FixRes: matches scales)
    encoder: str | None = None  # a shipped CIFAR-10 model.keras whose features to reuse
    finetune_encoder: bool = False
    widths: tuple[int, ...] = (16, 32, 64, 128, 256)
    epochs: float = 100.0
    budget_seconds: float | None = None
    batch_size: int = 16
    peak_lr: float = 3e-3
    seed: int = 0
    validation_every: int = 10
    verbose: int = 1


def segmentation_loss(num_classes: int) -> Callable[[Any, Any], Any]:
    """Pixel cross-entropy plus a soft Jaccard term that rewards the small border class."""

    def loss(truth: Any, logits: Any) -> Any:
        labels = tf.cast(tf.reshape(truth, tf.shape(logits)[:-1]), tf.int32)
        cross_entropy = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        )
        probabilities = tf.nn.softmax(logits)
        onehot = tf.one_hot(labels, num_classes)
        intersection = tf.reduce_sum(probabilities * onehot, axis=[0, 1, 2])
        union = tf.reduce_sum(probabilities + onehot, axis=[0, 1, 2]) - intersection
        jaccard = tf.reduce_mean((intersection + 1.0) / (union + 1.0))
        return cross_entropy + (1.0 - jaccard)

    return loss


def train_segmenter(config: SegmenterConfig, data: SegmentationData) -> TrainResult:
    """Train the U-Net on ``data.train`` with random resized crops, flips and colour jitter."""
    keras.utils.set_random_seed(config.seed)
    n_classes = len(data.classes)
    batch_size = min(config.batch_size, len(data.train.names))
    steps = max(1, len(data.train.names) // batch_size)
    pipeline = segmentation_dataset(
        data.train.images, data.train.masks, batch_size, config.train_size, config.seed
    )
    with select_strategy().scope():
        encoder = architectures.load_cifar_encoder(config.encoder) if config.encoder else None
        model = architectures.unet(
            (None, None, 3), config.widths, n_classes, encoder, config.finetune_encoder
        )
        model.compile(
            optimizer=keras.optimizers.AdamW(weight_decay=0.01),
            loss=segmentation_loss(n_classes),
            metrics=["sparse_categorical_accuracy"],
        )
    validation = (data.test.images.astype(np.float32), data.test.masks.astype(np.int32))
    schedule = BudgetSchedule(
        config.peak_lr,
        max(1, round(config.epochs * steps)),
        config.budget_seconds,
        lookahead=True,
    )
    return _fit(
        model,
        pipeline,
        steps,
        config.epochs,
        schedule,
        validation,
        config.validation_every,
        config.verbose,
    )
