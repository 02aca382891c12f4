"""`racekit train` on several tracks, generated tracks, both directions, the race types, randomisation and
`--from`: real short trainings (a few seconds each) checked through the run's own records (episodes.csv,
the sim-traces, config.json, the checkpoints) and the exported model's metadata."""
import csv
import json
from collections import defaultdict

import numpy as np
import pytest
import torch

from racekit.agent.checkpoint import load_checkpoint, save_checkpoint
from racekit.agent.schedule import GENERATED_SEED_BASE, TrackRotation, TrackSchedule, generated_seed
from racekit.agent.train import RunConfig
from racekit.cli import main
from racekit.tracks import load_track

# 2 envs x 64 steps per update, a tiny camera, one evaluation (at the end) of one lap
TINY = ["--envs", "2", "--rollout-steps", "64", "--minibatch", "64", "--epochs", "1", "--camera", "48x36",
        "--frame-stack", "1", "--eval-every", "1000000", "--eval-laps", "1", "--quiet"]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py: the 2 cores simulate


def train(out, *args, steps=256) -> None:
    assert main(["train", "--out", str(out), "--steps", str(steps), *TINY, *args]) == 0


def episodes(run) -> dict[int, list[dict]]:
    """episodes.csv: env -> its finished episodes in order."""
    per_env = defaultdict(list)
    with open(run / "episodes.csv", newline="") as f:
        for row in csv.DictReader(f):
            per_env[int(row["env"])].append(row)
    return per_env


def error_line(capsys) -> str:
    lines = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("pybullet build time")]
    assert len(lines) == 1, lines
    return lines[0]


def model_metadata(path) -> dict:
    import onnx

    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    return json.loads(props["racekit"])


def test_the_schedule_rotates_tracks_per_env_and_draws_generated_seeds_from_the_run_seed():
    s = TrackSchedule(("oval", "generated", "piccolo"), episodes_per_track=2, alternate_direction=True, seed=5)
    assert [s.entry(0, n)[0] for n in range(8)] == ["oval"] * 2 + ["generated"] * 2 + ["piccolo"] * 2 + ["oval"] * 2
    assert [s.entry(1, n)[0] for n in range(4)] == ["generated"] * 2 + ["piccolo"] * 2  # env i starts on entry i
    assert [s.entry(0, n)[1] for n in (2, 3, 8, 9)] == [0, 0, 1, 1]  # the env's k-th generated track
    assert [s.reversed(0, n) for n in range(4)] == [False, True, False, True]
    assert [s.reversed(1, n) for n in range(4)] == [True, False, True, False]
    seeds = {generated_seed(5, env, k) for env in range(4) for k in range(50)}
    assert len(seeds) == 200 and min(seeds) >= GENERATED_SEED_BASE  # training never draws a small seed
    assert generated_seed(5, 1, 3) == generated_seed(5, 1, 3) != generated_seed(6, 1, 3)


def test_the_rotation_env_rebuilds_its_track_and_keeps_one_env_per_direction():
    schedule = TrackSchedule(("oval", "piccolo"), episodes_per_track=2, alternate_direction=True)
    env = TrackRotation(schedule, index=0, env_kwargs={"camera_width": 48, "camera_height": 36})
    try:
        seen = []
        for n in range(5):
            obs, info = env.reset(seed=0 if n == 0 else None)
            assert obs.shape == env.observation_space.shape
            seen.append((info["track"], info["reversed"], env.env.track.name, env.env.is_reversed))
            _, _, _, _, info = env.step(env.action_space.sample())
            assert (info["track"], info["reversed"]) == seen[-1][:2]
        assert [s[:2] for s in seen] == [("oval", False), ("oval", True), ("piccolo", False), ("piccolo", True),
                                         ("oval", False)]
        assert all(s[1] == s[3] for s in seen) and seen[2][2] == "piccolo"
        assert len(env._envs) == 1  # the oval again: piccolo's two Worlds were closed
    finally:
        env.close()


