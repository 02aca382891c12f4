"""The model file contract: loading, refusing bad files, preprocessing, inference."""
import json

import numpy as np
import pytest
from onnx import TensorProto

from racekit.hardware.errors import ModelError
from racekit.hardware.model import load_policy, parse_metadata
from racekit.hardware.preprocess import FrameStacker, convert_frame
from hardware_helpers import half_bright, make_model, metadata


def test_loads_a_contract_model_and_reads_its_spec(tmp_path):
    policy = load_policy(make_model(tmp_path / "m.onnx", width=40, height=30, channels=1, frame_stack=3,
                                    control_hz=20))
    cam = policy.spec.camera
    assert (cam.width, cam.height, cam.channels, cam.frame_stack, cam.depth) == (40, 30, 1, 3, 3)
    assert policy.spec.control_hz == 20
    assert policy.spec.action_space.max_steering_deg == 30
    assert policy.spec.action_space.max_speed_mps == 4.0
    assert policy.spec.extra["track"] == "test"


def test_inference_follows_the_picture(tmp_path):
    policy = load_policy(make_model(tmp_path / "m.onnx", speed=1.5))
    stack = FrameStacker(policy.spec.camera)
    steer_left, speed = policy.act(stack.push(half_bright(120, 160, "left")))
    assert steer_left == pytest.approx(30.0, abs=0.5) and speed == pytest.approx(1.5)
    stack.push(half_bright(120, 160, "right"))
    steer_right, _ = policy.act(stack.push(half_bright(120, 160, "right")))
    assert steer_right == pytest.approx(-30.0, abs=0.5)


def test_discrete_action_space_is_accepted(tmp_path):
    space = {"type": "discrete", "actions": [[-30, 1.0], [0, 2.0], [15, 3.0]]}
    policy = load_policy(make_model(tmp_path / "m.onnx", action_space=space))
    assert policy.spec.action_space.type == "discrete"
    assert policy.spec.action_space.max_steering_deg == 30
    assert policy.spec.action_space.max_speed_mps == 3.0


@pytest.mark.parametrize("kwargs, fault", [
    (dict(meta=None), "no 'racekit' entry"),
    (dict(meta="{not json"), "not valid JSON"),
    (dict(meta=json.dumps(dict(metadata(), format=2))), "format 2"),
    (dict(meta=json.dumps({k: v for k, v in metadata().items() if k != "control_hz"})), "control_hz is missing"),
    (dict(meta=json.dumps(metadata(channels=4))), "camera.channels must be 1"),
    (dict(meta=json.dumps(metadata(action_space={"type": "discrete", "actions": []}))), "actions is empty"),
    (dict(meta=json.dumps(metadata(action_space={"type": "continuous", "steering_deg": [30, -30],
                                                 "speed_mps": [0.5, 4]}))), "low <= high"),
    (dict(input_name="obs"), "one input named 'frames'"),
    (dict(output_name="logits"), "one output named 'action'"),
    (dict(input_type=TensorProto.FLOAT), "contract says tensor(uint8)"),
    (dict(input_shape=["batch", 24, 32, 1]), "[batch, 24, 32, 2]"),  # frame stack missing from channels
    (dict(input_shape=["batch", 32, 24, 2]), "[batch, 24, 32, 2]"),  # width and height swapped
    (dict(input_shape=[4, 24, 32, 2]), "shape [4, 24, 32, 2]"),  # a fixed batch of 4
    (dict(n_outputs=3), "contract says [batch, 2]"),
])
def test_refuses_a_model_breaking_the_contract_naming_file_and_fault(tmp_path, kwargs, fault):
    path = make_model(tmp_path / "bad.onnx", **kwargs)
    with pytest.raises(ModelError) as err:
        load_policy(path)
    message = str(err.value)
    assert str(path) in message and fault in message
    assert "\n" not in message


