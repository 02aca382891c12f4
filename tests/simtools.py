"""Small helpers shared by the simulator tests."""
from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEEPRACER_TRACKS = REPO.parent / "shared" / "deepracer-tracks"


def write_track(tmp_path: Path, text: str, name: str = "test.track") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def straight_track(tmp_path: Path, obstacle: str = "", width: float = 1.0) -> Path:
    """A 7 x 4 m loop with chamfered corners: a 6 m straight along +x from the start, optional obstacle line."""
    return write_track(tmp_path, f"""name: box
width: {width}
smooth: false
0 0
6 0
7 1
7 3
6 4
0 4
-1 3
-1 1
{obstacle}
""")


def frame_hash(obs: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(obs).tobytes()).hexdigest()


def centre_distance(track, xy) -> float:
    """Distance from xy to the centre polyline by dense sampling: independent of Track.project."""
    s = np.linspace(0, track.length, int(track.length / 0.002))
    pts = track.point_at(s)
    return float(np.min(np.hypot(pts[:, 0] - xy[0], pts[:, 1] - xy[1])))


class Output:
    """A subprocess's stdout lines, read in a thread (never blocks the test)."""

    def __init__(self, stream, timeout: float):
        self.lines, self._cond, self.timeout = [], threading.Condition(), timeout
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_for(self, text: str, timeout: float | None = None) -> str | None:
        """The first line containing `text`, waiting up to `timeout` (default: the instance's); None if none."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        with self._cond:
            while True:
                found = next((ln for ln in self.lines if text in ln), None)
                if found is not None or time.monotonic() > deadline:
                    return found
                self._cond.wait(0.1)
