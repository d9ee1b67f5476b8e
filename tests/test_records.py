"""Records and jobs: round trips, torn lines, and the hashing resume relies on."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.jobs import Job
from bench.records import (
    Measurement,
    RecordWriter,
    finished_job_ids,
    load_frame,
    make_record,
    read_records,
)

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
scalars = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False), names, st.booleans())
jobs = st.builds(
    Job, suite=names, model=names, framework=names, device=st.sampled_from(["cpu", "cuda"]),
    mode=st.sampled_from(["eager", "compiled", "xla"]), seed=st.integers(0, 2**31),
    perturbation=names, config=st.dictionaries(names, scalars, max_size=3),
    params=st.dictionaries(names, scalars, max_size=3))


@settings(max_examples=200, deadline=None)
@given(jobs)
def test_job_ids_survive_a_json_round_trip(job):
    again = Job.from_dict(json.loads(job.to_json()))
    assert again.job_id == job.job_id


@settings(max_examples=100, deadline=None)
@given(jobs, st.floats(1, 1e4), st.floats(1e9, 1e13))
def test_the_timeout_and_the_run_context_do_not_change_identity(job, timeout, peak):
    changed = Job.from_dict({**job.to_dict(), "timeout_s": timeout,
                             "context": {"matmul_peak_flops_per_s": peak}})
    assert changed.job_id == job.job_id
    assert Job.from_dict(json.loads(changed.to_json())) == changed


def test_a_job_without_context_has_the_wire_form_older_trees_read():
    # bench.checks.ab_check hands this tree's jobs to a base tree's worker, whose Job may lack
    # context.
    assert "context" not in Job(suite="s", model="m", framework="f").to_dict()


@settings(max_examples=100, deadline=None)
@given(jobs, st.integers(1, 64), st.sampled_from(["passive", "active"]))
def test_threads_and_wait_policy_are_part_of_identity(job, threads, wait_policy):
    changed = Job.from_dict({**job.to_dict(), "threads": threads, "wait_policy": wait_policy})
    same = (threads, wait_policy) == (job.threads, job.wait_policy)
    assert (changed.job_id == job.job_id) == same


@settings(max_examples=100, deadline=None)
@given(jobs, st.integers(0, 2**31))
def test_any_identity_change_changes_the_id(job, seed):
    changed = Job.from_dict({**job.to_dict(), "seed": seed})
    assert (changed.job_id == job.job_id) == (seed == job.seed)


values = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**9, 10**9))


@settings(max_examples=60, deadline=None)
@given(jobs, st.lists(st.tuples(names, values), min_size=1, max_size=5))
def test_records_round_trip_through_the_file(tmp_path_factory, job, measured):
    run_dir = tmp_path_factory.mktemp("run")
    records = [make_record("r1", job, Measurement(name, value, step=i))
               for i, (name, value) in enumerate(measured)]
    RecordWriter(run_dir).append(records)
    back = read_records(run_dir)
    assert len(back) == len(records)
    for wrote, read in zip(records, back, strict=True):
        assert read["job_id"] == job.job_id and read["metric"] == wrote["metric"]
        value = float(wrote["value"])
        frame_value = float(read["value"])
        assert math.isnan(frame_value) if math.isnan(value) else frame_value == value


def test_a_torn_last_line_is_skipped_and_repaired(tmp_path):
    job = Job("s", "m", "f")
    writer = RecordWriter(tmp_path)
    writer.append([make_record("r", job, Measurement("a", 1.0))])
    with open(writer.path, "a") as f:
        f.write('{"job_id": "torn", "sta')  # a kill mid-write
    assert [r["metric"] for r in read_records(tmp_path)] == ["a"]
    other = Job("s", "m", "f", seed=1)
    writer.append([make_record("r", other, Measurement("b", 2.0))])
    assert [r["metric"] for r in read_records(tmp_path)] == ["a", "b"]
    assert finished_job_ids(tmp_path) == {job.job_id, other.job_id}


def test_frame_drops_errors_of_jobs_that_later_succeeded(tmp_path):
    job = Job("s", "m", "f")
    writer = RecordWriter(tmp_path)
    writer.append([make_record("r", job, Measurement("job", float("nan")), status="error",
                               error="boom")])
    assert finished_job_ids(tmp_path) == set()
    writer.append([make_record("r", job, Measurement("a", 3.0))])
    frame = load_frame(tmp_path)
    assert list(frame["status"]) == ["ok"] and list(frame["value"]) == [3.0]
    assert math.isinf(float(make_record("r", job, Measurement("x", float("inf")))["value"]))