def test_two_tracks_are_both_driven_env_by_env(tmp_path):
    run = tmp_path / "run"
    train(run, "--track", "oval", "--track", "piccolo", "--track-episodes", "2", steps=512)
    config = json.loads((run / "config.json").read_text())["run"]
    assert config["tracks"] == ["oval", "piccolo"] and config["track"] == "oval"
    per_env = episodes(run)
    for env, rows in per_env.items():
        assert [int(r["episode"]) for r in rows] == list(range(len(rows)))
        assert len(rows) >= 3, rows
        plan = TrackSchedule(("oval", "piccolo"), 2)
        assert [r["track"] for r in rows] == [plan.entry(env, n)[0] for n in range(len(rows))]
    assert per_env[0][0]["track"] == "oval" and per_env[1][0]["track"] == "piccolo"
    # the sim-traces say the same: each row's X/Y lies on the track its own track_len names
    tracks = {round(t.length, 4): t for t in map(load_track, ("oval", "piccolo"))}
    driven = set()
    for path in (run / "training-simtrace").glob("*-iteration.csv"):
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                track = tracks[round(float(row["track_len"]), 4)]
                driven.add(track.name)
                xy = np.array([float(row["X"]), float(row["Y"])])
                assert np.min(np.hypot(*(track.waypoints - xy).T)) < track.width_at(0.0) / 2 + 0.5
    assert driven == {"oval", "piccolo"}
    # evaluations race the panel: the first track first, then the other, forwards
    evaluation = json.loads((run / "evaluations.jsonl").read_text().splitlines()[-1])
    assert evaluation["track"] == "panel"
    assert [(e["track"], e["reverse"]) for e in evaluation["panel"]] == [("oval", False), ("piccolo", False)]


def test_generated_tracks_change_every_few_episodes_and_a_resumed_run_continues_the_sequence(tmp_path):
    args = ["--track", "generated", "--track-episodes", "2", "--seed", "3"]
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    train(whole, *args, steps=512)
    train(parts, *args, steps=256)
    counted = load_checkpoint(parts / "checkpoints" / "last.pt")["tracks"]["episodes"]
    first = episodes(parts)
    assert counted == [len(first[0]), len(first[1])]
    assert main(["train", "--out", str(parts), "--resume", "--steps", "512", "--quiet"]) == 0

    plan = TrackSchedule(("generated",), 2, seed=3)
    drawn = {}
    for run in (whole, parts):
        for env, rows in episodes(run).items():
            assert [int(r["episode"]) for r in rows] == list(range(len(rows)))  # none redone twice, none skipped
            for r in rows:
                n = int(r["episode"])
                assert r["track"].startswith("generated:") and r["track"] == plan.track_name(env, n)
                assert r["track"] == drawn.setdefault((env, n), r["track"])  # the uninterrupted run's too
    resumed = episodes(parts)
    for env in (0, 1):
        names = [r["track"] for r in resumed[env]]
        assert all(names[n] == names[n ^ 1] for n in range(len(names) - len(names) % 2))  # 2 episodes each
        assert len(set(names)) >= 3 and len(resumed[env]) > counted[env]
        assert set(names[counted[env]:]) - set(names[:counted[env]])  # new tracks after the resume
    config = json.loads((whole / "config.json").read_text())["run"]
    assert config["tracks"] == ["generated"] and config["track"] == plan.track_name(0, 0)  # the trace's track
    evaluation = json.loads((whole / "evaluations.jsonl").read_text())  # on the panel: piccolo, held-out ones
    assert [e["track"] for e in evaluation["panel"]][0] == "piccolo" and len(evaluation["panel"]) == 3


def test_alternate_direction_reverses_every_other_episode(tmp_path):
    run = tmp_path / "run"
    train(run, "--track", "oval", "--alternate-direction", "--race-type", "object-avoidance", "--objects", "2")
    for env, rows in episodes(run).items():
        flags = [r["reversed"] == "True" for r in rows]
        assert flags == [(n + env) % 2 == 1 for n in range(len(flags))] and len(flags) >= 2
    assert main(["export", str(run), "-o", str(tmp_path / "model.onnx")]) == 0
    meta = model_metadata(tmp_path / "model.onnx")
    assert meta["directions"] == "both" and meta["tracks"] == ["oval"] and meta["track"] == "oval"
    assert meta["race_type"] == "object-avoidance" and meta["race_options"] == {"num_objects": 2}
    assert meta["randomize"] == "none" and meta["from"] is None
    assert meta["camera"]["width"] == 48 and meta["training_steps"] == 256  # the keys the car reads stay


def test_race_type_options_are_checked_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "run"
    for args, message in ((["--objects", "3"], "--objects is for --race-type object-avoidance"),
                          (["--race-type", "head-to-bot", "--objects", "3"],
                           "--objects is for --race-type object-avoidance, not head-to-bot"),
                          (["--race-type", "head-to-bot", "--bots", "11"], "--bots must be from 1 to 10, got 11"),
                          (["--race-type", "object-avoidance", "--objects", "10", "--track", "generated:7",
                            "--track", "oval"], "10 boxes do not fit the")):
        assert main(["train", "--out", str(out), *args]) == 2
        assert message in error_line(capsys)
    assert not out.exists()


