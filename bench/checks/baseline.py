"""The baseline-file check: compare a run with a committed baseline, metric by metric.

What it judges, the suites declare (bench.suite.MetricSpec): a metric with a `gate` is
judged in its direction (`better`) within the gate's tolerance; one without is not.

- Values, such as quality metrics, come from seeded runs, so the same seed is compared
  with itself and a tolerance decides: max(relative * |baseline|, absolute floor), in the
  metric's direction. A seeded TensorFlow run on a CPU is not bit-identical to its rerun (its
  kernels may sum in another order), and a GAN's training amplifies that; a baseline pooled
  from MIN_RERUNS or more seeded runs measures it, and the allowed worsening widens to
  RERUN_Z standard deviations of their values when that is larger than the gate's
  tolerance. A NaN (a diverged run) counts as the worst possible value. These are the gated
  verdicts.
- Timings (a rate timed in rounds, its spec's `rounds`) and memory are declared ADVISORY:
  reported with a verdict, never failing the check. A run on another day, under another
  load, differs by more than the 10% a gate must catch (docs/methodology/timing.md),
  and peak memory differs between identical TF runs (it is read after XLA compiles the peak
  measurement). The gate for speed is the A/B check (bench.checks.ab_check, `gan-bench check
  --base REF`), which times both trees on one machine, interleaved. The advisory verdict
  divides each timed round by the job's measurement its spec names as `per` (the float32
  matmul peak, so a slower machine is not flagged) and asks for a drop past the tolerance AND a
  one-sided Mann-Whitney U test over the rounds (p < ALPHA); a baseline pooled from three or
  more runs widens the tolerance to RERUN_Z standard deviations of the drift between them.
  A metric in constant proportion to a timed rate within one key (samples/s, MFU) is
  declared without a gate: it would repeat the same verdict.

A key in the baseline that the run lacks fails the check: a job that crashed or was dropped
leaves no measurement, and a gate that skipped it would pass the worst regression of all.
A key only in the run is reported as new and passes: adding a model must not break CI before
the baseline is regenerated.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.errors import UsageError
from bench.records import RECORDS_FILE, json_number, load_frame
from bench.stats import bootstrap_ratio_of_medians
from bench.suite import Gate, MetricSpec, metric_spec, metric_specs

BASELINE_FORMAT = "gan-bench-baseline"
BASELINE_VERSION = 2  # 2: threads and wait policy joined the key
ALPHA = 0.01
MIN_RERUNS = 3  # baseline runs needed before their spread widens the throughput tolerance
RERUN_Z = 3.0  # how many standard deviations of rerun drift a slowdown must exceed
# What identifies a measurement across runs. Not job_id: it hashes the suite's whole config,
# so any change to a profile would orphan every baseline entry without saying which.
# Threads and OpenMP's wait policy change a timing as much as the mode does: part of the key.
KEY_FIELDS = ("suite", "model", "variant", "dataset", "resolution", "framework", "device",
              "mode", "batch_size", "threads", "wait_policy", "perturbation", "seed")
REGENERATE = "regenerate it with: gan-bench baseline RUN_DIR --out FILE"
ADVISORY_NOTE = ("advisory (never failing): what the suites declare so, timings (a change of "
                 "the rate per machine peak, with p of a one-sided Mann-Whitney U over rounds) "
                 "and memory; a run on another day is not comparable within 10%: gate speed "
                 "with gan-bench check --base REF. Gated: seeded values, by tolerance.")


def gated_spec(metric: str) -> MetricSpec | None:
    """The metric's declaration if the check judges it, else None (losses, counts, spreads)."""
    spec = metric_spec(metric)
    return spec if spec is not None and spec.gate is not None and spec.better else None


def is_timed(metric: str) -> bool:
    """A gated rate timed in rounds: its rounds are compared, not one value."""
    spec = gated_spec(metric)
    return spec is not None and bool(spec.rounds)


def worsening(spec: MetricSpec, baseline: float, current: float) -> float:
    """How much worse current is than baseline (negative: better); NaN is the worst."""
    worst = -math.inf if spec.better == "higher" else math.inf
    current = worst if math.isnan(current) else current
    baseline = worst if math.isnan(baseline) else baseline
    if current == baseline:
        return 0.0
    return baseline - current if spec.better == "higher" else current - baseline


Key = tuple[str, ...]  # values of KEY_FIELDS, as text


