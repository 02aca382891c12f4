"""Head-to-head (issue 11, beyond DeepRacer's console): two models on one track at once, each seeing the other.

The sim (racekit.sim.headtohead) is checked directly: each camera shows the other car when it is ahead and
never its own, in the fast renderer (the other car drawn as a box) and in TinyRenderer (its body); a faster
car starting right behind a slower one runs into it, which is its crash (the car behind), recorded as
who hit whom. Then `racekit race A.onnx B.onnx --head-to-head` end to end: both cars drive, the finishing
order, the replay and map with both cars, the heat stored on the leaderboard and shown by its commands.
"""
import csv
import io
import json

import cv2
import numpy as np
import pytest

from race_helpers import cloned_model, constant_model
from racekit.cli import main
from racekit.leaderboard.db import Leaderboard
from racekit.replay import LEGEND_PX, MARKERS
from racekit.sim.camera import CameraSpec, camera_pose
from racekit.sim.headtohead import CAR_BOX, CAR_RGB, Grid, HeadToHead
from racekit.sim.lidar import LIDAR_AHEAD
from racekit.sim.lidar import RAY_ANGLES_DEG as RAY_ANGLES
from racekit.tracks import load_track

SMALL_VIDEO = ["--video-size", "192x72"]


def heat(grid=Grid(), renderer="fast", camera=CameraSpec(), **kwargs) -> HeadToHead:
    return HeadToHead(load_track("oval"), [camera, camera], [1, 1], grid=grid, renderer=renderer, **kwargs)


def without_cars(h: HeadToHead, i: int) -> np.ndarray:
    """Car i's camera drawn from the same pose with no other car in the world."""
    racer = h.racers[i]
    return h.world.renderer.render(camera_pose(racer.car, racer.camera), racer.camera.channels,
                                   list(h.world.standing))


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(int) - b.astype(int)).max(axis=2) > 20


def test_each_camera_shows_the_other_car_ahead_and_never_itself():
    h = heat(Grid(stagger=1.0, single_file=True))
    try:
        (front, behind), _ = h.reset()
        # B, 1 m behind A on the centre line, sees A up the road, in the middle of its picture
        seen = changed(behind, without_cars(h, 1))
        rows, cols = np.nonzero(seen)
        assert seen.sum() > 15 and abs(cols.mean() - 40) < 6 and rows.mean() < 45
        # A sees the empty road: B is behind it, and A's own box is never drawn in its camera
        assert np.array_equal(front, without_cars(h, 0))
        for _ in range(10):  # still so a few steps on, both driving at 1 m/s
            (front, behind), infos, _ = h.step([(0.0, 1.0), (0.0, 1.0)])
        assert changed(behind, without_cars(h, 1)).sum() > 15 and np.array_equal(front, without_cars(h, 0))
        assert all(info["progress"] > 3 and info["crashes"] == 0 for info in infos)
    finally:
        h.close()


def test_tinyrenderer_cameras_see_the_other_cars_body():
    h = heat(Grid(stagger=1.0, single_file=True), renderer="tiny", camera=CameraSpec(160, 120, 3))
    try:
        (front, behind), _ = h.reset()
        a = h.racers[0].car
        x, y, yaw = a.pose()
        a.reset(x + 50.0, y + 50.0, yaw)  # A taken away: what B would see without it
        seen = changed(behind, without_cars(h, 1))
        rows, cols = np.nonzero(seen)
        assert seen.sum() > 40 and abs(cols.mean() - 80) < 10
        # in car A's light blue
        assert (behind[rows, cols, 2].astype(int) - behind[rows, cols, 0]).mean() > 50
    finally:
        h.close()


