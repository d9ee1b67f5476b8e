"""Regenerate a committed baseline in one command: fresh quick runs, then `gan-bench baseline`.

    python scripts/update_baseline.py                       # results/baselines/cpu-quick.json
    python scripts/update_baseline.py --runs 3 --suites throughput,fid,mode-collapse

Several runs pool their timed rounds, so the baseline holds the drift between process starts,
not only the scatter of rounds inside one job. Run it on the machine class CI uses, idle.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

GAN_BENCH = [sys.executable, "-m", "bench.cli"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh runs whose rounds are pooled")
    parser.add_argument("--suites", default="throughput")
    parser.add_argument("--models", help="comma-separated (default: all)")
    parser.add_argument("--work", type=Path, default=Path("results/baseline-runs"))
    parser.add_argument("--out", type=Path, default=Path("results/baselines/cpu-quick.json"))
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)  # a baseline must come from this tree's runs
    models = ["--models", args.models] if args.models else []
    runs = [args.work / f"run-{i}" for i in range(args.runs)]
    for run_dir in runs:
        subprocess.run([*GAN_BENCH, "run", *args.suites.split(","), *models, "--profile",
                        "quick", "--device", "cpu", "--out", str(run_dir)], check=True)
    subprocess.run([*GAN_BENCH, "baseline", *map(str, runs), "--out", str(args.out)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