@dataclass(frozen=True)
class Entry:
    """One baselined measurement: a quality value, or a job's timed rounds."""

    key: Key
    metric: str
    value: float  # throughput: median steps/s as measured; else the value at `step`
    step: int | None = None
    normalised_rounds: tuple[float, ...] = ()  # steps/s per TFLOP/s of the job's matmul peak
    run_medians: tuple[float, ...] = ()  # each pooled run's normalised rate (or value)
    peak_flops_per_s: float | None = None
    flops_per_step: float | None = None

    @property
    def label(self) -> tuple[Key, str]:
        return self.key, self.metric


@dataclass(frozen=True)
class Baseline:
    profile: str
    entries: dict[tuple[Key, str], Entry]
    sources: list[dict[str, Any]] = field(default_factory=list)


# --- records -> entries -------------------------------------------------------------------


def _text(value: Any) -> str:
    """Key values as text; pandas turns integer columns with gaps into floats (64.0 -> "64")."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _keyed(frame: pd.DataFrame) -> pd.DataFrame:
    ok = frame[frame["status"] == "ok"].copy()
    for name in KEY_FIELDS:
        ok[name] = ok[name].map(_text) if name in ok else ""
    ok["key"] = list(zip(*(ok[name] for name in KEY_FIELDS), strict=True))
    return ok


def timed_entries(ok: pd.DataFrame) -> list[Entry]:
    """Every gated rate timed in rounds (bench.suite.MetricSpec.rounds)."""
    return [entry for spec in metric_specs().values() if spec.gate and spec.rounds
            for entry in rounds_entries(ok, spec)]


def rounds_entries(ok: pd.DataFrame, spec: MetricSpec) -> list[Entry]:
    """Per key, the rounds of its jobs divided by each job's own `per` (its matmul peak, in
    TFLOP/s), pooled."""
    entries = []
    for key, rows in ok[ok["metric"] == spec.rounds].groupby("key", sort=True):
        jobs = ok[ok["job_id"].isin(rows["job_id"])]
        peaks = jobs[jobs["metric"] == spec.per].groupby("job_id")["value"].median()
        rounds = rows[rows["job_id"].isin(peaks.index)] if spec.per else rows
        if rounds.empty:
            continue  # no peak, no normalisation: such a job cannot be compared fairly
        normalised = (rounds["value"] / rounds["job_id"].map(peaks) * 1e12 if spec.per
                      else rounds["value"])
        run_medians = normalised.groupby(rounds["run_id"]).median()
        flops = jobs.loc[jobs["metric"] == spec.work, "value"] if spec.work else pd.Series()
        entries.append(Entry(
            key=key, metric=spec.name, value=float(rounds["value"].median()),
            normalised_rounds=tuple(float(v) for v in normalised),
            run_medians=tuple(float(v) for v in run_medians),
            peak_flops_per_s=float(peaks.median()) if len(peaks) else None,
            flops_per_step=float(flops.median()) if not flops.empty else None))
    return entries


def value_entries(ok: pd.DataFrame) -> list[Entry]:
    """Per key and gated metric, the value at the last step (the end of training)."""
    judged = {m for m in ok["metric"].unique() if gated_spec(m) and not is_timed(m)}
    gated = ok[ok["metric"].isin(judged)]
    entries = []
    for (key, metric), rows in gated.groupby(["key", "metric"], sort=True):
        steps = pd.to_numeric(rows["step"], errors="coerce") if "step" in rows else None
        step = None
        if steps is not None and steps.notna().any():
            step = int(steps.max())
            rows = rows[steps == step]
        per_run = rows.groupby("run_id")["value"].median()
        entries.append(Entry(key=key, metric=metric, value=float(rows["value"].median()),
                             step=step, run_medians=tuple(float(v) for v in per_run)))
    return entries


def entries_of(frame: pd.DataFrame) -> dict[tuple[Key, str], Entry]:
    ok = _keyed(frame)
    return {e.label: e for e in timed_entries(ok) + value_entries(ok)}


def run_profile(frame: pd.DataFrame, where: str) -> str:
    profiles = sorted(set(frame["profile"].dropna().map(str)))
    if len(profiles) != 1:
        raise UsageError(f"{where} mixes profiles {profiles or 'none'}; "
                         "check one profile at a time")
    return profiles[0]


def load_run(run_dir: Path) -> pd.DataFrame:
    run_dir = Path(run_dir)
    if not (run_dir / RECORDS_FILE).exists():
        raise UsageError(f"{run_dir} has no {RECORDS_FILE}; give a folder written by gan-bench run")
    frame = load_frame(run_dir)
    if frame.empty:
        raise UsageError(f"{run_dir}/{RECORDS_FILE} holds no records; run the suites first")
    return frame


# --- baseline files -----------------------------------------------------------------------


def make_baseline(run_dirs: Iterable[Path]) -> Baseline:
    """A baseline from one or more clean runs; several runs pool their rounds per key."""
    run_dirs = list(run_dirs)
    frames = [load_run(d) for d in run_dirs]
    for run_dir, frame in zip(run_dirs, frames, strict=True):
        failed = frame[frame["status"] == "error"]
        if not failed.empty:
            raise UsageError(f"{run_dir} has {failed['job_id'].nunique()} failed jobs; a "
                             "baseline needs a clean run (rerun them with gan-bench run --resume)")
    frame = pd.concat(frames, ignore_index=True)
    entries = entries_of(frame)
    if not entries:
        raise UsageError("the runs hold no gated metric (none their suites declare with a "
                         "gate); run a suite that declares one")
    return Baseline(run_profile(frame, "the baseline's runs"), entries, _sources(frame))


def _sources(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Where the baseline came from: run, commit and machine, so a reader can judge it."""
    fields = [c for c in ("run_id", "git_sha", "cpu", "hostname", "packages") if c in frame]
    firsts = frame[fields].drop_duplicates("run_id")
    return [{k: _text(v) for k, v in row.items()} for row in firsts.to_dict("records")]


