"""The A/B check: its statistics on synthetic paired data, its git worktree on a tiny repo of
this test's own making (timed by the `rates` suite, which times nothing), and its bad input.
No verdict here depends on how busy the machine running the tests is."""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np
import pandas as pd
import pytest

from bench.checks.ab_check import (
    KeySamples,
    Measured,
    Pair,
    Result,
    Settings,
    decide,
    extra_pairs,
    git,
    holm,
    is_suspect,
    pair_sd,
    resolve_ref,
    run_check,
    screen_confirm_decide,
    slowdown_p,
    table,
    workload_changes,
    worktree,
    write,
)
from bench.checks.ab_power import (
    MAX_PAIRS,
    PRECISION,
    Rule,
    detectable_slowdown,
    pairs_to_see,
    power,
    signed_rank_cdf,
)
from bench.errors import UsageError
from bench.jobs import Job
from bench.registry import load_suite
from bench.suite import Request
from conftest import invoke, run_python

SETTINGS = Settings()
KEYS = 22  # throughput keys of the quick profile over every family and both frameworks


def job(model: str, framework: str = "torch") -> Job:
    return Job(suite="throughput", model=model, framework=framework,
               params={"variant": "base"})


def sample(rng: np.random.Generator, key: KeySamples, pairs: int, factor: float,
           noise: float) -> None:
    """`pairs` more pairs: each side's figure scattered by `noise`, head slower by `factor`."""
    for _ in range(pairs):
        base = 100 * (1 + noise * rng.standard_normal())
        head = 100 * factor * (1 + noise * rng.standard_normal())
        key.add(Pair(Measured(base), Measured(head), head / base))


def simulated_check(seed: int, noise: float, slow: dict[str, float] | None = None
                    ) -> tuple[list, set[str], dict[str, KeySamples]]:
    """The check's two stages on synthetic jobs: screen every key, confirm the suspects."""
    rng = np.random.default_rng(seed)
    slow = slow or {}
    samples = {f"k{i}": KeySamples(job(f"k{i}")) for i in range(KEYS)}
    for name, key in samples.items():
        sample(rng, key, SETTINGS.pairs, slow.get(name, 1.0), noise)
    confirmed = set()

    def confirm(keys: set[str], pairs: int) -> None:
        confirmed.update(keys)
        for name in keys:
            sample(rng, samples[name], pairs, slow.get(name, 1.0), noise)

    return screen_confirm_decide(samples, SETTINGS, confirm), confirmed, samples


def regressed(rows) -> set[str]:
    return {r.job.model for r in rows if r.verdict == "REGRESSED"}


def test_an_unchanged_tree_with_6_percent_noise_passes_every_time():
    for seed in range(40):
        rows, _, _ = simulated_check(seed, noise=0.06)
        assert not any(r.fails for r in rows), (seed, table(rows))


def test_a_10_percent_slowdown_of_one_key_with_3_percent_noise_is_caught():
    caught = 0
    for seed in range(20):
        rows, _, _ = simulated_check(seed, noise=0.03, slow={"k7": 0.9})
        assert regressed(rows) <= {"k7"}, seed  # never another key
        caught += regressed(rows) == {"k7"}
    assert caught >= 19


def test_only_suspected_keys_are_rerun_for_confirmation():
    rows, confirm, samples = simulated_check(3, noise=0.01, slow={"k2": 0.8})
    assert confirm == {"k2"}
    confirmed_pairs = SETTINGS.pairs + SETTINGS.confirm_pairs
    assert len(samples["k2"].base) == len(samples["k2"].head) == confirmed_pairs
    assert {len(s.base) for name, s in samples.items() if name != "k2"} == {SETTINGS.pairs}
    row = next(r for r in rows if r.job.model == "k2")
    assert (row.verdict, row.pairs) == ("REGRESSED", confirmed_pairs)
    assert row.low <= row.ratio <= row.high
    assert row.ratio == pytest.approx(0.8, abs=0.03)


def test_holm_adjusts_step_down_and_keeps_the_order():
    adjusted = holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.5})
    assert adjusted == pytest.approx({"a": 0.04, "c": 0.09, "b": 0.09, "d": 0.5})
    assert holm({}) == {}


