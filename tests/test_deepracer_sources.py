"""`racekit models import` on every layout a user brings, and on every bad input: one clear line each,
exit code 2, and nothing written. Driven through the command line on the real DeepRacer model."""
from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest
from tensorboard.compat.proto import graph_pb2

from racekit.cli import main

SHARED = Path(__file__).resolve().parents[2] / "shared" / "deepracer-models"
SAMPLE = SHARED / "deepracer-utils-sample" / "model"
CONSOLE = SHARED / "console-export-AtoZ-CCW-Centerline"
PB = SAMPLE / "model_48.pb"
META = json.loads((SAMPLE / "model_metadata.json").read_text())


def tarball(path: Path, members: dict, links: dict | None = None) -> Path:
    """A .tar.gz with `members` (name -> bytes) and symbolic `links` (name -> target)."""
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            archive.addfile(info)
    return path


def run_import(capsys, source, out: Path, *extra: str) -> tuple[int, str]:
    code = main(["models", "import", str(source), "-o", str(out), *extra])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.fixture(scope="module")
def graph_bytes() -> bytes:
    return PB.read_bytes()


def test_a_car_tarball_imports(tmp_path, capsys, graph_bytes):
    source = tarball(tmp_path / "model.tar.gz", {"model_metadata.json": json.dumps(META).encode(),
                                                  "agent/model.pb": graph_bytes})
    code, text = run_import(capsys, source, tmp_path / "m.onnx")
    assert code == 0 and (tmp_path / "m.onnx").is_file()
    assert "tarball" in text and "12 discrete actions" in text


def test_a_training_prefix_imports_its_best_last_or_numbered_checkpoint(tmp_path, capsys):
    prefix = tmp_path / "prefix"
    shutil.copytree(CONSOLE, prefix)
    (prefix / "model").chmod(0o755)
    for name in ("model_30.pb", "model_29.pb"):
        shutil.copy(PB, prefix / "model" / name)
    shutil.copy(SAMPLE / "model_metadata.json", prefix / "model" / "model_metadata.json")
    (prefix / "model" / "model_metadata.json").chmod(0o644)
    code, text = run_import(capsys, prefix, tmp_path / "best.onnx")
    assert code == 0 and "model_30.pb" in text
    code, text = run_import(capsys, prefix, tmp_path / "n.onnx", "--checkpoint", "29")
    assert code == 0 and "model_29.pb" in text
    code, text = run_import(capsys, prefix, tmp_path / "missing.onnx", "--checkpoint", "31")
    assert code == 2 and "no model_31.pb" in text and "29, 30" in text and not (tmp_path / "missing.onnx").exists()


def test_the_real_console_export_without_frozen_graphs_says_so(tmp_path, capsys):
    code, text = run_import(capsys, CONSOLE, tmp_path / "m.onnx")
    assert code == 2 and "no model_30.pb for checkpoint 30_Step-163797.ckpt" in text
    assert len(text.strip().splitlines()) == 1


