"""The run's records: metrics.csv rows, evaluations, the training-curve picture drawn from them, and which
evaluation is the best."""
import json

import cv2

from racekit.agent.logbook import FIELDS, Logbook, better, plot_curves, read_evaluations


def test_logbook_writes_rows_and_draws_three_panels(tmp_path):
    book = Logbook(tmp_path)
    for update in range(1, 6):
        book.log({"update": update, "global_step": 1024 * update, "mean_return": float(update),
                  "mean_progress": 10.0 * update, "episodes": 4})
    book.log_evaluation({"global_step": 5120, "completion": 100.0, "clean_laps": 3, "all_clean": True,
                         "mean_lap_time": 9.5, "offtracks": 0})
    book.close()  # draws training.png
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert rows[0].split(",") == FIELDS and len(rows) == 6
    assert json.loads((tmp_path / "evaluations.jsonl").read_text())["mean_lap_time"] == 9.5
    picture = cv2.imread(str(tmp_path / "training.png"))
    assert picture is not None and picture.shape[1] > 3 * picture.shape[0]  # three panels side by side


def test_resuming_drops_rows_logged_after_the_checkpoint(tmp_path):
    book = Logbook(tmp_path)
    for update in range(1, 5):
        book.log({"update": update, "global_step": 100 * update, "mean_progress": 1.0, "mean_return": 1.0})
    book.log_evaluation({"global_step": 400, "completion": 50.0, "clean_laps": 0, "all_clean": False,
                         "mean_lap_time": None})
    book.close()
    resumed = Logbook(tmp_path, resume_step=200)  # the checkpoint was at step 200: later rows are redone
    resumed.close()
    steps = [line.split(",")[1] for line in (tmp_path / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == ["100", "200"] and (tmp_path / "evaluations.jsonl").read_text() == ""
    assert plot_curves(tmp_path) is not None


def test_reading_evaluations_skips_those_seen_and_waits_for_a_line_being_written(tmp_path):
    assert read_evaluations(tmp_path) == []  # no evaluation yet
    book = Logbook(tmp_path)
    for step in (100, 200, 300):
        book.log_evaluation({"global_step": step, "completion": 50.0})
    book.close()
    assert [e["global_step"] for e in read_evaluations(tmp_path)] == [100, 200, 300]
    assert [e["global_step"] for e in read_evaluations(tmp_path, seen=2)] == [300]
    with (tmp_path / "evaluations.jsonl").open("a") as f:
        f.write('{"global_step": 40')  # a writer part-way through its line
    assert [e["global_step"] for e in read_evaluations(tmp_path)] == [100, 200, 300]


def test_best_is_the_faster_of_two_clean_time_trials_and_the_later_of_two_clean_races_with_bots():
    fast, slow = ({"clean_laps": 12, "completion": 100.0, "mean_lap_time": t} for t in (8.0, 9.0))
    crashed = {"clean_laps": 11, "completion": 100.0, "mean_lap_time": 7.0}
    best = better(fast, None)
    assert better(slow, best) is None and better(crashed, best) is None
    best = better(fast, None, "head-to-bot")
    assert better(slow, best, "head-to-bot") == (12, 100.0, -9.0)
    assert better(crashed, best, "head-to-bot") is None
    assert better(slow, best, "object-avoidance") is not None
