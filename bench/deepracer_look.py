"""What a model from DeepRacer's simulator sees in racekit: DeepRacer's own frames beside racekit's, at the same places.

DeepRacer's frames are deepracer-utils' three 640x480 pictures (../shared/deepracer-models/deepracer-utils-sample/
pictures), taken on the re:Invent 2018 track (../shared/deepracer-tracks/reinvent_base.npy). racekit's are drawn
through the `deepracer` camera (1.13 rad lens, DeepRacer's mount) in the `deepracer` look, with the car where it
stood for each picture (found by matching the dashes, borders and floor; tests/test_looks.py holds the same
places). Writes docs/deepracer-camera.png (one place: in colour, and as the model sees it, 160x120 grey scaled
up) and prints, per picture, the share of the frame and the mean colour of what it shows, side by side.

    .venv/bin/python bench/deepracer_look.py [--frame 1] [--out docs/deepracer-camera.png]
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import cv2
import numpy as np

from racekit.sim.camera import DEEPRACER_FOV_DEG
from racekit.sim.env import TimeTrialEnv

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PICTURES = SHARED / "deepracer-models" / "deepracer-utils-sample" / "pictures"
TRACK = SHARED / "deepracer-tracks" / "reinvent_base.npy"
# where the car stood for dr-demo-{1,2,3}.png: (metres along the centre line, metres left of it, degrees of heading
# off it), as in tests/test_looks.py
PLACES = [(10.39, -0.12, 12.0), (7.57, -0.11, -20.5), (9.45, 0.24, -18.5)]
DEEPRACER = {"fov_deg": DEEPRACER_FOV_DEG, "camera_mount": "deepracer", "look": "deepracer"}
PANEL = (320, 240)  # each picture in the figure


def classes(rgb: np.ndarray) -> dict:
    """What a pixel shows, by its colour (as tests/test_looks.py sorts them)."""
    r, g, b = (rgb[:, :, i].astype(np.int32) for i in range(3))
    top = np.arange(rgb.shape[0])[:, None] < rgb.shape[0] * 0.38
    return {"road": (b > r + 5) & (b < 120) & (r < 90) & (b > 40),
            "floor": (g > r + 20) & (g > b + 15) & (g > 125),
            "borders": (r > 150) & (g > 150) & (b > 150) & (abs(r - g) < 25) & (abs(g - b) < 30),
            "dashes": (r > 150) & (g > 80) & (g < 170) & (b < 80) & (r > g + 50),
            "walls": (rgb.max(axis=2) < 40) & top}


def deepracer_picture(index: int) -> np.ndarray:
    return cv2.imread(str(PICTURES / f"dr-demo-{index}.png"), cv2.IMREAD_COLOR)[:, :, ::-1]  # RGB, 640x480


def deepracer_grey(rgb: np.ndarray) -> np.ndarray:
    """DeepRacer's preprocessing: 160x120 bilinear, Y = 0.2989 R + 0.5870 G + 0.1140 B truncated to uint8."""
    small = cv2.resize(rgb, (160, 120), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    return (0.2989 * small[:, :, 0] + 0.5870 * small[:, :, 1] + 0.1140 * small[:, :, 2]).astype(np.uint8)


def racekit_frames(place, width: int, height: int, grayscale: bool) -> np.ndarray:
    env = TimeTrialEnv(track=str(TRACK), camera_width=width, camera_height=height, grayscale=grayscale, **DEEPRACER)
    try:
        env.reset(seed=0)
        s, left, degrees = place
        x, y = env.track.point_at(s)
        heading = float(env.track.heading_at(s))
        env.world.car.reset(x - left * math.sin(heading), y + left * math.cos(heading), heading + math.radians(degrees))
        return env.world.front_camera(env.camera)
    finally:
        env.close()


def labelled(rgb: np.ndarray, text: str) -> np.ndarray:
    """The picture under a white strip with its caption."""
    strip = np.full((22, rgb.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, text, (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (20, 20, 20), 1, cv2.LINE_AA)
    return np.vstack([strip, rgb])


def figure(index: int) -> np.ndarray:
    theirs = deepracer_picture(index)
    ours = racekit_frames(PLACES[index - 1], 640, 480, grayscale=False)
    ours_grey = racekit_frames(PLACES[index - 1], 160, 120, grayscale=True)[:, :, 0]

    def colour(rgb):
        return cv2.resize(rgb, PANEL, interpolation=cv2.INTER_AREA)

    def grey(g):  # scaled up, every pixel a square
        return np.repeat(cv2.resize(g, PANEL, interpolation=cv2.INTER_NEAREST)[:, :, None], 3, axis=2)

    gap = np.full((PANEL[1] + 22, 8, 3), 255, np.uint8)
    top = np.hstack([labelled(colour(theirs), f"DeepRacer's simulator (dr-demo-{index}.png)"), gap,
                     labelled(colour(ours), "racekit: deepracer camera and look")])
    bottom = np.hstack([labelled(grey(deepracer_grey(theirs)), "what its model sees: 160x120 grey"), gap,
                        labelled(grey(ours_grey), "what the model sees in racekit: 160x120 grey")])
    return np.vstack([top, np.full((8, top.shape[1], 3), 255, np.uint8), bottom])


def compare() -> None:
    """Per picture: the share of the frame and the mean colour (RGB, 160x120) of road, floor, borders, dashes and
    walls, DeepRacer's beside racekit's; and the mean grey of the ground (rows 45-119) as the model sees it."""
    print(f"{'picture':<8} {'shows':<8} {'share DR':>9} {'racekit':>8}   {'mean RGB DR':<16} {'racekit':<16}")
    for index, place in enumerate(PLACES, 1):
        full = deepracer_picture(index)
        theirs = cv2.resize(full, (160, 120), interpolation=cv2.INTER_LINEAR)
        ours = racekit_frames(place, 160, 120, grayscale=False)
        a, b = classes(theirs), classes(ours)
        for name in a:
            def mean(frame, mask):
                return " ".join(f"{v:5.1f}" for v in frame[mask].mean(axis=0)) if mask.any() else "-"
            print(f"{index:<8} {name:<8} {a[name].mean():9.3f} {b[name].mean():8.3f}   {mean(theirs, a[name]):<16} "
                  f"{mean(ours, b[name]):<16}")
        grey_theirs = deepracer_grey(full)[45:].mean()
        grey_ours = racekit_frames(place, 160, 120, grayscale=True)[45:].mean()
        print(f"{index:<8} {'ground grey (the model input, rows 45-119)':<48} DR {grey_theirs:5.1f}   racekit {grey_ours:5.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frame", type=int, default=1, choices=(1, 2, 3), help="which of DeepRacer's pictures")
    parser.add_argument("--out", default=str(REPO / "docs" / "deepracer-camera.png"))
    args = parser.parse_args()
    if not (PICTURES.is_dir() and TRACK.is_file()):
        raise SystemExit(f"DeepRacer's pictures or track are not in {SHARED}")
    cv2.imwrite(args.out, figure(args.frame)[:, :, ::-1])
    print(f"wrote {args.out}")
    compare()


if __name__ == "__main__":
    main()
