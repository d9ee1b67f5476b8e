"""DCGAN in TensorFlow: spec, update order, modes. Mirror of tests/torch/test_dcgan.py."""

from __future__ import annotations

import numpy as np
import pytest

from bench.data import noise
from bench.errors import UsageError
from implementations.spec.dcgan import DCGANConfig
from implementations.tf.dcgan import DCGANAdapter

CONFIG = DCGANConfig(width=8, batch_size=8)


def inputs(config: DCGANConfig, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    batch = config.load_data()[seed * 100 : seed * 100 + config.examples_per_step()]
    return batch, noise(config.noise_shapes(), seed)


def bce(logits: np.ndarray, target: float) -> float:
    x = logits.astype(np.float64)
    return float(np.mean(np.maximum(x, 0) - x * target + np.log1p(np.exp(-np.abs(x)))))


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.fixture(scope="module", autouse=True)
def single_thread() -> None:
    DCGANAdapter.configure(1)


def test_weights_follow_the_spec() -> None:
    adapter = DCGANAdapter(CONFIG)
    weights = adapter.get_weights()
    assert {k: v.shape for k, v in weights.items()} == CONFIG.weight_shapes()
    params = sum(int(np.prod(v.shape)) for net in (adapter.G, adapter.D)
                 for v in net.trainable_variables)
    assert adapter.param_count() == params


def test_init_is_dcgans() -> None:
    weights = DCGANAdapter(DCGANConfig(width=16)).get_weights()
    conv = np.concatenate([v.ravel() for k, v in weights.items() if ".conv" in k])
    gamma = np.concatenate([v for k, v in weights.items() if ".bn" in k and "weight" in k])
    assert abs(conv.mean()) < 1e-3 and abs(conv.std() - 0.02) < 1e-3
    assert abs(gamma.mean() - 1) < 0.01 and 0.01 < gamma.std() < 0.03
    assert all(not v.any() for k, v in weights.items() if k.endswith("bias"))


def test_forward_and_sample_shapes() -> None:
    adapter = DCGANAdapter(CONFIG)
    before = adapter.get_weights()
    out = adapter.forward(adapter.stage(*inputs(CONFIG)))
    assert out["G(z)"].shape == (8, 32, 32, 1)
    assert out["D(x)"].shape == out["D(G(z))"].shape == (8, 1)
    samples = adapter.sample(5, seed=3)
    assert samples.shape == (5, 32, 32, 1) and samples.dtype == np.float32
    assert np.abs(samples).max() <= 1
    np.testing.assert_array_equal(samples, adapter.sample(5, seed=3))
    after = adapter.get_weights()
    assert all(np.array_equal(before[k], after[k]) for k in before), "forward/sample updated state"


def test_sample_uses_running_statistics() -> None:
    adapter = DCGANAdapter(CONFIG)
    adapter.train_step(adapter.stage(*inputs(CONFIG)))
    one = adapter.sample(1, seed=0)
    np.testing.assert_allclose(adapter.sample(4, seed=0)[:1], one, rtol=0, atol=1e-6)


def test_step_without_given_noise_draws_seeded_noise() -> None:
    batch, _ = inputs(CONFIG)
    runs = []
    for seed in (5, 5, 6):
        adapter = DCGANAdapter(CONFIG, seed=seed)
        adapter.train_step(adapter.stage(batch))
        runs.append(adapter.losses())
    assert runs[0] == runs[1] != runs[2]
    assert all(np.isfinite(list(losses.values())).all() for losses in runs)


def test_step_follows_the_update_order() -> None:
    """loss_d is D's loss before its update; loss_g goes through the updated D on the same fake."""
    adapter = DCGANAdapter(CONFIG)
    staged = adapter.stage(*inputs(CONFIG))
    before = adapter.get_weights()
    adapter.train_step(staged)
    losses, after = adapter.losses(), adapter.get_weights()

    reference = DCGANAdapter(CONFIG)
    reference.set_weights(before)
    old = reference.forward(staged)
    reference.set_weights({k: after[k] if k.startswith("D.") else v for k, v in before.items()})
    new = reference.forward(staged)

    assert losses["loss_d"] == pytest.approx(bce(old["D(x)"], 1) + bce(old["D(G(z))"], 0),
                                             rel=1e-5)
    assert losses["loss_g"] == pytest.approx(bce(new["D(G(z))"], 1), rel=1e-5)
    assert all(not np.array_equal(before[k], after[k]) for k in CONFIG.trainable_names())


def test_set_weights_rejects_a_wrong_key() -> None:
    adapter = DCGANAdapter(CONFIG)
    weights = adapter.get_weights()
    weights["G.conv9.weight"] = weights.pop("G.conv1.weight")
    with pytest.raises(UsageError, match="G.conv1.weight"):
        adapter.set_weights(weights)


@pytest.mark.parametrize("mode", ["compiled", "xla"])
def test_mode_matches_eager(mode: str) -> None:
    """One step and the forward after it."""
    results = []
    for each in ("eager", mode):
        adapter = DCGANAdapter(CONFIG, seed=0, mode=each)
        staged = adapter.stage(*inputs(CONFIG))
        adapter.train_step(staged)
        results.append((adapter.losses(), adapter.get_weights(), adapter.forward(staged)))
    (eager_losses, eager_w, eager_out), (losses, weights, out) = results
    assert losses == pytest.approx(eager_losses, rel=1e-4)
    for name in eager_w:
        assert relative_error(weights[name], eager_w[name]) <= 1e-4, name
    for name in eager_out:
        assert relative_error(out[name], eager_out[name]) <= 1e-5, name


def test_weight_map_round_trip_is_exact() -> None:
    weights = DCGANAdapter(CONFIG, seed=1).get_weights()
    adapter = DCGANAdapter(CONFIG, seed=2)
    assert not np.array_equal(adapter.get_weights()["G.conv1.weight"], weights["G.conv1.weight"])
    adapter.set_weights(weights)
    returned = adapter.get_weights()
    assert all(np.array_equal(weights[k], returned[k]) for k in weights)


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(UsageError, match="xla"):
        DCGANAdapter(CONFIG, mode="jit")
