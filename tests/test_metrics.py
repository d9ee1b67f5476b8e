"""The framework-neutral quality metrics, checked against closed forms and brute force.

This module must import neither torch nor tensorflow: the metrics are plain numpy.
"""

import itertools
import math
import subprocess
import sys

import numpy as np
import pytest

from bench.data import mixture_params, sample_mixture
from bench.errors import UsageError
from bench.metrics import (
    class_coverage,
    density_coverage,
    fid_from_features,
    frechet_distance,
    kid_from_features,
    mode_stats_2d,
    ndb,
    precision_recall,
    stacked_labels,
    trace_sqrt_product,
)


def random_spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


# --- Frechet distance -----------------------------------------------------------------------


def test_frechet_distance_matches_closed_form_for_diagonal_covariances():
    rng = np.random.default_rng(0)
    d = 16
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    v1, v2 = rng.uniform(0.1, 3.0, d), rng.uniform(0.1, 3.0, d)
    # For commuting (diagonal) covariances Tr sqrt(S1 S2) = sum sqrt(v1 v2), so the distance
    # is ||mu1 - mu2||^2 + sum (sqrt v1 - sqrt v2)^2.
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
    got = frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2))
    assert got == pytest.approx(expected, rel=1e-12)


def test_trace_sqrt_matches_complex_eigenvalue_form_for_full_covariances():
    rng = np.random.default_rng(1)
    s1, s2 = random_spd(rng, 40), random_spd(rng, 40)
    complex_form = np.sqrt(np.linalg.eigvals(s1 @ s2).astype(complex)).real.sum()
    assert trace_sqrt_product(s1, s2) == pytest.approx(complex_form, rel=1e-10)


def test_trace_sqrt_clamps_singular_covariances():
    rng = np.random.default_rng(2)
    low_rank = rng.standard_normal((30, 5))
    s1 = low_rank @ low_rank.T  # rank 5: eigh returns tiny negative eigenvalues
    s2 = random_spd(rng, 30)
    complex_form = np.sqrt(np.linalg.eigvals(s1 @ s2).astype(complex)).real.sum()
    value = trace_sqrt_product(s1, s2)
    assert np.isfinite(value)
    assert value == pytest.approx(complex_form, rel=1e-8)


def test_frechet_distance_of_a_gaussian_with_itself_is_zero():
    rng = np.random.default_rng(3)
    s = random_spd(rng, 20)
    mu = rng.standard_normal(20)
    assert frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-10)


def test_frechet_distance_rejects_mismatched_shapes():
    with pytest.raises(UsageError, match="covariances of shape"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


# --- FID from features ----------------------------------------------------------------------


def test_fid_of_identical_feature_sets_is_zero():
    x = np.random.default_rng(4).standard_normal((500, 32))
    assert fid_from_features(x, x.copy()) == pytest.approx(0.0, abs=1e-9)


def test_fid_uses_unbiased_float64_statistics():
    rng = np.random.default_rng(5)
    real = rng.standard_normal((300, 8)).astype(np.float32)
    fake = (rng.standard_normal((200, 8)) * 1.5 + 0.3).astype(np.float32)
    r64, f64 = real.astype(np.float64), fake.astype(np.float64)
    expected = frechet_distance(
        r64.mean(0),
        np.cov(r64, rowvar=False, ddof=1),
        f64.mean(0),
        np.cov(f64, rowvar=False, ddof=1),
    )
    assert fid_from_features(real, fake) == pytest.approx(expected, rel=1e-12)
    assert fid_from_features(real, fake) > 1.0


def test_fid_warns_when_samples_do_not_exceed_the_dimension():
    rng = np.random.default_rng(6)
    real, fake = rng.standard_normal((64, 64)), rng.standard_normal((1000, 64))
    with pytest.warns(UserWarning, match="64 samples do not exceed the feature dimension 64"):
        fid_from_features(real, fake)


def test_fid_with_enough_samples_does_not_warn(recwarn):
    rng = np.random.default_rng(7)
    fid_from_features(rng.standard_normal((65, 64)), rng.standard_normal((65, 64)))
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


# --- KID ------------------------------------------------------------------------------------


def brute_force_unbiased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """The U-statistic with explicit loops over distinct pairs (cross term over all pairs)."""

    def k(a, b):
        return (a @ b / len(a) + 1.0) ** 3

    m = len(x)
    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2))
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(m), 2))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return (xx + yy) / (m * (m - 1)) - 2.0 * xy / (m * m)


