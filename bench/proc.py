"""One command in a fresh process: wall time, CPU time and peak memory of its whole process tree."""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024
SAMPLE_SECONDS = 0.05
# As `make test`: bytecode written (some environments turn it off) and reused from .cache/pycache, as on a
# developer's machine; otherwise every synth would compile each module it imports.
BYTECODE_ENV = {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(ROOT / ".cache" / "pycache")}


@dataclass(frozen=True)
class Sample:
    """``cpu_s``: user + system time of the process and every descendant it waited for (jsii's node, cfn-guard).
    ``peak_rss_mib``: the largest sum of the tree's resident memory seen (sampled every 50 ms);
    ``max_process_rss_mib``: the largest single process's peak (the kernel's ru_maxrss)."""

    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    max_process_rss_mib: float
    exit_code: int = 0


def run(command: Sequence[str], env: Mapping[str, str] | None = None, check: bool = True) -> tuple[Sample, str]:
    """Run ``command`` in ROOT; its sample and its output (stdout and stderr). A failure raises if ``check``."""
    with tempfile.TemporaryFile(mode="w+") as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=output, stderr=subprocess.STDOUT
        )
        peak = _TreeMemory(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        peak.stop()
        output.seek(0)
        text = output.read()
    if check and process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {process.returncode}:\n{text[-3000:]}")
    sample = Sample(wall, usage.ru_utime + usage.ru_stime, peak.mib, usage.ru_maxrss / 1024, process.returncode)
    return sample, text


def spread(values: Sequence[float]) -> dict:
    """Median, min and max."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarize(samples: Sequence[Sample]) -> dict:
    """Median, min and max of each field over several runs."""
    fields = ("wall_s", "cpu_s", "peak_rss_mib", "max_process_rss_mib")
    return {"runs": len(samples), **{name: spread([getattr(s, name) for s in samples]) for name in fields}}


class _TreeMemory:
    """Samples the resident memory of a process and its descendants in a thread until stopped."""

    def __init__(self, pid: int):
        self.mib = 0.0
        self._pid, self._done = pid, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._done.wait(SAMPLE_SECONDS):
            self.mib = max(self.mib, sum(_rss_bytes(pid) for pid in _tree(self._pid)) / MIB)


def _tree(pid: int) -> list[int]:
    """``pid`` and its live descendants."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(_children(current))
    return found


def _children(pid: int) -> list[int]:
    """Children of every thread of ``pid`` (none once it has exited)."""
    try:
        return [
            int(child) for path in Path(f"/proc/{pid}/task").glob("*/children") for child in path.read_text().split()
        ]
    except OSError:
        return []


def _rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError):
        return 0
