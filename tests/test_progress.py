"""Progress: steps from inside a worker reach the parent; the run's display, plain and rich."""

from __future__ import annotations

import io

import pytest

from bench.fresh_process import FreshProcessError, run_fresh
from bench.jobs import Job
from bench.progress import PROGRESS_ENV, RunProgress, StepReporter, finished_line, key_figure


def record(metric: str, value: float, step: int | None = None, status: str = "ok",
           error: str = "") -> dict:
    return {"metric": metric, "value": value, "step": step, "status": status, "error": error}


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


FAULT_JOB = Job(suite="faults", model="mlp_gan", framework="torch", params={"kind": "ok"})


def test_a_worker_reports_its_steps_to_on_progress():
    heard: list[str] = []
    result = run_fresh("gan_bench_testing.steps:count_steps",
                       {"total": 3, "seconds_per_step": 0.6}, timeout_s=60,
                       on_progress=heard.append)
    assert result == 3
    assert heard[0] == "step 1/3" and heard[-1] == "step 3/3"
    assert heard == sorted(set(heard), key=heard.index)  # each message once, in order
    assert set(heard) <= {"step 1/3", "step 2/3", "step 3/3"}


@pytest.mark.slow
def test_the_timeout_counts_from_the_latest_step_and_still_stops_a_stall():
    # Twelve steps 0.6 s apart take over 7 s, nearly twice the timeout: progress keeps it alive.
    assert run_fresh("gan_bench_testing.steps:count_steps",
                     {"total": 12, "seconds_per_step": 0.6}, timeout_s=4) == 12
    # Silence: killed 4 s after the start, with the reason.
    with pytest.raises(FreshProcessError, match="no progress for 4 s"):
        run_fresh("gan_bench_testing.steps:count_steps",
                  {"total": 2, "seconds_per_step": 60}, timeout_s=4)


def test_steps_are_written_at_most_once_a_second_and_the_last_always(tmp_path, monkeypatch):
    path = tmp_path / "progress.txt"
    monkeypatch.setenv(PROGRESS_ENV, str(path))
    report = StepReporter().report_step
    for step in range(1, 100):
        report(step, 100)
    assert path.read_text() == "step 1/100"
    report(100, 100)
    assert path.read_text() == "step 100/100"


def test_outside_a_worker_reporting_a_step_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    StepReporter().report_step(5, 5)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("key_metric, expected", [
    ("steps_per_s", "steps_per_s=154.6"),
    (("fid_inception", "fid_digits"), "fid_digits=12.5"),  # the first candidate measured wins
    (None, "loss_d=0.7"),  # no key metric: the job's first measured metric
    ("not_measured", "loss_d=0.7"),
])
def test_the_key_figure_is_the_key_metric_at_the_last_step(key_metric, expected):
    records = [record("artifact", 64.0), record("loss_d", 0.9, step=100),
               record("fid_digits", 30.0, step=100), record("loss_d", 0.7, step=200),
               record("fid_digits", 12.5, step=200), record("steps_per_s", 154.61)]
    assert key_figure(records, key_metric) == expected


def test_a_finished_line_says_the_status_and_the_key_figure_or_the_error():
    ok = finished_line(3, 22, FAULT_JOB, [record("answer", 42.0)])
    assert ok == "[3/22] faults:mlp_gan/torch/cpu/eager/base/seed0 ok answer=42"
    failed = finished_line(4, 22, FAULT_JOB, [record("job", float("nan"), status="error",
                                                     error="worker killed by SIGABRT\ntail")])
    assert failed == ("[4/22] faults:mlp_gan/torch/cpu/eager/base/seed0 error "
                      "worker killed by SIGABRT")


def test_without_a_terminal_one_plain_line_per_finished_job():
    stream = io.StringIO()
    with RunProgress(total=3, done=1, stream=stream) as shown:
        shown.job_progress(FAULT_JOB, "step 150/300")  # not shown in CI logs
        shown.job_finished(FAULT_JOB, [record("answer", 42.0)])
    assert stream.getvalue() == "[2/3] faults:mlp_gan/torch/cpu/eager/base/seed0 ok answer=42\n"


def test_on_a_terminal_a_bar_with_the_current_job_and_its_step(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    stream = Terminal()
    other = Job(suite="faults", model="mlp_gan", framework="torch", seed=1)
    with RunProgress(total=3, stream=stream) as shown:
        shown.job_progress(FAULT_JOB, "running")
        shown.job_progress(other, "step 150/300")
        shown_while_running = stream.getvalue()
        shown.job_finished(FAULT_JOB, [record("answer", 42.0)])
    assert "0/3" in shown_while_running
    assert "faults:mlp_gan/torch/cpu/eager/base/seed1 step 150/300 (+1 running)" in (
        shown_while_running)
    assert "ETA" in shown_while_running
    assert "[1/3] faults:mlp_gan/torch/cpu/eager/base/seed0 ok answer=42" in stream.getvalue()
    assert "1/3" in stream.getvalue().split("answer=42")[-1]
