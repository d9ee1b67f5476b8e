"""DCGAN: the framework-neutral spec, and parity of the two implementations (MODELS.md 1-4).

This process imports neither framework. For the parity checks each framework runs this file
as a script in its own subprocess (`python tests/test_dcgan_cross.py probe torch ...`), and
weights and outputs pass through .npz files, as `gan-bench parity` does.
"""

from __future__ import annotations

import gzip
import importlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.data import batches, noise
from bench.errors import UsageError
from bench.parity import relative_error
from implementations.spec.dcgan import DCGANConfig

ROOT = Path(__file__).resolve().parents[1]
CONFIG = DCGANConfig().parity_configs()["w8"]
SEED = 0
TRAJECTORY_STEPS = 50
FORWARD_TOL = 1e-5
STEP_TOL = 1e-4
EARLY_STEPS = 5
EARLY_TOL = 1e-4


def step_inputs(config: DCGANConfig, steps: int, seed: int) -> list[tuple[np.ndarray, dict]]:
    """The same batches and noise for both frameworks, from numpy."""
    stream = batches(config.load_data(seed), config.examples_per_step(), seed)
    return [(next(stream), noise(config.noise_shapes(), seed + t)) for t in range(steps)]


# --- run as a script, inside one framework's process ---

def build(framework: str):
    adapter_cls = importlib.import_module(f"implementations.{framework}.dcgan").DCGANAdapter
    adapter_cls.configure(1)
    return adapter_cls(CONFIG, seed=SEED)


def probe(framework: str, weights_in: str, sample_weights_in: str, out: str) -> None:
    """Forward, one step and a trajectory from the given weights (or this framework's init).

    Last, samples (eval mode, running statistics) from the given weights, or else from this
    run's own weights after step 1.
    """
    adapter = build(framework)
    if weights_in != "-":
        adapter.set_weights(dict(np.load(weights_in)))
    saved = {f"w0/{k}": v for k, v in adapter.get_weights().items()}
    (batch, noise_), *rest = step_inputs(CONFIG, TRAJECTORY_STEPS, SEED)
    staged = adapter.stage(batch, noise_)
    saved.update({f"fwd/{k}": v for k, v in adapter.forward(staged).items()})
    adapter.train_step(staged)
    curve = [adapter.losses()]
    after_step = adapter.get_weights()
    saved.update({f"w1/{k}": v for k, v in after_step.items()})
    for batch, noise_ in rest:
        adapter.train_step(adapter.stage(batch, noise_))
        curve.append(adapter.losses())
    saved.update({f"traj/{k}": np.array([c[k] for c in curve]) for k in curve[0]})
    adapter.set_weights(dict(np.load(sample_weights_in)) if sample_weights_in != "-"
                        else after_step)
    saved["sample"] = adapter.sample(CONFIG.batch_size, SEED)
    np.savez(out, **saved)


def reexport(framework: str, weights_in: str, out: str) -> None:
    adapter = build(framework)
    adapter.set_weights(dict(np.load(weights_in)))
    np.savez(out, **adapter.get_weights())


# --- the parity tests, in pytest's process ---

def run_script(*args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=600)
    assert done.returncode == 0, f"{args[:2]} failed:\n{done.stderr[-3000:]}"


def section(archive: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix):]: v for k, v in archive.items() if k.startswith(prefix)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, dict[str, np.ndarray]]:
    """torch from its own init; tf from torch's weights; torch again from tf's export."""
    tmp = tmp_path_factory.mktemp("dcgan_parity")
    run_script("probe", "torch", "-", "-", str(tmp / "torch.npz"))
    torch_run = dict(np.load(tmp / "torch.npz"))
    np.savez(tmp / "w0_torch.npz", **section(torch_run, "w0/"))
    np.savez(tmp / "w1_torch.npz", **section(torch_run, "w1/"))
    run_script("probe", "tf", str(tmp / "w0_torch.npz"), str(tmp / "w1_torch.npz"),
               str(tmp / "tf.npz"))
    tf_run = dict(np.load(tmp / "tf.npz"))
    np.savez(tmp / "w0_tf.npz", **section(tf_run, "w0/"))
    run_script("reexport", "torch", str(tmp / "w0_tf.npz"), str(tmp / "back.npz"))
    return {"torch": torch_run, "tf": tf_run, "back": dict(np.load(tmp / "back.npz"))}


