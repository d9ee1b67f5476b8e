"""What the PacGAN adapters must do alike: packing, maxout, both steps and the BatchNorm's
population statistics, against numpy.

tests/torch/test_pacgan.py, tests/tf/test_pacgan.py and tests/jax/test_pacgan.py import these
tests and set FRAMEWORK: each framework runs them in its own pytest process. The numpy
reference below is the spec (implementations/spec/pacgan.py) written out: G in training mode
(BatchNorm on each group's batch statistics), the packing, D's maxouts.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from family_adapters import family_adapter
from update_order import assert_update_order, bce

from bench.adapter import Adapter
from bench.data import load_dataset, noise
from bench.parity import fill_zero_tensors
from implementations.spec.pacgan import (
    BN_EPSILON,
    PacGANConfig,
    blend_population,
    maxout,
    pack,
)

SMALL = PacGANConfig(dataset="grid25", width=16, maxout_units=8, maxout_pieces=3, batch_size=8)


@pytest.fixture
def build_pacgan(request: pytest.FixtureRequest) -> Callable[..., Adapter]:
    return family_adapter("pacgan", request.module.FRAMEWORK)


def reference_generator(w: dict[str, np.ndarray], z: np.ndarray,
                        statistics: list | None = None) -> np.ndarray:
    """G in training mode; each BatchNorm's (mean, variance) appended to `statistics`."""
    h = z.astype(np.float64)
    for i in (1, 2, 3, 4):
        h = h @ w[f"G.fc{i}.weight"].T
        mean, var = h.mean(axis=0), h.var(axis=0)  # batch statistics, biased variance
        if statistics is not None:
            statistics.append((mean, var))
        h = (h - mean) / np.sqrt(var + BN_EPSILON) * w[f"G.bn{i}.weight"] + w[f"G.bn{i}.bias"]
        h = np.maximum(h, 0)
    return h @ w["G.fc5.weight"].T + w["G.fc5.bias"]


def reference_discriminator(w: dict[str, np.ndarray], x: np.ndarray,
                            config: PacGANConfig) -> np.ndarray:
    h = x.astype(np.float64)
    for i in (1, 2, 3):
        h = maxout(h @ w[f"D.fc{i}.weight"].T + w[f"D.fc{i}.bias"], config.maxout_units,
                   config.maxout_pieces)
    return h @ w["D.fc4.weight"].T + w["D.fc4.bias"]


def inputs(config: PacGANConfig, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    data = load_dataset(config.data_spec(), seed)
    return data[: config.examples_per_step()], noise(config.noise_shapes(), seed)


def test_pack_puts_sample_i_of_every_group_side_by_side():
    samples = np.arange(12.0).reshape(6, 2)  # m = 3 groups of b = 2
    np.testing.assert_array_equal(pack(samples, 3), [[0, 1, 4, 5, 8, 9], [2, 3, 6, 7, 10, 11]])
    np.testing.assert_array_equal(pack(samples, 1), samples)


@pytest.mark.parametrize("packing", [1, 2, 3])
def test_the_networks_compute_the_numpy_reference(build_pacgan, packing):
    """D takes 2m inputs; G runs on each noise group apart; D sees the packed groups."""
    config = SMALL.replace(packing=packing)
    adapter = build_pacgan(config)
    # Non-zero biases and BatchNorm shifts, so a wrong layout of them shows too.
    weights = fill_zero_tensors(config.initial_weights(3), seed=3)
    adapter.set_weights(weights)
    assert adapter.get_weights()["D.fc1.weight"].shape == (8 * 3, 2 * packing)
    batch, z = inputs(config)
    out = adapter.forward(adapter.stage(batch, z))

    fakes = [reference_generator(weights, z["z"][j]) for j in range(packing)]
    packed_fake = np.concatenate(fakes, axis=1)
    np.testing.assert_allclose(out["packed G(z)"], packed_fake, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["G(z)"], fakes[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["D(x)"], reference_discriminator(
        weights, pack(batch, packing), config), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out["D(G(z))"], reference_discriminator(
        weights, packed_fake, config), rtol=1e-4, atol=1e-6)


def test_a_packed_d_of_known_weights_gives_the_value_by_hand(build_pacgan):
    """m = 2, b = 2: rows 0, 1 are group 0 and rows 2, 3 group 1, so packed input i is
    [x_i, y_i, x_{2+i}, y_{2+i}]. With these weights D's logit is
    max(x_i, x_{2+i}) + 10 max(y_i, y_{2+i}) + 0.5; a maxout that took pieces across units
    (a (pieces, units) view) would give max(x_i, y_i) and so on instead."""
    config = PacGANConfig(packing=2, width=4, maxout_units=2, maxout_pieces=2, batch_size=2)
    adapter = build_pacgan(config)
    weights = adapter.get_weights()
    # fc1: outputs (unit 0: x of sample 0, x of sample 1; unit 1: y of sample 0, y of sample 1).
    fc1 = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], np.float32)
    repeat = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], np.float32)  # both pieces of unit k: h_k
    weights.update({
        "D.fc1.weight": fc1, "D.fc1.bias": np.zeros(4, np.float32),
        "D.fc2.weight": repeat, "D.fc2.bias": np.zeros(4, np.float32),
        "D.fc3.weight": repeat, "D.fc3.bias": np.zeros(4, np.float32),
        "D.fc4.weight": np.array([[1, 10]], np.float32), "D.fc4.bias": np.array([0.5], np.float32),
    })
    adapter.set_weights(weights)
    batch = np.array([[1, -1], [-2, 3], [2, -4], [-3, 1]], np.float32)
    out = adapter.forward(adapter.stage(batch, noise(config.noise_shapes(), 0)))
    expected = [[max(1, 2) + 10 * max(-1, -4) + 0.5], [max(-2, -3) + 10 * max(3, 1) + 0.5]]
    np.testing.assert_allclose(out["D(x)"], expected, rtol=1e-6)


