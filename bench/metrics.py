"""Quality metrics on numpy features and samples, framework-neutral (docs/metrics.md).

Every function takes plain numpy arrays, so samples from the PyTorch and the TensorFlow
implementations go through exactly the same code. Statistics are accumulated in float64.
Logarithms are natural (KL and JS divergences are in nats).

Feature extraction (which features a FID is computed on) lives in bench.features; this module
only compares two sets of vectors.
"""

from __future__ import annotations

import warnings
from statistics import NormalDist

import numpy as np

from bench.data import mixture_params
from bench.errors import UsageError

# Pairwise distance matrices are built in row blocks of this many rows so that 10,000 x 10,000
# comparisons never hold more than a few hundred MB at once.
_DISTANCE_BLOCK = 1024


# --- input checks ---------------------------------------------------------------------------


def _as_samples(x: np.ndarray, name: str, min_count: int = 2) -> np.ndarray:
    """x as a float64 (N, d) array, or a UsageError naming what is wrong and how to fix it."""
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise UsageError(
            f"{name} must be a 2-D array (samples x features), got shape {arr.shape}; "
            "flatten images with x.reshape(len(x), -1)"
        )
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise UsageError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if len(arr) < min_count:
        raise UsageError(f"{name} has {len(arr)} samples, needs at least {min_count}; draw more")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise UsageError(
            f"{name} contains NaN or inf; the generator has probably diverged, "
            "record that instead of a metric"
        )
    return arr


def _as_pair(
    real: np.ndarray, fake: np.ndarray, min_count: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    real = _as_samples(real, "real", min_count)
    fake = _as_samples(fake, "fake", min_count)
    if real.shape[1] != fake.shape[1]:
        raise UsageError(
            f"real has {real.shape[1]} features per sample but fake has {fake.shape[1]}; "
            "extract both with the same feature extractor"
        )
    return real, fake


def _as_positive_int(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise UsageError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


# --- Frechet distance -----------------------------------------------------------------------


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric PSD matrix; eigenvalues below 0 are rounding noise, so 0."""
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    roots = np.sqrt(np.clip(eigenvalues, 0.0, None))
    return (eigenvectors * roots) @ eigenvectors.T


def trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """Tr sqrt(S1 S2) for symmetric PSD S1, S2.

    S1 S2 is similar to A S2 A with A = sqrt(S1), which is symmetric PSD, so its eigenvalues
    are real and non-negative and a symmetric eigensolver suffices: faster and more stable than
    sqrtm or a general (complex) eigendecomposition of S1 S2.
    """
    root = _psd_sqrt(s1)
    inner = root @ s2 @ root
    # Symmetrise: rounding leaves inner very slightly asymmetric and eigvalsh reads one triangle.
    eigenvalues = np.linalg.eigvalsh((inner + inner.T) / 2.0)
    return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())


def frechet_distance(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr S1 + Tr S2 - 2 Tr sqrt(S1 S2) between two Gaussians."""
    mu1, mu2 = (np.asarray(m, dtype=np.float64) for m in (mu1, mu2))
    s1, s2 = (np.asarray(s, dtype=np.float64) for s in (s1, s2))
    d = mu1.shape[0] if mu1.ndim == 1 else -1
    if mu1.shape != (d,) or mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise UsageError(
            f"frechet_distance needs means of shape (d,) and covariances of shape (d, d), got "
            f"{mu1.shape}, {s1.shape}, {mu2.shape}, {s2.shape}; pass mu1, s1, mu2, s2 in that order"
        )
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt_product(s1, s2))


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance in float64, as torch-fidelity computes them.

    Public so that callers can compute the real data's statistics once and reuse them.
    """
    x = _as_samples(features, "features")
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def _warn_if_rank_deficient(n: int, d: int, name: str) -> None:
    if n <= d:
        warnings.warn(
            f"FID on {name}: {n} samples do not exceed the feature dimension {d}, so the "
            "covariance is singular and the FID is biased and unstable; use more samples than "
            "features",
            UserWarning,
            stacklevel=3,
        )


def fid_from_features(real: np.ndarray, fake: np.ndarray) -> float:
    """Frechet distance between the Gaussians fitted to two feature sets."""
    real, fake = _as_pair(real, fake)
    _warn_if_rank_deficient(len(real), real.shape[1], "real")
    _warn_if_rank_deficient(len(fake), fake.shape[1], "fake")
    return frechet_distance(*feature_statistics(real), *feature_statistics(fake))


# --- KID ------------------------------------------------------------------------------------


def _polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 of two equally sized sets under the cubic polynomial kernel.

    Within-set sums drop the diagonal (a sample compared with itself); the cross term keeps
    every pair, as in Binkowski et al. 2018 and torch-fidelity.
    """
    m = len(x)
    k_xx, k_yy, k_xy = _polynomial_kernel(x, x), _polynomial_kernel(y, y), _polynomial_kernel(x, y)
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.sum() / (m * m))


