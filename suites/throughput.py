"""Training-step throughput (docs/methodology/timing.md): steps/s, memory, FLOP/s and MFU.

A job times one (model, framework, device, mode, batch size, variant) on one staged batch,
so data loading stays out of the measurement. MFU divides the achieved FLOP/s by a large
float32 matrix product, tying each figure to the machine: on a CPU numpy's, measured once per
run (`run_context`) at the run's threads, the one reference for every row and both
frameworks; on a GPU the framework's own, in the job's worker (its bfloat16 rate beside
it). Rounds whose fastest and slowest differ by more than bench.timing.UNSTABLE_SPREAD flag
the job `unstable` in its records. After the timed rounds, a quarter round runs under the
framework's profiler to say where the time goes (bench.op_profile): the "where the time goes"
table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import registry
from bench.adapter import Adapter, FamilyConfig
from bench.build import Built, build_adapter, memory_in_use_bytes
from bench.data import batches
from bench.errors import UsageError
from bench.framework import modes_to_run
from bench.fresh_process import run_fresh
from bench.jobs import Job
from bench.op_profile import profile_values
from bench.profiles import profile_settings
from bench.records import Measurement
from bench.registry import find
from bench.report.figures import (
    Figure,
    SamplePanel,
    colour,
    framework_legend,
    load_samples,
    pyplot,
    sample_figure,
    save,
)
from bench.report.tables import artifact_rows, framework_sort_key, int_text, ok_rows, text_column
from bench.suite import Artifact, Gate, JobResult, MetricSpec, Request, RoundTimer, workload
from bench.timing import reference_matmul_flops_per_s, time_steps, warm_step

SUITE = "throughput"
KEY_METRIC = "steps_per_s"
ROUND_METRIC = "round_steps_per_s"  # one per timed round: what comparisons resample
PEAK = "matmul_peak_flops_per_s"
PEAK_BF16 = "matmul_peak_bf16_flops_per_s"
SAMPLES = 64  # per (model, framework, variant): the grids of the report
# The profiled round is this fraction of a timed round: the profiler's event processing costs
# about 0.1 ms per op event (seconds for a small model's full round), and shares of time need
# no more steps than that.
PROFILED_FRACTION = 4

RATE, GFLOPS, MIB = "steps/s", "GFLOP/s", "MiB"
# Speed and memory against a baseline from another day are advisory (bench.checks.baseline says
# why): their tolerances say what is worth a look. The speed gate is the A/B check.
METRICS = (
    MetricSpec("steps_per_s", RATE, "higher", label=RATE, lead=True, history=True,
               gate=Gate(relative=0.15, advisory=True), rounds=ROUND_METRIC, per=PEAK,
               work="flops_per_step"),
    MetricSpec(ROUND_METRIC, RATE, "higher", label="round's steps/s"),
    MetricSpec("steps_per_s_iqr", RATE, label="IQR of steps/s"),
    MetricSpec("steps_per_s_mad", RATE, label="MAD of steps/s"),
    MetricSpec("best_steps_per_s", RATE, "higher", label="fastest round"),
    MetricSpec("samples_per_s", "samples/s", "higher", label="samples/s", history=True,
               scales_with="steps_per_s"),
    MetricSpec("first_step_s", "s", "lower", label="first step", history=True),
    MetricSpec("peak_memory_bytes", MIB, "lower", label="peak memory", scale=2**-20,
               history=True, gate=Gate(relative=0.25, advisory=True)),
    MetricSpec("memory_increase_bytes", MIB, "lower", label="memory over import",
               scale=2**-20),
    MetricSpec("flops_per_step", "FLOP", label="FLOPs per step"),
    MetricSpec("achieved_flops_per_s", GFLOPS, "higher", label=GFLOPS, scale=1e-9),
    MetricSpec(PEAK, GFLOPS, label="matmul peak", scale=1e-9),
    MetricSpec(PEAK_BF16, GFLOPS, label="bfloat16 matmul peak", scale=1e-9),
    MetricSpec("framework_matmul_flops_per_s", GFLOPS, label="framework's own matmul",
               scale=1e-9),
    # The run context's matmul rate of each framework: "torch matmul (GFLOP/s)".
    MetricSpec("*_matmul_flops_per_s", GFLOPS, label="* matmul", scale=1e-9),
    MetricSpec("mfu", "%", "higher", label="MFU", scale=100, history=True, best=True,
               scales_with="steps_per_s"),
    MetricSpec("matmul_conv_mfu", "%", "higher", label="matmul+conv MFU", scale=100),
    MetricSpec("matmul_conv_share", "%", label="matmul+conv share", scale=100),
    MetricSpec("optimizer_share", "%", label="optimizer share", scale=100),
    MetricSpec("other_ops_share", "%", label="other ops share", scale=100),
    MetricSpec("outside_ops_share", "%", label="outside ops share", scale=100),
    MetricSpec("profiled_step_s", "s", label="profiled step"),
    MetricSpec("round_spread", "max/min", "lower", label="round spread"),
    MetricSpec("unstable", flag=True, flags_job="round_spread"),
    MetricSpec("params", label="parameters"),
)

@dataclass(frozen=True)
class ThroughputProfile:
    warmup_steps: int
    rounds: int
    min_round_s: float
    batch_sizes: tuple[int, ...]
    #: Whether it times every mode each framework declares; without, each framework's default
    #: only, the way its users train (bench.framework.modes_to_run). Other modes cost a
    #: worker each, and some a compile of minutes on a CPU: the quick profile's budget
    #: (`nox -s bench` within 10 minutes) pays for the as-used comparison alone.
    every_mode: bool
    max_timed_s: float = math.inf  # a slow model times fewer rounds (bench.timing)


PROFILES = {
    # Quick times 21 rounds: on a shared 2-core VM the fastest of 7 moved far more between
    # fresh runs than the fastest of 21 (docs/methodology/timing.md).
    # Rounds are whole steps, so a slower model's run longer: it times fewer (at least 7),
    # as many as fit in 21 x 0.15 s.
    "quick": ThroughputProfile(3, 21, 0.15, (64,), every_mode=False,
                               max_timed_s=21 * 0.15),
    "standard": ThroughputProfile(10, 15, 0.5, (16, 64, 256), every_mode=True),
    "full": ThroughputProfile(20, 30, 1.0, (16, 64, 256, 1024), every_mode=True),
}


def job_modes(request: Request, framework: str, device: str,
              every_mode: bool) -> tuple[str, ...]:
    """The modes a timing job runs for this framework and device (the default first)."""
    return modes_to_run(registry.framework(framework), device, request.modes, every_mode)


def jobs(request: Request) -> list[Job]:
    settings = profile_settings(PROFILES, request.profile)
    out = []
    for model in request.models:
        family = registry.family_config(model)
        sweep_sizes = request.batch_sizes or settings.batch_sizes
        sizes = sweep_sizes if family.batch_sweep else sweep_sizes[:1]
        variants = family.for_profile(request.profile).throughput_variants()
        for (variant, overrides), framework, device in product(
                variants.items(), request.frameworks, request.devices):
            modes = job_modes(request, framework, device, settings.every_mode)
            for mode, batch_size in product(modes, sizes):
                sweep = {"batch_size": batch_size} if family.batch_sweep else {}
                first = (mode, batch_size) == (modes[0], sizes[0])  # it draws the sample grid
                out.append(Job(suite=SUITE, model=model, framework=framework,
                               device=device, mode=mode, profile=request.profile,
                               config={**overrides, **sweep},
                               params={"variant": variant, "samples": first},
                               **request.runtime()))
    return out


def run_context(request: Request) -> dict[str, float]:
    """On a CPU, measured once per run in fresh processes at the run's threads and wait
    policy: numpy's matmul peak, the one MFU denominator for every row and framework (two
    seconds less per job), and each framework's own matmul rate beside it."""
    context = machine_peak(request)
    if not context:  # no CPU jobs
        return context
    runtime = {"threads": request.threads, "wait_policy": request.wait_policy,
               "timeout_s": request.timeout_s}
    for framework in request.frameworks:
        try:
            context[framework_matmul_key(framework)] = run_fresh(
                "suites.throughput:framework_matmul_flops_per_s",
                {"model": request.models[0], "framework": framework,
                 "threads": request.threads}, **runtime)
        except UsageError:
            continue  # no adapter of this framework for the model: its jobs say so
    return context


