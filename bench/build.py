"""Building a job's adapter inside its worker: framework runtime first, then the model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.adapter import Adapter, FamilyConfig
from bench.errors import UsageError
from bench.jobs import Job
from bench.registry import family_config, find
from bench.timing import peak_rss_bytes


@dataclass
class Built:
    adapter: Adapter
    config: FamilyConfig
    env: dict[str, Any]
    memory_after_import_bytes: int  # the process (or device) right after the framework's import


def memory_in_use_bytes(adapter_cls: type[Adapter], device: str) -> int:
    """The peak so far: the device allocator's on an accelerator, else the process's RSS."""
    return adapter_cls.peak_memory_bytes(device) or peak_rss_bytes()


def require_device(adapter_cls: type[Adapter], framework: str, device: str, fix: str) -> None:
    """UsageError, ending in `fix`, when the framework finds no such device here."""
    if not adapter_cls.device_available(device):
        raise UsageError(f"{framework} finds no {device} device on this machine; {fix}")


def job_config(job: Job) -> FamilyConfig:
    return family_config(job.model).for_profile(job.profile, **job.config)


def build_adapter(job: Job, config: FamilyConfig | None = None) -> Built:
    """Configure the framework for the job's threads and device, then build the adapter.

    Raises UsageError (recorded as a skipped job) when the device or mode is not offered.
    """
    adapter_cls = find(job.model, job.framework).load()
    adapter_cls.configure(job.threads)
    require_device(adapter_cls, job.framework, job.device, "the job is skipped")
    after_import = memory_in_use_bytes(adapter_cls, job.device)
    config = config or job_config(job)
    adapter = adapter_cls(config, seed=job.seed, device=job.device, mode=job.mode)
    env = {"threads": job.threads, "optimizer": adapter.optimizer_name,
           **adapter_cls.environment(job.device)}
    return Built(adapter, config, env, after_import)
