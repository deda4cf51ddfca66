"""Keras architectures: the seed's baseline CNN, an airbench-style CIFAR-10 CNN, a small U-Net.

Every network takes raw RGB pixel values (float, 0..255) and normalises inside, so that
serving only resizes. Training networks output logits; :func:`classifier_for_serving` and
:func:`segmenter_for_serving` wrap them with flip test-time averaging and a softmax, using
only built-in layers and ``keras.ops`` so ``keras.models.load_model`` needs no custom objects.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from numpy.typing import NDArray

Model = Any  # keras.Model; Keras ships no type information


def count_params(model: Model) -> int:
    return int(sum(int(np.prod(w.shape)) for w in model.weights))


def channel_stats(images: NDArray[np.uint8]) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation in 0..255 units."""
    sample = images[:: max(1, len(images) // 10000)].astype(np.float64)
    std = np.maximum(sample.std(axis=(0, 1, 2)), 1.0)  # a constant channel must not divide by 0
    return sample.mean(axis=(0, 1, 2)).tolist(), std.tolist()


def _normalise(x: Any, mean: list[float], std: list[float]) -> Any:
    variance = [s * s for s in std]
    return keras.layers.Normalization(mean=mean, variance=variance, name="normalise")(x)


def baseline_cnn(
    mean: list[float],
    std: list[float],
    input_shape: tuple[int, int, int] = (32, 32, 3),
    num_classes: int = 10,
) -> Model:
    """The seed project's CNN: Conv32-Conv64-Conv64 with pooling, Dense 256-64-classes."""
    inputs = keras.Input(input_shape, name="rgb")
    x = _normalise(inputs, mean, std)
    x = keras.layers.Conv2D(32, 3, activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(64, 3, activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(64, 3, activation="relu")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(256, activation="relu")(x)
    x = keras.layers.Dense(64, activation="relu")(x)
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, logits, name="baseline_cnn")


def whitening_kernel(
    images: NDArray[np.uint8], mean: list[float], std: list[float], eps: float = 5e-4
) -> NDArray[np.float32]:
    """A 2x2 conv kernel (2, 2, 3, 24) that whitens 2x2 patches (both signs), as in airbench."""
    x = (images[:5000].astype(np.float64) - np.array(mean)) / np.array(std)
    patches = np.concatenate(
        [x[:, i : i + x.shape[1] - 1, j : j + x.shape[2] - 1, :] for i in (0, 1) for j in (0, 1)],
        axis=-1,
    )  # (n, h-1, w-1, 12) ordered (i, j, channel)
    flat = patches.reshape(-1, 12)
    eigenvalues, eigenvectors = np.linalg.eigh(flat.T @ flat / len(flat))
    scaled = eigenvectors[:, ::-1] / np.sqrt(
        np.maximum(eigenvalues[::-1], 0.0) + eps
    )  # (12, 12) columns
    kernel = scaled.reshape(2, 2, 3, 12)  # rows were (i, j, channel)
    return np.concatenate([kernel, -kernel], axis=-1).astype(np.float32)


def _conv_group(x: Any, width: int, momentum: float, name: str) -> Any:
    bn = {"momentum": momentum, "epsilon": 1e-5, "scale": False}
    x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    x = keras.layers.MaxPooling2D(name=f"{name}_pool")(x)
    x = keras.layers.BatchNormalization(**bn, name=f"{name}_norm1")(x)
    x = keras.layers.Activation("gelu")(x)
    x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"{name}_conv2")(x)
    x = keras.layers.BatchNormalization(**bn, name=f"{name}_norm2")(x)
    return keras.layers.Activation("gelu")(x)


def airbench_cnn(
    mean: list[float],
    std: list[float],
    whitening: NDArray[np.float32],
    widths: tuple[int, int, int] = (64, 256, 256),
    num_classes: int = 10,
    bn_momentum: float = 0.4,  # Keras convention; airbench's torch 0.6 would be Keras 0.6
    input_shape: tuple[int, int, int] = (32, 32, 3),
) -> Model:
    """Airbench-style CNN (K. Jordan, "94% on CIFAR-10 in 3.29 seconds on a single GPU").

    A frozen patch-whitening 2x2 conv, three conv-pool-BN-GELU-conv-BN-GELU groups without
    biases, global max pooling and a linear layer with logits scaled by 1/9.
    """
    inputs = keras.Input(input_shape, name="rgb")
    x = _normalise(inputs, mean, std)
    whiten = keras.layers.Conv2D(whitening.shape[-1], 2, name="whiten")
    x = keras.layers.Activation("gelu")(whiten(x))
    for i, width in enumerate(widths):
        x = _conv_group(x, width, bn_momentum, f"block{i + 1}")
    x = keras.layers.GlobalMaxPooling2D()(x)
    x = keras.layers.Dense(num_classes, use_bias=False, name="head")(x)
    logits = keras.layers.Rescaling(1 / 9, name="logits")(x)
    model = keras.Model(inputs, logits, name="airbench_cnn")

    whiten.kernel.assign(whitening)
    whiten.kernel.trainable = False
    for layer in model.layers:
        if layer.name.endswith("_conv1") or layer.name.endswith("_conv2"):
            _dirac_init(layer)
    return model


def _dirac_init(conv: Any) -> None:
    """Identity-initialise the first in_channels filters: an implicit residual at start."""
    kernel = np.array(conv.kernel.numpy())
    k_in = kernel.shape[2]
    n = min(k_in, kernel.shape[3])
    kernel[:, :, :, :n] = 0.0
    kernel[1, 1, np.arange(n), np.arange(n)] = 1.0
    conv.kernel.assign(kernel)


def _unet_block(x: Any, width: int, name: str) -> Any:
    for i in (1, 2):
        x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"{name}_c{i}")(x)
        x = keras.layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = keras.layers.Activation("relu")(x)
    return x


def cifar_features(inputs: Any, encoder: Model, finetune: bool = False) -> list[Any]:
    """Features of a trained :func:`airbench_cnn` on the half-resolution image.

    Returns the three block outputs at 1/4, 1/8 and 1/16 of the input size (the input is
    halved, padded by one pixel against the 2x2 whitening conv, then pooled per block). The
    CIFAR-10 classes include cats and dogs, so these features carry some "animal" prior.
    Normalisation, whitening and BatchNorm stay frozen; ``finetune`` trains the 3x3 convs.
    """

    def frozen(name: str, trainable: bool = False) -> Any:
        layer = encoder.get_layer(name)
        layer.trainable = trainable
        return layer

    x = keras.layers.AveragePooling2D(2, name="cifar_half")(inputs)
    x = frozen("normalise")(x)
    x = keras.layers.ZeroPadding2D(((0, 1), (0, 1)), name="cifar_pad")(x)
    x = keras.layers.Activation("gelu")(frozen("whiten")(x))
    features = []
    for block in ("block1", "block2", "block3"):
        x = keras.layers.MaxPooling2D()(frozen(f"{block}_conv1", finetune)(x))
        x = keras.layers.Activation("gelu")(frozen(f"{block}_norm1")(x))
        x = frozen(f"{block}_norm2")(frozen(f"{block}_conv2", finetune)(x))
        x = keras.layers.Activation("gelu")(x)
        features.append(x)
    return features


def unet(
    input_shape: tuple[int | None, int | None, int] = (None, None, 3),
    widths: tuple[int, ...] = (16, 32, 64, 128, 256),
    num_classes: int = 3,
    encoder: Model | None = None,
    finetune_encoder: bool = False,
) -> Model:
    """A small U-Net: conv-BN-ReLU pairs, max-pool down, bilinear up + skip concatenation.

    Fully convolutional: any input whose sides divide by 2 ** (len(widths) - 1) works.
    With ``encoder`` (a trained :func:`airbench_cnn`, needs 5 widths) its frozen features
    are concatenated into the three deepest levels.
    """
    if encoder is not None and len(widths) != 5:
        raise ValueError("a CIFAR encoder needs a U-Net with 5 levels")
    inputs = keras.Input(input_shape, name="rgb")
    prior = cifar_features(inputs, encoder, finetune_encoder) if encoder is not None else []
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="scale_pixels")(inputs)
    skips = []
    for i, width in enumerate(widths[:-1]):
        x = _unet_block(x, width, f"down{i}")
        skips.append(x)
        x = keras.layers.MaxPooling2D()(x)
        if prior and i >= 1:
            x = keras.layers.Concatenate(name=f"prior{i + 1}")([x, prior[i - 1]])
    x = _unet_block(x, widths[-1], "bottom")
    for i, (width, skip) in reversed(list(enumerate(zip(widths[:-1], skips, strict=True)))):
        x = keras.layers.UpSampling2D(interpolation="bilinear")(x)
        x = keras.layers.Conv2D(width, 1, use_bias=False, name=f"up{i}_proj")(x)
        x = keras.layers.Concatenate()([x, skip])
        x = _unet_block(x, width, f"up{i}")
    logits = keras.layers.Conv2D(num_classes, 1, name="logits")(x)
    return keras.Model(inputs, logits, name="unet")


