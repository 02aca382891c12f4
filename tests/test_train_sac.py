"""`racekit train --algorithm sac`: old configs, its refusals (one line each, nothing written), `--from`
across algorithms, and short real runs that checkpoint, resume and export (agent/sac.py's parts: tests/test_sac.py)."""
import numpy as np
import pytest
import torch

from racekit.agent.sac import SACConfig


def test_old_run_configs_read_as_ppo():
    from racekit.agent.train import RunConfig

    old = RunConfig().to_json()
    del old["algorithm"], old["sac"], old["ppo"]["distribution"]  # a config from before either existed
    cfg = RunConfig.from_json(old)
    assert cfg.algorithm == "ppo" and cfg.rollout_config() == cfg.ppo and cfg.distribution() == "gaussian"
    sac = RunConfig.from_json(RunConfig(algorithm="sac", sac=SACConfig(replay_ratio=0.5)).to_json())
    assert sac.rollout_config() is sac.sac and sac.sac.replay_ratio == 0.5 and sac.distribution() == "squashed"


# ---------------------------------------------------------------------------------------------------------------
# racekit train --algorithm sac: bad input, one line each, nothing written


def error_line(capsys) -> str:
    lines = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("pybullet build time")]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("args, message", [
    (["--algorithm", "sac", "--discrete"],
     "--algorithm sac needs continuous actions (--steering-range, --speed-range), not --discrete's action list"),
    (["--algorithm", "sac", "--distribution", "beta"],
     "--distribution beta is for PPO: SAC's policy is its own tanh-squashed Gaussian (leave out --distribution)"),
    (["--algorithm", "sac", "--epochs", "3"], "--epochs is for PPO"),
    (["--algorithm", "sac", "--entropy", "0.1"], "--entropy is for PPO: SAC tunes its entropy coefficient itself"),
    (["--algorithm", "sac", "--replay-ratio", "0"], "--replay-ratio must be more than 0, got 0"),
    (["--algorithm", "sac", "--buffer", "10"], "--buffer must be at least 1000 transitions, got 10"),
    (["--replay-ratio", "1"], "--replay-ratio is for --algorithm sac"),
    (["--algorithm", "sac", "--ray"], "--ray: distributed rollouts are PPO's only so far"),
])
def test_bad_sac_options_are_one_line_and_nothing_is_written(tmp_path, capsys, args, message):
    from racekit.cli import main

    assert main(["train", "--out", str(tmp_path / "run"), *args]) == 2
    assert message in error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_the_options_both_algorithms_have_become_sacs_settings():
    from racekit.agent.ppo import PPOConfig
    from racekit.cli import build_parser
    from racekit.cli.train import new_run_config
    from racekit.recipes import recipe_of

    line = ["train", "--out", "unused", "--minutes", "10", "--algorithm", "sac", "--envs", "2", "--rollout-steps",
            "16", "--minibatch", "32", "--learning-rate", "1e-3", "--discount", "0.95", "--bootstrap-at-finish",
            "--replay-ratio", "0.5", "--buffer", "5000", "--warmup", "100", "--track", "generated", "--randomize",
            "--alternate-direction"]
    cfg = new_run_config(build_parser().parse_args(line))
    assert cfg.algorithm == "sac" and cfg.ppo == PPOConfig()  # PPO's settings stay its defaults
    assert cfg.sac == SACConfig(envs=2, rollout_steps=16, batch_size=32, learning_rate=1e-3, gamma=0.95,
                                bootstrap_at_finish=True, replay_ratio=0.5, buffer_size=5000, warmup_steps=100)
    assert recipe_of(cfg.to_json()) is None  # the measured recipes are PPO's


def fake_run(folder, algorithm: str):
    """A run folder with a step-0 checkpoint, as racekit train writes one (no training)."""
    from racekit.agent.checkpoint import save_checkpoint
    from racekit.agent.policy import ActorCritic
    from racekit.agent.train import RunConfig

    cfg = RunConfig(algorithm=algorithm)
    model = ActorCritic((60, 80, 2), cfg.action_spec(), distribution=cfg.distribution())
    save_checkpoint(folder / "checkpoints" / "last.pt", {
        "model": model.state_dict(), "optimizer": {}, "global_step": 0, "run": cfg.to_json(), "obs_shape": [60, 80, 2],
        "actions": cfg.action_spec().as_dict(), "camera": cfg.camera(), "network": cfg.policy_network()})
    return folder


