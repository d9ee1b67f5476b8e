"""What one training step of the progressive GAN costs at each phase of its schedule.

The standard profile's budget (channels, images per phase, batch) is chosen from these
figures (docs/measurements.md#progan-step-cost). One framework per process, one thread, in
the framework's default mode on the CPU:

    python scripts/progan_step_cost.py torch --channels 32 --batch 64 --out cost.csv
    python scripts/progan_step_cost.py tf --channels 32 --batch 64 --out cost.csv

Per phase: a fresh adapter pinned there (the throughput suite's phase configs), the canonical
init, one fixed batch; 3 warm-up steps, then `rounds` rounds of `steps` steps, each round
ending in a sync. Prints and appends one row per phase with the analytic FLOPs and the
fastest round's milliseconds per step: on a shared machine the fastest round is the one least
disturbed by other work.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.adapter import Adapter
from bench.data import step_noise
from bench.registry import find, framework
from implementations.spec.progan import ProGANConfig


def fastest_ms(adapter: Adapter, staged: object, rounds: int, steps: int) -> float:
    for _ in range(3):
        adapter.train_step(staged)
    adapter.sync()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(steps):
            adapter.train_step(staged)
        adapter.sync()
        best = min(best, (time.perf_counter() - start) / steps)
    return best * 1e3


def phase_costs(name: str, channels: int, batch: int, rounds: int, steps: int) -> pd.DataFrame:
    adapter_cls = find("progan", name).load()
    adapter_cls.configure(1)
    mode = framework(name).default_for("cpu")
    base = ProGANConfig(channels=channels, batch_size=batch)
    real = np.random.default_rng(0).uniform(-1, 1, (batch, 32, 32, 1)).astype(np.float32)
    rows = []
    for label, config in base.phase_configs().items():
        adapter = adapter_cls(config, seed=0, device="cpu", mode=mode)
        adapter.set_weights(config.initial_weights(0))
        staged = adapter.stage(real, step_noise(config.noise_shapes(), 0, 1))
        rows.append({"framework": name, "mode": mode, "channels": channels, "batch": batch,
                     "phase": label, "flops_per_step": config.flops_per_step(),
                     "ms_per_step_fastest": round(fastest_ms(adapter, staged, rounds, steps), 2)})
        print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("framework")
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--out", type=Path, help="a CSV to append the rows to")
    args = parser.parse_args()
    table = phase_costs(args.framework, args.channels, args.batch, args.rounds, args.steps)
    if args.out:
        table.to_csv(args.out, mode="a", header=not args.out.exists(), index=False)


if __name__ == "__main__":
    main()
