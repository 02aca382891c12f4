"""The model a new run starts from (`racekit train --from`): another run, a checkpoint, or a DeepRacer model.

Its network, camera, action space and policy distribution must be the new run's, or the weights could not
mean the same thing: a RunError names the difference, before anything of the run is written.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from racekit.agent.checkpoint import CheckpointError, load_checkpoint
from racekit.agent.deepracer.sources import is_deepracer_source
from racekit.agent.errors import RunError

LENS_DEFAULTS = {"fov_deg": 120.0, "mount": "racekit", "look": "racekit"}  # a camera dict without them


def sha256_of(path: str | None) -> str | None:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path else None


def describe_camera(camera: dict) -> str:
    lens = [f"{camera['fov_deg']:g} deg" if camera.get("fov_deg", 120.0) != 120.0 else ""] + \
        [f"{camera[k]} {k}" for k in ("mount", "look") if camera.get(k, "racekit") != "racekit"]
    return (f"{camera['width']}x{camera['height']} {'gray' if camera['channels'] == 1 else 'rgb'} "
            f"x{camera['frame_stack']}" + "".join(f", {x}" for x in lens if x))


def describe_actions(actions: dict, listed: bool = False) -> str:
    if actions["type"] == "discrete":
        return f"{len(actions['actions'])} discrete actions" + (" " + " ".join(
            f"({a[0]:g},{a[1]:g})" for a in actions["actions"]) if listed else "")
    (s0, s1), (v0, v1) = actions["steering_deg"], actions["speed_mps"]
    return f"continuous steering {s0:g}..{s1:g} deg, speed {v0:g}..{v1:g} m/s"


def source_model(source: str | dict, cfg) -> tuple[dict, dict]:
    """The run or checkpoint a new run starts from (--from): (its record for the config, its checkpoint).

    A run directory gives its best checkpoint, else its last. Its camera and action space must be this
    run's, or the weights could not mean the same thing: a RunError names the difference.
    """
    from racekit.agent.export import ExportError, distribution_of, find_checkpoint  # export imports nothing of train

    given = source["path"] if isinstance(source, dict) else str(source)
    if is_deepracer_source(given):
        path, state = deepracer_state(given, sac=cfg.algorithm == "sac")
        checkpoint = Path(given).resolve()  # the model itself: a --from run reads it again from there
    else:
        try:
            path = find_checkpoint(given)
            state = load_checkpoint(path)
        except (ExportError, CheckpointError) as exc:
            message = str(exc)
            raise RunError(f"--from {given}: {message.removeprefix(f'{given}: ')}") from None
        checkpoint = path.resolve()
    missing = {"camera", "actions", "obs_shape"} - set(state)
    if missing:
        raise RunError(f"--from {given}: {path} lacks {', '.join(sorted(missing))} (not written by racekit train?)")
    theirs_sac = distribution_of(state) == "squashed"
    if cfg.algorithm == "sac" and not theirs_sac:
        raise RunError(f"--from {given}: a PPO policy ({distribution_of(state)}); a SAC run starts from a SAC run only "
                       f"(train this one with PPO, or start the SAC run afresh)")
    if cfg.algorithm != "sac" and theirs_sac:
        raise RunError(f"--from {given}: a SAC run; train it on with --algorithm sac (PPO cannot go on from SAC's "
                       f"policy)")
    network = state.get("network") or "racekit"
    if isinstance(network, dict):  # a SAC policy's network is kept whole; its run's --network names it
        network = (state.get("run") or {}).get("network", "racekit")
    if network != cfg.network:
        raise RunError(f"--from {given}: its network is {network}, this run's {cfg.network} "
                       f"(--network {network} to start from it)")
    keys = ("width", "height", "channels", "frame_stack", "fov_deg", "mount", "look")
    theirs, ours = ({k: camera.get(k, LENS_DEFAULTS.get(k)) for k in keys} for camera in (state["camera"], cfg.camera()))
    if theirs != ours:
        raise RunError(f"--from {given}: camera {describe_camera(theirs)} differs from this run's "
                       f"{describe_camera(ours)}")
    theirs_sensors = {"sensors": list(state["camera"].get("sensors") or ["front-camera"]),
                      "lidar_config": state["camera"].get("lidar_config")}
    ours_sensors = {"sensors": list(cfg.sensors), "lidar_config": cfg.lidar_config}
    if theirs_sensors != ours_sensors:
        named = " ".join(f"--sensor {s}" for s in theirs_sensors["sensors"])
        raise RunError(f"--from {given}: its sensors are {', '.join(theirs_sensors['sensors'])}"
                       f"{' ' + json.dumps(theirs_sensors['lidar_config']) if theirs_sensors['lidar_config'] else ''}"
                       f", this run's {', '.join(ours_sensors['sensors'])} ({named} to start from it)")
    spec = cfg.action_spec().as_dict()
    theirs = json.loads(json.dumps(state["actions"]))
    if theirs != json.loads(json.dumps(spec)):
        listed = theirs.get("type") == spec["type"] == "discrete" and len(theirs["actions"]) == len(spec["actions"])
        raise RunError(f"--from {given}: action space {describe_actions(theirs, listed)} differs from this "
                       f"run's {describe_actions(spec, listed)}")
    their_distribution = distribution_of(state)
    follow = isinstance(source, dict) and source.get("follow_distribution")
    if follow and cfg.algorithm == "ppo" and cfg.actions is None and their_distribution in ("gaussian", "beta"):
        cfg.ppo.distribution = their_distribution  # no --distribution given: the model's own
    if their_distribution != cfg.distribution():
        raise RunError(f"--from {given}: its policy's distribution is {their_distribution}, this run's "
                       f"{cfg.distribution()} (--distribution {their_distribution} to start from it)")
    record = {"path": given, "checkpoint": str(checkpoint),
              "sha256": state.get("sha256") or sha256_of(str(path)),
              "run": path.parent.parent.name if path.parent.name == "checkpoints" else None,
              "global_step": int(state.get("global_step", 0))}
    return record, state


def deepracer_state(given: str, sac: bool = False) -> tuple[Path, dict]:
    """A DeepRacer model (any layout) as the checkpoint a --from run starts from: its policy's weights with
    a fresh value head, its camera (DeepRacer's), its action space and its network. A DeepRacer SAC model
    starts a SAC run (`sac`): its policy (the preset, then SAC's dense 256), with fresh critics."""
    from racekit.agent.deepracer.errors import DeepRacerError
    from racekit.agent.deepracer.importer import load_deepracer, network_value

    try:
        imported = load_deepracer(given)
    except DeepRacerError as exc:
        raise RunError(f"--from {exc}") from None
    model, algorithm = imported.model, imported.meta.algorithm
    if algorithm == "sac" and not sac:
        raise RunError(f"--from {given}: a SAC model; train it on with --algorithm sac (PPO cannot go on from SAC's "
                       f"policy)")
    if algorithm != "sac" and isinstance(network_value(imported.network, imported.meta), dict):
        raise RunError(f"--from {given}: DeepRacer's own stereo-pair network of {imported.meta.raw['neural_network']}, "
                       f"which racekit does not train (it races and exports as it is); train afresh, or from a "
                       f"DEEP_CONVOLUTIONAL_NETWORK_SHALLOW stereo model")
    return Path(imported.source.graph_name), {
        "model": model.state_dict(), "camera": imported.camera(), "actions": imported.meta.actions.as_dict(),
        "obs_shape": list(model.obs_shape), "lidar_size": model.lidar_size, "global_step": 0,
        "sha256": imported.source.sha256,
        **({"network": model.network.as_dict(), "run": {"algorithm": "sac", "network": imported.meta.network}}
           if algorithm == "sac" else {"network": imported.meta.network})}
