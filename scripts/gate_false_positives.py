"""How often does the gate cry wolf, and does it catch a real 10% slowdown? Measure both.

Four modes; the measuring ones are resumable (finished work in WORK is reused):

`ab`: N A/B checks (`gan-bench check --base REF`) of the tree as it is, each into
WORK/check-NN, timed. Run it twice:

    # 1. An unchanged tree: on main, against HEAD (a clean tree: an A/A check).
    #    Every failure is a false positive. --busy starts one other CPU-bound process.
    python scripts/gate_false_positives.py ab --checks 20 --base HEAD --busy \\
        --work results/gate-ab-same

    # 2. A real 10% slowdown, committed on a branch, against main: every pass is a miss.
    git switch -c slow-10 main   # then make mlp_gan's torch step do 10% more work: in
    #    implementations/torch/mlp_gan.py, give MLPGANAdapter (import time) this method,
    #    which spins for a tenth of the step's own time after it (10% more CPU work):
    #        def train_step(self, staged) -> None:
    #            start = time.perf_counter()
    #            super().train_step(staged)
    #            spent = time.perf_counter() - start
    #            while time.perf_counter() - start < 1.1 * spent:
    #                pass
    git commit -am "10% slower mlp_gan step in torch"
    python scripts/gate_false_positives.py ab --checks 20 --base main --busy \\
        --work results/gate-ab-slow

    Target: 0 of 20 failures on the unchanged tree, at least 19 of 20 on the branch.
    `--summarise` prints the summary of the checks finished so far, running nothing. So that
    both series meet the same hours, alternate them one check at a time from two worktrees
    (git worktree add), each with --busy: `--checks i` runs the series up to its i-th check.
    Do not run the two series at once as each other's neighbour: each pair starts two
    workers at once, so a series is a bursty neighbour of up to three busy processes, not one.

`baseline`: the baseline-file check. The same quick benchmark runs N times into
WORK/run-00 .. run-NN; a baseline from the first K runs is compared with every later one.
Throughput and memory are advisory there, so the script counts their advisory regressions.

    python scripts/gate_false_positives.py baseline --runs 11 --work /tmp/gate-fp

A run whose job crashed is counted apart: that is the tree failing, not the gate misjudging.

`collect`: the finished checks of one or more series in two files, for the
measurements log (docs/measurements.md) and for `resample`:

    python scripts/gate_false_positives.py collect "unchanged tree (A/A)" results/gate-ab-same \\
        "10% slower torch step" results/gate-ab-slow --prefix docs/measurements/gate-ab-rounds

`resample`: what the A/B check's rule would decide on the pairs the `ab` mode measured. Each
simulated check draws its pairs, with replacement, from the measured pairs of each key of one
series and runs them through bench.checks.ab_check's own screen, confirmation and test, so
settings (--confirm-pairs) can be compared without rerunning the machine. Drawing pairs
independently ignores what the pairs of one check share (a slow hour), so it is a prediction;
`ab` is the measurement.

    python scripts/gate_false_positives.py resample \\
        docs/measurements/gate-ab-fastest-round-pairs.csv --confirm-pairs 5,10
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from bench.checks.ab_check import KeySamples, Measured, Pair, Settings, screen_confirm_decide
from bench.checks.baseline import (
    CheckResult,
    check,
    compact,
    comparison_table,
    make_baseline,
    write_baseline,
)
from bench.jobs import Job
from bench.records import load_frame
from bench.report.formatting import to_markdown

GAN_BENCH = [sys.executable, "-m", "bench.cli"]
AB_REPORT = "ab-check.md"
TIMING_FILE = "seconds.txt"  # how long the check in that folder took


# --- the A/B check ------------------------------------------------------------------------


@contextmanager
def busy(enabled: bool):
    """One other CPU-bound process for as long as the block runs (`yes`, not Python)."""
    proc = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) if enabled else None
    try:
        yield
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()


def ab_verdict(folder: Path) -> str | None:
    """passed, FAILED, or None when the check in `folder` did not finish."""
    report = folder / AB_REPORT
    if not report.exists():
        return None
    return "FAILED" if "A/B check FAILED" in report.read_text() else "passed"


def ab_check(folder: Path, args: argparse.Namespace) -> None:
    """One A/B check into `folder`, unless one finished there; its duration is kept."""
    if ab_verdict(folder) is not None:
        return
    start = time.monotonic()
    subprocess.run([*GAN_BENCH, "check", "--base", args.base, "--models", args.models,
                    "--frameworks", args.frameworks, "--profile", "quick", "--pairs",
                    str(args.pairs), "--confirm-pairs", str(args.confirm_pairs),
                    "--out", str(folder)])
    if ab_verdict(folder) is not None:
        (folder / TIMING_FILE).write_text(f"{time.monotonic() - start:.1f}\n")


def pair_ratios(pairs: pd.DataFrame) -> pd.Series:
    """Each pair's ratio: its own column, or head/base in files written before it had one."""
    return pairs["ratio"] if "ratio" in pairs else pairs["head"] / pairs["base"]