def test_a_faster_car_right_behind_runs_into_the_slower_one_and_it_is_the_crash_of_the_car_behind():
    h = heat(Grid(stagger=0.6, single_file=True), crash_penalty=5.0)
    try:
        h.reset()
        held, hit_at, where_held = 0, None, []
        for step in range(100):
            _, infos, _ = h.step([(0.0, 0.8), (0.0, 2.0)])  # A slow ahead, B fast behind
            crash = [e for e in infos[1]["events"] if e["kind"] == "crash"]
            if crash and hit_at is None:
                hit_at = step
                assert crash[0]["hit"] == 0 and crash[0]["penalty"] == 5.0
                hit_xy = np.array([crash[0]["x"], crash[0]["y"]])
            held += infos[1]["holding"]
            if infos[1]["holding"]:
                where_held.append(np.hypot(infos[1]["x"] - hit_xy[0], infos[1]["y"] - hit_xy[1]))
        assert hit_at is not None and hit_at < 15
        [contact] = h.contacts  # one contact: B, held, no longer collides with A
        assert (contact.hitter, contact.hit, contact.lap) == (1, 0, 1) and contact.sim_time < 1.0
        assert infos[1]["crashes"] == 1 and infos[0]["crashes"] == 0  # the car hit goes on, no penalty
        assert held >= 5.0 * 15 - 1  # B held at rest for its penalty (75 steps of 1/15 s) ...
        assert max(where_held) < 0.05  # ... where it hit A (DeepRacer's rule; not put back behind it) ...
        assert infos[0]["progress"] > 15  # ... while A drove on
    finally:
        h.close()


def test_a_car_held_where_it_hit_does_not_block_the_car_it_hit():
    """A stands still; B runs into it and stands out its penalty there, as DeepRacer's blinking car: not
    collidable. A backs through it without a second contact; the cars collide again only once the penalty is
    over and they are apart."""
    h = heat(Grid(stagger=0.6, single_file=True), crash_penalty=1.0)
    try:
        h.reset()
        for _ in range(30):  # A waits (not long enough to be stuck), B drives into it
            _, infos, _ = h.step([(0.0, 0.0), (0.0, 1.0)])
            if infos[1]["crashes"]:
                break
        assert infos[1]["crashes"] == 1 and infos[1]["holding"]
        a_at, b_at = (np.array([infos[i]["x"], infos[i]["y"]]) for i in (0, 1))
        gap = np.hypot(*(a_at - b_at))
        for _ in range(10):  # A backs up into B (its commands ignored while held)
            _, infos, _ = h.step([(0.0, -0.5), (0.0, 1.0)])
        a_now, b_now = (np.array([infos[i]["x"], infos[i]["y"]]) for i in (0, 1))
        assert np.hypot(*(a_now - a_at)) > gap and np.hypot(*(b_now - b_at)) < 0.01  # through B, B held
        assert len(h.contacts) == 1 and infos[0]["crashes"] == infos[0]["resets"] == 0
        for _ in range(8):  # the penalty runs out with the two bodies inside each other: still no contacts
            _, infos, _ = h.step([(0.0, 0.0), (0.0, 0.0)])
        assert not infos[1]["holding"] and h.racers[1].passing_through and len(h.contacts) == 1
        for _ in range(15):  # A drives off, B after it, slower; apart, the cars collide again
            _, infos, _ = h.step([(0.0, 1.0), (0.0, 0.3)])
        assert not h.racers[1].passing_through and len(h.contacts) == 1
    finally:
        h.close()


def drive_a_off_the_track(h) -> list[dict]:
    """From the start, car A hard right until it leaves the track; B follows straight on, slowly. The infos."""
    h.reset()
    for step in range(200):
        _, infos, _ = h.step([(-30.0 if step >= 5 else 0.0, 2.0), (0.0, 0.5)])
        if infos[0]["offtracks"]:
            break
    return infos