# Ten pairs below the 5% margin but three of them above it: p = 14/1024 on its own.
BORDERLINE = np.exp(math.log(0.95) + np.array([-10, -9, -8, -7, -6, -5, -4, 3, 2, 1]) / 100)


def borderline_keys(count: int) -> dict[str, KeySamples]:
    keys = {}
    for i in range(count):
        key = keys[f"k{i}"] = KeySamples(job(f"k{i}"))
        for ratio in BORDERLINE:
            key.add(Pair(Measured(100.0), Measured(100.0 * ratio), ratio))
    return keys


def test_holm_is_applied_over_the_confirmed_keys():
    assert slowdown_p(BORDERLINE, 0.05) == pytest.approx(14 / 1024)
    alone = decide(borderline_keys(1), {"k0"}, SETTINGS)
    assert [r.verdict for r in alone] == ["REGRESSED"]
    four = decide(borderline_keys(4), {"k0", "k1", "k2", "k3"}, SETTINGS)
    assert {r.verdict for r in four} == {"not confirmed"}  # 4 x 14/1024 > 0.05
    assert all(r.p_holm == pytest.approx(4 * 14 / 1024) for r in four)


def test_a_key_the_base_cannot_run_is_new_and_one_the_head_cannot_run_fails():
    new, broken_head = KeySamples(job("new")), KeySamples(job("lost"))
    for _ in range(5):
        new.add(Pair(Measured(math.nan, "KeyError: 'new'"), Measured(50.0), math.nan))
        broken_head.add(Pair(Measured(50.0), Measured(math.nan, "worker exited with status 1"),
                             math.nan))
    rows = {r.job.model: r for r in decide({"new": new, "lost": broken_head}, set(), SETTINGS)}
    only_new = Result(decide({"new": new}, set(), SETTINGS), "old", "a" * 40, "b" * 40, False,
                      SETTINGS, {"new": new})
    assert "the base tree ran no job" in only_new.summary()
    assert (rows["new"].verdict, rows["new"].fails) == ("new", False)
    assert "KeyError" in rows["new"].note
    assert (rows["lost"].verdict, rows["lost"].fails) == ("error", True)
    assert "status 1" in rows["lost"].note


def test_a_key_whose_workload_changed_gets_no_speed_verdict_and_is_not_confirmed():
    """Head is 20% slower on twice the work: no REGRESSED, no confirmation, both values said."""
    work = {"config": {"width": 64, "batch_size": 64}, "batch_size": 64, "flops_per_step": 1e6}
    wider = {**work, "config": {"width": 128, "batch_size": 64}, "flops_per_step": 4e6}
    changed, same = KeySamples(job("changed")), KeySamples(job("same"))
    for _ in range(5):
        changed.add(Pair(Measured(100.0, workload=work), Measured(80.0, workload=wider), 0.8))
        same.add(Pair(Measured(100.0, workload=work), Measured(80.0, workload=work), 0.8))
    confirmed = set()
    rows = {r.job.model: r for r in screen_confirm_decide(
        {"changed": changed, "same": same}, SETTINGS,
        lambda keys, pairs: confirmed.update(keys))}
    assert confirmed == {"same"}  # the same work, slower: confirmed; the other is not
    row = rows["changed"]
    assert (row.verdict, row.fails, math.isnan(row.p)) == ("workload changed", False, True)
    assert "config.width 64 -> 128" in row.note and "flops_per_step 1000000.0 -> 4000000.0" in (
        row.note)
    assert workload_changes(work, dict(work)) == []
    assert workload_changes(work, {}) == [f"{key} {value} -> (none)" for key, value in (
        ("batch_size", 64), ("config.batch_size", 64), ("config.width", 64),
        ("flops_per_step", 1e6))]


# --- power per key --------------------------------------------------------------------------

RULE = Rule(pairs=5, confirm_pairs=10, min_effect=0.05, alpha=0.05)


