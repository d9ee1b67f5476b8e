"""What each "fastest idiomatic form" change is worth: one training step, two ways, one process.

    python scripts/step_variants.py torch-adam   # PyTorch's Adam: foreach vs fused vs for-loop
    python scripts/step_variants.py tf-g-tape    # TF's G step: whole tape vs G's weights only

Each variant is the same family adapter (quick MLP GAN and DCGAN configs, batch 64, eager for
torch, tf.function for TF) with one piece swapped; the variants run in alternating rounds in
one fresh process per framework (the overhead suite's paired_rates), and the result is the
median of per-round ratios against the first variant with a 95% bootstrap interval. Run it on
an idle machine; `--threads` as in gan-bench run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from bench.fresh_process import run_fresh
from bench.report import markdown_table
from bench.stats import bootstrap_median

MODELS = ("mlp_gan", "dcgan")
ROUNDS, ROUND_S, WARMUP = 20, 0.3, 5


def _adapter(model: str, framework: str, mode: str, threads: int):
    from bench.build import build_adapter
    from bench.data import batches
    from bench.jobs import Job

    job = Job(suite="throughput", model=model, framework=framework, mode=mode, threads=threads,
              params={"variant": "images"} if model == "mlp_gan" else {})
    built = build_adapter(job)
    config = built.config
    staged = built.adapter.stage(next(batches(config.load_data(0), config.examples_per_step(),
                                              0)))
    return built.adapter, staged


def torch_adam(model: str, threads: int) -> dict[str, np.ndarray]:
    import torch

    adapter, staged = _adapter(model, "torch", "eager", threads)
    cfg = adapter.config

    def optimisers(**kind):
        betas = (cfg.beta1, cfg.beta2)
        return (torch.optim.Adam(adapter.G.parameters(), cfg.lr, betas, cfg.eps, **kind),
                torch.optim.Adam(adapter.D.parameters(), cfg.lr, betas, cfg.eps, **kind))

    variants = {"foreach": optimisers(foreach=True), "fused": optimisers(fused=True),
                "for-loop": optimisers(foreach=False)}
    return _paired(adapter, staged, {name: _with(adapter, opts) for name, opts in
                                     variants.items()})


def _with(adapter, optimisers):
    def step() -> None:
        adapter.opt_g, adapter.opt_d = optimisers
        adapter.train_step(adapter._staged_for_variants)

    return step


def tf_g_tape(model: str, threads: int) -> dict[str, np.ndarray]:
    import tensorflow as tf

    from implementations.tf import bce_gan

    @contextlib.contextmanager
    def whole_tape(variables):  # the step before: every variable watched, D's step recorded
        with tf.GradientTape() as tape:
            yield tape

    watching = bce_gan.tape_watching
    steps = {}
    for name, tape in (("whole tape", whole_tape), ("G's weights only", watching)):
        bce_gan.tape_watching = tape
        adapter, staged = _adapter(model, "tf", "compiled", threads)
        adapter._staged_for_variants = staged
        steps[name] = (lambda a=adapter: a.train_step(a._staged_for_variants))
        steps[name]()  # trace now, with this tape in place
    bce_gan.tape_watching = watching
    return _paired(adapter, staged, steps)


def _paired(adapter, staged, steps) -> dict[str, np.ndarray]:
    from suites.overhead import paired_rates

    adapter._staged_for_variants = staged
    return paired_rates(steps, adapter.sync, WARMUP, ROUNDS, ROUND_S)


def summary(model: str, rates: dict[str, np.ndarray]) -> list[dict]:
    names = list(rates)
    rows = []
    for name in names:
        ratio, lo, hi = bootstrap_median(rates[name] / rates[names[0]])
        rows.append({"model": model, "variant": name,
                     "steps/s (median)": float(np.median(rates[name])),
                     f"/ {names[0]}": ratio, "95% interval": f"{lo:.3f} to {hi:.3f}"})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["torch-adam", "tf-g-tape"])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    target = {"torch-adam": "torch_adam", "tf-g-tape": "tf_g_tape"}[args.what]
    # The fresh process imports this file as a module: put its folder on the path.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")) if p)
    rows = []
    for model in MODELS:
        rates = run_fresh(f"step_variants:{target}", {"model": model, "threads": args.threads},
                          threads=args.threads)
        rows += summary(model, rates)
    print(f"{args.what}, threads={args.threads}, {ROUNDS} alternating rounds of ~{ROUND_S} s")
    print(markdown_table(pd.DataFrame(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
