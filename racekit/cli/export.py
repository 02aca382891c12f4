"""`racekit export`: a run's checkpoint to the ONNX model file of DESIGN.md section 5, or (--format deepracer)
to a stock DeepRacer car's model tarball (agent/deepracer/exporter.py)."""
from __future__ import annotations

import sys
from pathlib import Path

from racekit.cli import UserError


def register(subparsers) -> None:
    ex = subparsers.add_parser("export", help="write a run's policy as the ONNX model file for races and the car, "
                                              "or (--format deepracer) as a stock DeepRacer car's model tarball")
    ex.add_argument("run", metavar="RUN", help="a run directory (or a checkpoint .pt); with --format deepracer also "
                                                "a model .onnx imported from DeepRacer")
    ex.add_argument("-o", "--out", required=True, help="file to write, e.g. model.onnx (or model.tar.gz)")
    ex.add_argument("--checkpoint", choices=("best", "last"), help="which checkpoint (default: best, else last)")
    ex.add_argument("--format", choices=("onnx", "deepracer"), default="onnx",
                    help="onnx: racekit's model file (the default); deepracer: a DeepRacer car tarball "
                         "(agent/model.pb and model_metadata.json) of a policy with a DeepRacer network "
                         "(--network deepracer-*), a 160x120 grey camera (--camera 160x120 --frame-stack 1) "
                         "and DeepRacer's PPO (discrete or gaussian) or SAC")
    ex.set_defaults(func=run_export)


def run_export(args) -> int:
    if args.format == "deepracer":
        return run_export_deepracer(args)
    if Path(args.run).suffix == ".onnx":
        raise UserError(f"{args.run}: already a model file; --format deepracer writes it as a DeepRacer car tarball")
    from racekit.agent.export import export_onnx
    from racekit.hardware.errors import ModelError
    from racekit.hardware.model import load_policy

    from racekit import __version__

    meta = export_onnx(args.run, args.out, args.checkpoint, racekit_version_=__version__)
    warn_if_never_clean(Path(args.run))
    try:
        load_policy(args.out)  # the car's loader must take what we just wrote
    except ModelError as exc:
        raise UserError(f"exported, but the car would refuse it: {exc}") from None
    cam, space = meta["camera"], meta["action_space"]
    actions = (f"{len(space['actions'])} discrete actions" if space["type"] == "discrete" else
               f"steering {space['steering_deg']} deg, speed {space['speed_mps']} m/s")
    print(f"wrote {args.out}: {meta['checkpoint']} at {meta['training_steps']} steps, track {meta['track']}, "
          f"camera {cam['width']}x{cam['height']}x{cam['channels']} stack {cam['frame_stack']}, {actions}")
    return 0


def run_export_deepracer(args) -> int:
    from racekit.agent.deepracer.exporter import export_deepracer

    exported = export_deepracer(args.run, args.out, args.checkpoint)
    if Path(args.run).is_dir():
        warn_if_never_clean(Path(args.run))
    meta = exported.metadata
    space = meta["action_space"]
    actions = (f"{len(space)} discrete actions" if meta["action_space_type"] == "discrete" else
               f"steering {space['steering_angle']['low']:g} to {space['steering_angle']['high']:g} deg, "
               f"speed {space['speed']['low']:g} to {space['speed']['high']:g} m/s")
    steps = f" at {exported.training_steps} steps" if exported.training_steps is not None else ""
    print(f"wrote {args.out}: a DeepRacer car model (agent/model.pb, model_metadata.json) of {exported.source}"
          f"{steps}: {meta['training_algorithm']}, {meta['neural_network']}, {actions}")
    return 0


def warn_if_never_clean(run: Path) -> None:
    """Loudly, when a run's evaluations never drove every lap clean: its "best" checkpoint is only the least bad."""
    from racekit.agent.logbook import read_evaluations

    evaluations = read_evaluations(run) if run.is_dir() else []
    if evaluations and not any(e["all_clean"] for e in evaluations):
        top = max(evaluations, key=lambda e: (e["clean_laps"], e["completion"]))
        print(f"racekit: warning: none of the {len(evaluations)} evaluations of {run} drove every lap clean (the "
              f"best: {top['clean_laps']}/{top['laps']} clean laps at step {top['global_step']}); this model "
              f"leaves the track", file=sys.stderr)
