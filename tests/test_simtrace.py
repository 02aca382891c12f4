"""A run's DeepRacer sim-traces, read with deepracer-utils exactly as the deepracer-analysis notebooks read a
model folder, and checked against racekit's own records: metrics.csv, evaluations.jsonl, the checkpoint."""
import csv
import json
import shutil

import numpy as np
import pytest
from deepracer.logs import AnalysisUtils, DeepRacerLog, LogFolderType

from racekit.agent.checkpoint import load_checkpoint
from racekit.agent.ppo import PPOConfig
from racekit.agent.train import RunConfig, train
from racekit.cli import main
from racekit.sim import DEEPRACER_ACTIONS
from racekit.tracks import load_track

ENVS, BATCH, PER_ITERATION = 2, 32, 2  # 2 envs x 16 steps per update; 2 episodes per sim-trace iteration


def tiny(steps: int, **changes) -> RunConfig:
    """A run of a few seconds: small camera, one evaluation lap, tiny PPO updates."""
    cfg = RunConfig(track="oval", steps=steps, eval_every=64, eval_laps=1, camera_width=48, camera_height=36,
                    frame_stack=1, simtrace_episodes=PER_ITERATION,
                    ppo=PPOConfig(envs=ENVS, rollout_steps=BATCH // ENVS, minibatch=32, epochs=1))
    for key, value in changes.items():
        setattr(cfg, key, value)
    return cfg


@pytest.fixture(scope="module")
def run(one_thread, tmp_path_factory):
    """4 updates of a continuous-action run, evaluated at 64 and 128 steps (about 5 s). One env per rollout
    worker: the trace is the two workers' steps merged (the resumed run below has both envs in one)."""
    run = tmp_path_factory.mktemp("simtrace") / "run"
    summary = train(run, tiny(4 * BATCH, envs_per_worker=1), quiet=True)
    assert summary["outcome"] == "done"
    return run


def training_trace(run):
    """As Training_analysis.ipynb does it."""
    log = DeepRacerLog(model_folder=str(run))
    log.load_training_trace()
    return log, log.dataframe()


def evaluation_trace(run):
    """As Evaluation_analysis.ipynb does it."""
    log = DeepRacerLog(model_folder=str(run))
    log.load_evaluation_trace()
    return log.dataframe()


def metrics(run) -> list[dict]:
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def evaluations(run) -> list[dict]:
    return [json.loads(line) for line in (run / "evaluations.jsonl").read_text().splitlines()]


def ended_episodes(df):
    """The last row of every episode that ended (cut ones, still running when training stopped, excluded)."""
    last = df.sort_values(["episode", "steps"]).groupby("episode").tail(1)
    return last[last["done"]]


def test_the_run_reads_as_a_deepracer_for_cloud_model_folder(run):
    log, _ = training_trace(run)
    assert log.fh.type == LogFolderType.DRFC_MODEL_SINGLE_WORKERS
    hp = log.hyperparameters()
    assert (hp["batch_size"], hp["num_epochs"], hp["lr"], hp["discount_factor"], hp["beta_entropy"],
            hp["stack_size"], hp["num_episodes_between_training"]) == (32, 1, 7.3e-4, 0.95, 0.0, 1, PER_ITERATION)
    assert log.action_space() == {"steering_angle": {"high": 30.0, "low": -30.0}, "speed": {"high": 4.0, "low": 0.5}}
    assert log.agent_and_network() == {"sensor_list": ["FRONT_FACING_CAMERA"], "simapp_version": "5",
                                       "network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"}


def test_every_trained_step_is_one_row_and_every_episode_starts_with_prepare(run):
    _, df = training_trace(run)
    assert (df["episode_status"] != "prepare").sum() == load_checkpoint(run / "checkpoints" / "last.pt")["global_step"]
    for _, episode in df.groupby("episode"):
        assert episode["steps"].tolist() == list(range(len(episode)))
        statuses = episode["episode_status"].tolist()
        assert statuses[0] == "prepare" and statuses.count("prepare") == 1
        assert not episode["done"].iloc[:-1].any()
    episodes = sorted(df["episode"].unique())
    assert episodes == list(range(len(episodes)))
    # whole episodes, 2 to an iteration, so deepracer-utils' episode numbering is racekit's
    assert (df["iteration"] == df["episode"] // PER_ITERATION).all() and (df["unique_episode"] == df["episode"]).all()
    assert len(episodes) - len(ended_episodes(df)) <= ENVS  # the ones still running at the end


def test_episode_ends_are_what_racekit_logged_in_metrics_csv(run):
    _, df = training_trace(run)
    rows, ends = metrics(run), ended_episodes(df)
    assert len(ends) == sum(int(r["episodes"]) for r in rows) > 0
    logged = [(int(r["episodes"]), float(r["mean_progress"]), float(r["mean_return"]))
              for r in rows if r["episodes"] != "0"]
    assert ends["progress"].sum() == pytest.approx(sum(n * p for n, p, _ in logged), abs=1e-3 * len(ends))
    returns = df[df["episode"].isin(ends["episode"])].groupby("episode")["reward"].sum()
    assert returns.sum() == pytest.approx(sum(n * r for n, _, r in logged), rel=1e-4)
    assert (ends["episode_status"] == "lap_complete").sum() == sum(int(r["laps"]) for r in rows)
    assert set(ends["episode_status"]) <= {"off_track", "crashed", "reversed", "immobilized", "lap_complete", "time_up"}

    agg = AnalysisUtils.simulation_agg(df)  # the notebooks' per-episode table
    assert len(agg) == df["episode"].nunique()
    by_episode = df.groupby("episode")
    assert (agg.set_index("episode")["steps"] == by_episode.size()).all()
    # the prepare row zeroes the time across episode boundaries: an episode's time is its simulated seconds
    assert np.allclose(agg.set_index("episode")["time"], by_episode["tstamp"].max())


def test_positions_and_commands_are_the_cars_on_the_track(run):
    _, df = training_trace(run)
    track = load_track("oval")
    xmin, ymin, xmax, ymax = track.bounds(margin=0.5)
    assert df["x"].between(xmin, xmax).all() and df["y"].between(ymin, ymax).all()
    on = df[df["on_track"]]
    s, offset = track.project(on[["x", "y"]].to_numpy())
    assert (np.abs(offset) <= track.width_at(s) / 2 + 0.1).all()  # the reference point, 0.14 m ahead of the centre
    waypoints = track.waypoints[df["closest_waypoint"].to_numpy()]
    assert np.hypot(*(waypoints - df[["x", "y"]].to_numpy()).T).max() < np.diff(track.s).max() + track.widths.max()
    assert df["yaw"].between(-180, 180).all() and df["steering_angle"].between(-30, 30).all()
    assert df["speed"].between(0.5, 4.0).all() and np.allclose(df["track_len"], track.length, atol=1e-4)
    ticks = df["tstamp"] * 15  # simulated seconds: whole 15 Hz steps
    assert (np.abs(ticks - ticks.round()) < 0.01).all()


def test_each_evaluation_is_the_trace_of_its_race(run):
    df = evaluation_trace(run)
    results = {f"{r['global_step']:014d}": r for r in evaluations(run)}
    assert set(df["stream"]) == set(results) == {f"{64:014d}", f"{128:014d}"}
    agg = AnalysisUtils.simulation_agg(df, "stream", is_eval=True)
    for stream, race in df.groupby("stream"):
        result = results[stream]
        assert (race["episode_status"] == "lap_complete").sum() == len(result["lap_times"])
        offtracks = agg[agg["stream"] == stream]["off_track"].sum()  # the notebooks' count of resets
        assert (race["episode_status"] == "off_track").sum() == result["offtracks"] == offtracks
        assert (race["episode_status"] == "crashed").sum() == result["crashes"]
        assert (race.loc[race["episode_status"] == "off_track", "pause_duration"] == 2.0).all()
        assert race["tstamp"].max() == pytest.approx(result["sim_time"], abs=1e-4)
        for lap, time in enumerate(result["lap_times"]):  # penalties count, as in DeepRacer's lap times
            lap_time = agg[(agg["stream"] == stream) & (agg["episode"] == lap)]["time"].item()
            assert lap_time == pytest.approx(time, abs=1 / 15)


def test_a_resumed_run_neither_duplicates_nor_loses_rows(one_thread, tmp_path):
    cfg = tiny(2 * BATCH, actions=[list(a) for a in DEEPRACER_ACTIONS])
    run, last = tmp_path / "run", tmp_path / "run" / "checkpoints" / "last.pt"
    train(run, cfg, quiet=True)
    saved, first = tmp_path / "last-at-64.pt", tmp_path / "trace-at-64"
    shutil.copy(last, saved)
    shutil.copytree(run / "training-simtrace", first)
    train(run, tiny(4 * BATCH), resume=True, quiet=True)
    shutil.copy(saved, last)  # as if killed after writing the rows of steps 65..128, before their checkpoint
    train(run, tiny(5 * BATCH), resume=True, quiet=True)

    _, df = training_trace(run)
    assert (df["episode_status"] != "prepare").sum() == 5 * BATCH
    assert not df.duplicated(["episode", "steps"]).any()
    episodes = sorted(df["episode"].unique())
    assert episodes == list(range(len(episodes)))  # numbering went on from the checkpoint
    assert (df["iteration"] == df["episode"] // PER_ITERATION).all() and (df["unique_episode"] == df["episode"]).all()
    for path in first.iterdir():  # what was written by the checkpoint is still there, first
        assert (run / "training-simtrace" / path.name).read_text().startswith(path.read_text())
    assert {a for a in df["action"]} <= set(range(len(DEEPRACER_ACTIONS)))  # discrete: the action's index
    assert [int(r["global_step"]) for r in metrics(run)] == list(range(BATCH, 5 * BATCH + 1, BATCH))
    streams = set(evaluation_trace(run)["stream"])
    assert streams == {f"{r['global_step']:014d}" for r in evaluations(run)} == {f"{s:014d}" for s in (64, 128, 160)}


def test_no_simtrace_writes_no_deepracer_logs(one_thread, tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--no-simtrace", "--track", "oval", "--steps", "32", "--envs", "2",
                 "--rollout-steps", "16", "--minibatch", "32", "--epochs", "1", "--camera", "48x36",
                 "--frame-stack", "1", "--eval-laps", "1", "--quiet"]) == 0
    assert (out / "metrics.csv").is_file() and (out / "evaluations.jsonl").is_file()
    assert not [p.name for p in out.iterdir() if p.name in ("training-simtrace", "model", "ip")
                or p.name.startswith("evaluation-")]
    assert json.loads((out / "config.json").read_text())["run"]["simtrace"] is False


def test_racekit_evaluate_writes_the_races_simtrace_where_asked(run, tmp_path, capsys):
    out = tmp_path / "evaluation-20261202000000"  # a folder name deepracer-utils takes for an evaluation
    result_file = tmp_path / "result.json"
    assert main(["evaluate", str(run), "--laps", "1", "--simtrace", str(out), "--json", str(result_file)]) == 0
    trace = out / "evaluation-simtrace" / "0-iteration.csv"
    assert f"sim-trace written to {trace}" in capsys.readouterr().out
    result = json.loads(result_file.read_text())
    rows = list(csv.DictReader(trace.open()))
    assert sum(r["episode_status"] == "lap_complete" for r in rows) == len(result["lap_times"])
    assert sum(r["episode_status"] == "off_track" for r in rows) == result["offtracks"]
    assert float(rows[-1]["tstamp"]) == pytest.approx(result["sim_time"], abs=1e-4)