def pair_noise(folders: list[Path]) -> str:
    """The scatter of the log ratio over one check's pairs, per key: what bounds the power."""
    spreads = []
    for folder in folders:
        if (folder / "ab-pairs.csv").exists():
            pairs = pd.read_csv(folder / "ab-pairs.csv")
            logs = np.log(pair_ratios(pairs))
            spreads += logs.groupby(pairs["variant"]).std().tolist()
    if not spreads:
        return ""
    return (f"; log(ratio) scatters with a standard deviation of {np.median(spreads):.2f} "
            f"over one check's pairs (median of {len(spreads)} keys x checks, "
            f"{min(spreads):.2f} to {max(spreads):.2f})")


def checked(folders: list[Path], args: argparse.Namespace) -> str:
    """What the finished checks compared, read from their own files (so --summarise need not
    repeat the options they ran with); the command line's for checks still to run."""
    pairs = [f / "ab-pairs.csv" for f in folders if (f / "ab-pairs.csv").exists()]
    if not pairs:
        return f"against {args.base} ({args.models}; {args.frameworks})"
    first = pd.read_csv(pairs[0])
    header = (pairs[0].parent / AB_REPORT).read_text().splitlines()[0]
    return (f"({header.removeprefix('A/B check: ')}; models {','.join(first['model'].unique())}; "
            f"frameworks {','.join(first['framework'].unique())})")


def ab_main(args: argparse.Namespace) -> int:
    folders = [args.work / f"check-{i:02d}" for i in range(args.checks)]
    if not args.summarise:
        with busy(args.busy):
            for folder in folders:
                ab_check(folder, args)
    verdicts = [ab_verdict(f) for f in folders]
    seconds = [float((f / TIMING_FILE).read_text()) for f in folders
               if (f / TIMING_FILE).exists()]
    failed = sum(v == "FAILED" for v in verdicts)
    unfinished = sum(v is None for v in verdicts)
    took = (f"one check took {statistics.median(seconds) / 60:.1f} min (median of "
            f"{len(seconds)}, {min(seconds) / 60:.1f} to {max(seconds) / 60:.1f})"
            if seconds else "no check finished")
    print(f"A/B checks {checked(folders, args)}, "
          f"{'beside `yes`' if args.busy else 'no neighbour started by this script'}: "
          f"{failed} of "
          f"{len(folders) - unfinished} failed, {unfinished} did not finish; {took}"
          f"{pair_noise(folders)}")
    return 0


def collect_main(args: argparse.Namespace) -> int:
    """Every finished check of each series in one table, and every pair in another:
    <prefix>-checks.csv (one row per check and key, with how long the check took and when it
    started, UTC) and <prefix>-pairs.csv, the files `resample` reads."""
    checks, pairs = [], []
    for name, work in zip(args.series[::2], args.series[1::2], strict=True):
        for folder in sorted(Path(work).glob("check-*")):
            if ab_verdict(folder) is None:
                continue
            label = {"series": name, "check": folder.name}
            took = (folder / TIMING_FILE).stat()
            seconds = float((folder / TIMING_FILE).read_text())
            started = pd.Timestamp(took.st_mtime - seconds, unit="s").strftime("%H:%M")
            table = pd.read_csv(folder / "ab-check.csv")
            checks.append(table.assign(seconds=seconds, **{"started (UTC)": started}, **label))
            pairs.append(pd.read_csv(folder / "ab-pairs.csv").assign(**label))
    for rows, kind in ((checks, "checks"), (pairs, "pairs")):
        frame = pd.concat(rows, ignore_index=True)
        front = ["series", "check"]
        frame[front + [c for c in frame.columns if c not in front]].to_csv(
            f"{args.prefix}-{kind}.csv", index=False)
    print(f"{len(checks)} checks, {sum(map(len, pairs))} pairs: {args.prefix}-checks.csv, "
          f"{args.prefix}-pairs.csv")
    return 0


# --- the A/B check's rule on resampled pairs ------------------------------------------------


def resampled_check(pools: dict[str, np.ndarray], settings: Settings,
                    rng: np.random.Generator) -> bool:
    """One simulated check of the keys in `pools` (rows of measured base, head, ratio): failed?"""
    samples = {key: KeySamples(Job(suite="throughput", model=key, framework="torch"))
               for key in pools}

    def draw(keys: set[str], pairs: int) -> None:
        for key in keys:
            for base, head, ratio in pools[key][rng.integers(len(pools[key]), size=pairs)]:
                samples[key].add(Pair(Measured(base), Measured(head), ratio))

    draw(set(pools), settings.pairs)
    return any(row.fails for row in screen_confirm_decide(samples, settings, draw))


