"""Every job runs in its own worker: crashes, aborts and hangs become error records."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.environment import allowed_cpus
from bench.records import load_frame, read_records
from bench.runner import RunOptions, run
from bench.suite import Request
from conftest import ROOT, run_python, subprocess_env

# Real workers, killed and resumed in fresh processes: deselect with -m "not slow".
pytestmark = pytest.mark.slow

FAULTS = "faults"


def run_faults(tmp_path, kinds, seeds=1, timeout=20.0, resume=False, workers=1):
    request = Request(models=tuple(kinds), frameworks=("none",), seeds=seeds, timeout_s=timeout)
    return run(RunOptions((FAULTS,), request, tmp_path / "run", resume=resume, workers=workers))


def test_crashing_and_hanging_jobs_are_recorded_and_the_run_goes_on(tmp_path):
    start = time.monotonic()
    kinds = ["abort", "ok", "segfault", "hang", "killed", "memory", "ok"]
    summary = run_faults(tmp_path, kinds, timeout=20.0)
    frame = load_frame(summary.run_dir)
    errors = frame[frame["status"] == "error"]
    assert len(errors) == 5
    assert any("SIGABRT" in e for e in errors["error"])
    assert any("SIGKILL (out of memory?)" in e for e in errors["error"])
    assert any("MemoryError" in e for e in errors["error"])
    assert any("SIGSEGV" in e for e in errors["error"])
    assert any("timed out: no progress for 20 s" in e for e in errors["error"])
    assert list(frame.loc[frame["status"] == "ok", "value"]) == [42.0]  # both ok jobs: one id
    assert len(summary.errors) == 5
    assert time.monotonic() - start < 120  # the hang was killed at its timeout


def test_parallel_workers_write_whole_lines(tmp_path):
    summary = run_faults(tmp_path, ["slow", "ok"], seeds=6, workers=4)
    lines = (summary.run_dir / "records.jsonl").read_text().splitlines()
    assert len(lines) == 12
    assert all(json.loads(line)["status"] == "ok" for line in lines)
    assert sorted(json.loads(line)["value"] for line in lines) == sorted(
        [42.0 + s for s in range(6)] * 2)


def test_resume_skips_finished_jobs_and_reruns_failed_ones(tmp_path):
    first = run_faults(tmp_path, ["ok", "abort"], seeds=2)
    assert len(first.errors) == 2
    again = run_faults(tmp_path, ["ok", "abort"], seeds=2, resume=True)
    assert again.resumed == 2  # the ok jobs
    ok = [r for r in read_records(again.run_dir) if r["status"] == "ok"]
    assert len(ok) == 2  # not duplicated


KILL_SCRIPT = """
import sys
from pathlib import Path
from bench.runner import RunOptions, run
from bench.suite import Request
out, resume = Path(sys.argv[1]), sys.argv[2] == "1"
request = Request(models=("slow",), frameworks=("none",), seeds=12, timeout_s=60)
run(RunOptions(("faults",), request, out, resume=resume, workers=2))
"""


def test_sigkill_of_the_main_process_then_resume_loses_and_duplicates_nothing(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(out), "0"], cwd=ROOT,
                            env=subprocess_env())
    records = out / "records.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if records.exists() and len(records.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished_before = {r["job_id"] for r in read_records(out)}
    assert 3 <= len(finished_before) < 12, "the kill must land mid-run"
    subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(out), "1"], cwd=ROOT,
                   env=subprocess_env(), check=True, timeout=300)
    final = read_records(out)
    ids = [r["job_id"] for r in final]
    assert len(ids) == len(set(ids)) == 12
    assert finished_before <= set(ids)
    assert sorted(r["value"] for r in final) == [42.0 + s for s in range(12)]


ORPHAN_SCRIPT = """
from bench.fresh_process import run_fresh
run_fresh("gan_bench_testing.steps:count_steps", {"total": 1200, "seconds_per_step": 0.1})
"""


def alive(pid: int) -> bool:
    """Running, not a zombie that no init has reaped yet."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def children_of(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_a_worker_whose_parent_is_killed_ends_too():
    """A killed main process takes its workers with it: none trains on for nothing."""
    proc = subprocess.Popen([sys.executable, "-c", ORPHAN_SCRIPT], cwd=ROOT,
                            env=subprocess_env())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not children_of(proc.pid):
        time.sleep(0.05)
    [child] = children_of(proc.pid)
    time.sleep(1.0)  # the child is up and watching
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and alive(child):
        time.sleep(0.1)
    gone = not alive(child)
    if not gone:
        os.kill(child, signal.SIGKILL)
    assert gone, "the worker outlived its killed parent"


def test_the_cpus_a_run_may_use_are_recorded_with_every_record(tmp_path):
    pinned = f"""
import os
from pathlib import Path
os.sched_setaffinity(0, {{0}})  # as `taskset -c 0 gan-bench run ...` would
from bench.records import load_frame
from bench.runner import RunOptions, run
from bench.suite import Request
summary = run(RunOptions(("{FAULTS}",), Request(models=("ok",), frameworks=("none",)),
                         Path({str(tmp_path / "run")!r})))
print(sorted(set(load_frame(summary.run_dir)["cpus_allowed"].astype(str))))
"""
    assert run_python(pinned).stdout.strip().splitlines()[-1] == "['0']"


def test_allowed_cpus_are_written_as_ranges(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {11, 0, 1, 2, 3, 8, 10})
    assert allowed_cpus() == "0-3,8,10-11"
