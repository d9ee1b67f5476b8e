"""Training for a step budget with evaluations along the way: the curves of quality suites.

Runs inside a worker on an adapter that is already built; framework-neutral, numpy only.
Runs are paired across frameworks: same initial weights, batches and noise for one seed.
Every `eval_every` steps (and at the last step, and where the budget asks, e.g. at the
ends of a growing model's phases) the loop fetches the losses (a device sync,
so only there) and calls an evaluator that samples the model and returns its metrics.

What comes back is a list of Measurements, each with its step: per evaluation point the
losses and the evaluator's metrics (tagged with the adapter's phase, e.g. a progressive GAN's
resolution), then `diverged` (0 or 1, at the step where training stopped, with the reason
as a tag) and `steps_trained`. A curve is the measurements of one metric ordered by step, so
a convergence suite reads the first step under a threshold or a run's final value straight
from the records.

A run diverges when a loss or a sample is NaN or inf. The loop then records that and stops:
divergence is an outcome to measure, never a crash.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bench.adapter import Adapter, require_positive_int
from bench.data import batches, step_noise
from bench.progress import report_step
from bench.records import Measurement

#: Gets the adapter at an evaluation point and returns its metrics (steps are set by the loop).
Evaluator = Callable[[Adapter], list[Measurement]]


class Diverged(Exception):
    """An evaluator found samples that are not finite: training has diverged."""


@dataclass(frozen=True)
class Budget:
    """How long to train and how often to evaluate."""

    steps: int
    eval_every: int
    #: Further steps to evaluate at, within the budget (where a training schedule's phases end).
    also_at: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        require_positive_int("steps", self.steps)
        require_positive_int("eval_every", self.eval_every)

    def eval_steps(self) -> list[int]:
        """Every eval_every steps, the `also_at` steps up to the last, and the last step."""
        within = {step for step in self.also_at if 0 < step <= self.steps}
        return sorted({*range(self.eval_every, self.steps + 1, self.eval_every), *within,
                       self.steps})


def finite_samples(adapter: Adapter, n: int, seed: int) -> np.ndarray:
    """adapter.sample(n, seed), or Diverged when any value is NaN or inf."""
    samples = adapter.sample(n, seed)
    if not np.isfinite(samples).all():
        raise Diverged("samples contain NaN or inf")
    return samples


def train(adapter: Adapter, data: np.ndarray, budget: Budget, evaluate: Evaluator,
          seed: int) -> list[Measurement]:
    """Train a paired run for the budget; the curves as Measurements.

    Paired: the family's canonical init for `seed`, seeded batches of `data` and each step's
    noise from numpy, so runs with one seed differ only by their framework.
    """
    config = adapter.config
    adapter.set_weights(config.initial_weights(seed))
    stream = batches(data, config.examples_per_step(), seed)
    shapes = config.noise_shapes()
    measurements: list[Measurement] = []
    step = 0
    divergence = ""
    for eval_step in budget.eval_steps():
        for done in range(step + 1, eval_step + 1):
            adapter.train_step(adapter.stage(next(stream), step_noise(shapes, seed, done)))
            report_step(done, budget.steps)  # for the run's display; a no-op outside a worker
        step = eval_step
        point, divergence = evaluation_point(adapter, evaluate, step)
        measurements += point
        if divergence:
            break
    tags = {"divergence": divergence} if divergence else {}
    measurements.append(Measurement("diverged", float(bool(divergence)), step=step, tags=tags))
    measurements.append(Measurement("steps_trained", float(step), step=step))
    return measurements


def evaluation_point(adapter: Adapter, evaluate: Evaluator, step: int
                     ) -> tuple[list[Measurement], str]:
    """Losses and metrics at one step, and why training diverged ('' when it did not)."""
    phase = adapter.tags()
    losses = adapter.losses()
    point = [Measurement(name, value, step=step, tags=phase) for name, value in losses.items()]
    bad = [name for name, value in losses.items() if not math.isfinite(value)]
    if bad:
        # Samples of a model with a non-finite loss say nothing more: skip the evaluation.
        return point, f"{', '.join(bad)} not finite at step {step}"
    try:
        metrics = evaluate(adapter)
    except Diverged as exc:
        return point, f"{exc} at step {step}"
    point += [Measurement(m.metric, m.value, m.unit, step, {**phase, **m.tags}) for m in metrics]
    return point, ""
