"""Datasets and batch streams: numpy only, seeded, identical for every framework.

Images leave this module as NHWC float32 in [-1, 1]; 2-D points as N x 2 float32.
Nothing here downloads: digits ship inside scikit-learn, MNIST is read from local files.
"""

from __future__ import annotations

import gzip
import os
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.errors import UsageError

RING8_RADIUS = 1.0
RING8_SIGMA = 0.01
GRID25_SIGMA = 0.05
MNIST_ENV = "GAN_BENCH_MNIST"

POINT_DATASETS = ("ring8", "grid25")
IMAGE_DATASETS = ("digits", "mnist", "stacked_digits")


def ring8_means() -> np.ndarray:
    """8 modes on the unit circle; the endpoint 2 pi is excluded so no mode repeats."""
    angles = 2 * np.pi * np.arange(8) / 8
    return RING8_RADIUS * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid25_means() -> np.ndarray:
    axis = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
    xs, ys = np.meshgrid(axis, axis, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def mixture_params(name: str) -> tuple[np.ndarray, float]:
    """Means and sigma of a 2-D Gaussian mixture dataset."""
    if name == "ring8":
        return ring8_means(), RING8_SIGMA
    if name == "grid25":
        return grid25_means(), GRID25_SIGMA
    raise UsageError(f"unknown 2-D dataset {name!r}; use one of {', '.join(POINT_DATASETS)}")


def sample_mixture(name: str, n: int, rng: np.random.Generator) -> np.ndarray:
    means, sigma = mixture_params(name)
    modes = rng.integers(len(means), size=n)
    points = means[modes] + sigma * rng.standard_normal((n, 2))
    return points.astype(np.float32)


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of NHWC images, done once in numpy so every framework sees the same pixels.

    Pixel centres are aligned (half-pixel convention), as in PIL and torchvision.
    """
    n, h, w, c = images.shape
    if (h, w) == (size, size):
        return images.astype(np.float32)

    def weights(src: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.clip((np.arange(size) + 0.5) * src / size - 0.5, 0, src - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, src - 1)
        return lo, hi, (pos - lo).astype(np.float64)

    y0, y1, wy = weights(h)
    x0, x1, wx = weights(w)
    img = images.astype(np.float64)
    rows = img[:, y0] * (1 - wy)[None, :, None, None] + img[:, y1] * wy[None, :, None, None]
    out = rows[:, :, x0] * (1 - wx)[None, None, :, None] + rows[:, :, x1] * wx[None, None, :, None]
    return out.astype(np.float32)


def average_pool(images: np.ndarray, factor: int) -> np.ndarray:
    """NHWC images shrunk by an integer factor, each output pixel the mean of a block."""
    n, h, w, c = images.shape
    if h % factor or w % factor:
        raise UsageError(f"images of {h}x{w} cannot be pooled by a factor of {factor}")
    return images.reshape(n, h // factor, factor, w // factor, factor, c).mean(axis=(2, 4))


def upsample_nearest(images: np.ndarray, resolution: int) -> np.ndarray:
    """NHWC images at `resolution` (an integer multiple of theirs), each pixel repeated."""
    size = images.shape[1]
    if resolution % size:
        raise UsageError(f"samples of {size}x{size} cannot be upsampled to "
                         f"{resolution}x{resolution} by an integer factor")
    factor = resolution // size
    return images.repeat(factor, axis=1).repeat(factor, axis=2)


#: scikit-learn's digits: an evaluation on digits compares at most this many samples.
DIGITS_COUNT = 1797


def load_digits_images(size: int) -> np.ndarray:
    """scikit-learn's 1,797 8x8 digits as NHWC float32 in [-1, 1], resized to size x size."""
    from sklearn.datasets import load_digits

    pixels = load_digits().images.astype(np.float32) / 16.0  # values 0..16
    return resize_images(pixels[..., None] * 2.0 - 1.0, size)


def load_digits_labels() -> np.ndarray:
    from sklearn.datasets import load_digits

    return load_digits().target.astype(np.int64)


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        raise UsageError(f"{path}: too short to be an IDX file; give an MNIST IDX or .npz file")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise UsageError(
            f"{path}: wrong magic number (not an unsigned-byte IDX file); "
            "give MNIST's train-images-idx3-ubyte or an .npz with an 'x_train' array"
        )
    header = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(dims))
    if len(data) - header < expected:
        raise UsageError(
            f"{path}: truncated IDX file ({len(data) - header} of {expected} bytes); "
            "download it again"
        )
    return np.frombuffer(data, np.uint8, expected, header).reshape(dims)