def test_a_car_off_the_track_is_put_back_in_the_nearer_lane_held_and_not_collidable():
    """DeepRacer's put-back in head-to-head: the nearer lane where the car left, whoever stands there (the car
    held for its penalty is not collidable, so it cannot land on the other car and push it)."""
    h = heat(Grid(stagger=0.6, single_file=True), offtrack_penalty=1.0)
    try:
        infos = drive_a_off_the_track(h)
        x, y, _ = h.racers[0].car.pose()
        s, offset = h.track.project(np.array([x, y]))
        assert infos[0]["offtracks"] == 1 and infos[0]["holding"] and h.racers[0].passing_through
        assert offset == pytest.approx(-h.track.width_at(s) / 4, abs=0.02)
        for _ in range(20):  # the penalty (15 steps) over, A drives on and collides again once clear of B
            _, infos, _ = h.step([(0.0, 1.0), (0.0, 0.5)])
        assert not infos[0]["holding"] and not any(r.passing_through for r in h.racers) and h.contacts == []
    finally:
        h.close()


def test_a_car_put_back_with_no_penalty_stays_collidable():
    """DeepRacer blinks a car only for a penalty above 0 s."""
    h = heat(Grid(stagger=0.6, single_file=True), offtrack_penalty=0.0)
    try:
        infos = drive_a_off_the_track(h)
        assert infos[0]["offtracks"] == 1 and not any(r.passing_through for r in h.racers)
    finally:
        h.close()


def nearest_ray(ranges) -> tuple[float, float]:
    """(range, car-frame angle in degrees) of a scan's nearest return."""
    from racekit.sim.lidar import RAY_ANGLES_DEG

    i = int(np.argmin(ranges))
    return float(ranges[i]), float(RAY_ANGLES_DEG[i])


def test_a_cars_lidar_sees_the_other_car_beside_or_behind_it_and_never_itself():
    lidars = [("front-camera", "sector-lidar"), ("front-camera", "lidar")]
    # side by side: A in the left lane, B level with it in the right lane
    h = heat(Grid(stagger=0.0), sensors=lidars)
    try:
        obs, _ = h.reset()
        (ax, ay, _), (bx, by, _) = (r.car.pose() for r in h.racers)
        gap = float(np.hypot(ax - bx, ay - by)) - CAR_BOX[1] / 2  # from A's centre to B's near side
        (range_a, angle_a), (range_b, angle_b) = (nearest_ray(r.sensors.ranges) for r in h.racers)
        assert abs(angle_a + 90) <= 10 and abs(range_a - gap) < 0.04  # A sees B to its right ...
        assert abs(angle_b - 90) <= 10 and abs(range_b - gap) < 0.04  # ... and B sees A to its left
        right = np.cos(np.radians(np.abs(np.array(RAY_ANGLES) + 90))) > 0.5  # rays within 60 degrees of right
        assert np.isinf(h.racers[0].sensors.ranges[~right]).all()  # nothing else: not A's own body or shell
        # as the model reads it: the sector LIDAR's sector to the right (within 0.5 m), B's ranges clipped to 1 m
        assert obs[0]["sector-lidar"].tolist() == [0, 0, 0, 0, 0, 1, 1, 0] and obs[0]["front-camera"].shape[2] == 1
        assert obs[1]["lidar"].min() == pytest.approx(range_b, abs=0.04) and obs[1]["lidar"].max() == 1.0
    finally:
        h.close()
    # single file: B 1 m behind A sees A in its blind cone ahead (nothing), A sees B behind it
    h = heat(Grid(stagger=1.0, single_file=True), sensors=lidars)
    try:
        h.reset()
        range_a, angle_a = nearest_ray(h.racers[0].sensors.ranges)
        assert abs(abs(angle_a) - 180) <= 10 and abs(range_a - (1.0 + LIDAR_AHEAD - CAR_BOX[0] / 2)) < 0.04
        assert np.isinf(h.racers[1].sensors.ranges).all()
        for _ in range(10):  # both drive on, the scans follow the cars
            obs, infos, _ = h.step([(0.0, 1.0), (0.0, 1.0)])
        assert abs(abs(nearest_ray(h.racers[0].sensors.ranges)[1]) - 180) <= 10
        assert all(info["crashes"] == 0 and info["progress"] > 3 for info in infos)
    finally:
        h.close()


