"""The adapter contract (bench.adapter), tested on every registered adapter of one framework.

Collected by pytest from the installed package, for the framework the plug-in's option names
(bench.testing.plugin), in a pytest process of that framework alone:

    pytest --pyargs bench.testing --gan-bench-framework tf

A family is tested at the last of its parity variants (quick profile): the largest network
the parity checks build, small enough for a CPU.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from bench import registry
from bench.adapter import Adapter, FamilyConfig
from bench.errors import UsageError
from bench.jobs import Job
from bench.parity import FORWARD_TOL, STEP_TOL, fill_zero_tensors, relative_error, step_inputs
from bench.registry import AdapterEntry
from bench.testing.plugin import framework_under_test
from bench.worker import run_job


def entries(framework: str) -> list[AdapterEntry]:
    return [entry for entry in registry.adapters() if entry.framework == framework]


def adapter_class(entry: AdapterEntry) -> type[Adapter]:
    cls = entry.load()
    cls.configure(1)
    return cls


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every adapter of the framework under test; with `mode`, each mode but eager."""
    adapters = entries(framework_under_test(metafunc.config))
    if "mode" in metafunc.fixturenames:
        # Compiling a training step takes from seconds to minutes on a CPU.
        cases = [pytest.param(e, mode, id=f"{e.model}-{mode}", marks=pytest.mark.slow)
                 for e in adapters for mode in e.load().offered_modes() if mode != "eager"]
        metafunc.parametrize("entry, mode", cases)
    elif "entry" in metafunc.fixturenames:
        metafunc.parametrize("entry", adapters, ids=[e.model for e in adapters])


@pytest.fixture
def framework(request: pytest.FixtureRequest) -> str:
    return framework_under_test(request.config)


#: Batched convolutions sum in another order than single ones: ProGAN's samples of 1 and of 4
#: differ by up to 1.3e-5 (torch, CPU); a train-mode normalisation would differ by O(1).
SAMPLE_BATCH_ATOL = {"progan": 1e-4}


def contract_config(model: str) -> FamilyConfig:
    return list(registry.family_config(model).for_profile("quick").parity_configs().values())[-1]


def build(entry: AdapterEntry, seed: int = 0, mode: str | None = None) -> Adapter:
    """The family's adapter at its contract config, in `mode` or, by default, the mode the
    framework's users train in on a CPU: what the suites run, and for a framework whose eager
    mode dispatches op by op (JAX), seconds where eager takes minutes. Eager and every other
    mode are held to it by test_modes_agree_on_one_step."""
    mode = mode or registry.framework(entry.framework).default_for("cpu")
    return adapter_class(entry)(contract_config(entry.model), seed=seed, mode=mode)


def first_step(adapter: Adapter, with_noise: bool = True):
    batch, noise = step_inputs(adapter.config, 0, 1)[0]
    return adapter.stage(batch, noise if with_noise else None)