def test_from_copies_the_weights_and_records_the_source(tmp_path, capsys):
    import onnxruntime

    from racekit.agent.train import train as train_run

    source = tmp_path / "source"
    train(source, "--track", "oval", steps=128)
    best = source / "checkpoints" / "best.pt"
    # a 0-step clone: its first checkpoint holds the source's weights, before any update
    clone = tmp_path / "clone"
    cfg = RunConfig(track="piccolo", steps=0, camera_width=48, camera_height=36, frame_stack=1,
                    from_model={"path": str(source)})
    cfg.ppo.envs = 2
    train_run(clone, cfg, quiet=True)
    theirs, ours = load_checkpoint(best), load_checkpoint(clone / "checkpoints" / "last.pt")
    assert ours["global_step"] == 0 and ours["model"].keys() == theirs["model"].keys()
    assert all(torch.equal(ours["model"][k], theirs["model"][k]) for k in theirs["model"])
    for run, name in ((source, "source.onnx"), (clone, "clone.onnx")):
        assert main(["export", str(run), "-o", str(tmp_path / name)]) == 0
    frames = np.random.default_rng(0).integers(0, 256, (3, 36, 48, 1), dtype=np.uint8)
    outputs = [onnxruntime.InferenceSession(str(tmp_path / n)).run(None, {"frames": frames})[0]
               for n in ("source.onnx", "clone.onnx")]
    np.testing.assert_array_equal(*outputs)
    meta = model_metadata(tmp_path / "clone.onnx")
    record = meta["from"]
    assert record["path"] == str(source) and record["run"] == "source" and record["global_step"] == 128
    import hashlib

    assert record["sha256"] == hashlib.sha256(best.read_bytes()).hexdigest()
    assert meta["track"] == "piccolo" and meta["training_steps"] == 0

    # through the command line, with its own settings: a fresh optimizer, steps counted from 0
    cli = tmp_path / "cli"
    train(cli, "--from", str(best), "--track", "oval", "--race-type", "object-avoidance", "--objects", "2",
          steps=128)
    config = json.loads((cli / "config.json").read_text())["run"]
    assert config["from_model"]["checkpoint"] == str(best.resolve()) and config["race_type"] == "object-avoidance"
    assert load_checkpoint(cli / "checkpoints" / "last.pt")["global_step"] == 128


def test_from_a_model_with_another_camera_or_action_space_is_one_line_and_writes_nothing(tmp_path, capsys):
    from racekit.agent.policy import ActorCritic

    source = tmp_path / "source"
    cfg = RunConfig(track="oval", camera_width=48, camera_height=36, frame_stack=1)
    cfg.ppo.distribution = "gaussian"  # a run from before the Beta was the default
    model = ActorCritic((36, 48, 1), cfg.action_spec(), distribution="gaussian")
    state = {"model": model.state_dict(), "optimizer": {}, "global_step": 7, "run": cfg.to_json(),
             "obs_shape": [36, 48, 1], "camera": cfg.camera(), "actions": cfg.action_spec().as_dict()}
    save_checkpoint(source / "checkpoints" / "last.pt", state)
    out = tmp_path / "run"
    base = ["train", "--out", str(out), "--from", str(source), "--steps", "128"]
    assert main([*base, "--camera", "64x48", "--rgb", "--frame-stack", "1"]) == 2
    assert error_line(capsys) == (f"racekit: error: --from {source}: camera 48x36 gray x1 differs from this run's "
                                  f"64x48 rgb x1")
    assert main([*base, "--camera", "48x36", "--frame-stack", "1", "--discrete"]) == 2
    assert error_line(capsys) == (f"racekit: error: --from {source}: action space continuous steering -30..30 deg, "
                                  f"speed 0.5..4 m/s differs from this run's 10 discrete actions")
    assert main([*base, "--camera", "48x36", "--frame-stack", "1", "--speed-range", "0.5", "3"]) == 2
    assert "speed 0.5..4 m/s differs from this run's continuous steering -30..30 deg, speed 0.5..3 m/s" in \
        error_line(capsys)
    assert main([*base, "--camera", "48x36", "--frame-stack", "1", "--distribution", "beta"]) == 2
    assert error_line(capsys) == (f"racekit: error: --from {source}: its policy's distribution is gaussian, this "
                                  f"run's beta (--distribution gaussian to start from it)")
    assert main(["train", "--out", str(out), "--from", str(tmp_path / "nowhere")]) == 2
    assert error_line(capsys) == (f"racekit: error: --from {tmp_path / 'nowhere'}: no such run directory or "
                                  f"checkpoint file")
    assert not out.exists()
    # without --distribution, the new run takes the source's (the default, a Beta, could not hold its weights)
    assert main([*base, "--camera", "48x36", "--frame-stack", "1", "--envs", "2", "--rollout-steps", "64",
                 "--eval-every", "100000", "--no-simtrace", "--quiet"]) == 0
    assert json.loads((out / "config.json").read_text())["run"]["ppo"]["distribution"] == "gaussian"


