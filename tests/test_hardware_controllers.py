"""Each serial driver against a software controller speaking its protocol over a real pseudo-terminal."""
import time

import pytest

from racekit.hardware.controllers import CONTROLLERS, RacekitController, open_controller
from racekit.hardware.errors import ControllerError
from racekit.hardware.protocols import racekit
from racekit.hardware.virtual import PtyPort, VirtualController, open_virtual_controller
from hardware_helpers import FakeClock

WAIT = 10.0  # generous: these only bound a hang, a passing run takes milliseconds


def commands(virtual):
    return [(r.steering_us, r.throttle_us) for r in virtual.history("command")]


@pytest.mark.parametrize("name, sent, received", [
    ("maestro", [(1700, 1311.25), (1200, 1446)], [(1700, 1446), (1700, 1311.25), (1200, 1311.25), (1200, 1446)]),
    ("mm1", [(1700, 1311.25), (1200, 1446)], [(1700, 1311), (1200, 1446)]),
    ("racekit", [(1700, 1311.25), (1200, 1446)], [(1700, 1311.25), (1200, 1446)]),
])
def test_driver_reaches_its_virtual_controller(name, sent, received):
    with open_virtual_controller(name) as virtual:
        controller = open_controller(name, virtual.port)
        try:
            for pulses in sent:
                controller.send(*pulses)
            assert virtual.wait_for(lambda h: len(h) >= len(received), WAIT)
            assert commands(virtual) == received
            assert virtual.pulses == received[-1] and virtual.bad == 0
        finally:
            controller.close()


def test_maestro_channels_are_configurable():
    with open_virtual_controller("maestro", steering_channel=4, throttle_channel=7) as virtual:
        controller = open_controller("maestro", virtual.port, steering_channel=4, throttle_channel=7)
        controller.send(1600, 1400)
        assert virtual.wait_for(lambda h: len(h) == 2, WAIT)
        assert virtual.pulses == (1600, 1400)
        controller.close()
    with pytest.raises(ControllerError, match="channels must differ"):
        open_controller("maestro", "loop://", steering_channel=1, throttle_channel=1)


@pytest.mark.parametrize("name", sorted(CONTROLLERS))
def test_virtual_controller_failsafe_goes_neutral_after_250_ms_of_silence(name):
    with open_virtual_controller(name, neutral=(1450, 1446)) as virtual:
        controller = open_controller(name, virtual.port)
        controller.send(1650, 1350)
        assert virtual.wait_for(lambda h: any(r.source == "failsafe" for r in h), WAIT)
        records = virtual.history()
        last_command = [r for r in records if r.source == "command"][-1]
        failsafe = records[-1]
        assert (failsafe.steering_us, failsafe.throttle_us) == (1450, 1446)
        assert virtual.pulses == (1450, 1446) and virtual.in_failsafe
        # Never early; late only by thread scheduling (bounded generously for a loaded machine).
        assert 0.25 <= failsafe.t - last_command.t < 0.75
        controller.close()


def test_racekit_frames_are_acknowledged_and_bad_crc_is_ignored():
    with open_virtual_controller("racekit") as virtual:
        controller = open_controller("racekit", virtual.port)
        controller.send(1600, 1400)
        assert virtual.wait_for(lambda h: len(h) == 1, WAIT)
        # A corrupted frame written straight to the port: ignored, not acknowledged.
        bad = bytearray(racekit.encode_command(99, 1200, 1300))
        bad[4] ^= 0x10
        controller._serial.write(bytes(bad))
        deadline = time.monotonic() + WAIT
        while virtual.bad < 1 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert virtual.bad == 1 and virtual.pulses == (1600, 1400)
        controller.send(1500, 1446)
        assert virtual.wait_for(lambda h: len(h) == 2, WAIT)
        deadline = time.monotonic() + WAIT
        while controller.acks < 2 and time.monotonic() < deadline:
            controller.poll_acks()
            time.sleep(0.005)
        assert controller.acks == 2 and controller.last_acked_seq == 1  # seq 99 was never acked
        assert controller.failsafe_reports == 1  # the first frame after power-up
        controller.close()


def test_racekit_driver_raises_when_acks_never_come_or_stop():
    clock = FakeClock()
    port = PtyPort()  # nobody answers on this one
    try:
        controller = RacekitController(port.path, clock=clock, boot_grace_s=2.5)
        controller.send(1500, 1446)
        clock.sleep(2.6)
        with pytest.raises(ControllerError, match="no acknowledgement .* 2.5 s after opening"):
            controller.send(1500, 1446)
        controller.close()
    finally:
        port.close()

    port = PtyPort()
    virtual = VirtualController("racekit", fd=port.fd).start()  # the fd stays ours when it stops
    try:
        controller = RacekitController(port.path, clock=clock, ack_timeout_s=0.5)
        controller.send(1500, 1446)
        assert virtual.wait_for(lambda h: len(h) == 1, WAIT)
        deadline = time.monotonic() + WAIT
        while controller.acks == 0 and time.monotonic() < deadline:
            controller.poll_acks()
        virtual.stop()  # the controller hangs: bytes still go out, no acks come back
        controller.send(1500, 1446)
        clock.sleep(0.6)
        with pytest.raises(ControllerError, match="stopped acknowledging"):
            controller.send(1500, 1446)
        controller.close()
    finally:
        port.close()


def test_open_and_write_failures_are_controller_errors(tmp_path):
    with pytest.raises(ControllerError, match="unknown controller 'pca9685'"):
        open_controller("pca9685", "loop://")
    missing = str(tmp_path / "ttyACM9")
    with pytest.raises(ControllerError) as err:
        open_controller("mm1", missing)
    assert missing in str(err.value) and "cannot open serial port" in str(err.value)
    virtual = open_virtual_controller("mm1")
    controller = open_controller("mm1", virtual.port)
    controller.send(1500, 1446)
    virtual.disconnect()  # the cable is pulled
    with pytest.raises(ControllerError, match="serial write failed"):
        for _ in range(3):  # the first write may still land in the kernel buffer
            controller.send(1500, 1446)
    controller.close()
    virtual.stop()


def test_on_pulses_callback_sees_commands_and_failsafe_and_survives_its_own_errors():
    seen = []

    def callback(record):
        seen.append((record.source, record.steering_us, record.throttle_us))
        if len(seen) == 1:
            raise RuntimeError("a simulator bug")  # logged; the controller keeps going

    with open_virtual_controller("mm1", on_pulses=callback, neutral=(1500, 1500)) as virtual:
        controller = open_controller("mm1", virtual.port)
        controller.send(1600, 1400)
        controller.send(1610, 1400)
        assert virtual.wait_for(lambda h: h and h[-1].source == "failsafe", WAIT)
        controller.close()
    assert seen == [("command", 1600, 1400), ("command", 1610, 1400), ("failsafe", 1500, 1500)]