def same_weights(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


# --- shapes ---


def test_weights_have_the_specs_names_shapes_and_dtype(entry):
    weights = build(entry).get_weights()
    assert {k: v.shape for k, v in weights.items()} == contract_config(entry.model).weight_shapes()
    assert all(v.dtype == np.float32 for v in weights.values())


def test_forward_and_sample_shapes(entry):
    """Forward gives the family's outputs per example; neither forward nor sample moves state."""
    adapter = build(entry)
    config = adapter.config
    before = adapter.get_weights()
    out = adapter.forward(first_step(adapter))
    assert out and all(v.dtype == np.float32 and np.isfinite(v).all() for v in out.values())
    if config.generates_distribution:
        assert out["G(z)"].shape[0] == config.batch_size
        assert np.prod(out["G(z)"].shape[1:]) == np.prod(config.sample_shape())
        for name in {"D(x)", "D(G(z))"} & set(out):
            assert out[name].shape == (config.batch_size, 1), name
    samples = adapter.sample(5, seed=3)
    assert samples.shape == (5, *config.sample_shape()) and samples.dtype == np.float32
    if len(config.sample_shape()) == 3:  # images are in [-1, 1] at the boundary
        assert np.abs(samples).max() <= 1
    np.testing.assert_array_equal(samples, adapter.sample(5, seed=3))
    assert same_weights(before, adapter.get_weights()), "forward/sample updated state"


def test_a_sample_does_not_depend_on_its_batch(entry):
    """Sampling is inference (BatchNorm on its running statistics, after a step moved them)."""
    adapter = build(entry)
    adapter.train_step(first_step(adapter))
    one = adapter.sample(1, seed=0)
    atol = SAMPLE_BATCH_ATOL.get(entry.model, 1e-6)
    np.testing.assert_allclose(adapter.sample(4, seed=0)[:1], one, rtol=0, atol=atol)


# --- determinism by seed ---


def test_the_seed_decides_weights_noise_and_samples(entry):
    """Same seed: same weights, same self-drawn noise (losses) and samples; another seed: other
    weights and noise. Style transfer draws nothing from the seed (its spec's weight_seed
    draws the network, and a step has no noise), so there another seed changes nothing."""
    runs = []
    for seed in (5, 5, 6):
        adapter = build(entry, seed=seed)
        weights = adapter.get_weights()
        adapter.train_step(first_step(adapter, with_noise=False))
        runs.append((weights, adapter.losses(), adapter.sample(3, seed=1)))
    (w_a, losses_a, samples_a), (w_b, losses_b, samples_b), (w_c, losses_c, _) = runs
    assert same_weights(w_a, w_b) and losses_a == losses_b
    np.testing.assert_array_equal(samples_a, samples_b)
    assert all(np.isfinite(list(losses.values())).all() for _, losses, _ in runs)
    differs = contract_config(entry.model).generates_distribution
    assert same_weights(w_a, w_c) != differs
    assert (losses_a != losses_c) == differs


# --- weights in and out ---


def test_weights_round_trip_bit_exact(entry):
    rng = np.random.default_rng(1)
    shapes = contract_config(entry.model).weight_shapes()
    weights = {k: rng.standard_normal(shape).astype(np.float32) for k, shape in shapes.items()}
    adapter = build(entry, seed=2)
    assert not same_weights(adapter.get_weights(), weights)
    adapter.set_weights(weights)
    assert same_weights(adapter.get_weights(), weights)


def test_a_missing_weight_is_named(entry):
    adapter = build(entry)
    weights = adapter.get_weights()
    name = list(weights)[-1]
    del weights[name]
    with pytest.raises(UsageError, match=re.escape(f"missing [{name!r}]")):
        adapter.set_weights(weights)


def test_an_unexpected_weight_is_named(entry):
    """A renamed weight: the name the model needs is missing, the other unexpected."""
    adapter = build(entry)
    weights = adapter.get_weights()
    name = list(weights)[0]
    weights[f"{name}.renamed"] = weights.pop(name)
    expected = f"missing [{name!r}], unexpected [{name + '.renamed'!r}]"
    with pytest.raises(UsageError, match=re.escape(expected)):
        adapter.set_weights(weights)


def test_a_misshapen_weight_is_named(entry):
    adapter = build(entry)
    weights = adapter.get_weights()
    name = list(weights)[0]
    weights[name] = np.zeros(3, np.float32)
    with pytest.raises(UsageError, match=re.escape(f"weight {name} has shape (3,)")):
        adapter.set_weights(weights)


# --- modes ---


def test_a_mode_it_does_not_offer_is_refused(entry):
    """The one-line error names the mode refused and the modes to use instead."""
    cls = adapter_class(entry)
    mode = "no-such-mode"
    with pytest.raises(UsageError, match=re.escape(repr(mode))) as refused:
        cls(contract_config(entry.model), mode=mode)
    assert all(offered in str(refused.value) for offered in cls.offered_modes())


def test_a_job_on_a_device_it_lacks_is_a_skipped_record_with_the_reason(framework):
    """Not an error and not a lost run: the worker records why, in one line."""
    entry = entries(framework)[0]
    if adapter_class(entry).device_available("cuda"):
        pytest.skip("this machine has a cuda device")
    job = Job(suite="throughput", model=entry.model, framework=framework, device="cuda",
              mode="eager", profile="quick")
    [record] = run_job(job.to_dict(), "run", {}).records
    assert record["status"] == "skipped"
    assert record["error"] == (f"{framework} finds no cuda device on this machine; "
                               "the job is skipped")


def start_off_the_content_image(adapter: Adapter) -> None:
    """An optimised image (style transfer) starts as the content image, where the content term
    is exactly 0 in eager mode and rounding noise in another: from noise every term counts."""
    weights = adapter.get_weights()
    if "image" in weights:
        rng = np.random.default_rng(1)
        adapter.set_weights({**weights, "image": rng.random(weights["image"].shape, np.float32)})


def test_modes_agree_on_one_step(entry, mode):
    """The forward, one step and the forward after it, from the same weights: to the parity
    checks' tolerances (the losses, computed before the update, to the forward's)."""
    results = []
    for each in ("eager", mode):
        adapter = build(entry, mode=each)
        start_off_the_content_image(adapter)
        # As the parity checks do: zero biases would make a bias's first Adam step the sign of
        # a gradient that cancels to rounding noise (PacGAN's D at its canonical init).
        adapter.set_weights(fill_zero_tensors(adapter.get_weights(), 0))
        staged = first_step(adapter)
        before = adapter.forward(staged)
        adapter.train_step(staged)
        results.append((before, adapter.losses(), adapter.get_weights(), adapter.forward(staged)))
    (eager_before, eager_losses, eager_w, eager_out), (before, losses, weights, out) = results
    for name in eager_before:
        assert relative_error(before[name], eager_before[name]) <= FORWARD_TOL, name
    for name in eager_losses:
        assert relative_error(losses[name], eager_losses[name]) <= FORWARD_TOL, name
    for name in eager_w:
        assert relative_error(weights[name], eager_w[name]) <= STEP_TOL, name
    # A GAN's forward after the step goes through networks that agree far closer than the
    # step's bound; style transfer's is of the stepped image itself.
    after_tol = FORWARD_TOL if adapter.config.generates_distribution else STEP_TOL
    for name in eager_out:
        assert relative_error(out[name], eager_out[name]) <= after_tol, name


# --- the machine ---


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_matmul_rate_is_the_products_flops_over_its_time(framework, dtype):
    """float32's is MFU's denominator; bfloat16's is recorded beside it on a GPU. A rate of
    2 n^3 over the product's time: between what a CPU core reaches and a whole GPU's."""
    entry = entries(framework)[0]
    rate = adapter_class(entry).matmul_flops_per_s("cpu", n=256, dtype=dtype)
    assert 1e7 < rate < 1e15
