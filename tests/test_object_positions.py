"""Object avoidance with the boxes at fixed places (`--object-positions 0.25:left,0.5:right`), as DeepRacer
allows instead of random ones: read by `racekit race` and `racekit train` (one line naming the flag for a
bad value), raced where asked (the env's boxes measured on the track), kept in a run's config (an old
config without it still loads and resumes) and in its model file, and offered by the console's create and
race forms (a bad row refused at its field)."""
import json

import onnx
import pytest

from race_helpers import constant_model
from racekit.agent.checkpoint import load_checkpoint
from racekit.agent.train import RunConfig
from racekit.cli import UserError, main, options
from racekit.console import forms
from racekit.console.jobs import Jobs
from racekit.console.server import BackgroundConsole
from racekit.console.tasks import Tasks
from racekit.leaderboard.db import Leaderboard
from racekit.racing import Rules, check_model, make_env
from racekit.sim.env import TimeTrialEnv
from racekit.tracks import load_track
from test_console_app import call, form, runs  # noqa: F401 - runs: the fixture
from test_console_runs import stand_in

FIXED = ["--race-type", "object-avoidance", "--object-positions", "0.1:left,0.5:right,0.8:left"]
ASKED = ((0.1, 1), (0.5, -1), (0.8, 1))
TINY = ["--envs", "2", "--rollout-steps", "64", "--minibatch", "64", "--epochs", "1", "--camera", "48x36",
        "--frame-stack", "1", "--eval-every", "1000000", "--eval-laps", "1", "--quiet", "--no-simtrace"]


def error_line(capsys) -> str:
    lines = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("pybullet build time")]
    assert len(lines) == 1, lines
    return lines[0]


def assert_boxes_where_asked(env) -> None:
    """Each box measured from where it stands (projected onto the centre line): at its fraction of the lap, on
    its lane's line (halfway from the centre line to the border of its side)."""
    poses = env.objects.poses()
    assert len(poses) == len(ASKED)
    for (x, y, _), (fraction, lane) in zip(poses, ASKED):
        s, offset = env.track.project((x, y))
        assert float(s) / env.track.length == pytest.approx(fraction, abs=0.005)
        assert offset == pytest.approx(lane * env.track.width_at(s) / 4, abs=0.02)  # + left, - right


def test_the_flag_reads_places_and_lanes():
    assert options.object_positions(" 0.25:left, 0.5:RIGHT,1:left") == ((0.25, 1), (0.5, -1), (1.0, 1))
    assert options.positions_text(((0.25, 1), (0.5, -1))) == "0.25:left,0.5:right"
    for bad, message in (("0.5:middle", "the lane is left or right"), ("1.5:left", "from 0 to 1, got 1.5"),
                         ("nan:left", "from 0 to 1"), ("0.5", "the lane is left or right"),
                         ("half:left", "each box is FRACTION:LANE"), ("", "each box is FRACTION:LANE"),
                         (",".join(["0.5:left"] * 11), "at most 10 boxes")):
        with pytest.raises(UserError, match="--object-positions: ") as refused:
            options.object_positions(bad)
        assert message in str(refused.value), bad


@pytest.mark.parametrize("command", ["race", "train"])
def test_bad_positions_are_one_line_naming_the_flag_before_anything_runs(command, tmp_path, capsys):
    out = tmp_path / "out"
    head = ["race", str(tmp_path / "any.onnx"), "--db", str(tmp_path / "board.sqlite")] if command == "race" \
        else ["train", "--out", str(out)]
    for args, message in ((["--object-positions", "0.5:left"], "--object-positions is for --race-type "
                                                               "object-avoidance, not time-trial"),
                          (["--race-type", "head-to-bot", "--object-positions", "0.5:left"],
                           "--object-positions is for --race-type object-avoidance, not head-to-bot"),
                          (["--race-type", "object-avoidance", "--objects", "3", "--object-positions", "0.5:left"],
                           "--objects and --object-positions: give one"),
                          (["--race-type", "object-avoidance", "--object-positions", "0.5:centre"],
                           "--object-positions: the lane is left or right")):
        assert main([*head, *args]) == 2
        assert message in error_line(capsys)
    assert not out.exists() and not (tmp_path / "board.sqlite").exists()


def test_a_race_puts_the_boxes_where_asked(tmp_path, capsys):
    model = constant_model(tmp_path / "straight.onnx", speed=2.0)  # off the road at the first bend: a short race
    code = main(["race", str(model), "--track", "oval", "--laps", "1", "--video-size", "96x72", "--seed", "5",
                 "--db", str(tmp_path / "board.sqlite"), *FIXED])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "object avoidance (3 boxes at 0.1:left,0.5:right,0.8:left)" in out
    with Leaderboard(tmp_path / "board.sqlite") as board:
        [run] = board.runs()
    assert run.rules["num_objects"] == 3 and run.rules["object_positions"] == [[0.1, 1], [0.5, -1], [0.8, 1]]
    # the race's env (racing.make_env, as `racekit race` builds it): the boxes where asked, whatever the seed
    rules = Rules(laps=1, race_type="object-avoidance", object_positions=ASKED, seed=5)
    assert rules.num_objects == 3
    env = make_env(check_model(model), load_track("oval"), rules)
    try:
        for seed in (5, 6):
            env.reset(seed=seed, options={"start_fraction": 0.0})
            assert_boxes_where_asked(env)
    finally:
        env.close()
    with pytest.raises(Exception, match="--object-positions is for --race-type object-avoidance"):
        Rules(object_positions=ASKED)


