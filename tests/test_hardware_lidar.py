"""The car's LIDAR: the RPLIDAR driver against a fake device on a pseudo-terminal (real bytes),
and a scan -> DeepRacer's observations on hand-built ranges."""
import threading
import time

import numpy as np
import pytest

from hardware_helpers import FakeClock, wait_until
from lidar_device import FakeLidar, RangesScene, box, descriptor, encode_sample
from racekit.hardware.errors import HardwareError, LidarError
from racekit.hardware.lidar import LIDAR_STALL_S, Lidar, open_lidar, request, sample_ok
from racekit.hardware.lidar import descriptor as driver_descriptor
from racekit.hardware.lidar_observation import (
    MAX_RANGE, MIN_RANGE, NUM_RAYS, RAY_ANGLES_DEG, RAY_SPACING_DEG, LidarConfig, lidar_observation,
    observation_size, scan_to_ranges)

INF = np.inf


def new_scan(lidar, after: int = 0, timeout: float = 10.0):
    """Wait for a complete scan with index > after and return it."""
    assert wait_until(lambda: (lidar.latest() is not None and lidar.latest().index > after), timeout), \
        f"no scan after #{after} (error: {lidar.error})"
    return lidar.latest()


# -- the protocol's bytes ------------------------------------------------------

def test_request_and_descriptor_bytes_are_the_documented_ones():
    assert request(0x20) == bytes([0xA5, 0x20])
    checksum = 0xA5 ^ 0xF0 ^ 0x02 ^ 0x94 ^ 0x02
    assert request(0xF0, (660).to_bytes(2, "little")) == bytes([0xA5, 0xF0, 0x02, 0x94, 0x02, checksum])  # SET_PWM 660
    # the SCAN descriptor in Slamtec's protocol document: A5 5A 05 00 00 40 81 (5 bytes, multiple answers)
    assert driver_descriptor(5, 1, 0x81) == descriptor(5, 1, 0x81) == bytes.fromhex("a55a0500004081")
    assert driver_descriptor(3, 0, 0x06) == bytes.fromhex("a55a0300000006")


def test_sample_check_bits():
    good = encode_sample(True, 15, 90.0, 0.4)
    assert sample_ok(good) and good[0] & 0b11 == 0b01
    assert sample_ok(encode_sample(False, 0, 359.9, 0.0))
    assert not sample_ok(bytes([good[0] | 0b10]) + good[1:])  # S == !S
    assert not sample_ok(bytes([good[0], good[1] & 0xFE]) + good[2:])  # C == 0
    assert not sample_ok(bytes([0x3D, 0xFF, 0xFF, 0, 0]))  # angle 511 degrees


# -- the driver over a pseudo-terminal -----------------------------------------

def test_driver_reads_full_revolutions_and_the_box_lands_on_the_left_rays():
    # The Evo's LIDAR faces backward (mount yaw 180) and counts clockwise: device 90 = the car's left.
    with FakeLidar(box(90.0, 0.4, width_deg=10.0), samples_per_rev=180, scan_hz=10.0) as fake:
        lidar = Lidar(fake.port)
        info = lidar.info()
        assert (info.model, info.firmware, info.hardware) == (0x18, (1, 29), 7)
        assert info.serial_number == bytes(range(16)).hex()
        lidar.start()
        try:
            first = new_scan(lidar)
            scan = new_scan(lidar, after=first.index)
        finally:
            lidar.stop()
        assert fake.commands[:4] == [0x50, 0x25, 0x52, 0x20]  # GET_INFO, STOP, GET_HEALTH, SCAN
    assert lidar.dropped == 0 and lidar.error is None
    assert len(scan.angles_deg) == 180 and scan.angles_deg.dtype == np.float32
    np.testing.assert_allclose(scan.angles_deg, np.arange(180) * 2.0, atol=1 / 64)
    hit = np.abs(scan.angles_deg - 90.0) <= 5.0
    np.testing.assert_allclose(scan.distances_m[hit], 0.4, atol=0.00025)
    assert (scan.distances_m[~hit] == 0).all() and (scan.quality[hit] == 15).all()

    ranges = scan_to_ranges(scan.angles_deg, scan.distances_m)  # mount yaw 180 by default
    seen = np.flatnonzero(np.isfinite(ranges))
    assert seen.tolist() == [12, 13]  # the rays at 87.1 and 91.9 degrees: left of the car
    assert RAY_ANGLES_DEG[12] > 0 and RAY_ANGLES_DEG[13] > 0
    np.testing.assert_allclose(ranges[seen], 0.4, atol=0.00025)


