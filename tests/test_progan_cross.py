"""Progressive GAN: the framework-neutral spec, and parity between the two frameworks.

Parity (MODELS.md checks 1 to 3) at every resolution and alpha of `parity_configs()`: this
process draws one set of canonical weights per config with numpy (biases non-zero, so a bias
in the wrong layout shows), then each framework runs in its own subprocess (they cannot share
one), in parallel, once for all configs: load the weights, export them back, forward, one
training step on the same batch and noise. This process imports neither framework; it compares.

Errors are relative to the array's scale: max |a - b| / max |a|. One Adam step moves every
weight by about lr (beta1 = 0 normalises each gradient element to its sign), so an element whose
true gradient is zero or near eps gets a step of rounding noise, whose sign can differ between
the frameworks: seen on 2 of 576 elements of one conv with torch 2.15 and TF 2.21, a difference
of 2 lr. The step check therefore allows at most 1% of a tensor's elements to differ, and those
by no more than one Adam step each way; every other element agrees to 1e-4. A layout or formula
bug moves far more than 1% of the elements. Losses are means of order-one terms (D outputs,
penalties), so a loss that cancels to near zero (4e-4) is compared on the scale max(|loss|, 1).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.data import noise
from bench.errors import UsageError
from implementations.spec.progan import ProGANConfig, Progress

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORKS = ("torch", "tf")
FORWARD_RTOL = 1e-5
STEP_RTOL = 1e-4
CONFIGS = ProGANConfig().parity_configs()
LABELS = list(CONFIGS)


# --- the spec ---

@pytest.mark.parametrize("field,value,message", [
    ("fade_images", 0, "phase length must be positive"),
    ("stable_images", -64, "phase length must be positive"),
    ("resolution", 64, "power of two from 4 to 32"),
    ("resolution", 12, "power of two from 4 to 32"),
    ("phase_resolution", 32, "up to the target resolution 16"),
    ("alpha", 1.5, "alpha must be a number from 0 to 1"),
    ("batch_size", 6, "multiple of 4"),
    ("beta2", 1.0, "beta2 must be a number in"),
])
def test_bad_configs_are_usage_errors(field, value, message):
    base = {"resolution": 16} if field == "phase_resolution" else {}
    with pytest.raises(UsageError, match=message):
        ProGANConfig(**base, **{field: value}).validate()


def test_alpha_below_one_needs_a_fade():
    with pytest.raises(UsageError, match="no fade-in"):
        ProGANConfig(phase_resolution=4, alpha=0.5).validate()
    ProGANConfig(phase_resolution=8, alpha=0.5).validate()


def test_schedule_fades_then_stabilises_per_resolution():
    cfg = ProGANConfig(fade_images=100, stable_images=200)
    assert [(p.resolution, p.fading, p.images) for p in cfg.schedule()] == [
        (4, False, 200), (8, True, 100), (8, False, 200), (16, True, 100), (16, False, 200),
        (32, True, 100), (32, False, 200)]
    assert cfg.phase_at(0) == (4, 1.0)
    assert cfg.phase_at(199) == (4, 1.0)
    assert cfg.phase_at(200) == (8, 0.0)
    assert cfg.phase_at(250) == (8, 0.5)
    assert cfg.phase_at(300) == (8, 1.0)
    assert cfg.phase_at(10**9) == (32, 1.0)  # the schedule is over: stay at the target
    for images in (0, 200, 250, 300, 550, 900):  # fades and the starts of phases
        assert cfg.images_at(*cfg.phase_at(images)) == images


def test_progress_counts_images_only_when_growing():
    growing = Progress.start(ProGANConfig(fade_images=64, stable_images=64, phase_resolution=8,
                                          alpha=0.5))
    assert (growing.resolution, growing.alpha, growing.images) == (8, 0.5, 96)
    assert not growing.advance(32) and growing.alpha == 1.0  # 8x8 stabilises
    assert growing.advance(64) and (growing.resolution, growing.alpha) == (16, 0.0)
    pinned = Progress.start(ProGANConfig(grow=False, phase_resolution=16, alpha=0.25))
    assert not pinned.advance(10**6)
    assert pinned.tags() == {"resolution": "16", "alpha": "0.25"}


def test_parity_configs_cover_every_resolution_and_alpha():
    phases = {(c.phase_resolution, c.alpha) for c in CONFIGS.values()}
    assert phases == {(4, 1.0)} | {(r, a) for r in (8, 16, 32) for a in (0.0, 0.5, 1.0)}
    assert all(not c.grow and c.batch_size == 4 for c in CONFIGS.values())


def test_phase_configs_pin_each_phase_of_the_schedule():
    phases = ProGANConfig(resolution=16).phase_configs()
    assert list(phases) == ["4x4", "8x8 a=0.5", "8x8 a=1", "16x16 a=0.5", "16x16 a=1"]
    assert all(not c.grow for c in phases.values())


def test_weights_noise_and_flops_follow_the_network():
    cfg = ProGANConfig(channels=8, latent=16, batch_size=4)
    shapes = cfg.weight_shapes()
    assert shapes["G.blocks.4x4.dense.weight"] == (128, 16)
    assert shapes["G.blocks.4x4.bias"] == (8,)
    assert shapes["D.blocks.4x4.conv.weight"] == (8, 9, 3, 3)
    assert shapes["D.blocks.4x4.dense.weight"] == (8, 128)
    assert {k for k in shapes if "32x32" in k} == {
        "G.blocks.32x32.conv1.weight", "G.blocks.32x32.conv1.bias", "G.blocks.32x32.conv2.weight",
        "G.blocks.32x32.conv2.bias", "G.to_rgb.32x32.weight", "G.to_rgb.32x32.bias",
        "D.from_rgb.32x32.weight", "D.from_rgb.32x32.bias", "D.blocks.32x32.conv1.weight",
        "D.blocks.32x32.conv1.bias", "D.blocks.32x32.conv2.weight", "D.blocks.32x32.conv2.bias"}
    assert cfg.noise_shapes() == {"z": (4, 16), "u": (4, 1, 1, 1)}
    stable, fading = cfg.phase_flops(16, False), cfg.phase_flops(16, True)
    assert cfg.phase_flops(8, False) < stable < fading < cfg.phase_flops(32, False)


# --- parity ---

def canonical_weights(cfg: ProGANConfig, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: (rng.standard_normal(shape) * (0.1 if name.endswith("bias") else 1.0))
            .astype(np.float32) for name, shape in cfg.weight_shapes().items()}


def run_side(framework: str, folder: Path) -> None:
    """In a subprocess: every parity config in one framework; results go to npz files."""
    if framework == "torch":
        from implementations.torch.progan import ProGANAdapter
    else:
        from implementations.tf.progan import ProGANAdapter
    ProGANAdapter.configure(1)
    batch = np.load(folder / "batch.npy")
    for i, cfg in enumerate(CONFIGS.values()):
        adapter = ProGANAdapter(cfg, seed=0)
        adapter.set_weights(dict(np.load(folder / f"weights_{i}.npz")))
        np.savez(folder / f"{framework}_exported_{i}.npz", **adapter.get_weights())
        inputs = adapter.stage(batch, noise(cfg.noise_shapes(), seed=1))
        np.savez(folder / f"{framework}_forward_{i}.npz", **adapter.forward(inputs))
        adapter.train_step(inputs)
        np.savez(folder / f"{framework}_step_{i}.npz", **adapter.get_weights(),
                 **{k: np.float32(v) for k, v in adapter.losses().items()})


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("progan_parity")
    np.save(folder / "batch.npy", CONFIGS[LABELS[0]].load_data()[:4])
    for i, cfg in enumerate(CONFIGS.values()):
        np.savez(folder / f"weights_{i}.npz", **canonical_weights(cfg, seed=i))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, __file__, fw, str(folder)], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for fw in FRAMEWORKS]
    for fw, proc in zip(FRAMEWORKS, procs, strict=True):
        output = proc.communicate(timeout=600)[0]
        assert proc.returncode == 0, f"{fw} side failed:\n{output[-3000:]}"
    return folder


def worst_relative_errors(a: dict, b: dict) -> dict[str, float]:
    assert a.keys() == b.keys()
    return {k: float(np.max(np.abs(a[k].astype(np.float64) - b[k]))
                     / max(float(np.max(np.abs(a[k]))), 1e-30)) for k in a}


def load(folder: Path, name: str) -> dict[str, np.ndarray]:
    return dict(np.load(folder / f"{name}.npz"))


@pytest.mark.parametrize("index", range(len(LABELS)), ids=LABELS)
def test_weights_round_trip_bit_for_bit(runs, index):
    weights = load(runs, f"weights_{index}")
    for fw in FRAMEWORKS:
        exported = load(runs, f"{fw}_exported_{index}")
        assert exported.keys() == weights.keys()
        assert all(np.array_equal(exported[k], weights[k]) for k in weights), fw


@pytest.mark.parametrize("index", range(len(LABELS)), ids=LABELS)
def test_forward_outputs_agree(runs, index):
    torch_out, tf_out = load(runs, f"torch_forward_{index}"), load(runs, f"tf_forward_{index}")
    assert set(torch_out) == {"G(z)", "D(x)", "D(G(z))"}
    errors = worst_relative_errors(torch_out, tf_out)
    assert max(errors.values()) < FORWARD_RTOL, errors


def step_disagreement(a: np.ndarray, b: np.ndarray, lr: float) -> tuple[float, float, float]:
    """(share of elements off by more than STEP_RTOL of the scale, their worst difference in
    Adam steps, the worst relative error of the rest)."""
    diff = np.abs(a.astype(np.float64) - b)
    off = diff > STEP_RTOL * max(float(np.max(np.abs(a))), 1e-30)
    rest = float(np.max(diff[~off], initial=0.0) / max(float(np.max(np.abs(a))), 1e-30))
    return float(off.mean()), float(np.max(diff[off], initial=0.0) / lr), rest


@pytest.mark.parametrize("index", range(len(LABELS)), ids=LABELS)
def test_one_training_step_agrees(runs, index):
    torch_step, tf_step = load(runs, f"torch_step_{index}"), load(runs, f"tf_step_{index}")
    losses = {"loss_d", "loss_g", "gradient_penalty"}
    assert losses <= set(torch_step)
    for name in losses:
        a, b = float(torch_step[name]), float(tf_step[name])
        assert abs(a - b) <= STEP_RTOL * max(abs(a), 1.0), (name, a, b)
    lr = CONFIGS[LABELS[index]].lr
    for name in set(torch_step) - losses:
        share, steps, rest = step_disagreement(torch_step[name], tf_step[name], lr)
        assert share <= 0.01 and steps <= 2.001 and rest < STEP_RTOL, (name, share, steps, rest)
    # The step really moved the weights the phase trains.
    before = load(runs, f"weights_{index}")
    assert not np.array_equal(torch_step["D.blocks.4x4.out.weight"],
                              before["D.blocks.4x4.out.weight"])


if __name__ == "__main__":
    run_side(sys.argv[1], Path(sys.argv[2]))
