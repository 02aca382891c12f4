"""What the model looks at: a heat map over the camera frame of the pixels its steering depends on.

Frames: the car is put on the track at `points` places spread over the lap, on the route of its best lap where
there is one (the poses of its last `frame_stack` steps there, so the stacked frames are the ones it saw while
driving), else on the centre line at rest; the env (racekit.sim.env.TimeTrialEnv with the model's camera)
renders what its front camera sees there.

Heat maps:
- a PyTorch checkpoint: the gradient of the steering output with respect to the input pixels, averaged over
  noisy copies of the frame (SmoothGrad, Smilkov et al. 2017: plain gradients of a ReLU network are speckled).
  The steering output is the actor's mean before it is clipped (continuous), or the steering expected under
  the action probabilities (discrete: the chosen action itself has no gradient);
- an ONNX model (what `racekit analyze MODEL.onnx` has): occlusion (Zeiler and Fergus 2014), through
  onnxruntime: each patch of the frame is blurred in turn, in every stacked frame at once, and the heat is how
  far the model's steering moves (degrees).
Both are scaled to 0..1 per frame: they say where, not how much across frames. A stereo pair's model gets a
heat map on each camera, shown side by side (left, right); a model with a LIDAR is given the scan the LIDAR
makes at each place, unchanged while its camera's pixels are probed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from racekit.analyze.stats import REFERENCE_AHEAD

SMOOTHGRAD_SAMPLES = 12
SMOOTHGRAD_NOISE = 0.1 * 255  # pixel levels
DISPLAY_HEIGHT = 240


@dataclass
class SaliencyFrame:
    fraction: float  # of the lap from the start line
    x: float  # the car's centre
    y: float
    frame: np.ndarray  # the newest camera frame (H, W, channels) uint8
    heat: np.ndarray  # (H, W) 0..1
    steering: float  # what the model commands there: degrees, m/s
    speed: float


def poses(track, lap, points: int, stack: int) -> list[tuple[float, list[tuple[float, float, float]]]]:
    """[(fraction, [(x, y, yaw radians) of the car's centre, oldest first, `stack` of them])] at `points` places.

    From `lap` (stats.Lap) when given: its rows nearest each place; else the centre line, the car at rest.
    """
    fractions = (np.arange(points) + 0.5) / points
    out = []
    if lap is not None and len(lap.x) >= stack:
        s = track.s[np.clip(lap.waypoint, 0, len(track.s) - 1)]
        for f in fractions:
            gap = np.abs((s - f * track.length + track.length / 2) % track.length - track.length / 2)
            gap[: stack - 1] = np.inf  # room for the earlier frames of the stack
            i = int(np.argmin(gap))
            stacked = []
            for j in range(i - stack + 1, i + 1):
                yaw = np.radians(lap.yaw[j])
                stacked.append((float(lap.x[j] - REFERENCE_AHEAD * np.cos(yaw)),
                                float(lap.y[j] - REFERENCE_AHEAD * np.sin(yaw)), float(yaw)))
            out.append((float(s[i] / track.length), stacked))
        return out
    for f in fractions:
        x, y, yaw = track.start_pose(f)
        out.append((float(f), [(x, y, yaw)] * stack))
    return out


def render(track, camera: dict, actions: dict, places) -> tuple[np.ndarray, np.ndarray | None]:
    """The observations the model gets at `places` (from `poses`): frames (N, H, W, depth) uint8, and for a
    model with a LIDAR its values there (N, size), else None."""
    from racekit.agent.evaluate import action_bounds, camera_kwargs
    from racekit.sim.env import TimeTrialEnv
    from racekit.sim.sensors import lidar_observation

    env = TimeTrialEnv(track=track, **camera_kwargs(camera), **action_bounds(actions))
    try:
        env.reset(seed=0, options={"start_fraction": 0.0})
        observations, scans = [], []
        for _, stacked in places:
            frames = []
            for x, y, yaw in stacked:
                env.world.place_car(x, y, yaw)
                frames.append(env.world.stereo_cameras(env.camera) if env.stereo else env.world.front_camera(env.camera))
            observations.append(np.concatenate(frames, axis=2))
            if env.lidar is not None:
                scans.append(lidar_observation(env.lidar.scan(), env.lidar_sensor, env.lidar_config))
    finally:
        env.close()
    return np.stack(observations), (np.stack(scans) if scans else None)


def per_camera(grad: np.ndarray, cameras: int) -> np.ndarray:
    """(H, W, depth) of one observation -> (H, W * cameras): each camera's channels summed, side by side."""
    return np.concatenate([grad[:, :, c::cameras].sum(-1) for c in range(cameras)], axis=1)


def torch_saliency(policy, observations: np.ndarray, seed: int = 0, lidar: np.ndarray | None = None,
                   cameras: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(heat (N, H, W * cameras) 0..1, the policy's (steering, speed) (N, 2)) by SmoothGrad of the steering
    output; `lidar` (N, size): the LIDAR's values at each place, for a model that reads one."""
    import torch

    model = policy.model
    scans = None if lidar is None else torch.from_numpy(lidar)
    with torch.no_grad():
        commands = policy(torch.from_numpy(observations), scans).numpy()
    generator = torch.Generator().manual_seed(seed)
    base = torch.from_numpy(observations).float()
    heats = []
    for i, frame in enumerate(base):
        noisy = frame.expand(SMOOTHGRAD_SAMPLES, *frame.shape).clone()
        noisy += torch.randn(noisy.shape, generator=generator) * SMOOTHGRAD_NOISE
        noisy = noisy.clamp(0, 255).requires_grad_(True)
        scan = None if scans is None else scans[i].expand(SMOOTHGRAD_SAMPLES, -1)
        out = model.greedy(model.joined(noisy, scan))
        if model.actions.discrete:
            steering = (torch.softmax(out, dim=-1) * policy.table[:, 0]).sum(-1)
        else:
            steering = out[:, 0]
        steering.sum().backward()
        heats.append(per_camera(noisy.grad.abs().mean(0).numpy(), cameras))
    return np.stack([normalise(cv2.GaussianBlur(h, (0, 0), 1.0)) for h in heats]), commands


def onnx_saliency(path: Path, observations: np.ndarray, lidar: np.ndarray | None = None,
                  cameras: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(heat (N, H, W * cameras) 0..1, the model's (steering, speed) (N, 2)) by occluding patches of each camera
    in turn, through onnxruntime; `lidar` (N, size): the LIDAR's values at each place, for a model with one."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(batch: np.ndarray, scan: np.ndarray | None) -> np.ndarray:
        outs = []
        for i in range(0, len(batch), 128):
            feed = {name: batch[i:i + 128]}
            if scan is not None:  # the same scan beside every probed picture
                feed["lidar"] = np.repeat(scan[None], len(feed[name]), axis=0)
            outs.append(session.run(None, feed)[0])
        return np.concatenate(outs)

    commands = np.concatenate([run(obs[None], None if lidar is None else lidar[k])
                               for k, obs in enumerate(observations)])
    _, height, width, _ = observations.shape
    patch = max(4, round(min(height, width) / 6))
    stride = max(2, patch // 2)
    rows = sorted(set(range(0, height - patch + 1, stride)) | {height - patch})
    cols = sorted(set(range(0, width - patch + 1, stride)) | {width - patch})
    heats = []
    for n, (obs, command) in enumerate(zip(observations, commands)):
        blurred = cv2.GaussianBlur(obs, (0, 0), patch / 2)
        if blurred.ndim == 2:
            blurred = blurred[:, :, None]
        maps = []
        for camera in range(cameras):  # each camera's patch blurred on its own (every frame of the stack at once)
            batch = np.repeat(obs[None], len(rows) * len(cols), axis=0)
            for k, (r, c) in enumerate((r, c) for r in rows for c in cols):
                batch[k, r:r + patch, c:c + patch, camera::cameras] = blurred[r:r + patch, c:c + patch, camera::cameras]
            moved = np.abs(run(batch, None if lidar is None else lidar[n])[:, 0] - command[0])
            heat, count = np.zeros((height, width)), np.zeros((height, width))
            for k, (r, c) in enumerate((r, c) for r in rows for c in cols):
                heat[r:r + patch, c:c + patch] += moved[k]
                count[r:r + patch, c:c + patch] += 1
            maps.append(cv2.GaussianBlur(heat / np.maximum(count, 1), (0, 0), patch / 3))
        heats.append(normalise(np.concatenate(maps, axis=1)))
    return np.stack(heats), commands


def normalise(heat: np.ndarray) -> np.ndarray:
    top = float(np.percentile(heat, 99.5)) if heat.size else 0.0
    if not top > 0:
        return np.zeros_like(heat, dtype=float)
    return np.clip(heat / top, 0.0, 1.0)


def overlay(frame: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """The frame (H, W, 1 or 3) upscaled to DISPLAY_HEIGHT rows, the heat over it (jet: blue low, red high)."""
    rgb = np.repeat(frame, 3, axis=2) if frame.shape[2] == 1 else frame
    height, width = frame.shape[:2]
    k = max(1, round(DISPLAY_HEIGHT / height))
    size = (width * k, height * k)
    big = cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR).astype(float)
    hot = np.clip(cv2.resize(heat.astype(np.float32), size, interpolation=cv2.INTER_CUBIC), 0, 1)
    colour = cv2.applyColorMap((hot * 255).astype(np.uint8), cv2.COLORMAP_JET)[:, :, ::-1].astype(float)
    alpha = 0.75 * hot[:, :, None] ** 1.3  # the low end stays clear: the frame shows through
    return (big * (1 - alpha) + colour * alpha).round().astype(np.uint8)


def upscaled(frame: np.ndarray) -> np.ndarray:
    rgb = np.repeat(frame, 3, axis=2) if frame.shape[2] == 1 else frame
    k = max(1, round(DISPLAY_HEIGHT / frame.shape[0]))
    return cv2.resize(rgb, (frame.shape[1] * k, frame.shape[0] * k), interpolation=cv2.INTER_LINEAR)


def load_torch_policy(checkpoint: Path):
    """(DeterministicPolicy, camera, actions) of a checkpoint; raises CheckpointError/ExportError (one line)."""
    from racekit.agent.export import load_policy_checkpoint

    policy, state = load_policy_checkpoint(Path(checkpoint))
    return policy, state["camera"], state["actions"]


def saliency_frames(track, lap, points: int, checkpoint: Path | None = None, model_file: Path | None = None,
                    camera: dict | None = None, actions: dict | None = None) -> tuple[list[SaliencyFrame], str]:
    """The frames with their heat maps, and the method's name. A checkpoint (PyTorch gradients) is used where
    there is one, else the ONNX model file (occlusion; `camera` and `actions` are its own)."""
    if checkpoint is not None:
        policy, camera, actions = load_torch_policy(checkpoint)
        method = "gradient"
    elif model_file is not None:
        policy, method = None, "occlusion"
    else:
        raise ValueError("saliency needs a checkpoint or a model file")
    places = poses(track, lap, points, int(camera["frame_stack"]))
    observations, lidar = render(track, camera, actions, places)
    cameras = int(camera.get("cameras", 1))
    if method == "gradient":
        heats, commands = torch_saliency(policy, observations, lidar=lidar, cameras=cameras)
    else:
        heats, commands = onnx_saliency(model_file, observations, lidar=lidar, cameras=cameras)
    channels = int(camera["channels"])
    newest = (lambda obs: per_camera_frame(obs, cameras)) if cameras > 1 else (lambda obs: obs[:, :, -channels:])
    return [SaliencyFrame(f, stacked[-1][0], stacked[-1][1], newest(obs), heat, float(c[0]), float(c[1]))
            for (f, stacked), obs, heat, c in zip(places, observations, heats, commands)], method


def per_camera_frame(obs: np.ndarray, cameras: int) -> np.ndarray:
    """The newest frame of each camera of a stacked observation (H, W, depth), side by side: (H, W * cameras, 1)."""
    return np.concatenate([obs[:, :, obs.shape[2] - cameras + c][:, :, None] for c in range(cameras)], axis=1)
