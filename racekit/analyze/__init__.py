"""`racekit analyze`: one self-contained HTML report on a run (or a model file) and why it drives as it does.

The parts, one module each:

    load.py      reading a run folder as it is, even mid-training: config.json, the DeepRacer sim-traces
                 (training-simtrace/, evaluation-*/), metrics.csv, evaluations.jsonl; partial last lines are
                 skipped and counted, a missing file is noted, never fatal
    drive.py     a model file with no training log: race it for a few laps and read that race's sim-trace
    figures.py   the matplotlib figures (track maps with rewards, routes and episode ends; action
                 distributions; progress per iteration), each returned as PNG bytes
    saliency.py  what the model looks at: the gradient of the steering output with respect to the camera
                 pixels (PyTorch checkpoint), or an occlusion map through the ONNX model (onnxruntime), over
                 camera frames rendered by putting the car on the track at points of its lap
    report.py    the page: every part in its section, images as base64 data URIs, CSS inline, no scripts

Nothing here is imported by `racekit` at start-up: the command imports it when it runs.
"""
from __future__ import annotations


class AnalyzeError(Exception):
    """Input that cannot be analysed (not a run folder, an unreadable file): str() is one line naming the path."""
