"""Training-step throughput (METRICS.md): steps/s, samples/s, memory, FLOP/s and MFU.

A job times one (model, framework, device, mode, batch size, variant) on one staged batch,
so data loading stays out of the measurement. MFU divides the achieved FLOP/s by a large
float32 matrix product measured in the same process, tying each figure to the machine. After
the timed rounds, one more round runs under the framework's profiler to say where the time
goes (bench.op_profile): the "where the time goes" table.
"""

from __future__ import annotations

from itertools import product

import pandas as pd

from bench.build import build_adapter
from bench.data import batches
from bench.errors import UsageError
from bench.jobs import Job
from bench.op_profile import profile_values
from bench.records import Measurement
from bench.registry import family_config
from bench.timing import peak_rss_bytes, time_steps
from bench.suite import Artifact, JobResult, Request

SAMPLES = 64  # per (model, framework, variant): the grids of the report

FRAMEWORK_MODES = {"torch": ("eager", "compiled"), "tf": ("eager", "compiled", "xla")}

PROFILES = {
    "quick": {"warmup_steps": 3, "rounds": 7, "min_round_s": 0.15, "batch_sizes": (64,),
              # Each framework's default way to train; XLA and torch.compile cost minutes to
              # compile on a CPU, so they wait for the standard profile.
              "modes": {"torch": ("eager",), "tf": ("compiled",)}},
    "standard": {"warmup_steps": 10, "rounds": 15, "min_round_s": 0.5, "batch_sizes": (16, 64, 256),
                 "modes": FRAMEWORK_MODES},
    "full": {"warmup_steps": 20, "rounds": 30, "min_round_s": 1.0,
             "batch_sizes": (16, 64, 256, 1024), "modes": FRAMEWORK_MODES},
}


def profile_settings(profile: str) -> dict:
    if profile not in PROFILES:
        raise UsageError(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}")
    return PROFILES[profile]


def jobs(request: Request) -> list[Job]:
    settings = profile_settings(request.profile)
    out = []
    for model in request.models:
        family = family_config(model)
        sweep_sizes = request.batch_sizes or settings["batch_sizes"]
        sizes = sweep_sizes if family.batch_sweep else sweep_sizes[:1]
        variants = family.for_profile(request.profile).throughput_variants()
        for (variant, overrides), framework, device in product(
                variants.items(), request.frameworks, request.devices):
            modes = request.modes or settings["modes"].get(framework, ("eager",))
            for mode, batch_size in product(modes, sizes):
                sweep = {"batch_size": batch_size} if family.batch_sweep else {}
                first = (mode, batch_size) == (modes[0], sizes[0])  # it draws the sample grid
                out.append(Job(suite="throughput", model=model, framework=framework,
                               device=device, mode=mode, profile=request.profile,
                               config={**overrides, **sweep},
                               params={"variant": variant, "samples": first},
                               threads=request.threads, timeout_s=request.timeout_s))
    return out


def execute(job: Job) -> JobResult:
    settings = profile_settings(job.profile)
    built = build_adapter(job)
    adapter, config = built.adapter, built.config
    data = config.load_data(job.seed)
    staged = adapter.stage(next(batches(data, config.examples_per_step(), job.seed)))
    timing = time_steps(adapter, staged, warmup_steps=settings["warmup_steps"],
                        rounds=settings["rounds"], min_round_s=settings["min_round_s"])
    peak_flops = type(adapter).matmul_flops_per_s(job.device)
    memory = type(adapter).peak_memory_bytes(job.device) or peak_rss_bytes()
    tags = {"variant": job.params.get("variant", "base"), **adapter.tags()}
    summary = timing.summary()
    steps = summary["steps_per_s"]
    flops = adapter.flops_per_step()
    values = [
        ("steps_per_s", steps, "1/s"),
        ("steps_per_s_iqr", summary["steps_per_s_iqr"], "1/s"),
        ("steps_per_s_mad", summary["steps_per_s_mad"], "1/s"),
        ("rounds", summary["rounds"], ""),
        ("steps_per_round", timing.steps_per_round, ""),
        ("samples_per_s", steps * config.batch_size, "1/s"),
        ("first_step_s", timing.first_step_s, "s"),
        ("peak_memory_bytes", memory, "B"),
        ("flops_per_step", flops, "FLOP"),
        ("achieved_flops_per_s", steps * flops, "FLOP/s"),
        ("matmul_peak_flops_per_s", peak_flops, "FLOP/s"),
        ("mfu", steps * flops / peak_flops, ""),
        ("params", adapter.param_count(), ""),
    ]
    op_profile = adapter.op_profile(staged, timing.steps_per_round)
    if op_profile is not None:
        values += profile_values(op_profile, flops, peak_flops)
    measurements = [Measurement(name, float(value), unit, tags=tags)
                    for name, value, unit in values]
    measurements += [Measurement("round_steps_per_s", float(rate), "1/s", step=i, tags=tags)
                     for i, rate in enumerate(timing.steps_per_s)]
    samples = [Artifact("samples", adapter.sample(SAMPLES, seed=0),
                        {"variant": tags["variant"], "trained": False})
               ] if job.params.get("samples") else []
    return JobResult(measurements, batch_size=config.batch_size, env=built.env,
                     artifacts=samples)


def tables(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """One row per (model, variant, framework, device, mode, batch): the quotable figures."""
    rows = frame[(frame["suite"] == "throughput") & (frame["status"] == "ok")]
    if rows.empty:
        return {}
    keys = ["model", "variant", "framework", "device", "mode", "batch_size"]
    if "resolution" in rows:
        keys.insert(2, "resolution")
        rows = rows.assign(resolution=rows["resolution"].fillna("").astype(str))
    wanted = ["steps_per_s", "steps_per_s_iqr", "samples_per_s", "first_step_s",
              "peak_memory_bytes", "achieved_flops_per_s", "mfu"]
    table = rows[rows["metric"].isin(wanted)].pivot_table(
        index=keys, columns="metric", values="value", aggfunc="median")
    table = table.reindex(columns=[c for c in wanted if c in table.columns]).reset_index()
    table["peak_memory_mib"] = table.pop("peak_memory_bytes") / 2**20
    table["gflops_per_s"] = table.pop("achieved_flops_per_s") / 1e9
    out = {"throughput": table}
    breakdown = ["mfu", "matmul_conv_share", "matmul_conv_mfu", "optimizer_share",
                 "other_ops_share", "outside_ops_share"]
    profiled = rows[rows["metric"].isin(breakdown)]
    if profiled["metric"].eq("matmul_conv_share").any():
        where = profiled.pivot_table(index=keys, columns="metric", values="value",
                                     aggfunc="median")
        where = where.dropna(subset=["matmul_conv_share"])
        out["where the time goes"] = where.reindex(columns=breakdown).reset_index()
    return out
