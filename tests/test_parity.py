"""Cross-framework parity of every registered family (bench.parity), and `gan-bench parity`.

The parametrised test asserts every check bench.parity makes; the family sections below assert
what a family states beyond those checks, on the same probe archives (bench.parity.probe), so
each family's probes run once. This process imports neither framework.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from bench import parity, registry
from conftest import invoke, run_cli, run_python
from implementations.spec.dcgan import DCGANConfig
from implementations.spec.pacgan import PacGANConfig
from implementations.spec.style_transfer import StyleTransferConfig

# Real workers, training or parity probes in fresh processes: deselect with -m "not slow".
pytestmark = pytest.mark.slow

FRAMEWORKS = ("torch", "tf")
TRAJECTORY_STEPS = 50
#: DCGAN's first steps agree far closer than its 50-step bound (see test_dcgan_trajectory).
EARLY_STEPS, EARLY_TOL = 5, 1e-4


def trajectory_steps(model: str) -> int:
    """Check 4 runs for every family that states a bound on it."""
    return TRAJECTORY_STEPS if registry.family_config(model).trajectory_tolerance else 0


@pytest.fixture(scope="module")
def probed(tmp_path_factory):
    """model -> label -> VariantRun, probed once per model for this module's tests."""
    runs: dict[str, dict[str, parity.VariantRun]] = {}

    def runs_of(model: str) -> dict[str, parity.VariantRun]:
        if model not in runs:
            runs[model] = parity.probe_variants(model, FRAMEWORKS, tmp_path_factory.mktemp(model),
                                                trajectory=trajectory_steps(model))
        return runs[model]

    return runs_of


def section(archive: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix):]: v for k, v in archive.items() if k.startswith(prefix)}


def parity_labels(model: str) -> list[str]:
    return list(registry.family_config(model).for_profile("quick").parity_configs())


CASES = [(model, label) for model in registry.models() for label in parity_labels(model)]


@pytest.mark.parametrize("model, label", CASES)
def test_every_parity_check_within_its_tolerance(model, label, probed):
    if not set(FRAMEWORKS) <= {e.framework for e in registry.adapters() if e.model == model}:
        pytest.skip(f"{model} is not implemented in both {' and '.join(FRAMEWORKS)}")
    tolerance = registry.family_config(model).trajectory_tolerance
    checks = parity.compare_variant(model, label, probed(model)[label], trajectory_steps(model),
                                    tolerance)
    failed = [c for c in checks if not c.ok]
    assert not failed, "\n".join(f"{c.check}: {c.worst:.2e} > {c.tolerance:.0e} ({c.where})"
                                 for c in failed)
    expected = {"1 round trip (bit-exact)", "2 forward", "2 samples (eval mode)",
                "3 one step: weights", "3 one step: losses"}
    if tolerance:
        expected.add(f"4 trajectory {TRAJECTORY_STEPS} steps: |dloss|")
    assert expected <= {c.check for c in checks}


@pytest.mark.parametrize("model, label", CASES)
def test_both_sides_hold_the_specs_weights_and_the_step_moves_them(model, label, probed):
    config = registry.family_config(model).for_profile("quick").parity_configs()[label]
    run = probed(model)[label]
    for archive in (run.ref, run.other):
        assert set(section(archive, "w0/")) == set(config.weight_shapes())
        w0, w1 = section(archive, "w0/"), section(archive, "w1/")
        assert any(not np.array_equal(w0[k], w1[k]) for k in config.trainable_names())


# --- DCGAN ---


def test_dcgan_forward_outputs(probed):
    run = probed("dcgan")["w8"]
    assert set(section(run.ref, "fwd/")) == set(section(run.other, "fwd/")) == {
        "G(z)", "D(x)", "D(G(z))"}


def test_dcgan_running_variances_differ_by_bessels_correction_only(probed):
    """PyTorch folds the unbiased batch variance into the running variance, Keras the biased
    one (docs/models.md#parity-pitfalls). From the same start, per element torch - tf is then
    the sum of the batch-variance terms over n - 1, n the B*H*W values per channel, so
    0 <= torch - tf <= torch / (n - 1), up to float32 rounding.
    """
    config = DCGANConfig.for_profile("quick").parity_configs()["w8"]
    run = probed("dcgan")["w8"]
    ref, other = section(run.ref, "w1/"), section(run.other, "w1/")
    for net, layers in (("G", config.g_layers()), ("D", config.d_layers())):
        for layer in (row for row in layers if row.batch_norm):
            name = f"{net}.bn{layer.index}.running_var"
            torch_var, tf_var = ref[name].astype(np.float64), other[name].astype(np.float64)
            n = config.batch_size * layer.size_out**2
            gap = torch_var - tf_var
            assert (gap >= -1e-6 * torch_var).all(), name
            assert (gap <= torch_var / (n - 1) + 1e-6 * torch_var).all(), name


def test_dcgan_trajectory_agrees_closely_in_its_first_steps(probed):
    """The loss curves of 50 steps on the same batches and noise.

    Step 1 agrees to ~1e-7 (float32 reassociation: different conv algorithms and reduction
    orders). GAN training amplifies such differences (Adam's first updates are ~lr * sign(grad),
    so a near-zero gradient that flips sign moves a weight by 2 lr; ReLU and BatchNorm pass the
    change on): measured, |d loss| grows from 1e-7 to 1e-4 by step ~10 and reaches 1.1e-2 (D)
    and 1.9e-2 (G) by step 50. PyTorch against itself with every weight moved by one float32
    ulp drifts just as far (up to 0.037 over 6 seeds), so the cross-framework drift is the
    float32 sensitivity of the dynamics, not a mismatch. Bounds: the first EARLY_STEPS within
    EARLY_TOL (~70x the measured 1.4e-6), catching anything that breaks over steps (optimiser
    state, step counts, running statistics); all steps within
    DCGANConfig.trajectory_tolerance (the parametrised test), ~3x the worst ulp drift and well
    below the losses (0.5 to 1.4).
    """
    run = probed("dcgan")["w8"]
    for name in ("loss_d", "loss_g"):
        ref, other = run.ref[f"traj/{name}"], run.other[f"traj/{name}"]
        assert len(ref) == len(other) == TRAJECTORY_STEPS
        assert np.abs(other - ref)[:EARLY_STEPS].max() <= EARLY_TOL, name


