"""The one way gan-bench runs code in a fresh Python process.

    run_fresh("package.module:function", {"arg": value}, timeout_s=600, threads=1)

calls `function(**inputs)` in a new interpreter (spawned, never forked) that starts in its own
temporary folder, and returns what the function returned. (bench.round_worker keeps a process
alive between calls, in the environment built here.) Inputs and the return value travel
pickled through files in that folder, so numpy arrays and dataclasses cross unchanged. Every
job, parity probe, feature extractor and device probe goes through here: that is what keeps
tensorflow and torchvision out of one process (docs/design.md#fresh-processes) and a crash
out of the harness.

Thread counts are pinned in the child's environment before any framework loads. A child that
exits non-zero, dies of a signal or stalls past its timeout raises FreshProcessError, with a
one-line reason and the tail of its output; a UsageError raised in the child is raised again
here as a UsageError (bad input stays bad input across the process boundary).

While it waits, the parent polls the child's progress file (bench.progress) every POLL_S and
hands each new message, e.g. "step 150/300", to `on_progress`. The timeout counts from the
child's start or its latest message: a training job that advances is never cut, however long
its budget, and a hung one is killed `timeout_s` after its last step.
"""

from __future__ import annotations

import importlib
import math
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.errors import UsageError
from bench.progress import PROGRESS_ENV

PROJECT_ROOT = Path(__file__).resolve().parent.parent
OUTPUT_TAIL = 4000  # characters of the child's output kept in an error
POLL_S = 0.5  # how often the parent looks at the child's progress file
PARENT_POLL_S = 2.0  # how often the child looks whether its parent is still there
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
#: OpenMP's wait policy: "passive" threads sleep at a barrier, "active" ones spin for a while
#: first. Spinning wins on an idle machine and collapses on a shared one, where the thread
#: being waited for holds no core (docs/methodology/timing.md).
WAIT_POLICIES = ("passive", "active")


class FreshProcessError(RuntimeError):
    """The child failed: `reason` is one line, `tail` the end of its stdout and stderr."""

    def __init__(self, reason: str, tail: str) -> None:
        super().__init__(f"{reason}\n{tail}".strip())
        self.reason, self.tail = reason, tail


def thread_environment(threads: int, wait_policy: str = "passive") -> dict[str, str]:
    """Thread counts and wait policy, set before any framework or BLAS loads."""
    return {**{name: str(threads) for name in THREAD_VARIABLES},
            "OMP_WAIT_POLICY": wait_policy.upper()}


def child_pythonpath(root: Path = PROJECT_ROOT) -> str:
    """The source tree `root` (default: this project) first, then the caller's PYTHONPATH."""
    return os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)


def child_environment(threads: int, wait_policy: str, progress_file: Path,
                      root: Path = PROJECT_ROOT) -> dict[str, str]:
    return {**os.environ, **thread_environment(threads, wait_policy),
            "PYTHONPATH": child_pythonpath(root), PROGRESS_ENV: str(progress_file)}


def describe_exit(returncode: int) -> str:
    if returncode >= 0:
        return f"exited with status {returncode}"
    name = signal.Signals(-returncode).name
    hint = " (out of memory?)" if name == "SIGKILL" else ""
    return f"killed by {name}{hint}"


def run_fresh(target: str, inputs: dict[str, Any] | None = None, *,
              timeout_s: float | None = None, threads: int = 1, wait_policy: str = "passive",
              on_progress: Callable[[str], None] | None = None,
              root: Path | None = None) -> Any:
    """`target(**inputs)` in a fresh process; its return value, or FreshProcessError.

    `root` is the source tree whose code the child imports first (default: this project);
    another checkout of it (bench.checks.ab_check's base worktree) runs that checkout's code.
    """
    with tempfile.TemporaryDirectory(prefix="gan-bench-") as tmp:
        folder = Path(tmp)
        (folder / "inputs.pkl").write_bytes(pickle.dumps((target, inputs or {})))
        progress = ProgressFile(folder / "progress.txt", on_progress)
        with open(folder / "output.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.fresh_process", str(folder)], cwd=folder,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=child_environment(threads, wait_policy, progress.path, root or PROJECT_ROOT),
                start_new_session=True)
            try:
                reason = describe_exit(wait_polling(proc, timeout_s, progress.poll))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                reason = f"timed out: no progress for {timeout_s:g} s"
        result = folder / "result.pkl"
        if proc.returncode == 0 and result.exists():
            return pickle.loads(result.read_bytes())
        tail = (folder / "output.log").read_bytes()[-OUTPUT_TAIL:].decode(errors="replace")
        usage = folder / "usage_error.txt"
        if usage.exists():
            raise UsageError(usage.read_text())
        raise FreshProcessError(f"{target} {reason}", tail)


class ProgressFile:
    """The child's latest progress message; each new one goes to `on_progress`."""

    def __init__(self, path: Path, on_progress: Callable[[str], None] | None) -> None:
        self.path, self.on_progress, self.last = path, on_progress, ""

    def poll(self) -> bool:
        """Whether the child wrote a new message since the last poll."""
        if not self.path.exists():
            return False
        message = self.path.read_text().strip()
        if not message or message == self.last:
            return False
        self.last = message
        if self.on_progress is not None:
            self.on_progress(message)
        return True


def wait_polling(proc: subprocess.Popen, timeout_s: float | None,
                 poll: Callable[[], bool]) -> int:
    """proc.wait() until `timeout_s` passes without progress, calling `poll` every POLL_S while
    the child runs (a new message restarts the clock) and once after it exits (so its last
    message is heard too)."""
    def new_deadline() -> float:
        return math.inf if timeout_s is None else time.monotonic() + timeout_s

    deadline = new_deadline()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise subprocess.TimeoutExpired(proc.args, timeout_s)
        try:
            returncode = proc.wait(timeout=min(POLL_S, remaining))
        except subprocess.TimeoutExpired:
            if poll():
                deadline = new_deadline()
            continue
        poll()
        return returncode


def exit_with_parent() -> None:
    """End this child when its parent dies. The child runs in a session of its own, so a
    signal to the parent's process group misses it; killed, the parent can take no result
    and remove no folder, and a job left running would hold a core for nothing."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _child(folder: Path) -> int:
    exit_with_parent()
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
