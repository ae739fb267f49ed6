"""The benchmark's figures as one PNG: latency CDFs and throughput over time."""

from __future__ import annotations

from pathlib import Path

from intentcast.broker.metrics import _BOUNDS, Histogram


def cdf(h: Histogram) -> tuple[list[float], list[float]]:
    xs, ys, seen = [], [], 0
    for i, c in enumerate(h.counts):
        if c:
            seen += c
            xs.append(_BOUNDS[i] if i < len(_BOUNDS) else h.max)
            ys.append(seen / h.total)
    return xs, ys


def save_plot(
    path: Path,
    latencies: dict[str, Histogram],
    timeline: list[tuple[float, int, int]],
    title: str,
    stages: dict[str, float] | None = None,
) -> None:
    """Latency CDFs, throughput over time and, given `stages`, each stage's inputs per second
    beside the pipeline's (the ceilings and peers of the same run)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 3 if stages else 2
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4.5))
    left, right = axes[0], axes[1]
    for name, h in latencies.items():
        xs, ys = cdf(h)
        left.plot(xs, ys, label=f"{name} (p99 {h.percentile(99):.1f} ms)")
    left.set_xscale("log")
    left.set_xlabel("latency (ms, log scale)")
    left.set_ylabel("fraction of requests")
    left.set_title("Latency CDF at fractions of the maximum rate")
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8, loc="lower right")
    secs = [t for t, _, _ in timeline]
    right.plot(secs, [o for _, o, _ in timeline], label="offers delivered / s")
    right.plot(secs, [a for _, _, a in timeline], label="agreements / s")
    right.set_xlabel("seconds into the throughput run")
    right.set_title("Throughput over time")
    right.grid(True, alpha=0.3)
    right.legend()
    if stages:
        bars = axes[2]
        names = list(stages)
        bars.barh(names, [stages[n] for n in names])
        bars.invert_yaxis()
        bars.set_xlabel("inputs / s (median)")
        bars.set_title("The pipeline beside its ceilings and peers")
        bars.grid(True, axis="x", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
