"""The A/B check: time a base commit and the working tree on this machine, now, interleaved.

    gan-bench check --base origin/main --models mlp_gan,dcgan

A baseline file compares today's run with a run on another day, under another load; the
difference between the two moments is larger than the 10% slowdown a gate must catch. Here
both trees run on the same machine in the same session: REF's tree is checked out in a
temporary `git worktree` (removed afterwards), and every job of the suite is timed in pairs.

A pair starts one fresh worker per tree (bench.round_worker), each running its own tree's
code; once both have built and warmed the job's step, they time one round each per turn,
back to back (base head, head base, ...), as many turns as the suite's profile times rounds
(its `round_timer` hook). Both rounds of a turn meet the same moment of the machine, a
neighbour's burst or the VM host's slow spell, so it cancels in their ratio, and the pair's
ratio is the median of its turns' ratios. Pairs timed in turn therefore scatter far less than
fresh jobs timed one after the other (docs/methodology/ab-check.md; the measurements in
docs/measurements.md).

The unit is the pair, not the round: two workers of the same tree differ by a few percent
for their whole life (where their memory landed, which core they got), and only new
processes draw that anew. Per key (one job of the suite) the decision uses the pairs' ratios:

0. Power: a key's pair scatter (the SD of its log ratios) gives the smallest slowdown steps
   1 to 4 catch on it at TARGET_POWER (bench.checks.ab_power). One that cannot see
   target_effect first gets the pairs that let it, as many as max_seconds_per_key buys; a
   key still blind says so in its note.
1. Screen: a key is suspected when its median ratio is below 1 - min_effect.
2. Confirm: suspected keys, and only they, run `confirm_pairs` more pairs (10 by default).
3. Test, on all pairs of each suspected key: Wilcoxon's signed-rank test (exact, one-sided)
   that the log ratio lies below log(1 - min_effect). Under no change base and head are
   exchangeable within a pair, so the log ratio is symmetric: the test's one assumption. The
   sign test would need 9 of 9 pairs to reach p < 0.002; the signed-rank test also weighs by
   how far each pair is below the margin.
4. Holm's step-down over the suspected keys keeps the family-wise error at alpha: a key is
   REGRESSED when its Holm-adjusted p is below alpha.

Before timing, each side's worker says what its step runs (bench.suite.workload): the
job's resolved config, its batch size and its FLOPs per step. Each tree builds the job from
its own code, so a commit that widens a model or changes a batch size times other work on
each side; such a key is reported as `workload changed`, with both values in its note, and
gets no speed verdict (it is neither a regression nor a speed-up, and it does not fail the
check).

A job that fails in the base tree only (a family the base does not have) is reported as
"new"; one that fails in the head tree only is an error and fails the check. A base whose
harness predates the round workers cannot take part: bad input, naming it.

What it does not measure: a change of dependencies. Both trees run in this one environment,
the head's; only the source path differs between them (bench.fresh_process.child_pythonpath),
so an upgraded framework runs on both sides alike.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.checks.ab_power import MAX_SLOWDOWN, Rule, detectable_slowdown, pairs_to_see
from bench.errors import UsageError
from bench.fresh_process import PROJECT_ROOT
from bench.jobs import Job
from bench.round_worker import RoundWorker, RoundWorkerError
from bench.stats import bootstrap_median

SIDES = ("base", "head")
MAIN_BRANCHES = ("main", "origin/main")  # the default base is the merge base with the first
REPORT = "ab-check"
TARGET_POWER = 0.9  # a key "can see" a slowdown its rule catches 9 times in 10


@dataclass(frozen=True)
class Settings:
    pairs: int = 5
    confirm_pairs: int = 10  # more pairs for each suspected key before it may fail
    min_effect: float = 0.05  # the smallest slowdown worth failing CI for
    alpha: float = 0.05  # family-wise, over the suspected keys (Holm)
    # A key whose pair scatter hides a slowdown of target_effect (at TARGET_POWER) gets more
    # pairs before the screen, as many as this many seconds of its pairs allow.
    max_seconds_per_key: float = 120.0
    target_effect: float = 0.10

    def rule(self, pairs: int) -> Rule:
        """The rule as bench.checks.ab_power simulates it, for a key screened on `pairs`
        pairs."""
        return Rule(pairs, self.confirm_pairs, self.min_effect, self.alpha)


# --- git ----------------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    """A git command in `repo`; its stdout, or UsageError with git's own first line."""
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if done.returncode != 0:
        reason = ((done.stderr or done.stdout).strip().splitlines() or ["failed"])[0]
        raise UsageError(f"git {' '.join(args)} in {repo}: {reason}")
    return done.stdout.strip()


