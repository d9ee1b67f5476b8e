"""bench.round_worker, the A/B check's live workers, and how the check pairs their rounds.

The workers run the `rates` test suite from a source tree of the test's own making, so what
they answer is that tree's table, not a timing of this machine.
"""

from __future__ import annotations

import math

import pytest

from bench.checks import ab_check
from bench.checks.ab_check import require_round_worker, time_pair
from bench.errors import UsageError
from bench.jobs import Job
from bench.round_worker import Ready, RoundWorker, RoundWorkerError

# Real workers, training or parity probes in fresh processes: deselect with -m "not slow".
pytestmark = pytest.mark.slow

RATES_ROUNDS = 3  # the rates suite's


def tree_with_rates(tmp_path, rates: dict[str, float]):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "ab_rates.py").write_text(f"RATES = {rates!r}\n")
    return tree


def rates_job(model: str = "mlp_gan", timeout_s: float = 120) -> Job:
    return Job(suite="rates", model=model, framework="torch", params={"variant": "base"},
               timeout_s=timeout_s)


def test_a_worker_times_rounds_of_its_trees_step_and_prints_stay_out_of_the_answers(tmp_path):
    tree = tree_with_rates(tmp_path, {"mlp_gan": 100.0})
    with RoundWorker(rates_job(), tree) as worker:
        assert worker.ready() == Ready(RATES_ROUNDS, "64")
        rates = [worker.time_round() for _ in range(5)]  # as many as asked, chatter and all
        folder = worker.folder
    assert rates == pytest.approx([100.0] * 5, rel=0.021)
    assert len(set(rates)) > 1  # each answer is a new round
    assert not folder.exists() and worker.proc.returncode == 0


def test_a_model_the_tree_lacks_is_a_one_line_error(tmp_path):
    tree = tree_with_rates(tmp_path, {"mlp_gan": 100.0})
    with RoundWorker(rates_job("dcgan"), tree) as worker, \
            pytest.raises(RoundWorkerError, match=r"^KeyError: 'dcgan'$"):
        worker.ready()


def test_a_worker_that_dies_in_a_round_says_how(tmp_path):
    tree = tree_with_rates(tmp_path, {"mlp_gan": 0.0})
    with RoundWorker(rates_job(), tree) as worker:
        worker.ready()
        with pytest.raises(RoundWorkerError, match="worker exited with status 3"):
            worker.time_round()


def test_a_stalled_worker_is_killed_after_the_jobs_timeout(tmp_path):
    tree = tree_with_rates(tmp_path, {"mlp_gan": -1.0})
    with RoundWorker(rates_job(timeout_s=3), tree) as worker:
        worker.ready()
        with pytest.raises(RoundWorkerError, match="no answer for 3 s"):
            worker.time_round()
        assert worker.proc.wait(timeout=10) != 0


def test_a_base_tree_older_than_the_round_workers_is_bad_input(tmp_path):
    (tmp_path / "bench").mkdir()
    with pytest.raises(UsageError, match=r"base v1 \(abcdef012345\) predates .* --base"):
        require_round_worker(tmp_path, "v1", "abcdef0123456789")
    (tmp_path / "bench" / "round_worker.py").touch()
    require_round_worker(tmp_path, "v1", "abcdef0123456789")
    require_round_worker(tmp_path / "bench", "plugin", "0" * 40)  # no harness of its own


# --- how the check pairs two workers' rounds ------------------------------------------------


class ScriptedWorker:
    """Stands in for RoundWorker: answers each round from its tree's list, logging the turn."""

    log: list[str] = []

    def __init__(self, job: Job, root) -> None:
        self.side, self.rates = root
        self.rates = list(self.rates)

    def __enter__(self) -> ScriptedWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def ready(self) -> Ready:
        if self.rates == ["broken"]:
            raise RoundWorkerError("KeyError: 'mlp_gan'")
        return Ready(len(self.rates), "64")

    def time_round(self) -> float:
        ScriptedWorker.log.append(self.side)
        rate = self.rates.pop(0)
        if rate is None:
            raise RoundWorkerError("worker exited with status 3")
        return rate


@pytest.fixture
def scripted(monkeypatch):
    monkeypatch.setattr(ab_check, "RoundWorker", ScriptedWorker)
    ScriptedWorker.log = []
    return ScriptedWorker.log


def test_a_pair_alternates_its_rounds_and_its_ratio_is_the_median_turns_ratio(scripted):
    # The machine's speed moves turn by turn: each turn's two rounds share it, so the pair's
    # ratio is the median of the turns' ratios (0.9), not the sides' medians' (95/100).
    trees = {"base": ("base", [100, 80, 120, 90, 110]), "head": ("head", [95, 72, 108, 99, 88])}
    pair = time_pair(rates_job(), trees, ("head", "base"))
    assert scripted == ["head", "base", "base", "head", "head", "base", "base", "head",
                        "head", "base"]
    assert (pair.base.value, pair.head.value, pair.base.batch_size) == (100, 95, "64")
    assert pair.ratio == pytest.approx(0.9)


def test_a_side_that_fails_is_nan_with_its_reason_and_the_pair_has_no_ratio(scripted):
    trees = {"base": ("base", ["broken"]), "head": ("head", [95, 96, 97])}
    pair = time_pair(rates_job(), trees, ("base", "head"))
    assert math.isnan(pair.base.value) and pair.base.error == "KeyError: 'mlp_gan'"
    assert (pair.head.value, math.isnan(pair.ratio)) == (96, True)
    died = time_pair(rates_job(), {"base": ("base", [100, 100]), "head": ("head", [90, None])},
                     ("base", "head"))
    assert died.head.error == "worker exited with status 3" and math.isnan(died.ratio)
    assert died.base.value == 100
