"""A stand-in for a training loop: reports its steps as bench.training's loop does."""

from __future__ import annotations

import time

from bench.progress import report_step


def count_steps(total: int, seconds_per_step: float) -> int:
    for step in range(1, total + 1):
        time.sleep(seconds_per_step)
        report_step(step, total)
    return total
