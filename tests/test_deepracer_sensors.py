"""DeepRacer models with a stereo pair and a LIDAR, both ways: racekit's sensor policies exported as car
tarballs, TensorFlow running the written .pb on the simulator's own stereo frames and LIDAR values gives what
racekit's model file gives; DeepRacer graphs built in TensorFlow as rl_coach builds them (each sensor's
embedder, the merger, the middleware) import into racekit model files that give TensorFlow's outputs, and go
back out again; and model_metadata.json or a graph that DeepRacer would not run is one line naming the file.

A run is made here as a checkpoint written the way `racekit train` writes one (tests/test_deepracer_export.py
does the same for the front camera), with random weights: no training needed."""
from __future__ import annotations

import functools
import importlib.util
import json
import tarfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from tensorboard.compat.proto import graph_pb2

from racekit.agent.checkpoint import save_checkpoint
from racekit.agent.deepracer.errors import DeepRacerError
from racekit.agent.deepracer.exporter import bare_model, export_deepracer
from racekit.agent.deepracer.graph_writer import input_name, output_name
from racekit.agent.deepracer.importer import import_model
from racekit.agent.export import export_onnx
from racekit.agent.policy import ActionSpec
from racekit.cli import main
from racekit.sim.sensors import DEEPRACER_NAMES, LidarConfig, lidar_space
from tests.deepracer_graphs import converted_outputs, has_tensorflow, run_graph, write_model

if not has_tensorflow():
    pytest.skip("TensorFlow (a test-only dependency) is not installed", allow_module_level=True)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TABLE = ((-30.0, 1.0), (-15.0, 1.5), (0.0, 2.5), (15.0, 1.5), (30.0, 1.0))
LOW, HIGH = (-30.0, 0.5), (30.0, 3.0)
CONFIG = {"num_sectors": 4, "num_values_per_sector": 8, "clipping_dist": 2.0}  # not DeepRacer's defaults: a test
# that it travels


def lidar_size(sensor: str, config: dict | None = None) -> int:
    return int(lidar_space(sensor, LidarConfig.from_dict(config)).shape[0])


def observations(sensors: list[str], config: dict | None = None, n: int = 5) -> tuple[np.ndarray, np.ndarray | None]:
    """The simulator's own observations at 160x120, beside boxes on the track so that the LIDAR sees some: (frames,
    LIDAR values), each a batch of n; rendered once per module for each sensor list and LIDAR config (several
    cases share them), each caller given its own copies."""
    frames, values = _observations(tuple(sensors), json.dumps(config, sort_keys=True), n)
    return frames.copy(), (values.copy() if values is not None else None)


@functools.lru_cache(maxsize=None)
def _observations(sensors: tuple[str, ...], config_json: str, n: int) -> tuple[np.ndarray, np.ndarray | None]:
    from racekit.sim.env import TimeTrialEnv

    sensors, config = list(sensors), json.loads(config_json)
    env = TimeTrialEnv(track="piccolo", camera_width=160, camera_height=120, race_type="object-avoidance",
                       num_objects=4, sensors=sensors, lidar_config=config)
    frames, values = [], []
    try:
        for i, fraction in enumerate(np.linspace(0.0, 0.8, n)):
            env.start_fraction = float(fraction)
            obs, _ = env.reset(seed=i)
            camera, lidar = (obs[sensors[0]], obs[sensors[1]]) if isinstance(obs, dict) else (obs, None)
            frames.append(camera)
            values.append(lidar)
    finally:
        env.close()
    return np.stack(frames), (np.stack(values) if len(sensors) > 1 else None)


