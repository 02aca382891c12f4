"""`racekit train` options: mistakes are one line and exit 2 before any process starts or any file is written."""
import pytest

from racekit.cli import main


def error_line(capsys) -> str:
    lines = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("pybullet build time")]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("args, message", [
    (["--track", "no-such-track"], "no-such-track"),
    (["--camera", "32x24"], "--camera must be at least 36x36 for the network, got 32x24"),
    (["--camera", "big"], "--camera must look like 640x480, got 'big'"),
    (["--envs", "0"], "--envs must be at least 1, got 0"),
    (["--speed-range", "3", "1"], "--speed-range must be LOW < HIGH, got 3.0 1.0"),
    (["--steering-range", "-40", "40"], "--steering-range must stay within the car's +/-30 degrees"),
    (["--envs-per-worker", "0"], "--envs-per-worker must be at least 1, got 0"),
    (["--eval-placements", "0"], "--eval-placements must be at least 1, got 0"),
    (["--discount", "1.5"], "--discount must be more than 0 and at most 1, got 1.5"),
    (["--entropy", "-0.1"], "--entropy must be at least 0, got -0.1"),
    (["--learning-rate", "0"], "--learning-rate must be more than 0, got 0"),
    (["--discrete", "--distribution", "beta"], "--distribution beta is for continuous actions, not --discrete's"),
])
def test_bad_options_are_one_line_and_nothing_is_written(tmp_path, capsys, args, message):
    assert main(["train", "--out", str(tmp_path / "run"), *args]) == 2
    assert message in error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_a_broken_reward_file_is_its_file_and_line_before_training(tmp_path, capsys):
    reward = tmp_path / "reward.py"
    reward.write_text("def reward_function(params):\n    return params['speed'] *\n")
    assert main(["train", "--out", str(tmp_path / "run"), "--reward", str(reward)]) == 2
    assert error_line(capsys) == f"racekit: error: {reward} line 2: syntax error: invalid syntax"
    assert main(["train", "--out", str(tmp_path / "run"), "--reward", str(tmp_path / "missing.py")]) == 2
    assert f"{tmp_path / 'missing.py'}: cannot read the reward file" in error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_resuming_keeps_the_runs_own_settings(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path), "--resume", "--envs", "3", "--track", "oval"]) == 2
    assert error_line(capsys) == (f"racekit: error: --track, --envs cannot change when resuming: the run keeps its "
                                  f"own settings (see {tmp_path / 'config.json'}); only --steps, --minutes and --until-clean apply")


def test_until_clean_stops_at_the_first_evaluation_with_every_lap_clean(tmp_path, capsys):
    import json

    import torch

    from racekit.agent.imitation import imitate
    from racekit.agent.ppo import PPOConfig
    from racekit.agent.train import RunConfig

    torch.set_num_threads(1)
    # the expert cloned on the oval laps it cleanly: fine-tuning it, the first evaluation is already clean
    cfg = RunConfig(track="oval", frame_stack=1, eval_every=1024, eval_laps=1,
                    ppo=PPOConfig(envs=2, rollout_steps=256, learning_rate=1e-5))
    run = imitate(tmp_path / "run", cfg, max_speed=2.0, samples=800, epochs=4)
    args = ["train", "--out", str(run), "--resume", "--steps", "100000", "--until-clean", "--quiet"]
    assert main(args) == 0
    out = capsys.readouterr().out
    evaluations = [json.loads(line) for line in (run / "evaluations.jsonl").read_text().splitlines()]
    assert len(evaluations) == 1 and evaluations[0]["all_clean"]
    assert evaluations[0]["global_step"] < 100000  # it stopped there, long before --steps
    assert f"clean laps: the evaluation at step {evaluations[0]['global_step']}" in out and "minutes" in out


def test_bootstrap_at_finish_reaches_the_ppo_settings_and_stays_with_the_run(tmp_path, capsys):
    from racekit.cli import build_parser
    from racekit.cli.train import new_run_config

    line = ["train", "--out", str(tmp_path / "run")]
    assert not new_run_config(build_parser().parse_args(line)).ppo.bootstrap_at_finish
    assert new_run_config(build_parser().parse_args([*line, "--bootstrap-at-finish"])).ppo.bootstrap_at_finish
    assert main(["train", "--out", str(tmp_path), "--resume", "--bootstrap-at-finish"]) == 2
    assert "--bootstrap-at-finish cannot change when resuming" in error_line(capsys)


def test_eval_placements_reach_the_run_config_and_stay_with_the_run(tmp_path, capsys):
    from racekit.cli import build_parser
    from racekit.cli.train import new_run_config

    line = ["train", "--out", str(tmp_path / "run"), "--race-type", "head-to-bot"]
    assert new_run_config(build_parser().parse_args(line)).eval_placements == 1
    assert new_run_config(build_parser().parse_args([*line, "--eval-placements", "4"])).eval_placements == 4
    assert main(["train", "--out", str(tmp_path), "--resume", "--eval-placements", "4"]) == 2
    assert "--eval-placements cannot change when resuming" in error_line(capsys)


def test_the_policy_distribution_reaches_the_ppo_settings_and_stays_with_the_run(tmp_path, capsys):
    from racekit.cli import build_parser
    from racekit.cli.train import new_run_config

    line = ["train", "--out", str(tmp_path / "run")]
    assert new_run_config(build_parser().parse_args(line)).ppo.distribution == "beta"  # the measured default
    assert new_run_config(build_parser().parse_args([*line, "--distribution", "gaussian"])).ppo.distribution == "gaussian"
    # an action list's policy is a categorical; DeepRacer's networks are for DeepRacer's cars (a Gaussian PPO)
    assert new_run_config(build_parser().parse_args([*line, "--discrete"])).ppo.distribution == "gaussian"
    assert new_run_config(build_parser().parse_args([*line, "--network", "deepracer-shallow"])).ppo.distribution \
        == "gaussian"
    assert new_run_config(build_parser().parse_args([*line, "--distribution", "beta"])).ppo.distribution == "beta"
    assert main(["train", "--out", str(tmp_path), "--resume", "--distribution", "beta"]) == 2
    assert "--distribution cannot change when resuming" in error_line(capsys)


