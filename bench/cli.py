"""The `gan-bench` command line. Exit 0 on success, 1 when a check or a job fails, 2 on bad input.

Bad input prints one line naming the problem and the fix, never a traceback. The CLI itself
imports no framework: every model runs in a worker process.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bench import registry
from bench.errors import UsageError
from bench.fresh_process import WAIT_POLICIES
from bench.profiles import PROFILE_NAMES

if TYPE_CHECKING:
    from bench.runner import RunOptions, RunSummary
    from bench.suite import Request

#: One thread per worker: on a machine whose cores another process shares, a second thread
#: waits at every barrier for a core it does not hold (README, "Timings that hold on a busy
#: machine").
DEFAULT_THREADS = 1
EXIT_FAILED = 1
EXIT_USAGE = 2
DEVICES = ("cpu", "cuda")  # what --device and parity's --devices name


class Cli(click.Group):
    """Turns every kind of bad input into one line on stderr and exit code 2."""

    def main(self, args=None, prog_name=None, **extra):  # noqa: ANN001 - click's signature
        try:
            code = super().main(args, prog_name, standalone_mode=False, **extra)
        except (click.UsageError, click.BadParameter) as exc:
            hint = f" (see {exc.ctx.command_path} --help)" if exc.ctx else ""
            click.echo(f"gan-bench: error: {exc.format_message()}{hint}", err=True)
            sys.exit(EXIT_USAGE)
        except UsageError as exc:
            click.echo(f"gan-bench: error: {exc}", err=True)
            sys.exit(EXIT_USAGE)
        except click.Abort:
            click.echo("gan-bench: interrupted; finished jobs are saved, rerun with --resume",
                       err=True)
            sys.exit(130)
        sys.exit(code or 0)


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gan-bench")
def cli() -> None:
    """Benchmark GAN implementations in PyTorch and TensorFlow, proven to be the same function."""


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_command(as_json: bool) -> None:
    """Every framework with its modes, every (model, framework) pair and whether its
    framework is installed, and every suite."""
    listing = {"frameworks": _framework_rows(), "adapters": _adapter_rows(),
               "suites": _suite_rows()}
    if as_json:
        click.echo(json.dumps(listing, indent=2))
        return
    adapters = [{"model": row["model"], "framework": row["framework"],
                 "installed": "yes" if row["installed"] else "no", "source": row["source"],
                 "notes": _adapter_note(row)} for row in listing["adapters"]]
    frameworks = [{**row, "modes": ", ".join(row["modes"]),
                   "default mode": ", ".join(f"{d}: {m}" for d, m in row["default mode"].items())}
                  for row in listing["frameworks"]]
    for rows in (frameworks, adapters, listing["suites"]):
        click.echo(_text_table(rows) + "\n")


def _text_table(rows: list[dict[str, Any]]) -> str:
    """Left-aligned columns as wide as their widest cell, two spaces apart."""
    widths = {key: max(len(key), *(len(str(row[key])) for row in rows)) for key in rows[0]}
    lines = ["  ".join(f"{key:<{w}}" for key, w in widths.items())]
    lines += ["  ".join(f"{row[key]!s:<{w}}" for key, w in widths.items()) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def _framework_rows() -> list[dict[str, Any]]:
    """Each framework's modes and its default mode per device (the last: any other)."""
    rows = []
    for name in registry.frameworks():
        fw = registry.framework(name)
        defaults = {**fw.device_default_modes, "other devices": fw.default_mode}
        rows.append({"framework": name, "modes": list(fw.mode_names()),
                     "default mode": defaults, "installed": fw.installed()})
    return rows


def _adapter_note(row: dict[str, Any]) -> str:
    if not row["installed"]:
        return registry.framework(row["framework"]).install
    return "" if row["quality_suites"] else "declares no quality runs (quality_steps)"


def _adapter_rows() -> list[dict[str, Any]]:
    return [{"model": entry.model, "framework": entry.framework,
             "installed": entry.installed(), "source": entry.source,
             "quality_suites": bool(registry.family_config(entry.model).quality_steps)}
            for entry in registry.adapters()]


def _suite_rows() -> list[dict[str, str]]:
    return [{"suite": entry.name, "source": entry.source}
            for entry in registry.suites().values()]


def _modes(text: str | None, frameworks: list[str]) -> tuple[str, ...]:
    from bench.framework import check_requested_modes

    modes = registry.split_list(text)
    check_requested_modes(modes, [registry.framework(name) for name in frameworks])
    return modes


