"""What a race leaves to look at: a replay video and a track map.

The video is the chase view with the car's camera inset and a lap timer, one
frame per control step. A penalty is simulated time in which nothing moves; the
video holds the frame (with an OFF TRACK banner) for as long, so the timer on
screen runs at the speed of the video and the replay lasts as long as the race.

The map is the track from above with the driven line coloured by speed (slow =
dark blue, fast = red; the scale is drawn below) and a marker where the car left
the track (red), crashed (orange) or was reset for being stuck or driving backwards
(magenta).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

MARKERS = {"off_track": (230, 30, 30), "crash": (255, 150, 0), "reset": (220, 0, 220)}  # RGB
LEGEND_PX = 64
TEXT = cv2.FONT_HERSHEY_SIMPLEX


def lap_clock(info: dict) -> float:
    """Seconds into the current lap (penalties included): the race time less the completed laps."""
    return float(info["sim_time"] - sum(info["lap_times"]))


class ReplayVideo:
    """An on_step observer for racing.race that writes the replay MP4. Use as a context manager."""

    def __init__(self, path: Path, size: tuple[int, int], fps: float, channels: int, laps: int, title: str):
        from racekit.sim.video import VideoWriter

        self.writer = VideoWriter(path, size, fps=fps)
        self.size, self.fps, self.channels, self.laps, self.title = size, fps, channels, laps, title

    def on_step(self, env, obs, info, events) -> None:
        from racekit.sim.camera import chase_camera

        view = chase_camera(env.world.client, env.world.car, *self.size)
        inset = obs[:, :, -self.channels:]  # the newest frame of the stack: what the model sees now
        self.writer.write(self._frame(view, inset, info, lap_clock(info)))
        for event in events:
            if event["kind"] != "lap" and not event["dnf"]:
                banner = {"off_track": "OFF TRACK", "crash": "CRASH", "reset": "RESET"}[event["kind"]]
                held = int(round(event["penalty"] * self.fps))
                start = lap_clock(info) - event["penalty"]
                for k in range(1, held + 1):
                    frame = self._frame(view, inset, info, start + k / self.fps)
                    self._banner(frame, f"{banner} +{event['penalty']:g} s")
                    self.writer.write(frame)

    def _frame(self, view, inset, info, clock: float) -> np.ndarray:
        from racekit.sim.video import compose

        done = info["lap_times"]
        lines = [self.title, f"lap {min(len(done) + 1, self.laps)}/{self.laps}  {clock:6.2f} s"]
        if done:
            lines.append(f"last {done[-1]:.2f} s  best {min(done):.2f} s")
        lines.append(f"off-tracks {info['offtracks'] + info['crashes']}  resets {info['resets']}")
        return compose(view, inset, lines)

    @staticmethod
    def _banner(frame: np.ndarray, text: str) -> None:
        scale = frame.shape[1] / 480
        (w, h), _ = cv2.getTextSize(text, TEXT, scale, 2)
        x, y = (frame.shape[1] - w) // 2, frame.shape[0] // 2
        cv2.rectangle(frame, (x - 8, y - h - 8), (x + w + 8, y + 8), (200, 20, 20), -1)
        cv2.putText(frame, text, (x, y), TEXT, scale, (255, 255, 255), 2, cv2.LINE_AA)

    @property
    def frames(self) -> int:
        return self.writer.frames

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> "ReplayVideo":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def speed_colours(speeds: np.ndarray, top: float) -> np.ndarray:
    """RGB colours (N, 3) for speeds on 0..top (turbo colour map)."""
    levels = np.clip(np.asarray(speeds, float) / max(top, 1e-6) * 255, 0, 255).astype(np.uint8)
    bgr = cv2.applyColorMap(levels.reshape(-1, 1), cv2.COLORMAP_TURBO).reshape(-1, 3)
    return bgr[:, ::-1]


def track_map(outcome, top_speed: float, title: str, max_side: int = 900) -> np.ndarray:
    """The map picture (RGB): track from above, driven line by speed, incidents, legend strip below."""
    from racekit.sim.texture import TrackImage
    from racekit.sim.topdown import scaled

    base = scaled(outcome.ground_image, max_side)
    canvas = TrackImage(base.image.copy(), base.xmin, base.ymin, base.px_per_m)
    thickness = max(2, round(0.03 * canvas.px_per_m))
    speeds = [s for seg in outcome.segments for (_, _, s) in seg]
    top = max(top_speed, max(speeds, default=0.0))
    for segment in outcome.segments:
        if len(segment) < 2:
            continue
        pixels = canvas.to_pixels(np.array([(x, y) for x, y, _ in segment]))
        colours = speed_colours(np.array([s for _, _, s in segment]), top)
        for i in range(len(pixels) - 1):
            colour = tuple(int(c) for c in colours[i + 1])
            cv2.line(canvas.image, tuple(map(int, pixels[i])), tuple(map(int, pixels[i + 1])), colour, thickness,
                     cv2.LINE_AA)
    radius = max(5, round(0.07 * canvas.px_per_m))
    for x, y, kind in outcome.incidents:
        cx, cy = (int(v) for v in canvas.to_pixels((x, y)))
        cv2.circle(canvas.image, (cx, cy), radius, MARKERS[kind], -1, cv2.LINE_AA)
        d = int(radius * 0.6)
        for a, b in (((cx - d, cy - d), (cx + d, cy + d)), ((cx - d, cy + d), (cx + d, cy - d))):
            cv2.line(canvas.image, a, b, (255, 255, 255), 2, cv2.LINE_AA)
    return np.vstack([canvas.image, _legend(canvas.image.shape[1], top, title)])


def _legend(width: int, top: float, title: str) -> np.ndarray:
    strip = np.full((LEGEND_PX, width, 3), 255, np.uint8)
    cv2.putText(strip, title, (8, 20), TEXT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    bar_w = min(260, width // 2)
    colours = speed_colours(np.linspace(0, top, bar_w), top)
    strip[32:44, 8:8 + bar_w] = colours[None, :, :]
    cv2.putText(strip, f"0 - {top:.1f} m/s", (12 + bar_w, 43), TEXT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    x = 12 + bar_w + 110
    for kind, label in (("off_track", "off track"), ("crash", "crash"), ("reset", "reset")):
        if x + 90 > width:
            break
        cv2.circle(strip, (x, 38), 6, MARKERS[kind], -1, cv2.LINE_AA)
        cv2.putText(strip, label, (x + 10, 43), TEXT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        x += 100
    return strip


def save_png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise OSError(f"{path}: could not write the picture")
