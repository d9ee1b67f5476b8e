"""Throughput rounds exported in pytest-benchmark's format, readable by its compare tool."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.report.benchmark_json import write_pytest_benchmark_json


def rounds_frame(rates: dict[str, list[float]]) -> pd.DataFrame:
    rows = [{"job_id": job, "model": "mlp_gan", "variant": "images", "framework": job,
             "device": "cpu", "mode": "eager", "batch_size": 64, "metric": "round_steps_per_s",
             "status": "ok", "step": i, "value": rate}
            for job, values in rates.items() for i, rate in enumerate(values)]
    return pd.DataFrame(rows)


def test_each_job_becomes_a_benchmark_of_seconds_per_step(tmp_path):
    frame = rounds_frame({"torch": [100.0, 80.0, 125.0], "tf": [50.0, 40.0, 50.0, 25.0, 40.0]})
    path = write_pytest_benchmark_json(frame, tmp_path / "bench.json")
    doc = json.loads(path.read_text())
    by_name = {b["name"]: b["stats"] for b in doc["benchmarks"]}
    torch = by_name["mlp_gan-images-torch-cpu-eager-64"]
    assert torch["rounds"] == 3
    assert torch["median"] == pytest.approx(1 / 100.0)
    assert torch["min"] == pytest.approx(1 / 125.0)
    assert by_name["mlp_gan-images-tf-cpu-eager-64"]["median"] == pytest.approx(1 / 40.0)
    assert np.allclose(sorted(torch["data"]), sorted([0.01, 0.0125, 0.008]))


def test_pytest_benchmark_compare_reads_the_file(tmp_path):
    frame = rounds_frame({"torch": [100.0, 80.0, 125.0], "tf": [50.0, 40.0, 45.0]})
    path = write_pytest_benchmark_json(frame, tmp_path / "bench.json")
    tool = shutil.which("pytest-benchmark", path=str(Path(sys.executable).parent))
    done = subprocess.run([tool, "compare", str(path)], capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "mlp_gan-images-torch-cpu-eager-64" in done.stdout


def test_no_rounds_no_file(tmp_path):
    frame = rounds_frame({"torch": [1.0]}).assign(metric="steps_per_s")
    assert write_pytest_benchmark_json(frame, tmp_path / "b.json") is None