def _batch_sizes(text: str | None) -> tuple[int, ...]:
    sizes = registry.split_list(text)
    if not all(b.isdigit() and int(b) > 0 for b in sizes):
        raise UsageError(f"--batch-sizes takes positive integers, e.g. 16,64; got {text!r}")
    return tuple(int(b) for b in sizes)


def build_run(suites: tuple[str, ...], **options: Any) -> RunOptions:
    """The one RunOptions a `run` or `compare` command line asks for (click's keywords)."""
    from bench.runner import RunOptions

    for name in suites:
        registry.load_suite(name)
    return RunOptions(suites, _request(options), out=options["out"], resume=options["resume"],
                      executor=options["executor"], workers=options["workers"],
                      address=options["address"])


def _request(options: dict[str, Any]) -> Request:
    from bench.suite import Request

    _use_data_dir(options["data_dir"])
    threads = options["threads"] or DEFAULT_THREADS
    devices = DEVICES if options["device"] == "auto" else (options["device"],)
    models = registry.parse_models(options["models"])
    frameworks = registry.parse_frameworks(options["frameworks"])
    if not options["frameworks"]:  # the installed frameworks that implement every model asked
        frameworks = [fw for fw in frameworks
                      if all(registry.implements(m, fw) for m in models)] or frameworks
    return Request(models=tuple(models),
                   frameworks=tuple(frameworks),
                   devices=devices, profile=options["profile"], seeds=options["seeds"],
                   threads=threads, wait_policy=options["wait_policy"],
                   timeout_s=options["timeout"],
                   fid_inception=options["fid_inception"],
                   modes=_modes(options["modes"], frameworks),
                   batch_sizes=_batch_sizes(options["batch_sizes"]),
                   steps=options["steps"] or 0, only=_only(options["only"]))


def _only(text: str | None) -> tuple[tuple[str, str], ...]:
    pairs = registry.split_list(text)
    if not all(p.count("=") == 1 and all(p.split("=")) for p in pairs):
        raise UsageError(f"--only takes KEY=VALUE pairs of a job's config, e.g. "
                         f"dataset=grid25,packing=1; got {text!r}")
    return tuple(tuple(p.split("=")) for p in pairs)


def _use_data_dir(data_dir: Path | None) -> None:
    from bench.data import MNIST_ENV

    if data_dir is None:
        return
    if not data_dir.exists():
        raise UsageError(f"--data-dir {data_dir} does not exist; give the folder holding "
                         "MNIST's files")
    os.environ[MNIST_ENV] = str(data_dir.resolve())  # workers inherit it


def selection_options(func):
    """Which jobs, and how each one runs: the options `run`, `compare` and `check` share."""
    choice, path = click.Choice, click.Path(path_type=Path)
    return _with_options(func, [
        click.option("--models", help="Comma-separated models (default: all)."),
        click.option("--frameworks", help="Comma-separated frameworks, the reference of "
                                          "comparisons first (default: every installed one "
                                          "that implements every model asked for)."),
        click.option("--device", type=choice([*DEVICES, "auto"]), default="cpu",
                     show_default=True,
                     help="auto: cpu, and cuda where present (else recorded as skipped)."),
        click.option("--profile", type=choice(PROFILE_NAMES), default="quick", show_default=True),
        click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True),
        click.option("--threads", type=click.IntRange(min=1),
                     help=f"CPU threads per worker, the same for both frameworks (default: "
                          f"{DEFAULT_THREADS}: timings that hold on a shared machine; give "
                          "the cores of a dedicated one for its full speed)."),
        click.option("--wait-policy", type=choice(WAIT_POLICIES), default="passive",
                     show_default=True,
                     help="OpenMP threads at a barrier: sleep (passive) or spin (active; "
                          "faster on an idle machine, collapses on a shared one)."),
        click.option("--timeout", type=click.FloatRange(min=1), default=1800, show_default=True,
                     help="Seconds a job's worker may go without progress (a training job "
                          "reports its steps) before it is killed and recorded as an error."),
        click.option("--data-dir", type=path,
                     help="Folder with MNIST's IDX files or mnist.npz (for --profile full)."),
        click.option("--fid-inception", is_flag=True,
                     help="Quality suites: also FID on Inception features (needs its weights)."),
        click.option("--modes", help="Timing suites: comma-separated modes instead of the "
                                     "profile's: a mode (eager, compiled, ...), "
                                     "FRAMEWORK:MODE, or default (each framework's); "
                                     "`gan-bench list` shows every framework's modes."),
        click.option("--batch-sizes", help="Throughput: comma-separated batch sizes instead "
                                           "of the profile's."),
        click.option("--steps", type=click.IntRange(min=1),
                     help="Quality suites: train this many steps instead of the profile's, "
                          "evaluated at the profile's interval."),
        click.option("--only", help="Only the jobs whose config has these values: "
                                    "comma-separated KEY=VALUE, e.g. dataset=grid25,packing=1."),
    ])