def machine_peak(request: Request) -> dict[str, float]:
    """The peak alone, in a fresh process at the run's threads and wait policy: the first
    reading of run_context, and the suite's run_end_context after the last job (the
    frameworks' own rates are not remeasured: the peak alone says whether the machine's
    speed moved)."""
    if "cpu" not in request.devices:
        return {}
    return {PEAK: run_fresh("bench.timing:reference_matmul_flops_per_s",
                            threads=request.threads, wait_policy=request.wait_policy,
                            timeout_s=request.timeout_s)}


run_end_context = machine_peak  # the suite hook (bench.suite)


def framework_matmul_key(framework: str) -> str:
    return f"{framework}_matmul_flops_per_s"


def framework_matmul_flops_per_s(model: str, framework: str, threads: int) -> float:
    """The framework's own float32 matmul on the CPU (in its fresh worker process)."""
    adapter_cls = find(model, framework).load()
    adapter_cls.configure(threads)
    return adapter_cls.matmul_flops_per_s("cpu")


def peak_flops_per_s(job: Job, adapter_cls: type[Adapter]) -> float:
    """MFU's denominator: on a CPU one reference for every framework, numpy's product (the
    run's, else measured here); on a GPU the framework's own product, since numpy has none
    there."""
    if job.device != "cpu":
        return adapter_cls.matmul_flops_per_s(job.device)
    return job.context.get(PEAK) or reference_matmul_flops_per_s()