def make_run(folder: Path, network: str, kind: str, sensors: list[str], config: dict | None, inputs, seed: int = 0):
    """A run folder with checkpoints/best.pt as `racekit train` writes one for these sensors, its weights random
    (seeded) and its head scaled so that its outputs on `inputs` vary by about 1 around 0."""
    spec = ActionSpec(table=TABLE) if kind == "discrete" else ActionSpec(low=LOW, high=HIGH)
    stereo = sensors[0] == "stereo-cameras"
    obs_shape = (120, 160, 2 if stereo else 1)
    size = lidar_size(sensors[1], config) if len(sensors) > 1 else 0
    model = bare_model(obs_shape, spec, "gaussian", network, size)
    generator = torch.Generator().manual_seed(seed)
    frames, lidar = (torch.from_numpy(a) if a is not None else None for a in inputs)
    with torch.no_grad():
        for parameter in model.parameters():
            fan_in = int(np.prod(parameter.shape[1:])) if parameter.dim() > 1 else 1
            parameter.normal_(0.0, 0.05 if parameter.dim() == 1 else np.sqrt(2.0 / fan_in), generator=generator)
        out = model.actor(model.joined(frames, lidar))
        std = out.std(dim=0).clamp_min(1e-6)
        model.actor.weight.div_(std[:, None])
        model.actor.bias.sub_(out.mean(dim=0)).div_(std)
    camera = {"width": 160, "height": 120, "channels": 1, "fov_deg": 120.0, "frame_stack": 1}
    if sensors != ["front-camera"]:
        camera["sensors"] = list(sensors)
    if stereo:
        camera["cameras"] = 2
    if config:
        camera["lidar_config"] = config
    save_checkpoint(folder / "checkpoints" / "best.pt", {
        "model": model.state_dict(), "optimizer": {}, "global_step": 1234, "update": 3, "best": None,
        "run": {"track": "piccolo", "ppo": {"distribution": "gaussian"}}, "obs_shape": list(obs_shape),
        "lidar_size": size, "actions": spec.as_dict(), "camera": camera, "reward_sha256": None, "network": network})
    return folder