def write_baseline(baseline: Baseline, path: Path) -> Path:
    entries = []
    for entry in baseline.entries.values():
        data = asdict(entry)
        data["key"] = dict(zip(KEY_FIELDS, entry.key, strict=True))
        data["value"] = json_number(entry.value)
        entries.append(data)
    document = {"format": BASELINE_FORMAT, "version": BASELINE_VERSION,
                "profile": baseline.profile, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "sources": baseline.sources, "entries": entries}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, allow_nan=False) + "\n")
    return path


def read_baseline(path: Path) -> Baseline:
    """Parse and validate a baseline file; every problem is one UsageError naming the fix."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"baseline {path} does not exist; {REGENERATE}")
    try:
        document = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"baseline {path} is not valid JSON ({exc}); {REGENERATE}") from None
    if not isinstance(document, dict) or document.get("format") != BASELINE_FORMAT:
        raise UsageError(f"{path} is not a gan-bench baseline (no \"format\": "
                         f"\"{BASELINE_FORMAT}\"); {REGENERATE}")
    if document.get("version") != BASELINE_VERSION:
        raise UsageError(f"baseline {path} has version {document.get('version')!r}, this "
                         f"gan-bench reads version {BASELINE_VERSION}; {REGENERATE}")
    raw = document.get("entries")
    if not isinstance(raw, list) or not isinstance(document.get("profile"), str):
        raise UsageError(f"baseline {path} lacks \"profile\" or an \"entries\" list; {REGENERATE}")
    entries = {}
    for index, item in enumerate(raw):
        try:
            entry = _parse_entry(item)
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"baseline {path}: entry {index} is malformed ({exc!r}); "
                             f"{REGENERATE}") from None
        entries[entry.label] = entry
    return Baseline(document["profile"], entries, document.get("sources", []))


def _parse_entry(item: dict[str, Any]) -> Entry:
    key = tuple(_text(item["key"][name]) if name in item["key"] else "" for name in KEY_FIELDS)
    metric = item["metric"]
    if not isinstance(metric, str):
        raise TypeError("metric must be text")
    rounds = tuple(float(v) for v in item.get("normalised_rounds", []))
    if is_timed(metric) and len(rounds) < 2:
        raise ValueError(f"{metric} needs at least 2 normalised_rounds")
    step = item.get("step")
    return Entry(key=key, metric=metric, value=float(item["value"]),
                 step=None if step is None else int(step), normalised_rounds=rounds,
                 run_medians=tuple(float(v) for v in item.get("run_medians", [])),
                 peak_flops_per_s=_optional_float(item.get("peak_flops_per_s")),
                 flops_per_step=_optional_float(item.get("flops_per_step")))


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


# --- comparing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """One row of the check: a key and metric, both values, and the verdict."""

    key: Key
    metric: str
    status: str  # REGRESSED, missing, ok, improved, new
    baseline: float = math.nan
    current: float = math.nan
    change: float = math.nan  # relative: current / baseline - 1 (throughput: normalised)
    allowed: str = ""
    p_value: float = math.nan
    interval: str = ""
    note: str = ""
    advisory: bool = False  # a verdict to read, not one that fails the check


def rerun_drop(base: Entry) -> float:
    """The slowdown the baseline's own reruns make plausible: 1 - exp(-Z sigma), 0 if unknown.

    sigma is the spread of log median rate between the runs pooled into the baseline. Rounds
    of one job share one moment of the machine's load, so their scatter cannot show the drift
    between process starts; several baseline runs can. Fewer than three runs say nothing.
    """
    if len(base.run_medians) < MIN_RERUNS:
        return 0.0
    sigma = float(np.std(np.log(base.run_medians), ddof=1))
    return 1 - math.exp(-RERUN_Z * sigma)


def compare_throughput(base: Entry, run: Entry, gate: Gate) -> Comparison:
    """Normalised rounds: the ratio of medians, its bootstrap interval and a one-sided U test.

    The allowed drop is the rule's tolerance, or the baseline's measured rerun noise when
    that is larger: a gate cannot see a 25% regression through 60% drift, and says so.
    """
    from scipy.stats import mannwhitneyu

    ours, theirs = np.asarray(run.normalised_rounds), np.asarray(base.normalised_rounds)
    ratio, lo, hi = bootstrap_ratio_of_medians(ours, theirs)
    slower = mannwhitneyu(ours, theirs, alternative="less").pvalue
    faster = mannwhitneyu(ours, theirs, alternative="greater").pvalue
    noise = rerun_drop(base)
    allowed = max(gate.relative, noise)
    status = "ok"
    if ratio < 1 - allowed and slower < ALPHA:
        status = "REGRESSED"
    elif ratio > 1 + allowed and faster < ALPHA:
        status = "improved"
    return Comparison(
        run.key, run.metric, status, base.value, run.value, ratio - 1,
        allowed=f"-{allowed:.0%}" + (" (rerun noise)" if noise > gate.relative else ""),
        p_value=float(slower if ratio <= 1 else faster),
        interval=f"{lo - 1:+.1%} to {hi - 1:+.1%}", note=_throughput_note(base, run),
        advisory=gate.advisory)


def _throughput_note(base: Entry, run: Entry) -> str:
    notes = []
    if base.peak_flops_per_s and run.peak_flops_per_s:
        notes.append(f"matmul peak x{run.peak_flops_per_s / base.peak_flops_per_s:.2f}")
    if base.flops_per_step and run.flops_per_step and not math.isclose(
            base.flops_per_step, run.flops_per_step, rel_tol=1e-6):
        notes.append(f"FLOPs/step {base.flops_per_step:.3g} -> {run.flops_per_step:.3g}: "
                     "the model changed; regenerate the baseline if intended")
    return "; ".join(notes)


def rerun_spread(base: Entry) -> float:
    """The worsening the baseline's own seeded reruns make plausible: Z sigma, 0 if unknown.

    A seeded run repeats itself exactly only where its framework does (torch on a CPU); a
    TensorFlow rerun trains a slightly different GAN, and three pooled runs show how far.
    """
    finite = [v for v in base.run_medians if math.isfinite(v)]
    if len(finite) < MIN_RERUNS:
        return 0.0
    return RERUN_Z * float(np.std(finite, ddof=1))


def compare_value(base: Entry, run: Entry, spec: MetricSpec) -> Comparison:
    gate = spec.gate
    worse = worsening(spec, base.value, run.value)
    spread = rerun_spread(base)
    allowed = max(gate.allowed(base.value), spread)
    status = "REGRESSED" if worse > allowed else "improved" if -worse > allowed else "ok"
    change = run.value / base.value - 1 if base.value else math.nan
    note = f"at step {base.step}" if base.step is not None else ""
    if run.step != base.step:  # a diverged run stops early; a changed budget ends elsewhere
        note = f"last step: run {run.step}, baseline {base.step}"
    sign = "-" if spec.better == "higher" else "+"
    allowed_text = _allowed_text(gate, base.value, sign)
    if spread > gate.allowed(base.value):
        allowed_text = f"{sign}{spread:.3g} (rerun spread)"
    return Comparison(run.key, run.metric, status, base.value, run.value, change,
                      allowed=allowed_text, note=note, advisory=gate.advisory)


def _allowed_text(gate: Gate, baseline: float, sign: str) -> str:
    if gate.relative and gate.relative * abs(baseline) >= gate.absolute:
        return f"{sign}{gate.relative:.0%}"
    return f"{sign}{gate.absolute:g}"


def compare(baseline: Baseline, frame: pd.DataFrame) -> list[Comparison]:
    """Every baseline entry against the run, then the run's entries the baseline lacks."""
    profile = run_profile(frame, "the run")
    if profile != baseline.profile:
        raise UsageError(f"the run has profile {profile!r} but the baseline {baseline.profile!r};"
                         " check against a baseline of the same profile")
    current = entries_of(frame)
    failures = failed_jobs(frame)
    rows = []
    for label, base in sorted(baseline.entries.items()):
        spec = gated_spec(base.metric)
        run = current.get(label)
        if run is None:
            rows.append(Comparison(base.key, base.metric, "missing", base.value,
                                   note=failures.get(_job_of(base.key), "no record in the run")))
        elif spec is None:
            rows.append(Comparison(base.key, base.metric, "ok", base.value, run.value,
                                   note="no suite declares a gate for this metric: not gated"))
        elif spec.rounds:
            rows.append(compare_throughput(base, run, spec.gate))
        else:
            rows.append(compare_value(base, run, spec))
    rows += [Comparison(e.key, e.metric, "new", current=e.value,
                        note="not in the baseline; regenerate it to gate this")
             for label, e in sorted(current.items()) if label not in baseline.entries]
    return rows


