"""A model's camera reaches the env it is evaluated in: agent/evaluate.py's camera_kwargs, and the camera
racekit.models.open_driver reads from a model file (the suite, `racekit evaluate` and `racekit analyze` drive
through it), so a model trained through DeepRacer's lens, mount and look sees them again."""
import json

import numpy as np
import pytest

from hardware_helpers import make_model, metadata
from racekit.agent.evaluate import camera_kwargs, evaluate
from racekit.models import open_driver
from racekit.sim.camera import DEEPRACER_MOUNT
from racekit.sim.env import TimeTrialEnv
from racekit.sim.looks import DEEPRACER_SKY
from racekit.sim.render.fast import gray

SIZE = {"width": 32, "height": 24, "channels": 1, "frame_stack": 2}


def test_camera_kwargs_pass_the_lens_mount_and_look_where_the_camera_says():
    assert camera_kwargs(SIZE) == {"camera_width": 32, "camera_height": 24, "grayscale": True, "frame_stack": 2}
    assert camera_kwargs(SIZE | {"fov_deg": None}) == camera_kwargs(SIZE)  # a file without a lens: racekit's
    assert camera_kwargs(SIZE | {"fov_deg": 64.74, "mount": "deepracer", "look": "deepracer"}) == {
        "camera_width": 32, "camera_height": 24, "grayscale": True, "frame_stack": 2, "fov_deg": 64.74,
        "camera_mount": "deepracer", "look": "deepracer"}


def test_a_racekit_models_camera_gives_the_env_it_always_had():
    env = TimeTrialEnv(track="oval", **camera_kwargs(SIZE | {"fov_deg": 120}))  # what racekit's exporter writes
    plain = TimeTrialEnv(track="oval", camera_width=32, camera_height=24, frame_stack=2)
    try:
        assert env.camera == plain.camera and env.car_spec == plain.car_spec and env.world.look == "racekit"
        assert np.array_equal(env.reset(seed=0)[0], plain.reset(seed=0)[0])
    finally:
        env.close()
        plain.close()


def test_a_model_file_trained_through_deepracers_camera_is_evaluated_through_it(tmp_path):
    meta = metadata()
    meta["camera"] |= {"fov_deg": 64.74, "mount": "deepracer", "look": "deepracer"}
    driver = open_driver(str(make_model(tmp_path / "m.onnx", meta=json.dumps(meta))))
    assert driver.camera == SIZE | {"fov_deg": 64.74, "mount": "deepracer", "look": "deepracer"}
    seen = {}

    def on_step(env, obs, info):
        seen.update(fov=env.camera.fov_deg, pitch=env.car_spec.camera_pitch_deg, look=env.world.look, obs=obs)

    result = evaluate(driver.drive, "oval", driver.camera, driver.actions, laps=1, on_step=on_step,
                      env_kwargs={"max_steps": 3})
    assert result["termination"] == "max_steps"
    assert (seen["fov"], seen["pitch"], seen["look"]) == (64.74, DEEPRACER_MOUNT.pitch_deg, "deepracer")
    assert np.all(seen["obs"][0] == gray(DEEPRACER_SKY))


@pytest.mark.parametrize("camera, message", [({"fov_deg": 200}, "fov_deg"), ({"mount": "roof"}, "camera_mount"),
                                             ({"look": "mars"}, "look")])
def test_an_impossible_camera_is_the_envs_clear_error(camera, message):
    with pytest.raises(ValueError, match=message):
        TimeTrialEnv(track="oval", **camera_kwargs(SIZE | camera))
