"""Named looks of the world (sim/looks.py): racekit's, and DeepRacer's as its simulator camera shows it.

The DeepRacer look is checked against DeepRacer's own frames (deepracer-utils' three 640x480 pictures in
../shared/deepracer-models, taken on the re:Invent 2018 track, ../shared/deepracer-tracks/reinvent_base.npy)
at the places they were taken, found by matching: the same share of road, floor, borders, dashes and walls,
and the same colours. Those tests skip where the shared folder is not there; the others run on a built-in track.
"""
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from racekit.sim.camera import DEEPRACER_FOV_DEG
from racekit.sim.env import TimeTrialEnv
from racekit.sim.looks import (DEEPRACER_PX_PER_M, DEEPRACER_SKY, LOOKS, draw_deepracer, look_ground, look_sky)
from racekit.sim.randomization import Randomization
from racekit.sim.render.scene import SKY
from racekit.sim.texture import draw_track
from racekit.tracks import load_track

SHARED = Path(__file__).resolve().parents[2] / "shared"
PICTURES = SHARED / "deepracer-models" / "deepracer-utils-sample" / "pictures"
REINVENT = SHARED / "deepracer-tracks" / "reinvent_base.npy"
HAVE_FRAMES = PICTURES.is_dir() and REINVENT.is_file()
SKIP = f"DeepRacer's frames or track not found in {SHARED} (test data kept outside the repo)"
# where the car stood for dr-demo-{1,2,3}.png on reinvent_base: (metres along the centre line, metres to the left
# of it, degrees of heading off the centre line's), found by matching the dashes, borders and floor of the frames
PLACES = [(10.39, -0.12, 12.0), (7.57, -0.11, -20.5), (9.45, 0.24, -18.5)]
DEEPRACER = {"fov_deg": DEEPRACER_FOV_DEG, "camera_mount": "deepracer", "look": "deepracer"}


def classes(rgb: np.ndarray) -> dict:
    """Masks of what a pixel shows, by its colour: the orange dashes, white borders, the mint floor, the navy
    road, the dark walls (in the top third)."""
    r, g, b = (rgb[:, :, i].astype(np.int32) for i in range(3))
    top = np.arange(rgb.shape[0])[:, None] < rgb.shape[0] * 0.38
    return {"orange": (r > 150) & (g > 80) & (g < 170) & (b < 80) & (r > g + 50),  # not a yellow line's edge
            "white": (r > 150) & (g > 150) & (b > 150) & (abs(r - g) < 25) & (abs(g - b) < 30),
            "mint": (g > r + 20) & (g > b + 15) & (g > 125),  # lighter than racekit's grass
            "road": (b > r + 5) & (b < 120) & (r < 90) & (b > 40),
            "wall": (rgb.max(axis=2) < 40) & top}


def place(env, s: float, left: float, degrees: float) -> None:
    x, y = env.track.point_at(s)
    heading = float(env.track.heading_at(s))
    env.world.car.reset(x - left * math.sin(heading), y + left * math.cos(heading), heading + math.radians(degrees))


def deepracer_frame(index: int) -> np.ndarray:
    """dr-demo-{index}.png as DeepRacer's preprocessing resizes it: 160x120 RGB, bilinear."""
    bgr = cv2.imread(str(PICTURES / f"dr-demo-{index}.png"), cv2.IMREAD_COLOR)
    return cv2.resize(bgr[:, :, ::-1], (160, 120), interpolation=cv2.INTER_LINEAR)


def model_grey(rgb: np.ndarray) -> np.ndarray:
    """DeepRacer's grey: Y = 0.2989 R + 0.5870 G + 0.1140 B, truncated to uint8."""
    f = rgb.astype(np.float32)
    return (0.2989 * f[:, :, 0] + 0.5870 * f[:, :, 1] + 0.1140 * f[:, :, 2]).astype(np.uint8)


@pytest.fixture(scope="module")
def matched():
    """(ours, DeepRacer's) 160x120 RGB frames at the three places."""
    env = TimeTrialEnv(track=str(REINVENT), camera_width=160, camera_height=120, grayscale=False, **DEEPRACER)
    env.reset(seed=0)
    pairs = []
    for index, where in enumerate(PLACES, 1):
        place(env, *where)
        pairs.append((env.world.front_camera(env.camera), deepracer_frame(index)))
    env.close()
    return pairs


@pytest.mark.skipif(not HAVE_FRAMES, reason=SKIP)
@pytest.mark.parametrize("index", [0, 2])  # dr-demo-2's car is nearer the right border than any place on the file's
def test_the_deepracer_look_shows_what_deepracers_frames_show_where_they_show_it(matched, index):
    ours, theirs = (classes(frame) for frame in matched[index])
    for name, share in (("road", 0.025), ("mint", 0.02), ("orange", 0.006), ("wall", 0.02), ("white", 0.01)):
        assert abs(ours[name].mean() - theirs[name].mean()) <= share, (name, ours[name].mean(), theirs[name].mean())
    assert ours["road"].mean() > 0.5 and ours["mint"].mean() > 0.05 and ours["orange"].mean() > 0.005
    # and where DeepRacer's frame has them, ours has them too: its dashes, borders and floor are a pixel or two
    # from ours on average, and ours from its
    for name, pixels in (("orange", 2.0), ("white", 2.0), ("mint", 1.0)):
        for a, b in ((ours, theirs), (theirs, ours)):
            away = cv2.distanceTransform((~a[name]).astype(np.uint8), cv2.DIST_L2, 5)  # from a's nearest such pixel
            assert away[b[name]].mean() <= pixels, (name, away[b[name]].mean())


