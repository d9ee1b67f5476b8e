"""Are throughput timings stable when another process competes for the cores? Measure it.

Starts LOAD CPU-bound processes (a busy loop each), then runs every quick throughput job of
the chosen models and frameworks RUNS times, each run in a fresh worker as `gan-bench run`
does, interleaved (job A, job B, ..., then again), once per CPU setting asked for. Prints and
writes one row per (job, setting): over the runs, the median and max/min of each run's median
round and of its fastest round, and the CPU cores the worker used;
the contention-proof target is max/min <= 1.3.

    python scripts/timing_under_load.py --models mlp_gan --settings 2:active,2:passive,1:passive
    python scripts/timing_under_load.py --runs 6 --load 1 --out results/under-load.csv

--load 0 measures the idle machine the same way.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from bench.environment import machine_environment
from bench.executors import run_isolated
from bench.registry import load_suite, parse_frameworks, parse_models
from bench.report.pages import write_measurement
from bench.suite import Request

BUSY_LOOP = "while True: pass"


def settings(text: str) -> list[tuple[int, str]]:
    """'2:active,1:passive' -> [(2, 'active'), (1, 'passive')]."""
    out = []
    for item in text.split(","):
        threads, _, policy = item.partition(":")
        out.append((int(threads), policy or "passive"))
    return out


def metric(records: list[dict], name: str) -> float:
    values = [r["value"] for r in records if r["metric"] == name and r["status"] == "ok"]
    return float(values[0]) if values else float("nan")


def measure(jobs: list, runs: int, run_id: str) -> pd.DataFrame:
    env = machine_environment()
    rows = []
    for r in range(runs):
        for job in jobs:
            output = run_isolated(job, run_id, env)
            rate = metric(output.records, "steps_per_s")
            best = metric(output.records, "best_steps_per_s")
            variant = next((rec.get("variant", "") for rec in output.records), "")
            rows.append({"model": job.model, "variant": variant, "framework": job.framework,
                         "mode": job.mode, "threads": job.threads, "wait_policy": job.wait_policy,
                         "run": r, "steps_per_s": rate, "best_steps_per_s": best,
                         "cores_used": metric(output.records, "cores_used")})
            print(f"run {r}: {job.model}/{variant}/{job.framework}/{job.mode} "
                  f"threads={job.threads} {job.wait_policy}: median round {rate:.4g} steps/s, "
                  f"fastest {best:.4g}", flush=True)
    return pd.DataFrame(rows)


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (job, setting): each figure's median over the runs and its max/min, for the median
    round and the fastest round of each run, and the CPU cores the worker used."""
    keys = ["model", "variant", "framework", "mode", "threads", "wait_policy"]
    groups = rows.groupby(keys, sort=False)
    table = pd.DataFrame({"runs": groups.size()})
    for column, label in (("steps_per_s", "median round"), ("best_steps_per_s", "fastest round")):
        runs = groups[column]
        table[f"{label}: steps/s"] = runs.median()
        table[f"{label}: max/min"] = runs.max() / runs.min()
    table["cores used"] = groups["cores_used"].median()
    return table.reset_index()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=None)
    parser.add_argument("--frameworks", default="torch,tf")
    parser.add_argument("--variants", default=None, help="e.g. points: only these variants")
    parser.add_argument("--settings", default="1:passive", help="threads:wait_policy,...")
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--load", type=int, default=1, help="busy-loop processes beside")
    parser.add_argument("--out", type=Path, default=Path("results/timing-under-load.csv"))
    args = parser.parse_args()
    request = Request(models=tuple(parse_models(args.models)),
                      frameworks=tuple(parse_frameworks(args.frameworks)))
    base_jobs = [job for job in load_suite("throughput").jobs(request)
                 if not args.variants or job.params.get("variant") in args.variants.split(",")]
    jobs = [dataclasses.replace(job, threads=t, wait_policy=w, params={**job.params,
                                                                        "samples": False})
            for t, w in settings(args.settings) for job in base_jobs]
    load = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(args.load)]
    started = time.time()
    try:
        rows = measure(jobs, args.runs, "under-load")
    finally:
        for proc in load:
            proc.kill()
    write_measurement(rows, summary(rows), args.out, ".runs.csv",
                      f"{args.load} busy process(es) beside, {time.time() - started:.0f} s, "
                      f"{time.strftime('%Y-%m-%d %H:%M')}, {machine_environment()['cpu']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