def bf16_peak(job: Job, adapter_cls: type[Adapter]) -> list[tuple[str, float, str]]:
    """On a GPU, the framework's bfloat16 product beside the float32 peak MFU divides by: what
    the device's low-precision units reach (the families train in float32)."""
    if job.device == "cpu":
        return []
    return [(PEAK_BF16, adapter_cls.matmul_flops_per_s(job.device, dtype="bfloat16"), "FLOP/s")]


def framework_matmul(job: Job) -> list[tuple[str, float, str]]:
    """The run's measurement of the job's framework's own matmul rate, where it has one."""
    rate = job.context.get(framework_matmul_key(job.framework))
    return [("framework_matmul_flops_per_s", rate, "FLOP/s")] if rate else []


def dataset_name(config: FamilyConfig) -> str:
    """The family's dataset, '' for style transfer (it optimises one image, with no data)."""
    return config.data_spec().name if config.generates_distribution else ""


@dataclass(frozen=True)
class Prepared:
    """A job's adapter with one batch staged on its device: what every timed step trains on."""

    built: Built
    staged: Any
    timing: dict[str, Any]  # the profile's warm-up and rounds, as bench.timing takes them


def prepare(job: Job) -> Prepared:
    built = build_adapter(job)
    data = built.config.load_data(job.seed)
    batch = next(batches(data, built.config.examples_per_step(), job.seed))
    s = profile_settings(PROFILES, job.profile)
    return Prepared(built, built.adapter.stage(batch),
                    {"warmup_steps": s.warmup_steps, "rounds": s.rounds,
                     "min_round_s": s.min_round_s, "max_timed_s": s.max_timed_s})


def round_timer(job: Job) -> RoundTimer:
    """The suite hook of the A/B check: the job's step, warmed up as `execute` warms it."""
    prepared = prepare(job)
    warm = warm_step(prepared.built.adapter, prepared.staged, **prepared.timing)

    def time_round() -> float:
        wall_s, _ = warm.run_round()
        return warm.steps_per_round / wall_s

    config = prepared.built.config
    return RoundTimer(time_round, warm.rounds, config.batch_size,
                      workload(config, prepared.built.adapter.flops_per_step()))


