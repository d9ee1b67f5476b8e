"""The environment every record carries: code version, packages, machine, and how busy it was.

The load average is read when the run starts (the main process captures this once): a
report shows it next to the timings, since a busy machine slows both frameworks unevenly.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import socket
import subprocess
from pathlib import Path

PACKAGES = ("numpy", "gan-bench")  # and every registered framework's (bench.framework)


def git_sha(root: Path | None = None) -> str:
    root = root or Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    sha = out.stdout.strip() if out.returncode == 0 else "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                           capture_output=True, text=True, timeout=10).stdout.strip()
    return f"{sha}+dirty" if dirty and sha != "unknown" else sha


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_versions() -> str:
    from bench.registry import framework, frameworks

    versions = []
    declared = [p for name in frameworks() for p in framework(name).packages]
    for name in dict.fromkeys((*PACKAGES, *declared)):
        try:
            versions.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return " ".join(versions)


def allowed_cpus() -> str:
    """The CPUs this process may run on, as ranges ("0-1", "0,2-3"): `taskset` narrows them,
    every worker inherits them, and the harness itself pins nothing (pinning did not narrow
    the spread between runs on a shared VM; docs/methodology/timing.md)."""
    if not hasattr(os, "sched_getaffinity"):
        return ""
    cpus, ranges = sorted(os.sched_getaffinity(0)), []
    for cpu in cpus:
        if ranges and cpu == ranges[-1][1] + 1:
            ranges[-1][1] = cpu
        else:
            ranges.append([cpu, cpu])
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in ranges)


def load_average() -> str:
    """The 1-minute load average, or "" where the system has none."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return ""


@functools.lru_cache(maxsize=1)
def machine_environment() -> dict[str, str]:
    """Captured once per process, framework-neutrally (no framework is imported)."""
    return {
        "git_sha": git_sha(),
        "packages": package_versions(),
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "hostname": socket.gethostname(),
        "cores": str(os.cpu_count() or ""),
        "cpus_allowed": allowed_cpus(),
        "load_at_start": load_average(),
    }
