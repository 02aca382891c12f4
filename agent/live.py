"""The live view of a training: its evaluation car, as pictures in the run folder (what `racekit console` streams).

While an evaluation races, `racekit train` keeps three files in RUN/live/ up to date:

    front.jpg    the car's camera as the model sees it (its newest frame), scaled up
    chase.jpg    a chase camera behind the car, the camera inset, and the track, step and lap clock
    status.json  {"step": env steps trained, "track": the track raced, "evaluating": true/false, "time": unix s}

Each file is written beside itself and renamed over the old one, so a reader never sees half a picture.
Pictures are taken at most `fps` times per second of wall time: they cost the evaluation a render now and
then and change nothing it measures (rendering does not step the physics). Between evaluations the files
keep the last frame and status.json says `"evaluating": false`.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cv2
import numpy as np

from racekit.agent.observations import split
from racekit.sim.video import chase_frame

CHASE_SIZE = (320, 240)
FRONT_SCALE = 2  # the model's 160x120 (or smaller) frame, made big enough to look at
JPEG_QUALITY = 80


def write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    os.replace(partial, path)


def jpeg(image: np.ndarray) -> bytes:
    """RGB or grey (H x W x 1) uint8 image -> JPEG bytes."""
    if image.shape[2] == 1:
        image = image[:, :, 0]
    else:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("OpenCV could not encode the live view as JPEG")
    return encoded.tobytes()


class LiveView:
    """An evaluate() on_step observer that keeps RUN/live/ showing the evaluation car."""

    def __init__(self, run_dir: Path, channels: int, fps: float = 5.0):
        self.channels = channels  # of one camera frame: 1 grey, 3 colour
        self.folder = Path(run_dir) / "live"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.period = 1.0 / fps
        self.step, self.track = 0, ""
        self._last = -float("inf")

    def begin(self, step: int, track: str) -> None:
        """An evaluation at `step` env steps starts on `track`: take the next frame at once."""
        self.step, self.track, self._last = step, track, -float("inf")
        self._status(evaluating=True)

    def end(self) -> None:
        self._status(evaluating=False)

    def on_step(self, env, obs, info) -> None:
        now = time.monotonic()
        if now - self._last < self.period:
            return
        self._last = now
        frames = split(obs)[0]  # H x W x (channels x stack), the newest frame last
        newest = frames[:, :, -self.channels:]
        front = newest.repeat(FRONT_SCALE, axis=0).repeat(FRONT_SCALE, axis=1)
        lines = [f"{self.track}  step {self.step:,}", f"lap {len(info['lap_times']) + 1}  {info['sim_time']:.1f} s",
                 f"off-tracks {info['offtracks']}  crashes {info['crashes']}"]
        chase = chase_frame(env.world.client, env.world.car, CHASE_SIZE, frames, self.channels, lines)
        write_atomically(self.folder / "front.jpg", jpeg(front))
        write_atomically(self.folder / "chase.jpg", jpeg(chase))

    def _status(self, evaluating: bool) -> None:
        status = {"step": self.step, "track": self.track, "evaluating": evaluating, "time": time.time()}
        write_atomically(self.folder / "status.json", json.dumps(status).encode())
