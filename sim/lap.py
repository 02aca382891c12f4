"""Progress along the lap from an episode's start point, robust to the lap's seam.

The car's reference point is projected on the centre line every step. The
along-track distance is unwrapped (a step never moves more than half a lap),
so progress counts what was really driven: driving backwards lowers it, and
crossing the start/finish line on a loop does not reset it.
"""
from __future__ import annotations


class LapProgress:
    def __init__(self, track, xy, sim_time: float = 0.0):
        self.track = track
        self.s, self.offset = track.project(xy)
        self.start_s = self.s
        self.travelled = 0.0  # metres along the centre line since the start; negative when driven backwards
        self.sim_time = sim_time
        self.lap_time: float | None = None  # simulated seconds, set when the lap completes

    @property
    def lap_length(self) -> float:
        """A full loop, or on open tracks what is left from the start point to the end."""
        return self.track.length if self.track.closed else self.track.length - self.start_s

    @property
    def progress(self) -> float:
        """Percent of the lap, 0..100."""
        return min(100.0, max(0.0, 100.0 * self.travelled / self.lap_length))

    def update(self, xy, sim_time: float) -> None:
        s, self.offset = self.track.project(xy, near_s=self.s)
        ds = s - self.s
        if self.track.closed:  # unwrap across the seam
            half = self.track.length / 2
            ds = (ds + half) % self.track.length - half
        before = self.travelled
        self.travelled += ds
        self.s = s
        if self.lap_time is None and self.travelled >= self.lap_length > before:
            # the line was crossed during this control step: interpolate the moment, in simulated time
            fraction = (self.lap_length - before) / (self.travelled - before)
            self.lap_time = self.sim_time + fraction * (sim_time - self.sim_time)
        self.sim_time = sim_time