def run_options(func):
    """The selection options, and where the run's jobs go and its records land."""
    choice, path = click.Choice, click.Path(path_type=Path)
    return selection_options(_with_options(func, [
        click.option("--out", type=path, help="Run folder (default: results/<run-id>)."),
        click.option("--executor", type=choice(["local", "ray"]), default="local",
                     show_default=True),
        click.option("--address", help="Ray cluster address (with --executor ray)."),
        click.option("--jobs", "workers", type=click.IntRange(min=1), default=1,
                     show_default=True, help="Jobs in parallel (timings are cleanest with 1)."),
        click.option("--resume", is_flag=True,
                     help="Skip the jobs the run folder already finished."),
    ]))


def _with_options(func, options: list) -> Any:
    for option in reversed(options):
        func = option(func)
    return func


def _execute(options: RunOptions) -> RunSummary:
    from bench.progress import RunProgress
    from bench.records import load_frame
    from bench.report.benchmark_json import FILE as BENCHMARK_FILE
    from bench.report.benchmark_json import write_pytest_benchmark_json
    from bench.runner import execute, prepare

    prepared = prepare(options)
    with RunProgress(len(prepared.jobs), done=prepared.resumed) as shown:
        summary = execute(prepared, on_job=shown.job_finished, on_progress=shown.job_progress)
    write_pytest_benchmark_json(load_frame(summary.run_dir), summary.run_dir / BENCHMARK_FILE)
    click.echo(f"run folder: {summary.run_dir}  ({summary.jobs} jobs, {summary.resumed} "
               f"resumed, {len(summary.errors)} failed)")
    for error in summary.errors:
        click.echo(f"  failed: {error}", err=True)
    return summary


@cli.command("run")
@click.argument("suites", nargs=-1, required=True)
@run_options
def run_command(suites: tuple[str, ...], **options: Any) -> int:
    """Run benchmark SUITES (throughput, ...) and write a run folder with its report."""
    from bench.report.pages import write_report

    summary = _execute(build_run(suites, **options))
    report = write_report(summary.run_dir, ("md", "html", "csv"))
    click.echo(f"report: {report}")
    return EXIT_FAILED if summary.errors else 0


@cli.command("compare")
@click.option("--suites", "suite_names", default="throughput", show_default=True,
              help="The suites to run; the first with a round timer is timed side by side.")
@click.option("--pairs", type=click.IntRange(min=1), default=5, show_default=True,
              help="Sets of fresh workers per key, timed side by side (the interval is over "
                   "them).")
@run_options
def compare_command(suite_names: str, pairs: int, **options: Any) -> int:
    """Run the suites for each framework, then time the frameworks side by side and print
    them as used (each in its default mode), at their fastest, and eager (a diagnostic),
    each against the first framework, with the ratio's interval over pairs. Writes
    compare.csv and compare.md in the run folder; its report leads with them."""
    from bench.report.comparison import comparison_table
    from bench.report.pages import write_report
    from bench.report.summary import COMPARE_FILE
    from bench.runner import suite_jobs

    run = build_run(registry.split_list(suite_names), **options)
    frameworks = list(run.request.frameworks)
    if len(frameworks) < 2:
        raise UsageError("compare needs two frameworks or more, e.g. --frameworks torch,tf")
    timing = _timing_suite(run.suites)
    summary = _execute(run)
    sides = _side_by_side(suite_jobs(timing, run.request), pairs)
    table = comparison_table(sides, frameworks)
    table.to_csv(summary.run_dir / COMPARE_FILE, index=False)
    text = _compare_markdown(table)
    (summary.run_dir / COMPARE_FILE).with_suffix(".md").write_text(text + "\n")
    # The summary leads with the table; the figures end with its as-used ratios.
    write_report(summary.run_dir, ("md", "html", "csv"))
    click.echo(text)
    return EXIT_FAILED if summary.errors else 0