def test_a_run_from_before_the_new_fields_resumes(tmp_path):
    run = tmp_path / "old"
    train(run, "--track", "oval", steps=128)
    new = {"tracks", "track_episodes", "alternate_direction", "race_type", "num_objects", "num_bots", "bot_speed",
           "bot_lane_changes", "randomize", "from_model"}
    config = json.loads((run / "config.json").read_text())
    config["run"] = {k: v for k, v in config["run"].items() if k not in new}
    (run / "config.json").write_text(json.dumps(config))
    last = run / "checkpoints" / "last.pt"
    state = load_checkpoint(last)
    state["run"] = config["run"]
    del state["tracks"]
    save_checkpoint(last, state)
    (run / "episodes.csv").unlink()
    assert RunConfig.from_json(config["run"]).track_list() == ["oval"]
    assert main(["train", "--out", str(run), "--resume", "--steps", "256", "--quiet"]) == 0
    assert load_checkpoint(last)["global_step"] == 256
    assert {r["track"] for rows in episodes(run).values() for r in rows} == {"oval"}
    assert main(["export", str(run), "-o", str(tmp_path / "old.onnx")]) == 0
    meta = model_metadata(tmp_path / "old.onnx")
    assert (meta["tracks"], meta["directions"], meta["race_type"]) == (["oval"], "forward", "time-trial")


def test_randomize_is_recorded_and_reaches_the_model_metadata(tmp_path, capsys):
    pytest.importorskip("racekit.sim.randomization")
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--randomize", "no-such-preset"]) == 2
    assert "--randomize no-such-preset" in error_line(capsys)
    assert not out.exists()
    bad = tmp_path / "bad.txt"
    bad.write_text("preset: default\nbrightness: 2 1\n")
    assert main(["train", "--out", str(out), "--randomize", str(bad)]) == 2
    line = error_line(capsys)
    assert line.startswith(f"racekit: error: --randomize {bad}: ") and "brightness" in line
    assert not out.exists()
    train(out, "--track", "oval", "--randomize", steps=128)  # the bare flag: the default preset
    saved = json.loads((out / "config.json").read_text())["run"]
    assert saved["randomize"] == "default"
    env = TrackRotation(TrackSchedule(("oval",)), env_kwargs=RunConfig.from_json(saved).env_kwargs())
    try:  # the training envs are built with it
        assert env.env.randomization is not None and env.env.randomization.enabled
        assert "randomization" in env.reset(seed=0)[1]
    finally:
        env.close()
    assert main(["export", str(out), "-o", str(tmp_path / "model.onnx")]) == 0
    assert model_metadata(tmp_path / "model.onnx")["randomize"] == "default"
    good = tmp_path / "home-track.txt"
    good.write_text("preset: default\nlatency: 0 2\n")
    assert main(["train", "--out", str(tmp_path / "file"), "--track", "oval", "--randomize", str(good),
                 "--steps", "128", *TINY]) == 0
    assert json.loads((tmp_path / "file" / "config.json").read_text())["run"]["randomize"] == str(good)
    assert main(["export", str(tmp_path / "file"), "-o", str(tmp_path / "file.onnx")]) == 0
    assert model_metadata(tmp_path / "file.onnx")["randomize"] == "file:home-track.txt"


def test_head_to_bot_trains_with_its_bots_and_says_so(tmp_path):
    run = tmp_path / "run"
    train(run, "--track", "oval", "--race-type", "head-to-bot", "--bots", "2", "--bot-speed", "0.3",
          "--lane-changes", steps=128)
    config = RunConfig.from_json(json.loads((run / "config.json").read_text())["run"])
    kwargs = config.env_kwargs()
    assert (kwargs["race_type"], kwargs["num_bots"], kwargs["bot_speed"], kwargs["bot_lane_changes"]) == \
        ("head-to-bot", 2, 0.3, True)
    assert main(["export", str(run), "-o", str(tmp_path / "model.onnx")]) == 0
    meta = model_metadata(tmp_path / "model.onnx")
    assert meta["race_type"] == "head-to-bot"
    assert meta["race_options"] == {"num_bots": 2, "bot_speed": 0.3, "bot_lane_changes": True}