# --- PacGAN ---


@pytest.mark.parametrize("label", parity_labels("pacgan"))
def test_pacgan_forward_compares_every_packed_group(label, probed):
    """Both sides give the packed fake (every group's G output, 2m wide) and D on packed
    inputs, so check 2 compares the packing itself, not only the first group."""
    config = PacGANConfig.for_profile("quick").parity_configs()[label]
    run = probed("pacgan")[label]
    for archive in (run.ref, run.other):
        forward = section(archive, "fwd/")
        assert set(forward) == {"G(z)", "packed G(z)", "D(x)", "D(G(z))"}
        assert forward["packed G(z)"].shape == (config.batch_size, 2 * config.packing)
        assert forward["D(x)"].shape == (config.batch_size, 1)


# --- progressive GAN ---


@pytest.mark.parametrize("label", parity_labels("progan"))
def test_progan_forward_names_and_wgan_gp_losses(label, probed):
    run = probed("progan")[label]
    for archive in (run.ref, run.other):
        assert set(section(archive, "fwd/")) == {"G(z)", "D(x)", "D(G(z))"}
        assert {"loss_d", "loss_g", "gradient_penalty"} <= set(section(archive, "loss/"))


@pytest.mark.parametrize("label", parity_labels("progan"))
def test_progan_step_moves_the_critics_output_layer_in_every_phase(label, probed):
    run = probed("progan")[label]
    name = "D.blocks.4x4.out.weight"
    for archive in (run.ref, run.other):
        assert not np.array_equal(archive[f"w1/{name}"], archive[f"w0/{name}"])


# --- style transfer ---


def test_style_transfer_agrees_from_a_noise_image(tmp_path):
    """Parity's start is the content image, whose content term and its gradient are exactly 0;
    from a noise image all three terms (and their gradients) are compared."""
    config = StyleTransferConfig.for_profile("quick")
    image = np.random.default_rng(1).random((1, 3, config.size, config.size)).astype(np.float32)
    start = tmp_path / "start"
    start.mkdir()
    np.savez(start / "default.npz", **{**config.initial_weights(), "image": image})
    run = parity.probe_variants("style_transfer", FRAMEWORKS, tmp_path, start_dir=start)["default"]
    forward = section(run.ref, "fwd/")
    assert min(float(forward[name]) for name in ("loss_content", "loss_style", "loss_tv")) > 0
    checks = parity.compare_variant("style_transfer", "default", run, 0, 0.0)
    assert all(check.ok for check in checks), [c for c in checks if not c.ok]
    for archive in (run.ref, run.other):
        assert np.abs(archive["w1/image"] - image).max() > 1e-3  # the step moved the image


def test_style_transfer_trajectory_moves_off_the_content_image(probed):
    """From the content image (content term 0) the trajectory's content term grows, so
    check 4 compares all three terms."""
    run = probed("style_transfer")["default"]
    for archive in (run.ref, run.other):
        assert archive["loss/loss_content"] == 0.0
        assert archive["traj/loss_content"][-1] > 0


# --- the command line ---


def worst_errors(output: str) -> dict[tuple[str, str], float]:
    rows = [re.split(r"\s{2,}", line) for line in output.splitlines()
            if line.startswith("mlp_gan ")]
    return {(variant, check): float(worst) for _, variant, check, worst, *_ in rows}


def test_mlp_gan_parity_checks_1_to_4():
    done = run_cli("parity", "--models", "mlp_gan", "--frameworks", "torch,tf",
                   "--trajectory", "50")
    assert done.returncode == 0, done.stdout + done.stderr
    errors = worst_errors(done.stdout)
    for variant in ("points", "images"):
        assert errors[(variant, "1 round trip (bit-exact)")] == 0.0
        assert errors[(variant, "2 forward")] <= 1e-5
        assert errors[(variant, "2 samples (eval mode)")] <= 1e-5
        assert errors[(variant, "3 one step: weights")] <= 1e-4
        assert errors[(variant, "3 one step: losses")] <= 1e-4
        assert errors[(variant, "4 trajectory 50 steps: |dloss|")] <= 1e-3
    assert "parity: 12 of 12 checks passed" in done.stdout


def test_parity_needs_two_frameworks():
    done = invoke("parity", "--models", "mlp_gan", "--frameworks", "torch")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "parity compares a reference with other frameworks" in done.stderr


def test_a_device_the_machine_lacks_is_bad_input():
    """torch's cuda path against its CPU path: on a machine without a GPU, exit 2 naming it."""
    if run_python("import torch; print(torch.cuda.is_available())").stdout.strip() == "True":
        pytest.skip("this machine has a cuda device")
    done = run_cli("parity", "--models", "mlp_gan", "--frameworks", "torch,torch",
                   "--devices", "cpu,cuda")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip() == ("gan-bench: error: torch finds no cuda device on this machine; "
                                   "check parity on a device it has (--devices)")