def _timing_suite(names: tuple[str, ...]) -> Any:
    for name in names:
        suite = registry.load_suite(name)
        if hasattr(suite, "round_timer"):
            return suite
    raise UsageError(f"none of --suites {','.join(names)} has a round timer to time side by "
                     "side; include a timing suite (throughput has one)")


def _side_by_side(jobs: list, pairs: int) -> dict:
    import numpy as np

    from bench.side_by_side import time_side_by_side

    def show(index: int, key: tuple, sides: dict) -> None:
        rates = ", ".join(f"{fw} {mode} {np.median(s.turns[-1]):.3g}" if not s.error
                          else f"{fw} {mode} failed" for (fw, mode), s in sides.items())
        click.echo(f"  pair {index + 1}: {'/'.join(map(str, key))}: {rates} steps/s")

    return time_side_by_side(jobs, pairs, on_pair=show)


def _compare_markdown(table) -> str:  # noqa: ANN001 - a DataFrame
    from bench.report.comparison import COMPARISONS
    from bench.report.formatting import to_markdown

    if table.empty:
        return "(no two frameworks ran the same key: nothing to compare)"
    parts = []
    for comparison, meaning in COMPARISONS.items():
        rows = table[table["comparison"] == comparison].drop(columns="comparison")
        parts.append(f"{comparison.replace('_', ' ')}: {meaning}\n\n{to_markdown(rows)}")
    return "\n\n".join(parts)


@cli.command("parity")
@click.option("--models", help="Comma-separated models (default: all).")
@click.option("--frameworks", help="The reference framework first, then the ones checked "
                                   "against it (default: every installed one).")
@click.option("--devices", default="cpu,cpu", show_default=True,
              help="The reference's device, then the checked side's: --frameworks torch,torch "
                   "--devices cpu,cuda checks torch's cuda path against its CPU path.")
@click.option("--trajectory", type=click.IntRange(min=0), default=0,
              help="Also compare the loss curves over this many training steps (check 4).")
def parity_command(models, frameworks, devices, trajectory) -> int:
    """Transfer weights from the reference framework to each other one and compare outputs
    and training steps, for every family both implement."""
    from bench.parity import run_parity

    names = registry.parse_models(models)
    fws = registry.parse_frameworks(frameworks)
    sides = registry.split_list(devices)
    if unknown := [d for d in sides if d not in DEVICES]:
        raise UsageError(f"unknown device {unknown[0]!r}; use {' or '.join(DEVICES)}")
    if len(sides) != 2 or len(fws) < 2 or (len(fws) > 2 and sides[0] != sides[1]):
        raise UsageError("parity compares a reference with other frameworks, e.g. "
                         "--frameworks torch,tf,jax, or two devices of two sides "
                         "(--frameworks torch,torch --devices cpu,cuda)")
    if len(fws) == 2 and (fws[0], sides[0]) == (fws[1], sides[1]):
        raise UsageError(f"both sides are {fws[0]} on {sides[0]}; give two frameworks "
                         "or two devices")
    click.echo(f"{'model':<16}{'variant':<14}{'check':<38}{'worst':>10}{'tolerance':>11}  "
               "result  (where)")

    def show(r) -> None:
        click.echo(f"{r.model:<16}{r.variant:<14}{r.check:<38}{r.worst:>10.2e}{r.tolerance:>11.0e}"
                   f"  {'ok' if r.ok else 'FAIL':<6}  ({r.where})")

    results = []
    for other in fws[1:]:
        pair = (fws[0], other)
        both = [m for m in names if all(registry.implements(m, fw) for fw in pair)]
        if len(fws) > 2 or len(set(pair)) > 1:
            click.echo(f"-- {other} against {fws[0]}" + (
                f" (not both implemented: {', '.join(sorted(set(names) - set(both)))})"
                if set(names) - set(both) else ""))
        results += run_parity(both, pair, trajectory, on_result=show,
                              devices=(sides[0], sides[1]))
    failed = [r for r in results if not r.ok]
    click.echo(f"parity: {len(results) - len(failed)} of {len(results)} checks passed")
    return EXIT_FAILED if failed else 0


@cli.command("report")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "formats", default="md,html,csv,parquet", show_default=True,
              help="Comma-separated: md, html, csv, parquet.")
