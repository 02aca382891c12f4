"""`racekit race`: time trials of model files under DeepRacer's rules, with replay, map and a stored result.

Races are one lap of the oval: a cloned expert that laps cleanly, and a model that only drives
straight on, leaving the road at every bend (off-tracks, penalties and DNFs in well under a second).
"""
import hashlib
import json
import sqlite3

import cv2
import numpy as np
import pytest

from hardware_helpers import make_model, metadata
from race_helpers import cloned_model, constant_model
from racekit.cli import main
from racekit.leaderboard.db import Leaderboard
from racekit.replay import BOT_PATH_RGB, LEGEND_PX, MARKERS
from racekit.sim.objects import BOT_RGB
from racekit.sim.texture import OBSTACLE

SMALL_VIDEO = ["--video-size", "96x72"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    return {"straight": constant_model(folder / "straight.onnx", speed=2.0), "clone": cloned_model(folder)}


def race(capsys, tmp_path, *args) -> tuple[int, str, str]:
    code = main(["race", "--db", str(tmp_path / "board.sqlite"), *SMALL_VIDEO, *args])
    out, err = capsys.readouterr()
    return code, out, err


def stored(tmp_path):
    with Leaderboard(tmp_path / "board.sqlite") as board:
        return board.runs()


def frames(video) -> tuple[int, tuple]:
    capture = cv2.VideoCapture(str(video))
    count, shape = 0, None
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        count, shape = count + 1, frame.shape
    capture.release()
    return count, shape


def marker_pixels(map_png, rgb=MARKERS["off_track"]) -> int:
    """Pixels of a colour (default the off-track marker's red) on the map, above its legend."""
    image = cv2.imread(str(map_png))[:-LEGEND_PX, :, ::-1].astype(int)
    return int(np.all(np.abs(image - rgb) < 12, axis=2).sum())


def test_a_clean_lap_is_timed_replayed_mapped_and_stored(models, tmp_path, capsys):
    # no --track: the model's metadata says it was trained on the oval
    code, out, err = race(capsys, tmp_path, str(models["clone"]), "--laps", "1", "--name", "Clone Racer")
    assert code == 0, err
    assert "racing 1 model on oval (forward), 1 lap; off-track +2 s, crash +5 s, DNF after 20 resets" in out
    assert "lap 1: " in out and ", 0 off-tracks" in out and "stored as result #1" in out
    [run] = stored(tmp_path)
    assert (run.kind, run.track, run.direction, run.racer, run.laps_planned) == ("sim", "oval", "forward",
                                                                                "Clone Racer", 1)
    assert len(run.lap_times) == 1 and 7.5 < run.lap_times[0] < 11.0  # the expert's 2 m/s pace
    assert (run.offtracks, run.crashes, run.resets, run.dnf, run.termination) == (0, 0, 0, False, "lap_complete")
    assert run.model_sha256 == hashlib.sha256(models["clone"].read_bytes()).hexdigest()
    assert run.model_meta["camera"]["width"] == 80 and run.model_meta["track"] == "oval"
    assert run.reward_sha256 is None and run.racekit_version == "0.1.0"
    assert run.rules == {"laps": 1, "reverse": False, "offtrack_penalty": 2.0, "crash_penalty": 5.0, "max_resets": 20,
                         "race_type": "time-trial", "seed": 0}
    assert (run.race_type, run.offtracks_per_lap, run.crashes_per_lap) == ("time-trial", [0], [0])
    assert f"{run.lap_times[0]:.2f}" in out
    # the replay folder sits beside the database; one frame per control step
    assert str(tmp_path / "replays") in run.video and run.video.endswith("replay.mp4")
    count, shape = frames(run.video)
    assert shape == (72, 96, 3) and abs(count - run.lap_times[0] * 15) <= 2
    image = cv2.imread(run.track_map)
    assert image is not None and image.shape[1] > 300 and marker_pixels(run.track_map) == 0


def test_off_tracks_cost_their_penalty_in_the_lap_time_and_show_on_replay_and_map(models, tmp_path, capsys):
    results = {}
    for penalty in ("2", "5"):
        code, out, err = race(capsys, tmp_path, str(models["straight"]), "--track", "oval", "--laps", "1",
                              "--offtrack-penalty", penalty)
        assert code == 0, err
        results[penalty] = (stored(tmp_path)[-1], out)
    (two, out2), (five, _) = results["2"], results["5"]
    n = two.offtracks
    assert n >= 3 and five.offtracks == n and two.resets == n and not two.dnf  # it laps, bend by bend
    # the same driving either way: the lap times differ by exactly the extra penalty seconds
    assert five.lap_times[0] - two.lap_times[0] == pytest.approx(3.0 * n, abs=1e-6)
    assert out2.count("off track on lap 1 at ") == n and f"+2 s, reset {n}/20" in out2
    assert f"lap 1: {two.lap_times[0]:.2f} s, {n} off-tracks" in out2
    count, _ = frames(two.video)  # the video holds still through each penalty: it lasts as long as the race
    assert abs(count - two.lap_times[0] * 15) <= 2 + n
    assert marker_pixels(two.track_map) > 20 * n


def test_a_race_says_how_far_into_its_last_lap_it_ended(models):
    """A DNF ends part-way round its lap (crashes per lap driven count that part); a finished race at 0."""
    from racekit.racing import Rules, check_model, race as race_model
    from racekit.tracks import load_track

    oval = load_track("oval")
    dnf = race_model(check_model(models["straight"]), oval, Rules(laps=1, max_resets=2))
    assert dnf.dnf and dnf.lap_times == [] and 0 < dnf.progress < 100
    assert dnf.laps_driven == dnf.progress / 100
    finished = race_model(check_model(models["clone"]), oval, Rules(laps=1))
    assert not finished.dnf and len(finished.lap_times) == 1 and finished.progress == 0
    assert finished.laps_driven == 1


def test_too_many_resets_is_a_dnf_that_is_stored_but_not_ranked(models, tmp_path, capsys):
    code, out, err = race(capsys, tmp_path, str(models["straight"]), "--track", "oval", "--laps", "1",
                          "--max-resets", "2", "--name", "wall-hugger")
    assert code == 0, err
    assert "reset 2/2" in out and "DNF (too many resets) after 0 laps" in out
    [run] = stored(tmp_path)
    assert (run.dnf, run.termination, run.lap_times, run.offtracks, run.resets) == (True, "dnf", [], 3, 3)
    assert main(["leaderboard", "--db", str(tmp_path / "board.sqlite"), "--rank", "best-lap"]) == 0
    assert "not ranked: DNF (too many resets)" in capsys.readouterr().out


def test_the_same_model_twice_in_reverse_makes_two_entries(models, tmp_path, capsys):
    code, out, err = race(capsys, tmp_path, str(models["straight"]), str(models["straight"]), "--track", "oval",
                          "--laps", "1", "--reverse", "--max-resets", "0")
    assert code == 0, err
    assert "racing 2 models on oval (reverse)" in out and "[2/2]" in out
    assert out.count("\nstraight  ") == 2 and "DNF" in out.split("racer ")[-1]  # the closing summary
    runs = stored(tmp_path)
    assert [(r.id, r.direction, r.dnf) for r in runs] == [(1, "reverse", True), (2, "reverse", True)]
    assert runs[0].video != runs[1].video and runs[0].model_sha256 == runs[1].model_sha256


# 8 boxes placed from seed 3 on the oval: the clone, which never saw a box, runs into two of them
BOXES = ["--race-type", "object-avoidance", "--objects", "8", "--seed", "3"]


def test_object_avoidance_crashes_cost_their_penalty_are_stored_per_lap_and_marked_on_the_map(models, tmp_path,
                                                                                              capsys):
    results = {}
    for penalty in ("5", "9"):
        code, out, err = race(capsys, tmp_path, str(models["clone"]), "--laps", "1", *BOXES, "--crash-penalty",
                              penalty)
        assert code == 0, err
        results[penalty] = (stored(tmp_path)[-1], out)
    (five, out5), (nine, _) = results["5"], results["9"]
    n = five.crashes
    assert "racing 1 model on oval (forward), 1 lap, object avoidance (8 boxes, seed 3)" in out5
    assert n >= 1 and nine.crashes == n and five.offtracks == 0 and not five.dnf
    assert out5.count("crash on lap 1 at ") == n
    assert f"lap 1: {five.lap_times[0]:.2f} s, 0 off-tracks, {n} crash" in out5
    # the same seed, the same boxes, the same driving: the lap times differ by exactly the extra penalty
    assert nine.lap_times[0] - five.lap_times[0] == pytest.approx(4.0 * n, abs=1e-6)
    assert (five.race_type, five.crashes_per_lap, five.offtracks_per_lap) == ("object-avoidance", [n], [0])
    assert five.rules == {"laps": 1, "reverse": False, "offtrack_penalty": 2.0, "crash_penalty": 5.0,
                          "max_resets": 20, "race_type": "object-avoidance", "seed": 3, "num_objects": 8}
    count, _ = frames(five.video)  # the replay holds still through each crash's 5 s
    assert abs(count - five.lap_times[0] * 15) <= 2 + n
    # the map: the eight boxes in their orange, the crashes as yellow diamonds, no off-track marker
    assert marker_pixels(five.track_map, OBSTACLE) > 8 * 60
    assert marker_pixels(five.track_map, MARKERS["crash"]) > 15 * n and marker_pixels(five.track_map) == 0
    # a different seed puts the boxes elsewhere: another race, another board entry
    code, _, err = race(capsys, tmp_path, str(models["clone"]), "--laps", "1", *BOXES[:4], "--seed", "4")
    assert code == 0, err
    assert stored(tmp_path)[-1].rules["seed"] == 4
    assert main(["leaderboard", "--db", str(tmp_path / "board.sqlite"), "--rank", "best-lap"]) == 0
    board = capsys.readouterr().out
    assert "oval (forward), object avoidance, simulated: best lap" in board and "time trial" not in board
    rows = [line.split() for line in board.splitlines() if line.strip().startswith(("1 ", "2 ", "3 "))]
    assert sorted(int(r[6]) for r in rows) == sorted(r.crashes for r in stored(tmp_path))  # the crashes column


def test_head_to_bot_races_the_bots_and_maps_their_paths(models, tmp_path, capsys):
    code, out, err = race(capsys, tmp_path, str(models["clone"]), "--laps", "1", "--race-type", "head-to-bot",
                          "--bots", "2", "--bot-speed", "0.5", "--lane-changes", "--max-resets", "3")
    assert code == 0, err
    assert "head-to-bot (2 bots at 0.5 m/s, lane changes, seed 0)" in out
    [run] = stored(tmp_path)
    assert run.race_type == "head-to-bot" and run.crashes >= 1 and "crash on lap 1" in out
    assert {k: run.rules[k] for k in ("num_bots", "bot_speed", "bot_lane_changes")} == {
        "num_bots": 2, "bot_speed": 0.5, "bot_lane_changes": True}
    assert marker_pixels(run.track_map, BOT_PATH_RGB) > 60 and marker_pixels(run.track_map, BOT_RGB) > 30


def test_race_type_options_are_checked_before_any_race(models, tmp_path, capsys):
    for args, message in ((["--race-type", "object-avoidance", "--objects", "11"], "--objects must be from 1 to 10"),
                          (["--race-type", "object-avoidance", "--objects", "9"], "--objects 9: 9 objects 2 m apart"),
                          (["--race-type", "head-to-bot", "--bot-speed", "0"], "--bot-speed"),
                          (["--seed", "-1"], "--seed"),
                          (["--objects", "4"], "--objects is for --race-type object-avoidance, not time-trial"),
                          (["--race-type", "object-avoidance", "--bots", "2"], "--bots is for --race-type head-to-bot"),
                          (["--head-to-head"], "--head-to-head races two models"),
                          (["--stagger", "2"], "--stagger and --single-file set the grid")):
        code, out, err = race(capsys, tmp_path, str(models["clone"]), *args)
        assert code == 2 and message in err and err.count("\n") == 1 and "racing" not in out, (args, err)
    code, _, err = race(capsys, tmp_path, str(models["clone"]), str(models["clone"]), "--head-to-head",
                        "--race-type", "head-to-bot")
    assert code == 2 and "--head-to-head races on the track alone" in err
    assert not (tmp_path / "board.sqlite").exists()


def bad_models(folder):
    corrupt = folder / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage, not protobuf" * 20)
    return {
        "missing": (folder / "missing.onnx", "model file not found"),
        "corrupt": (corrupt, "not a loadable ONNX model"),
        "wrong camera": (make_model(folder / "shape.onnx", input_shape=["batch", 24, 40, 2]), "has shape"),
        "impossible lens": (make_model(folder / "fov.onnx", meta=json.dumps(metadata() | {
            "camera": {"width": 32, "height": 24, "channels": 1, "fov_deg": 175, "frame_stack": 2}})),
            "175 degree field of view; the simulator's camera takes 10 to 170 degrees"),
        "unknown mount": (make_model(folder / "mount.onnx", meta=json.dumps(metadata() | {
            "camera": {"width": 32, "height": 24, "channels": 1, "fov_deg": 90, "frame_stack": 2, "mount": "roof"}})),
            "camera mount 'roof' is not one the simulator has (racekit, deepracer)"),
        "unknown look": (make_model(folder / "look.onnx", meta=json.dumps(metadata() | {
            "camera": {"width": 32, "height": 24, "channels": 1, "fov_deg": 90, "frame_stack": 2, "look": "mars"}})),
            "camera look 'mars' is not one the simulator has (racekit, deepracer)"),
        "steers too far": (make_model(folder / "steer.onnx", action_space={
            "type": "continuous", "steering_deg": [-45, 45], "speed_mps": [0.5, 4]}), "steers up to 45"),
    }


@pytest.mark.parametrize("kind", ["missing", "corrupt", "wrong camera", "impossible lens", "unknown mount",
                                  "unknown look", "steers too far"])
def test_a_bad_model_is_refused_before_any_race(models, tmp_path, capsys, kind):
    path, message = bad_models(tmp_path)[kind]
    code, out, err = race(capsys, tmp_path, str(models["clone"]), str(path), "--track", "oval", "--laps", "1")
    assert code == 2 and err.count("\n") == 1 and str(path) in err and message in err, err
    assert "racing" not in out and not (tmp_path / "board.sqlite").exists() and not (tmp_path / "replays").exists()


def test_a_model_for_another_lens_races_through_that_lens_mount_and_look(models, tmp_path, capsys):
    from racekit.racing import Rules, check_model, make_env
    from racekit.sim.camera import DEEPRACER_MOUNT
    from racekit.sim.looks import DEEPRACER_SKY
    from racekit.sim.render.fast import gray
    from racekit.tracks import load_track

    camera = {"width": 32, "height": 24, "channels": 1, "fov_deg": 64.74, "frame_stack": 2}
    lens = make_model(tmp_path / "lens.onnx", meta=json.dumps(metadata() | {"camera": camera}))
    deepracer = make_model(tmp_path / "deepracer.onnx", meta=json.dumps(metadata() | {
        "camera": camera | {"mount": "deepracer", "look": "deepracer"}}))
    oval = load_track("oval")
    for path, mount, look in ((lens, "racekit", "racekit"), (deepracer, "deepracer", "deepracer")):
        entrant = check_model(path)
        env = make_env(entrant, oval, Rules(laps=1))
        obs, _ = env.reset(seed=0)
        assert env.camera.fov_deg == 64.74 and (env.camera_mount, env.look, env.world.look) == (mount, look, look)
        assert (env.car_spec.camera_pitch_deg == DEEPRACER_MOUNT.pitch_deg) == (mount == "deepracer")
        sky = gray(DEEPRACER_SKY) if look == "deepracer" else 255
        assert np.all(obs[0, :, -1] == sky)
        env.close()
    assert check_model(deepracer).camera["mount"] == "deepracer"
    assert "mount" not in check_model(models["clone"]).camera  # a racekit model's metadata as it was
    # and through the command line: raced, stored with its camera
    code, out, err = race(capsys, tmp_path, str(deepracer), "--track", "oval", "--laps", "1", "--max-resets", "0")
    assert code == 0 and "racing 1 model on oval" in out, err
    [run] = stored(tmp_path)
    assert run.model_meta["camera"] == camera | {"mount": "deepracer", "look": "deepracer"}


def test_options_are_checked_before_any_race(models, tmp_path, capsys):
    for args, message in ((["--laps", "0"], "--laps must be at least 1"),
                          (["--max-resets", "-1"], "--max-resets"),
                          (["--offtrack-penalty", "nan"], "--offtrack-penalty"),
                          (["--video-size", "99x10"], "--video-size"),
                          (["--name", " "], "racer name must be"),
                          (["--track", "no-such-track"], "no-such-track")):
        code, out, err = race(capsys, tmp_path, str(models["clone"]), *args)
        assert code == 2 and message in err and err.count("\n") == 1 and "racing" not in out, (args, err)
    code, _, err = race(capsys, tmp_path, str(models["clone"]), str(make_model(tmp_path / "t.onnx")))
    assert code == 2 and "give --track" in err  # trained on different tracks (oval, test)
    db = tmp_path / "board.sqlite"
    db.write_bytes(b"not a database at all" * 10)
    code, _, err = race(capsys, tmp_path, str(models["clone"]), "--laps", "1")
    assert code == 2 and "not a racekit leaderboard" in err and db.read_bytes() == b"not a database at all" * 10


def test_a_model_failing_mid_race_does_not_lose_the_others(models, tmp_path, capsys):
    nan_model = make_model(tmp_path / "nan.onnx", nan_below=256.0)  # loads fine, gives NaN on the first frame
    code, out, err = race(capsys, tmp_path, str(models["straight"]), str(nan_model), str(models["clone"]),
                          "--track", "oval", "--laps", "1", "--max-resets", "1")
    assert code == 1
    assert f"race of {nan_model} failed" in err and "not two finite numbers" in err
    assert "1 of 3 races failed; the others are stored" in err
    assert "[3/3]" in out and "stored as result #2" in out
    runs = stored(tmp_path)
    assert [r.model_sha256 for r in runs] == [hashlib.sha256(models[m].read_bytes()).hexdigest()
                                              for m in ("straight", "clone")]
    assert len(list((tmp_path / "replays").iterdir())) == 2  # the failed race left no half replay
    raw = sqlite3.connect(tmp_path / "board.sqlite")
    assert raw.execute("SELECT count(*) FROM results").fetchone()[0] == 2
    raw.close()


@pytest.mark.slow
def test_three_clean_laps_at_full_video_size_rank_first_on_the_average_of_3(models, tmp_path, capsys):
    code, out, err = main(["race", str(models["clone"]), str(models["straight"]), "--db",
                           str(tmp_path / "board.sqlite"), "--max-resets", "40"]), *capsys.readouterr()
    assert code == 0, err
    clone, straight = stored(tmp_path)
    assert len(clone.lap_times) == 3 and clone.offtracks == 0 and frames(clone.video)[1] == (480, 640, 3)
    assert len(straight.lap_times) == 3 and straight.offtracks >= 9
    assert main(["leaderboard", "--db", str(tmp_path / "board.sqlite")]) == 0
    board = capsys.readouterr().out.splitlines()
    first = next(line for line in board if line.split()[:2] == ["1", "clone"])
    assert float(first.split()[2]) == pytest.approx(sum(clone.lap_times) / 3, abs=0.006)
    assert next(line for line in board if "straight" in line).split()[0] == "2"