def test_from_across_algorithms_is_one_line(tmp_path, capsys, one_torch_thread):
    from racekit.cli import main

    ppo, sac = fake_run(tmp_path / "ppo", "ppo"), fake_run(tmp_path / "sac", "sac")
    assert main(["train", "--out", str(tmp_path / "a"), "--algorithm", "sac", "--from", str(ppo)]) == 2
    assert error_line(capsys) == (f"racekit: error: --from {ppo}: a PPO policy (beta); a SAC run starts from a "
                                  f"SAC run only (train this one with PPO, or start the SAC run afresh)")
    assert main(["train", "--out", str(tmp_path / "b"), "--from", str(sac)]) == 2
    assert error_line(capsys) == (f"racekit: error: --from {sac}: a SAC run; train it on with --algorithm sac (PPO "
                                  f"cannot go on from SAC's policy)")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


# ---------------------------------------------------------------------------------------------------------------
# A real run: racekit train --algorithm sac, --resume, --from and export

SAC_TINY = ["--algorithm", "sac", "--track", "oval", "--envs", "2", "--rollout-steps", "32", "--minibatch", "32",
            "--camera", "48x36", "--frame-stack", "2", "--eval-laps", "1", "--warmup", "64", "--buffer", "1000"]


def metrics(run) -> list[dict]:
    import csv

    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_a_short_sac_run_checkpoints_resumes_starts_another_and_exports(tmp_path, capsys, one_thread):
    import json

    import onnxruntime

    from racekit.agent.checkpoint import load_checkpoint
    from racekit.agent.export import load_policy_checkpoint
    from racekit.cli import main

    run = tmp_path / "sac"
    assert main(["train", "--out", str(run), *SAC_TINY, "--steps", "256", "--eval-every", "128"]) == 0
    out = capsys.readouterr().out
    assert "SAC: a replay buffer of 1,000 transitions" in out and "0.25 updates of 32 per env step" in out
    config = json.loads((run / "config.json").read_text())["run"]
    assert config["algorithm"] == "sac" and config["sac"]["buffer_size"] == 1000 and config["sac"]["batch_size"] == 32
    last = load_checkpoint(run / "checkpoints" / "last.pt")
    assert (run / "checkpoints" / "best.pt").is_file() and last["global_step"] == 256
    assert set(last["optimizer"]) == {"critic", "actor", "alpha"} and "critic.q1.0.weight" in last["sac"]
    rows = metrics(run)
    # 64 steps a round: the buffer holds the warm-up's 64 after the second round, then 16 updates a round
    assert [int(r["gradient_updates"]) for r in rows] == [0, 16, 32, 48]
    assert rows[-1]["critic_loss"] and rows[-1]["alpha"] and float(rows[-1]["replay_ratio"]) == pytest.approx(48 / 256)
    assert json.loads((run / "model" / "model_metadata.json").read_text())["training_algorithm"] == "sac"
    assert json.loads((run / "ip" / "hyperparameters.json").read_text())["racekit_sac"]["replay_ratio"] == 0.25
    assert len((run / "evaluations.jsonl").read_text().splitlines()) == 2

    # resumed: the buffer refills (no updates in the first round), then updates go on
    assert main(["train", "--out", str(run), "--resume", "--steps", "384", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "the replay buffer is not saved with checkpoints: it refills from here, with 64 env steps" in out
    assert [int(r["gradient_updates"]) for r in metrics(run)] == [0, 16, 32, 48, 48, 64]
    assert load_checkpoint(run / "checkpoints" / "last.pt")["global_step"] == 384

    # another SAC run from this one: its policy, critics and alpha, to start with
    second = tmp_path / "second"
    assert main(["train", "--out", str(second), *SAC_TINY, "--steps", "64", "--eval-every", "1000", "--from",
                 str(run), "--quiet"]) == 0
    source = load_checkpoint(run / "checkpoints" / "best.pt")
    started = load_checkpoint(second / "checkpoints" / "last.pt")
    assert int(metrics(second)[-1]["gradient_updates"]) == 0  # still warming up: the weights are the source's
    for key in ("model", "sac"):
        for name, value in source[key].items():
            assert torch.equal(value, started[key][name]), (key, name)
    assert json.loads((second / "config.json").read_text())["run"]["from_model"]["run"] == "sac"

    # exported: the greedy action is tanh(mean), mapped to the ranges
    model = tmp_path / "model.onnx"
    assert main(["export", str(run), "-o", str(model)]) == 0
    policy, _ = load_policy_checkpoint(run / "checkpoints" / "best.pt")
    frames = np.random.default_rng(0).integers(0, 256, (5, 36, 48, 2), dtype=np.uint8)
    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    got = session.run(None, {"frames": frames})[0]
    with torch.no_grad():
        mean = policy.model.actor(policy.model.features(torch.from_numpy(frames)))
    low, high = np.array([-30.0, 0.5]), np.array([30.0, 4.0])
    assert np.allclose(got, low + (np.tanh(mean.numpy()) + 1) / 2 * (high - low), atol=1e-4)


def test_a_sac_run_with_a_deepracer_network_exports_as_deepracers_sac(tmp_path, capsys, one_thread):
    from racekit.cli import main

    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--algorithm", "sac", "--network", "deepracer-shallow", "--track", "oval",
                 "--envs", "2", "--rollout-steps", "16", "--steps", "32", "--eval-every", "1000", "--eval-laps", "1",
                 "--warmup", "1000", "--buffer", "1000", "--no-simtrace", "--quiet"]) == 0
    capsys.readouterr()
    car = tmp_path / "car.tar.gz"
    assert main(["export", str(run), "--format", "deepracer", "-o", str(car)]) == 0
    assert "sac, DEEP_CONVOLUTIONAL_NETWORK_SHALLOW" in capsys.readouterr().out

    # and a DeepRacer SAC model starts a SAC run (its policy; fresh critics), never a PPO one
    short = ["--envs", "2", "--rollout-steps", "16", "--steps", "32", "--eval-every", "1000", "--eval-laps", "1",
             "--no-simtrace", "--quiet"]
    assert main(["train", "--out", str(tmp_path / "ppo"), "--from", str(car), *short]) == 2
    assert error_line(capsys) == (f"racekit: error: --from {car}: a SAC model; train it on with --algorithm sac "
                                  f"(PPO cannot go on from SAC's policy)")
    again = tmp_path / "again"
    assert main(["train", "--out", str(again), "--algorithm", "sac", "--from", str(car), "--warmup", "1000",
                 "--buffer", "1000", *short]) == 0
    from racekit.agent.checkpoint import load_checkpoint

    source = load_checkpoint(run / "checkpoints" / "last.pt")
    started = load_checkpoint(again / "checkpoints" / "last.pt")
    for name, value in source["model"].items():
        if name.startswith(("trunk.", "actor.")):
            assert torch.allclose(value, started["model"][name]), name


def test_a_sac_run_with_a_stereo_pair_and_a_lidar_trains_and_exports_both_inputs(tmp_path, capsys, one_thread):
    import onnx

    from racekit.agent.checkpoint import load_checkpoint
    from racekit.cli import main

    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *SAC_TINY, "--sensor", "stereo-cameras", "--sensor", "lidar",
                 "--race-type", "object-avoidance", "--objects", "2", "--steps", "192", "--eval-every", "1000",
                 "--quiet"]) == 0
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    assert state["lidar_size"] == 64 and state["camera"]["cameras"] == 2
    assert int(metrics(run)[-1]["gradient_updates"]) > 0 and "policy" not in " ".join(state["sac"])
    model = tmp_path / "model.onnx"
    assert main(["export", str(run), "-o", str(model)]) == 0
    assert [i.name for i in onnx.load(str(model)).graph.input] == ["frames", "lidar"]