def resolve_ref(repo: Path, ref: str) -> str:
    """The commit a ref names, or one line naming the unknown ref and the fix."""
    done = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet",
                           f"{ref}^{{commit}}"], capture_output=True, text=True)
    if done.returncode != 0:
        raise UsageError(f"unknown git ref {ref!r} in {repo}; give a branch, tag or commit "
                         "(in a shallow clone, fetch it first: git fetch --unshallow)")
    return done.stdout.strip()


def default_base(repo: Path) -> str:
    """The merge base of HEAD with the main branch; on main itself that is HEAD (A/A check)."""
    for branch in MAIN_BRANCHES:
        if subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", branch],
                          capture_output=True).returncode == 0:
            return git(repo, "merge-base", "HEAD", branch)
    raise UsageError(f"{repo} has no branch {' or '.join(MAIN_BRANCHES)} to take the merge "
                     "base with; name the base: gan-bench check --base REF")


def is_dirty(repo: Path) -> bool:
    """Uncommitted changes to tracked files: the head side then runs them, as they are."""
    return bool(git(repo, "status", "--porcelain", "--untracked-files=no"))


def require_round_worker(tree: Path, ref: str, commit: str) -> None:
    """A tree whose harness predates bench.round_worker cannot time its side of a pair (a tree
    with no harness of its own, a suite's plugin repository, runs the installed one)."""
    if (tree / "bench").is_dir() and not (tree / "bench" / "round_worker.py").exists():
        raise UsageError(f"base {ref} ({commit[:12]}) predates the A/B check's round workers "
                         "(bench/round_worker.py); choose a newer base with --base")


@contextmanager
def worktree(repo: Path, commit: str) -> Iterator[Path]:
    """`commit`'s tree, checked out beside the current one for as long as the block runs."""
    folder = Path(tempfile.mkdtemp(prefix="gan-bench-base-"))
    tree = folder / "tree"
    git(repo, "worktree", "prune")  # forget trees a killed check left registered
    git(repo, "worktree", "add", "--detach", str(tree), commit)
    try:
        yield tree
    finally:
        git(repo, "worktree", "remove", "--force", str(tree))
        shutil.rmtree(folder, ignore_errors=True)


# --- measuring ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """One side of one pair: the median of its rounds, steps/s (NaN and why, if it failed),
    and what its step ran (bench.suite.workload; {} where the suite says nothing)."""

    value: float
    error: str = ""
    batch_size: str = ""
    workload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Pair:
    """Both sides of one pair, and `ratio`: the median over turns of head/base, each turn's two
    rounds timed back to back (NaN unless both sides measured)."""

    base: Measured
    head: Measured
    ratio: float
    seconds: float = math.nan  # wall time of the whole pair, workers' start included


@dataclass
class KeySamples:
    """One key's pairs: each side's figure and the pair's ratio (NaN where a side failed)."""

    job: Job
    base: list[float] = field(default_factory=list)
    head: list[float] = field(default_factory=list)
    ratio: list[float] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # side -> first failure
    workloads: dict[str, dict[str, Any]] = field(default_factory=dict)  # side -> its first
    batch_sizes: dict[str, str] = field(default_factory=dict)  # side -> its first
    seconds: list[float] = field(default_factory=list)
    added: int = 0  # pairs added before the screen, for power
    screened: int = 0  # the pairs the screen saw (0: not screened)

    def add(self, pair: Pair) -> None:
        for side in SIDES:
            measured = getattr(pair, side)
            getattr(self, side).append(measured.value)
            if measured.error:
                self.errors.setdefault(side, measured.error)
            if measured.workload:
                self.workloads.setdefault(side, measured.workload)
            if measured.batch_size:
                self.batch_sizes.setdefault(side, measured.batch_size)
        self.ratio.append(pair.ratio)
        self.seconds.append(pair.seconds)

    @property
    def batch_size(self) -> str:
        """The head's batch size (the base's where the head has none)."""
        return self.batch_sizes.get("head") or self.batch_sizes.get("base", "")

    def workload_changes(self) -> list[str]:
        """What differs between the sides' workloads; none where a side said nothing."""
        if len(self.workloads) < len(SIDES):
            return []
        return workload_changes(self.workloads["base"], self.workloads["head"])

    def ratios(self) -> np.ndarray:
        """The ratio of every pair where both sides measured."""
        ratios = np.asarray(self.ratio, float)
        return ratios[np.isfinite(ratios)]

    def measured(self, side: str) -> bool:
        return bool(np.isfinite(getattr(self, side)).any())