def _job_of(key: Key) -> tuple[str, ...]:
    """The fields an error record carries (it has no variant or batch size)."""
    fields = dict(zip(KEY_FIELDS, key, strict=True))
    return tuple(fields[f] for f in ("suite", "model", "framework", "device", "mode"))


def failed_jobs(frame: pd.DataFrame) -> dict[tuple[str, ...], str]:
    """Why a job left no measurement: the first line of its error or skip reason, by job."""
    reasons = {}
    for _, row in frame[frame["status"].isin(["error", "skipped"])].iterrows():
        job = tuple(_text(row[f]) for f in ("suite", "model", "framework", "device", "mode"))
        what = "job failed" if row["status"] == "error" else "skipped"
        lines = str(row.get("error") or "").strip().splitlines()
        reasons[job] = f"{what}: {lines[0][:120]}" if lines else what
    return reasons


# --- output -------------------------------------------------------------------------------


def comparison_table(result: CheckResult) -> pd.DataFrame:
    """One row per comparison, status first, and whether it fails the check (a missing key
    fails unless allowed); changes as signed percentages."""
    failed = result.failed
    table = pd.DataFrame([{"status": r.status, "gate": "advisory" if r.advisory else "gated",
                           "fails": "yes" if r in failed else "no",
                           **dict(zip(KEY_FIELDS, r.key, strict=True)),
                           "metric": r.metric, "baseline": r.baseline, "run": r.current,
                           "change": _percent(r.change), "allowed": r.allowed, "p": r.p_value,
                           "95% interval": r.interval, "note": r.note}
                          for r in result.rows])
    return table