def onnx_head(path: Path, kind: str, frames: np.ndarray, lidar: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(action, what DeepRacer's graph outputs) of a racekit model file: the softmax of the logits (discrete), PPO's
    mean before its Clip, SAC's mean before its last Tanh."""
    model = onnx.load(str(path))
    before = {"discrete": "ArgMax", "continuous": "Clip", "sac": "Tanh"}[kind]
    node = [n for n in model.graph.node if n.op_type == before][-1 if kind == "sac" else 0]
    model.graph.output.append(onnx.helper.make_tensor_value_info(node.input[0], onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {"frames": frames, **({"lidar": lidar} if lidar is not None else {})}
    action, inner = session.run(None, feeds)
    if kind == "discrete":
        e = np.exp(inner - inner.max(axis=1, keepdims=True))
        inner = e / e.sum(axis=1, keepdims=True)
    return action, inner


def tarball(path: Path) -> tuple[bytes, dict]:
    with tarfile.open(path) as archive:
        pb, meta = (archive.extractfile(name).read() for name in ("agent/model.pb", "model_metadata.json"))
    return pb, json.loads(meta)


def ids(cases) -> list[str]:
    values = [case.values if hasattr(case, "values") else case for case in cases]  # pytest.param or a tuple
    return ["-".join([network.removeprefix("deepracer-"), kind, *sensors]) for network, kind, sensors, _ in values]


def algorithm(kind: str) -> str:
    return "sac" if kind == "sac" else "clipped_ppo"


EXPORTS = [("deepracer-shallow", "discrete", ["stereo-cameras", "lidar"], None),
           ("deepracer-shallow", "continuous", ["stereo-cameras", "sector-lidar"], None),
           ("deepracer-standard", "continuous", ["front-camera", "lidar"], None),
           ("deepracer-deep", "discrete", ["front-camera", "discretized-sector-lidar"], CONFIG),
           ("deepracer-shallow", "discrete", ["stereo-cameras"], None)]


@pytest.mark.parametrize("network,kind,sensors,config", EXPORTS, ids=ids(EXPORTS))
def test_tensorflow_runs_the_exported_sensor_model_as_racekit_does(tmp_path, network, kind, sensors, config):
    frames, lidar = observations(sensors, config)
    run = make_run(tmp_path / "run", network, kind, sensors, config, (frames, lidar))
    exported = export_deepracer(run, tmp_path / "model.tar.gz")
    export_onnx(run, tmp_path / "model.onnx")
    pb, meta = tarball(tmp_path / "model.tar.gz")
    names = [DEEPRACER_NAMES[s] for s in sensors]
    assert meta["sensor"] == names and exported.network == network
    assert meta.get("lidar_config") == config
    # one placeholder per sensor under DeepRacer's name and shape; the camera's frames 0-255, the LIDAR's as they are
    nodes = {n.name: n for n in graph_pb2.GraphDef.FromString(pb).node}
    shapes = {"STEREO_CAMERAS": [-1, 120, 160, 2], "FRONT_FACING_CAMERA": [-1, 120, 160, 1]}
    for name, sensor in zip(names, sensors):
        placeholder = nodes[input_name("clipped_ppo", name)]
        wanted = shapes[name] if name in shapes else [-1, lidar_size(sensor, config)]
        assert placeholder.op == "Placeholder" and [d.size for d in placeholder.attr["shape"].shape.dim] == wanted
    assert sum(n.op == "Placeholder" for n in nodes.values()) == len(sensors)
    assert (len(sensors) > 1) == any(n.op == "ConcatV2" for n in nodes.values())
    # TensorFlow on the .pb, fed as DeepRacer feeds it (float 0-255 frames, the LIDAR's values), against onnxruntime
    theirs = run_graph(pb, frames, "clipped_ppo", lidar, names)
    action, ours = onnx_head(tmp_path / "model.onnx", kind, frames, lidar)
    np.testing.assert_allclose(theirs, ours, atol=1e-4)
    assert theirs.std(axis=0).max() > 0.01, theirs  # outputs that differ from place to place: a test that could fail
    if kind == "discrete":
        np.testing.assert_array_equal(np.array(TABLE)[theirs.argmax(axis=1)], action)
    else:
        mapped = np.array(LOW) + (np.clip(theirs, -1, 1) + 1) / 2 * (np.array(HIGH) - np.array(LOW))
        np.testing.assert_allclose(mapped, action, atol=2e-3)
    if network == "deepracer-shallow" and importlib.util.find_spec("openvino") is not None:
        # what DeepRacer's cars convert the graph with take it, each input by its name: TFLite and OpenVINO
        (tmp_path / "model.pb").write_bytes(pb)
        feeds = {input_name("clipped_ppo", names[0]): frames, **({input_name("clipped_ppo", names[1]): lidar}
                                                                 if lidar is not None else {})}
        for converter, outputs in converted_outputs(tmp_path / "model.pb", feeds, output_name("clipped_ppo")).items():
            np.testing.assert_allclose(outputs, ours, atol=1e-4, err_msg=converter)
    # and imported again, the same model with the same sensors
    back = import_model(tmp_path / "model.tar.gz", tmp_path / "back.onnx")
    assert back["sensors"] == sensors and back.get("lidar_config") == config and back["network"] == network
    assert back["camera"].get("cameras", 1) == (2 if sensors[0] == "stereo-cameras" else 1)
    np.testing.assert_allclose(onnx_head(tmp_path / "back.onnx", kind, frames, lidar)[1], ours, atol=1e-5)


IMPORTS = [("deepracer-shallow", "discrete", ("STEREO_CAMERAS", "LIDAR"), None),
           ("deepracer-deep", "continuous", ("FRONT_FACING_CAMERA", "SECTOR_LIDAR"), None),
           ("deepracer-shallow", "discrete", ("FRONT_FACING_CAMERA", "DISCRETIZED_SECTOR_LIDAR"), CONFIG),
           # the standard preset's stereo pair: its dense layer makes a 230 MB graph, 40 s on 2 cores
           pytest.param("deepracer-standard", "discrete", ("STEREO_CAMERAS", "DISCRETIZED_SECTOR_LIDAR"), CONFIG,
                        marks=pytest.mark.slow),
           ("deepracer-shallow", "sac", ("STEREO_CAMERAS", "SECTOR_LIDAR"), None),
           ("deepracer-deep", "continuous", ("STEREO_CAMERAS",), None)]


@pytest.mark.parametrize("network,kind,sensors,config", IMPORTS, ids=ids(IMPORTS))
def test_a_deepracer_sensor_model_imports_and_exports_again(tmp_path, capsys, network, kind, sensors, config):
    """TF-built as rl_coach builds it, with DeepRacer's embedders (the stereo pair's own for the standard and deep
    presets), the merger in the sensors' names' order, the middleware: the import gives TensorFlow's outputs on
    the simulator's stereo frames and LIDAR values, and exported again, TensorFlow gives them from the new .pb."""
    pb = write_model(tmp_path / "dr", network, kind, seed=3, sensors=sensors, lidar_config=config)
    racekit_sensors = [next(k for k, v in DEEPRACER_NAMES.items() if v == s) for s in sensors]
    frames, lidar = observations(racekit_sensors, config)
    meta = import_model(pb, tmp_path / "imported.onnx")
    assert meta["sensors"] == racekit_sensors and meta.get("lidar_config") == config
    assert meta["deepracer"]["sensors"] == list(sensors)
    expected = run_graph(pb.read_bytes(), frames, algorithm(kind), lidar, sensors)
    action, ours = onnx_head(tmp_path / "imported.onnx", kind, frames, lidar)
    np.testing.assert_allclose(ours, expected, atol=1e-4)
    # random deep graphs give every input nearly the same output: how it varies must match too, more closely
    assert expected.std(axis=0).max() > 2e-4, expected
    np.testing.assert_allclose(ours - ours.mean(axis=0), expected - expected.mean(axis=0), atol=2e-5)
    from racekit.hardware.model import load_policy

    spec = load_policy(str(tmp_path / "imported.onnx")).spec  # the car (and racekit race) take it, sensors and all
    assert list(spec.sensors) == racekit_sensors and spec.camera.cameras == (2 if "STEREO_CAMERAS" in sensors else 1)
    if len(sensors) == 1:  # the command line says what it wrote (here: DeepRacer's own stereo network)
        assert main(["models", "import", str(pb), "-o", str(tmp_path / "cli.onnx")]) == 0
        printed = capsys.readouterr().out
        assert "network the stereo pair's own of DEEP_CONVOLUTIONAL_NETWORK_DEEP" in printed
        assert printed.rstrip().endswith("and look, with stereo-cameras")
    export_deepracer(tmp_path / "imported.onnx", tmp_path / "again.tar.gz")
    again, again_meta = tarball(tmp_path / "again.tar.gz")
    assert again_meta["sensor"] == list(sensors) and again_meta["training_algorithm"] == algorithm(kind)
    np.testing.assert_allclose(run_graph(again, frames, algorithm(kind), lidar, sensors), expected, atol=1e-4)


def refused(source: Path, out: Path) -> str:
    with pytest.raises(DeepRacerError) as caught:
        import_model(source, out)
    message = str(caught.value)
    assert "\n" not in message and not out.exists()
    return message


def test_bad_sensor_lists_and_lidar_configs_and_missing_inputs_are_one_line_naming_the_file(tmp_path):
    pb = write_model(tmp_path / "dr", "deepracer-shallow", "discrete", sensors=("FRONT_FACING_CAMERA", "LIDAR"))
    meta_path = tmp_path / "dr" / "model_metadata.json"
    good = json.loads(meta_path.read_text())
    out = tmp_path / "m.onnx"
    metadata_file, graph_file = str(meta_path), str(pb)
    cases = [({"sensor": ["STEREO_CAMERAS", "FRONT_FACING_CAMERA"]}, metadata_file,
              "sensor must list exactly one camera"),
             ({"sensor": ["FRONT_FACING_CAMERA", "LIDAR", "SECTOR_LIDAR"]}, metadata_file, "at most one LIDAR"),
             ({"sensor": ["FRONT_FACING_CAMERA", "DISCRETIZED_SECTOR_LIDAR"],
               "lidar_config": {"num_sectors": 5, "num_values_per_sector": 8, "clipping_dist": 2.0}},
              metadata_file, "lidar_config num_sectors must divide the LIDAR's 64 rays"),
             ({"sensor": ["FRONT_FACING_CAMERA", "SECTOR_LIDAR"]}, graph_file,
              "no input node main_level/agent/main/online/network_0/SECTOR_LIDAR/SECTOR_LIDAR for SECTOR_LIDAR"),
             ({"sensor": ["FRONT_FACING_CAMERA"]}, graph_file,
              "does not list (main_level/agent/main/online/network_0/LIDAR/LIDAR)")]
    for change, named, words in cases:
        meta_path.write_text(json.dumps({**good, **change}))
        message = refused(pb, out)
        assert message.startswith(f"{named}: ") and words in message, message
    # a graph that lacks the LIDAR its metadata names
    camera_only = write_model(tmp_path / "cam", "deepracer-shallow", "discrete")
    meta = json.loads((tmp_path / "cam" / "model_metadata.json").read_text())
    meta["sensor"] = ["FRONT_FACING_CAMERA", "LIDAR"]
    (tmp_path / "cam" / "model_metadata.json").write_text(json.dumps(meta))
    message = refused(camera_only, out)
    assert message.startswith(f"{camera_only}: no input node")
    assert "network_0/LIDAR/LIDAR for LIDAR, which model_metadata.json's sensor lists" in message


def test_racekits_stereo_pair_on_the_standard_presets_front_camera_network_is_refused(tmp_path):
    """DeepRacer gives the stereo pair a network of its own for the standard and deep presets."""
    sensors = ["stereo-cameras", "lidar"]
    frames, lidar = np.zeros((2, 120, 160, 2), np.uint8), np.linspace(0.2, 0.9, 128, dtype=np.float32).reshape(2, 64)
    run = make_run(tmp_path / "run", "deepracer-standard", "continuous", sensors, None, (frames, lidar))
    with pytest.raises(DeepRacerError) as caught:
        export_deepracer(run, tmp_path / "m.tar.gz")
    message = str(caught.value)
    assert "\n" not in message and str(run) in message and "--network deepracer-shallow" in message
    assert "stereo pair" in message and not (tmp_path / "m.tar.gz").exists()