def replayed_power(slowdown: float, sd: float, rule: Rule, draws: int, seed: int) -> float:
    """The rule run draw by draw through the check's own functions (its screen and scipy's
    exact signed-rank test), on fresh normal log ratios: what ab_power must agree with."""
    rng = np.random.default_rng(seed)
    caught = 0
    for _ in range(draws):
        ratios = np.exp(sd * rng.standard_normal(rule.pairs + rule.confirm_pairs)) / (
            1 + slowdown)
        caught += (is_suspect(ratios[:rule.pairs], rule.min_effect)
                   and slowdown_p(ratios, rule.min_effect) < rule.alpha)
    return caught / draws


@pytest.mark.parametrize(("slowdown", "sd"), [(0.10, 0.04), (0.10, 0.08), (0.15, 0.08),
                                              (0.10, 0.12)])
def test_the_power_agrees_with_the_rule_replayed_through_the_checks_functions(slowdown, sd):
    draws = 800
    simulated = power(slowdown, sd, RULE)
    replayed = replayed_power(slowdown, sd, RULE, draws, seed=11)
    standard_error = math.sqrt(max(simulated * (1 - simulated), 0.01) / draws)
    assert abs(simulated - replayed) < 4 * standard_error, (simulated, replayed)


def test_the_signed_rank_null_is_scipys_exact_one():
    rng = np.random.default_rng(3)
    for n in (5, 9, 15):
        d = rng.standard_normal(n) - 0.4
        w_plus = (np.abs(d).argsort().argsort() + 1)[d > 0].sum()
        assert signed_rank_cdf(n)[w_plus] == pytest.approx(
            slowdown_p(np.exp(d) * 0.95, 0.05), rel=1e-9)


def test_the_detectable_slowdown_grows_with_the_scatter_and_shrinks_with_pairs():
    by_sd = [detectable_slowdown(sd, RULE) for sd in (0.01, 0.03, 0.06, 0.10, 0.15)]
    assert by_sd == sorted(by_sd) and by_sd[0] < 0.07 < 0.15 < by_sd[-1]
    by_pairs = [detectable_slowdown(0.08, dataclasses.replace(RULE, pairs=n))
                for n in (5, 10, 20, 40)]
    assert by_pairs == sorted(by_pairs, reverse=True) and by_pairs[-1] < 0.10 < by_pairs[0]
    curve = [power(s, 0.08, RULE) for s in np.linspace(0, 0.4, 21)]
    assert curve == sorted(curve) and curve[0] < 0.005 and curve[-1] > 0.99  # no change: ~never
    # Without scatter every pair is past the margin as soon as the slowdown is.
    assert detectable_slowdown(0.0, RULE) == pytest.approx(1 / 0.95 - 1, abs=PRECISION)
    assert math.isnan(detectable_slowdown(math.nan, RULE))
    assert detectable_slowdown(1.0, RULE) == math.inf
    # Four pairs in all: no sign pattern reaches p < 0.05, nothing can ever fail.
    assert detectable_slowdown(0.01, Rule(2, 2, 0.05, 0.05)) == math.inf


def scattered(name: str, sd: float, pairs: int, seconds: float = 10.0) -> KeySamples:
    """A key whose log ratios have exactly this SD (evenly spread normal quantiles)."""
    key = KeySamples(job(name))
    add_scattered(key, sd, pairs, seconds)
    return key


def add_scattered(key: KeySamples, sd: float, pairs: int, seconds: float = 10.0) -> None:
    from scipy.stats import norm

    z = norm.ppf((np.arange(pairs) + 0.5) / pairs)
    for ratio in np.exp(sd * z / z.std(ddof=1)):
        key.add(Pair(Measured(100.0), Measured(100.0 * ratio), float(ratio), seconds))