def kid_from_features(
    real: np.ndarray,
    fake: np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel Inception Distance: mean and std of unbiased MMD^2 over random subsets.

    Subsets are drawn exactly as torch-fidelity draws them (one RandomState, real then fake,
    without replacement), so the same seed gives the same values. subset_size shrinks to the
    smaller sample count when there are fewer samples. The std is over subsets (ddof 0).
    """
    real, fake = _as_pair(real, fake)
    subsets = _as_positive_int(subsets, "subsets")
    size = min(_as_positive_int(subset_size, "subset_size"), len(real), len(fake))
    if size < 2:
        raise UsageError("KID needs subsets of at least 2 samples; pass subset_size >= 2")
    rng = np.random.RandomState(seed)
    values = np.empty(subsets)
    for i in range(subsets):
        x = real[rng.choice(len(real), size, replace=False)]
        y = fake[rng.choice(len(fake), size, replace=False)]
        values[i] = mmd2_unbiased(x, y)
    return float(values.mean()), float(values.std())


# --- nearest-neighbour metrics --------------------------------------------------------------


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between the rows of a and b."""
    sq = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * (a @ b.T)
    # The expansion can cancel to a tiny negative number for (near) identical rows.
    return np.maximum(sq, 0.0)


def _kth_neighbour_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row of x to its k-th nearest other row of x."""
    radii = np.empty(len(x))
    for start in range(0, len(x), _DISTANCE_BLOCK):
        block = _squared_distances(x[start : start + _DISTANCE_BLOCK], x)
        # Column k of the sorted row skips the sample itself at distance 0 (column 0).
        radii[start : start + _DISTANCE_BLOCK] = np.partition(block, k, axis=1)[:, k]
    return np.sqrt(radii)


def _ball_counts(
    points: np.ndarray, centres: np.ndarray, radii: np.ndarray, strict: bool
) -> np.ndarray:
    """For each point, how many balls (centre, radius) contain it."""
    counts = np.empty(len(points), dtype=np.int64)
    sq_radii = radii**2
    for start in range(0, len(points), _DISTANCE_BLOCK):
        block = _squared_distances(points[start : start + _DISTANCE_BLOCK], centres)
        inside = block < sq_radii[None, :] if strict else block <= sq_radii[None, :]
        counts[start : start + _DISTANCE_BLOCK] = inside.sum(axis=1)
    return counts


def _check_k(k: int, *sets: np.ndarray) -> int:
    k = _as_positive_int(k, "k")
    smallest = min(len(s) for s in sets)
    if k >= smallest:
        raise UsageError(
            f"k = {k} nearest neighbours need more than {k} samples per set, the smallest has "
            f"{smallest}; draw more samples or lower k"
        )
    return k


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019).

    precision: share of fake samples inside the k-NN ball of some real sample (fidelity);
    recall: share of real samples inside the k-NN ball of some fake sample (diversity).
    A ball includes its boundary (<=), as in the paper's and torch-fidelity's code.
    """
    real, fake = _as_pair(real, fake)
    k = _check_k(k, real, fake)
    precision = (_ball_counts(fake, real, _kth_neighbour_radii(real, k), strict=False) > 0).mean()
    recall = (_ball_counts(real, fake, _kth_neighbour_radii(fake, k), strict=False) > 0).mean()
    return float(precision), float(recall)


def density_coverage(real: np.ndarray, fake: np.ndarray, k: int = 5) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020), strict inequality: ||x - c|| < radius.

    density: mean over fake samples of the number of real k-NN balls holding them, divided by
    k (about 1 when both sets share a distribution); coverage: share of real samples whose
    k-NN ball holds at least one fake sample.
    """
    real, fake = _as_pair(real, fake, min_count=1)
    k = _check_k(k, real)
    radii = _kth_neighbour_radii(real, k)
    density = _ball_counts(fake, real, radii, strict=True).sum() / (k * len(fake))
    nearest_fake = np.empty(len(real))
    for start in range(0, len(real), _DISTANCE_BLOCK):
        block = _squared_distances(real[start : start + _DISTANCE_BLOCK], fake)
        nearest_fake[start : start + _DISTANCE_BLOCK] = block.min(axis=1)
    coverage = (nearest_fake < radii**2).mean()
    return float(density), float(coverage)


# --- mode collapse --------------------------------------------------------------------------


def kl_from_uniform(counts: np.ndarray) -> float:
    """KL(p || uniform) in nats of the histogram counts; empty bins add 0 (p log p -> 0).

    NaN when the histogram is empty: the divergence of no samples is undefined.
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total == 0:
        return float("nan")
    p = counts[counts > 0] / total
    return float((p * np.log(p * len(counts))).sum())


