"""`racekit flash MODEL.onnx --car URL`: put a model on the car (and start it).

1. Check the file locally with the car runtime's own check, so a wrong file is
   refused before anything is sent.
2. Stream it to the car with its sha256; the car refuses a file whose hash,
   length or contract is off. The sha256 the car reports back must be ours.
3. With --activate (or --start) make it the active model; with --start drive.
4. Print what the car now runs.
The car service is `racekit car serve` (hardware/server/).
"""
from __future__ import annotations

import os

from racekit.cli.car import client_options, connect, format_status


def register(subparsers) -> None:
    p = subparsers.add_parser("flash", help="upload a model to the car service, activate it, start it",
                              description="Upload MODEL.onnx to a car running `racekit car serve`. The token comes "
                                          "from --token, $RACEKIT_CAR_TOKEN or ~/.config/racekit/car.toml.")
    p.add_argument("model", help="the ONNX model file exported by racekit")
    client_options(p)
    p.add_argument("--name", help="name shown on the car (default: the file name)")
    p.add_argument("--activate", action="store_true", help="make it the car's active model")
    p.add_argument("--start", action="store_true", help="activate and start driving (the car must be stopped)")
    p.add_argument("--max-speed", type=float, help="speed cap for --start, 0..1 (default: the car's, 0.5)")
    p.set_defaults(func=_flash)


def _flash(args) -> int:
    from racekit.cli import UserError
    from racekit.hardware.errors import ModelError
    from racekit.hardware.model import load_policy
    from racekit.hardware.server.client import CarError, file_sha256

    if not os.path.isfile(args.model):
        raise UserError(f"{args.model}: model file not found")
    if args.max_speed is not None and not 0 <= args.max_speed <= 1:
        raise UserError("--max-speed must be in [0, 1] (a fraction of full throttle)")
    try:
        spec = load_policy(args.model).spec
    except ModelError as exc:
        raise UserError(str(exc)) from None
    client = connect(args)
    sha = file_sha256(args.model)
    name = args.name or os.path.basename(args.model)
    try:
        client.status()  # token and address first: a refused upload would send the whole file for nothing
        print(f"uploading {args.model} ({os.path.getsize(args.model)} bytes, sha256 {sha[:12]}, "
              f"{spec.camera.width}x{spec.camera.height}x{spec.camera.channels} stack {spec.camera.frame_stack}) "
              f"to {client.url}", flush=True)
        record = client.upload(args.model, name=name, sha256=sha)
        if record.get("sha256") != sha:
            raise UserError(f"the car reports sha256 {record.get('sha256')}, the file has {sha}: not activated")
        print(f"stored on the car as {record['name']} (sha256 verified)")
        if args.activate or args.start:
            client.activate(sha)
        if args.start:
            client.start(args.max_speed)
        status = client.status()
    except CarError as exc:
        raise UserError(str(exc)) from None
    print(format_status(status))
    active = (status.get("active") or {}).get("sha256")
    if (args.activate or args.start) and active != sha:
        raise UserError(f"the car's active model is {active}, not the one flashed")
    return 0