def test_a_noisy_key_gets_the_pairs_it_needs_up_to_the_time_cap():
    noisy, quiet = scattered("noisy", 0.08, 5), scattered("quiet", 0.02, 5)
    assert pair_sd(noisy.ratios()) == pytest.approx(0.08)
    needed = pairs_to_see(0.10, 0.08, RULE, most=500)
    assert 5 < needed < MAX_PAIRS
    assert pairs_to_see(0.10, 0.08, RULE, most=needed - 1) is None
    assert pairs_to_see(0.10, 0.02, RULE, most=500) == 5  # it sees 10% already
    roomy = Settings(max_seconds_per_key=10.0 * 1000)
    assert extra_pairs(noisy, roomy) == needed - 5
    assert extra_pairs(noisy, Settings(max_seconds_per_key=30.0)) == 3  # 3 pairs of 10 s
    assert extra_pairs(noisy, Settings(max_seconds_per_key=0.0)) == 0
    assert extra_pairs(quiet, roomy) == 0  # it sees 10% already
    untimed = KeySamples(job("untimed"))
    for ratio in noisy.ratios():
        untimed.add(Pair(Measured(100.0), Measured(100.0 * ratio), ratio))
    assert extra_pairs(untimed, roomy) == 0  # no duration, no budget to spend


def test_the_table_shows_each_keys_scatter_and_power_and_says_when_it_is_blind():
    samples = {"noisy": scattered("noisy", 0.08, 5), "quiet": scattered("quiet", 0.02, 5),
               "wild": scattered("wild", 2.0, 5)}
    added = {}

    def add_pairs(keys: set[str], pairs: int) -> None:
        for key in keys:
            added[key] = added.get(key, 0) + pairs
            add_scattered(samples[key], pair_sd(samples[key].ratios()), pairs)

    settings = Settings(max_seconds_per_key=100.0)  # 10 pairs of 10 s
    rows = {r.job.model: r for r in screen_confirm_decide(samples, settings, add_pairs)}
    assert added == {"noisy": 10, "wild": 10}
    frame = table(list(rows.values())).set_index("model")
    assert frame.loc["quiet", "pair sd"] == pytest.approx(0.02, abs=0.001)
    assert frame.loc["quiet", "detectable slowdown (90% power)"] == (
        f"{detectable_slowdown(rows['quiet'].pair_sd, RULE):.1%}")
    assert frame.loc["quiet", "note"] == ""
    assert rows["noisy"].detectable == detectable_slowdown(rows["noisy"].pair_sd,
                                                           dataclasses.replace(RULE, pairs=15))
    assert frame.loc["wild", "detectable slowdown (90% power)"] == "> 100%"
    for key in ("noisy", "wild"):
        assert rows[key].detectable > 0.10
        assert frame.loc[key, "note"] == ("10 pairs added for power; cannot see a 10% slowdown "
                                          "on this key: its pairs scatter too much for the 15 "
                                          "pairs it ran; a larger --max-seconds-per-key buys "
                                          "more")
    result = Result(list(rows.values()), "main", "a" * 40, "b" * 40, False, settings, samples)
    assert "2 key(s) cannot see a 10% slowdown" in result.summary()
    assert "up to 100 s of more pairs" in result.header()


# --- git worktrees, on a tiny repo whose trees differ in one table of rates -----------------