@click.option("--out", type=click.Path(path_type=Path),
              help="With several run folders: where their history page goes.")
def report_command(run_dirs: tuple[Path, ...], formats: str, out: Path | None) -> None:
    """Write report.md (and html, csv, parquet) for a run folder; for several, their history."""
    from bench.report.pages import parse_formats, write_report

    if len(run_dirs) > 1:
        _write_history(run_dirs, out)
        return
    report = write_report(run_dirs[0], parse_formats(formats))
    click.echo(report.read_text())


@cli.command("history")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Folder for history.html, history.md, history.csv and their figures.")
def history_command(run_dirs: tuple[Path, ...], out: Path) -> None:
    """One page with each throughput metric across run folders, in time order, with its
    interval; runs whose check said REGRESSED are marked."""
    _write_history(run_dirs, out)


def _write_history(run_dirs: tuple[Path, ...], out: Path | None) -> None:
    from bench.report.history import write_history

    if out is None:
        raise UsageError("several run folders make a history page: give --out DIR for it")
    page = write_history(list(run_dirs), out)
    click.echo(f"history: {page} and {page.with_suffix('.html')}")


@cli.command("check")
@click.argument("run_dir", type=click.Path(path_type=Path), required=False)
@click.option("--baseline", "baseline_path", type=click.Path(path_type=Path),
              help="With RUN_DIR: the baseline JSON written by `gan-bench baseline`.")
@click.option("--all", "show_all", is_flag=True, help="Show every comparison, not only failures.")
@click.option("--allow-missing", is_flag=True,
              help="With RUN_DIR: pass baseline keys the run lacks (a run of a subset).")
@click.option("--base", "base_ref", metavar="REF",
              help="A/B check against this git ref (default: the merge base with main).")
@click.option("--suite", "ab_suite", default="throughput", show_default=True,
              help="A/B: the timing suite (one with a round_timer) whose jobs are compared.")
@click.option("--pairs", type=click.IntRange(min=2), default=5, show_default=True,
              help="A/B: base/head pairs per key (fewer than 5 cannot show a slowdown at "
                   "alpha 0.05: a smoke test only).")
@click.option("--confirm-pairs", type=click.IntRange(min=1), default=10, show_default=True,
              help="A/B: more pairs for each key the first pairs suspect, before it may fail.")
@click.option("--min-effect", type=click.FloatRange(min=0, max=0.9), default=0.05,
              show_default=True, help="A/B: the smallest slowdown that may fail (0.05 = 5%).")
@click.option("--alpha", type=click.FloatRange(min=0, max=0.5, min_open=True), default=0.05,
              show_default=True, help="A/B: family-wise error over the keys (Holm).")
