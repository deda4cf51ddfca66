"""End-to-end runs behind the CLI: load data, train, evaluate, export, write the manifest."""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import keras
import msgspec
import numpy as np
import tensorflow as tf

from paralab.inference.manifest import (
    MANIFEST_FILE,
    Architecture,
    Baseline,
    Manifest,
    Output,
    Preprocessing,
    TrainingData,
    read_manifest,
)
from paralab.training import architectures
from paralab.training.datasets import (
    ClassificationData,
    SegmentationData,
    load_image_folder,
    load_pets,
)
from paralab.training.evaluate import Predict, evaluate_classifier, evaluate_segmenter
from paralab.training.manifest import write_manifest
from paralab.training.quantize import THREADS, export_variants, keras_predict
from paralab.training.train import (
    ClassifierConfig,
    SegmenterConfig,
    TrainResult,
    train_classifier,
    train_segmenter,
)

CNN_NAME, FCN_NAME = "cifar10-cnn", "oxford-pets-fcn"
BASELINE_FILE = "baseline.json"
ROOT = Path(__file__).resolve().parents[3]


def _cpu() -> str:
    """'2 vCPU AMD EPYC, AVX-512': what latencies measured on this machine are worth."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return f"{os.cpu_count()} vCPU"
    model = next(
        (ln.split(":", 1)[1].strip() for ln in info.splitlines() if "model name" in ln), ""
    )
    flags = " ".join(ln for ln in info.splitlines() if ln.startswith("flags"))
    vector = "AVX-512" if " avx512f" in flags else "AVX2" if " avx2" in flags else "no AVX2"
    return f"{os.cpu_count()} vCPU {model}, {vector}"


LATENCY_NOTE = (
    f"median of 50 single-image calls after warm-up, {THREADS} threads, on the training "
    f"machine ({_cpu()})"
)
TTA_DESCRIPTIONS = {
    "none": "none (a single view)",
    "flip": "the logits of the image and its mirror image are averaged",
    "flip-translate": "logits averaged over the image and its mirror image (weight 1/2) and "
    "both orientations shifted by one pixel up-left and down-right (1/4 each), as airbench",
}
CNN_AUGMENTATION = "random 32x32 crop of the 4-px reflect-padded image, horizontal flip"


def _widths(args: argparse.Namespace, default: tuple[int, ...]) -> tuple[int, ...]:
    text: str | None = args.widths
    return default if text is None else tuple(int(w) for w in text.split(","))


def _budget(args: argparse.Namespace) -> float | None:
    minutes: float = args.budget_minutes
    return minutes * 60.0 if minutes > 0 else None


def _display_path(path: Path) -> str:
    """Relative to the repository (``models/...``) or its parent (``../shared/...``)."""
    resolved = path.resolve()
    if resolved.is_relative_to(ROOT):
        return str(resolved.relative_to(ROOT))
    if resolved.is_relative_to(ROOT.parent):
        return str(Path("..") / resolved.relative_to(ROOT.parent))
    return str(resolved)


def _trained_with(args: argparse.Namespace, result: TrainResult) -> dict[str, str]:
    return {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "budget_minutes": str(args.budget_minutes),
        "stopped_by_budget": str(result.stopped_by_budget).lower(),
        "command": " ".join(["paralab train", *args.argv]),
    }


def _load_cifar(args: argparse.Namespace) -> ClassificationData:
    started = time.monotonic()
    data = load_image_folder(args.data, (args.size, args.size), args.limit, args.seed)
    print(
        f"loaded {len(data.train.labels)} train / {len(data.test.labels)} test images "
        f"({len(data.classes)} classes) in {time.monotonic() - started:.1f}s",
        flush=True,
    )
    return data


def run_baseline(args: argparse.Namespace) -> int:
    """Train the seed's CNN the same way as the main one; record it as the CNN's baseline."""
    data = _load_cifar(args)
    config = ClassifierConfig(
        architecture="baseline",
        epochs=args.epochs,
        budget_seconds=_budget(args),
        batch_size=args.batch_size or 256,
        seed=args.seed,
        verbose=0 if args.quiet else 1,
    )
    result = train_classifier(config, data)
    metrics = evaluate_classifier(keras_predict(result.model), data.test.images, data.test.labels)
    baseline = Baseline(
        architecture=Architecture(
            name="seed-baseline-cnn",
            params=architectures.count_params(result.model),
            description="Conv32-Conv64-Conv64 (3x3, ReLU, 2x2 max-pooling), Dense 256-64-10",
        ),
        epochs=round(result.epochs, 2),
        training_seconds=round(result.seconds, 1),
        metrics={k: round(v, 5) for k, v in metrics.items()},
        notes=(
            f"same data and augmentation ({CNN_AUGMENTATION}), label smoothing 0.2 and "
            f"progress-based one-cycle schedule as the main CNN; Adam (peak lr 2e-3), batch "
            f"{config.batch_size}, {args.budget_minutes}-minute budget, single view"
        ),
    )
    model_dir = args.out / CNN_NAME
    model_dir.mkdir(parents=True, exist_ok=True)
    if (model_dir / MANIFEST_FILE).exists():
        write_manifest(
            msgspec.structs.replace(read_manifest(model_dir), baseline=baseline), model_dir
        )
    else:
        (model_dir / BASELINE_FILE).write_bytes(msgspec.json.encode(baseline))
    print(msgspec.json.format(msgspec.json.encode(baseline)).decode(), flush=True)
    return 0


def _pending_baseline(model_dir: Path) -> Baseline | None:
    path = model_dir / BASELINE_FILE
    if not path.exists():
        return None
    baseline = msgspec.json.decode(path.read_bytes(), type=Baseline)
    path.unlink()
    return baseline


def run_cnn(args: argparse.Namespace) -> int:
    data = _load_cifar(args)
    widths = _widths(args, (64, 128, 256))
    config = ClassifierConfig(
        widths=(widths[0], widths[1], widths[2]),
        epochs=args.epochs,
        budget_seconds=_budget(args),
        batch_size=args.batch_size or 512,
        seed=args.seed,
        verbose=0 if args.quiet else 1,
    )
    result = train_classifier(config, data)
    single = evaluate_classifier(keras_predict(result.model), data.test.images, data.test.labels)
    serving = architectures.classifier_for_serving(result.model, args.tta, name="cifar10_cnn")

    def evaluate(predict: Predict) -> dict[str, float]:
        return evaluate_classifier(predict, data.test.images, data.test.labels)

    model_dir = args.out / CNN_NAME
    files = export_variants(serving, model_dir, evaluate, data.test.images[0].astype(np.float32))
    manifest = Manifest(
        name=CNN_NAME,
        version=args.version,
        task="classification",
        classes=list(data.classes),
        input_size=(args.size, args.size, 3),
        preprocessing=Preprocessing(),
        output=Output(
            shape=[len(data.classes)],
            description="softmax probabilities over classes; test-time augmentation inside "
            f"the model: {TTA_DESCRIPTIONS[args.tta]}",
        ),
        architecture=Architecture(
            name=f"airbench-cnn-{'-'.join(map(str, widths))}",
            params=architectures.count_params(result.model),
            description="frozen 2x2 patch-whitening conv, 3 x (conv-pool-BN-GELU-conv-BN-GELU), "
            "global max pool, linear; airbench-style SGD (Nesterov), label smoothing 0.2, "
            f"lookahead EMA; {args.tta} TTA in the forward pass",
        ),
        training_data=TrainingData(
            dataset="CIFAR-10",
            source=_display_path(args.data),
            layout="train/<class>/*.jpg and test/<class>/*.jpg (image folders or .tar.gz)",
            split="official train / test sets",
            train_images=len(data.train.labels),
            eval_images=len(data.test.labels),
            augmentation=f"{CNN_AUGMENTATION} (alternating flip per epoch)",
        ),
        epochs=round(result.epochs, 2),
        training_seconds=round(result.seconds, 1),
        seed=args.seed,
        metrics={
            "accuracy": files["keras"].metrics["accuracy"],
            "accuracy_single_view": round(single["accuracy"], 5),
        },
        files=files,
        latency_note=LATENCY_NOTE,
        baseline=_pending_baseline(model_dir),
        trained_with=_trained_with(args, result),
    )
    write_manifest(manifest, model_dir)
    print(msgspec.json.format(msgspec.json.encode(manifest)).decode(), flush=True)
    return 0


def _load_pets(args: argparse.Namespace) -> SegmentationData:
    started = time.monotonic()
    size = (args.size, args.size)
    train_size = (round(args.size * 1.25), round(args.size * 1.25))
    data = load_pets(args.data, size, train_size, args.limit, args.seed)
    print(
        f"loaded {len(data.train.names)} train / {len(data.test.names)} test pairs "
        f"({data.split}) in {time.monotonic() - started:.1f}s",
        flush=True,
    )
    return data


def _multiple_below(value: int, multiple: int) -> int:
    return max(multiple, value // multiple * multiple)


def run_fcn(args: argparse.Namespace) -> int:
    data = _load_pets(args)
    widths = _widths(args, (16, 32, 64, 128, 256))
    train_side = args.train_size or _multiple_below(args.size * 3 // 4, 2 ** (len(widths) - 1))
    config = SegmenterConfig(
        input_size=(args.size, args.size),
        train_size=(train_side, train_side),
        encoder=str(args.encoder) if args.encoder else None,
        finetune_encoder=args.finetune_encoder,
        widths=widths,
        epochs=args.epochs,
        budget_seconds=_budget(args),
        batch_size=args.batch_size or 16,
        seed=args.seed,
        verbose=0 if args.quiet else 1,
    )
    result = train_segmenter(config, data)
    serving = architectures.segmenter_for_serving(
        result.model, flip_tta=True, name="oxford_pets_fcn", input_shape=(args.size, args.size, 3)
    )

    def evaluate(predict: Predict) -> dict[str, float]:
        return evaluate_segmenter(predict, data.test.images, data.test.masks, data.classes)

    single = evaluate(keras_predict(result.model))
    model_dir = args.out / FCN_NAME
    files = export_variants(serving, model_dir, evaluate, data.test.images[0].astype(np.float32))
    keras_metrics = files["keras"].metrics
    manifest = Manifest(
        name=FCN_NAME,
        version=args.version,
        task="segmentation",
        classes=list(data.classes),
        input_size=(args.size, args.size, 3),
        preprocessing=Preprocessing(),
        output=Output(
            shape=[args.size, args.size, len(data.classes)],
            description="per-pixel softmax over [pet, background, border] at the input size; "
            "the model averages the logits of the image and its mirror image internally",
        ),
        architecture=Architecture(
            name=f"unet-{'-'.join(map(str, widths))}",
            params=architectures.count_params(result.model),
            description="U-Net: (conv-BN-ReLU) x 2 per level, max-pool down, bilinear up + "
            "1x1 conv + skip concatenation; flip TTA in the forward pass"
            + (
                f"; {'fine-tuned' if args.finetune_encoder else 'frozen'} features of the CIFAR-10 "
                f"CNN ({_display_path(args.encoder)}) on the half-size image are concatenated "
                "into the three deepest levels"
                if args.encoder
                else ""
            ),
        ),
        training_data=TrainingData(
            dataset="Oxford-IIIT Pet (trimaps)",
            source=_display_path(args.data),
            layout="images/<Name>.jpg, annotations/trimaps/<Name>.png (1 pet, 2 background, "
            "3 border), annotations/test.txt",
            split=data.split,
            train_images=len(data.train.names),
            eval_images=len(data.test.names),
            augmentation="random resized crop (area 0.35-1, aspect 3:4-4:3) and horizontal "
            "flip applied identically to image and trimap; brightness/contrast/saturation "
            "jitter on the image",
        ),
        epochs=round(result.epochs, 2),
        training_seconds=round(result.seconds, 1),
        seed=args.seed,
        metrics={
            **keras_metrics,
            "mean_iou_single_view": round(single["mean_iou"], 5),
        },
        files=files,
        latency_note=LATENCY_NOTE,
        trained_with=_trained_with(args, result),
        notes=f"trained on {train_side}x{train_side} random resized crops, served and "
        f"evaluated at {args.size}x{args.size} (fully convolutional; the crop scales match the "
        "full-image scale at that size); metrics against the trimaps resized with nearest "
        "neighbour",
    )
    write_manifest(manifest, model_dir)
    print(msgspec.json.format(msgspec.json.encode(manifest)).decode(), flush=True)
    return 0