def test_kid_matches_brute_force_estimator_when_a_subset_is_the_whole_set():
    rng = np.random.default_rng(8)
    x, y = rng.standard_normal((12, 5)), rng.standard_normal((12, 5)) + 0.5
    mean, std = kid_from_features(x, y, subsets=3, subset_size=12)
    # Subsets of all samples are permutations, and the estimator ignores order.
    assert mean == pytest.approx(brute_force_unbiased_mmd2(x, y), rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_kid_subset_size_shrinks_to_the_sample_count():
    rng = np.random.default_rng(9)
    x, y = rng.standard_normal((20, 4)), rng.standard_normal((15, 4))
    shrunk = kid_from_features(x, y, subsets=5, subset_size=1000, seed=3)
    explicit = kid_from_features(x, y, subsets=5, subset_size=15, seed=3)
    assert shrunk == explicit


def test_kid_is_near_zero_for_one_distribution_and_positive_for_a_shift():
    rng = np.random.default_rng(10)
    real = rng.standard_normal((600, 16))
    same = rng.standard_normal((600, 16))
    shifted = rng.standard_normal((600, 16)) + 0.5
    same_mean, same_std = kid_from_features(real, same, subsets=20, subset_size=200)
    shift_mean, _ = kid_from_features(real, shifted, subsets=20, subset_size=200)
    assert abs(same_mean) < 3 * same_std + 1e-3
    assert shift_mean > 20 * abs(same_mean)
    assert shift_mean > 0.05


def test_kid_is_reproducible_from_its_seed():
    rng = np.random.default_rng(11)
    x, y = rng.standard_normal((100, 4)), rng.standard_normal((100, 4))
    assert kid_from_features(x, y, 4, 50, seed=1) == kid_from_features(x, y, 4, 50, seed=1)
    assert kid_from_features(x, y, 4, 50, seed=1) != kid_from_features(x, y, 4, 50, seed=2)


# --- precision, recall, density, coverage ---------------------------------------------------


def test_precision_and_recall_of_one_distribution_are_high():
    rng = np.random.default_rng(12)
    precision, recall = precision_recall(
        rng.standard_normal((1000, 2)), rng.standard_normal((1000, 2))
    )
    assert precision > 0.9 and recall > 0.9


def test_single_mode_generator_has_high_precision_low_recall_and_one_mode():
    rng = np.random.default_rng(13)
    real = sample_mixture("ring8", 2000, rng)
    means, sigma = mixture_params("ring8")
    one_mode = means[0] + sigma * rng.standard_normal((2000, 2))
    precision, recall = precision_recall(real, one_mode)
    # The direction is the point: fakes all lie on the data (precision), but they cover one
    # mode of eight, so most real samples are in no fake ball (recall).
    assert precision > 0.95
    assert recall < 0.2
    stats = mode_stats_2d(one_mode, "ring8")
    assert stats["modes_captured"] == 1
    assert stats["kl_uniform"] == pytest.approx(math.log(8))


def test_off_manifold_generator_has_low_precision_but_full_recall():
    rng = np.random.default_rng(14)
    real = sample_mixture("ring8", 400, rng)
    # Every real sample plus scattered junk: real balls catch few fakes, fake balls hold
    # every real sample.
    junk = rng.uniform(-3, 3, (4000, 2))
    precision, recall = precision_recall(real, np.concatenate([real, junk]))
    assert precision < 0.2
    assert recall == 1.0


def test_density_and_coverage_for_one_distribution():
    rng = np.random.default_rng(15)
    real, fake = rng.standard_normal((3000, 2)), rng.standard_normal((3000, 2))
    density, coverage = density_coverage(real, fake, k=5)
    assert density == pytest.approx(1.0, abs=0.06)
    # Naeem et al.: E[coverage] -> 1 - (1/2)^k for identical distributions.
    assert coverage == pytest.approx(1 - 0.5**5, abs=0.015)


def test_density_and_coverage_use_strict_inequality():
    # With k = 1 every real sample's ball has radius 1; all distances here are exact floats.
    real = np.array([[0.0], [1.0], [10.0], [11.0]])
    on_boundary = np.array([[2.0]])
    density, coverage = density_coverage(real, on_boundary, k=1)
    assert (density, coverage) == (0.0, 0.0)
    between = np.array([[0.5]])
    density, coverage = density_coverage(real, between, k=1)
    assert density == 2.0  # inside two balls, divided by k = 1 and one fake sample
    assert coverage == 0.5


def test_precision_and_recall_include_the_boundary():
    real = np.array([[0.0], [1.0], [10.0], [11.0]])
    precision, _ = precision_recall(real, np.array([[2.0], [2.0]]), k=1)
    assert precision == 1.0


# --- mode statistics ------------------------------------------------------------------------


@pytest.mark.parametrize(("dataset", "modes"), [("ring8", 8), ("grid25", 25)])
def test_mode_stats_capture_every_mode_of_real_samples(dataset, modes):
    samples = sample_mixture(dataset, 20_000, np.random.default_rng(16))
    stats = mode_stats_2d(samples, dataset)
    assert stats["modes_captured"] == modes
    assert stats["high_quality_share"] > 0.98  # P(|N(0, I_2)| <= 3) = 1 - e^-4.5 = 0.989
    assert stats["kl_uniform"] == pytest.approx(0.0, abs=0.01)


def test_mode_stats_count_far_samples_as_low_quality():
    means, sigma = mixture_params("grid25")
    samples = np.concatenate([means[:3], means[:3] + 10 * sigma])
    stats = mode_stats_2d(samples, "grid25")
    assert stats == {
        "modes_captured": 3,
        "high_quality_share": 0.5,
        "kl_uniform": pytest.approx(math.log(25 / 3)),
    }


def test_mode_stats_kl_is_pacgans_reverse_kl_generated_against_uniform():
    means, _ = mixture_params("ring8")
    # Three samples on mode 0, one on mode 1: p = (3/4, 1/4, 0, ...), real uniform over 8.
    stats = mode_stats_2d(means[[0, 0, 0, 1]], "ring8")
    assert stats["kl_uniform"] == pytest.approx(0.75 * math.log(6) + 0.25 * math.log(2))
    # KL(uniform || generated) would be infinite: six modes have no sample.


def test_mode_stats_with_no_high_quality_sample_has_undefined_kl():
    stats = mode_stats_2d(np.full((10, 2), 0.5), "ring8")
    assert stats["modes_captured"] == 0
    assert stats["high_quality_share"] == 0.0
    assert math.isnan(stats["kl_uniform"])


# --- class coverage -------------------------------------------------------------------------


def test_class_coverage_of_uniform_and_collapsed_labels():
    uniform = class_coverage(np.repeat(np.arange(10), 7), 10)
    assert uniform == {"classes_covered": 10, "kl_uniform": pytest.approx(0.0, abs=1e-12)}
    collapsed = class_coverage(np.array([3, 3, 3, 7]), 10)
    p = np.array([0.75, 0.25])
    assert collapsed["classes_covered"] == 2
    assert collapsed["kl_uniform"] == pytest.approx(float((p * np.log(p * 10)).sum()))


def test_stacked_labels_give_a_thousand_modes():
    digits = np.array(list(itertools.product(range(10), repeat=3)))
    labels = stacked_labels(digits)
    assert labels[:3].tolist() == [0, 1, 2]
    assert labels[123] == 123
    assert class_coverage(labels, 1000)["classes_covered"] == 1000


def test_stacked_labels_need_three_digits_per_sample():
    with pytest.raises(UsageError, match=r"shape \(N, 3\)"):
        stacked_labels(np.zeros((5, 2), dtype=int))
    with pytest.raises(UsageError, match="0..9"):
        stacked_labels(np.full((5, 3), 10))


# --- NDB ------------------------------------------------------------------------------------


def test_ndb_finds_few_bins_for_one_distribution_and_many_for_another():
    rng = np.random.default_rng(17)
    real = rng.standard_normal((3000, 2))
    same = ndb(real, rng.standard_normal((3000, 2)), k=20)
    other = ndb(real, rng.standard_normal((3000, 2)) * 0.5 + 1.0, k=20)
    assert same["k"] == 20
    # At alpha = 0.05 about 1 of 20 bins differs by chance.
    assert same["ndb"] <= 4
    assert same["js"] < 0.01
    assert other["ndb"] >= 15
    assert other["ndb_share"] == other["ndb"] / 20
    assert other["js"] > 0.1


def test_ndb_js_is_bounded_by_ln2_for_disjoint_support():
    rng = np.random.default_rng(18)
    real = rng.standard_normal((500, 2))
    result = ndb(real, np.full((100, 2), 50.0), k=10)
    assert result["js"] <= math.log(2) + 1e-12
    assert result["ndb"] >= 9


# --- input validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: fid_from_features(np.zeros((10, 3, 3)), np.zeros((10, 9))), "2-D array"),
        (lambda: fid_from_features(np.zeros((10, 3)), np.zeros((10, 4))), "same feature"),
        (lambda: fid_from_features(np.zeros((1, 3)), np.zeros((10, 3))), "at least 2"),
        (lambda: fid_from_features(np.full((5, 2), np.nan), np.zeros((5, 2))), "NaN"),
        (lambda: kid_from_features(np.ones((5, 2)), np.ones((5, 2)), subsets=0), "subsets"),
        (lambda: precision_recall(np.zeros((3, 2)), np.zeros((9, 2)), k=3), "more than 3"),
        (lambda: density_coverage(np.zeros((9, 2)), np.zeros((9, 2)), k=0), "positive"),
        (lambda: mode_stats_2d(np.zeros((5, 3)), "ring8"), "N x 2"),
        (lambda: mode_stats_2d(np.zeros((5, 2)), "ring9"), "unknown 2-D dataset"),
        (lambda: class_coverage(np.array([0, 10]), 10), "0..9"),
        (lambda: class_coverage(np.array([0.5]), 10), "integers"),
        (lambda: ndb(np.zeros((50, 2)), np.zeros((50, 2)), k=100), "at least 100 real"),
        (lambda: ndb(np.zeros((50, 2)), np.zeros((50, 2)), k=5, alpha=1.5), "alpha"),
    ],
)
def test_bad_input_raises_usage_error(call, message):
    with pytest.raises(UsageError, match=message):
        call()


def test_metrics_and_features_import_no_framework():
    # In a fresh interpreter: this test process may have imported torch for other tests.
    code = (
        "import sys, bench.metrics, bench.features; "
        "assert not {'torch', 'tensorflow'} & set(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
