"""Jobs: small JSON-serialisable descriptions of one measurement; their hash identifies them."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

#: The one field that says how long a job may run, not what it measures: a resume may change it.
NOT_IDENTITY = ("timeout_s",)


@dataclass(frozen=True)
class Job:
    """One (suite, model, framework, device, mode, profile, perturbation, seed) measurement.

    `config` overrides fields of the family's profile config; `params` are the suite's own
    settings (rounds, step budgets). Threads and OpenMP's wait policy change a timing, so they
    are part of the identity (a resume at another thread count runs new jobs, and the gate
    never compares across them); the timeout is not: a longer one still resumes the same jobs.
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

    @property
    def job_id(self) -> str:
        identity = {k: v for k, v in self.to_dict().items() if k not in NOT_IDENTITY}
        text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        return cls(**data)

    def label(self) -> str:
        return (f"{self.suite}:{self.model}/{self.framework}/{self.device}/{self.mode}"
                f"/{self.perturbation}/seed{self.seed}")