def commit_rates(repo, rates: dict[str, float], message: str) -> None:
    (repo / "ab_rates.py").write_text(f"RATES = {rates!r}\n")
    git(repo, "add", "ab_rates.py")
    git(repo, "-c", "user.name=test", "-c", "user.email=t@e.st", "commit", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit_rates(repo, {"mlp_gan": 100.0}, "base")
    return repo


def rates_jobs(models: str) -> list[Job]:
    request = Request(models=tuple(models.split(",")), frameworks=("torch",))
    return load_suite("rates").jobs(request)


@pytest.mark.slow
def test_a_slower_commit_fails_and_a_family_new_in_it_is_new(repo, tmp_path):
    commit_rates(repo, {"mlp_gan": 80.0, "dcgan": 100.0}, "slower, and a new family")
    result = run_check(rates_jobs("mlp_gan,dcgan"), "main~1", SETTINGS, repo=repo)
    verdicts = {r.job.model: r.verdict for r in result.rows}
    assert verdicts == {"mlp_gan": "REGRESSED", "dcgan": "new"}
    assert [r.job.model for r in result.failed] == ["mlp_gan"]
    assert "KeyError: 'dcgan'" in next(r.note for r in result.rows if r.verdict == "new")
    assert {k.job.model: len(k.head) for k in result.samples.values()} == {
        "mlp_gan": SETTINGS.pairs + SETTINGS.confirm_pairs, "dcgan": SETTINGS.pairs}
    assert git(repo, "worktree", "list").count("\n") == 0  # the base worktree is gone
    report = write(result, tmp_path / "out")
    assert "REGRESSED" in report.read_text()
    assert (tmp_path / "out" / "ab-check.csv").read_text().startswith("verdict,fails,model,")


FAMILY = """from dataclasses import dataclass

from bench.adapter import FamilyConfig


@dataclass(frozen=True)
class TinyConfig(FamilyConfig):
    family = "tiny"
    width: int = {width}

    def flops_per_step(self) -> float:
        return 6.0 * self.batch_size * self.width**2
"""


def commit_family(repo, width: int, message: str) -> None:
    (repo / "ab_family.py").write_text(FAMILY.replace("{width}", str(width)))
    git(repo, "add", "ab_family.py")
    git(repo, "-c", "user.name=test", "-c", "user.email=t@e.st", "commit", "-q", "-m", message)


def test_a_commit_that_widens_a_family_is_a_workload_change_and_passes(repo, tmp_path):
    commit_family(repo, 64, "a family")
    commit_family(repo, 128, "wider by default")
    commit_rates(repo, {"mlp_gan": 70.0}, "and slower, as wider layers are")
    result = run_check(rates_jobs("mlp_gan"), "main~2", Settings(pairs=3), repo=repo)
    [row] = result.rows
    assert (row.verdict, row.pairs) == ("workload changed", 3)  # no confirmation pairs
    assert "config.width 64 -> 128" in row.note
    assert f"flops_per_step {6.0 * 64 * 64**2} -> {6.0 * 64 * 128**2}" in row.note
    assert not result.failed and result.summary().startswith("A/B check passed")
    write(result, tmp_path / "out")
    assert "workload changed" in (tmp_path / "out" / "ab-check.csv").read_text()


def test_an_unchanged_dirty_tree_against_head_passes_and_says_it_is_dirty(repo):
    (repo / "ab_rates.py").write_text("RATES = {'mlp_gan': 100.0}  # touched, not faster\n")
    result = run_check(rates_jobs("mlp_gan"), "HEAD", SETTINGS, repo=repo)
    assert result.dirty and "uncommitted changes" in result.header()
    assert [r.verdict for r in result.rows] == ["ok"]
    assert not result.failed and result.summary().startswith("A/B check passed")


def test_the_default_base_is_the_merge_base_with_main(repo):
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", "feature")
    commit_rates(repo, {"mlp_gan": 101.0}, "on the branch")
    result = run_check(rates_jobs("mlp_gan"), None, SETTINGS, repo=repo)
    assert result.base_commit == base
    assert result.head_commit == git(repo, "rev-parse", "HEAD") != base


def test_a_worktree_is_removed_even_when_the_block_fails(repo):
    with pytest.raises(RuntimeError), worktree(repo, resolve_ref(repo, "HEAD")) as tree:
        assert (tree / "ab_rates.py").exists()
        raise RuntimeError("a failing measurement")
    assert not tree.exists()
    assert git(repo, "worktree", "list").count("\n") == 0


def test_an_unknown_ref_is_one_line_naming_it(repo):
    with pytest.raises(UsageError, match="unknown git ref 'no-such-branch'"):
        resolve_ref(repo, "no-such-branch")


# --- the command line ---------------------------------------------------------------------


def test_check_with_an_unknown_ref_is_exit_2_naming_it():
    done = invoke("check", "--base", "no-such-ref-xyz", "--models", "mlp_gan",
                  "--frameworks", "torch")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "unknown git ref 'no-such-ref-xyz'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_check_of_a_suite_without_a_round_timer_is_exit_2_naming_it():
    done = invoke("check", "--base", "HEAD", "--suite", "faults", "--models", "mlp_gan")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "suite 'faults' offers no round_timer" in done.stderr


@pytest.mark.parametrize("args, message", [
    (["results/x", "--base", "main"], "--base applies to the A/B check"),
    (["results/x"], "needs --baseline FILE"),
    (["--baseline", "b.json"], "--baseline and --allow-missing go with RUN_DIR"),
])
def test_check_mixing_its_two_modes_is_exit_2(args, message):
    done = invoke("check", *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr


def test_the_ab_check_loads_no_framework():
    done = run_python("import sys, bench.checks.ab_check; "
                      "print(sorted({'torch', 'tensorflow', 'keras'} & set(sys.modules)))")
    assert done.stdout.strip() == "[]"


def test_the_resampling_script_runs_measured_pairs_through_the_checks_rule(tmp_path):
    """scripts/gate_false_positives.py resample: an A/A series never fails, a 20% slowdown
    always does, each drawn from its own measured pairs' ratios (not from head/base, which
    here says nothing)."""
    rng = np.random.default_rng(0)
    rows = []
    for series, factor in (("same", 1.0), ("slow", 0.8)):
        for variant in ("images", "points"):
            for pair in range(10):
                rows.append({"series": series, "model": "mlp_gan", "variant": variant,
                             "mode": "eager", "pair": pair, "base": 100.0, "head": 100.0,
                             "ratio": factor * (1 + 0.01 * rng.standard_normal())})
    csv = tmp_path / "pairs.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    done = run_python("import runpy, sys; sys.argv = ['gate_false_positives.py', 'resample', "
                      f"{str(csv)!r}, '--checks', '20']; "
                      "runpy.run_path('scripts/gate_false_positives.py', run_name='__main__')")
    lines = {line.split("|")[1].strip(): line for line in done.stdout.splitlines()[2:]}
    assert [cell.strip() for cell in lines["same"].split("|")[-3:-1]] == ["10", "0"]
    assert [cell.strip() for cell in lines["slow"].split("|")[-3:-1]] == ["10", "20"]


def test_the_collecting_script_labels_each_finished_check_with_its_series_and_start(tmp_path):
    """scripts/gate_false_positives.py collect: one row per finished check and key, one per
    pair, each labelled with its series; a check that did not finish is left out; a check's
    start is when its timing file was written, less the seconds it holds."""
    for series, checks in (("same", 2), ("slow", 1)):
        for i in range(checks + 1):
            folder = tmp_path / series / f"check-{i:02d}"
            folder.mkdir(parents=True)
            pd.DataFrame({"verdict": ["ok"], "variant": ["points"]}).to_csv(
                folder / "ab-check.csv", index=False)
            pd.DataFrame({"pair": [0, 1], "ratio": [1.0, 0.9]}).to_csv(
                folder / "ab-pairs.csv", index=False)
            if i == checks:
                continue  # the last check was killed: no report, no timing
            (folder / "ab-check.md").write_text("A/B check passed: 1 ok\n")
            (folder / "seconds.txt").write_text("120.0\n")
            written = pd.Timedelta("10:07:30").total_seconds()  # that time of day, the epoch's day
            os.utime(folder / "seconds.txt", (written, written))
    prefix = tmp_path / "gate"
    run_python("import runpy, sys; sys.argv = ['gate_false_positives.py', 'collect', "
               f"'A/A', {str(tmp_path / 'same')!r}, 'slowdown', {str(tmp_path / 'slow')!r}, "
               f"'--prefix', {str(prefix)!r}]; "
               "runpy.run_path('scripts/gate_false_positives.py', run_name='__main__')")
    checks = pd.read_csv(f"{prefix}-checks.csv")
    assert list(zip(checks["series"], checks["check"], strict=True)) == [
        ("A/A", "check-00"), ("A/A", "check-01"), ("slowdown", "check-00")]
    assert set(checks["started (UTC)"]) == {"10:05"}
    assert list(checks.columns[:2]) == ["series", "check"]
    pairs = pd.read_csv(f"{prefix}-pairs.csv")
    assert pairs.groupby("series").size().to_dict() == {"A/A": 4, "slowdown": 2}
