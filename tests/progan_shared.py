"""What every progressive GAN adapter must do alike, through the adapter interface alone: the
schedule evaluated at each phase's end, the WGAN-GP losses, samples at the target size and
FLOPs that follow the phase.

tests/<framework>/test_progan.py imports these tests and helpers and sets FRAMEWORK: each
framework runs them in its own pytest process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pytest
from family_adapters import family_adapter

from bench.adapter import Adapter
from bench.data import noise
from bench.training import Budget, train
from implementations.spec.progan import ProGANConfig
from suites import growth

TINY = {"channels": 4, "latent": 8, "batch_size": 4}


def tiny(**changes) -> ProGANConfig:
    return ProGANConfig(**{**TINY, **changes})


@functools.cache
def digits() -> np.ndarray:
    return tiny().load_data()


def staged(adapter: Adapter, seed: int = 1):
    """Batch `seed` of the digits and its noise, staged for the adapter."""
    cfg = adapter.config
    batch = digits()[seed * cfg.batch_size:(seed + 1) * cfg.batch_size]
    return adapter.stage(batch, noise(cfg.noise_shapes(), seed))


@pytest.fixture
def build_progan(request: pytest.FixtureRequest) -> Callable[..., Adapter]:
    return family_adapter("progan", request.module.FRAMEWORK)


@pytest.mark.slow  # trains through all seven phases: a compile or a first dispatch in each
def test_a_growing_run_is_evaluated_at_each_phase_end_at_that_phase(build_progan):
    cfg = tiny(fade_images=8, stable_images=8)
    seen = {}

    def evaluate(adapter):
        seen[len(seen)] = adapter.tags()
        return []

    kept = growth.PhaseSamples(evaluate, n=2, seed=0)
    train(build_progan(cfg), digits(), Budget(20, 5, cfg.phase_end_steps()), kept, 0)
    steps = Budget(20, 5, cfg.phase_end_steps()).eval_steps()
    assert steps == [2, 4, 5, 6, 8, 10, 12, 14, 15, 20]
    tags = {step: (t["resolution"], t["alpha"]) for step, t in zip(steps, seen.values(),
                                                                    strict=True)}
    # Each phase's last step, tagged with that phase (a fade's last alpha is 1 - 4/8).
    assert [tags[s] for s in cfg.phase_end_steps()] == [
        ("4", "1"), ("8", "0.5"), ("8", "1"), ("16", "0.5"), ("16", "1"), ("32", "0.5"),
        ("32", "1")]
    assert sorted(kept.samples, key=int) == ["4", "8", "16", "32"]
    four = kept.samples["4"]  # 4x4 samples at the target size: blocks of 8x8 equal pixels
    np.testing.assert_array_equal(four, four[:, ::8, ::8].repeat(8, 1).repeat(8, 2))
    assert len(np.unique(kept.samples["32"][0])) > 16


def test_step_losses_are_the_wgan_gp_losses(build_progan):
    adapter = build_progan(tiny(grow=False, phase_resolution=8, alpha=0.5))
    inputs = staged(adapter)
    out = adapter.forward(inputs)
    adapter.train_step(inputs)
    losses = adapter.losses()
    d_real, d_fake = out["D(x)"].astype(np.float64), out["D(G(z))"].astype(np.float64)
    expected = (d_fake.mean() - d_real.mean() + 10 * losses["gradient_penalty"]
                + 0.001 * np.mean(d_real**2))
    assert losses["loss_d"] == pytest.approx(expected, rel=1e-5)
    assert losses["gradient_penalty"] > 0


def test_samples_are_upsampled_to_the_target_and_clipped(build_progan):
    adapter = build_progan(tiny(grow=False, phase_resolution=8))
    samples = adapter.sample(3, seed=0)
    assert samples.shape == (3, 32, 32, 1)
    assert samples.min() >= -1 and samples.max() <= 1
    np.testing.assert_array_equal(samples[:, ::4, ::4], samples[:, 3::4, 3::4])
    np.testing.assert_array_equal(samples, adapter.sample(3, seed=0))


def test_flops_follow_the_current_phase(build_progan):
    adapter = build_progan(tiny(grow=False))
    at_4 = adapter.flops_per_step()
    adapter.set_phase(8, 0.5)
    fading = adapter.flops_per_step()
    adapter.set_phase(8, 1.0)
    assert at_4 < adapter.flops_per_step() < fading
    assert adapter.flops_per_step() == tiny(phase_resolution=8).flops_per_step()