def test_the_init_is_the_papers(build_pacgan):
    weights = build_pacgan(PacGANConfig(width=64, maxout_units=32)).get_weights()
    linear = np.concatenate([v.ravel() for k, v in weights.items() if ".fc" in k and
                             k.endswith("weight")])
    assert abs(linear.mean()) < 1e-3 and abs(linear.std() - 0.02) < 1e-3
    for name, value in weights.items():
        if ".bn" in name and name.endswith(("weight", "running_var")):
            assert (value == 1).all(), name
        elif not name.endswith("weight"):
            assert not value.any(), name  # biases, BatchNorm shifts and running means


@pytest.mark.parametrize("packing", [1, 2])
def test_the_alternating_step_follows_the_update_order(build_pacgan, packing):
    """loss_d is D's loss before its update on the packed real and fake; loss_g goes through
    the updated D on the same packed fake."""
    config = SMALL.replace(packing=packing, update="alternating")
    assert_update_order(lambda: build_pacgan(config), inputs(config))
    assert build_pacgan(config).tags() == {"packing": str(packing)}


@pytest.mark.parametrize("packing", [1, 2])
def test_the_simultaneous_step_takes_both_losses_from_one_pass(build_pacgan, packing):
    """The paper's step: loss_d and loss_g both at the weights before the step (loss_g through
    the D that has not moved yet), and every trainable weight moved."""
    config = SMALL.replace(packing=packing)
    assert config == SMALL.replace(packing=packing, update="simultaneous")  # the default
    adapter = build_pacgan(config)
    staged = adapter.stage(*inputs(config))
    before = adapter.get_weights()
    adapter.train_step(staged)
    losses, after = adapter.losses(), adapter.get_weights()
    reference = build_pacgan(config)
    reference.set_weights(before)
    old = reference.forward(staged)
    assert losses["loss_d"] == pytest.approx(bce(old["D(x)"], 1) + bce(old["D(G(z))"], 0),
                                             rel=1e-5)
    assert losses["loss_g"] == pytest.approx(bce(old["D(G(z))"], 1), rel=1e-5)
    assert all(not np.array_equal(before[k], after[k]) for k in config.trainable_names())


@pytest.mark.parametrize("update", ["simultaneous", "alternating"])
def test_batchnorm_keeps_the_papers_population_statistics(build_pacgan, update):
    """After a step, each population statistic moved toward the average of the step's m batch
    statistics (a training-mode forward() outside the step counts for nothing)."""
    config = SMALL.replace(packing=2, update=update)
    adapter = build_pacgan(config)
    weights = fill_zero_tensors(config.initial_weights(3), seed=3)
    weights["G.bn2.running_var"] = np.full_like(weights["G.bn2.running_var"], 0.25)
    adapter.set_weights(weights)
    batch, z = inputs(config)
    staged = adapter.stage(batch, z)
    adapter.forward(staged)
    adapter.train_step(staged)
    after = adapter.get_weights()
    per_pass = []
    for j in range(config.packing):
        per_pass.append([])
        reference_generator(weights, z["z"][j], per_pass[-1])
    for i in (1, 2, 3, 4):
        means = np.stack([stats[i - 1][0] for stats in per_pass])
        variances = np.stack([stats[i - 1][1] for stats in per_pass])
        mean, var = blend_population(weights[f"G.bn{i}.running_mean"],
                                     weights[f"G.bn{i}.running_var"], means, variances)
        np.testing.assert_allclose(after[f"G.bn{i}.running_mean"], mean, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(after[f"G.bn{i}.running_var"], var, rtol=1e-4, atol=1e-6)


def test_eval_mode_divides_by_the_population_stdev(build_pacgan):
    config = SMALL
    adapter = build_pacgan(config)
    weights = fill_zero_tensors(config.initial_weights(3), seed=3)
    weights["G.bn1.running_var"] = np.full_like(weights["G.bn1.running_var"], 0.5)
    adapter.set_weights(weights)
    z = np.random.default_rng(7).standard_normal((5, 2)).astype(np.float32)
    h = z.astype(np.float64)
    for i in (1, 2, 3, 4):
        h = (h @ weights[f"G.fc{i}.weight"].T - weights[f"G.bn{i}.running_mean"]) / np.sqrt(
            weights[f"G.bn{i}.running_var"] + BN_EPSILON)
        h = np.maximum(h * weights[f"G.bn{i}.weight"] + weights[f"G.bn{i}.bias"], 0)
    expected = h @ weights["G.fc5.weight"].T + weights["G.fc5.bias"]
    np.testing.assert_allclose(adapter.sample(5, 7), expected, rtol=1e-4, atol=1e-5)
