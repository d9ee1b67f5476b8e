"""The framework-neutral specs (implementations/spec): validation, shapes, schedules, data.

This process imports neither framework; what the adapters compute from the specs is in
tests/test_parity.py and bench/testing/test_contract.py.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from bench.errors import UsageError
from implementations.spec.dcgan import DCGANConfig
from implementations.spec.mlp_gan import MLPGANConfig
from implementations.spec.pacgan import PacGANConfig, maxout, pack
from implementations.spec.progan import ProGANConfig, Progress

# --- DCGAN ---


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


# --- progressive GAN ---

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
    growing.count(32)
    assert growing.alpha == 0.5  # the phase moves on only at the next step
    assert not growing.catch_up() and growing.alpha == 1.0  # 8x8 stabilises
    growing.count(64)
    assert growing.catch_up() and (growing.resolution, growing.alpha) == (16, 0.0)
    pinned = Progress.start(ProGANConfig(grow=False, phase_resolution=16, alpha=0.25))
    pinned.count(10**6)
    assert not pinned.catch_up() and pinned.images == pinned.config.images_at(16, 0.25)
    assert pinned.tags() == {"resolution": "16", "alpha": "0.25"}


def test_phase_ends_are_the_steps_that_complete_each_phase():
    cfg = ProGANConfig(fade_images=100, stable_images=200, batch_size=64)
    # Phases end after 200, 300, 500, 600, 800, 900 and 1,100 images: a step of 64 each.
    assert cfg.phase_end_steps() == (4, 5, 8, 10, 13, 15, 18)
    assert cfg.replace(grow=False).phase_end_steps() == ()
    assert ProGANConfig(resolution=8, fade_images=64, stable_images=128,
                        batch_size=64).phase_end_steps() == (2, 3, 5)


def test_real_images_at_a_phase_are_pooled_faded_and_upsampled_back():
    cfg = ProGANConfig()
    real = np.random.default_rng(0).uniform(-1, 1, (3, 32, 32, 1)).astype(np.float32)
    x8 = real.reshape(3, 8, 4, 8, 4, 1).mean(axis=(2, 4))
    x4 = x8.reshape(3, 4, 2, 4, 2, 1).mean(axis=(2, 4))
    def up(x):
        return x.repeat(32 // x.shape[1], axis=1).repeat(32 // x.shape[1], axis=2)
    def at(resolution, alpha):
        return cfg.real_at_phase(real, {"resolution": str(resolution), "alpha": f"{alpha:g}"})
    np.testing.assert_array_equal(at(32, 1.0), real)
    np.testing.assert_allclose(at(8, 1.0), up(x8), atol=1e-6)
    np.testing.assert_allclose(at(8, 0.0), up(x4), atol=1e-6)  # a fade starts where 4x4 ends
    np.testing.assert_allclose(at(8, 0.25), 0.75 * up(x4) + 0.25 * up(x8), atol=1e-6)
    assert at(8, 0.25).dtype == np.float32


def test_parity_configs_cover_every_resolution_and_alpha():
    phases = {(c.phase_resolution, c.alpha) for c in ProGANConfig().parity_configs().values()}
    assert phases == {(4, 1.0)} | {(r, a) for r in (8, 16, 32) for a in (0.0, 0.5, 1.0)}
    assert all(not c.grow and c.batch_size == 4 for c in ProGANConfig().parity_configs().values())


def test_phase_configs_pin_each_phase_of_the_schedule():
    phases = ProGANConfig(resolution=16).phase_configs()
    assert list(phases) == ["4x4", "8x8 a=0.5", "8x8 a=1", "16x16 a=0.5", "16x16 a=1"]
    assert all(not c.grow for c in phases.values())


def test_throughput_times_every_phase_or_the_schedules_ends():
    every = ProGANConfig(resolution=16).throughput_variants()
    assert list(every) == ["4x4", "8x8 a=0.5", "8x8 a=1", "16x16 a=0.5", "16x16 a=1"]
    assert every["8x8 a=0.5"] == {"grow": False, "phase_resolution": 8, "alpha": 0.5}
    quick = ProGANConfig.for_profile("quick").throughput_variants()
    assert list(quick) == ["4x4", "32x32 a=0.5", "32x32 a=1"]


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


# --- canonical init (every family that learns a distribution) ---


def _std_of(weights: dict[str, np.ndarray], suffix: str) -> float:
    return float(np.concatenate([w.ravel() for n, w in weights.items() if n.endswith(suffix)]
                                ).std())


@pytest.mark.parametrize("config", [MLPGANConfig(), MLPGANConfig(dataset="ring8"),
                                    DCGANConfig(width=8), ProGANConfig(channels=8),
                                    PacGANConfig(packing=2, width=16, maxout_units=8)],
                         ids=["mlp_gan-images", "mlp_gan-points", "dcgan", "progan", "pacgan"])
def test_initial_weights_cover_every_weight_and_are_a_function_of_the_seed(config) -> None:
    shapes, weights = config.weight_shapes(), config.initial_weights(0)
    assert {n: w.shape for n, w in weights.items()} == shapes
    assert all(w.dtype == np.float32 for w in weights.values())
    again, other = config.initial_weights(0), config.initial_weights(1)
    assert all(np.array_equal(weights[n], again[n]) for n in shapes)
    assert not np.array_equal(weights[n := config.trainable_names()[0]], other[n])


def test_initial_weights_follow_each_spec() -> None:
    mlp = MLPGANConfig().initial_weights(3)
    # U(-1/sqrt(fan_in), 1/sqrt(fan_in)): D.fc1 reads 784 inputs, so |w| <= 1/28, std 1/(28 sqrt 3).
    assert np.abs(mlp["D.fc1.weight"]).max() <= 1 / 28
    assert mlp["D.fc1.weight"].std() == pytest.approx(1 / (28 * np.sqrt(3)), rel=0.01)
    assert np.abs(mlp["D.fc1.bias"]).max() <= 1 / 28 and mlp["D.fc1.bias"].any()
    dcgan = DCGANConfig().initial_weights(3)
    assert _std_of(dcgan, "conv1.weight") == pytest.approx(0.02, rel=0.01)
    assert all((dcgan[n] == 0).all() for n in dcgan if n.endswith((".bias", "running_mean")))
    assert all((dcgan[n] == 1).all() for n in dcgan if n.endswith("running_var"))
    gammas = np.concatenate([w for n, w in dcgan.items() if n.endswith("bn2.weight")])
    assert gammas.mean() == pytest.approx(1.0, abs=0.01) and gammas.std() > 0.01
    progan = ProGANConfig().initial_weights(3)
    assert _std_of(progan, ".weight") == pytest.approx(1.0, rel=0.01)
    assert all((progan[n] == 0).all() for n in progan if n.endswith(".bias"))


# --- PacGAN ---


def test_pacgan_defaults_are_the_papers() -> None:
    config = PacGANConfig.for_profile("standard")
    assert (config.dataset, config.packing, config.width) == ("ring8", 1, 400)
    assert (config.maxout_units, config.maxout_pieces, config.batch_size) == (200, 5, 100)
    assert (config.lr, config.beta1, config.beta2, config.eps) == (1e-4, 0.8, 0.999, 1e-8)
    assert PacGANConfig.for_profile("quick").width < config.width


@pytest.mark.parametrize("change", [{"packing": 0}, {"packing": 1.5}, {"packing": True},
                                    {"width": 0}, {"maxout_units": 0}, {"maxout_pieces": 0},
                                    {"lr": 0.0}, {"batch_size": 0}, {"dataset": "digits"}])
def test_pacgan_validation_rejects(change: dict) -> None:
    field = next(iter(change))
    with pytest.raises(UsageError, match=field):
        PacGANConfig().replace(**change)


def test_pacgan_packing_scales_data_noise_and_ds_input() -> None:
    config = PacGANConfig(packing=3, batch_size=10)
    assert config.examples_per_step() == 30
    assert config.noise_shapes() == {"z": (3, 10, 2)}
    assert config.weight_shapes()["D.fc1.weight"] == (1000, 6)
    assert config.flops_per_step() > PacGANConfig(batch_size=10).flops_per_step()
    assert config.load_data().shape == (100_000, 2)
    assert PacGANConfig(dataset="grid25").data_spec().name == "grid25"


def test_pacgan_weight_shapes_and_param_count() -> None:
    shapes = PacGANConfig().weight_shapes()
    assert shapes["G.fc1.weight"] == (400, 2) and "G.fc1.bias" not in shapes  # BN follows
    assert shapes["G.bn4.running_var"] == (400,)
    assert shapes["G.fc5.weight"] == (2, 400) and shapes["G.fc5.bias"] == (2,)
    assert shapes["D.fc2.weight"] == (1000, 200) and shapes["D.fc4.weight"] == (1, 200)
    g = 2 * 400 + 3 * 400 * 400 + 4 * 2 * 400 + 400 * 2 + 2
    d = (2 * 1000 + 1000) + 2 * (200 * 1000 + 1000) + (200 + 1)
    assert PacGANConfig().param_count() == g + d == 890_003


def test_pacgan_initial_weights_follow_the_papers_rules() -> None:
    weights = PacGANConfig(width=64, maxout_units=32, packing=2).initial_weights(0)
    linear = np.concatenate([v.ravel() for k, v in weights.items() if ".fc" in k
                             and k.endswith(".weight")])
    assert abs(linear.std() - 0.02) < 1e-3
    assert all((weights[f"G.bn{i}.{s}"] == 1).all() for i in (1, 2, 3, 4)
               for s in ("weight", "running_var"))
    assert not any(v.any() for k, v in weights.items() if k.endswith(("bias", "running_mean")))


def test_pacgan_parity_and_throughput_cover_both_packings_and_datasets() -> None:
    configs = PacGANConfig.for_profile("quick").parity_configs().values()
    assert {(c.dataset, c.packing) for c in configs} == {("ring8", 1), ("grid25", 2)}
    assert PacGANConfig().throughput_variants() == {"m1": {"packing": 1}, "m2": {"packing": 2}}


def test_pacgan_pack_and_maxout_in_numpy() -> None:
    samples = np.arange(8.0).reshape(4, 2)  # m = 2 groups of b = 2
    np.testing.assert_array_equal(pack(samples, 2), [[0, 1, 4, 5], [2, 3, 6, 7]])
    x = np.array([[1.0, 5.0, 2.0, -1.0, 0.0, 3.0]])  # 2 units of 3 pieces, unit-major
    np.testing.assert_array_equal(maxout(x, units=2, pieces=3), [[5.0, 3.0]])