@pytest.mark.skipif(not HAVE_FRAMES, reason=SKIP)
def test_the_deepracer_look_has_deepracers_colours(matched):
    for name, tolerance in (("road", 4), ("mint", 10), ("white", 22), ("orange", 20), ("wall", 3)):
        ours = np.concatenate([frame[classes(frame)[name]] for frame, _ in matched]).mean(axis=0)
        # DeepRacer's walls: the teal ones (dr-demo-1's and -3's also show black ones, some far corner in shade)
        theirs = np.concatenate([frame[classes(frame)[name] & ((frame.max(axis=2) >= 8) | (name != "wall"))]
                                 for _, frame in matched]).mean(axis=0)
        assert np.abs(ours - theirs).max() <= tolerance, (name, ours.round(1), theirs.round(1))
    for ours, theirs in (matched[0], matched[2]):  # as the model sees them: 160x120 grey
        rows = slice(45, 120)  # the ground, under the walls (DeepRacer's have black and grey patches)
        assert abs(float(model_grey(ours)[rows].mean()) - float(model_grey(theirs)[rows].mean())) < 5


def test_the_deepracer_look_on_a_builtin_track_has_its_dashes_floor_and_walls_where_expected():
    frames = {}
    for look in LOOKS:
        env = TimeTrialEnv(track="oval", camera_width=160, camera_height=120, grayscale=False,
                           **{**DEEPRACER, "look": look})
        frames[look], _ = env.reset(seed=0, options={"start_fraction": 0.02})
        env.close()
    dr, rk = classes(frames["deepracer"]), classes(frames["racekit"])
    centre = np.zeros((120, 160), bool)
    centre[60:, 60:100] = True  # the middle of the lower half: the centre line ahead
    assert (dr["orange"] & centre).sum() > 40 and not rk["orange"].any()
    assert (dr["road"][60:].mean() > 0.5) and not rk["road"].any()  # navy asphalt (racekit's is grey)
    # the floor beside the road up to the walls, the walls' colour above the horizon
    assert dr["mint"][:60, :20].any() and dr["mint"][:60, -20:].any() and dr["mint"].mean() > 3 * rk["mint"].mean()
    assert np.array_equal(frames["deepracer"][0], np.tile(DEEPRACER_SKY, (160, 1)))
    assert np.all(frames["racekit"][0] == 255)
    assert dr["white"][:60, :40].any() and dr["white"][:60, 120:].any()  # the borders, between road and floor


def test_looks_by_name():
    track = load_track("oval")
    racekit = look_ground(track, "racekit")
    assert np.array_equal(racekit.image, draw_track(track).image) and look_sky("racekit") == SKY
    deepracer = look_ground(track, "deepracer")
    assert deepracer.px_per_m == DEEPRACER_PX_PER_M and look_sky("deepracer") == DEEPRACER_SKY
    # the same ground, finer: the same metres in the same place
    assert deepracer.xmin == racekit.xmin and deepracer.ymin == racekit.ymin
    assert deepracer.size_m == pytest.approx(racekit.size_m, abs=2 / racekit.px_per_m)
    assert np.array_equal(draw_deepracer(track, seed=3).image, draw_deepracer(track, seed=3).image)  # repeatable
    with pytest.raises(ValueError, match="look must be one of racekit, deepracer, got 'mars'"):
        look_ground(track, "mars")
    with pytest.raises(ValueError, match="look must be one of racekit, deepracer, got 'mars'"):
        look_sky("mars")


@pytest.mark.parametrize("renderer", ["fast", "tiny"])
def test_randomisation_works_on_top_of_the_deepracer_look(renderer):
    env = TimeTrialEnv(track="oval", camera_width=64, camera_height=48, grayscale=False, renderer=renderer,
                       randomize=Randomization(floors=("carpet",), road_shade=(60.0, 60.0), camera_pitch=(3.0, 3.0)),
                       **DEEPRACER)
    base = env.world.ground_image.image
    first, info = env.reset(seed=0)
    assert info["randomization"]["floors"] == "carpet" and info["randomization"]["camera_pitch"] == 3.0
    # a new ground picture on the look's finer grid, under the look's sky
    assert env.world.ground_image.image.shape == base.shape and env.world.ground_image.px_per_m == DEEPRACER_PX_PER_M
    assert np.array_equal(first[0], np.tile(DEEPRACER_SKY, (64, 1)))
    assert not classes(first)["orange"].any()  # the randomised look's centre line is racekit's yellow
    env.close()
