"""Exporting racekit policies as DeepRacer car tarballs (`racekit export RUN --format deepracer`): for every
DeepRacer preset, discrete and continuous PPO and SAC, TensorFlow runs the written .pb and gives racekit's
outputs (PyTorch and the racekit model file) within 1e-4 on DeepRacer's own frames and racekit's; the
converters DeepRacer's cars use take it (TFLite's from_frozen_graph, OpenVINO's convert_model) and give the
same; importing the tarball gives the model back; an imported DeepRacer model (the real sample and TF-built
graphs) exported again round-trips; and what DeepRacer cannot express is refused in one line, nothing written.

A run with a DeepRacer network is made here as a checkpoint written the way `racekit train` writes one (the
fields load_policy_checkpoint reads), with random weights: no training needed."""
from __future__ import annotations

import importlib.util

import json
import tarfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from racekit.agent.checkpoint import save_checkpoint
from racekit.agent.deepracer.errors import DeepRacerError
from racekit.agent.deepracer.exporter import bare_model, export_deepracer
from racekit.agent.deepracer.graph_writer import input_name, output_name
from racekit.agent.deepracer.importer import SAC_HEAD, import_model
from racekit.agent.deepracer.metadata import parse_metadata
from racekit.agent.export import ExportError, export_onnx
from racekit.agent.networks import NETWORKS
from racekit.agent.policy import ActionSpec
from racekit.cli import main
from tensorboard.compat.proto import graph_pb2
from tensorboard.compat.proto.types_pb2 import DT_FLOAT

from racekit.agent.deepracer.graph import tensor_value
from tests.deepracer_graphs import (build_graph, deepracer_frame, has_tensorflow, openvino_outputs, run_graph,
                                    tflite_outputs as run_tflite, write_model)

if not has_tensorflow():
    pytest.skip("TensorFlow (a test-only dependency) is not installed", allow_module_level=True)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SHARED = Path(__file__).resolve().parents[2] / "shared" / "deepracer-models"
SAMPLE = SHARED / "deepracer-utils-sample"
PRESETS = ("deepracer-shallow", "deepracer-standard", "deepracer-deep")
KINDS = ("discrete", "continuous", "sac")
TABLE = ((-30.0, 1.0), (-15.0, 1.5), (0.0, 2.5), (15.0, 1.5), (30.0, 1.0))
LOW, HIGH = (-30.0, 0.5), (30.0, 3.0)
CAMERA = {"width": 160, "height": 120, "channels": 1, "fov_deg": 120.0, "frame_stack": 1}
# op types a DeepRacer car's converters meet on the written graph: the README's list
DEEPRACER_OPS = {"Placeholder", "Const", "RealDiv", "Sub", "Conv2D", "BiasAdd", "Relu", "Tanh", "Reshape", "MatMul",
                 "Softmax", "Identity"}


def algorithm(kind: str) -> str:
    return "sac" if kind == "sac" else "clipped_ppo"


def make_run(folder: Path, network: str = "deepracer-shallow", kind: str = "discrete", seed: int = 0,
             camera: dict | None = None, distribution: str | None = None, network_value=None,
             frames: np.ndarray | None = None) -> Path:
    """A run folder with checkpoints/best.pt as `racekit train` writes it, the policy's weights random (seeded);
    with `frames`, the head is scaled so that its outputs on them vary by about 1 around 0 (random deep networks
    otherwise give every frame nearly the same output, or a saturated softmax)."""
    camera = {**CAMERA, **(camera or {})}
    spec = ActionSpec(table=TABLE) if kind == "discrete" else ActionSpec(low=LOW, high=HIGH)
    distribution = distribution or ("squashed" if kind == "sac" else "gaussian")
    net = NETWORKS[network]
    if kind == "sac":
        net = replace(net, dense=net.dense + SAC_HEAD)
    obs_shape = (camera["height"], camera["width"], camera["channels"] * camera["frame_stack"])
    model = bare_model(obs_shape, spec, distribution, net)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            fan_in = int(np.prod(parameter.shape[1:])) if parameter.dim() > 1 else 1
            scale = 0.05 if parameter.dim() == 1 else np.sqrt(2.0 / fan_in)
            parameter.normal_(0.0, scale, generator=generator)
        if frames is not None:
            out = model.actor(model.features(torch.from_numpy(frames)))
            std = out.std(dim=0).clamp_min(1e-6)
            model.actor.weight.div_(std[:, None])
            model.actor.bias.sub_(out.mean(dim=0)).div_(std)
    value = network_value if network_value is not None else (net.as_dict() if kind == "sac" else network)
    save_checkpoint(folder / "checkpoints" / "best.pt", {
        "model": model.state_dict(), "optimizer": {}, "global_step": 4321, "update": 3, "best": None,
        "run": {"track": "oval", "ppo": {"distribution": distribution}}, "obs_shape": list(obs_shape),
        "actions": spec.as_dict(), "camera": camera, "reward_sha256": None, "network": value})
    return folder


