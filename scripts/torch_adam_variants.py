"""What PyTorch's three Adam implementations cost in a whole training step. Measure it.

PyTorch's Adam has a for-loop, a `foreach` (multi-tensor) and a `fused` implementation of one
formula. The adapters use `fused` (implementations/torch/base.py:make_adam); this script says
by how much that pays, per family, on this machine:

    python scripts/torch_adam_variants.py --models mlp_gan,dcgan,pacgan --runs 3

Each run is one fresh worker per quick throughput job (torch, eager, one thread) that builds
the job's adapter three times, once per implementation, and times them in interleaved rounds
(the order rotating each round), so drift in the machine's load lands on all three alike.
Prints and writes one row per (job, implementation): median steps/s over all rounds, and its
ratio to fused's median from the same rounds.
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from bench.environment import machine_environment
from bench.fresh_process import run_fresh
from bench.registry import load_suite, parse_models
from bench.report.pages import write_measurement
from bench.suite import Request

IMPLEMENTATIONS = {"for-loop": {"foreach": False}, "foreach": {"foreach": True},
                   "fused": {"fused": True}}
ROUND_S = 0.2
ROUNDS = 10


def adam(implementation: dict, params, lr, betas, eps):
    import torch

    return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, **implementation)


def interleaved_rates(job: dict, rounds: int = ROUNDS) -> dict[str, list[float]]:
    """In a fresh worker: steps/s of each implementation over interleaved rounds."""
    import implementations.torch.base as torch_base
    from bench.build import build_adapter
    from bench.data import batches
    from bench.jobs import Job
    from bench.timing import steps_for, timed_round

    job_ = Job.from_dict(job)
    steps, rates = {}, {}
    for name, implementation in IMPLEMENTATIONS.items():
        torch_base.make_adam = partial(adam, implementation)  # what the adapter builds with
        built = build_adapter(job_)
        data = built.config.load_data(job_.seed)
        staged = built.adapter.stage(next(batches(data, built.config.examples_per_step(), 0)))
        step = partial(built.adapter.train_step, staged)
        per_step = timed_round(step, built.adapter.sync, 5) / 5  # the warm-up calibrates
        steps[name] = (step, built.adapter.sync, steps_for(ROUND_S, per_step))
        rates[name] = []
    names = list(IMPLEMENTATIONS)
    for r in range(rounds):
        first = r % len(names)  # the order rotates, so no implementation always goes first
        for name in names[first:] + names[:first]:
            step, sync, n = steps[name]
            rates[name].append(n / timed_round(step, sync, n))
    return rates


def measure(jobs: list, runs: int) -> pd.DataFrame:
    rows = []
    for run in range(runs):
        for job in jobs:
            rates = run_fresh("scripts.torch_adam_variants:interleaved_rates",
                              {"job": job.to_dict()}, threads=job.threads, timeout_s=600)
            variant = job.params.get("variant", "base")
            for name, values in rates.items():
                rows += [{"model": job.model, "variant": variant, "implementation": name,
                          "run": run, "round": i, "steps_per_s": v}
                         for i, v in enumerate(values)]
            print(f"run {run}: {job.model}/{variant}: " + ", ".join(
                f"{name} {np.median(v):.4g}" for name, v in rates.items()), flush=True)
    return pd.DataFrame(rows)


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    keys = ["model", "variant"]
    table = rows.groupby([*keys, "implementation"], sort=False)["steps_per_s"].median()
    table = table.rename("steps/s median").reset_index()
    fused = table[table["implementation"] == "fused"].set_index(keys)["steps/s median"]
    table["fused/this"] = fused.reindex(pd.MultiIndex.from_frame(table[keys])).to_numpy() \
        / table["steps/s median"]
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mlp_gan,dcgan,pacgan")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("results/torch-adam-variants.csv"))
    args = parser.parse_args()
    request = Request(models=tuple(parse_models(args.models)), frameworks=("torch",))
    jobs = [job for job in load_suite("throughput").jobs(request) if job.mode == "eager"]
    started = time.time()
    rows = measure(jobs, args.runs)
    write_measurement(rows, summary(rows), args.out, ".rounds.csv",
                      f"{time.time() - started:.0f} s, {time.strftime('%Y-%m-%d %H:%M')}, "
                      f"{machine_environment()['cpu']}, one thread per worker")
    return 0


if __name__ == "__main__":
    sys.exit(main())
