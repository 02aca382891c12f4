"""The racekit firmware's protocol logic, compiled with g++ on the host and run.

The same rk_protocol.cpp goes into the Arduino sketch; here it is linked with
a small test program: its own unit tests (valid frames, bad CRC, resync,
watchdog), and a cross-check that the bytes the Python driver puts on the
wire are what the C++ parser accepts.
"""
import os
import select
import shutil
import subprocess
from pathlib import Path

import pytest

from racekit.hardware.controllers import RacekitController
from racekit.hardware.protocols import racekit
from racekit.hardware.virtual import PtyPort

FIRMWARE = Path(__file__).resolve().parent.parent / "hardware" / "firmware"


@pytest.fixture(scope="module")
def binary(tmp_path_factory):
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    out = tmp_path_factory.mktemp("firmware") / "test_rk_protocol"
    cmd = ["g++", "-std=c++11", "-Wall", "-Wextra", "-Werror", "-O1", "-o", str(out),
           str(FIRMWARE / "host_test" / "test_rk_protocol.cpp"), str(FIRMWARE / "racekit_motor" / "rk_protocol.cpp")]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return out


def test_sketch_layout_is_arduino_compatible():
    sketch = FIRMWARE / "racekit_motor"
    assert (sketch / "racekit_motor.ino").is_file()  # the IDE wants the sketch named as its folder
    for name in ("rk_protocol.h", "rk_protocol.cpp"):  # host-compilable: standard C headers only
        includes = {line.split()[1] for line in (sketch / name).read_text().splitlines()
                    if line.startswith("#include")}
        assert includes <= {"<stddef.h>", "<stdint.h>", "<string.h>", '"rk_protocol.h"'}, includes
    assert '#include "rk_protocol.h"' in (sketch / "racekit_motor.ino").read_text()


def test_firmware_unit_tests_pass(binary):
    result = subprocess.run([str(binary), "selftest"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok ") and int(result.stdout.split()[1]) >= 25


def read_all(fd, timeout=2.0):
    data = b""
    while select.select([fd], [], [], timeout)[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
        timeout = 0.2  # then drain whatever is left
    return data


def test_bytes_from_the_python_driver_are_accepted_by_the_cpp_parser(binary):
    port = PtyPort()
    sent = [(1200 + i * 1.75, 1311 + (i % 7) * 0.25) for i in range(300)]  # seq wraps past 255
    try:
        controller = RacekitController(port.path, ack_timeout_s=None)
        for pulses in sent:  # 2400 bytes: well within the pty's buffer
            controller.send(*pulses)
        wire = read_all(port.fd)
        controller.close()
    finally:
        port.close()
    assert len(wire) == 8 * len(sent)
    corrupt = bytearray(racekit.encode_command(3, 1500, 1500))
    corrupt[5] ^= 0x01
    stream = b"\x00\xa5\x17garbage" + wire[:80] + bytes(corrupt) + wire[80:]
    result = subprocess.run([str(binary), "parse"], input=stream, capture_output=True, timeout=60)
    assert result.returncode == 0
    lines = result.stdout.decode().splitlines()
    frames = [tuple(int(x) for x in line.split()[1:]) for line in lines if line.startswith("frame")]
    expected = [(i % 256, round(s * 4), round(t * 4)) for i, (s, t) in enumerate(sent)]
    assert frames == expected
    assert lines[-1].startswith("bad ") and int(lines[-1].split()[1]) >= 1
