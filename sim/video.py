"""Replay videos: H.264 MP4 (plays in browsers) through imageio-ffmpeg's bundled ffmpeg."""
from __future__ import annotations

from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np


class VideoWriter:
    """Write RGB frames of one size to an MP4 file. Use as a context manager."""

    def __init__(self, path: str | Path, size: tuple[int, int], fps: float = 15.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.size = size  # (width, height), both even for H.264
        self._writer = imageio_ffmpeg.write_frames(str(self.path), size, fps=fps, codec="libx264",
                                                   pix_fmt_in="rgb24", macro_block_size=2,
                                                   ffmpeg_log_level="error")
        self._writer.send(None)  # start ffmpeg
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        if frame.shape[1::-1] != self.size:
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        self._writer.send(np.ascontiguousarray(frame, dtype=np.uint8))
        self.frames += 1

    def close(self) -> None:
        self._writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def chase_frame(client: int, car, size: tuple[int, int], frames: np.ndarray, channels: int,
                lines: list[str]) -> np.ndarray:
    """A replay's frame: the chase camera's view of `car`, the newest camera frame of the stack `frames`
    (H x W x channels*stack: what the model sees now) inset, and text lines."""
    from racekit.sim.camera import chase_camera

    return compose(chase_camera(client, car, *size), frames[:, :, -channels:], lines)


def compose(main: np.ndarray, inset: np.ndarray, lines: list[str]) -> np.ndarray:
    """`main` with the camera `inset` (scaled up, framed) top right and text lines top left."""
    frame = main.copy()
    if inset.shape[2] == 1:
        inset = np.repeat(inset, 3, axis=2)
    h = frame.shape[0] // 3
    w = round(h * inset.shape[1] / inset.shape[0])
    inset = cv2.resize(inset, (w, h), interpolation=cv2.INTER_NEAREST)
    x0 = frame.shape[1] - w - 8
    cv2.rectangle(frame, (x0 - 2, 6), (x0 + w + 1, 8 + h + 1), (255, 255, 255), 2)
    frame[8:8 + h, x0:x0 + w] = inset
    outlined_text(frame, lines)
    return frame


def outlined_text(frame: np.ndarray, lines: list[str]) -> None:
    """White text with a black outline, top left. The outline is the same glyphs drawn shifted: OpenCV 5
    spaces thick text wider than thin text, so a thick black copy under the white one would not line up."""
    for i, text in enumerate(lines):
        x, y = 10, 24 + 22 * i
        for dx, dy in ((-1, -1), (-1, 1), (1, -1), (1, 1), (0, 2), (2, 0), (0, -2), (-2, 0)):
            cv2.putText(frame, text, (x + dx, y + dy), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(frame, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
