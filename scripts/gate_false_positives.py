"""How often does `gan-bench check` fail an unchanged tree? Measure the gate's false positives.

Runs the same quick benchmark N times into WORK/run-00 .. run-NN, makes a baseline from the
first K runs (K = 1 by default), and checks every later run against it. Nothing changed
between the runs, so every regression the gate reports is a false positive. Runs already
finished in WORK (records and no failed job) are reused, so an interrupted measurement resumes.

    python scripts/gate_false_positives.py --runs 11 --work /tmp/gate-fp
    python scripts/gate_false_positives.py --runs 13 --baseline-runs 3 --work /tmp/gate-fp

A run whose job crashed is counted apart: that is the tree failing, not the gate misjudging.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from bench.records import load_frame
from bench.regression import (
    CheckResult,
    check,
    compact,
    comparison_table,
    make_baseline,
    write_baseline,
)
from bench.report import markdown_table

GAN_BENCH = [sys.executable, "-m", "bench.cli"]


def finished(run_dir: Path) -> bool:
    if not (run_dir / "records.jsonl").exists():
        return False
    frame = load_frame(run_dir)
    return not frame.empty and not (frame["status"] == "error").any()


def bench_run(run_dir: Path, suites: list[str], models: str) -> None:
    if not finished(run_dir):
        subprocess.run([*GAN_BENCH, "run", *suites, "--models", models, "--profile", "quick",
                        "--device", "cpu", "--out", str(run_dir)])


def show(run_dir: Path, result: CheckResult) -> None:
    table, shared = compact(comparison_table(result.rows))
    print(f"--- {run_dir.name}: {result.summary()}\n{shared}\n{markdown_table(table)}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11,
                        help="runs in all; the first is the baseline")
    parser.add_argument("--work", type=Path, default=Path("results/gate-fp"))
    parser.add_argument("--baseline-runs", type=int, default=1,
                        help="the first K runs make the baseline (pooled), the rest are checked")
    parser.add_argument("--models", default="mlp_gan")
    parser.add_argument("--suites", default="throughput")
    args = parser.parse_args()
    runs = [args.work / f"run-{i:02d}" for i in range(args.runs)]
    for run_dir in runs:
        bench_run(run_dir, args.suites.split(","), args.models)
    pooled, checked = runs[:args.baseline_runs], runs[args.baseline_runs:]
    baseline = write_baseline(make_baseline(pooled), args.work / f"baseline-{len(pooled)}.json")
    results = [check(run_dir, baseline) for run_dir in checked]
    for run_dir, result in zip(checked, results, strict=True):
        show(run_dir, result)
    regressed = sum(result.counts()["REGRESSED"] > 0 for result in results)
    crashed = sum(result.counts()["missing"] > 0 for result in results)
    comparisons = sum(result.counts()[s] for result in results
                      for s in ("REGRESSED", "ok", "improved"))
    flagged = sum(result.counts()["REGRESSED"] for result in results)
    print(f"false positives: {regressed} of {len(results)} checks of an unchanged tree reported "
          f"a regression ({flagged} of {comparisons} comparisons); {crashed} runs lost a job")
    return 0


if __name__ == "__main__":
    sys.exit(main())