def test_scan_to_ranges_takes_the_mount_yaw_and_the_nearest_return_per_ray():
    def ray(car_deg):
        return int(np.argmin(np.abs((RAY_ANGLES_DEG - car_deg + 180.0) % 360.0 - 180.0)))

    angles, dists = [91.0, 92.0, 93.0, 45.0, 178.0, 250.0], [0.8, 0.5, 0.0, 3.0, 1.0, 12.5]
    evo = scan_to_ranges(angles, dists, 180.0)  # backward, clockwise: car angle = 180 - device angle
    assert evo.shape == (NUM_RAYS,)
    assert evo[ray(88.0)] == 0.5  # the nearer of 0.8 and 0.5; the distance 0 is no return
    assert evo[ray(135.0)] == 3.0
    # device 178 = 2 degrees left of ahead: the blind cone; 12.5 m is beyond the sensor's range
    assert np.isinf(evo).sum() == NUM_RAYS - 2
    forward = scan_to_ranges(angles, dists, mount_yaw_deg=0.0)  # device 0 ahead: device 92 is the right
    assert forward[ray(-92.0)] == 0.5 and forward[ray(-178.0)] == 1.0
    ccw = scan_to_ranges(angles, dists, mount_yaw_deg=0.0, clockwise=False)
    assert ccw[ray(92.0)] == 0.5
    assert np.isinf(scan_to_ranges([], [])).all()
    with pytest.raises(ValueError, match="one angle per distance"):
        scan_to_ranges([1.0, 2.0], [1.0])


def test_rays_are_deepracers():
    assert RAY_ANGLES_DEG.shape == (64,)
    assert RAY_ANGLES_DEG[0] == pytest.approx(30.0) and RAY_ANGLES_DEG[-1] == pytest.approx(-30.0)
    steps = np.diff(np.unwrap(np.radians(RAY_ANGLES_DEG)))
    np.testing.assert_allclose(np.degrees(steps), 300.0 / 63)  # counter-clockwise, evenly spaced
    assert RAY_SPACING_DEG == pytest.approx(300.0 / 63)
    assert (np.abs(RAY_ANGLES_DEG) >= 30.0 - 1e-9).all()  # nothing inside the 60-degree cone ahead
    assert (MIN_RANGE, MAX_RANGE) == (0.15, 12.0)


def test_a_health_error_is_reset_once_then_refused():
    with FakeLidar(health=(2, 0x1234), reset_clears=True) as fake:
        lidar = open_lidar(fake.port)
        lidar.stop()
        assert wait_until(lambda: fake.commands[-1:] == [0x25])
        assert fake.commands == [0x25, 0x52, 0x40, 0x52, 0x20, 0x25]  # STOP HEALTH RESET HEALTH SCAN ... STOP
    with FakeLidar(health=(2, 0x1234), reset_clears=False) as fake:
        with pytest.raises(LidarError) as err:
            open_lidar(fake.port)
        assert fake.commands.count(0x40) == 1 and 0x20 not in fake.commands
    message = str(err.value)
    assert fake.port in message and "health status error (code 0x1234)" in message and "\n" not in message


def test_a_wrong_descriptor_is_one_clear_error():
    with FakeLidar() as fake:
        fake.health_reply = descriptor(20, 0, 0x04) + bytes(3)  # GET_INFO's descriptor to GET_HEALTH
        with pytest.raises(LidarError) as err:
            open_lidar(fake.port)
    message = str(err.value)
    assert message.startswith(f"LIDAR {fake.port}: GET_HEALTH answered with a wrong descriptor a5 5a 14 00 00 00 04")
    assert "\n" not in message and isinstance(err.value, HardwareError)


def test_no_answer_and_no_port_are_clear_errors():
    with FakeLidar() as fake:
        fake.mute = True
        with pytest.raises(LidarError, match=r"no answer to GET_HEALTH within 0.3 s \(got 0 of 7 bytes"):
            open_lidar(fake.port, timeout_s=0.3)
    with pytest.raises(LidarError, match="LIDAR /nonexistent/ttyLIDAR: cannot open serial port"):
        Lidar("/nonexistent/ttyLIDAR")


