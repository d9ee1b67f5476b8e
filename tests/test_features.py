"""Feature extractors without a framework: the digits classifier and the Inception input path.

The InceptionV3 network itself needs torch; tests/torch/test_fidelity_agreement.py covers it.
"""

import numpy as np
import pytest

from bench.data import load_digits_images, load_digits_labels, stacked_digits
from bench.errors import UsageError
from bench.features import (
    CACHE_ENV,
    HIDDEN_LAYERS,
    default_cache_dir,
    digits_classifier,
    inception_features,
    raw_features,
    split_channels,
    to_uint8_nchw_rgb,
)
from bench.metrics import class_coverage, stacked_labels

MIN_TEST_ACCURACY = 0.95  # measured 0.98 at resolutions 8, 28 and 32 with seed 0


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("features-cache")


@pytest.fixture(scope="module")
def classifier(cache_dir):
    return digits_classifier(28, seed=0, cache_dir=cache_dir)


def test_raw_features_are_the_points_themselves():
    points = np.array([[0.5, -1.0], [2.0, 3.0]], np.float32)
    features = raw_features(points)
    assert features.dtype == np.float64
    np.testing.assert_array_equal(features, points)
    with pytest.raises(UsageError, match="N x 2"):
        raw_features(np.zeros((4, 3)))


def test_digits_classifier_reaches_its_stated_accuracy(classifier):
    assert classifier.test_accuracy >= MIN_TEST_ACCURACY
    assert not classifier.from_cache
    assert 0 < classifier.train_seconds < 60


def test_features_are_the_last_hidden_layer_per_channel(classifier):
    images = load_digits_images(28)[:50]
    features = classifier.features(images)
    assert features.shape == (50, HIDDEN_LAYERS[-1]) == (50, classifier.feature_dim)
    assert features.dtype == np.float64
    assert (features >= 0).all() and features.any()  # ReLU activations, not all dead
    stacked = np.concatenate([images, images[::-1], images], axis=-1)
    per_channel = classifier.features(stacked)
    assert per_channel.shape == (50, 3 * classifier.feature_dim)
    np.testing.assert_array_equal(per_channel[:, : classifier.feature_dim], features)


def test_predict_labels_digits(classifier):
    labels = classifier.predict(load_digits_images(28))
    assert labels.shape == (1797,)
    # The held-out quarter is near the stated accuracy, the training part near perfect.
    assert (labels == load_digits_labels()).mean() > 0.97


def test_stacked_digits_are_classified_channel_by_channel(classifier):
    images = load_digits_images(28)
    rng = np.random.default_rng(0)
    stacked = stacked_digits(images, 300, rng)
    picks = np.random.default_rng(0).integers(len(images), size=(300, 3))
    per_channel = classifier.predict_channels(stacked)
    assert per_channel.shape == (300, 3)
    assert (per_channel == load_digits_labels()[picks]).mean() > 0.97
    coverage = class_coverage(stacked_labels(per_channel), 1000)
    assert 200 < coverage["classes_covered"] <= 300


def test_cache_hit_gives_identical_features(classifier, cache_dir):
    again = digits_classifier(28, seed=0, cache_dir=cache_dir)
    assert again.from_cache
    assert again.test_accuracy == classifier.test_accuracy
    images = load_digits_images(28)[:100]
    np.testing.assert_array_equal(again.features(images), classifier.features(images))


def test_training_is_deterministic(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "from-env"))
    first = digits_classifier(8, seed=3)
    second = digits_classifier(8, seed=3, cache_dir=tmp_path / "explicit")
    assert not first.from_cache and not second.from_cache
    assert list((tmp_path / "from-env" / "features").glob("digits-r8-*.npz"))
    images = load_digits_images(8)
    np.testing.assert_array_equal(first.features(images), second.features(images))
    other_seed = digits_classifier(8, seed=4, cache_dir=tmp_path / "explicit")
    assert len(list((tmp_path / "explicit").glob("*.npz"))) == 2
    assert not np.array_equal(other_seed.features(images), first.features(images))


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv(CACHE_ENV, raising=False)
    assert default_cache_dir().parts[-3:] == (".cache", "gan-bench", "features")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert default_cache_dir() == tmp_path / "features"


def test_classifier_rejects_wrong_images(classifier):
    with pytest.raises(UsageError, match="trained at 28 x 28"):
        classifier.features(load_digits_images(8))
    with pytest.raises(UsageError, match="predict_channels"):
        classifier.predict(np.zeros((2, 28, 28, 3), np.float32))
    with pytest.raises(UsageError, match="NHWC"):
        classifier.features(np.zeros((2, 28, 28), np.float32))
    with pytest.raises(UsageError, match="positive integer"):
        digits_classifier(0)


def test_images_become_uint8_rgb_nchw():
    images = np.array([-1.0, 0.0, 1.0, 0.5], np.float32).reshape(1, 2, 2, 1)
    pixels = to_uint8_nchw_rgb(images)
    assert pixels.dtype == np.uint8 and pixels.shape == (1, 3, 2, 2)
    # (x + 1) * 127.5, rounded: -1 -> 0, 0 -> 128 (127.5 rounds to even), 1 -> 255.
    np.testing.assert_array_equal(pixels[0, 1], [[0, 128], [255, 191]])
    np.testing.assert_array_equal(pixels[0, 0], pixels[0, 2])
    rgb = np.stack([np.full((2, 2), v) for v in (-1.0, 0.0, 2.0)], axis=-1)[None]
    np.testing.assert_array_equal(to_uint8_nchw_rgb(rgb)[0, :, 0, 0], [0, 128, 255])


def test_split_channels():
    images = np.arange(24, dtype=np.float32).reshape(1, 2, 2, 6)
    with pytest.raises(UsageError, match="1 or 3 channels"):
        split_channels(images)
    parts = split_channels(images[..., :3])
    assert [p.shape for p in parts] == [(1, 2, 2, 1)] * 3
    np.testing.assert_array_equal(parts[2][..., 0], images[..., 2])


def test_inception_features_name_a_missing_weights_file(tmp_path):
    missing = tmp_path / "nowhere.pth"
    with pytest.raises(UsageError, match="does not exist"):
        inception_features(np.zeros((1, 8, 8, 3), np.float32), weights_path=missing)
