"""The one way gan-bench runs code in a fresh Python process.

    run_fresh("package.module:function", {"arg": value}, timeout_s=600, threads=1)

calls `function(**inputs)` in a new interpreter (spawned, never forked) that starts in its own
temporary folder, and returns what the function returned. Inputs and the return value travel
pickled through files in that folder, so numpy arrays and dataclasses cross unchanged. Every
job, parity probe, feature extractor and device probe goes through here: that is what keeps
tensorflow and torchvision out of one process (DESIGN.md) and a crash out of the harness.

Thread counts are pinned in the child's environment before any framework loads. A child that
exits non-zero, dies of a signal or outlives its timeout raises FreshProcessError, with a
one-line reason and the tail of its output; a UsageError raised in the child is raised again
here as a UsageError (bad input stays bad input across the process boundary).
"""

from __future__ import annotations

import importlib
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from bench.errors import UsageError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
OUTPUT_TAIL = 4000  # characters of the child's output kept in an error
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


class FreshProcessError(RuntimeError):
    """The child failed: `reason` is one line, `tail` the end of its stdout and stderr."""

    def __init__(self, reason: str, tail: str) -> None:
        super().__init__(f"{reason}\n{tail}".strip())
        self.reason, self.tail = reason, tail


def thread_environment(threads: int) -> dict[str, str]:
    return {name: str(threads) for name in THREAD_VARIABLES}


def child_pythonpath() -> str:
    """This project first, then whatever the caller's PYTHONPATH adds."""
    return os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p)


def child_environment(threads: int) -> dict[str, str]:
    return {**os.environ, **thread_environment(threads), "PYTHONPATH": child_pythonpath()}


def describe_exit(returncode: int) -> str:
    if returncode >= 0:
        return f"exited with status {returncode}"
    name = signal.Signals(-returncode).name
    hint = " (out of memory?)" if name == "SIGKILL" else ""
    return f"killed by {name}{hint}"


def run_fresh(target: str, inputs: dict[str, Any] | None = None, *,
              timeout_s: float | None = None, threads: int = 1) -> Any:
    """`target(**inputs)` in a fresh process; its return value, or FreshProcessError."""
    with tempfile.TemporaryDirectory(prefix="gan-bench-") as tmp:
        folder = Path(tmp)
        (folder / "inputs.pkl").write_bytes(pickle.dumps((target, inputs or {})))
        with open(folder / "output.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.fresh_process", str(folder)], cwd=folder,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=child_environment(threads), start_new_session=True)
            try:
                reason = describe_exit(proc.wait(timeout=timeout_s))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                reason = f"timed out after {timeout_s:g} s"
        result = folder / "result.pkl"
        if proc.returncode == 0 and result.exists():
            return pickle.loads(result.read_bytes())
        tail = (folder / "output.log").read_bytes()[-OUTPUT_TAIL:].decode(errors="replace")
        usage = folder / "usage_error.txt"
        if usage.exists():
            raise UsageError(usage.read_text())
        raise FreshProcessError(f"{target} {reason}", tail)


def _child(folder: Path) -> int:
    target, inputs = pickle.loads((folder / "inputs.pkl").read_bytes())
    module, _, name = target.partition(":")
    try:
        value = getattr(importlib.import_module(module), name)(**inputs)
    except UsageError as exc:
        (folder / "usage_error.txt").write_text(str(exc))
        return 2
    except Exception:
        traceback.print_exc()
        return 1
    partial = folder / "result.pkl.tmp"
    partial.write_bytes(pickle.dumps(value))
    partial.replace(folder / "result.pkl")
    return 0


if __name__ == "__main__":
    sys.exit(_child(Path(sys.argv[1])))