def _percent(change: float) -> str:
    return "" if math.isnan(change) else "inf" if math.isinf(change) else f"{change:+.1%}"


def compact(table: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The table without key columns that hold one value throughout, and those values as text.

    A terminal cannot show eighteen columns; "suite=throughput device=cpu" said once can.
    """
    constant = [k for k in KEY_FIELDS if k in table and table[k].nunique() <= 1]
    shared = " ".join(f"{k}={table[k].iloc[0]}" for k in constant
                      if len(table) and table[k].iloc[0] != "")
    return table.drop(columns=constant), shared


@dataclass(frozen=True)
class CheckResult:
    rows: list[Comparison]
    allow_missing: bool = False  # for a run of a subset of the baseline's models

    @property
    def failing_statuses(self) -> set[str]:
        return {"REGRESSED"} if self.allow_missing else {"REGRESSED", "missing"}

    @property
    def failed(self) -> list[Comparison]:
        """Gated regressions, and missing keys (a crashed job is no noise) unless allowed."""
        return [r for r in self.rows if r.status in self.failing_statuses
                and not (r.advisory and r.status == "REGRESSED")]

    @property
    def advised(self) -> list[Comparison]:
        """Advisory regressions: worth a look (or an A/B check), never a failure."""
        return [r for r in self.rows if r.advisory and r.status == "REGRESSED"]

    def counts(self) -> dict[str, int]:
        return {s: sum(r.status == s for r in self.rows)
                for s in ("REGRESSED", "missing", "ok", "improved", "new")}

    def summary(self) -> str:
        counts = ", ".join(f"{n} {s.lower()}" for s, n in self.counts().items() if n)
        verdict = "FAILED" if self.failed else "passed"
        advised = f" ({len(self.advised)} of the regressed advisory)" if self.advised else ""
        return f"check {verdict}: {counts}{advised}"


def check(run_dir: Path, baseline_path: Path, allow_missing: bool = False) -> CheckResult:
    baseline = read_baseline(baseline_path)
    return CheckResult(compare(baseline, load_run(run_dir)), allow_missing)
