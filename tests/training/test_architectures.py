from __future__ import annotations

import keras
import numpy as np
import pytest

from paralab.training import architectures

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)


def tiny_cifar_net() -> keras.Model:
    mean, std = architectures.channel_stats(IMAGES)
    whitening = architectures.whitening_kernel(IMAGES, mean, std)
    return architectures.airbench_cnn(mean, std, whitening, widths=(4, 8, 8), num_classes=10)


def test_whitening_kernel_whitens_2x2_patches() -> None:
    mean, std = architectures.channel_stats(IMAGES)
    kernel = architectures.whitening_kernel(IMAGES, mean, std, eps=0.0)
    x = (IMAGES.astype(np.float64) - mean) / std
    patches = np.concatenate(
        [x[:, i : i + 31, j : j + 31] for i in (0, 1) for j in (0, 1)], axis=-1
    ).reshape(-1, 12)

    projected = patches @ kernel.reshape(12, 24)[:, :12]

    np.testing.assert_allclose(projected.T @ projected / len(projected), np.eye(12), atol=1e-6)


def test_flip_tta_classifier_is_mirror_invariant() -> None:
    served = architectures.classifier_for_serving(tiny_cifar_net(), "flip", name="c")
    x = IMAGES[:4].astype(np.float32)

    probabilities = np.asarray(served(x))

    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(probabilities, np.asarray(served(x[:, :, ::-1])), atol=1e-5)


def test_tta_views_are_weighted_to_one() -> None:
    core = tiny_cifar_net()
    plain = architectures.classifier_for_serving(core, "none", name="a")
    tta = architectures.classifier_for_serving(core, "flip-translate", name="b")
    flat = np.full((3, 32, 32, 3), 90.0, np.float32)
    flat[1] = 200.0  # every view of a flat image is the image itself

    np.testing.assert_allclose(np.asarray(tta(flat)), np.asarray(plain(flat)), atol=1e-5)
    assert np.asarray(tta(IMAGES[:2].astype(np.float32))).shape == (2, 10)


@pytest.mark.parametrize("with_encoder", [False, True])
def test_served_segmenter_is_flip_equivariant_at_its_input_size(with_encoder: bool) -> None:
    encoder = tiny_cifar_net() if with_encoder else None
    core = architectures.unet(widths=(4, 8, 8, 8, 8), encoder=encoder)
    served = architectures.segmenter_for_serving(core, True, "s", input_shape=(32, 32, 3))
    x = IMAGES[:2].astype(np.float32)

    out = np.asarray(served(x))
    mirrored = np.asarray(served(x[:, :, ::-1]))

    assert out.shape == (2, 32, 32, 3)
    np.testing.assert_allclose(out, mirrored[:, :, ::-1], atol=1e-5)


def test_baseline_has_the_seed_layout() -> None:
    mean, std = architectures.channel_stats(IMAGES)
    model = architectures.baseline_cnn(mean, std)

    convs = [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    dense = [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert (convs, dense) == ([32, 64, 64], [256, 64, 10])
