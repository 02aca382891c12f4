"""Progress along the lap from an episode's start point, robust to the lap's seam.

The car's reference point is projected on the centre line every step. The
along-track distance is unwrapped (a step never moves more than half a lap),
so progress counts what was really driven: driving backwards lowers it, and
crossing the start/finish line on a loop does not reset it. Several laps in a
row are counted for races; each lap's time is interpolated to the moment the
line was crossed, in simulated seconds.
"""
from __future__ import annotations


class LapProgress:
    def __init__(self, track, xy, sim_time: float = 0.0):
        self.track = track
        self.s, self.offset = track.project(xy)
        self.start_s = self.s
        self.travelled = 0.0  # metres along the centre line since the start; negative when driven backwards
        self.sim_time = sim_time
        self.lap_start_time = sim_time
        self.lap_times: list[float] = []  # simulated seconds of each completed lap
        self._just_completed = False

    @property
    def lap_length(self) -> float:
        """A full loop, or on open tracks what is left from the start point to the end."""
        return self.track.length if self.track.closed else self.track.length - self.start_s

    @property
    def lap_time(self) -> float | None:
        """The first lap's time, None until it is complete."""
        return self.lap_times[0] if self.lap_times else None

    @property
    def progress(self) -> float:
        """Percent of the current lap, 0..100; 100 on the step a lap completes."""
        if self._just_completed:
            return 100.0
        into_lap = self.travelled - len(self.lap_times) * self.lap_length
        return min(100.0, max(0.0, 100.0 * into_lap / self.lap_length))

    def update(self, xy, sim_time: float) -> None:
        s, self.offset = self.track.project(xy, near_s=self.s)
        ds = s - self.s
        if self.track.closed:  # unwrap across the seam
            half = self.track.length / 2
            ds = (ds + half) % self.track.length - half
        before = self.travelled
        self.travelled += ds
        self.s = s
        self._just_completed = False
        line = (len(self.lap_times) + 1) * self.lap_length
        if self.travelled >= line > before:
            # the line was crossed during this control step: interpolate the moment
            crossed = self.sim_time + (line - before) / (self.travelled - before) * (sim_time - self.sim_time)
            self.lap_times.append(crossed - self.lap_start_time)
            self.lap_start_time = crossed
            self._just_completed = True
        self.sim_time = sim_time

    def add_penalty(self, seconds: float) -> None:
        """Time that passes with the car standing (a reset penalty): it counts in the lap time."""
        self.sim_time += seconds