def racekit_frames(n: int = 3) -> np.ndarray:
    """Grey 160x120 single frames of racekit's simulator from a few places on a lap."""
    from racekit.sim.env import TimeTrialEnv

    env = TimeTrialEnv(camera_width=160, camera_height=120, grayscale=True, frame_stack=1)
    frames = []
    try:
        for fraction in np.linspace(0.1, 0.7, n):
            env.start_fraction = float(fraction)
            obs, _ = env.reset(seed=0)
            frames.append(obs)
    finally:
        env.close()
    return np.stack(frames)


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    """DeepRacer's own camera frames (its simulator's preprocessing) and racekit's."""
    pictures = sorted((SAMPLE / "pictures").glob("*.png"))
    return np.concatenate([np.stack([deepracer_frame(p) for p in pictures]), racekit_frames()])


def tarball_graph(path: Path) -> tuple[bytes, dict, list[str]]:
    with tarfile.open(path) as archive:
        names = archive.getnames()
        return (archive.extractfile("agent/model.pb").read(),
                json.loads(archive.extractfile("model_metadata.json").read()), names)


def onnx_inner(path: Path, frames: np.ndarray, before: str, last: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The model file's action, and the tensor feeding its first (or last) `before` node: the logits or mean."""
    model = onnx.load(str(path))
    nodes = [n for n in model.graph.node if n.op_type == before]
    node = nodes[-1] if last else nodes[0]
    model.graph.output.append(onnx.helper.make_tensor_value_info(node.input[0], onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    action, inner = session.run(None, {"frames": frames})
    return action, inner


def head_output(path: Path, kind: str, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(action, what DeepRacer's graph outputs) of a racekit model file: the softmax of the logits, PPO's mean
    (before the Clip), SAC's mean (before the last Tanh)."""
    if kind == "discrete":
        action, logits = onnx_inner(path, frames, "ArgMax")
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return action, e / e.sum(axis=1, keepdims=True)
    return onnx_inner(path, frames, "Clip") if kind == "continuous" else onnx_inner(path, frames, "Tanh", last=True)


def mapped(kind: str, out: np.ndarray) -> np.ndarray:
    """DeepRacer's action from its graph's output (README, "Observations and actions")."""
    if kind == "discrete":
        return np.array(TABLE)[out.argmax(axis=1)]
    low, high = np.array(LOW), np.array(HIGH)
    if kind == "continuous":
        return low + (np.clip(out, -1, 1) + 1) / 2 * (high - low)
    return (high - low) / 2 * np.tanh(out) + (high + low) / 2


class Cache(dict):
    """Each (preset, kind)'s run, tarball and racekit model file, made once for the module."""

    def __init__(self, root: Path, frames: np.ndarray):
        super().__init__()
        self.root, self.frames = root, frames

    def get(self, network: str, kind: str) -> dict:
        key = (network, kind)
        if key not in self:
            folder = self.root / f"{network}-{kind}"
            run = make_run(folder / "run", network, kind, seed=PRESETS.index(network) * 3 + KINDS.index(kind),
                           frames=self.frames)
            out = folder / "model.tar.gz"
            exported = export_deepracer(run, out)
            onnx_file = folder / "model.onnx"
            export_onnx(run, onnx_file)
            pb, meta, names = tarball_graph(out)
            (folder / "model.pb").write_bytes(pb)
            action, head = head_output(onnx_file, kind, self.frames)
            self[key] = {"run": run, "tarball": out, "pb": pb, "pb_path": folder / "model.pb", "meta": meta,
                         "names": names, "exported": exported, "onnx": onnx_file, "action": action, "head": head,
                         "tf": run_graph(pb, self.frames, algorithm(kind))}
        return self[key]


@pytest.fixture(scope="module")
def cache(tmp_path_factory, frames) -> Cache:
    return Cache(tmp_path_factory.mktemp("export"), frames)


@pytest.mark.parametrize("network", PRESETS)
@pytest.mark.parametrize("kind", KINDS)
def test_tensorflow_runs_the_tarball_as_racekit_runs_the_policy(cache, frames, network, kind):
    made = cache.get(network, kind)
    assert sorted(made["names"]) == ["agent/model.pb", "model_metadata.json"]
    meta = parse_metadata(json.dumps(made["meta"]), "model_metadata.json")
    assert meta.network == network and meta.algorithm == algorithm(kind) and meta.sensors == ("FRONT_FACING_CAMERA",)
    assert meta.actions == (ActionSpec(table=TABLE) if kind == "discrete" else ActionSpec(low=LOW, high=HIGH))
    # TensorFlow on the .pb against the racekit model file (onnxruntime) and against PyTorch
    np.testing.assert_allclose(made["tf"], made["head"], atol=1e-4)
    from racekit.agent.export import find_checkpoint, load_policy_checkpoint

    policy, _ = load_policy_checkpoint(find_checkpoint(made["run"]))
    with torch.no_grad():
        out = policy.model.actor(policy.model.features(torch.from_numpy(frames))).numpy()
    np.testing.assert_allclose(made["tf"], torch.softmax(torch.from_numpy(out), -1).numpy() if kind == "discrete"
                               else out, atol=1e-4)
    # the actions: 1e-4 of the mean is 1.5e-3 degrees of steering
    np.testing.assert_allclose(mapped(kind, made["tf"]), made["action"], atol=1e-4 if kind == "discrete" else 2e-3)
    # outputs that differ from frame to frame: a comparison that could fail
    assert made["tf"].std(axis=0).max() > 0.01, made["tf"]


def graph_def(pb: bytes):
    graph = graph_pb2.GraphDef()
    graph.ParseFromString(pb)
    return graph


@pytest.mark.parametrize("kind", KINDS)
def test_the_graph_has_deepracers_names_and_ops(cache, kind):
    made = cache.get("deepracer-shallow", kind)
    nodes = {n.name: n for n in graph_def(made["pb"]).node}
    placeholder = nodes[input_name(algorithm(kind))]
    assert placeholder.op == "Placeholder" and placeholder.attr["dtype"].type == DT_FLOAT
    assert [d.size for d in placeholder.attr["shape"].shape.dim] == [-1, 120, 160, 1]
    assert nodes[output_name(algorithm(kind))].op == ("Softmax" if kind == "discrete" else "Identity")
    assert {n.op for n in nodes.values()} <= DEEPRACER_OPS
    for conv in (n for n in nodes.values() if n.op == "Conv2D"):
        assert conv.attr["padding"].s == b"VALID" and conv.attr["data_format"].s == b"NHWC"
    for div in (n for n in nodes.values() if n.op == "RealDiv"):
        assert tensor_value(nodes[div.input[1]].attr["value"].tensor) == 255.0
    # the real sample model's placeholder and output are named the same
    real = {n.name for n in graph_def((SAMPLE / "model" / "model_48.pb").read_bytes()).node}
    if kind == "discrete":
        assert {input_name("clipped_ppo"), output_name("clipped_ppo")} <= real


def tflite_outputs(made: dict, kind: str, frames: np.ndarray) -> np.ndarray:
    return run_tflite(made["pb_path"], input_name(algorithm(kind)), output_name(algorithm(kind)), frames)


@pytest.mark.filterwarnings("ignore::UserWarning")  # tf.lite.Interpreter's deprecation notice
@pytest.mark.parametrize("network", PRESETS)
@pytest.mark.parametrize("kind", KINDS)
def test_tflite_converts_the_frozen_graph_by_deepracers_names(cache, frames, network, kind):
    made = cache.get(network, kind)
    np.testing.assert_allclose(tflite_outputs(made, kind, frames), made["head"], atol=1e-4)


@pytest.mark.parametrize("network", PRESETS)
@pytest.mark.parametrize("kind", KINDS)
def test_openvino_converts_and_compiles_the_graph(cache, frames, network, kind):
    if importlib.util.find_spec("openvino") is None:
        pytest.skip("OpenVINO (a test-only dependency) is not installed")
    made = cache.get(network, kind)
    name, outputs = openvino_outputs(made["pb_path"], frames)
    assert name.startswith(input_name(algorithm(kind)))
    np.testing.assert_allclose(outputs, made["head"], atol=1e-4)


@pytest.mark.parametrize("network", PRESETS)
@pytest.mark.parametrize("kind", KINDS)
def test_importing_the_tarball_gives_the_model_back(cache, frames, tmp_path, network, kind):
    made = cache.get(network, kind)
    meta = import_model(made["tarball"], tmp_path / "back.onnx")
    assert meta["network"] == network and meta["deepracer"]["algorithm"] == algorithm(kind)
    assert meta["deepracer"]["layout"] == "tarball"
    action, head = head_output(tmp_path / "back.onnx", kind, frames)
    np.testing.assert_allclose(head, made["head"], atol=1e-5)
    np.testing.assert_allclose(action, made["action"], atol=1e-3)


@pytest.fixture(scope="module")
def real_reexported(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("real")
    import_model(SAMPLE / "model" / "model_48.pb", tmp / "imported.onnx")
    exported = export_deepracer(tmp / "imported.onnx", tmp / "again.tar.gz")
    return {"tmp": tmp, "exported": exported, "tarball": tmp / "again.tar.gz"}


def test_the_real_deepracer_model_imported_and_exported_again_round_trips(real_reexported, frames):
    pb, meta, _ = tarball_graph(real_reexported["tarball"])
    original = (SAMPLE / "model" / "model_48.pb").read_bytes()
    np.testing.assert_allclose(run_graph(pb, frames), run_graph(original, frames), atol=1e-5)
    source = json.loads((SAMPLE / "model" / "model_metadata.json").read_text())
    table = [(a["steering_angle"], a["speed"]) for a in source["action_space"]]
    assert [(a["steering_angle"], a["speed"]) for a in meta["action_space"]] == table
    assert meta["neural_network"] == "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
    # and imported once more, the same racekit model
    tmp = real_reexported["tmp"]
    import_model(real_reexported["tarball"], tmp / "twice.onnx")
    first, first_logits = onnx_inner(tmp / "imported.onnx", frames, "ArgMax")
    second, second_logits = onnx_inner(tmp / "twice.onnx", frames, "ArgMax")
    np.testing.assert_allclose(second_logits, first_logits, atol=1e-5)
    np.testing.assert_array_equal(second, first)


def test_the_cli_exports_an_imported_model(real_reexported, tmp_path, capsys):
    out = tmp_path / "car" / "model.tar.gz"
    assert main(["export", str(real_reexported["tmp"] / "imported.onnx"), "--format", "deepracer", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "12 discrete actions" in printed and "clipped_ppo" in printed
    assert tarball_graph(out)[0] == tarball_graph(real_reexported["tarball"])[0]  # the same graph, byte for byte


@pytest.mark.parametrize("network,kind", [("deepracer-standard", "continuous"), ("deepracer-deep", "sac"),
                                          ("deepracer-deep", "discrete")])
def test_tensorflow_built_deepracer_models_round_trip(tmp_path, frames, network, kind):
    """The deep preset's graphs carry batch norms (folded in on import): the export has none and computes the same."""
    pb = write_model(tmp_path / "dr", network, kind, seed=7)
    import_model(pb, tmp_path / "imported.onnx")
    export_deepracer(tmp_path / "imported.onnx", tmp_path / "again.tar.gz")
    again, meta, _ = tarball_graph(tmp_path / "again.tar.gz")
    np.testing.assert_allclose(run_graph(again, frames, algorithm(kind)),
                               run_graph(pb.read_bytes(), frames, algorithm(kind)), atol=1e-4)
    assert meta["training_algorithm"] == algorithm(kind) and meta["action_space_type"] == (
        "discrete" if kind == "discrete" else "continuous")


def test_the_cli_writes_a_run_as_a_car_tarball(cache, tmp_path, capsys):
    made = cache.get("deepracer-shallow", "discrete")
    out = tmp_path / "model.tar.gz"
    assert main(["export", str(made["run"]), "--format", "deepracer", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "5 discrete actions" in printed and "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW" in printed and "4321 steps" in printed
    assert tarball_graph(out)[0] == made["pb"]


def refused(tmp_path: Path, source: Path, capsys=None) -> str:
    """The one line export refuses `source` with; nothing written beside the output."""
    out = tmp_path / "out" / "model.tar.gz"
    with pytest.raises((DeepRacerError, ExportError)) as caught:
        export_deepracer(source, out)
    message = str(caught.value)
    assert "\n" not in message and str(source) in message
    assert not out.exists() and not (out.parent.exists() and any(out.parent.iterdir()))
    return message


def test_racekits_own_network_is_refused_with_what_to_train(tmp_path):
    run = make_run(tmp_path / "run", "racekit", "discrete")
    message = refused(tmp_path, run)
    assert "trained with racekit's network; train with --network deepracer-shallow" in message
    # a checkpoint from before networks were recorded has racekit's
    state = torch.load(run / "checkpoints" / "best.pt", weights_only=False)
    del state["network"]
    save_checkpoint(run / "checkpoints" / "best.pt", state)
    assert "racekit's network" in refused(tmp_path, run)


def test_a_default_racekit_run_is_told_everything_to_change_in_one_line(tmp_path, capsys):
    run = make_run(tmp_path / "run", "racekit", "continuous", camera={"width": 80, "height": 60, "frame_stack": 2})
    out = tmp_path / "model.tar.gz"
    assert main(["export", str(run), "--format", "deepracer", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and not out.exists() and not list(tmp_path.glob(".model.tar.gz*"))
    assert (f"{run}: trained with racekit's network, a camera of 80x60 (DeepRacer's cars feed 160x120) and 2 stacked "
            f"frames (DeepRacer's cars feed one); train with --network deepracer-shallow") in err
    assert "--camera 160x120 and --frame-stack 1 to export for a DeepRacer car" in err


@pytest.mark.parametrize("camera,words", [({"width": 80, "height": 60}, "camera of 80x60"),
                                          ({"channels": 3}, "colour camera"),
                                          ({"frame_stack": 2}, "--frame-stack 1"),
                                          ({"fov_deg": 90.0}, "90.0-degree lens"),
                                          ({"mount": "roof"}, "mount 'roof'")])
def test_cameras_deepracer_cars_do_not_have_are_refused(tmp_path, camera, words):
    network = "deepracer-shallow" if "width" in camera else "deepracer-deep"  # the deep one needs a larger frame
    message = refused(tmp_path, make_run(tmp_path / "run", network, "discrete", camera=camera))
    assert words in message and "train with" in message


@pytest.mark.parametrize("camera", [{"fov_deg": 64.74, "mount": "deepracer", "look": "deepracer"},
                                    {"fov_deg": 120.0, "mount": "racekit"}])
def test_deepracers_simulator_camera_and_racekits_both_export(tmp_path, camera):
    run = make_run(tmp_path / "run", "deepracer-deep", "continuous", camera=camera)
    assert export_deepracer(run, tmp_path / "m.tar.gz").network == "deepracer-deep"


def test_the_beta_distribution_is_refused(tmp_path):
    run = make_run(tmp_path / "run", "deepracer-deep", "continuous", distribution="beta")
    message = refused(tmp_path, run)
    assert "Beta" in message and "--distribution gaussian" in message


def test_networks_that_are_no_deepracer_preset_are_refused(tmp_path):
    custom = replace(NETWORKS["deepracer-deep"], dense=((512, "relu"),))
    run = make_run(tmp_path / "run", "deepracer-deep", "continuous", network_value=custom.as_dict())
    state = torch.load(run / "checkpoints" / "best.pt", weights_only=False)
    state["model"] = bare_model((120, 160, 1), ActionSpec(low=LOW, high=HIGH), "gaussian", custom).state_dict()
    save_checkpoint(run / "checkpoints" / "best.pt", state)
    assert "none of DeepRacer's" in refused(tmp_path, run)


def test_model_files_not_imported_from_deepracer_are_refused(tmp_path, cache):
    message = refused(tmp_path, cache.get("deepracer-deep", "discrete")["onnx"])
    assert "not a model imported from DeepRacer" in message and "racekit export RUN --format deepracer" in message
    assert "already a DeepRacer model" in refused(tmp_path, SAMPLE / "model" / "model_48.pb")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a protobuf at all" * 10)
    assert "not an ONNX model file" in refused(tmp_path, junk)


def test_bad_output_paths_and_runs_write_nothing(tmp_path, cache, capsys):
    run = cache.get("deepracer-deep", "continuous")["run"]
    (tmp_path / "folder").mkdir()
    with pytest.raises(ExportError, match="is a directory"):
        export_deepracer(run, tmp_path / "folder")
    assert not any((tmp_path / "folder").iterdir())
    assert main(["export", str(tmp_path / "nope"), "--format", "deepracer", "-o", str(tmp_path / "m.tar.gz")]) == 2
    assert "no such run directory" in capsys.readouterr().err
    assert not (tmp_path / "m.tar.gz").exists()
    assert main(["export", str(run), "--format", "onnx", "-o", str(tmp_path / "x.onnx")]) == 0  # the default still works
    assert main(["export", str(tmp_path / "x.onnx"), "-o", str(tmp_path / "y.onnx")]) == 2
    assert "--format deepracer" in capsys.readouterr().err


def test_a_graph_built_for_the_tests_is_deepracers_shape():
    """The TF-built graphs the round trip starts from keep DeepRacer's names (tests/deepracer_graphs.py)."""
    names = {n.name for n in graph_def(build_graph("deepracer-deep", "sac", 1)).node}
    assert {input_name("sac"), output_name("sac")} <= names