def test_garbage_in_the_stream_is_skipped_and_counted_and_a_jam_is_an_error():
    with FakeLidar(box(270.0, 1.5)) as fake:
        lidar = open_lidar(fake.port)
        try:
            new_scan(lidar)
            fake.send_garbage(bytes([0x00, 0x03, 0xFF, 0x12, 0x00, 0x00, 0x07]))  # 7 bytes: misaligns the stream
            assert wait_until(lambda: lidar.dropped >= 1)
            garbled = lidar.latest().index + 1  # the revolution under way holds the garbage
            after = new_scan(lidar, after=garbled)  # a whole clean revolution after it
            assert lidar.error is None and len(after.angles_deg) == 180
            np.testing.assert_allclose(after.distances_m[np.abs(after.angles_deg - 270.0) <= 5.0], 1.5, atol=1e-3)
            fake.jammed = True
            assert wait_until(lambda: lidar.error is not None)
            message = str(lidar.error)
            assert isinstance(lidar.error, LidarError) and fake.port in message
            assert "bytes without a valid scan sample" in message and "\n" not in message
            fake.jammed = False
            assert wait_until(lambda: lidar.error is None)  # resynchronised: the error clears
        finally:
            lidar.stop()


def test_silence_makes_the_scan_stale_on_the_injected_clock():
    clock = FakeClock()
    with FakeLidar(box(0.0, 2.0)) as fake:
        lidar = open_lidar(fake.port, clock=clock)
        try:
            assert lidar.stale() and lidar.age() == INF  # no scan yet
            scan = new_scan(lidar)
            assert scan.t == clock.t and lidar.age() == 0.0 and not lidar.stale()
            fake.silent = True

            def quiet_for(seconds):
                index = lidar.latest().index
                time.sleep(seconds)
                return lidar.latest().index == index

            assert wait_until(lambda: quiet_for(0.3), timeout=5.0)  # the bytes on the way are read, then nothing
            quiet = lidar.latest().index
            clock.t += LIDAR_STALL_S + 0.1
            assert lidar.age() == pytest.approx(LIDAR_STALL_S + 0.1) and lidar.stale()
            assert not lidar.stale(max_age_s=2.0)
            fake.silent = False
            clock.t += 1.0
            assert new_scan(lidar, after=quiet).t == clock.t and not lidar.stale()
        finally:
            lidar.stop()


def test_stop_stops_the_scan_and_the_motor_and_closes_the_port():
    with FakeLidar(box(0.0, 2.0)) as fake:
        lidar = open_lidar(fake.port, motor_pwm=660)
        new_scan(lidar)
        threads = {t.name for t in threading.enumerate()}
        assert f"lidar {fake.port}" in threads
        lidar.stop()
        assert wait_until(lambda: fake.pwm == [660, 0]) and not fake.scanning
        assert fake.commands[-2:] == [0x25, 0xF0] and fake.pwm == [660, 0] and fake.bad_checksums == 0
        assert f"lidar {fake.port}" not in {t.name for t in threading.enumerate()}
        assert not lidar._serial.is_open
        lidar.stop()  # twice is harmless


# -- ranges -> observations ------------------------------------------------------

def ranges_with(**rays) -> np.ndarray:
    r = np.full(NUM_RAYS, INF)
    for key, value in rays.items():
        r[int(key[1:])] = value
    return r


def test_lidar_observation_clips_to_deepracers_range():
    r = ranges_with(r0=0.1, r1=0.5, r2=2.0, r3=np.nan, r63=0.15)
    obs = lidar_observation(r, "lidar")
    assert obs.dtype == np.float32 and obs.shape == (64,)
    assert obs[:4].tolist() == [pytest.approx(0.15), 0.5, 1.0, 1.0] and obs[63] == pytest.approx(0.15)
    assert (obs[4:63] == 1.0).all()


def test_sector_lidar_is_one_per_sector_nearer_than_half_a_metre():
    r = ranges_with(r9=0.3, r16=0.5, r40=0.49, r63=0.2, r30=0.7)
    obs = lidar_observation(r, "sector-lidar")
    assert obs.dtype == np.float32 and obs.tolist() == [0, 1, 0, 0, 0, 1, 0, 1]  # 0.5 is not nearer than 0.5
    assert lidar_observation(np.full(64, INF), "sector-lidar").tolist() == [0.0] * 8