def execute(job: Job) -> JobResult:
    prepared = prepare(job)
    built, staged = prepared.built, prepared.staged
    adapter, config = built.adapter, built.config
    timing = time_steps(adapter, staged, **prepared.timing)
    # Memory first: the peak measurement below allocates (and, in TF, compiles) on its own.
    memory = memory_in_use_bytes(type(adapter), job.device)
    peak_flops = peak_flops_per_s(job, type(adapter))
    tags = {"variant": job.params.get("variant", "base"), **adapter.tags()}
    summary = timing.summary()
    steps = summary["steps_per_s"]
    flops = adapter.flops_per_step()
    values = [
        ("steps_per_s", steps, "1/s"),
        ("steps_per_s_iqr", summary["steps_per_s_iqr"], "1/s"),
        ("steps_per_s_mad", summary["steps_per_s_mad"], "1/s"),
        ("rounds", summary["rounds"], ""),
        ("round_spread", summary["round_spread"], ""),
        ("unstable", summary["unstable"], ""),
        ("best_steps_per_s", summary["best_steps_per_s"], "1/s"),
        ("cores_used", summary["cores_used"], ""),
        ("steps_per_round", timing.steps_per_round, ""),
        ("samples_per_s", steps * config.batch_size, "1/s"),
        ("first_step_s", timing.first_step_s, "s"),
        ("peak_memory_bytes", memory, "B"),
        ("memory_increase_bytes", memory - built.memory_after_import_bytes, "B"),
        ("flops_per_step", flops, "FLOP"),
        ("achieved_flops_per_s", steps * flops, "FLOP/s"),
        (PEAK, peak_flops, "FLOP/s"),
        ("mfu", steps * flops / peak_flops, ""),
        *bf16_peak(job, type(adapter)),
        *framework_matmul(job),
        ("params", adapter.param_count(), ""),
    ]
    profiled_steps = max(1, timing.steps_per_round // PROFILED_FRACTION)
    op_profile = adapter.op_profile(staged, profiled_steps)
    steps_taken = (1 + prepared.timing["warmup_steps"]
                   + len(timing.round_s) * timing.steps_per_round)
    if op_profile is not None:
        values += profile_values(op_profile, flops, peak_flops)
        steps_taken += profiled_steps
    measurements = [Measurement(name, float(value), unit, tags=tags)
                    for name, value, unit in values]
    measurements += [Measurement(ROUND_METRIC, float(rate), "1/s", step=i, tags=tags)
                     for i, rate in enumerate(timing.steps_per_s)]
    # Drawn after the timing steps on one staged batch: untrained models, and labelled so.
    samples = [Artifact("samples", adapter.sample(SAMPLES, seed=0),
                        {"variant": tags["variant"], "dataset": dataset_name(config),
                         "trained": False, "step": steps_taken})
               ] if job.params.get("samples") else []
    return JobResult(measurements, batch_size=config.batch_size, env=built.env,
                     artifacts=samples)


# --- tables ---------------------------------------------------------------------------------

TABLE_METRICS = ["steps_per_s", "steps_per_s_iqr", "best_steps_per_s", "samples_per_s",
                 "first_step_s", "peak_memory_bytes", "memory_increase_bytes",
                 "achieved_flops_per_s", "mfu", "round_spread", "unstable"]
NOT_PROFILED = "not measured"  # the framework's profiler cannot attribute its time
BREAKDOWN = ["mfu", "matmul_conv_share", "matmul_conv_mfu", "optimizer_share",
             "other_ops_share", "outside_ops_share", "framework_matmul_flops_per_s"]


def keyed_rows(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The suite's records and the keys of a table row: one job, (model, variant, framework,
    device, mode, batch) and a progressive GAN's resolution."""
    rows = ok_rows(frame, SUITE)
    keys = ["model", "variant", "framework", "device", "mode", "batch_size"]
    if "resolution" in rows:
        keys.insert(2, "resolution")
        rows = rows.assign(resolution=rows["resolution"].fillna("").astype(str))
    return rows, keys


def throughput_table(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The quotable figures per row: steps/s, samples/s, memory, FLOP/s, MFU."""
    table = rows[rows["metric"].isin(TABLE_METRICS)].pivot_table(
        index=keys, columns="metric", values="value", aggfunc="median")
    table = table.reindex(columns=[c for c in TABLE_METRICS if c in table.columns])
    return table.reset_index()  # raw values: the declarations (METRICS) say how they show


def tables(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """One row per (model, variant, framework, device, mode, batch): the quotable figures."""
    rows, keys = keyed_rows(frame)
    if rows.empty:
        return {}
    out = {"throughput": throughput_table(rows, keys)}
    profiled = rows[rows["metric"].isin(BREAKDOWN)]
    if profiled["metric"].eq("matmul_conv_share").any():
        where = profiled.pivot_table(index=keys, columns="metric", values="value",
                                     aggfunc="median")
        # The framework's own matmul beside the MFU's reference (runs before it lack it).
        where = where.reindex(columns=BREAKDOWN).dropna(axis=1, how="all")
        # A row whose framework's profiler cannot attribute its time stays, and says so.
        where.insert(0, "profile", where["matmul_conv_share"].isna().map(
            {True: NOT_PROFILED, False: "measured"}))
        out["where the time goes"] = where.reset_index()
    return out


# --- figures --------------------------------------------------------------------------------


def bar_label(row: pd.Series, many_devices: bool) -> str:
    label = [row["variant"], row["framework"], row["mode"]]
    if many_devices:
        label.insert(1, row["device"])
    if row.get("resolution", ""):  # a progressive GAN's phase
        label.append(f"{int_text(float(row['resolution']))}px")
    label.append(f"b{int_text(row['batch_size'])}")
    return " ".join(str(p) for p in label if p and p != "base")


def throughput_bars(frame: pd.DataFrame) -> pd.DataFrame:
    """The throughput table's rows as bars: steps/s and MFU from the table, error bars from
    the quartiles of the timed rounds; torch first."""
    rows, keys = keyed_rows(frame)
    rounds = rows[rows["metric"] == ROUND_METRIC]
    if rounds.empty:
        return pd.DataFrame()
    table = throughput_table(rows, keys)
    quartiles = rounds.groupby(keys)["value"].quantile([0.25, 0.75]).unstack()
    quartiles.columns = ["q25", "q75"]
    bars = table.merge(quartiles.reset_index(), on=keys)
    many_devices = bars["device"].nunique() > 1
    bars = bars.assign(label=[bar_label(r, many_devices) for _, r in bars.iterrows()],
                       median=bars["steps_per_s"], mfu=bars.get("mfu", np.nan),
                       order=bars["framework"].map(framework_sort_key))
    bars = bars.sort_values(["model", "order", "label"]).reset_index(drop=True)
    return bars[["model", "framework", "label", "median", "q25", "q75", "mfu"]]


def throughput_figure(frame: pd.DataFrame, out_dir: Path) -> list[Figure]:
    bars = throughput_bars(frame)
    if bars.empty:
        return []
    plt = pyplot()
    models = list(dict.fromkeys(bars["model"]))
    widest = bars.groupby("model").size().max()
    fig, axes = plt.subplots(len(models), 2, squeeze=False,
                             figsize=(max(8, 2 + 0.9 * widest), 3.6 * len(models)))
    for (ax_steps, ax_mfu), model in zip(axes, models, strict=True):
        rows = bars[bars["model"] == model]
        x = np.arange(len(rows))
        colours = [colour(f) for f in rows["framework"]]
        errors = [rows["median"] - rows["q25"], rows["q75"] - rows["median"]]
        ax_steps.bar(x, rows["median"], yerr=errors, capsize=4, color=colours)
        ax_steps.set_ylabel("steps/s (median, IQR of rounds)")
        ax_mfu.bar(x, rows["mfu"] * 100, color=colours)
        ax_mfu.set_ylabel("MFU (% of measured matmul peak)")
        for ax, what in ((ax_steps, "training steps per second"), (ax_mfu, "model FLOPs use")):
            ax.set_title(f"{model}: {what}")
            ax.set_xticks(x, rows["label"], rotation=30, ha="right")
            ax.grid(axis="y", alpha=0.3)
    framework_legend(fig, bars["framework"].tolist())
    fig.tight_layout()
    return [save(fig, out_dir, "throughput", "Throughput and MFU")]


def untrained_caption(row: pd.Series, many_devices: bool) -> str:
    device = f" {row['device']}" if many_devices else ""
    return f"{row['framework']}{device}: untrained, after {int(row['step'])} timing steps"


def sample_figures(frame: pd.DataFrame, out_dir: Path) -> list[Figure]:
    """Per (model, variant): the samples drawn after timing, marked as untrained."""
    rows = artifact_rows(frame, SUITE)
    if rows.empty:
        return []
    rows = rows.assign(variant=text_column(rows, "variant", "base"),
                       order=rows["framework"].map(framework_sort_key))
    many_devices = rows["device"].nunique() > 1
    figures = []
    for (model, variant), group in rows.groupby(["model", "variant"], sort=True):
        group = group.sort_values(["order", "device"])
        panels = [SamplePanel(untrained_caption(row, many_devices), row["framework"],
                              load_samples(row["path"])) for _, row in group.iterrows()]
        title = (f"Samples of untrained models: {model} ({variant}), after the timing steps "
                 "on one batch")
        figures.append(sample_figure(panels, out_dir, f"samples-{SUITE}-{model}-{variant}",
                                     title, smoke_check=True))
    return figures


def figures(frame: pd.DataFrame, out_dir: Path) -> list[Figure]:
    return [*throughput_figure(frame, out_dir), *sample_figures(frame, out_dir)]