def worst(ref: dict[str, np.ndarray], other: dict[str, np.ndarray]) -> tuple[float, str]:
    assert set(ref) == set(other)
    errors = {k: relative_error(other[k], ref[k]) for k in ref}
    name = max(errors, key=errors.get)
    return errors[name], name


def test_round_trip_is_bit_exact(runs) -> None:
    w0 = section(runs["torch"], "w0/")
    assert set(w0) == set(CONFIG.weight_shapes())
    for leg in (section(runs["tf"], "w0/"), runs["back"]):
        assert set(leg) == set(w0)
        changed = [k for k in w0 if not np.array_equal(w0[k], leg[k])]
        assert not changed, f"not bit-exact: {changed}"


def test_forward_agrees(runs) -> None:
    ref, other = section(runs["torch"], "fwd/"), section(runs["tf"], "fwd/")
    assert set(ref) == {"G(z)", "D(x)", "D(G(z))"}
    error, name = worst(ref, other)
    print(f"forward: worst relative error {error:.2e} in {name}")
    assert error <= FORWARD_TOL, name


def test_one_step_agrees(runs) -> None:
    """Every weight and both losses after one step; running variances in the next test."""
    ref, other = section(runs["torch"], "w1/"), section(runs["tf"], "w1/")
    ref = {k: v for k, v in ref.items() if not k.endswith("running_var")}
    error, name = worst(ref, {k: other[k] for k in ref})
    print(f"one step: worst relative error {error:.2e} in {name}")
    losses = {k: relative_error(runs["tf"][f"traj/{k}"][0], runs["torch"][f"traj/{k}"][0])
              for k in ("loss_d", "loss_g")}
    print(f"one step: losses {losses}")
    assert error <= STEP_TOL, name
    assert max(losses.values()) <= STEP_TOL, losses


def test_running_variances_differ_by_bessels_correction_only(runs) -> None:
    """PyTorch folds the unbiased batch variance into the running variance, Keras the biased
    one (MODELS.md pitfalls). From the same start, per element torch - tf is then the sum of
    the batch-variance terms over n - 1, n the B*H*W values per channel, so
    0 <= torch - tf <= torch / (n - 1), up to float32 rounding.
    """
    ref, other = section(runs["torch"], "w1/"), section(runs["tf"], "w1/")
    for net, layers in (("G", CONFIG.g_layers()), ("D", CONFIG.d_layers())):
        for layer in (row for row in layers if row.batch_norm):
            name = f"{net}.bn{layer.index}.running_var"
            torch_var, tf_var = ref[name].astype(np.float64), other[name].astype(np.float64)
            n = CONFIG.batch_size * layer.size_out**2
            gap = torch_var - tf_var
            print(f"{name}: relative error {relative_error(tf_var, torch_var):.2e}, "
                  f"bound 1/(n-1) = {1 / (n - 1):.2e}")
            assert (gap >= -1e-6 * torch_var).all(), name
            assert (gap <= torch_var / (n - 1) + 1e-6 * torch_var).all(), name


def test_samples_agree_on_the_same_running_statistics(runs) -> None:
    """Eval mode: both frameworks sample from torch's weights after one step."""
    error = relative_error(runs["tf"]["sample"], runs["torch"]["sample"])
    print(f"sample (eval mode): relative error {error:.2e}")
    assert error <= FORWARD_TOL


