"""Feature extractors for the FID family of metrics; each gives its own metric name.

- fid_inception: torch-fidelity's InceptionV3 ('inception-v3-compat', 2048-d pool features),
  the standard that matches the original TensorFlow FID. Torch is imported only when it runs.
- fid_digits: the last hidden layer of a small MLP the harness trains on scikit-learn's digits,
  deterministically from a seed, and caches by a hash of data, seed and architecture.
- fid_raw: the raw coordinates of 2-D samples (no extractor).

Images arrive as the adapters emit them: NHWC float32 in [-1, 1], with 1 or 3 channels.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import pickle
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits

from bench.data import load_digits_images, load_digits_labels
from bench.errors import UsageError

if TYPE_CHECKING:
    import torch

CACHE_ENV = "GAN_BENCH_CACHE"
INCEPTION_WEIGHTS_ENV = "GAN_BENCH_INCEPTION_WEIGHTS"

# The digits classifier: small enough to train in a few seconds on 2 cores, accurate enough
# (about 98 % held out) that its features separate the ten digit modes.
HIDDEN_LAYERS = (128, 64)
_MLP_SETTINGS = {
    "alpha": 1e-3,
    "learning_rate_init": 1e-3,
    "batch_size": 64,
    "max_iter": 50,
}
TEST_SHARE = 0.25


# --- images ---------------------------------------------------------------------------------


def _check_images(images: np.ndarray, resolution: int | None = None) -> np.ndarray:
    arr = np.asarray(images)
    if arr.ndim != 4 or arr.shape[1] != arr.shape[2] or arr.shape[3] not in (1, 3):
        raise UsageError(
            f"images must be NHWC with square pixels and 1 or 3 channels, got shape {arr.shape}"
        )
    if resolution is not None and arr.shape[1] != resolution:
        raise UsageError(
            f"images are {arr.shape[1]} x {arr.shape[1]} but the classifier was trained at "
            f"{resolution} x {resolution}; build it with digits_classifier({arr.shape[1]})"
        )
    if len(arr) == 0:
        raise UsageError("no images given; pass at least one")
    if not np.isfinite(arr).all():
        raise UsageError("images contain NaN or inf; the generator has probably diverged")
    return arr


def split_channels(images: np.ndarray) -> list[np.ndarray]:
    """One single-channel NHWC array per channel (stacked digits carry one digit per channel)."""
    arr = _check_images(images)
    return [arr[..., c : c + 1] for c in range(arr.shape[3])]


def raw_features(points: np.ndarray) -> np.ndarray:
    """The features of fid_raw: 2-D samples' own coordinates, as float64."""
    arr = np.asarray(points)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise UsageError(f"fid_raw takes N x 2 point samples, got shape {arr.shape}")
    return arr.astype(np.float64)


# --- digits classifier ----------------------------------------------------------------------


def _one_blas_thread() -> threadpool_limits:
    """Matrix products on one BLAS thread.

    Products this small run no faster on more threads, and on shared cores far slower; and
    the weights trained on one thread are bit-identical whatever the machine's thread count,
    where more threads change their last bits (docs/metrics.md#features).
    """
    return threadpool_limits(limits=1, user_api="blas")


@dataclass(frozen=True)
class DigitsClassifier:
    """An MLP on r x r digit images, evaluated in float64 numpy.

    features(): the last hidden layer's activations (the metric fid_digits); for multi-channel
    images the per-channel features are concatenated. predict(): the digit of one-channel
    images; predict_channels(): one digit per channel, for stacked digits.
    """

    resolution: int
    seed: int
    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    test_accuracy: float
    train_seconds: float
    from_cache: bool = False

    @property
    def feature_dim(self) -> int:
        return int(self.biases[-2].shape[0])

    def _hidden(self, single_channel: np.ndarray) -> np.ndarray:
        x = single_channel.reshape(len(single_channel), -1).astype(np.float64)
        with _one_blas_thread():
            for w, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
                x = np.maximum(x @ w + b, 0.0)
        return x

    def _labels(self, single_channel: np.ndarray) -> np.ndarray:
        logits = self._hidden(single_channel) @ self.weights[-1] + self.biases[-1]
        return logits.argmax(axis=1)

    def features(self, images: np.ndarray) -> np.ndarray:
        """(N, feature_dim * channels) float64 activations of the last hidden layer."""
        _check_images(images, self.resolution)
        return np.concatenate([self._hidden(c) for c in split_channels(images)], axis=1)

    def predict(self, images: np.ndarray) -> np.ndarray:
        """(N,) digit labels of one-channel images."""
        arr = _check_images(images, self.resolution)
        if arr.shape[3] != 1:
            raise UsageError(
                f"predict() takes one-channel images, got {arr.shape[3]} channels; "
                "use predict_channels() for stacked digits"
            )
        return self._labels(arr)

    def predict_channels(self, images: np.ndarray) -> np.ndarray:
        """(N, channels) digit labels, each channel classified on its own."""
        _check_images(images, self.resolution)
        return np.stack([self._labels(c) for c in split_channels(images)], axis=1)


