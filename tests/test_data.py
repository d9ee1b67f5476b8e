"""Data: 2-D mixtures, digits, local MNIST files, and seeded batch streams."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from bench import data
from bench.errors import UsageError


def test_ring8_has_eight_distinct_modes_on_the_unit_circle():
    means = data.ring8_means()
    assert means.shape == (8, 2)
    assert np.allclose(np.linalg.norm(means, axis=1), 1.0)
    assert len({tuple(np.round(m, 6)) for m in means}) == 8  # endpoint excluded: no repeat
    assert np.allclose(means[2], [0.0, 1.0])


def test_grid25_is_the_pacgan_grid():
    means = data.grid25_means()
    assert means.shape == (25, 2)
    assert set(np.unique(means)) == {-4.0, -2.0, 0.0, 2.0, 4.0}


def test_mixture_samples_sit_on_their_modes():
    points = data.sample_mixture("ring8", 20_000, np.random.default_rng(0))
    means, sigma = data.mixture_params("ring8")
    distance = np.linalg.norm(points[:, None] - means[None], axis=2).min(axis=1)
    assert points.dtype == np.float32
    assert np.mean(distance < 3 * sigma) > 0.98
    counts = np.bincount(np.linalg.norm(points[:, None] - means[None], axis=2).argmin(1))
    assert counts.min() > 2_000


def test_digits_are_nhwc_in_minus_one_to_one_at_the_asked_size():
    images = data.load_digits_images(28)
    assert images.shape == (1797, 28, 28, 1)
    assert images.dtype == np.float32
    assert images.min() == pytest.approx(-1.0) and images.max() == pytest.approx(1.0)


def test_resize_keeps_a_constant_image_constant_and_is_identity_at_same_size():
    flat = np.full((2, 8, 8, 1), 0.25, np.float32)
    assert np.allclose(data.resize_images(flat, 32), 0.25)
    x = np.random.default_rng(0).random((1, 8, 8, 3)).astype(np.float32)
    assert np.array_equal(data.resize_images(x, 8), x)


def test_batches_are_identical_for_a_seed_and_differ_across_seeds():
    x = np.arange(100, dtype=np.float32)[:, None]
    a, b = data.batches(x, 10, seed=3), data.batches(x, 10, seed=3)
    first = [next(a) for _ in range(25)]
    assert all(np.array_equal(p, next(b)) for p in first)
    assert not np.array_equal(first[0], next(data.batches(x, 10, seed=4)))
    assert sorted(np.concatenate(first[:10]).ravel()) == list(range(100))  # an epoch


@pytest.mark.parametrize("size, message", [(0, "positive integer"), (101, "exceeds")])
def test_bad_batch_sizes(size, message):
    with pytest.raises(UsageError, match=message):
        next(data.batches(np.zeros((100, 2)), size, 0))


def write_idx(path, images, magic=(0, 0x08, 3), truncate=0):
    header = struct.pack(">HBB", *magic) + struct.pack(">3I", *images.shape)
    payload = (header + images.astype(np.uint8).tobytes())
    path.write_bytes(payload[: len(payload) - truncate])


def test_mnist_from_idx_and_gzip_and_npz(tmp_path):
    raw = np.random.default_rng(0).integers(0, 256, (5, 28, 28))
    write_idx(tmp_path / "train-images-idx3-ubyte", raw)
    images = data.load_mnist_images(tmp_path)
    assert images.shape == (5, 28, 28, 1)
    assert np.allclose(images[..., 0], raw / 255 * 2 - 1, atol=1e-6)
    padded = data.load_mnist_images(tmp_path / "train-images-idx3-ubyte", size=32)
    assert padded.shape == (5, 32, 32, 1) and np.all(padded[:, :2] == -1.0)
    gz = tmp_path / "gz"
    gz.mkdir()
    with gzip.open(gz / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write((tmp_path / "train-images-idx3-ubyte").read_bytes())
    assert np.array_equal(data.load_mnist_images(gz), images)
    np.savez(tmp_path / "mnist.npz", x_train=raw.astype(np.uint8))
    assert np.array_equal(data.load_mnist_images(tmp_path / "mnist.npz"), images)


@pytest.mark.parametrize("damage, message", [
    ({"truncate": 100}, "truncated IDX"),
    ({"magic": (0, 0x0D, 3)}, "wrong magic number"),
])
def test_corrupted_idx_files_are_usage_errors(tmp_path, damage, message):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 28, 28)), **damage)
    with pytest.raises(UsageError, match=message):
        data.load_mnist_images(tmp_path)


def test_wrong_shapes_and_npz_keys_are_usage_errors(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 27, 27)))
    with pytest.raises(UsageError, match="expected 28 x 28"):
        data.load_mnist_images(tmp_path)
    np.savez(tmp_path / "other.npz", labels=np.zeros(3))
    with pytest.raises(UsageError, match="no 'x_train'"):
        data.load_mnist_images(tmp_path / "other.npz")


def test_mnist_without_files_says_how_to_provide_them(monkeypatch, tmp_path):
    monkeypatch.delenv(data.MNIST_ENV, raising=False)
    with pytest.raises(UsageError, match="--data-dir"):
        data.load_mnist_images(None)
    with pytest.raises(UsageError, match="no train-images"):
        data.load_mnist_images(tmp_path)


def test_noise_is_seeded_normal_and_uniform():
    a = data.noise({"z": (1000, 4), "u": (1000, 1)}, seed=1)
    b = data.noise({"z": (1000, 4), "u": (1000, 1)}, seed=1)
    assert np.array_equal(a["z"], b["z"]) and np.array_equal(a["u"], b["u"])
    assert a["u"].min() >= 0 and a["u"].max() < 1
    assert abs(a["z"].std() - 1) < 0.05