def _read_npz(path: Path) -> np.ndarray:
    with np.load(path) as archive:
        for key in ("x_train", "images", "x"):
            if key in archive:
                return archive[key]
        raise UsageError(
            f"{path}: no 'x_train', 'images' or 'x' array in the .npz (found "
            f"{', '.join(archive.files) or 'none'}); save the images under 'x_train'"
        )


def find_mnist(data_dir: str | os.PathLike | None) -> Path:
    """The MNIST training images the user has: a file, or a folder holding one."""
    root = data_dir or os.environ.get(MNIST_ENV)
    if not root:
        raise UsageError(
            f"mnist needs local files: pass --data-dir DIR or set {MNIST_ENV} "
            "(MNIST IDX or mnist.npz; nothing is downloaded)"
        )
    path = Path(root)
    if path.is_dir():
        names = ("train-images-idx3-ubyte", "train-images-idx3-ubyte.gz", "mnist.npz")
        found = [path / n for n in names if (path / n).exists()]
        if not found:
            raise UsageError(f"{path}: no {', '.join(names)} in this folder")
        path = found[0]
    if not path.exists():
        raise UsageError(f"{path}: no such file; give the folder holding MNIST's files")
    return path


def load_mnist_images(data_dir: str | os.PathLike | None, size: int = 28) -> np.ndarray:
    """MNIST from local IDX or .npz as NHWC float32 in [-1, 1]; zero-padded (not resized) to 32."""
    path = find_mnist(data_dir)
    raw = _read_npz(path) if path.suffix == ".npz" else _read_idx(path)
    if raw.ndim != 3 or raw.shape[1:] != (28, 28):
        raise UsageError(
            f"{path}: images have shape {raw.shape[1:]}, expected 28 x 28; "
            "give MNIST's training images"
        )
    images = raw.astype(np.float32)[..., None] / 255.0 * 2.0 - 1.0
    if size == 28:
        return images
    if size == 32:
        return np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)), constant_values=-1.0)
    return resize_images(images, size)


def stacked_digits(images: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Three independently drawn digits on three channels: 1,000 modes (docs/metrics.md)."""
    picks = rng.integers(len(images), size=(n, 3))
    return np.concatenate([images[picks[:, i]] for i in range(3)], axis=-1)


@dataclass(frozen=True)
class DataSpec:
    """Which data a model trains on; part of a job, so it must stay JSON-friendly."""

    name: str
    resolution: int = 28
    data_dir: str | None = None


def load_dataset(spec: DataSpec, seed: int = 0) -> np.ndarray:
    """A finite dataset to draw batches from (2-D mixtures are drawn fresh per batch)."""
    if spec.name == "digits":
        return load_digits_images(spec.resolution)
    if spec.name == "mnist":
        return load_mnist_images(spec.data_dir, spec.resolution)
    if spec.name == "stacked_digits":
        rng = np.random.default_rng(seed)
        return stacked_digits(load_digits_images(spec.resolution), 10_000, rng)
    if spec.name in POINT_DATASETS:
        return sample_mixture(spec.name, 100_000, np.random.default_rng(seed))
    raise UsageError(
        f"unknown dataset {spec.name!r}; use one of {', '.join(POINT_DATASETS + IMAGE_DATASETS)}"
    )


def batches(data: np.ndarray, batch_size: int, seed: int) -> Iterator[np.ndarray]:
    """An endless, seeded stream of batches: shuffled epochs, the last partial batch dropped."""
    if batch_size < 1:
        raise UsageError(f"batch size must be a positive integer, got {batch_size}")
    if batch_size > len(data):
        raise UsageError(
            f"batch size {batch_size} exceeds the dataset's {len(data)} examples; use a smaller one"
        )
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(len(data))
        for start in range(0, len(order) - batch_size + 1, batch_size):
            yield data[order[start : start + batch_size]]


def noise(shapes: dict[str, tuple[int, ...]], seed: int | Sequence[int]
          ) -> dict[str, np.ndarray]:
    """Standard normal (and uniform, for names starting with 'u') noise fed from numpy."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in sorted(shapes.items()):
        draw = rng.random(shape) if name.startswith("u") else rng.standard_normal(shape)
        out[name] = draw.astype(np.float32)
    return out


def step_noise(shapes: dict[str, tuple[int, ...]], seed: int, step: int) -> dict[str, np.ndarray]:
    """The noise of training step `step` of the run with `seed`: its own stream per step, so
    a run's step t draws the same values in every framework and however it got there."""
    return noise(shapes, (seed, step))