def test_a_run_keeps_its_fixed_boxes_and_an_old_config_still_resumes(tmp_path, capsys, one_torch_thread):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--track", "oval", "--steps", "128", *TINY, *FIXED]) == 0
    saved = json.loads((run / "config.json").read_text())["run"]
    assert saved["object_positions"] == [[0.1, 1], [0.5, -1], [0.8, 1]] and saved["num_objects"] == 3
    cfg = RunConfig.from_json(saved)
    assert cfg.race_kwargs() == {"race_type": "object-avoidance", "num_objects": 3, "object_positions": list(ASKED)}
    env = TimeTrialEnv(track="oval", **cfg.env_kwargs())  # the training's env: the boxes where asked
    try:
        env.reset(seed=0)
        assert_boxes_where_asked(env)
    finally:
        env.close()
    assert main(["export", str(run), "-o", str(tmp_path / "model.onnx")]) == 0
    props = {p.key: p.value for p in onnx.load(str(tmp_path / "model.onnx")).metadata_props}
    assert json.loads(props["racekit"])["race_options"] == {"num_objects": 3,
                                                            "object_positions": [[0.1, 1], [0.5, -1], [0.8, 1]]}
    capsys.readouterr()  # the training's own lines
    assert main(["train", "--out", str(run), "--resume", *FIXED[2:]]) == 2
    assert "--object-positions cannot change when resuming" in error_line(capsys)
    # a run from before the field: its config without it loads (random boxes) and resumes
    whole = json.loads((run / "config.json").read_text())
    del whole["run"]["object_positions"]
    (run / "config.json").write_text(json.dumps(whole))
    assert RunConfig.from_json(whole["run"]).race_kwargs() == {"race_type": "object-avoidance", "num_objects": 3}
    assert main(["train", "--out", str(run), "--resume", "--steps", "256", "--quiet"]) == 0
    assert load_checkpoint(run / "checkpoints" / "last.pt")["global_step"] == 256


# -- the console's forms -------------------------------------------------------------------------------------
ROWS = [{"fraction": "0.25", "lane": "left"}, {"fraction": 0.5, "lane": "right"}]


def test_the_forms_make_the_flag_from_rows_and_refuse_a_bad_row_at_its_field():
    fixed = {"race_type": "object-avoidance", "placement": "fixed", "object_positions": ROWS}
    assert forms.race_type_options(fixed) == ["--race-type", "object-avoidance", "--object-positions",
                                              "0.25:left,0.5:right"]
    assert options.object_positions("0.25:left,0.5:right") == ((0.25, 1), (0.5, -1))  # what racekit takes
    assert forms.race_type_options({"race_type": "object-avoidance", "objects": "4", "object_positions": ROWS}) == [
        "--race-type", "object-avoidance", "--objects", "4"]  # random placement: the rows are not read
    for changes, field, message in (({"placement": "scattered"}, "placement", "placement: one of random, fixed"),
                                    ({"object_positions": []}, "object_positions", "box positions: from 1 to 10"),
                                    ({"object_positions": "0.5:left"}, "object_positions", "box positions"),
                                    ({"object_positions": [{"fraction": "1.5", "lane": "left"}]}, "object_positions",
                                     "box 1 place (fraction of the lap): from 0 to 1, got 1.5"),
                                    ({"object_positions": [ROWS[0], {"fraction": "0.5", "lane": "middle"}]},
                                     "object_positions", "box 2 lane: one of left, right, got 'middle'"),
                                    ({"object_positions": [ROWS[0], {"lane": "left"}]}, "object_positions",
                                     "box 2 place (fraction of the lap): a number")):
        with pytest.raises(forms.FieldError) as refused:
            forms.race_type_options({**fixed, **changes})
        assert refused.value.field == field and message in str(refused.value), changes


def test_the_create_form_queues_a_training_with_fixed_boxes(runs, tmp_path):  # noqa: F811 - the fixture
    busy = stand_in(runs, "group/old")  # the one slot taken: the training waits in its queued.json
    try:
        with BackgroundConsole(runs, Jobs(runs, max_trainings=1)) as server:
            status, refused = call(f"{server.url}/api/trainings", form(
                race_type="object-avoidance", placement="fixed", object_positions=[{"fraction": "2", "lane": "left"}]))
            assert status == 400 and refused["field"] == "object_positions" and "box 1 place" in refused["error"]
            assert not (runs / "first").exists()
            status, made = call(f"{server.url}/api/trainings", form(race_type="object-avoidance", placement="fixed",
                                                                     object_positions=ROWS))
            assert status == 201 and made["state"] == "queued"
        argv = json.loads((runs / "first" / "queued.json").read_text())["argv"]
        assert argv[argv.index("--object-positions") + 1] == "0.25:left,0.5:right" and "--objects" not in argv
    finally:
        busy.kill()
        busy.wait()


def test_the_race_form_races_with_fixed_boxes(real_run, tmp_path):
    with BackgroundConsole(real_run, Jobs(real_run, max_trainings=1), tasks=Tasks(),
                           db_path=tmp_path / "board.sqlite") as server:
        race = {"id": "tiny", "laps": "1", "race_type": "object-avoidance", "placement": "fixed"}
        status, refused = call(f"{server.url}/api/run/race", {**race, "object_positions": [{"fraction": "x"}]})
        assert status == 400 and refused["field"] == "object_positions"
        status, started = call(f"{server.url}/api/run/race", {**race, "object_positions": ROWS})
        assert status == 201
        record = json.loads((real_run / "tiny" / "tasks" / started["task"] / "task.json").read_text())
        command = record["command"]
        assert command[command.index("--object-positions") + 1] == "0.25:left,0.5:right"
        assert record["options"]["object_positions"] == "0.25:left,0.5:right" and "objects" not in record["options"]
        call(f"{server.url}/api/run/task/cancel", {"id": "tiny", "task": started["task"]})
