"""Progressive GAN in PyTorch: building blocks, growth, schedule and FLOPs.

Mirror of tests/tf/test_progan.py; what every adapter does alike is tests/progan_shared.py,
imported here; cross-framework parity is in tests/test_parity.py,
the adapter contract in bench/testing/test_contract.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from progan_shared import *  # noqa: F403  (the shared tests)
from progan_shared import digits, staged, tiny
from torch.utils.flop_counter import FlopCounterMode

from bench import layouts
from bench.errors import UsageError
from implementations.spec.progan import ProGANConfig
from implementations.torch import progan

FRAMEWORK = "torch"


def numpy_minibatch_stddev(x: np.ndarray, group: int = 4) -> np.ndarray:
    """NCHW reference: sample n is in group n % M; biased variance, +1e-8 under the root."""
    b = x.shape[0]
    y = x.astype(np.float64).reshape(group, b // group, *x.shape[1:])
    std = np.sqrt(y.var(axis=0) + 1e-8).mean(axis=(1, 2, 3))
    extra = np.broadcast_to(std[np.arange(b) % (b // group), None, None, None],
                            (b, 1, *x.shape[2:]))
    return np.concatenate([x, extra], axis=1)


# --- building blocks ---

def test_pixel_norm_gives_unit_mean_square_over_channels():
    x = torch.randn(3, 5, 4, 4) * 7
    y = progan.pixel_norm(x)
    expected = x / torch.sqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)
    torch.testing.assert_close(y, expected)
    torch.testing.assert_close(y.square().mean(dim=1), torch.ones(3, 4, 4))


def test_minibatch_stddev_matches_numpy_formula():
    x = torch.randn(8, 3, 4, 4)
    y = progan.minibatch_stddev(x)
    assert y.shape == (8, 4, 4, 4)
    np.testing.assert_allclose(y.numpy(), numpy_minibatch_stddev(x.numpy()), rtol=1e-6)
    assert not torch.equal(y[0, 3], y[1, 3])  # two groups (n % 2), two different values


def test_equalised_layers_scale_stored_weights_by_gain_over_sqrt_fan_in():
    conv = progan.EqConv(6, 5, 3)
    x = torch.randn(2, 6, 8, 8)
    expected = torch.nn.functional.conv2d(x, conv.weight * (math.sqrt(2) / math.sqrt(54)),
                                          padding=1)
    torch.testing.assert_close(conv(x), expected, rtol=0, atol=0)
    assert torch.count_nonzero(conv.bias) == 0
    big = progan.EqDense(1000, 500)
    assert abs(big.weight.std().item() - 1) < 0.01  # stored N(0, 1)


def test_gains_follow_the_spec():
    adapter = progan.ProGANAdapter(tiny())
    c, latent = 4, 8
    g, d = adapter.G, adapter.D
    assert g.blocks["4x4"].dense.scale == pytest.approx(math.sqrt(2) / 4 / math.sqrt(latent))
    assert g.blocks["8x8"].conv1.scale == pytest.approx(math.sqrt(2) / math.sqrt(9 * c))
    assert g.to_rgb["16x16"].scale == pytest.approx(1 / math.sqrt(c))
    assert d.from_rgb["32x32"].scale == pytest.approx(math.sqrt(2))
    assert d.blocks["4x4"].conv.scale == pytest.approx(math.sqrt(2) / math.sqrt(9 * (c + 1)))
    assert d.blocks["4x4"].dense.scale == pytest.approx(math.sqrt(2) / math.sqrt(16 * c))
    assert d.blocks["4x4"].out.scale == pytest.approx(1 / math.sqrt(c))


def test_gradient_penalty_of_a_linear_critic():
    w = torch.randn(1, 1, 4, 4)

    def critic(x, alpha, *, resolution, fading):
        return (x * w).sum(dim=(1, 2, 3))

    penalty = progan.gradient_penalty(critic, torch.randn(3, 1, 4, 4), torch.tensor(1.0), 4,
                                      False)
    torch.testing.assert_close(penalty, (w.norm() - 1).square())


def test_real_images_are_downscaled_and_cross_faded():
    real = torch.randn(4, 1, 32, 32)
    x8 = real.reshape(4, 1, 8, 4, 8, 4).mean(dim=(3, 5))
    x4 = x8.reshape(4, 1, 4, 2, 4, 2).mean(dim=(3, 5))
    expected = 0.75 * x4.repeat_interleave(2, 2).repeat_interleave(2, 3) + 0.25 * x8
    out = progan.real_at_phase(real, torch.tensor(0.25), resolution=8, fading=True)
    torch.testing.assert_close(out, expected)


def test_fade_at_alpha_zero_computes_the_previous_network():
    adapter = progan.ProGANAdapter(tiny())
    z, x = torch.randn(4, 8), torch.randn(4, 1, 16, 16)
    zero, one = torch.tensor(0.0), torch.tensor(1.0)
    with torch.no_grad():
        grown = adapter.G(z, zero, resolution=16, fading=True)
        before = adapter.G(z, one, resolution=8, fading=False)
        torch.testing.assert_close(grown, progan.upsample(before), rtol=0, atol=0)
        d_grown = adapter.D(x, zero, resolution=16, fading=True)
        d_before = adapter.D(progan.downsample(x), one, resolution=8, fading=False)
    torch.testing.assert_close(d_grown, d_before, rtol=0, atol=0)


def test_growing_keeps_trained_weights():
    adapter = progan.ProGANAdapter(tiny(fade_images=4, stable_images=4))
    initial = adapter.get_weights()
    while adapter.progress.images < adapter.config.images_at(16, 0.0):
        adapter.train_step(staged(adapter))
    grown = adapter.get_weights()  # after the last step at 8x8: the next one grows to 16
    old = [k for k in grown if ("4x4" in k or "8x8" in k) and "rgb" not in k]
    new = [k for k in grown if "16x16" in k]
    assert all(not np.array_equal(grown[k], initial[k]) for k in old)
    assert all(np.array_equal(grown[k], initial[k]) for k in new)
    # The grown network at alpha 0 is the trained 8x8 network, upsampled.
    z = torch.randn(4, 8)
    with torch.no_grad():
        now = adapter.G(z, torch.tensor(0.0), resolution=16, fading=True)
        before = adapter.G(z, torch.tensor(1.0), resolution=8, fading=False)
    torch.testing.assert_close(now, progan.upsample(before), rtol=0, atol=0)
    adapter.train_step(staged(adapter))  # 16x16 at alpha 0: trains the old blocks on
    after = adapter.get_weights()
    assert all(not np.array_equal(after[k], grown[k]) for k in old)
    assert all(np.array_equal(after[k], grown[k]) for k in new)  # alpha 0: zero gradient


def test_schedule_fades_then_stabilises_and_resets_the_optimisers():
    adapter = progan.ProGANAdapter(tiny(fade_images=8, stable_images=8))
    seen = []
    for _ in range(7):
        before, optimisers = adapter.progress.resolution, (adapter.opt_d, adapter.opt_g)
        adapter.train_step(staged(adapter))
        seen.append((adapter.progress.resolution, adapter.progress.alpha))  # trained at
        grew = adapter.progress.resolution != before
        assert all((new is not old) == grew
                   for new, old in zip((adapter.opt_d, adapter.opt_g), optimisers, strict=True))
    assert seen == [(4, 1.0), (4, 1.0), (8, 0.0), (8, 0.5), (8, 1.0), (8, 1.0), (16, 0.0)]
    # Between steps the tags name the phase the last step trained at.
    assert adapter.tags() == {"resolution": "16", "alpha": "0"}


def test_set_phase_moves_and_validates():
    adapter = progan.ProGANAdapter(tiny(grow=False))
    adapter.train_step(staged(adapter))
    adapter.set_phase(8, 0.25)
    assert adapter.tags() == {"resolution": "8", "alpha": "0.25"} and not adapter.opt_d.state
    adapter.train_step(staged(adapter))
    assert adapter.tags() == {"resolution": "8", "alpha": "0.25"}  # pinned: grow=False
    with pytest.raises(UsageError, match="phase resolution"):
        adapter.set_phase(64, 1.0)
    with pytest.raises(UsageError, match="no fade-in"):
        adapter.set_phase(4, 0.5)


def test_compiled_mode_is_refused_with_the_reason():
    with pytest.raises(UsageError, match="double backward"):
        progan.ProGANAdapter(tiny(), mode="compiled")


# --- FLOPs ---

class _TotalsOnly:
    """Stands in for FlopCounterMode's module tracker, whose hooks cannot follow
    autograd.grad to a leaf tensor (the penalty's x_hat); only totals are read here."""

    parents = {"Global"}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def counted_flops(adapter: progan.ProGANAdapter, inputs) -> int:
    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _TotalsOnly()
    with counter:
        adapter.train_step(inputs)
    return counter.get_total_flops()


def zero_second_derivative_flops(cfg: ProGANConfig) -> int:
    """What autograd adds to the needed count: LeakyReLU's double backward returns zeros for
    its input, which flow back through the forward D(x_hat) layers after the minibatch stddev
    (4x4 conv and dense: weights and inputs). Layers before it carry real second-order
    gradient anyway (the stddev's), so they add nothing."""
    b, c = cfg.batch_size, cfg.channels
    return 2 * (2 * b * 16 * (c + 1) * c * 9 + 2 * b * 16 * c * c)


@pytest.mark.parametrize("resolution,alpha", [(4, 1.0), (8, 0.5), (16, 1.0), (32, 0.0)])
def test_analytic_flops_match_the_flop_counter(resolution, alpha):
    cfg = tiny(grow=False, phase_resolution=resolution, alpha=alpha)
    adapter = progan.ProGANAdapter(cfg)
    counted = counted_flops(adapter, staged(adapter))
    assert counted == cfg.flops_per_step() + zero_second_derivative_flops(cfg)
    assert adapter.flops_per_step() == cfg.flops_per_step()


def test_counted_flops_follow_the_current_phase():
    adapter = progan.ProGANAdapter(tiny(grow=False))
    adapter.set_phase(8, 0.5)
    adapter.set_phase(8, 1.0)
    assert counted_flops(adapter, staged(adapter)) == (
        adapter.flops_per_step() + zero_second_derivative_flops(adapter.config))


def test_channels_first_inside_channels_last_outside():
    adapter = progan.ProGANAdapter(tiny(grow=False, phase_resolution=16))
    out = adapter.forward(staged(adapter))
    assert out["G(z)"].shape == (4, 16, 16, 1)
    real = staged(adapter)[0]
    np.testing.assert_array_equal(layouts.nchw_to_nhwc(real.numpy()),
                                  digits()[4:8])
