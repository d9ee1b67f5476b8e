"""The `gan-bench` command line. Exit 0 on success, 1 when a check or a job fails, 2 on bad input.

Bad input prints one line naming the problem and the fix, never a traceback. The CLI itself
imports no framework: every model runs in a worker process.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from bench import registry
from bench.errors import UsageError

PROFILES = ("quick", "standard", "full")
EXIT_FAILED = 1
EXIT_USAGE = 2


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
    """Every (model, framework) pair, and whether its framework is installed."""
    rows = []
    for entry in registry.adapters():
        generates = registry.family_config(entry.model).generates_distribution
        rows.append({
            "model": entry.model, "framework": entry.framework,
            "installed": entry.installed(), "source": entry.source,
            "quality_suites": generates,
        })
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'model':<16}{'framework':<11}{'installed':<11}{'source':<10}notes")
    for row in rows:
        note = "" if row["quality_suites"] else "not a generator: no fid/mode-collapse suites"
        if not row["installed"]:
            note = registry.FRAMEWORK_EXTRAS.get(row["framework"], "framework missing")
        installed = "yes" if row["installed"] else "no"
        click.echo(f"{row['model']:<16}{row['framework']:<11}{installed:<11}"
                   f"{row['source']:<10}{note}")


def _comma_list(text: str | None) -> tuple[str, ...]:
    return tuple(item.strip() for item in (text or "").split(",") if item.strip())


def _modes(text: str | None) -> tuple[str, ...]:
    from bench.adapter import MODES

    modes = _comma_list(text)
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise UsageError(f"unknown mode {unknown[0]!r}; use one or more of {', '.join(MODES)}")
    return modes


def _batch_sizes(text: str | None) -> tuple[int, ...]:
    sizes = _comma_list(text)
    if not all(b.isdigit() and int(b) > 0 for b in sizes):
        raise UsageError(f"--batch-sizes takes positive integers, e.g. 16,64; got {text!r}")
    return tuple(int(b) for b in sizes)


def _request(models: str | None, frameworks: str | None, device: str, profile: str,
             seeds: int, threads: int | None, timeout: float, workers: int = 1,
             data_dir: Path | None = None, fid_inception: bool = False,
             modes: str | None = None, batch_sizes: str | None = None):
    from bench.data import MNIST_ENV
    from bench.suite import Request

    if data_dir is not None:
        if not data_dir.exists():
            raise UsageError(f"--data-dir {data_dir} does not exist; give the folder holding "
                             "MNIST's files")
        os.environ[MNIST_ENV] = str(data_dir.resolve())  # workers inherit it
    devices = ("cpu", "cuda") if device == "auto" else (device,)
    return Request(fid_inception=fid_inception,
        models=tuple(registry.parse_models(models)),
        frameworks=tuple(registry.parse_frameworks(frameworks)),
        devices=devices, profile=profile, seeds=seeds,
        threads=threads or max(1, (os.cpu_count() or 1) // workers),
        timeout_s=timeout, modes=_modes(modes), batch_sizes=_batch_sizes(batch_sizes))


def run_options(func):
    choice, path = click.Choice, click.Path(path_type=Path)
    options = [
        click.option("--models", help="Comma-separated models (default: all)."),
        click.option("--frameworks", default="torch,tf", show_default=True,
                     help="Comma-separated frameworks."),
        click.option("--device", type=choice(["cpu", "cuda", "auto"]), default="cpu",
                     show_default=True,
                     help="auto: cpu, and cuda where present (else recorded as skipped)."),
        click.option("--profile", type=choice(PROFILES), default="quick", show_default=True),
        click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True),
        click.option("--threads", type=click.IntRange(min=1),
                     help="CPU threads per worker, the same for both frameworks "
                          "(default: cores / --jobs)."),
        click.option("--timeout", type=click.FloatRange(min=1), default=1800, show_default=True,
                     help="Seconds before a job's worker is killed and recorded as an error."),
        click.option("--out", type=path, help="Run folder (default: results/<run-id>)."),
        click.option("--executor", type=choice(["local", "ray"]), default="local",
                     show_default=True),
        click.option("--address", help="Ray cluster address (with --executor ray)."),
        click.option("--jobs", "workers", type=click.IntRange(min=1), default=1,
                     show_default=True, help="Jobs in parallel (timings are cleanest with 1)."),
        click.option("--resume", is_flag=True,
                     help="Skip the jobs the run folder already finished."),
        click.option("--data-dir", type=path,
                     help="Folder with MNIST's IDX files or mnist.npz (for --profile full)."),
        click.option("--fid-inception", is_flag=True,
                     help="Quality suites: also FID on Inception features (needs its weights)."),
        click.option("--modes", help="Timing suites: comma-separated modes (eager, compiled, "
                                     "xla) instead of the profile's."),
        click.option("--batch-sizes", help="Throughput: comma-separated batch sizes instead "
                                           "of the profile's."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _progress(total: int):
    """A progress line per job on a terminal; quiet in CI logs (only failures are printed)."""
    count = {"n": 0}
    interactive = sys.stderr.isatty()

    def on_job(job, records) -> None:
        count["n"] += 1
        status = records[0]["status"] if records else "error"
        if interactive or status == "error":
            click.echo(f"[{count['n']}/{total}] {job.label()}: {status}", err=True)

    return on_job


def _execute(suites: tuple[str, ...], request, out, resume, executor, address, workers):
    from bench.benchmark_json import FILE as BENCHMARK_FILE
    from bench.benchmark_json import write_pytest_benchmark_json
    from bench.records import load_frame
    from bench.runner import RunOptions, expand_jobs, run

    options = RunOptions(suites, request, out, resume, executor, workers, address)
    total = len(expand_jobs(options))
    summary = run(options, on_job=_progress(total))
    write_pytest_benchmark_json(load_frame(summary.run_dir), summary.run_dir / BENCHMARK_FILE)
    click.echo(f"run folder: {summary.run_dir}  ({summary.jobs} jobs, {summary.resumed} "
               f"resumed, {len(summary.errors)} failed)")
    for error in summary.errors:
        click.echo(f"  failed: {error}", err=True)
    return summary


@cli.command("run")
@click.argument("suites", nargs=-1, required=True)
@run_options
def run_command(suites, models, frameworks, device, profile, seeds, threads, timeout, out,
                executor, address, workers, resume, data_dir, fid_inception, modes,
                batch_sizes) -> int:
    """Run benchmark SUITES (throughput, ...) and write a run folder with its report."""
    from bench.report import write_report

    for name in suites:
        registry.load_suite(name)
    request = _request(models, frameworks, device, profile, seeds, threads, timeout, workers,
                       data_dir, fid_inception, modes, batch_sizes)
    summary = _execute(suites, request, out, resume, executor, address, workers)
    report = write_report(summary.run_dir, ("md", "html", "csv"))
    click.echo(f"report: {report}")
    return EXIT_FAILED if summary.errors else 0


@cli.command("compare")
@click.option("--suites", "suite_names", default="throughput", show_default=True)
@run_options
def compare_command(suite_names, models, frameworks, device, profile, seeds, threads, timeout,
                    out, executor, address, workers, resume, data_dir, fid_inception, modes,
                    batch_sizes) -> int:
    """Run the suites for each framework and print them side by side, with the ratio."""
    from bench.compare import side_by_side
    from bench.records import load_frame
    from bench.report import markdown_table, write_report

    request = _request(models, frameworks, device, profile, seeds, threads, timeout, workers,
                       data_dir, fid_inception, modes, batch_sizes)
    if len(request.frameworks) < 2:
        raise UsageError("compare needs two frameworks, e.g. --frameworks torch,tf")
    suites = _comma_list(suite_names)
    summary = _execute(suites, request, out, resume, executor, address, workers)
    write_report(summary.run_dir, ("md", "html", "csv"))
    table = side_by_side(load_frame(summary.run_dir), list(request.frameworks))
    table.to_csv(summary.run_dir / "compare.csv", index=False)
    text = markdown_table(table) if not table.empty else "(no throughput rows to compare)"
    (summary.run_dir / "compare.md").write_text(text + "\n")
    click.echo(text)
    return EXIT_FAILED if summary.errors else 0


@cli.command("parity")
@click.option("--models", help="Comma-separated models (default: all).")
@click.option("--frameworks", default="torch,tf", show_default=True,
              help="Reference framework first, then the one checked against it.")
@click.option("--trajectory", type=click.IntRange(min=0), default=0,
              help="Also compare the loss curves over this many training steps (check 4).")
def parity_command(models, frameworks, trajectory) -> int:
    """Transfer weights between frameworks and compare outputs and training steps."""
    from bench.parity import run_parity

    names = registry.parse_models(models)
    fws = registry.parse_frameworks(frameworks)
    if len(fws) != 2:
        raise UsageError("parity compares two frameworks, e.g. --frameworks torch,tf")
    click.echo(f"{'model':<16}{'variant':<14}{'check':<38}{'worst':>10}{'tolerance':>11}  "
               "result  (where)")

    def show(r) -> None:
        click.echo(f"{r.model:<16}{r.variant:<14}{r.check:<38}{r.worst:>10.2e}{r.tolerance:>11.0e}"
                   f"  {'ok' if r.ok else 'FAIL':<6}  ({r.where})")

    results = run_parity(names, (fws[0], fws[1]), trajectory, on_result=show)
    failed = [r for r in results if not r.ok]
    click.echo(f"parity: {len(results) - len(failed)} of {len(results)} checks passed")
    return EXIT_FAILED if failed else 0


@cli.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--format", "formats", default="md,html,csv,parquet", show_default=True,
              help="Comma-separated: md, html, csv, parquet.")
def report_command(run_dir: Path, formats: str) -> None:
    """Write report.md (and html, csv, parquet) for a run folder."""
    from bench.report import parse_formats, write_report

    report = write_report(run_dir, parse_formats(formats))
    click.echo(report.read_text())


@cli.command("check")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--baseline", "baseline_path", type=click.Path(path_type=Path), required=True,
              help="Baseline JSON written by `gan-bench baseline`.")
@click.option("--all", "show_all", is_flag=True, help="Show every comparison, not only failures.")
@click.option("--allow-missing", is_flag=True,
              help="Pass baseline keys the run lacks (for a run of a subset of the models).")
def check_command(run_dir: Path, baseline_path: Path, show_all: bool, allow_missing: bool) -> int:
    """Compare a run with a baseline; exit 1 when a metric regressed or a key is missing.

    Throughput is normalised by the matmul peak measured in each job and must be both worse
    than the tolerance and significantly slower (one-sided Mann-Whitney U over the timed
    rounds). The full table goes to RUN_DIR/check.md.
    """
    from bench.regression import check, compact, comparison_table
    from bench.report import markdown_table

    result = check(run_dir, baseline_path, allow_missing)
    table = comparison_table(result.rows)
    (Path(run_dir) / "check.md").write_text(markdown_table(table) + "\n")
    shown = table if show_all else table[table["status"].isin(result.failing_statuses | {"new"})]
    if not shown.empty:
        shown, shared = compact(shown)
        click.echo(f"{shared}\n{markdown_table(shown)}" if shared else markdown_table(shown))
    click.echo(f"{result.summary()}\nthroughput: change of steps/s per matmul peak, p of a "
               "one-sided Mann-Whitney U over rounds; other metrics: seeded, tolerance alone")
    return EXIT_FAILED if result.failed else 0


@cli.command("baseline")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Baseline JSON to write, e.g. results/baselines/cpu-quick.json.")
def baseline_command(run_dirs: tuple[Path, ...], out: Path) -> None:
    """Write a baseline for `gan-bench check` from one or more clean runs (rounds pooled)."""
    from bench.regression import make_baseline, write_baseline

    baseline = make_baseline(run_dirs)
    path = write_baseline(baseline, out)
    click.echo(f"baseline: {path} ({len(baseline.entries)} entries, profile {baseline.profile})")


def main() -> None:
    cli.main(prog_name="gan-bench")


if __name__ == "__main__":
    main()
