"""CPU seconds and peak RSS of a process from /proc, so each process's cost is reported."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcSample:
    cpu_s: float
    peak_rss_mb: float


def sample(pid: int) -> ProcSample:
    try:
        proc = Path("/proc") / str(pid)
        stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(stat[11]) + int(stat[12])) / _TICKS  # utime + stime
        peak = 0.0
        for line in (proc / "status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
        return ProcSample(cpu, peak)
    except OSError:
        return ProcSample(0.0, 0.0)


def usage(pid: int, before: ProcSample, wall_s: float) -> dict[str, float]:
    """CPU use over a window (in seconds and in cores) and the process's peak RSS so far."""
    after = sample(pid)
    return {
        "cpu_s": round(after.cpu_s - before.cpu_s, 3),
        "cpu_cores": round((after.cpu_s - before.cpu_s) / max(wall_s, 1e-9), 3),
        "peak_rss_mb": round(after.peak_rss_mb, 1),
    }
