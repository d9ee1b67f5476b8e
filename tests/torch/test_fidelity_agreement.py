"""Our numpy metrics agree with torch-fidelity's own, and fid_inception loads weights from a path.

This process imports torch (never tensorflow). No test downloads anything: the InceptionV3
weights file is written by the test itself, from a seeded, randomly initialised network.
"""

import urllib.error

import numpy as np
import pytest
import torch
from torch_fidelity import feature_extractor_inceptionv3 as fidelity_inception
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric
from torch_fidelity.metric_prc import prc_features_to_metric

from bench.errors import UsageError
from bench.features import (
    INCEPTION_WEIGHTS_ENV,
    _inception_model,
    inception_features,
    to_uint8_nchw_rgb,
)
from bench.metrics import fid_from_features, kid_from_features, precision_recall


@pytest.fixture(scope="module")
def features():
    rng = np.random.default_rng(0)
    mixing = rng.standard_normal((48, 48)) / 7
    real = rng.standard_normal((600, 48)) @ mixing
    fake = (rng.standard_normal((500, 48)) * 1.2 + 0.1) @ mixing
    return real, fake


def test_fid_matches_torch_fidelity(features):
    real, fake = features
    theirs = fid_statistics_to_metric(
        fid_features_to_statistics(torch.from_numpy(real)),
        fid_features_to_statistics(torch.from_numpy(fake)),
        verbose=False,
    )["frechet_inception_distance"]
    assert theirs > 0.1
    assert fid_from_features(real, fake) == pytest.approx(theirs, rel=1e-6)


@pytest.mark.parametrize("seed", [0, 2020])
def test_kid_matches_torch_fidelity_subset_for_subset(features, seed):
    real, fake = features
    theirs = kid_features_to_metric(
        torch.from_numpy(real),
        torch.from_numpy(fake),
        kid_subsets=20,
        kid_subset_size=300,
        rng_seed=seed,
        verbose=False,
    )
    mean, std = kid_from_features(real, fake, subsets=20, subset_size=300, seed=seed)
    assert mean == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-6)
    assert std == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-6)
    assert mean > 3 * std  # a real difference, so the relative comparison means something


def test_precision_and_recall_match_torch_fidelity(features):
    real, fake = features
    # torch-fidelity's convention: features_1 is generated, features_2 is real.
    theirs = prc_features_to_metric(
        torch.from_numpy(fake), torch.from_numpy(real), prc_neighborhood=3, verbose=False
    )
    precision, recall = precision_recall(real, fake, k=3)
    assert precision != recall  # otherwise a swap would go unnoticed
    # torch-fidelity averages in float32; one sample in 600 changes a share by 1.7e-3.
    assert precision == pytest.approx(theirs["precision"], abs=1e-6)
    assert recall == pytest.approx(theirs["recall"], abs=1e-6)


# --- InceptionV3 weights ----------------------------------------------------------------------


def random_inception(seed: int) -> fidelity_inception.FeatureExtractorInceptionV3:
    """torch-fidelity's InceptionV3 with seeded random weights, built without its weights file."""
    torch.manual_seed(seed)
    with pytest.MonkeyPatch.context() as patch:
        # The constructor insists on loading weights; let it load nothing and keep the init.
        patch.setattr(fidelity_inception, "load_state_dict_from_url", lambda *a, **k: {})
        patch.setattr(
            fidelity_inception.FeatureExtractorInceptionV3, "load_state_dict", lambda *a: None
        )
        model = fidelity_inception.FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048"], verbose=False
        )
    for module in model.modules():
        # He init keeps the signal alive through 90-odd layers; with torch's default init the
        # features barely depend on the image, and the comparisons below would prove little.
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.05, 0.05)
            module.running_var.uniform_(0.9, 1.1)
    return model


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    model = random_inception(seed=0)
    path = tmp_path_factory.mktemp("inception") / "inception-random.pth"
    torch.save(model.state_dict(), path)
    return path, model


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(1)
    return rng.uniform(-1, 1, (2, 16, 16, 1)).astype(np.float32)


@pytest.fixture(scope="module")
def features_from_path(weights, images):
    return inception_features(images, weights_path=weights[0], batch_size=1)


def test_inception_features_load_weights_from_a_path(weights, images, features_from_path):
    _, model = weights
    with torch.no_grad():
        (expected,) = model(torch.from_numpy(to_uint8_nchw_rgb(images)))
    assert features_from_path.shape == (2, 2048) and features_from_path.dtype == np.float64
    np.testing.assert_allclose(features_from_path, expected.numpy(), rtol=1e-5, atol=1e-6)
    first, second = features_from_path
    assert np.abs(first - second).max() > 1e-2 * np.abs(first).max()  # the image matters


def test_inception_weights_path_from_the_environment(
    weights, images, features_from_path, monkeypatch
):
    monkeypatch.setenv(INCEPTION_WEIGHTS_ENV, str(weights[0]))
    # One image in a batch of one, as the fixture computed it, so the result is bit-identical.
    from_env = inception_features(images[:1], batch_size=1)
    np.testing.assert_array_equal(from_env, features_from_path[:1])


def test_inception_rejects_a_file_that_is_not_its_state_dict(tmp_path, images):
    wrong = tmp_path / "wrong.pth"
    torch.save({"fc.weight": torch.zeros(3, 3)}, wrong)
    with pytest.raises(UsageError, match="not a state_dict of torch-fidelity's InceptionV3"):
        inception_features(images, weights_path=wrong)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(UsageError, match="not a state_dict"):
        inception_features(images, weights_path=garbage)


def test_offline_without_cached_weights_says_how_to_provide_them(monkeypatch, images):
    monkeypatch.delenv(INCEPTION_WEIGHTS_ENV, raising=False)
    _inception_model.cache_clear()  # a model loaded earlier from the default weights

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    # Stands in for torch.hub finding no cached file and failing to download one.
    monkeypatch.setattr(fidelity_inception, "load_state_dict_from_url", offline)
    with pytest.raises(UsageError, match=INCEPTION_WEIGHTS_ENV) as err:
        inception_features(images)
    assert "run once online" in str(err.value)
