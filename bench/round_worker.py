"""A worker that stays alive between timed rounds: how the A/B check times two trees at once.

    with RoundWorker(job, tree) as worker:  # spawned; it builds, stages and warms the step
        worker.ready()                       # waits for that; the suite's round count
        worker.time_round()                  # one more timed round: steps/s

bench.fresh_process runs one call per process. The A/B check needs both trees' workers alive
at once, timing rounds in turn (base, head, head, base, ...), so that every moment of the
machine, a neighbour's burst or the VM host's slow spell, falls on both trees alike and
cancels in their ratio; fresh processes run one after the other meet different moments.

The child runs `python -m bench.round_worker` with `root` first on its path (that tree's
harness and suite) and the job's threads and wait policy, set before any framework loads
(bench.fresh_process.child_environment). It speaks one JSON line each way: the parent writes
the job; the child answers {"rounds": R, "batch_size": B, "workload": {...}} once the suite's
`round_timer` has warmed the step (the workload: what the step runs, bench.suite.workload),
or {"error": "..."}; every further line the parent writes gets
{"steps_per_s": x}. The child's own stdout goes to its log with its stderr, so a library's
print never breaks the exchange. Closing its stdin ends it.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from bench.fresh_process import child_environment, describe_exit
from bench.jobs import Job

ERROR_CHARS = 160  # of a failure's one line


class RoundWorkerError(RuntimeError):
    """The worker failed, stalled or died; the message is one line saying why."""


@dataclass(frozen=True)
class Ready:
    rounds: int  # how many rounds the suite's profile times per job
    batch_size: str
    workload: dict[str, Any] = field(default_factory=dict)  # {} from a suite that says none


class RoundWorker:
    """The parent's side: one child process running `job` from the source tree `root`."""

    def __init__(self, job: Job, root: Path) -> None:
        self.job = job
        self.folder = Path(tempfile.mkdtemp(prefix="gan-bench-rounds-"))
        self.log = open(self.folder / "output.log", "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.round_worker"], cwd=self.folder,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
            env=child_environment(job.threads, job.wait_policy, self.folder / "progress.txt",
                                  root),
            start_new_session=True)
        self._send(json.dumps(job.to_dict()))

    def __enter__(self) -> RoundWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ready(self) -> Ready:
        """Wait until the child's step is built and warm (at most the job's timeout)."""
        reply = self._receive()
        size = reply.get("batch_size")
        return Ready(int(reply["rounds"]), "" if size is None else str(size),
                     reply.get("workload") or {})

    def time_round(self) -> float:
        """One more timed round in the child: its steps/s."""
        self._send("round")
        return float(self._receive()["steps_per_s"])

    def close(self) -> None:
        """End the child (its stdin closed, else killed) and remove its folder."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _send(self, line: str) -> None:
        try:
            self.proc.stdin.write(f"{line}\n".encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # the child has died; _receive says how

    def _receive(self) -> dict[str, Any]:
        answered, _, _ = select.select([self.proc.stdout], [], [], self.job.timeout_s)
        if not answered:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise RoundWorkerError(f"worker timed out: no answer for {self.job.timeout_s:g} s")
        line = self.proc.stdout.readline()
        if not line:
            raise RoundWorkerError(f"worker {describe_exit(self.proc.wait())}: "
                                   f"{self._last_log_line()}")
        reply = json.loads(line)
        if "error" in reply:
            raise RoundWorkerError(reply["error"])
        return reply

    def _last_log_line(self) -> str:
        lines = (self.folder / "output.log").read_text(errors="replace").strip().splitlines()
        return (lines or [""])[-1][:ERROR_CHARS]


# --- the child ----------------------------------------------------------------------------


def one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
    return text[:ERROR_CHARS]


def answer(protocol: IO[str], reply: dict[str, Any]) -> None:
    protocol.write(json.dumps(reply) + "\n")
    protocol.flush()


def serve(protocol: IO[str]) -> int:
    from bench.registry import load_suite

    job = Job.from_dict(json.loads(sys.stdin.readline()))
    try:
        timer = load_suite(job.suite).round_timer(job)
        answer(protocol, {"rounds": timer.rounds, "batch_size": timer.batch_size,
                          "workload": timer.workload})
        for _ in sys.stdin:
            answer(protocol, {"steps_per_s": timer.time_round()})
    except Exception as exc:
        traceback.print_exc()
        answer(protocol, {"error": one_line(exc)})
        return 1
    return 0


def main() -> int:
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # prints go to the log
    return serve(protocol)


if __name__ == "__main__":
    sys.exit(main())
