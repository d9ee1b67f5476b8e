"""Jobs: small JSON-serialisable descriptions of one measurement; their hash identifies them."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

#: Fields that say how a job runs, not what it measures: how long it may stall (a resume may
#: change it) and the run's shared measurements of the machine (bench.suite's run context).
NOT_IDENTITY = ("timeout_s", "context")


@dataclass(frozen=True)
class Job:
    """One (suite, model, framework, device, mode, profile, perturbation, seed) measurement.

    `config` overrides fields of the family's profile config; `params` are the suite's own
    settings (rounds, step budgets). Threads and OpenMP's wait policy change a timing, so they
    are part of the identity (a resume at another thread count runs new jobs, and the gate
    never compares across them); the timeout is not: a longer one still resumes the same jobs.
    Nor is `context`, what the run measured once for all its jobs (throughput: the machine's
    matmul peak), which the runner adds before a job goes to its worker.
    """

    suite: str
    model: str
    framework: str
    device: str = "cpu"
    mode: str = "eager"
    profile: str = "quick"
    seed: int = 0
    perturbation: str = "base"
    config: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    threads: int = 1
    wait_policy: str = "passive"
    timeout_s: float = 900.0
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def job_id(self) -> str:
        identity = {k: v for k, v in self.to_dict().items() if k not in NOT_IDENTITY}
        text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """Without an empty context: the form a tree older than it reads
        (bench.checks.ab_check runs this tree's jobs in a base tree's worker)."""
        data = dataclasses.asdict(self)
        if not data["context"]:
            del data["context"]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        return cls(**data)

    def label(self) -> str:
        return (f"{self.suite}:{self.model}/{self.framework}/{self.device}/{self.mode}"
                f"/{self.perturbation}/seed{self.seed}")