def test_trajectory_stays_within_bound(runs) -> None:
    """The loss curves of 50 steps on the same batches and noise.

    Step 1 agrees to ~1e-7 (float32 reassociation: different conv algorithms and reduction
    orders). GAN training amplifies such differences (Adam's first updates are ~lr * sign(grad),
    so a near-zero gradient that flips sign moves a weight by 2 lr; ReLU and BatchNorm pass the
    change on): measured here, |d loss| grows from 1e-7 to 1e-4 by step ~10 and reaches
    1.1e-2 (D) and 1.9e-2 (G) by step 50. PyTorch against itself with every weight moved by
    one float32 ulp drifts just as far (up to 0.037 over 6 seeds), so the cross-framework
    drift is the float32 sensitivity of the dynamics, not a mismatch. Bounds: the first
    EARLY_STEPS within EARLY_TOL (~70x the measured 1.4e-6), catching anything that breaks
    over steps (optimiser state, step counts, running statistics); all steps within
    DCGANConfig.trajectory_tolerance, ~3x the worst ulp drift and well below the losses
    (0.5 to 1.4).
    """
    for name in ("loss_d", "loss_g"):
        ref, other = runs["torch"][f"traj/{name}"], runs["tf"][f"traj/{name}"]
        assert len(ref) == len(other) == TRAJECTORY_STEPS
        diff = np.abs(other - ref)
        print(f"{name}: max |d| {diff[:EARLY_STEPS].max():.2e} in the first {EARLY_STEPS} "
              f"steps, {diff.max():.2e} in all {TRAJECTORY_STEPS}")
        assert diff[:EARLY_STEPS].max() <= EARLY_TOL, name
        assert diff.max() <= DCGANConfig.trajectory_tolerance, name


# --- the spec, framework-free ---

def test_profiles_set_the_width() -> None:
    assert DCGANConfig.for_profile("quick").width == 16
    assert DCGANConfig.for_profile("standard").width == 64
    assert DCGANConfig.for_profile("full").dataset == "mnist"


@pytest.mark.parametrize("change", [{"width": 0}, {"width": 2.5}, {"batch_size": 0},
                                    {"lr": 0.0}, {"lr": -1e-4}, {"latent": 0},
                                    {"d_steps": 0}, {"dataset": "cifar10"}])
def test_validation_rejects(change: dict) -> None:
    field = next(iter(change))
    with pytest.raises(UsageError, match=field):
        DCGANConfig().replace(**change)


def test_weight_shapes_and_param_count() -> None:
    shapes = DCGANConfig().weight_shapes()
    assert shapes["G.conv1.weight"] == (100, 256, 4, 4)  # ConvTranspose2d: (in, out, k, k)
    assert shapes["D.conv1.weight"] == (64, 1, 4, 4)  # Conv2d: (out, in, k, k)
    assert shapes["G.bn1.running_var"] == (256,) and "D.bn1.weight" not in shapes
    convs = 16 * (100 * 256 + 256 * 128 + 128 * 64 + 64) + 16 * (64 + 64 * 128 + 128 * 256 + 256)
    batch_norms = 2 * (256 + 128 + 64) + 2 * (128 + 256)
    assert DCGANConfig().param_count() == convs + batch_norms == 1_728_128


def test_d_steps_scale_examples_and_noise() -> None:
    config = DCGANConfig(batch_size=8, d_steps=3)
    assert config.examples_per_step() == 24
    assert config.noise_shapes() == {"z": (3, 8, 100)}
    assert config.flops_per_step() > DCGANConfig(batch_size=8).flops_per_step()


def test_digits_load_at_32() -> None:
    images = DCGANConfig().load_data()
    assert images.shape == (1797, 32, 32, 1) and images.dtype == np.float32
    assert images.min() >= -1 and images.max() <= 1


def test_mnist_is_padded_to_32(tmp_path: Path) -> None:
    pixels = np.full((3, 28, 28), 255, np.uint8)
    header = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in pixels.shape)
    with gzip.open(tmp_path / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(header + pixels.tobytes())
    images = DCGANConfig(dataset="mnist", data_dir=str(tmp_path)).load_data()
    assert images.shape == (3, 32, 32, 1)
    assert (images[:, 2:30, 2:30] == 1).all() and (images[:, :2] == -1).all()


def test_images_of_another_size_are_refused(monkeypatch) -> None:
    monkeypatch.setattr("bench.data.load_dataset", lambda spec, seed: np.zeros((4, 28, 28, 1)))
    with pytest.raises(UsageError, match="32 x 32 x 1"):
        DCGANConfig().load_data()


if __name__ == "__main__":
    {"probe": probe, "reexport": reexport}[sys.argv[1]](*sys.argv[2:])