def test_minutes_alone_train_that_long_and_the_run_says_which_limit_ends_it(tmp_path, capsys):
    """`--minutes 30` without --steps once stopped at the default 200,000 steps after 11 minutes, silently."""
    from racekit.agent.train import limits
    from racekit.cli import build_parser
    from racekit.cli.train import new_run_config

    line = ["train", "--out", str(tmp_path / "run")]
    minutes = new_run_config(build_parser().parse_args([*line, "--minutes", "30"]))
    assert minutes.steps is None and minutes.minutes == 30
    assert limits(minutes) == "training until 30 minutes"
    both = new_run_config(build_parser().parse_args([*line, "--minutes", "30", "--steps", "5000"]))
    assert both.steps == 5000 and limits(both) == "training until 5,000 env steps or 30 minutes, whichever comes first"
    plain = new_run_config(build_parser().parse_args(line))
    assert plain.steps == 200_000 and limits(plain) == "training until 200,000 env steps"
    assert main([*line, "--minutes", "0"]) == 2
    assert "--minutes must be more than 0, got 0" in error_line(capsys)
    # a real run with only a time budget: it ends on the clock, having said so at its start
    assert main(["train", "--out", str(tmp_path / "timed"), "--minutes", "0.1", "--envs", "2", "--rollout-steps",
                 "64", "--minibatch", "64", "--epochs", "1", "--camera", "40x36", "--no-simtrace"]) == 0
    out = capsys.readouterr().out
    assert "training until 0.1 minutes" in out and "time budget reached" in out


@pytest.mark.parametrize("content, message", [
    ("[{\"steering_angle\": 0, \"speed\": 1}", "not JSON"),
    ('[{"steering_angle": 45, "speed": 1}, {"steering_angle": 0, "speed": 1}]',
     "action_space[0].steering_angle must be within the car's +/-30 degrees, got 45"),
    ('{"action_space": [{"steering_angle": 0, "speed": 1}, {"steering_angle": 10, "speed": 0}]}',
     "action_space[1].speed must be from 0.1 to 4 m/s, got 0"),
    ('[{"steering_angle": 0, "speed": 1}, {"steering_angle": 0, "speed": 1}]', "needs at least 2 actions, each once"),
    ('[{"steering_angle": 0}]', "action_space[0].speed must be a finite number, not None"),
])
def test_a_bad_action_list_file_is_one_line_naming_the_file_and_entry(tmp_path, capsys, content, message):
    actions = tmp_path / "actions.json"
    actions.write_text(content)
    assert main(["train", "--out", str(tmp_path / "run"), "--actions", str(actions)]) == 2
    line = error_line(capsys)
    assert line.startswith(f"racekit: error: --actions {actions}: ") and message in line
    assert not (tmp_path / "run").exists()


def test_an_action_list_of_your_own_trains_and_goes_into_the_model_files(tmp_path, capsys):
    import json

    from racekit.agent.checkpoint import load_checkpoint

    actions = tmp_path / "actions.json"  # as DeepRacer's model_metadata.json writes it, "index" and all
    actions.write_text(json.dumps([{"steering_angle": s, "speed": v, "index": i}
                                   for i, (s, v) in enumerate([(-20, 1.0), (0, 2.5), (20, 1.0)])]))
    for clash in (["--discrete"], ["--speed-range", "1", "2"]):
        assert main(["train", "--out", str(tmp_path / "run"), "--actions", str(actions), *clash]) == 2
        assert f"--actions gives the action list: leave out {clash[0]}" in error_line(capsys)
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--actions", str(actions), "--track", "oval", "--steps", "64", "--envs",
                 "2", "--rollout-steps", "32", "--eval-every", "1000", "--camera", "48x36", "--quiet"]) == 0
    assert load_checkpoint(run / "checkpoints" / "last.pt")["actions"] == {
        "type": "discrete", "actions": [[-20.0, 1.0], [0.0, 2.5], [20.0, 1.0]]}
    space = json.loads((run / "model" / "model_metadata.json").read_text())["action_space"]
    assert [(a["steering_angle"], a["speed"]) for a in space] == [(-20.0, 1.0), (0.0, 2.5), (20.0, 1.0)]


def test_keep_checkpoints_keeps_each_evaluations_checkpoint_and_export_takes_one(tmp_path, capsys):
    import json

    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--track", "oval", "--steps", "256", "--envs", "2", "--rollout-steps",
                 "64", "--minibatch", "64", "--epochs", "1", "--eval-every", "128", "--eval-laps", "1", "--camera",
                 "40x36", "--no-simtrace", "--quiet", "--keep-checkpoints"]) == 0
    steps = [json.loads(line)["global_step"] for line in (run / "evaluations.jsonl").read_text().splitlines()]
    kept = sorted(p.name for p in (run / "checkpoints").glob("step-*.pt"))
    assert steps == [128, 256] and kept == ["step-128.pt", "step-256.pt"]
    assert main(["export", str(run / "checkpoints" / "step-128.pt"), "--out", str(tmp_path / "m.onnx")]) == 0
    assert "at 128 steps" in capsys.readouterr().out
    assert main(["train", "--out", str(run), "--resume", "--keep-checkpoints"]) == 2
    assert "--keep-checkpoints cannot change when resuming" in error_line(capsys)