def test_refuses_a_file_that_is_not_onnx(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_text("def reward_function(params):\n    return 1.0\n")
    with pytest.raises(ModelError, match=r"model\.onnx: not a loadable ONNX model"):
        load_policy(path)
    with pytest.raises(ModelError, match="model file not found"):
        load_policy(tmp_path / "missing.onnx")


def test_metadata_parser_rejects_booleans_and_strings_for_numbers():
    meta = metadata()
    meta["camera"]["width"] = True
    with pytest.raises(ValueError, match="camera.width has the wrong type"):
        parse_metadata(json.dumps(meta))
    meta = metadata(control_hz="15")
    with pytest.raises(ValueError, match="control_hz has the wrong type"):
        parse_metadata(json.dumps(meta))


def test_a_model_trained_through_another_camera_loads_and_the_car_keeps_what_it_says(tmp_path):
    # DeepRacer's lens, mount and look: the car reads and keeps them (it drives with its own camera)
    meta = metadata()
    meta["camera"] |= {"fov_deg": 64.74, "mount": "deepracer", "look": "deepracer"}
    policy = load_policy(make_model(tmp_path / "m.onnx", meta=json.dumps(meta)))
    cam = policy.spec.camera
    assert (cam.fov_deg, cam.mount, cam.look, cam.width, cam.depth) == (64.74, "deepracer", "deepracer", 32, 2)
    # names it has never heard of too (the simulator refuses those, racekit/racing.py), and none at all
    meta["camera"] |= {"mount": "roof", "look": None}
    cam = parse_metadata(json.dumps(meta)).camera
    assert (cam.mount, cam.look) == ("roof", None)
    assert (parse_metadata(json.dumps(metadata())).camera.mount, parse_metadata(json.dumps(metadata())).camera.look) \
        == (None, None)
    for key in ("mount", "look"):
        bad = metadata()
        bad["camera"][key] = 3
        with pytest.raises(ValueError, match=f"camera.{key} has the wrong type"):
            parse_metadata(json.dumps(bad))


def test_nan_output_is_a_model_error(tmp_path):
    policy = load_policy(make_model(tmp_path / "m.onnx", nan_below=50))
    stack = FrameStacker(policy.spec.camera)
    assert np.isfinite(policy.act(stack.push(np.full((24, 32, 3), 200, np.uint8)))).all()
    stack.reset()
    with pytest.raises(ModelError, match="not two finite numbers"):
        policy.act(stack.push(np.full((24, 32, 3), 10, np.uint8)))


def test_convert_frame_resizes_and_orders_channels_rgb(tmp_path):
    policy = load_policy(make_model(tmp_path / "m.onnx", width=16, height=8, channels=3, frame_stack=1))
    bgr = np.zeros((48, 64, 3), np.uint8)
    bgr[..., 0] = 200  # blue in OpenCV's BGR order
    bgr[..., 2] = 50  # red
    out = convert_frame(bgr, policy.spec.camera)
    assert out.shape == (8, 16, 3) and out.dtype == np.uint8
    assert (out[..., 0] == 50).all() and (out[..., 2] == 200).all()  # RGB: red first, blue last


def test_convert_frame_gray_uses_luma_weights(tmp_path):
    spec = load_policy(make_model(tmp_path / "m.onnx", width=4, height=4, channels=1, frame_stack=1)).spec.camera
    green = np.zeros((4, 4, 3), np.uint8)
    green[..., 1] = 255
    blue = np.zeros((4, 4, 3), np.uint8)
    blue[..., 0] = 255
    g, b = convert_frame(green, spec), convert_frame(blue, spec)
    assert g.shape == (4, 4, 1)
    assert int(g[0, 0, 0]) == 150 and int(b[0, 0, 0]) == 29  # 0.587 * 255 and 0.114 * 255


def test_frame_stack_is_oldest_first_and_filled_by_the_first_frame(tmp_path):
    spec = load_policy(make_model(tmp_path / "m.onnx", width=4, height=4, channels=3, frame_stack=3)).spec.camera
    stacker = FrameStacker(spec)

    def frame(v):
        return np.full((4, 4, 3), v, np.uint8)

    first = stacker.push(frame(10))
    assert first.shape == (1, 4, 4, 9) and (first == 10).all()
    stacker.push(frame(20))
    out = stacker.push(frame(30))
    assert [int(out[0, 0, 0, 3 * i]) for i in range(3)] == [10, 20, 30]
    stacker.reset()
    assert (stacker.push(frame(40)) == 40).all()
