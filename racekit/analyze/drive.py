"""A model file with no training log: race it for a few laps, and read the race as a run's evaluation.

`racekit analyze MODEL.onnx --track TRACK` has no sim-trace to read, so it makes one: agent.evaluate races the
model under DeepRacer's rules (off-tracks put back with a penalty) and writes the race's sim-trace, which is read
back with the same code as a run's evaluations (load.parse_trace). The routes, actions and saliency frames then
come from those laps.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from racekit.analyze import AnalyzeError
from racekit.analyze.load import Evaluation, RunData, parse_trace

MODEL_SUFFIXES = (".onnx", ".pt")


def open_model(path: Path, track: str | None) -> tuple[RunData, object]:
    """(RunData for the model, its driver), checked before anything is driven. Raises AnalyzeError, or the
    lower layers' one-line errors (a model the car's loader refuses: ModelError; a track that does not load:
    TrackError)."""
    from racekit.models import open_driver
    from racekit.tracks import load_track

    path = Path(path)
    if not path.is_file():
        raise AnalyzeError(f"{path}: no such run folder or model file")
    if path.suffix not in MODEL_SUFFIXES:
        raise AnalyzeError(f"{path}: not a run folder, nor a model file (.onnx or .pt)")
    driver = open_driver(str(path))
    name = track or driver.track
    if name is None:
        raise AnalyzeError(f"{path}: the model does not say which track it was trained on; give --track")
    data = RunData(source=path, kind="model", name=path.name, actions=driver.actions, camera=driver.camera,
                   description=driver.description,
                   model_file=path if path.suffix == ".onnx" else None,
                   checkpoint=path if path.suffix == ".pt" else None)
    data.track, data.track_name = load_track(name), name
    data.note("a model file has no training log: reward per waypoint, the progress per iteration and where "
              "training episodes end need a run folder")
    return data, driver.drive


def drive(data: RunData, driver, laps: int) -> dict:
    """Race the model `laps` laps on data.track; the race becomes data's one evaluation. Returns its result."""
    from racekit.agent.evaluate import evaluate

    with tempfile.TemporaryDirectory(prefix="racekit-analyze-") as folder:
        result = evaluate(driver, data.track, data.camera, data.actions, laps=laps, simtrace=Path(folder))
        trace = parse_trace(Path(folder) / "evaluation-simtrace" / "0-iteration.csv")
    data.evaluations = [Evaluation(None, result=result, trace=trace)]
    return result
