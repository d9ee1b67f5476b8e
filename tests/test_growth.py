"""The growth evidence of suites.growth: samples kept per resolution, phase boundaries, figure."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from bench.jobs import Job
from bench.records import Measurement, make_record
from bench.report.pages import run_frame
from gan_bench_testing.runs import artifact_records, write_run
from suites import fid, growth

# A schedule of 4x4 (steps 1-2), a fade to 8x8 (3-4), 8x8 (5-6): (resolution, alpha) per
# evaluation, as a growing adapter tags it between steps.
PHASES = {2: ("4", "1"), 3: ("8", "0.5"), 4: ("8", "0.75"), 5: ("8", "1"), 6: ("8", "1")}


class Grower:
    """A fake adapter whose phase tags follow PHASES and whose samples say their step."""

    def __init__(self) -> None:
        self.step = 0

    def tags(self) -> dict[str, str]:
        resolution, alpha = PHASES[self.step]
        return {"resolution": resolution, "alpha": alpha}

    def sample(self, n: int, seed: int) -> np.ndarray:
        return np.full((n, 8, 8, 1), self.step / 10, dtype=np.float32)


def test_samples_are_kept_at_the_last_evaluation_of_each_resolution():
    adapter, measurements = Grower(), []
    kept = growth.PhaseSamples(lambda a: [Measurement("fid_digits", 1.0)], n=3, seed=0)
    for step in PHASES:
        adapter.step = step
        measurements += [dataclasses.replace(m, step=step, tags=adapter.tags())
                         for m in kept(adapter)]
    artifacts = {a.name: a for a in kept.artifacts(measurements, {"dataset": "digits"})}
    assert set(artifacts) == {"samples-4x4", "samples-8x8"}
    assert artifacts["samples-4x4"].tags == {"dataset": "digits", "step": 2, "resolution": "4",
                                             "phase_end": True, "trained": True}
    assert artifacts["samples-8x8"].tags["step"] == 6
    np.testing.assert_array_equal(artifacts["samples-4x4"].array,
                                  np.full((3, 8, 8, 1), 0.2, np.float32))
    # A model that does not grow keeps nothing.
    flat = growth.PhaseSamples(lambda a: [], n=3, seed=0)
    flat(type("Flat", (), {"tags": lambda self: {}})())
    assert flat.artifacts([], {}) == []


def growth_frame(tmp_path) -> pd.DataFrame:
    records = []
    for framework in ("torch", "tf"):
        for seed in (0, 1):
            job = Job(suite="fid", model="progan", framework=framework, seed=seed)
            tags = {"dataset": "digits", "n_samples": 100}
            records += [make_record("run", job, Measurement(
                "fid_digits", 50.0 / step + seed, step=step,
                tags={**tags, "resolution": r, "alpha": a})) for step, (r, a) in PHASES.items()]
            for step, resolution in ((2, "4"), (6, "8")):
                records += artifact_records(tmp_path, job, np.zeros((4, 8, 8, 1)), **tags,
                                            step=step, resolution=resolution, phase_end=True,
                                            trained=True)
            records += artifact_records(tmp_path, job, np.zeros((4, 8, 8, 1)), **tags, step=6,
                                        trained=True)
    return run_frame(write_run(tmp_path, records, suites=("fid",)))


def test_boundaries_are_where_a_resolution_ends_and_where_a_fade_ends(tmp_path):
    frame = growth_frame(tmp_path)
    records = growth.growth_records(frame, "fid", ("fid_raw", "fid_digits"))
    assert set(records["metric"]) == {"fid_digits"}
    job = records[(records["framework"] == "torch") & (records["seed"] == 0)]
    assert growth.boundaries(job) == [growth.Boundary(2, "8x8", True),
                                      growth.Boundary(4, "", False)]


def test_the_growth_figure_is_drawn_for_jobs_that_grew_and_kept_apart_from_final_samples(
        tmp_path):
    frame = growth_frame(tmp_path)
    out = tmp_path / "figures"
    out.mkdir()
    names = [f.name for f in fid.figures(frame, out)]
    assert "growth-fid-progan-digits" in names and "samples-fid-progan-digits" in names
    assert (out / "growth-fid-progan-digits.png").stat().st_size > 0
    # One grid per framework and resolution, from the lowest seed.
    kept = growth.first_seeds(frame[(frame["metric"] == "artifact")
                                    & growth.is_phase_end(frame)])
    assert sorted(zip(kept["framework"], kept["resolution"].astype(str), strict=True)) == [
        ("tf", "4"), ("tf", "8"), ("torch", "4"), ("torch", "8")]
    # Jobs that never grew draw no growth figure.
    flat = frame[frame["resolution"].astype(str) != "8"]
    assert growth.growth_figures(flat, out, "fid", ("fid_digits",)) == []