def resample_main(args: argparse.Namespace) -> int:
    pairs = pd.concat([pd.read_csv(path) for path in args.pairs_csv])
    series = pairs["series"] if "series" in pairs else pd.Series("measured", index=pairs.index)
    rng = np.random.default_rng(args.seed)
    rows = []
    for name, measured in pairs.groupby(series, sort=False):
        key = measured["model"] + "/" + measured["variant"].astype(str) + "/" + measured["mode"]
        measured = measured.assign(ratio=pair_ratios(measured))
        pools = {k: g[["base", "head", "ratio"]].to_numpy(float)
                 for k, g in measured.groupby(key)}
        logs = np.log(measured["ratio"])
        for confirm in args.confirm_pairs:
            settings = Settings(pairs=args.pairs, confirm_pairs=confirm)
            failed = sum(resampled_check(pools, settings, rng) for _ in range(args.checks))
            rows.append({"series": name, "keys": len(pools), "measured pairs": len(measured),
                         "log(ratio) mean": round(logs.mean(), 3),
                         "log(ratio) SD": round(logs.std(), 3), "pairs": args.pairs,
                         "confirmation pairs": confirm,
                         f"checks failed of {args.checks}": failed})
    print(to_markdown(pd.DataFrame(rows)))
    return 0


# --- the baseline-file check --------------------------------------------------------------


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
    print(f"--- {run_dir.name}: {result.summary()}\n{shared}\n{to_markdown(table)}", flush=True)


def baseline_main(args: argparse.Namespace) -> int:
    runs = [args.work / f"run-{i:02d}" for i in range(args.runs)]
    for run_dir in runs:
        bench_run(run_dir, args.suites.split(","), args.models)
    pooled, checked = runs[:args.baseline_runs], runs[args.baseline_runs:]
    baseline = write_baseline(make_baseline(pooled), args.work / f"baseline-{len(pooled)}.json")
    results = [check(run_dir, baseline) for run_dir in checked]
    for run_dir, result in zip(checked, results, strict=True):
        show(run_dir, result)
    failed = sum(bool(result.failed) for result in results)
    advised = sum(bool(result.advised) for result in results)
    crashed = sum(result.counts()["missing"] > 0 for result in results)
    comparisons = sum(result.counts()[s] for result in results
                      for s in ("REGRESSED", "ok", "improved"))
    flagged = sum(result.counts()["REGRESSED"] for result in results)
    print(f"false positives: {failed} of {len(results)} checks of an unchanged tree failed; "
          f"{advised} had an advisory regression ({flagged} of {comparisons} comparisons "
          f"flagged); {crashed} runs lost a job")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    ab = modes.add_parser("ab", help="N A/B checks of this tree against --base")
    ab.add_argument("--checks", type=int, default=20)
    ab.add_argument("--base", default="HEAD", help="git ref (HEAD on a clean tree: A/A)")
    ab.add_argument("--models", default="mlp_gan,dcgan")
    ab.add_argument("--frameworks", default="torch,tf")
    ab.add_argument("--pairs", type=int, default=Settings.pairs)
    ab.add_argument("--confirm-pairs", type=int, default=Settings.confirm_pairs)
    ab.add_argument("--busy", action="store_true",
                    help="run one other CPU-bound process throughout")
    ab.add_argument("--work", type=Path, default=Path("results/gate-ab"))
    ab.add_argument("--summarise", action="store_true",
                    help="run nothing: summarise the checks WORK holds so far")
    ab.set_defaults(main=ab_main)
    collect = modes.add_parser("collect", help="the finished checks of series in two CSVs")
    collect.add_argument("series", nargs="+",
                         help="pairs of a series' name and its WORK folder: NAME WORK ...")
    collect.add_argument("--prefix", required=True,
                         help="writes PREFIX-checks.csv and PREFIX-pairs.csv")
    collect.set_defaults(main=collect_main)
    sim = modes.add_parser("resample", help="the A/B rule on resampled measured pairs")
    sim.add_argument("pairs_csv", type=Path, nargs="+",
                     help="ab-pairs.csv files (one series each) or a file with a series column")
    sim.add_argument("--checks", type=int, default=1000)
    sim.add_argument("--pairs", type=int, default=Settings.pairs)
    sim.add_argument("--confirm-pairs", type=lambda text: [int(n) for n in text.split(",")],
                     default=[Settings.confirm_pairs], help="comma-separated: each is tried")
    sim.add_argument("--seed", type=int, default=0)
    sim.set_defaults(main=resample_main)
    base = modes.add_parser("baseline", help="N runs checked against a baseline of the first K")
    base.add_argument("--runs", type=int, default=11, help="runs in all; the first K are the "
                                                           "baseline")
    base.add_argument("--work", type=Path, default=Path("results/gate-fp"))
    base.add_argument("--baseline-runs", type=int, default=1,
                      help="the first K runs make the baseline (pooled), the rest are checked")
    base.add_argument("--models", default="mlp_gan")
    base.add_argument("--suites", default="throughput")
    base.set_defaults(main=baseline_main)
    args = parser.parse_args()
    return args.main(args)


if __name__ == "__main__":
    sys.exit(main())
