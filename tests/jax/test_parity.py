"""JAX against the reference (torch): what a family states beyond bench.parity's checks (those
run for every family in bench/testing/test_parity.py), asserted on the probe archives
(bench.parity.probe), as tests/test_parity.py does for TensorFlow. Each side runs in its own
fresh process: this one imports no framework.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench import parity
from implementations.spec.dcgan import DCGANConfig
from implementations.spec.style_transfer import StyleTransferConfig

FRAMEWORKS = ("torch", "jax")
pytestmark = pytest.mark.slow  # each test runs parity probes in two fresh processes


def section(archive: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix):]: v for k, v in archive.items() if k.startswith(prefix)}


def test_dcgan_running_variances_differ_by_bessels_correction_only(tmp_path):
    """PyTorch folds the unbiased batch variance into the running variance, NNX the biased
    one. From the same start, per element torch - jax is then the sum of the batch-variance
    terms over n - 1, n the B*H*W values per channel: 0 <= torch - jax <= torch / (n - 1),
    up to float32 rounding."""
    config = DCGANConfig.for_profile("quick").parity_configs()["w8"]
    run = parity.probe_variants("dcgan", FRAMEWORKS, tmp_path)["w8"]
    ref, other = section(run.ref, "w1/"), section(run.other, "w1/")
    for net, layers in (("G", config.g_layers()), ("D", config.d_layers())):
        for layer in (row for row in layers if row.batch_norm):
            name = f"{net}.bn{layer.index}.running_var"
            torch_var, jax_var = ref[name].astype(np.float64), other[name].astype(np.float64)
            n = config.batch_size * layer.size_out**2
            gap = torch_var - jax_var
            assert (gap >= -1e-6 * torch_var).all(), name
            assert (gap <= torch_var / (n - 1) + 1e-6 * torch_var).all(), name
            assert gap.max() > 0, name  # the correction shows: the variances are not copied


def test_style_transfer_agrees_from_a_noise_image(tmp_path):
    """Parity's start is the content image, whose content term and its gradient are exactly 0;
    from a noise image all three terms (and their gradients) are compared."""
    config = StyleTransferConfig.for_profile("quick")
    image = np.random.default_rng(1).random((1, 3, config.size, config.size)).astype(np.float32)
    start = tmp_path / "start"
    start.mkdir()
    np.savez(start / "default.npz", **{**config.initial_weights(), "image": image})
    run = parity.probe_variants("style_transfer", FRAMEWORKS, tmp_path,
                                start_dir=start)["default"]
    forward = section(run.ref, "fwd/")
    assert min(float(forward[name]) for name in ("loss_content", "loss_style", "loss_tv")) > 0
    checks = parity.compare_variant("style_transfer", "default", run, 0, 0.0)
    assert all(check.ok for check in checks), [c for c in checks if not c.ok]
    for archive in (run.ref, run.other):
        assert np.abs(archive["w1/image"] - image).max() > 1e-3  # the step moved the image
