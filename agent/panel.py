"""The evaluation panel: where a run's evaluations race, so that "best" means something.

A one-track run is evaluated on its track, forwards. A run on several or generated tracks may not be
able to lap whichever track it happened to draw first, so it is evaluated on a fixed panel instead: the
track it calls its own (the first it names, else the default track), both ways when it alternates
directions, up to two other named tracks, and for generated training two generated tracks that no run
ever trains on (training draws seeds of 1,000,000 and up, the robustness suite 1-3). Every run with the
same tracks meets the same panel, so their evaluations compare. With boxes or bots, each entry of the
panel is raced with `eval_placements` placements of them (seeds 0, 1, ...: every evaluation meets the same
ones), as one placement can be the one a model happens to pass.

`cfg` is the run's agent.train.RunConfig (read, not imported: train imports this module).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from racekit.agent.evaluate import evaluate
from racekit.agent.live import LiveView
from racekit.agent.schedule import GENERATED, home_track, track_fits
from racekit.tracks import DEFAULT_TRACK, load_track

PANEL_GENERATED = ("generated:21", "generated:22")  # held out: training draws 1,000,000 and up, the suite 1-3


def evaluation_panel(cfg) -> list[tuple[str, bool]]:
    """(track, reversed) pairs an evaluation races: the run's track, or for a run on several or generated
    tracks a fixed panel: the track the run calls its own (the first named one, else the default track),
    both ways when the run alternates directions; up to two other named tracks; and for generated training
    two generated tracks no run trains on (the second reversed when the run alternates), where the race
    type's objects fit."""
    if not (cfg.tracks and cfg.eval_panel):
        return [(cfg.track, False)]
    home = home_track(cfg.tracks, DEFAULT_TRACK)
    panel = [(home, False), *([(home, True)] if cfg.alternate_direction else [])]
    panel += [(t, False) for t in dict.fromkeys(cfg.tracks) if t not in (GENERATED, home)][:2]
    if GENERATED in cfg.tracks:
        held_out = [t for t in PANEL_GENERATED if track_fits(load_track(t), cfg.race_kwargs())]
        panel += [(t, cfg.alternate_direction and i % 2 == 1) for i, t in enumerate(held_out)]
    return panel


def evaluation_races(cfg, panel: list[tuple[str, bool]]) -> list[tuple[str, bool, int]]:
    """(track, reversed, seed of the boxes' or bots' placement) of each race of an evaluation: every panel
    entry with each of `eval_placements` placements (one in a time trial, which has nothing to place)."""
    placements = 1 if cfg.race_type == "time-trial" else cfg.eval_placements
    return [(track, reverse, seed) for track, reverse in panel for seed in range(placements)]


def evaluate_panel(driver, cfg, panel: list[tuple[str, bool]], simtrace: Path | None,
                   live: LiveView | None = None, step: int = 0) -> dict:
    """Race each (track, reversed) of the panel, each placement of its boxes or bots; one result over all of it
    (the keys of one evaluation: clean laps and laps summed, completion and lap times over all; its track
    "panel" when there are several), each race's own under "panel".
    live: the run's live view (agent/live.py), shown each car of the panel; step: the run's env steps."""
    actions = cfg.action_spec().as_dict()
    results = []
    races = evaluation_races(cfg, panel)
    for i, (track, reverse, seed) in enumerate(races):
        if live is not None:
            live.begin(step, f"{track}{' reversed' if reverse else ''}{f', placement {seed}' if seed else ''}")
        results.append(evaluate(driver, track, cfg.camera(), actions, laps=cfg.eval_laps, reverse=reverse,
                                seed=seed, env_kwargs=cfg.race_kwargs(), simtrace=simtrace if i == 0 else None,
                                on_step=None if live is None else live.on_step))
    if live is not None:
        live.end()
    if len(results) == 1:
        return results[0]
    for result, (_, reverse, seed) in zip(results, races):
        result["reverse"], result["placement"] = reverse, seed
    times = [t for r in results for t in r["lap_times"]]
    laps = sum(r["laps"] for r in results)
    clean = sum(r["clean_laps"] for r in results)
    return {"track": "panel" if len(panel) > 1 else results[0]["track"], "laps": laps, "lap_times": times,
            "offtracks_per_lap": [n for r in results for n in r["offtracks_per_lap"]],
            "offtracks": sum(r["offtracks"] for r in results), "crashes": sum(r["crashes"] for r in results),
            "resets": sum(r["resets"] for r in results),
            "completion": round(float(np.mean([r["completion"] for r in results])), 2),
            "termination": "lap_complete" if all(r["termination"] == "lap_complete" for r in results) else "panel",
            "clean_laps": clean, "all_clean": clean == laps,
            "mean_lap_time": float(np.mean(times)) if times else None,
            "best_lap_time": float(min(times)) if times else None,
            "sim_time": sum(r["sim_time"] for r in results), "panel": results}
