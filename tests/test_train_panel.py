"""Evaluations that mean something (issue 21): a run on several or generated tracks is evaluated on a fixed
panel, "best" counts clean laps over all of it, and a run that was never clean says so at export."""
import json

import pytest

from racekit.agent.panel import PANEL_GENERATED, evaluate_panel, evaluation_panel
from racekit.agent.train import RunConfig
from racekit.cli import main
from race_helpers import constant_model


def test_a_one_track_run_evaluates_on_its_track_and_a_generated_run_on_a_fixed_panel():
    assert evaluation_panel(RunConfig(track="oval")) == [("oval", False)]
    generated = RunConfig(tracks=["generated"], alternate_direction=True, seed=3)
    # the user's track (none named: the default track) both ways, then tracks no run trains on
    assert evaluation_panel(generated) == [("piccolo", False), ("piccolo", True), (PANEL_GENERATED[0], False),
                                           (PANEL_GENERATED[1], True)]
    assert evaluation_panel(RunConfig(tracks=["generated"], alternate_direction=True, seed=4)) == \
        evaluation_panel(generated)  # the same panel whatever the seed: runs compare
    named = RunConfig(tracks=["oval", "meadow", "oval", "generated"])
    assert evaluation_panel(named) == [("oval", False), ("meadow", False), (PANEL_GENERATED[0], False),
                                       (PANEL_GENERATED[1], False)]


def test_a_run_from_before_the_panel_resumes_evaluating_its_first_track():
    old = RunConfig(tracks=["generated"], track="generated:1234567").to_json()
    del old["eval_panel"]
    cfg = RunConfig.from_json(old)
    assert not cfg.eval_panel and evaluation_panel(cfg) == [("generated:1234567", False)]


def test_a_panel_evaluation_adds_up_every_track_and_keeps_each_one():
    cfg = RunConfig(tracks=["generated"], alternate_direction=True, eval_laps=1)
    panel = evaluation_panel(cfg)
    straight = lambda frames: [(0.0, 1.5)]  # noqa: E731 - leaves every track at its first bend
    result = evaluate_panel(straight, cfg, panel, simtrace=None)
    assert result["track"] == "panel" and result["laps"] == len(panel) == len(result["panel"]) == 4
    assert [(r["track"], r["reverse"]) for r in result["panel"]] == [(t.split("/")[-1], rev) for t, rev in panel]
    assert result["clean_laps"] == sum(r["clean_laps"] for r in result["panel"]) == 0 and not result["all_clean"]
    assert result["offtracks"] == sum(r["offtracks"] for r in result["panel"]) > 0
    assert result["completion"] == pytest.approx(sum(r["completion"] for r in result["panel"]) / 4, abs=0.01)


def test_export_says_loudly_when_no_evaluation_was_clean(tmp_path, capsys):
    run = tmp_path / "run"
    constant_model(run / "checkpoints" / "last.onnx")  # writes checkpoints/last.pt, a run's last checkpoint
    (run / "config.json").write_text("{}")
    evaluations = [{"global_step": step, "clean_laps": clean, "laps": 12, "completion": 90.0, "all_clean": False}
                   for step, clean in ((25000, 4), (50000, 11))]
    (run / "evaluations.jsonl").write_text("".join(json.dumps(e) + "\n" for e in evaluations))
    assert main(["export", str(run), "-o", str(tmp_path / "model.onnx")]) == 0
    err = capsys.readouterr().err
    assert "warning: none of the 2 evaluations" in err and "best: 11/12 clean laps at step 50000" in err
    clean = {**evaluations[1], "global_step": 75000, "clean_laps": 12, "all_clean": True}
    with (run / "evaluations.jsonl").open("a") as fh:
        fh.write(json.dumps(clean) + "\n")
    assert main(["export", str(run), "-o", str(tmp_path / "model.onnx")]) == 0
    assert "warning" not in capsys.readouterr().err


def test_the_analysis_maps_the_evaluations_on_the_panels_first_track():
    from racekit.analyze.load import evaluated_track

    assert evaluated_track(RunConfig(track="oval").to_json()) == "oval"
    assert evaluated_track(RunConfig(tracks=["generated"], alternate_direction=True).to_json()) == "piccolo"
    old = RunConfig(tracks=["generated"], track="generated:1234567").to_json()
    del old["eval_panel"]  # a run from before the panel evaluated its first generated track
    assert evaluated_track(old) == "generated:1234567"


def test_an_evaluation_with_bots_races_each_placement_and_a_time_trial_one():
    from racekit.agent.evaluate import evaluate

    cfg = RunConfig(race_type="head-to-bot", eval_laps=1, eval_placements=3)
    straight = lambda frames: [(0.0, 1.0)]  # noqa: E731 - put back at every bend, meeting the bots where they are
    result = evaluate_panel(straight, cfg, evaluation_panel(cfg), simtrace=None)
    assert result["laps"] == 3 and [r["placement"] for r in result["panel"]] == [0, 1, 2]
    assert result["track"] == cfg.track  # one track: its name, not "panel" (a run's summary says "over the panel")
    alone = [evaluate(straight, cfg.track, cfg.camera(), cfg.action_spec().as_dict(), laps=1, seed=seed,
                      env_kwargs=cfg.race_kwargs()) for seed in range(3)]
    assert [r["crashes"] for r in result["panel"]] == [r["crashes"] for r in alone]
    assert result["crashes"] == sum(r["crashes"] for r in alone) and len({r["crashes"] for r in alone}) > 1
    trial = RunConfig(eval_laps=1, eval_placements=3)  # nothing to place: one race
    assert evaluate_panel(straight, trial, evaluation_panel(trial), simtrace=None)["laps"] == 1