def test_a_stereo_car_sees_the_other_car_in_both_cameras():
    h = heat(Grid(stagger=1.0, single_file=True), sensors=[("front-camera",), ("stereo-cameras",)])
    try:
        (_, pair), _ = h.reset()
        assert pair.shape == (60, 80, 2)
        alone = h.racers[1].sensors.picture(h.renderers[1], list(h.world.standing))
        left, right = (changed(pair[:, :, [k]], alone[:, :, [k]]) for k in (0, 1))
        assert left.sum() > 15 and right.sum() > 15
        # the left camera sits to the left, so it sees A further right in its picture than the right one does
        assert np.nonzero(left)[1].mean() > np.nonzero(right)[1].mean()
    finally:
        h.close()


def test_a_single_file_grid_needs_a_car_length():
    with pytest.raises(ValueError, match="car length"):
        Grid(stagger=0.1, single_file=True)


def test_each_car_sees_through_its_own_lens_and_mount_in_its_own_look():
    from racekit.sim.camera import DEEPRACER_FOV_DEG, DEEPRACER_MOUNT
    from racekit.sim.looks import DEEPRACER_SKY

    cameras = [CameraSpec(80, 60, 3), CameraSpec(80, 60, 3, DEEPRACER_FOV_DEG)]
    h = HeadToHead(load_track("oval"), cameras, [1, 1], grid=Grid(stagger=1.0, single_file=True),
                   mounts=["racekit", "deepracer"], looks=["racekit", "deepracer"])
    try:
        (a, b), _ = h.reset()
        assert np.all(a[0] == 255) and np.array_equal(b[0], np.tile(DEEPRACER_SKY, (80, 1)))  # each its own sky
        assert h.racers[1].car.spec.camera_pitch_deg == DEEPRACER_MOUNT.pitch_deg
        assert h.racers[0].car.spec.camera_pitch_deg == 15.0
        # B, 1 m behind A, sees A ahead: bigger through its narrower lens than A would look through racekit's
        rk = HeadToHead(load_track("oval"), [cameras[0]] * 2, [1, 1], grid=Grid(stagger=1.0, single_file=True))
        try:
            (_, b_racekit), _ = rk.reset()
            through = {"deepracer": (b, h), "racekit": (b_racekit, rk)}
            seen = {k: changed(frame, h_.renderers[1].render(camera_pose(h_.racers[1].car, h_.racers[1].camera), 3,
                                                             list(h_.world.standing))).sum()
                    for k, (frame, h_) in through.items()}
            assert seen["deepracer"] > 3 * seen["racekit"] > 0, seen
        finally:
            rk.close()
        for _ in range(5):  # and both drive on, each through its camera
            (a, b), infos, _ = h.step([(0.0, 1.0), (0.0, 1.0)])
        assert all(info["progress"] > 1 for info in infos) and np.array_equal(b[0], np.tile(DEEPRACER_SKY, (80, 1)))
    finally:
        h.close()


def test_two_looks_need_the_fast_renderer_and_names_are_checked():
    with pytest.raises(ValueError, match="only the fast renderer draws two"):
        heat(renderer="tiny", looks=["racekit", "deepracer"])
    with pytest.raises(ValueError, match="look must be one of racekit, deepracer"):
        heat(looks=["racekit", "mars"])
    with pytest.raises(ValueError, match="camera mount must be one of racekit, deepracer"):
        heat(mounts=["roof", "racekit"])


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("h2h-models")
    return {"clone": cloned_model(folder), "straight": constant_model(folder / "straight.onnx", speed=2.0),
            "slow": constant_model(folder / "slow.onnx", speed=0.8),
            "fast": constant_model(folder / "fast.onnx", speed=2.0, seed=1)}


def race(capsys, db, *args):
    code = main(["race", "--head-to-head", "--track", "oval", "--laps", "1", "--db", str(db), *SMALL_VIDEO, *args])
    out, err = capsys.readouterr()
    return code, out, err