def default_cache_dir() -> Path:
    """$GAN_BENCH_CACHE/features when set (the harness's cache root), else ~/.cache/..."""
    root = os.environ.get(CACHE_ENV)
    base = Path(root) if root else Path.home() / ".cache" / "gan-bench"
    return base / "features"


def _architecture() -> str:
    import sklearn

    # The sklearn version is part of the key: another version may train different weights.
    settings = sorted(_MLP_SETTINGS.items())
    return f"mlp{HIDDEN_LAYERS}-{settings}-test{TEST_SHARE}-sklearn{sklearn.__version__}"


def _cache_key(images: np.ndarray, labels: np.ndarray, seed: int) -> str:
    digest = hashlib.sha256()
    for part in (images.tobytes(), labels.tobytes(), str(images.shape).encode()):
        digest.update(part)
    digest.update(f"seed={seed};{_architecture()}".encode())
    return digest.hexdigest()


def _train(images: np.ndarray, labels: np.ndarray, resolution: int, seed: int) -> DigitsClassifier:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    x = images.reshape(len(images), -1).astype(np.float64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, labels, test_size=TEST_SHARE, random_state=seed, stratify=labels
    )
    mlp = MLPClassifier(hidden_layer_sizes=HIDDEN_LAYERS, random_state=seed, **_MLP_SETTINGS)
    start = time.perf_counter()
    with warnings.catch_warnings(), _one_blas_thread():
        # A fixed epoch budget is the point (fast, deterministic); "not converged" is expected.
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(x_train, y_train)
    seconds = time.perf_counter() - start
    untested = DigitsClassifier(
        resolution, seed, tuple(mlp.coefs_), tuple(mlp.intercepts_), float("nan"), seconds
    )
    # Accuracy of the numpy forward pass the metrics use, not of sklearn's own predict().
    accuracy = float((untested._labels(x_test) == y_test).mean())
    return dataclasses.replace(untested, test_accuracy=accuracy)


def _save(classifier: DigitsClassifier, path: Path) -> None:
    arrays = {f"w{i}": w for i, w in enumerate(classifier.weights)}
    arrays |= {f"b{i}": b for i, b in enumerate(classifier.biases)}
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename: parallel workers may train the same classifier at the same time.
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    with os.fdopen(fd, "wb") as f:
        np.savez(
            f,
            test_accuracy=classifier.test_accuracy,
            train_seconds=classifier.train_seconds,
            **arrays,
        )
    os.replace(tmp, path)


def _load(path: Path, resolution: int, seed: int) -> DigitsClassifier:
    with np.load(path, allow_pickle=False) as f:
        layers = len(HIDDEN_LAYERS) + 1
        weights = tuple(f[f"w{i}"] for i in range(layers))
        biases = tuple(f[f"b{i}"] for i in range(layers))
        accuracy, seconds = float(f["test_accuracy"]), float(f["train_seconds"])
    return DigitsClassifier(resolution, seed, weights, biases, accuracy, seconds, from_cache=True)


