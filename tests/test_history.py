"""History across run folders: time order, intervals from the rounds, the gate's REGRESSED
marked, one page in Markdown and HTML. Runs are synthetic, their timestamps chosen."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from bench.cli import cli
from bench.errors import UsageError
from bench.report.history import history_frame, write_history
from gan_bench_testing.runs import throughput_records, write_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def dated_run(path, day: int, scale: float, sha: str, check: str | None = None):
    """A throughput run recorded on 2024-01-<day>, rates times `scale`, with its check table."""
    records = [{**r, "timestamp": f"2024-01-{day:02d}T12:00:00+0000", "git_sha": sha}
               for r in throughput_records(path.name, scale=scale, seed=day)]
    run = write_run(path, records)
    if check is not None:
        (run / "check.csv").write_text(check)
    return run


@pytest.fixture
def three_runs(tmp_path):
    """Given out of time order; the third in time is 30% slower and its check said so."""
    return [dated_run(tmp_path / "b", 2, 1.0, "bbb"),
            dated_run(tmp_path / "c", 3, 0.7, "ccc",
                      check="status,gate,fails,metric\nREGRESSED,gated,yes,steps_per_s\n"),
            dated_run(tmp_path / "a", 1, 1.0, "aaa", check="status,gate,fails\nok,gated,no\n")]


def test_runs_come_in_time_order_with_their_commit_and_verdict(three_runs):
    points = history_frame(three_runs)
    runs = points[["order", "run", "commit", "regressed"]].drop_duplicates().sort_values("order")
    assert runs["run"].tolist() == ["a", "b", "c"]
    assert runs["commit"].tolist() == ["aaa", "bbb", "ccc"]
    assert runs["regressed"].tolist() == [False, False, True]


def test_each_point_is_the_runs_median_with_the_rounds_quartiles(three_runs):
    points = history_frame(three_runs)
    steps = points[(points["metric"] == "steps_per_s") & (points["run"] == "c")]
    records = pd.DataFrame(throughput_records("c", scale=0.7, seed=3))
    torch = records[(records["framework"] == "torch") & (records["variant"] == "images")]
    rounds = torch[torch["metric"] == "round_steps_per_s"]["value"]
    row = steps[(steps["framework"] == "torch") & (steps["variant"] == "images")].iloc[0]
    assert row["value"] == pytest.approx(rounds.median())
    assert row["q25"] == pytest.approx(rounds.quantile(0.25))
    assert row["q75"] == pytest.approx(rounds.quantile(0.75))
    # samples/s moves with steps/s: its interval is the same range times the batch.
    samples = points[(points["metric"] == "samples_per_s") & (points["run"] == "c")
                     & (points["framework"] == "torch") & (points["variant"] == "images")]
    assert samples["q25"].iloc[0] == pytest.approx(row["q25"] * 64)
    memory = points[points["metric"] == "peak_memory_bytes"]
    assert memory["q25"].isna().all()  # no rounds behind it: no interval


def test_the_history_page_shows_every_metric_across_runs_and_marks_regressions(three_runs,
                                                                                tmp_path):
    page = write_history(three_runs, tmp_path / "history")
    text = page.read_text()
    assert text.index("1. a (aaa)") < text.index("2. b (bbb)") < text.index("3. c (ccc)")
    assert "3. c (ccc) REGRESSED" in text
    assert "## steps/s" in text and "## MFU (%)" in text
    figures = sorted(p.name for p in (tmp_path / "history" / "figures").glob("*.png"))
    assert figures == ["history-first_step_s.png", "history-mfu.png",
                       "history-peak_memory_bytes.png", "history-samples_per_s.png",
                       "history-steps_per_s.png"]
    assert all(p.read_bytes().startswith(PNG_MAGIC)
               for p in (tmp_path / "history" / "figures").glob("*.png"))
    html = (tmp_path / "history" / "history.html").read_text()
    assert html.count('<div class="table-wrap">') == 6  # the runs, then one per metric
    assert html.count("data:image/png;base64,") == 5
    csv = pd.read_csv(tmp_path / "history" / "history.csv")
    assert set(csv["run"]) == {"a", "b", "c"}


def test_history_needs_two_runs_with_throughput_records(tmp_path, three_runs):
    with pytest.raises(UsageError, match="two or more run folders"):
        history_frame(three_runs[:1])
    empty = write_run(tmp_path / "empty", [], suites=("fid",))
    (empty / "records.jsonl").write_text("")
    with pytest.raises(UsageError, match="no records of a metric that history follows"):
        history_frame([three_runs[0], empty])


def test_the_cli_writes_history_from_history_and_from_report(three_runs, tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["history", *map(str, three_runs), "--out",
                                 str(tmp_path / "h1")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "h1" / "history.html").exists()
    result = runner.invoke(cli, ["report", *map(str, three_runs), "--out", str(tmp_path / "h2")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "h2" / "history.md").read_text() == (
        tmp_path / "h1" / "history.md").read_text()
