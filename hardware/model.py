"""The ONNX model file: read its racekit metadata, check the contract, run it.

The contract (written by the trainer's exporter, see DESIGN.md section 5):
- an input "frames": uint8 [batch, H, W, C], C = cameras * channels * frame_stack,
  channel-last, RGB order when channels == 3, stacked frames oldest first; a
  stereo pair ("stereo-cameras": camera.cameras 2, channels 1) gives each frame
  as grey left then grey right;
- with a LIDAR, a second input "lidar": float32 [batch, N], N = 64 ("lidar"),
  8 ("sector-lidar") or sectors * values ("discretized-sector-lidar");
- one output "action": float32 [batch, 2] = (steering_deg, speed_mps),
  positive steering = left;
- metadata_props["racekit"] = JSON with format 1, camera, control_hz, action_space,
  and optionally "sensors" (racekit's names, camera first; absent = ["front-camera"])
  and "lidar_config" (num_sectors, num_values_per_sector, clipping_dist) for
  "discretized-sector-lidar" (absent: DeepRacer's defaults).
  The camera may also say what the simulator showed the model in training: "fov_deg" (its lens), "mount" and
  "look" (names: "deepracer" for a model from DeepRacer's simulator). The car has its own lens and world, so
  here they are read and kept (strings, if present), never acted on; the simulator (racekit/racing.py) refuses
  names it does not know.

A file that breaks any of this is refused with a ModelError naming the file and
the fault, before the car loop opens the motor controller.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field

import numpy as np

from racekit.hardware.errors import ModelError
from racekit.hardware.lidar_observation import SENSORS as LIDAR_SENSORS
from racekit.hardware.lidar_observation import LidarConfig, observation_size

METADATA_KEY = "racekit"
SUPPORTED_FORMAT = 1
INPUT_NAME = "frames"
LIDAR_INPUT = "lidar"
OUTPUT_NAME = "action"
CAMERA_SENSORS = ("front-camera", "stereo-cameras")
SENSORS = CAMERA_SENSORS + LIDAR_SENSORS


@dataclass(frozen=True)
class CameraSpec:
    width: int
    height: int
    channels: int  # 1 = grayscale, 3 = RGB
    frame_stack: int
    fov_deg: float | None = None
    mount: str | None = None  # where the simulator put the camera in training; None: racekit's (the car ignores it)
    look: str | None = None  # how the simulator's world looked; None: racekit's (the car ignores it)
    cameras: int = 1  # 2: a stereo pair, each frame grey left then grey right

    @property
    def depth(self) -> int:
        """Channels of the model input: cameras * channels * frame_stack."""
        return self.cameras * self.channels * self.frame_stack


@dataclass(frozen=True)
class ActionSpace:
    type: str  # "continuous" or "discrete"
    steering_deg: tuple[float, float]
    speed_mps: tuple[float, float]
    actions: tuple[tuple[float, float], ...] = ()

    @property
    def max_steering_deg(self) -> float:
        """Largest |steering|: the angle that maps to a full servo deflection."""
        return max(abs(self.steering_deg[0]), abs(self.steering_deg[1]))

    @property
    def max_speed_mps(self) -> float:
        """The speed that maps to full throttle (before the user's speed cap)."""
        return self.speed_mps[1]


class ReadsSensors:
    """What a sensor list (`self.sensors`: racekit's names, the camera first) says: a stereo pair? which LIDAR?"""

    sensors: tuple[str, ...]

    @property
    def stereo(self) -> bool:
        return self.sensors[0] == "stereo-cameras"

    @property
    def lidar(self) -> str | None:
        """The LIDAR sensor, or None."""
        return next((s for s in self.sensors if s in LIDAR_SENSORS), None)


@dataclass(frozen=True)
class ModelSpec(ReadsSensors):
    camera: CameraSpec
    control_hz: float
    action_space: ActionSpace
    extra: dict = field(default_factory=dict)  # track, reward_sha256, ...: shown, not used
    sensors: tuple[str, ...] = ("front-camera",)  # racekit's names, the camera first
    lidar_config: LidarConfig | None = None  # "discretized-sector-lidar" only

    @property
    def lidar_size(self) -> int | None:
        """Length of the "lidar" input, or None without a LIDAR."""
        return None if self.lidar is None else observation_size(self.lidar, self.lidar_config)


def _field(obj: dict, key: str, where: str, kinds: tuple[type, ...]):
    """obj[key], checked for type; bool is refused where a number is expected."""
    if not isinstance(obj, dict) or key not in obj:
        raise ValueError(f"metadata field {where}{key} is missing")
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ValueError(f"metadata field {where}{key} has the wrong type ({type(value).__name__})")
    return value


def _positive_int(obj: dict, key: str, where: str) -> int:
    value = _field(obj, key, where, (int,))
    if value < 1:
        raise ValueError(f"metadata field {where}{key} must be >= 1, got {value}")
    return value


def _finite_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _range(obj: dict, key: str, where: str) -> tuple[float, float]:
    value = _field(obj, key, where, (list,))
    if len(value) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise ValueError(f"metadata field {where}{key} must be [low, high]")
    low, high = float(value[0]), float(value[1])
    if not (_finite_number(low) and _finite_number(high)) or low > high:
        raise ValueError(f"metadata field {where}{key} must be a finite [low, high] with low <= high")
    return low, high


def _action_space(raw: dict) -> ActionSpace:
    kind = _field(raw, "type", "action_space.", (str,))
    if kind == "continuous":
        steering = _range(raw, "steering_deg", "action_space.")
        speed = _range(raw, "speed_mps", "action_space.")
        space = ActionSpace("continuous", steering, speed)
    elif kind == "discrete":
        actions = _field(raw, "actions", "action_space.", (list,))
        pairs = []
        for i, pair in enumerate(actions):
            if not isinstance(pair, list) or len(pair) != 2 or not all(_finite_number(v) for v in pair):
                raise ValueError(f"metadata field action_space.actions[{i}] must be [steering_deg, speed_mps]")
            pairs.append((float(pair[0]), float(pair[1])))
        if not pairs:
            raise ValueError("metadata field action_space.actions is empty")
        steers = [p[0] for p in pairs]
        speeds = [p[1] for p in pairs]
        space = ActionSpace("discrete", (min(steers), max(steers)), (min(speeds), max(speeds)), tuple(pairs))
    else:
        raise ValueError(f"metadata field action_space.type must be 'continuous' or 'discrete', got {kind!r}")
    if space.max_speed_mps <= 0:
        raise ValueError("metadata action_space has no positive speed: the car could never move")
    return space


def _sensors(raw: dict) -> tuple[str, ...]:
    """metadata "sensors": exactly one camera, first, and at most one LIDAR (DeepRacer's rule)."""
    if "sensors" not in raw:
        return ("front-camera",)
    sensors = _field(raw, "sensors", "", (list,))
    for s in sensors:
        if not isinstance(s, str) or s not in SENSORS:
            raise ValueError(f"metadata field sensors names an unknown sensor {s!r} (known: {', '.join(SENSORS)})")
    if len(set(sensors)) != len(sensors):
        raise ValueError(f"metadata field sensors lists a sensor twice: {sensors}")
    lidars = [s for s in sensors if s in LIDAR_SENSORS]
    if not sensors or sensors[0] not in CAMERA_SENSORS or len(sensors) - len(lidars) != 1 or len(lidars) > 1:
        raise ValueError(f"metadata field sensors must be one camera ({' or '.join(CAMERA_SENSORS)}) first, "
                         f"then at most one LIDAR; got {sensors}")
    return tuple(sensors)


def _lidar_config(raw: dict, sensors: tuple[str, ...]) -> LidarConfig | None:
    if "discretized-sector-lidar" not in sensors:
        return None
    if raw.get("lidar_config") is None:
        return LidarConfig().check()  # DeepRacer's defaults
    values = _field(raw, "lidar_config", "", (dict,))
    unknown = sorted(set(values) - {"num_sectors", "num_values_per_sector", "clipping_dist"})
    if unknown:
        raise ValueError(f"metadata field lidar_config has unknown field(s) {', '.join(unknown)}")
    try:
        return LidarConfig(**values).check()
    except ValueError as exc:
        raise ValueError(f"metadata field {exc}") from None


def parse_metadata(text: str | None) -> ModelSpec:
    """The racekit metadata JSON -> ModelSpec; ValueError says what is wrong."""
    if text is None:
        raise ValueError(f"no '{METADATA_KEY}' entry in metadata_props (not exported by racekit?)")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"metadata '{METADATA_KEY}' is not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"metadata '{METADATA_KEY}' must be a JSON object")
    fmt = _field(raw, "format", "", (int,))
    if fmt != SUPPORTED_FORMAT:
        raise ValueError(f"metadata format {fmt} is not supported (this runtime reads format {SUPPORTED_FORMAT})")
    cam = _field(raw, "camera", "", (dict,))
    channels = _positive_int(cam, "channels", "camera.")
    if channels not in (1, 3):
        raise ValueError(f"metadata field camera.channels must be 1 (gray) or 3 (RGB), got {channels}")
    fov = cam.get("fov_deg")
    cameras = _positive_int(cam, "cameras", "camera.") if "cameras" in cam else 1
    sensors = _sensors(raw)
    if sensors[0] == "stereo-cameras" and (cameras != 2 or channels != 1):
        raise ValueError(f"metadata sensor stereo-cameras is two grey cameras: camera.cameras must be 2 and "
                         f"camera.channels 1, got {cameras} and {channels}")
    if sensors[0] == "front-camera" and cameras != 1:
        raise ValueError(f"metadata field camera.cameras is {cameras} but the sensors name one front-camera")
    names = {}
    for key in ("mount", "look"):
        if cam.get(key) is not None:
            names[key] = _field(cam, key, "camera.", (str,))
    camera = CameraSpec(
        width=_positive_int(cam, "width", "camera."),
        height=_positive_int(cam, "height", "camera."),
        channels=channels,
        frame_stack=_positive_int(cam, "frame_stack", "camera."),
        fov_deg=float(fov) if isinstance(fov, (int, float)) and not isinstance(fov, bool) else None,
        cameras=cameras,
        **names,
    )
    hz = float(_field(raw, "control_hz", "", (int, float)))
    if not (math.isfinite(hz) and 0 < hz <= 1000):
        raise ValueError(f"metadata field control_hz must be in (0, 1000], got {hz}")
    space = _action_space(_field(raw, "action_space", "", (dict,)))
    config = _lidar_config(raw, sensors)
    extra = {k: v for k, v in raw.items()
             if k not in ("format", "camera", "control_hz", "action_space", "sensors", "lidar_config")}
    return ModelSpec(camera, hz, space, extra, sensors, config)


def _dim_ok(dim, expected: int | None) -> bool:
    """A fixed dim must equal `expected`; a symbolic/unknown one (str/None) is accepted
    only where the contract allows any size (expected None = the batch dim)."""
    if expected is None:
        return dim is None or isinstance(dim, str) or dim == 1
    return dim == expected


def _check_lidar_input(inp, spec: ModelSpec) -> None:
    if inp.type != "tensor(float)":
        raise ValueError(f"input '{LIDAR_INPUT}' is {inp.type}, the contract says tensor(float)")
    size = spec.lidar_size
    if len(inp.shape) != 2 or not _dim_ok(inp.shape[0], None) or not _dim_ok(inp.shape[1], size):
        raise ValueError(f"input '{LIDAR_INPUT}' has shape {inp.shape} but the metadata sensor {spec.lidar} "
                         f"gives [batch, {size}]")


def _check_io(session, spec: ModelSpec) -> None:
    inputs, outputs = session.get_inputs(), session.get_outputs()
    names = [i.name for i in inputs]
    if spec.lidar is None and names != [INPUT_NAME]:
        raise ValueError(f"expected one input named '{INPUT_NAME}', found {names}"
                         + (" (a LIDAR input, but the metadata sensors name no LIDAR)" if LIDAR_INPUT in names else ""))
    if spec.lidar is not None and sorted(names) != sorted([INPUT_NAME, LIDAR_INPUT]):
        raise ValueError(f"expected inputs '{INPUT_NAME}' and '{LIDAR_INPUT}' (metadata sensors "
                         f"{', '.join(spec.sensors)}), found {names}")
    if len(outputs) != 1 or outputs[0].name != OUTPUT_NAME:
        names = [o.name for o in outputs]
        raise ValueError(f"expected one output named '{OUTPUT_NAME}', found {names}")
    by_name = {i.name: i for i in inputs}
    if spec.lidar is not None:
        _check_lidar_input(by_name[LIDAR_INPUT], spec)
    inp, out = by_name[INPUT_NAME], outputs[0]
    if inp.type != "tensor(uint8)":
        raise ValueError(f"input '{INPUT_NAME}' is {inp.type}, the contract says tensor(uint8)")
    cam = spec.camera
    want = [None, cam.height, cam.width, cam.depth]
    if len(inp.shape) != 4 or not all(_dim_ok(d, w) for d, w in zip(inp.shape, want)):
        raise ValueError(
            f"input '{INPUT_NAME}' has shape {inp.shape} but the metadata camera needs "
            f"[batch, {cam.height}, {cam.width}, {cam.depth}] (height, width, "
            + ("cameras*" if cam.cameras > 1 else "") + "channels*frame_stack)")
    if out.type != "tensor(float)":
        raise ValueError(f"output '{OUTPUT_NAME}' is {out.type}, the contract says tensor(float)")
    if len(out.shape) != 2 or not _dim_ok(out.shape[0], None) or not _dim_ok(out.shape[1], 2):
        raise ValueError(f"output '{OUTPUT_NAME}' has shape {out.shape}, the contract says [batch, 2]")


class Policy:
    """A loaded, checked model: `act(frames[, lidar])` -> (steering_deg, speed_mps)."""

    def __init__(self, path: str, session, spec: ModelSpec):
        self.path = path
        self.spec = spec
        self._session = session

    def act(self, frames: np.ndarray, lidar: np.ndarray | None = None) -> tuple[float, float]:
        """Run the model on one stacked input [1, H, W, C] uint8 and, for a model with a LIDAR, its
        observation (float32 [N] or [1, N]).

        Raises ModelError if onnxruntime fails, the LIDAR observation is missing or the output is not
        finite, so the loop can go to neutral instead of sending garbage to the motors.
        """
        feed = {INPUT_NAME: frames}
        if self.spec.lidar is not None:
            if lidar is None:
                raise ModelError(f"{self.path}: the model needs a {self.spec.lidar} observation and got none")
            feed[LIDAR_INPUT] = np.asarray(lidar, np.float32).reshape(1, -1)
        try:
            out = self._session.run([OUTPUT_NAME], feed)[0]
        except Exception as exc:  # onnxruntime raises its own pybind exception types
            raise ModelError(f"{self.path}: inference failed: {exc}") from exc
        out = np.asarray(out, dtype=np.float64).reshape(-1)
        if out.size < 2 or not np.all(np.isfinite(out[:2])):
            raise ModelError(f"{self.path}: model output {out[:2].tolist()} is not two finite numbers")
        return float(out[0]), float(out[1])


def load_policy(path: str | os.PathLike, threads: int = 1) -> Policy:
    """Open and check a racekit ONNX model; ModelError names the file and the fault.

    One intra-op thread by default: on a Raspberry Pi the camera thread and the
    loop need the other cores, and a tiny network gains nothing from threads.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelError(f"{path}: model file not found")
    import onnxruntime as ort  # imported here: it is the slowest import of the runtime

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only; warnings would clutter the car's console
    try:
        session = ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # InvalidProtobuf, Fail, ...: all mean "not a usable ONNX file"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: not a loadable ONNX model ({first})") from None
    try:
        spec = parse_metadata(session.get_modelmeta().custom_metadata_map.get(METADATA_KEY))
        _check_io(session, spec)
    except ValueError as exc:
        raise ModelError(f"{path}: {exc}") from None
    return Policy(path, session, spec)
