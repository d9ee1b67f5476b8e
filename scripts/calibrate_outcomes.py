"""Calibrate the convergence suite's outcome thresholds against real-versus-real draws.

A generator equal to the real distribution is the healthiest run there is: a threshold it
misses says nothing about a GAN. This script draws such a generator many times at each
sample count the profiles evaluate on and prints the quantiles suites/convergence.py uses,
as the Python lines to paste there (REAL_POINTS, REAL_DIGITS):

- 2-D data (ring8, grid25): the real samples' high_quality_share (1st percentile), the KL of
  their mode histogram from uniform (99th percentile; PacGAN's reverse KL) and fid_raw of
  real against real (99th percentile).
- digits: fid_digits of samples drawn from the data against the evaluation's reference sample
  (99th percentile), of uniform pixel noise against it (median) and of every digit under
  N(0, 0.5) pixel noise (median: the evidence of a trained generator that `collapsed`
  needs), at the resolutions the families' convergence data evaluates on (28: the MLP GAN,
  32: DCGAN and the progressive GAN) and at the counts they evaluate on (min(N, 1,797)). One
  more anchor for a sense of scale: only five of the ten classes (median).

    python scripts/calibrate_outcomes.py                # about a minute on one core
    python scripts/calibrate_outcomes.py --draws 200 --image-draws 10   # a quick look

numpy and scikit-learn only (the digits classifier trains once, or comes from its cache).
"""

from __future__ import annotations

import argparse
import datetime

import numpy as np

from bench.data import POINT_DATASETS, load_digits_images, load_digits_labels, sample_mixture
from bench.features import digits_classifier, raw_features
from bench.metrics import fid_from_features, mode_stats_2d
from bench.registry import family_config, models
from suites.convergence import CALIBRATED_COUNTS, DIGITS_COUNTS
from suites.quality_engine import reference_sample


def point_quantiles(dataset: str, n: int, draws: int, rng: np.random.Generator
                    ) -> tuple[float, float, float]:
    """(1st percentile of high_quality_share, 99th of the mode KL, 99th of fid_raw)."""
    share, kl, fid = np.empty(draws), np.empty(draws), np.empty(draws)
    for i in range(draws):
        real, fake = (sample_mixture(dataset, n, rng) for _ in range(2))
        stats = mode_stats_2d(fake, dataset)
        share[i], kl[i] = stats["high_quality_share"], stats["kl_uniform"]
        fid[i] = fid_from_features(raw_features(real), raw_features(fake))
    return (float(np.quantile(share, 0.01)), float(np.quantile(kl, 0.99)),
            float(np.quantile(fid, 0.99)))


def five_classes(images: np.ndarray) -> np.ndarray:
    return images[load_digits_labels() < 5]


def digits_quantiles(resolution: int, n: int, draws: int, rng: np.random.Generator
                     ) -> dict[str, float]:
    """fid_digits against the evaluation's reference sample: data (99th percentile), uniform
    noise (median), and the two anchors (medians)."""
    classifier = digits_classifier(resolution, seed=0)
    data = load_digits_images(resolution)
    fids: dict[str, list[float]] = {"real": [], "noise": [], "noisy": [], "five": []}
    for seed in range(draws):
        real = reference_sample(data, n, seed)
        size = len(real)  # the evaluator draws as many fakes as it has references
        fakes = {"real": data[rng.choice(len(data), size)],
                 "noise": rng.uniform(-1, 1, real.shape).astype(np.float32),
                 "noisy": np.clip(data[rng.choice(len(data), size)]
                                  + 0.5 * rng.standard_normal(real.shape), -1, 1),
                 "five": five_classes(data)[rng.choice(int((load_digits_labels() < 5).sum()),
                                                       size)]}
        reference = classifier.features(real)
        for name, fake in fakes.items():
            fids[name].append(fid_from_features(reference, classifier.features(fake)))
    return {"real_q99": float(np.quantile(fids["real"], 0.99)),
            **{f"{name}_median": float(np.median(fids[name]))
               for name in ("noise", "noisy", "five")}}


def image_resolutions() -> list[int]:
    """The resolutions the families' convergence image runs evaluate at (their classifier's)."""
    return sorted({family.for_profile(profile, dataset=dataset).data_spec().resolution
                   for family in map(family_config, models())
                   for profile, datasets in family.convergence_data.items()
                   for dataset in datasets if dataset not in POINT_DATASETS})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000, help="draws per 2-D sample count")
    parser.add_argument("--image-draws", type=int, default=50,
                        help="draws per image resolution and sample count")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"# scripts/calibrate_outcomes.py, {datetime.date.today()}: {args.draws} draws per "
          f"2-D count, {args.image_draws} per image count, seed {args.seed}")
    print("# (dataset, N): (high_quality_share q01, mode KL q99, fid_raw real-vs-real q99)")
    print("REAL_POINTS = {")
    for dataset in POINT_DATASETS:
        for n in CALIBRATED_COUNTS:
            q = point_quantiles(dataset, n, args.draws, rng)
            print(f'    ("{dataset}", {n}): ({q[0]:.4f}, {q[1]:.4f}, {q[2]:.4f}),')
    print("}")
    print("# (resolution, N evaluated): (fid_digits real q99, uniform noise median, N(0, 0.5)")
    print("# pixel noise median)  # anchor: five classes (median)")
    print("REAL_DIGITS = {")
    for resolution in image_resolutions():
        for n in DIGITS_COUNTS:
            q = digits_quantiles(resolution, n, args.image_draws, rng)
            print(f"    ({resolution}, {n}): ({q['real_q99']:.2f}, {q['noise_median']:.0f}, "
                  f"{q['noisy_median']:.1f}),  # {q['five_median']:.1f}")
    print("}")


if __name__ == "__main__":
    main()