def mode_stats_2d(samples: np.ndarray, dataset: str) -> dict:
    """Mode coverage of 2-D samples on ring8 or grid25, by PacGAN's protocol.

    Definitions: docs/metrics.md#modes-2d.

    Each sample is assigned to its nearest mean; it is high quality when within 3 sigma of it.
    The KL divergence is of the histogram of high-quality samples over the modes (low-quality
    samples belong to no mode), from uniform; NaN when there is no high-quality sample. That
    is PacGAN's "reverse KL": KL(generated || real), the real mode distribution being uniform
    (their code: log K minus the entropy of the high-quality samples' mode counts).
    """
    means, sigma = mixture_params(dataset)
    points = _as_samples(samples, "samples", min_count=1)
    if points.shape[1] != 2:
        raise UsageError(f"{dataset} samples must be N x 2 points, got shape {points.shape}")
    sq = _squared_distances(points, means)
    nearest = sq.argmin(axis=1)
    high_quality = np.sqrt(sq[np.arange(len(points)), nearest]) <= 3.0 * sigma
    counts = np.bincount(nearest[high_quality], minlength=len(means))
    return {
        "modes_captured": int((counts > 0).sum()),
        "high_quality_share": float(high_quality.mean()),
        "kl_uniform": kl_from_uniform(counts),
    }


def stacked_labels(per_channel_labels: np.ndarray) -> np.ndarray:
    """Mode of stacked digits, 0..999, from per-channel digit labels (N, 3): 100 l0 + 10 l1 + l2."""
    labels = np.asarray(per_channel_labels)
    if labels.ndim != 2 or labels.shape[1] != 3 or len(labels) == 0:
        raise UsageError(
            f"stacked digits need one label per channel, shape (N, 3), got {labels.shape}"
        )
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() > 9:
        raise UsageError("stacked digit labels must be integers 0..9 (one digit per channel)")
    return labels[:, 0] * 100 + labels[:, 1] * 10 + labels[:, 2]


def class_coverage(labels: np.ndarray, num_classes: int) -> dict:
    """Classes covered by predicted labels and KL(label histogram || uniform) in nats."""
    num_classes = _as_positive_int(num_classes, "num_classes")
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) == 0:
        raise UsageError(f"labels must be a non-empty 1-D array, got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise UsageError(f"labels must be integers, got dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise UsageError(
            f"labels must lie in 0..{num_classes - 1}, found {labels.min()}..{labels.max()}; "
            "check num_classes"
        )
    counts = np.bincount(labels, minlength=num_classes)
    return {"classes_covered": int((counts > 0).sum()), "kl_uniform": kl_from_uniform(counts)}


# --- NDB ------------------------------------------------------------------------------------


def _bin_counts(real: np.ndarray, fake: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, ...]:
    """Per-bin counts of real and fake samples, bins by k-means fitted on the real ones."""
    # Imported here: sklearn.cluster takes a second or more to import and few runs need NDB.
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    # One thread: the bins are then bit-identical on every machine whatever its thread count,
    # and on busy shared cores OpenMP threads made k-means many times slower, not faster.
    with threadpool_limits(limits=1):
        model = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(real)
        fake_labels = model.predict(fake)
    return np.bincount(model.labels_, minlength=k), np.bincount(fake_labels, minlength=k)


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence in nats (at most ln 2) of two probability vectors."""
    m = (p + q) / 2.0

    def kl(a: np.ndarray) -> float:
        nonzero = a > 0
        return float((a[nonzero] * np.log(a[nonzero] / m[nonzero])).sum())

    return 0.5 * kl(p) + 0.5 * kl(q)


def ndb(
    real: np.ndarray, fake: np.ndarray, k: int = 100, alpha: float = 0.05, seed: int = 0
) -> dict:
    """Number of statistically different bins (Richardson and Weiss 2018).

    K-means with k bins is fitted on the real samples; every fake sample goes to its nearest
    centre. Per bin, a two-sided two-proportion z-test with pooled proportion at level alpha.
    Returns the count and share of significantly different bins and the JS divergence (nats)
    of the two bin histograms.
    """
    real, fake = _as_pair(real, fake)
    k = _as_positive_int(k, "k")
    if len(real) < k:
        raise UsageError(f"NDB with k = {k} bins needs at least {k} real samples, got {len(real)}")
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"alpha must lie strictly between 0 and 1, got {alpha}")
    real_counts, fake_counts = _bin_counts(real, fake, k, seed)
    n_real, n_fake = len(real), len(fake)
    p_real, p_fake = real_counts / n_real, fake_counts / n_fake
    pooled = (real_counts + fake_counts) / (n_real + n_fake)
    se = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n_real + 1.0 / n_fake))
    # A bin that both sets leave empty has se = 0 and no difference to detect.
    z = np.divide(p_real - p_fake, se, out=np.zeros(k), where=se > 0)
    different = int((np.abs(z) > NormalDist().inv_cdf(1.0 - alpha / 2.0)).sum())
    return {
        "ndb": different,
        "ndb_share": different / k,
        "js": js_divergence(p_real, p_fake),
        "k": k,
    }
