"""`racekit models import SOURCE --out MODEL.onnx`: a DeepRacer model becomes a racekit model file.

SOURCE is a car tarball (.tar.gz), a training prefix (a folder with model/deepracer_checkpoints.json) or a
model.pb beside its model_metadata.json (agent/deepracer/sources.py). The model file it writes races,
evaluates, flashes and trains on (`racekit train --from`) like any racekit model.
"""
from __future__ import annotations


def register(subparsers) -> None:
    models = subparsers.add_parser("models", help="bring DeepRacer models into racekit")
    sub = models.add_subparsers(dest="models_command", required=True)
    imp = sub.add_parser("import", help="import a DeepRacer model as a racekit model file",
                         description="Read a DeepRacer model (car tarball, training prefix, or model.pb beside its "
                                     "model_metadata.json) and write a racekit model file that races, evaluates, "
                                     "trains on (--from) and drives the car like any other.")
    imp.add_argument("source", metavar="SOURCE", help="model.tar.gz, a training prefix folder, or model.pb")
    imp.add_argument("--checkpoint", default="best", metavar="best|last|N",
                     help="a training prefix's checkpoint (default best, as deepracer_checkpoints.json says)")
    imp.add_argument("-o", "--out", required=True, help="model file to write, e.g. model.onnx")
    imp.set_defaults(func=run_import)


def run_import(args) -> int:
    from racekit.agent.deepracer.importer import import_model
    from racekit.hardware.model import load_policy

    from racekit import __version__

    meta = import_model(args.source, args.out, args.checkpoint, racekit_version_=__version__)
    load_policy(args.out)  # the car's loader must take what we just wrote (ModelError: one line)
    origin, space = meta["deepracer"], meta["action_space"]
    actions = (f"{len(space['actions'])} discrete actions" if space["type"] == "discrete" else
               f"continuous steering {space['steering_deg']} deg, speed {space['speed_mps']} m/s")
    network = meta["network"] if isinstance(meta["network"], str) else \
        f"the stereo pair's own of {origin['model_metadata'].get('neural_network')}"
    sensors = meta.get("sensors") or ["front-camera"]
    print(f"wrote {args.out}: DeepRacer {origin['algorithm']} model ({origin['layout']} {origin['graph']}, sha256 "
          f"{origin['sha256'][:12]}), network {network}, {actions}, action mapping: {meta['action_mapping']}; "
          f"it sees through DeepRacer's camera (160x120 grey, {meta['camera']['fov_deg']:g} degrees) and look"
          + (f", with {' and '.join(sensors)}" if sensors != ["front-camera"] else ""))
    return 0