def _bad_sources(tmp: Path, graph: bytes) -> dict:
    meta = json.dumps(META).encode()

    def renamed() -> bytes:
        parsed = graph_pb2.GraphDef()
        parsed.ParseFromString(graph)
        for node in parsed.node:
            if node.name.endswith("ppo_head_0/policy"):
                node.name += "_renamed"
        return parsed.SerializeToString()

    def bare(name: str, pb: bytes, metadata: dict | bytes | None = META) -> Path:
        folder = tmp / name
        folder.mkdir()
        (folder / "model.pb").write_bytes(pb)
        if metadata is not None:
            (folder / "model_metadata.json").write_bytes(metadata if isinstance(metadata, bytes)
                                                         else json.dumps(metadata).encode())
        return folder / "model.pb"

    def notes() -> Path:
        (tmp / "notes.tar.gz").write_text("not a tarball")
        return tmp / "notes.tar.gz"

    def huge() -> Path:
        member = tarfile.TarInfo("agent/model.pb")
        member.size = 5 << 30  # a header claiming 5 GB: refused from the header alone
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            archive.addfile(tarfile.TarInfo("model_metadata.json"))
            buffer.write(member.tobuf())
        (tmp / "huge.tar").write_bytes(buffer.getvalue())
        return tmp / "huge.tar"

    return {
        "not a tarball": (notes, "not a DeepRacer model"),
        "no .pb": (lambda: tarball(tmp / "none.tar.gz", {"model_metadata.json": meta}), "this one has 0"),
        "two .pb": (lambda: tarball(tmp / "two.tar.gz", {"model_metadata.json": meta, "a/model.pb": graph, "b/model.pb": graph}),
                    "this one has 2"),
        "no metadata": (lambda: bare("nometa", graph, None), "no model_metadata.json beside it"),
        "unknown network": (lambda: bare("net", graph, {**META, "neural_network": "RESNET"}), "neural_network must be one of"),
        "unknown sensor": (lambda: bare("sensor", graph, {**META, "sensor": ["THERMAL_CAMERA"]}), "unknown sensor 'THERMAL_CAMERA'"),
        "bad action": (lambda: bare("act", graph, {**META, "action_space": [{"steering_angle": "left", "speed": 1}]}),
                       "action_space[0].steering_angle must be a finite number"),
        "metadata not json": (lambda: bare("json", graph, b"{action_space: "), "not JSON"),
        "stereo": (lambda: bare("stereo", graph, {**META, "sensor": ["STEREO_CAMERAS", "LIDAR"]}),
                   "network_0/STEREO_CAMERAS/STEREO_CAMERAS for STEREO_CAMERAS, which model_metadata.json's sensor lists"),
        "no input node": (lambda: bare("input", graph, {**META, "sensor": ["LEFT_CAMERA"]}), "no input node"),
        "another algorithm": (lambda: bare("sac", graph, {**META, "training_algorithm": "sac", "action_space_type": "continuous",
                                                  "action_space": {"steering_angle": {"low": -30, "high": 30},
                                                                   "speed": {"low": 1, "high": 2}}}),
                              "no output node main_level/agent/policy/online/network_0/sac_policy_head_0/policy"),
        "no output node": (lambda: bare("output", renamed()), "no output node"),
        "truncated": (lambda: bare("short", graph[: len(graph) // 2]), "truncated"),
        "corrupt": (lambda: bare("corrupt", bytes(range(256)) * 64), "not a TensorFlow frozen graph"),
        "action count": (lambda: bare("count", graph, {**META, "action_space": META["action_space"][:5]}),
                         "the network outputs 12 values, but"),
        "member outside": (lambda: tarball(tmp / "dotdot.tar.gz", {"model_metadata.json": meta, "../../evil.pb": graph}),
                           "reaches outside the archive"),
        "absolute member": (lambda: tarball(tmp / "abs.tar.gz", {"model_metadata.json": meta, "/tmp/evil.pb": graph}),
                            "reaches outside the archive"),
        "link member": (lambda: tarball(tmp / "link.tar.gz", {"model_metadata.json": meta}, {"agent/model.pb": "/etc/passwd"}),
                        "is a link"),
        "gigabytes": (huge, "unpacks to more than"),
    }


CASES = ["not a tarball", "no .pb", "two .pb", "no metadata", "unknown network", "unknown sensor", "bad action",
         "metadata not json", "stereo", "no input node", "another algorithm", "no output node", "truncated", "corrupt", "action count",
         "member outside", "absolute member", "link member", "gigabytes"]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_clear_line_and_nothing_is_written(tmp_path, capsys, graph_bytes, case):
    make, expected = _bad_sources(tmp_path, graph_bytes)[case]
    source = make()
    out = tmp_path / "out" / "model.onnx"
    code, text = run_import(capsys, source, out)
    assert code == 2, text
    assert expected in text
    assert len(text.strip().splitlines()) == 1 and "Traceback" not in text
    assert not out.exists() and not (tmp_path / "out").exists()
    assert not Path("/tmp/evil.pb").exists()