def colour_pixels(image: np.ndarray, rgb) -> int:
    return int(np.all(np.abs(image.astype(int) - rgb) < 12, axis=2).sum())


def test_head_to_head_end_to_end_order_replay_map_and_leaderboard(models, tmp_path, capsys):
    db = tmp_path / "board.sqlite"
    code, out, err = race(capsys, db, str(models["clone"]), str(models["straight"]))
    assert code == 0, err
    assert ("head-to-head on oval (forward), 1 lap: A clone (light blue) vs B straight (orange), "
            "B starts 1 m behind in the other lane") in out
    assert "A lap 1: " in out and "B lap 1: " in out  # both cars drove their lap
    assert "1. A clone: " in out and "2. B straight: " in out and "stored as heat #1" in out
    with Leaderboard(db) as board:
        clone, straight = board.runs()
        [heat] = board.heats()
    assert heat.entrants == [clone.id, straight.id] and heat.laps_planned == 1
    assert heat.rules["stagger"] == 1.0 and heat.rules["race_type"] == "head-to-head"
    for run, position in ((clone, 1), (straight, 2)):
        assert (run.race_type, run.heat_id, run.heat_position, run.video) == ("head-to-head", 1, position, heat.video)
    assert clone.offtracks == 0 and len(clone.lap_times) == 1 and clone.crashes_per_lap == [clone.crashes]
    assert straight.offtracks >= 3 and straight.offtracks_per_lap == [straight.offtracks]
    slower = straight.lap_times[0] if straight.lap_times else float("inf")
    assert clone.lap_times[0] < slower
    # one frame per control step for the whole heat, both cars side by side
    capture = cv2.VideoCapture(heat.video)
    count, shape = 0, None
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        count, shape = count + 1, frame.shape
    capture.release()
    assert shape == (72, 192, 3) and abs(count - max(clone.lap_times[0], straight.lap_times[0]) * 15) <= 3
    # the map: each car's line in its colour, the straight-liner's off-tracks marked
    image = cv2.imread(heat.track_map)[:-LEGEND_PX, :, ::-1]
    assert colour_pixels(image, CAR_RGB[0]) > 500 and colour_pixels(image, CAR_RGB[1]) > 300
    assert colour_pixels(image, MARKERS["off_track"]) > 20 * straight.offtracks

    assert main(["leaderboard", "--db", str(db), "--rank", "best-lap"]) == 0
    text = capsys.readouterr().out
    assert "oval (forward), head-to-head, simulated: best lap" in text and "#1 P1" in text
    assert "head-to-head heats" in text and "1. clone (" in text and "2. straight (" in text
    assert main(["leaderboard", "export", "--format", "json", "--db", str(db)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(d["racer"], d["race_type"], d["heat"]["position"]) for d in data] == [
        ("clone", "head-to-head", 1), ("straight", "head-to-head", 2)]


def test_a_heat_gives_each_model_the_camera_and_look_it_was_trained_with(models, tmp_path, capsys, monkeypatch):
    import racekit.sim.headtohead as sim_h2h
    from hardware_helpers import make_model, metadata

    made = {}

    class Recorded(sim_h2h.HeadToHead):
        def __init__(self, track, cameras, *args, **kwargs):
            super().__init__(track, cameras, *args, **kwargs)
            made.update(cameras=cameras, mounts=kwargs["mounts"], looks=kwargs["looks"], sky=self.renderers[1].sky_rgb)

    monkeypatch.setattr(sim_h2h, "HeadToHead", Recorded)
    meta = metadata()
    meta["camera"] |= {"fov_deg": 64.74, "mount": "deepracer", "look": "deepracer"}
    deepracer = make_model(tmp_path / "deepracer.onnx", meta=json.dumps(meta))
    code, out, err = race(capsys, tmp_path / "board.sqlite", str(models["straight"]), str(deepracer),
                          "--max-resets", "0")
    assert code == 0, err
    assert [c.fov_deg for c in made["cameras"]] == [120.0, 64.74]
    assert (made["mounts"], made["looks"]) == (["racekit", "deepracer"], ["racekit", "deepracer"])
    assert made["sky"] != (255, 255, 255)  # car B's own renderer, in DeepRacer's look


def test_head_to_head_collision_records_who_hit_whom(models, tmp_path, capsys):
    db = tmp_path / "board.sqlite"
    code, out, err = race(capsys, db, str(models["slow"]), str(models["fast"]), "--single-file", "--stagger", "0.6",
                          "--max-resets", "4")
    assert code == 0, err
    assert "contact at 0." in out and "B fast hit A slow from behind (lap 1): a crash for B" in out
    with Leaderboard(db) as board:
        slow, fast = board.runs()
        [heat] = board.heats()
    assert fast.crashes >= 1 and slow.crashes == 0
    assert heat.contacts and all((c.hitter, c.hit) == (fast.id, slow.id) for c in heat.contacts)
    assert heat.contacts[0].sim_time < 1.0 and heat.contacts[0].x is not None
    image = cv2.imread(heat.track_map)[:-LEGEND_PX, :, ::-1]
    assert colour_pixels(image, MARKERS["crash"]) > 15  # the crash, as a diamond
    assert main(["leaderboard", "--db", str(db)]) == 0
    assert "fast hit slow at 0." in capsys.readouterr().out
    assert main(["leaderboard", "export", "--format", "csv", "--db", str(db)]) == 0
    fast_row = next(r for r in csv.DictReader(io.StringIO(capsys.readouterr().out)) if r["racer"] == "fast")
    place = "1" if "  1. B fast:" in out else "2"  # both straight-line cars leave the track; the order as printed
    assert fast_row["hit"].split(";")[0] == "slow" and fast_row["hit_by"] == "" and fast_row["heat_position"] == place


def test_head_to_head_refuses_a_grid_it_cannot_start(models, tmp_path, capsys):
    code, _, err = race(capsys, tmp_path / "board.sqlite", str(models["slow"]), str(models["fast"]),
                        "--single-file", "--stagger", "0.1")
    assert code == 2 and "--stagger" in err and "car length" in err


def test_a_stereo_and_lidar_model_races_a_front_camera_model_and_the_replay_draws_its_scan(models, tmp_path, capsys):
    from hardware_helpers import make_sensor_model

    evo = make_sensor_model(tmp_path / "evo.onnx", ("stereo-cameras", "lidar"))
    db = tmp_path / "board.sqlite"
    code = main(["race", "--head-to-head", "--track", "oval", "--laps", "1", "--db", str(db), "--video-size",
                 "480x180", "--max-resets", "0", str(evo), str(models["straight"])])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "A: " in out and "stereo-cameras, lidar" in out and "stored as heat #1" in out
    with Leaderboard(db) as board:
        a, b = board.runs()
        [stored] = board.heats()
    assert a.model_meta["camera"]["sensors"] == ["stereo-cameras", "lidar"] and "sensors" not in b.model_meta["camera"]
    assert {a.heat_position, b.heat_position} == {1, 2} and a.dnf and b.dnf  # both drive straight off the oval
    # the replay: car A's half has the LIDAR's radar in its bottom-right corner, car B's (no LIDAR) has none
    capture = cv2.VideoCapture(stored.video)
    ok, frame = capture.read()
    capture.release()
    assert ok and frame.shape == (180, 480, 3)
    corner = (slice(180 - 80, 180 - 12), slice(240 - 80, 240 - 12))  # inside the radar's 80 px square

    def radar_like(half: np.ndarray) -> float:  # the radar's near-black ground
        return float((half[corner].max(axis=2) < 45).mean())

    assert radar_like(frame[:, :240]) > 0.3 and radar_like(frame[:, 240:]) < 0.05
    # and on it car B, 1 m behind in the right lane, hit by A's rays (red; the frame is BGR)
    red = frame[:, :240][corner].astype(int)
    assert ((red[:, :, 2] > 150) & (red[:, :, 1] < 110)).sum() >= 3