#: Hears each pair as it is measured: (pair index, job, the pair).
OnMeasured = Callable[[int, Job, Pair], None]


def time_pair(job: Job, trees: Mapping[str, Path], order: tuple[str, str]) -> Pair:
    """One pair: a fresh worker per tree, both warm before either is timed, then one round of
    each per turn (order, reversed, order, ...), so both rounds of a turn meet the same
    moment of the machine."""
    errors: dict[str, str] = {}
    started = time.monotonic()
    with ExitStack() as stack:
        workers = {side: stack.enter_context(RoundWorker(job, trees[side])) for side in SIDES}
        ready = {}
        for side, worker in workers.items():
            try:
                ready[side] = worker.ready()
            except RoundWorkerError as exc:
                errors[side] = str(exc)
        turns = min((r.rounds for r in ready.values()), default=0)
        rates = np.full((turns, len(SIDES)), np.nan)
        for turn in range(turns):
            for side in order if turn % 2 == 0 else order[::-1]:
                if side not in errors:
                    try:
                        rates[turn, SIDES.index(side)] = workers[side].time_round()
                    except RoundWorkerError as exc:
                        errors[side] = str(exc)
    sides = {side: Measured(math.nan, errors[side]) if side in errors
             else Measured(float(np.median(rates[:, i])), batch_size=ready[side].batch_size,
                           workload=ready[side].workload)
             for i, side in enumerate(SIDES)}
    ratio = (math.nan if errors or not turns
             else float(np.median(rates[:, SIDES.index("head")] / rates[:, SIDES.index("base")])))
    return Pair(sides["base"], sides["head"], ratio, time.monotonic() - started)


def measure(jobs: list[Job], trees: Mapping[str, Path], pairs: int,
            samples: dict[str, KeySamples], first_pair: int = 0,
            on_measured: OnMeasured | None = None) -> None:
    """`pairs` more pairs of every job, the sides alternating which is timed first."""
    for index in range(first_pair, first_pair + pairs):
        order = SIDES if index % 2 == 0 else SIDES[::-1]
        for job in jobs:
            pair = time_pair(job, trees, order)
            samples.setdefault(job.job_id, KeySamples(job)).add(pair)
            if on_measured:
                on_measured(index, job, pair)


# --- deciding (pure) ----------------------------------------------------------------------


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """A nested workload as dotted keys: {"config": {"width": 64}} -> {"config.width": 64}."""
    if not isinstance(value, dict):
        return {prefix: value}
    out: dict[str, Any] = {}
    for key, item in value.items():
        out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return out


def workload_changes(base: Mapping[str, Any], head: Mapping[str, Any]) -> list[str]:
    """'config.width 64 -> 128', one per value that differs; [] for the same work."""
    before, after = flatten(dict(base)), flatten(dict(head))
    missing = "(none)"
    return [f"{key} {before.get(key, missing)} -> {after.get(key, missing)}"
            for key in sorted(before.keys() | after.keys())
            if before.get(key, missing) != after.get(key, missing)]


def pair_sd(ratios: np.ndarray) -> float:
    """A key's pair scatter: the SD of its pairs' log ratios (NaN under two pairs)."""
    return float(np.std(np.log(ratios), ddof=1)) if len(ratios) > 1 else math.nan


