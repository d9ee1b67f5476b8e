"""The training loop on a fake adapter in numpy: schedule, curves, divergence, early stop."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from bench.data import batches, step_noise
from bench.errors import UsageError
from bench.records import Measurement
from bench.training import Budget, finite_samples, train

BATCH = 4


@dataclass
class FakeConfig:
    def examples_per_step(self) -> int:
        return BATCH

    def noise_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"z": (BATCH, 3)}

    def initial_weights(self, seed: int) -> dict[str, np.ndarray]:
        return {"w": np.full(2, float(seed), np.float32)}


class FakeAdapter:
    """Counts steps; its loss or its samples turn bad (NaN, inf) from a chosen step on."""

    def __init__(self, bad_loss_from: int | None = None, bad_samples_from: int | None = None,
                 bad_value: float = float("nan")) -> None:
        self.config = FakeConfig()
        self.steps = 0
        self.batches: list[np.ndarray] = []
        self.noises: list[dict[str, np.ndarray]] = []
        self.weights: dict[str, np.ndarray] = {}
        self.loss_fetches: list[int] = []
        self.bad_loss_from, self.bad_samples_from = bad_loss_from, bad_samples_from
        self.bad_value = bad_value

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        assert self.steps == 0, "weights must be set before the first step"
        self.weights = weights

    def stage(self, batch: np.ndarray, noise: dict[str, np.ndarray]) -> np.ndarray:
        self.noises.append(noise)
        return batch

    def train_step(self, staged: np.ndarray) -> None:
        self.batches.append(staged)
        self.steps += 1

    def _bad(self, start: int | None) -> bool:
        return start is not None and self.steps >= start

    def losses(self) -> dict[str, float]:
        self.loss_fetches.append(self.steps)
        loss_d = self.bad_value if self._bad(self.bad_loss_from) else 1.0 / self.steps
        return {"loss_d": loss_d, "loss_g": 2.0}

    def sample(self, n: int, seed: int) -> np.ndarray:
        points = np.random.default_rng(seed).standard_normal((n, 2)).astype(np.float32)
        if self._bad(self.bad_samples_from):
            points[0, 0] = self.bad_value
        return points

    def tags(self) -> dict[str, str]:
        return {"phase": "early" if self.steps <= 50 else "late"}


def quality(adapter: FakeAdapter) -> list[Measurement]:
    """An evaluator that samples (so bad samples are seen) and notes the step it saw."""
    finite_samples(adapter, 8, seed=0)
    return [Measurement("quality", 100.0 / adapter.steps, tags={"seen_at": adapter.steps})]


DATA = np.arange(40, dtype=np.float32).reshape(20, 2)


def curve(measurements: list[Measurement], metric: str) -> list[tuple[int | None, float]]:
    return [(m.step, m.value) for m in measurements if m.metric == metric]


def only(measurements: list[Measurement], metric: str) -> Measurement:
    (found,) = (m for m in measurements if m.metric == metric)
    return found


@pytest.mark.parametrize(("steps", "every", "expected"), [
    (120, 50, [50, 100, 120]),
    (100, 50, [50, 100]),
    (30, 50, [30]),
    (3, 1, [1, 2, 3]),
])
def test_evaluations_every_k_steps_and_at_the_end(steps, every, expected):
    assert Budget(steps, every).eval_steps() == expected


def test_evaluations_also_where_asked_within_the_budget():
    # A growing model's phases end at steps 3, 4 and 12: only those within 10 are added.
    assert Budget(10, 4, also_at=(3, 4, 12)).eval_steps() == [3, 4, 8, 10]


@pytest.mark.parametrize("bad", [{"steps": 0, "eval_every": 10}, {"steps": 10, "eval_every": 0},
                                 {"steps": 2.5, "eval_every": 1}])
def test_a_budget_that_cannot_work_is_a_usage_error(bad):
    with pytest.raises(UsageError):
        Budget(**bad)


def test_curves_of_metrics_and_losses_at_every_evaluation():
    adapter = FakeAdapter()
    out = train(adapter, DATA, Budget(120, 50), quality, seed=3)
    assert adapter.steps == 120
    assert curve(out, "quality") == [(50, 2.0), (100, 1.0), (120, 100.0 / 120)]
    assert [m.tags["seen_at"] for m in out if m.metric == "quality"] == [50, 100, 120]
    assert curve(out, "loss_d") == [(50, 1 / 50), (100, 1 / 100), (120, 1 / 120)]
    assert [s for s, _ in curve(out, "loss_g")] == [50, 100, 120]
    # The adapter's phase at each point goes with that point's values.
    assert [m.tags["phase"] for m in out if m.metric == "quality"] == ["early", "late", "late"]
    assert only(out, "diverged").value == 0.0 and only(out, "diverged").step == 120
    assert only(out, "steps_trained").value == 120.0


def test_losses_are_fetched_only_at_evaluations():
    adapter = FakeAdapter()
    train(adapter, DATA, Budget(120, 50), quality, seed=3)
    assert adapter.loss_fetches == [50, 100, 120]


def test_training_consumes_the_seeded_batch_stream():
    adapter = FakeAdapter()
    train(adapter, DATA, Budget(12, 5), quality, seed=7)
    stream = batches(DATA, BATCH, 7)
    expected = [next(stream) for _ in range(12)]
    assert all(np.array_equal(a, b) for a, b in zip(adapter.batches, expected, strict=True))


@pytest.mark.parametrize("bad_value", [float("nan"), float("inf")])
def test_a_non_finite_loss_stops_training_at_the_next_evaluation(bad_value):
    adapter = FakeAdapter(bad_loss_from=70, bad_value=bad_value)
    out = train(adapter, DATA, Budget(300, 50), quality, seed=0)
    assert adapter.steps == 100  # stopped, not trained on to 300
    diverged = only(out, "diverged")
    assert (diverged.value, diverged.step) == (1.0, 100)
    assert diverged.tags["divergence"] == "loss_d not finite at step 100"
    # The bad loss itself is kept (records spell NaN and inf as strings); no metric at 100.
    assert curve(out, "loss_d")[-1][0] == 100 and not math.isfinite(curve(out, "loss_d")[-1][1])
    assert [s for s, _ in curve(out, "quality")] == [50]
    assert only(out, "steps_trained").value == 100.0


@pytest.mark.parametrize("bad_value", [float("nan"), float("-inf")])
def test_non_finite_samples_stop_training_at_that_evaluation(bad_value):
    adapter = FakeAdapter(bad_samples_from=60, bad_value=bad_value)
    out = train(adapter, DATA, Budget(300, 50), quality, seed=0)
    assert adapter.steps == 100
    diverged = only(out, "diverged")
    assert (diverged.value, diverged.step) == (1.0, 100)
    assert diverged.tags["divergence"] == "samples contain NaN or inf at step 100"
    assert [s for s, _ in curve(out, "loss_d")] == [50, 100]  # the losses were still finite
    assert [s for s, _ in curve(out, "quality")] == [50]


def test_divergence_at_the_first_evaluation_leaves_no_metric():
    adapter = FakeAdapter(bad_loss_from=1)
    out = train(adapter, DATA, Budget(40, 20), quality, seed=0)
    assert adapter.steps == 20
    assert curve(out, "quality") == []
    assert (only(out, "diverged").value, only(out, "diverged").step) == (1.0, 20)


def test_a_run_is_paired_canonical_init_and_numpy_noise_per_step() -> None:
    """Both frameworks start from the config's init for the seed and draw step t's noise from
    numpy's stream (seed, t): what a run consumes depends on the seed alone."""
    adapter = FakeAdapter()
    train(adapter, DATA, Budget(steps=5, eval_every=5), quality, seed=7)
    assert adapter.weights["w"].tolist() == [7.0, 7.0]
    expected = [step_noise({"z": (BATCH, 3)}, 7, t)["z"] for t in range(1, 6)]
    assert all(np.array_equal(n["z"], e) for n, e in zip(adapter.noises, expected, strict=True))
    assert not np.array_equal(adapter.noises[0]["z"], adapter.noises[1]["z"])
    other = FakeAdapter()
    train(other, DATA, Budget(steps=1, eval_every=1), quality, seed=8)
    assert not np.array_equal(other.noises[0]["z"], adapter.noises[0]["z"])
