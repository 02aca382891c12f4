"""Per-part timing of the car loop: p50/p99 per part, whole ticks, missed deadlines.

Durations use time.perf_counter (real elapsed work), independent of the clock
the loop schedules with, so a test with a simulated clock still profiles.
"""
from __future__ import annotations

import time
from collections import defaultdict

import numpy as np


class Profiler:
    def __init__(self, period_s: float):
        self.period_s = period_s
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.ticks = 0
        self.missed = 0  # ticks whose work ended after the next tick's start time

    def add(self, name: str, seconds: float) -> None:
        self.samples[name].append(seconds)

    def tick(self, work_s: float, missed: bool) -> None:
        self.ticks += 1
        self.missed += int(missed)
        self.add("tick (all parts)", work_s)

    def stats(self) -> dict[str, dict[str, float]]:
        """{part: {"n", "p50_ms", "p99_ms", "max_ms"}} in the order parts first ran."""
        out = {}
        for name, values in self.samples.items():
            ms = np.asarray(values) * 1000.0
            out[name] = {"n": len(values), "p50_ms": float(np.percentile(ms, 50)),
                         "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max())}
        return out

    def report(self) -> str:
        lines = [f"timing profile: {self.ticks} ticks at {1 / self.period_s:.1f} Hz "
                 f"(deadline {self.period_s * 1000:.1f} ms), missed deadlines: {self.missed}",
                 f"  {'part':<18} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"]
        for name, s in self.stats().items():
            lines.append(f"  {name:<18} {s['n']:>6} {s['p50_ms']:>8.2f} {s['p99_ms']:>8.2f} {s['max_ms']:>8.2f}")
        return "\n".join(lines)


class timed:
    """`with timed(profiler, "model"):` adds the block's duration to that part."""

    def __init__(self, profiler: Profiler, name: str):
        self.profiler, self.name = profiler, name

    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.profiler.add(self.name, time.perf_counter() - self.t0)
        return False
