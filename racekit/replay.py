"""What a race leaves to look at: a replay video and a track map.

The video is the chase view with the car's camera inset and a lap timer, one
frame per control step. A penalty is simulated time in which nothing moves; the
video holds the frame (with an OFF TRACK banner) for as long, so the timer on
screen runs at the speed of the video and the replay lasts as long as the race.

The map is the track from above with the driven line coloured by speed (slow =
dark blue, fast = red; the scale is drawn below) and a marker where the car left
the track (a red disc with a cross), crashed (a yellow diamond with a black rim:
into a box, a bot or, head-to-head, the other car) or was reset for being stuck or
driving backwards (a magenta disc). Object avoidance's boxes are drawn where they
stood (their own orange, outlined); head-to-bot's bots as their path over the race
(a thin blue line) with the bot where it started (outlined) and where it ended (filled).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from racekit.agent.observations import split

MARKERS = {"off_track": (230, 30, 30), "crash": (255, 255, 0), "reset": (220, 0, 220)}  # RGB
BOT_PATH_RGB = (90, 140, 255)
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
        if getattr(env, "lidar_ranges", None) is not None:
            view = draw_scan(view, env.lidar_ranges)
        inset = split(obs)[0][:, :, -self.channels:]  # the newest frame of the stack: what the model sees now
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
        lines.append(f"off-tracks {info['offtracks']}  crashes {info['crashes']}  resets {info['resets']}")
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


SCAN_REACH_M = 2.0  # what the radar inset shows: DeepRacer's LIDAR forms look no farther


def draw_scan(view: np.ndarray, ranges: np.ndarray) -> np.ndarray:
    """The view (RGB) with the LIDAR's scan as a radar in its bottom-right corner: the car in the middle pointing
    up, each ray out to what it hit (red) or to SCAN_REACH_M (grey: nothing that near)."""
    from racekit.sim.lidar import RAY_ANGLES_DEG

    view = np.ascontiguousarray(view)
    side = max(80, view.shape[0] // 4)
    cx, cy = view.shape[1] - side // 2 - 6, view.shape[0] - side // 2 - 6  # bottom right: the camera inset is on top
    k = (side / 2 - 4) / SCAN_REACH_M  # pixels per metre
    cv2.rectangle(view, (cx - side // 2, cy - side // 2), (cx + side // 2, cy + side // 2), (20, 20, 20), -1)
    for angle, distance in zip(np.radians(RAY_ANGLES_DEG), ranges):
        hit = bool(np.isfinite(distance) and distance < SCAN_REACH_M)
        reach = k * (distance if hit else SCAN_REACH_M)
        end = (int(round(cx - reach * np.sin(angle))), int(round(cy - reach * np.cos(angle))))
        cv2.line(view, (cx, cy), end, (230, 40, 40) if hit else (90, 90, 90), 1, cv2.LINE_AA)
        if hit:
            cv2.circle(view, end, 2, (255, 80, 80), -1)
    car = np.array([[cx, cy - 7], [cx - 4, cy + 5], [cx + 4, cy + 5]], np.int32)
    cv2.fillPoly(view, [car], (255, 255, 255))
    return view


def speed_colours(speeds: np.ndarray, top: float) -> np.ndarray:
    """RGB colours (N, 3) for speeds on 0..top (turbo colour map)."""
    levels = np.clip(np.asarray(speeds, float) / max(top, 1e-6) * 255, 0, 255).astype(np.uint8)
    bgr = cv2.applyColorMap(levels.reshape(-1, 1), cv2.COLORMAP_TURBO).reshape(-1, 3)
    return bgr[:, ::-1]


def map_canvas(ground_image, max_side: int = 900):
    """A copy of the track picture at map size (sim.texture.TrackImage)."""
    from racekit.sim.texture import TrackImage
    from racekit.sim.topdown import scaled

    base = scaled(ground_image, max_side)
    return TrackImage(base.image.copy(), base.xmin, base.ymin, base.px_per_m)


def draw_objects(canvas, boxes, bot_paths) -> None:
    """The race's boxes where they stood, and each bot's path with its start (outlined) and end (filled)."""
    from racekit.sim.objects import BOT_RGB, BOT_SIZE

    for box in boxes:
        _footprint(canvas, box.centre[0], box.centre[1], box.yaw, 2 * box.half[0], 2 * box.half[1], box.rgb)
    width = max(2, round(0.02 * canvas.px_per_m))
    for path in bot_paths:
        if len(path) < 2:
            continue
        pixels = canvas.to_pixels(np.array(path, float)).astype(np.int32)
        cv2.polylines(canvas.image, [pixels.reshape(-1, 1, 2)], False, BOT_PATH_RGB, width, cv2.LINE_AA)
        for (x0, y0), (x1, y1), filled in ((path[0], path[1], False), (path[-2], path[-1], True)):
            yaw = float(np.arctan2(y1 - y0, x1 - x0)) if (x1, y1) != (x0, y0) else 0.0
            _footprint(canvas, x1 if filled else x0, y1 if filled else y0, yaw, BOT_SIZE[0], BOT_SIZE[1],
                       BOT_RGB if filled else None)


def _footprint(canvas, x: float, y: float, yaw: float, length: float, width: float, rgb) -> None:
    """A rectangle on the ground, filled with `rgb` (None: outlined only), with a dark rim."""
    c, s = np.cos(yaw), np.sin(yaw)
    half = np.array([[1, 1], [1, -1], [-1, -1], [-1, 1]]) * [length / 2, width / 2]
    corners = np.array([x, y]) + half @ np.array([[c, s], [-s, c]])
    pixels = np.round(canvas.to_pixels(corners)).astype(np.int32)
    if rgb is not None:
        cv2.fillConvexPoly(canvas.image, pixels, tuple(int(v) for v in rgb), cv2.LINE_AA)
    cv2.polylines(canvas.image, [pixels.reshape(-1, 1, 2)], True, (40, 40, 40), 1, cv2.LINE_AA)


def draw_incident(image: np.ndarray, cx: int, cy: int, radius: int, kind: str) -> None:
    """One marker: a crash is a diamond (yellow, black rim), an off-track or reset a disc with a white cross."""
    if kind == "crash":
        r = int(radius * 1.3)
        diamond = np.array([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], np.int32)
        cv2.fillConvexPoly(image, diamond, MARKERS[kind], cv2.LINE_AA)
        cv2.polylines(image, [diamond.reshape(-1, 1, 2)], True, (0, 0, 0), 2, cv2.LINE_AA)
        return
    cv2.circle(image, (cx, cy), radius, MARKERS[kind], -1, cv2.LINE_AA)
    d = int(radius * 0.6)
    for a, b in (((cx - d, cy - d), (cx + d, cy + d)), ((cx - d, cy + d), (cx + d, cy - d))):
        cv2.line(image, a, b, (255, 255, 255), 2, cv2.LINE_AA)


def track_map(outcome, top_speed: float, title: str, max_side: int = 900) -> np.ndarray:
    """The map picture (RGB): track from above, boxes and bots, driven line by speed, incidents, legend below."""
    canvas = map_canvas(outcome.ground_image, max_side)
    draw_objects(canvas, getattr(outcome, "boxes", ()), getattr(outcome, "bot_paths", ()))
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
        draw_incident(canvas.image, cx, cy, radius, kind)
    return np.vstack([canvas.image, _legend(canvas.image.shape[1], top, title)])


def _legend(width: int, top: float | None, title: str, lines: tuple = ()) -> np.ndarray:
    """The strip under a map: the title; the speed scale (or, head-to-head, each car's line colour and
    name: `lines` of (rgb, label)); then the markers."""
    strip = np.full((LEGEND_PX, width, 3), 255, np.uint8)
    cv2.putText(strip, title, (8, 20), TEXT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    x = 8
    if top is not None:
        bar_w = min(260, width // 2)
        colours = speed_colours(np.linspace(0, top, bar_w), top)
        strip[32:44, 8:8 + bar_w] = colours[None, :, :]
        cv2.putText(strip, f"0 - {top:.1f} m/s", (12 + bar_w, 43), TEXT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        x = 12 + bar_w + 110
    for rgb, label in lines:
        cv2.line(strip, (x, 38), (x + 24, 38), tuple(int(v) for v in rgb), 4, cv2.LINE_AA)
        cv2.putText(strip, label[:16], (x + 30, 43), TEXT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        x += 40 + 9 * min(len(label), 16)
    for kind, label in (("off_track", "off track"), ("crash", "crash"), ("reset", "reset")):
        if x + 90 > width:
            break
        draw_incident(strip, x, 38, 6, kind)
        cv2.putText(strip, label, (x + 12, 43), TEXT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        x += 100
    return strip


def save_png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise OSError(f"{path}: could not write the picture")
