"""The car service with DeepRacer Evo's sensors: it takes the car's cameras and LIDAR from its own options (those
of `racekit car drive`), drives a stereo and LIDAR model flashed to it from two video-file cameras and a software
RPLIDAR on a pseudo-terminal, shows the sensors in its status, and refuses at flash time, in one line and without
a motor command, a model whose sensors the car lacks."""
import time

import numpy as np
import pytest

from hardware_helpers import make_model, make_sensor_model, write_video
from lidar_device import FakeLidar, box
from racekit.cli import main
from server_helpers import NEUTRAL, WAIT, car_service, neutral_arrives, wait_until
from test_hardware_drive_sensors import lidar_weights, wait_for_stop

SCAN, STOP = 0x20, 0x25  # the RPLIDAR's commands


@pytest.fixture
def videos(tmp_path):
    """A white picture (the left camera) and a black one (the right camera), 15 fps."""
    return [str(write_video(tmp_path / f"{name}.avi", [np.full((120, 160, 3), v, np.uint8)] * 8))
            for name, v in (("left", 255), ("right", 0))]


def flash(capsys, service, model, *extra) -> tuple[int, str, str]:
    code = main(["flash", str(model), "--car", service.url, "--token", service.token, *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_stereo_and_lidar_car_drives_the_evo_model_flashed_to_it(tmp_path, videos, capsys):
    model = make_sensor_model(tmp_path / "evo.onnx", ("stereo-cameras", "sector-lidar"), lidar_weights=lidar_weights())
    # a box 0.3 m away on the car's left (device angle 90: the Evo's LIDAR faces backward and counts clockwise)
    with FakeLidar(box(90.0, 0.3, width_deg=20.0)) as fake, \
            car_service(tmp_path, camera=videos[0], right_camera=videos[1], lidar=fake.port) as service:
        code, out, err = flash(capsys, service, model, "--start", "--max-speed", "0.5")
        assert code == 0, err
        summary = f"stereo cameras {videos[0]} (left) and {videos[1]} (right), LIDAR {fake.port} (mount yaw 180 deg)"
        assert f"sensors:      {summary}" in out and "evo.onnx (sha256 " in out
        assert "stereo-cameras, sector-lidar" in out
        # +30 degrees toward the white left camera, -20 for the box on the left: +10 = 1/3 of full left, 1533 us
        assert service.virtual.wait_for(lambda h: any(1530 <= r.steering_us <= 1536 for r in h), WAIT), \
            service.client.status()
        status = service.client.status()
        assert status["running"] and status["sensors"] == {
            "camera": "stereo-cameras", "camera_sources": videos, "side_by_side": False, "lidar": fake.port,
            "lidar_mount_yaw_deg": 180.0, "summary": summary}
        assert status["model"]["sensors"] == ["stereo-cameras", "sector-lidar"]
        service.client.stop()
        assert neutral_arrives(service.virtual) is not None
        assert wait_for_stop(fake)  # the LIDAR stops with the car
        # and a one-camera model does not fit this stereo car: refused when flashed
        code, _, err = flash(capsys, service, make_model(tmp_path / "one.onnx"), "--activate")
        assert code == 2 and "the model sees through one front-camera" in err
        assert service.client.status()["active"]["name"] == "evo.onnx"


@pytest.mark.parametrize("sensors, message", [
    (("front-camera", "lidar"), "the model drives with a LIDAR (lidar; sensors: front-camera, lidar) but the car has "
                                "none: give --lidar PORT"),
    (("stereo-cameras", "sector-lidar"), "the model sees through stereo-cameras (sensors: stereo-cameras, "
                                         "sector-lidar) but the car has one camera"),
])
def test_a_model_whose_sensors_the_car_lacks_is_refused_at_flash_before_any_motor_command(tmp_path, capsys,
                                                                                           sensors, message):
    model = make_sensor_model(tmp_path / "m.onnx", sensors)
    with car_service(tmp_path) as service:
        code, out, err = flash(capsys, service, model, "--activate", "--start")
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1, err
        assert "not a model this car can run: m.onnx: " in lines[0] and message in lines[0]
        assert "(this car: camera " in lines[0] and ", no LIDAR;" in lines[0]
        time.sleep(0.3)  # anything sent would have arrived by now (a test of absence)
        assert service.virtual.history() == [] and not service.car.runner.running
        assert service.car.store.list() == [] and service.car.store.active() is None
        assert list((service.data / "uploads").iterdir()) == []


def test_a_car_with_a_lidar_drives_a_camera_only_model_and_leaves_its_lidar_off(tmp_path, capsys):
    with FakeLidar() as fake, car_service(tmp_path, lidar=fake.port) as service:
        code, out, err = flash(capsys, service, make_model(tmp_path / "plain.onnx"), "--start", "--max-speed", "0.5")
        assert code == 0, err
        assert service.virtual.wait_for(lambda h: any(r.throttle_us != NEUTRAL[1] for r in h), WAIT)
        assert wait_until(lambda: service.client.status()["ticks"] > 5)
        assert fake.commands == []  # the model reads no LIDAR: it was never started
        assert service.client.status()["sensors"]["lidar"] == fake.port
        service.client.stop()
        assert neutral_arrives(service.virtual) is not None


def test_racekit_car_serve_takes_the_sensor_options_of_car_drive(tmp_path, videos, capsys):
    from racekit.hardware.virtual import open_virtual_controller
    from test_server_cli import Serve, _healthy, free_port

    with FakeLidar() as fake, open_virtual_controller("mm1") as virtual:
        serve = Serve(tmp_path / "data", free_port(), virtual.port, videos[0], "--camera", videos[1],
                      "--lidar", fake.port, "--lidar-mount-yaw", "90")
        try:
            serve.wait_for_line("A new access token")
            token = serve.wait_for_line("    ").strip()
            summary = (f"stereo cameras {videos[0]} (left) and {videos[1]} (right), LIDAR {fake.port} "
                       "(mount yaw 90 deg)")
            assert summary in serve.wait_for_line("racekit car service on")
            assert wait_until(lambda: _healthy(serve.url)), "".join(serve.output)
            capsys.readouterr()
            assert main(["car", "status", "--car", serve.url, "--token", token]) == 0
            assert f"sensors:      {summary}" in capsys.readouterr().out
        finally:
            serve.stop()


@pytest.mark.parametrize("args, message", [
    (["--camera", "0", "--camera", "1", "--stereo-side-by-side"], "--stereo-side-by-side: the side-by-side stereo "
                                                                  "device is one --camera"),
    (["--camera", "0", "--camera", "1", "--camera", "2"], "--camera: at most two"),
    (["--lidar", "/dev/null", "--lidar-motor-pwm", "2000"], "--lidar-motor-pwm must be in 0..1023"),
])
def test_car_serve_refuses_sensor_options_it_cannot_use_in_one_line(tmp_path, capsys, args, message):
    code = main(["car", "serve", "--data", str(tmp_path / "data"), "--serial", "/dev/null", "--controller", "mm1",
                 *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0]
    assert not (tmp_path / "data").exists()  # refused before the service made anything


def test_a_stored_model_the_car_can_no_longer_feed_is_not_activated_nor_rolled_back_to(tmp_path, capsys):
    import shutil

    from racekit.hardware.server.client import CarError

    evo = make_sensor_model(tmp_path / "evo.onnx", ("front-camera", "lidar"))
    (tmp_path / "with-lidar").mkdir()
    with FakeLidar() as fake, car_service(tmp_path / "with-lidar", lidar=fake.port) as service:
        evo_sha = service.client.upload(str(evo), activate=True)["sha256"]
        service.client.upload(str(make_model(tmp_path / "plain.onnx")), activate=True)
        data = service.data
    # the same models on the car, its service started again without the LIDAR
    again = tmp_path / "without" / "car-data"
    again.mkdir(parents=True)
    shutil.copytree(data / "models", again / "models")
    shutil.copy(data / "state.json", again / "state.json")
    with car_service(tmp_path / "without") as service:
        for refused in (service.client.rollback, lambda: service.client.activate(evo_sha)):
            with pytest.raises(CarError) as error:
                refused()
            assert error.value.status == 409 and "not a model this car can run: evo.onnx: the model drives with a " \
                "LIDAR" in str(error.value)
        assert service.client.status()["active"]["name"] == "plain.onnx"
        assert service.virtual.history() == []


def test_a_car_with_one_side_by_side_stereo_device_drives_a_stereo_model(tmp_path, capsys):
    picture = np.zeros((120, 320, 3), np.uint8)
    picture[:, :160] = 255  # the left camera's half white, the right one's black: full left (+30 degrees)
    video = str(write_video(tmp_path / "sbs.avi", [picture] * 8))
    with car_service(tmp_path, camera=video, side_by_side=True) as service:
        code, out, err = flash(capsys, service, make_sensor_model(tmp_path / "stereo.onnx", ("stereo-cameras",)),
                               "--start", "--max-speed", "0.5")
        assert code == 0, err
        assert f"sensors:      side-by-side stereo camera {video}, no LIDAR" in out
        assert service.virtual.wait_for(lambda h: any(r.steering_us >= 1695 for r in h), WAIT)  # 1700 us: full left
        assert service.client.status()["sensors"]["camera"] == "stereo-cameras"
        service.client.stop()
        assert neutral_arrives(service.virtual) is not None