@click.option("--max-seconds-per-key", type=click.FloatRange(min=0), default=120.0,
              show_default=True,
              help="A/B: the most seconds of extra pairs for a key whose pair scatter hides a "
                   "10% slowdown (0: none; the report then says which keys cannot see it).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="A/B: report folder (default: results/ab-<run-id>).")
@selection_options
def check_command(run_dir: Path | None, baseline_path: Path | None, show_all: bool,
                  allow_missing: bool, **options: Any) -> int:
    """Gate a change: an A/B check against a git ref, or RUN_DIR against a baseline file.

    Without RUN_DIR: the A/B check. REF's tree (default: the merge base with main) is checked
    out in a temporary git worktree. Per pair, each job runs in a fresh worker per tree, both
    alive, timing one round each in turn; the pair's ratio is the median of the turns' ratios
    head/base. A key fails only when its pairs' ratios are significantly below 1 - min-effect
    after a confirmation rerun, Holm-corrected over keys. Each key reports its pair scatter
    and the smallest slowdown it can see at 90% power; one that cannot see 10% gets more
    pairs, up to --max-seconds-per-key, or says so. A dirty tree is fine: the head side
    runs the working tree as it is. Report: OUT/ab-check.md and .csv.

    With RUN_DIR --baseline FILE: seeded quality metrics are gated by their tolerances;
    throughput and peak memory are advisory (reported, never failing: a run on another day
    is not comparable within 10%). The full table goes to RUN_DIR/check.md and check.csv.
    """
    if run_dir is None:
        if baseline_path is not None or allow_missing:
            raise UsageError("--baseline and --allow-missing go with RUN_DIR; for the A/B "
                             "check give --base REF without them")
        return _ab_check(**options)
    _only_with_base(click.get_current_context())
    if baseline_path is None:
        raise UsageError(f"check {run_dir} needs --baseline FILE; or drop RUN_DIR for the A/B "
                         "check against a git ref (--base REF)")
    return _baseline_check(run_dir, baseline_path, show_all, allow_missing)


def _only_with_base(ctx: click.Context) -> None:
    """The A/B options mean nothing against a baseline file: say so rather than ignore them."""
    given = [p.opts[0] for p in ctx.command.params
             if p.name not in ("run_dir", "baseline_path", "show_all", "allow_missing")
             and ctx.get_parameter_source(p.name) != click.core.ParameterSource.DEFAULT]
    if given:
        raise UsageError(f"{given[0]} applies to the A/B check (without RUN_DIR); a check "
                         "against a baseline judges the run as it was made")


def _baseline_check(run_dir: Path, baseline_path: Path, show_all: bool,
                    allow_missing: bool) -> int:
    from bench.checks.baseline import ADVISORY_NOTE, check, compact, comparison_table
    from bench.report.formatting import to_markdown
    from bench.report.pages import write_report

    result = check(run_dir, baseline_path, allow_missing)
    table = comparison_table(result)
    (Path(run_dir) / "check.md").write_text(to_markdown(table) + "\n")
    table.to_csv(Path(run_dir) / "check.csv", index=False)  # the verdicts the report reads
    write_report(Path(run_dir), ("md", "html", "csv"))  # its summary now shows the verdict
    shown = table if show_all else table[table["status"].isin(result.failing_statuses | {"new"})]
    if not shown.empty:
        shown, shared = compact(shown)
        click.echo(f"{shared}\n{to_markdown(shown)}" if shared else to_markdown(shown))
    click.echo(f"{result.summary()}\n{ADVISORY_NOTE}")
    return EXIT_FAILED if result.failed else 0


def _ab_check(base_ref: str | None, ab_suite: str, pairs: int, confirm_pairs: int,
              min_effect: float, alpha: float, max_seconds_per_key: float, out_dir: Path | None,
              **selection: Any) -> int:
    from bench.checks import ab_check
    from bench.report.formatting import to_markdown
    from bench.runner import DEFAULT_RESULTS, new_run_id, suite_jobs

    # A killed check still ends its workers and removes its base worktree (the with blocks).
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    request = _request({**selection, "workers": 1})  # one job at a time: timings stay clean
    suite = registry.load_suite(ab_suite)
    if not hasattr(suite, "round_timer"):
        raise UsageError(f"suite {ab_suite!r} offers no round_timer, which the A/B check times; "
                         "give a timing suite with --suite (throughput has one)")
    jobs = suite_jobs(suite, request)
    settings = ab_check.Settings(pairs, confirm_pairs, min_effect, alpha, max_seconds_per_key)

    def show(index: int, job, pair) -> None:  # noqa: ANN001 - the callback's
        sides = [f"{side} " + (f"{m.value:.3g}" if not m.error else m.error)
                 for side, m in (("base", pair.base), ("head", pair.head))]
        click.echo(f"  pair {index + 1}: {job.model}/{job.params.get('variant', '')}/"
                   f"{job.framework}/{job.mode}: {', '.join(sides)} steps/s, "
                   f"ratio {pair.ratio:.3f}")

    result = ab_check.run_check(jobs, base_ref, settings, on_measured=show)
    out = out_dir or DEFAULT_RESULTS / f"ab-{new_run_id()}"
    report = ab_check.write(result, out)
    click.echo(f"{result.header()}\n{to_markdown(ab_check.table(result.rows))}\n"
               f"{result.summary()}\nreport: {report}")
    return EXIT_FAILED if result.failed else 0


@cli.command("baseline")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Baseline JSON to write, e.g. results/baselines/cpu-quick.json.")
def baseline_command(run_dirs: tuple[Path, ...], out: Path) -> None:
    """Write a baseline for `gan-bench check` from one or more clean runs (rounds pooled)."""
    from bench.checks.baseline import make_baseline, write_baseline

    baseline = make_baseline(run_dirs)
    path = write_baseline(baseline, out)
    click.echo(f"baseline: {path} ({len(baseline.entries)} entries, profile {baseline.profile})")


def main() -> None:
    cli.main(prog_name="gan-bench")


if __name__ == "__main__":
    main()
