"""Frameworks timed side by side: how `gan-bench compare` makes its ratios trustworthy.

Jobs run one after the other meet different moments of a shared machine: on a VM whose host
changes speed by a fifth for minutes at a time, two frameworks timed minutes apart differ by
that much for no reason of their own. Here every (framework, mode) of a key gets a fresh
worker (bench.round_worker), all alive at once; once all have built and warmed their step,
each times one round per turn, back to back, the order rotating from turn to turn. A turn's
rounds meet the same moment of the machine, so it cancels in their ratio (the tables:
bench.report.comparison).

A *pair* is one such set of fresh workers. The unit of the interval is the pair, not the
turn: a worker keeps its own few-percent luck (where its memory landed, which core it got)
for its whole life, and only a new process draws it anew.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field

import numpy as np

from bench.fresh_process import PROJECT_ROOT
from bench.jobs import Job
from bench.round_worker import RoundWorker, RoundWorkerError


@dataclass
class Side:
    """One (framework, mode) of one key: its steps/s and what its ratios are computed from:
    its turns when timed here, side by side; its job's rounds when it comes from a run's
    sequential jobs (bench.report.comparison.sequential_sides)."""

    framework: str
    mode: str
    rounds: np.ndarray = field(default_factory=lambda: np.array([]))  # sequential: its rounds
    turns: list[np.ndarray] | None = None  # side by side: per pair, its rate in each turn
    error: str = ""

    @property
    def steps_per_s(self) -> float:
        """The median over pairs of each pair's median turn, or over the job's rounds."""
        if self.turns is not None:
            medians = [np.median(t) for t in self.turns if np.isfinite(t).all() and len(t)]
            return float(np.median(medians)) if medians else math.nan
        return float(np.median(self.rounds)) if len(self.rounds) else math.nan


#: Hears each pair of a key as it finishes: (pair index, the key, its sides so far).
OnPair = Callable[[int, tuple, dict[tuple[str, str], Side]], None]


def key_of(job: Job) -> tuple:
    """What the frameworks share within a comparison: family, variant, device, batch."""
    batch = job.config.get("batch_size", "")
    return job.model, str(job.params.get("variant", "base")), job.device, batch


def group_by_key(jobs: list[Job]) -> dict[tuple, list[Job]]:
    """A suite's jobs by key: one request's jobs differ within a key only in framework and
    mode."""
    groups: dict[tuple, list[Job]] = {}
    for job in jobs:
        groups.setdefault(key_of(job), []).append(job)
    return groups


def time_pair(jobs: list[Job]) -> tuple[np.ndarray, dict[int, str]]:
    """One pair: a fresh worker per job, all warm before any is timed, then one round of each
    per turn. Rates per (turn, job), NaN where a worker failed; the failures by job index."""
    errors: dict[int, str] = {}
    with ExitStack() as stack:
        workers = [stack.enter_context(RoundWorker(job, PROJECT_ROOT)) for job in jobs]
        rounds = []
        for i, worker in enumerate(workers):
            try:
                rounds.append(worker.ready().rounds)
            except RoundWorkerError as exc:
                errors[i] = str(exc)
        turns = min(rounds, default=0)
        rates = np.full((turns, len(jobs)), np.nan)
        for turn in range(turns):
            for i in np.roll(np.arange(len(jobs)), -turn):  # each worker leads in turn
                if i not in errors:
                    try:
                        rates[turn, i] = workers[i].time_round()
                    except RoundWorkerError as exc:
                        errors[i] = str(exc)
    return rates, errors


def time_side_by_side(jobs: list[Job], pairs: int, on_pair: OnPair | None = None
                      ) -> dict[tuple, dict[tuple[str, str], Side]]:
    """`pairs` pairs of every key's jobs; per key, each (framework, mode)'s turns per pair."""
    out: dict[tuple, dict[tuple[str, str], Side]] = {}
    for key, group in group_by_key(jobs).items():
        sides = out.setdefault(key, {(j.framework, j.mode): Side(j.framework, j.mode, turns=[])
                                     for j in group})
        if len(group) < 2:
            continue  # nothing to compare it with
        for index in range(pairs):
            rates, errors = time_pair(group)
            for i, job in enumerate(group):
                side = sides[(job.framework, job.mode)]
                side.turns.append(rates[:, i])
                if i in errors and not side.error:
                    side.error = errors[i]
            if on_pair:
                on_pair(index, key, sides)
    return out