def extra_pairs(s: KeySamples, settings: Settings) -> int:
    """Pairs to add before the screen to a key whose scatter hides a target_effect slowdown:
    the fewest with which it would see one, at most what max_seconds_per_key allows at its
    pairs' median duration. 0 where it sees one already, where the sides run other work (no
    speed verdict to power), or where its pairs' duration is unknown."""
    ratios = s.ratios()
    sd, seconds = pair_sd(ratios), _median(s.seconds)
    if not (math.isfinite(sd) and seconds > 0) or s.workload_changes():
        return 0
    rule = settings.rule(len(ratios))
    if detectable_slowdown(sd, rule, TARGET_POWER) <= settings.target_effect:
        return 0
    most = len(ratios) + int(settings.max_seconds_per_key // seconds)
    needed = pairs_to_see(settings.target_effect, sd, rule, most, TARGET_POWER)
    return (most if needed is None else needed) - len(ratios)


def add_power_pairs(samples: Mapping[str, KeySamples], settings: Settings,
                    add_pairs: Callable[[set[str], int], None]) -> None:
    """Step 0: every key that cannot see a target_effect slowdown gets its extra pairs."""
    for key, s in samples.items():
        extra = extra_pairs(s, settings)
        if extra:
            add_pairs({key}, extra)
            s.added += extra


def is_suspect(ratios: np.ndarray, min_effect: float) -> bool:
    """Worth confirming: the median pair is slower than the margin."""
    return len(ratios) > 0 and float(np.median(ratios)) < 1 - min_effect


def suspects(samples: Mapping[str, KeySamples], min_effect: float) -> set[str]:
    """Keys to confirm: slower than the margin, on the same work (another workload's time
    says nothing about a regression)."""
    return {key for key, s in samples.items()
            if is_suspect(s.ratios(), min_effect) and not s.workload_changes()}


def slowdown_p(ratios: np.ndarray, min_effect: float) -> float:
    """One-sided exact signed-rank p that the pairs run slower than 1 - min_effect."""
    from scipy.stats import wilcoxon

    shifted = np.log(ratios) - math.log(1 - min_effect)
    if not np.any(shifted):
        return 1.0
    return float(wilcoxon(shifted, alternative="less").pvalue)


def holm(p_values: Mapping[str, float]) -> dict[str, float]:
    """Holm's step-down adjusted p-values: reject where adjusted p < alpha, FWER <= alpha."""
    ordered = sorted(p_values.items(), key=lambda item: item[1])
    adjusted, running = {}, 0.0
    for rank, (key, p) in enumerate(ordered):
        running = max(running, min(1.0, (len(ordered) - rank) * p))
        adjusted[key] = running
    return adjusted


@dataclass(frozen=True)
class Row:
    """One key's verdict: REGRESSED, not confirmed, ok, faster, workload changed, new, error
    or broken."""

    job: Job
    verdict: str
    base: float = math.nan  # median over pairs of the job figures, steps/s
    head: float = math.nan
    ratio: float = math.nan  # median of the paired ratios head/base
    low: float = math.nan  # its 95% bootstrap interval over pairs
    high: float = math.nan
    p: float = math.nan  # one-sided signed-rank p of a slowdown past the margin
    p_holm: float = math.nan  # Holm-adjusted over the confirmed family
    pairs: int = 0
    batch_size: str = ""
    note: str = ""
    pair_sd: float = math.nan  # SD of the key's log pair ratios
    detectable: float = math.nan  # the smallest slowdown its rule catches at TARGET_POWER

    @property
    def fails(self) -> bool:
        return self.verdict in FAILING


FAILING = ("REGRESSED", "error")
WORKLOAD_CHANGED = "workload changed"


def screen_confirm_decide(samples: dict[str, KeySamples], settings: Settings,
                          add_pairs: Callable[[set[str], int], None]) -> list[Row]:
    """Steps 0 (pairs for power) to 4 on the pairs measured so far; `add_pairs(keys, n)`
    measures n more pairs of each key."""
    add_power_pairs(samples, settings, add_pairs)
    for s in samples.values():
        s.screened = len(s.ratios())
    suspected = suspects(samples, settings.min_effect)
    if suspected:
        add_pairs(suspected, settings.confirm_pairs)
    return decide(samples, suspected, settings)


def decide(samples: Mapping[str, KeySamples], confirmed: set[str],
           settings: Settings) -> list[Row]:
    """Every key's verdict; only the keys in `confirmed` (rerun for confirmation) can fail."""
    p_values = {key: slowdown_p(samples[key].ratios(), settings.min_effect)
                for key in confirmed if len(samples[key].ratios())}
    adjusted = holm(p_values)
    return [verdict(samples[key], p_values.get(key, math.nan), adjusted.get(key, math.nan),
                    key in confirmed, settings) for key in samples]


def verdict(s: KeySamples, p: float, p_holm: float, confirmed: bool, settings: Settings) -> Row:
    head_ok, base_ok = s.measured("head"), s.measured("base")
    if not (head_ok and base_ok):
        name = "broken" if not head_ok and not base_ok else "error" if base_ok else "new"
        side = "head" if base_ok else "base"
        why = {"new": "the base tree cannot run it", "error": "fails in the head tree only",
               "broken": "fails in both trees"}[name]
        return Row(s.job, name, _median(s.base), _median(s.head), batch_size=s.batch_size,
                   note=f"{why}: {s.errors.get(side, '')}")
    ratios = s.ratios()
    ratio, low, high = bootstrap_median(ratios)
    sd = pair_sd(ratios)
    changes = s.workload_changes()
    if changes:  # not the same work: no speed verdict, and no p
        return Row(s.job, WORKLOAD_CHANGED, _median(s.base), _median(s.head), ratio, low, high,
                   pairs=len(ratios), batch_size=s.batch_size,
                   note="not the same work, no speed verdict: " + "; ".join(changes),
                   pair_sd=sd)
    if confirmed and p_holm < settings.alpha:
        name = "REGRESSED"
    elif confirmed:
        name = "not confirmed"
    elif ratio > 1 + settings.min_effect:
        name = "faster"
    else:
        name = "ok"
    if math.isnan(p):
        p = slowdown_p(ratios, settings.min_effect)
    seen = detectable_slowdown(sd, settings.rule(s.screened or len(ratios)),
                               TARGET_POWER)
    notes = ["confirmation pairs run" if confirmed else "", power_note(s, seen, settings)]
    return Row(s.job, name, _median(s.base), _median(s.head), ratio, low, high, p, p_holm,
               len(ratios), s.batch_size, "; ".join(filter(None, notes)), sd, seen)


def power_note(s: KeySamples, detectable: float, settings: Settings) -> str:
    """What the row must say about its power: the pairs added for it, and plainly when the key
    still cannot see a target_effect slowdown."""
    added = f"{s.added} pairs added for power" if s.added else ""
    if not detectable > settings.target_effect:
        return added
    blind = (f"cannot see a {settings.target_effect:.0%} slowdown on this key: its pairs "
             f"scatter too much for the {s.screened or len(s.ratios())} pairs it ran; a larger "
             "--max-seconds-per-key buys more")
    return f"{added}; {blind}" if added else blind


def _median(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.median(finite)) if finite else math.nan


# --- the check ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    rows: list[Row]
    base_ref: str
    base_commit: str
    head_commit: str
    dirty: bool
    settings: Settings
    samples: dict[str, KeySamples]

    @property
    def failed(self) -> list[Row]:
        return [r for r in self.rows if r.fails]

    def header(self) -> str:
        head = self.head_commit[:12] + (" plus the uncommitted changes of the working tree"
                                        if self.dirty else "")
        s = self.settings
        return (f"A/B check: base {self.base_ref} = {self.base_commit[:12]}, head {head}\n"
                f"{s.pairs} pairs per key (+{s.confirm_pairs} for suspected keys), minimum "
                f"effect {s.min_effect:.0%}, family-wise alpha {s.alpha:g} (Holm over suspected "
                f"keys); a key that cannot see a {s.target_effect:.0%} slowdown at "
                f"{TARGET_POWER:.0%} power gets up to {s.max_seconds_per_key:g} s of more pairs")

    def summary(self) -> str:
        counts = {}
        for row in self.rows:
            counts[row.verdict] = counts.get(row.verdict, 0) + 1
        text = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
        ratios = [r.ratio for r in self.rows if math.isfinite(r.ratio)]
        overall = (f"; geometric mean ratio over keys {math.exp(np.mean(np.log(ratios))):.3f}"
                   if ratios else "")
        blind = sum(r.detectable > self.settings.target_effect for r in self.rows)
        blind_text = (f"; {blind} key(s) cannot see a {self.settings.target_effect:.0%} "
                      "slowdown (see their notes)" if blind else "")
        nothing = ("; the base tree ran no job, so nothing was compared (is REF too old for "
                   "this harness?)" if all(r.verdict == "new" for r in self.rows) else "")
        return (f"A/B check {'FAILED' if self.failed else 'passed'}: {text}{overall}"
                f"{blind_text}{nothing}")


def run_check(jobs: list[Job], base_ref: str | None, settings: Settings,
              repo: Path = PROJECT_ROOT, on_measured: OnMeasured | None = None) -> Result:
    """Both trees' jobs, interleaved; suspected keys confirmed; every key decided."""
    if not jobs:
        raise UsageError("the selection holds no job; widen --models or --frameworks")
    commit = default_base(repo) if base_ref is None else resolve_ref(repo, base_ref)
    head, dirty = git(repo, "rev-parse", "HEAD"), is_dirty(repo)
    samples: dict[str, KeySamples] = {}
    with worktree(repo, commit) as base_tree:
        require_round_worker(base_tree, base_ref or "the merge base with main", commit)
        trees = {"base": base_tree, "head": repo}
        measure(jobs, trees, settings.pairs, samples, on_measured=on_measured)

        def add_pairs(keys: set[str], pairs: int) -> None:
            done = {key: len(samples[key].ratio) for key in keys}
            for first in sorted(set(done.values())):  # keys level with each other, in turn
                measure([j for j in jobs if done.get(j.job_id) == first], trees, pairs,
                        samples, first_pair=first, on_measured=on_measured)

        rows = screen_confirm_decide(samples, settings, add_pairs)
    return Result(rows, base_ref or "merge base with main", commit, head, dirty, settings,
                  samples)


# --- output -------------------------------------------------------------------------------


def _key_columns(job: Job, batch_size: str) -> dict[str, str]:
    return {"model": job.model, "variant": str(job.params.get("variant", "")),
            "framework": job.framework, "device": job.device, "mode": job.mode,
            "batch_size": batch_size, "threads": str(job.threads),
            "wait_policy": job.wait_policy}


def table(rows: list[Row]) -> pd.DataFrame:
    """Verdict, whether it fails the check, base, head, ratio, interval and p per key;
    failures first."""
    order = {v: i for i, v in enumerate(("REGRESSED", "error", "not confirmed", "broken",
                                         WORKLOAD_CHANGED, "new", "faster", "ok"))}
    rows = sorted(rows, key=lambda r: order[r.verdict])
    return pd.DataFrame([{
        "verdict": r.verdict, "fails": "yes" if r.fails else "no",
        **_key_columns(r.job, r.batch_size),
        "base steps/s": _rounded(r.base), "head steps/s": _rounded(r.head),
        "ratio": _rounded(r.ratio, 3),
        "95% interval": "" if math.isnan(r.low) else f"{r.low:.3f} to {r.high:.3f}",
        "p": _rounded(r.p, 4), "p (Holm)": _rounded(r.p_holm, 4), "pairs": r.pairs,
        "pair sd": _rounded(r.pair_sd, 3),
        f"detectable slowdown ({TARGET_POWER:.0%} power)": _share(r.detectable),
        "note": r.note} for r in rows])


def _share(value: float) -> str:
    """A slowdown as a percentage; '> 100%' past the largest the power search tries."""
    if math.isnan(value):
        return ""
    return f"> {MAX_SLOWDOWN:.0%}" if math.isinf(value) else f"{value:.1%}"


def _rounded(value: float, digits: int = 2) -> float | str:
    return "" if math.isnan(value) else round(value, digits)


def pairs_table(samples: Mapping[str, KeySamples]) -> pd.DataFrame:
    """Every pair measured: the raw data behind the verdicts."""
    return pd.DataFrame([{**_key_columns(s.job, s.batch_size), "pair": i, "base": b, "head": h,
                          "ratio": r}
                         for s in samples.values()
                         for i, (b, h, r) in enumerate(zip(s.base, s.head, s.ratio,
                                                           strict=True))])


def write(result: Result, out_dir: Path) -> Path:
    """ab-check.md (header, table, summary), ab-check.csv and ab-pairs.csv in out_dir."""
    from bench.report.formatting import to_markdown

    out_dir.mkdir(parents=True, exist_ok=True)
    frame = table(result.rows)
    frame.to_csv(out_dir / f"{REPORT}.csv", index=False)
    pairs_table(result.samples).to_csv(out_dir / "ab-pairs.csv", index=False)
    path = out_dir / f"{REPORT}.md"
    path.write_text(f"{result.header()}\n\n{to_markdown(frame)}\n\n{result.summary()}\n")
    return path