def test_discretized_sector_lidar_one_hot_buckets():
    # defaults: 8 sectors, 8 values, 2.0 m -> buckets of 0.25 m
    r = ranges_with(r3=0.3, r5=0.9, r20=1.99, r24=2.0, r39=0.1)
    obs = lidar_observation(r, "discretized-sector-lidar")
    assert obs.dtype == np.float32 and obs.shape == (64,) == (observation_size("discretized-sector-lidar"),)
    grid = obs.reshape(8, 8)
    expected = np.zeros((8, 8), np.float32)
    expected[0, 1] = 1  # 0.3 m -> bucket 1
    expected[2, 7] = 1  # 1.99 m -> bucket 7
    expected[4, 0] = 1  # 0.1 m -> bucket 0
    # sector 1 and 3 (2.0 m = the clipping distance) and the empty ones: nothing seen, all zeros
    np.testing.assert_array_equal(grid, expected)

    wide = LidarConfig(num_sectors=4, num_values_per_sector=2, clipping_dist=20.0)  # clamped to 12 m: 6 m buckets
    r = ranges_with(r0=5.9, r17=6.1, r50=13.0)
    assert lidar_observation(r, "discretized-sector-lidar", wide).tolist() == [1, 0, 0, 1, 0, 0, 0, 0]
    assert wide.check().clipping_dist == 12.0 and LidarConfig(clipping_dist=0.05).check().clipping_dist == 0.15


@pytest.mark.parametrize("config, field", [
    (LidarConfig(num_sectors=5), "num_sectors must divide the 64 LIDAR rays"),
    (LidarConfig(num_sectors=0), "num_sectors must be a whole number >= 1"),
    (LidarConfig(num_values_per_sector=0), "num_values_per_sector must be a whole number >= 1"),
    (LidarConfig(num_values_per_sector=2.5), "num_values_per_sector"),
    (LidarConfig(clipping_dist="far"), "clipping_dist must be a distance"),
])
def test_bad_lidar_config_names_the_field(config, field):
    with pytest.raises(ValueError, match=field):
        lidar_observation(np.full(64, 1.0), "discretized-sector-lidar", config)


def test_bad_sensor_or_ranges_are_clear_errors():
    with pytest.raises(ValueError, match="unknown LIDAR sensor 'radar'"):
        lidar_observation(np.full(64, 1.0), "radar")
    with pytest.raises(ValueError, match="must be 64 values, got shape"):
        lidar_observation(np.full(63, 1.0), "lidar")


def test_a_simulated_scan_served_as_device_bytes_comes_back_as_the_same_ranges():
    # racekit sim serve's LIDAR: 64 ranges on DeepRacer's rays -> a backward-mounted, clockwise device's samples
    # (RangesScene) -> protocol bytes on a pty -> the car's driver -> scan_to_ranges: the same ranges again
    rng = np.random.default_rng(0)
    ranges = rng.uniform(MIN_RANGE, 11.0, NUM_RAYS)
    ranges[[0, 5, 63]] = INF  # nothing there
    ranges[7] = 12.5  # beyond the sensor: no return either
    with FakeLidar(RangesScene(ranges), samples_per_rev=200, scan_hz=10.0) as fake:
        lidar = open_lidar(fake.port)
        try:
            scan = new_scan(lidar, after=new_scan(lidar).index)
        finally:
            lidar.stop()
    back = scan_to_ranges(scan.angles_deg, scan.distances_m)
    expected = np.where(ranges <= MAX_RANGE, ranges, INF)
    assert (np.isinf(back) == np.isinf(expected)).all()
    np.testing.assert_allclose(back[np.isfinite(back)], expected[np.isfinite(expected)], atol=0.000126)
    # hence the simulator's observation, to the protocol's quarter millimetre
    np.testing.assert_allclose(lidar_observation(back, "lidar"), lidar_observation(expected, "lidar"), atol=0.000126)
    np.testing.assert_array_equal(lidar_observation(back, "sector-lidar"), lidar_observation(expected, "sector-lidar"))
    with pytest.raises(ValueError, match="64 values"):
        RangesScene([1.0, 2.0])