def digits_classifier(
    resolution: int, seed: int = 0, cache_dir: str | os.PathLike | None = None
) -> DigitsClassifier:
    """The digits classifier for this resolution and seed: from the cache, else trained now.

    Trained on 75 % of scikit-learn's 1,797 digits (a stratified split drawn from the seed),
    its test_accuracy measured on the other 25 %. Cached as plain arrays (.npz, no pickle).
    """
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
        raise UsageError(f"resolution must be a positive integer, got {resolution!r}")
    images, labels = load_digits_images(resolution), load_digits_labels()
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = folder / f"digits-r{resolution}-{_cache_key(images, labels, seed)}.npz"
    if path.exists():
        return _load(path, resolution, seed)
    classifier = _train(images, labels, resolution, seed)
    _save(classifier, path)
    return classifier


# --- InceptionV3 (torch-fidelity) -----------------------------------------------------------


def to_uint8_nchw_rgb(images: np.ndarray) -> np.ndarray:
    """[-1, 1] NHWC float images as the uint8 NCHW RGB batches torch-fidelity expects."""
    arr = _check_images(images)
    pixels = np.clip(np.rint((arr.astype(np.float64) + 1.0) * 127.5), 0, 255).astype(np.uint8)
    if pixels.shape[3] == 1:
        pixels = np.repeat(pixels, 3, axis=3)
    return np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))


INCEPTION_WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"  # torch-fidelity's file name


def _weights_path(weights_path: str | os.PathLike | None) -> str | None:
    """The user's weights file (argument, else environment), or None for torch-fidelity's own."""
    chosen = weights_path if weights_path is not None else os.environ.get(INCEPTION_WEIGHTS_ENV)
    if not chosen:
        return None
    if not Path(chosen).is_file():
        raise UsageError(
            f"InceptionV3 weights file {chosen} does not exist; give the path of "
            f"{INCEPTION_WEIGHTS_FILE}"
        )
    return str(Path(chosen).resolve())


_MISSING_WEIGHTS = (
    "fid_inception needs torch-fidelity's InceptionV3 weights and they are neither cached nor "
    "downloadable here ({error}); pass a local file (weights_path, or the environment variable "
    f"{INCEPTION_WEIGHTS_ENV}=/path/{INCEPTION_WEIGHTS_FILE}), or run once "
    "online so torch-fidelity caches them"
)


@functools.lru_cache(maxsize=2)
def _inception_model(weights_path: str | None, device: str) -> torch.nn.Module:
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    except ImportError as err:
        raise UsageError(
            f"fid_inception needs torch-fidelity ({err}); "
            "install it: pip install 'gan-bench[torch]'"
        ) from err
    try:
        model = FeatureExtractorInceptionV3(
            "inception-v3-compat",
            ["2048"],
            feature_extractor_weights_path=weights_path,
            verbose=False,
        )
    except OSError as err:
        if weights_path is not None:
            raise UsageError(f"cannot read InceptionV3 weights {weights_path}: {err}") from err
        raise UsageError(_MISSING_WEIGHTS.format(error=err)) from err
    except (RuntimeError, pickle.UnpicklingError) as err:
        raise UsageError(
            f"{weights_path or 'the cached weights'} is not a state_dict of torch-fidelity's "
            f"InceptionV3 ({str(err).splitlines()[0]}); give the original weights file"
        ) from err
    return model.to(device)


def inception_features(
    images: np.ndarray,
    weights_path: str | os.PathLike | None = None,
    batch_size: int = 64,
    device: str = "cpu",
) -> np.ndarray:
    """(N, 2048) float64 InceptionV3 pool features (the metric fid_inception).

    Weights come from weights_path, else $GAN_BENCH_INCEPTION_WEIGHTS, else torch-fidelity's
    cache (a download when online). Without any of them this raises a UsageError saying so.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise UsageError(f"batch_size must be a positive integer, got {batch_size!r}")
    pixels = to_uint8_nchw_rgb(images)
    model = _inception_model(_weights_path(weights_path), device)
    import torch

    chunks = []
    with torch.no_grad():
        for start in range(0, len(pixels), batch_size):
            batch = torch.from_numpy(pixels[start : start + batch_size]).to(device)
            (features,) = model(batch)
            chunks.append(features.cpu().numpy())
    return np.concatenate(chunks).astype(np.float64)