def load_cifar_encoder(path: str) -> Model:
    """The logits network inside a shipped CIFAR-10 classifier (``model.keras``)."""
    serving = keras.models.load_model(path, compile=False)
    return serving.get_layer("airbench_cnn")


def uncompiled_copy(model: Model) -> Model:
    """The same network and weights without optimizer or compile state."""
    copy = keras.Model.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def classifier_for_serving(core: Model, tta: str, name: str) -> Model:
    """Softmax over test-time-averaged logits of ``core``: one call = the reported accuracy.

    ``tta``: "none"; "flip" (image and mirror image); "flip-translate" (airbench's level 2:
    half weight on both orientations, a quarter each on the views shifted by one pixel up-left
    and down-right). The views go through ``core`` as one batch, which is cheaper than
    separate calls.
    """
    core = uncompiled_copy(core)
    inputs = keras.Input(core.input_shape[1:], name="rgb")
    if tta == "none":
        logits = core(inputs)
    else:
        views = [inputs]
        weights = [1.0]
        if tta == "flip-translate":
            padded = keras.ops.pad(inputs, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="reflect")
            views += [
                keras.layers.Cropping2D(((0, 2), (0, 2)), name="shift_up_left")(padded),
                keras.layers.Cropping2D(((2, 0), (2, 0)), name="shift_down_right")(padded),
            ]
            weights = [0.5, 0.25, 0.25]
        views += [keras.ops.flip(view, axis=2) for view in views]
        weights = [w / 2 for w in weights] * 2
        batch = keras.layers.Concatenate(axis=0, name="tta_views")(views)
        per_view = keras.ops.reshape(core(batch), (len(views), -1, core.output_shape[-1]))
        logits = keras.ops.einsum("v,vbc->bc", np.array(weights, np.float32), per_view)
    probabilities = keras.layers.Softmax(name="probabilities")(logits)
    return keras.Model(inputs, probabilities, name=name)


def segmenter_for_serving(
    core: Model, flip_tta: bool, name: str, input_shape: tuple[int, int, int]
) -> Model:
    """Per-pixel softmax over the (flip-averaged) logits of ``core``, at a fixed input size."""
    core = uncompiled_copy(core)
    inputs = keras.Input(input_shape, name="rgb")
    logits = core(inputs)
    if flip_tta:
        flipped = keras.ops.flip(core(keras.ops.flip(inputs, axis=2)), axis=2)
        logits = keras.layers.Average(name="flip_tta")([logits, flipped])
    probabilities = keras.layers.Softmax(axis=-1, name="probabilities")(logits)
    return keras.Model(inputs, probabilities, name=name)
