"""JAX against the reference (torch): every family passes bench.parity's checks, through
`gan-bench parity --frameworks torch,jax` as a user runs it; what a family states beyond those
checks is asserted on the probe archives (bench.parity.probe), as tests/test_parity.py does
for TensorFlow. Each side runs in its own fresh process: this one imports no framework.
"""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from bench import parity, registry
from implementations.spec.dcgan import DCGANConfig
from implementations.spec.style_transfer import StyleTransferConfig

FRAMEWORKS = ("torch", "jax")
TRAJECTORY_STEPS = 50


def run_parity_command(*args: str) -> subprocess.CompletedProcess:
    """`gan-bench parity ARGS` in a fresh process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "bench.cli", "parity", *args],
                          capture_output=True, text=True, timeout=1800)


def section(archive: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix):]: v for k, v in archive.items() if k.startswith(prefix)}


def checks_printed(output: str, model: str) -> dict[tuple[str, str], tuple[float, str]]:
    """(variant, check) -> (worst error, result) from the command's table."""
    rows = [re.split(r"\s{2,}", line) for line in output.splitlines()
            if line.startswith(f"{model} ")]
    return {(variant, check): (float(worst), result)
            for _, variant, check, worst, _, result, *_ in rows}


@pytest.mark.slow
@pytest.mark.parametrize("model", registry.models())
def test_the_command_passes_checks_1_to_4_for_every_family(model):
    config = registry.family_config(model)
    steps = TRAJECTORY_STEPS if config.trajectory_tolerance else 0
    done = run_parity_command("--models", model, "--frameworks", ",".join(FRAMEWORKS),
                              *(["--trajectory", str(steps)] if steps else []))
    assert done.returncode == 0, done.stdout + done.stderr
    printed = checks_printed(done.stdout, model)
    labels = config.for_profile("quick").parity_configs()
    expected = {"1 round trip (bit-exact)", "2 forward", "2 samples (eval mode)",
                "3 one step: weights", "3 one step: losses"}
    if steps:
        expected.add(f"4 trajectory {steps} steps: |dloss|")
    for label in labels:
        assert expected <= {check for variant, check in printed if variant == label}, label
    assert all(result == "ok" for _, result in printed.values())
    assert all(worst == 0.0 for (_, check), (worst, _) in printed.items()
               if check.startswith("1 "))


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
