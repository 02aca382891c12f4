"""Byte-level encoders and decoders of the three protocols (no I/O), and the drivers' bytes on loop://."""
import pytest

from racekit.hardware.controllers import open_controller
from racekit.hardware.protocols import maestro, make_decoder, mm1, racekit


def test_maestro_set_target_bytes_follow_pololus_compact_protocol():
    # 1500 us = 6000 quarter-us = 0x1770: low 7 bits 0x70, high 7 bits 0x2E (Pololu's own example).
    assert maestro.encode_set_target(0, 1500) == bytes([0x84, 0x00, 0x70, 0x2E])
    assert maestro.encode_set_target(5, 1603.5) == bytes([0x84, 5, 6414 & 0x7F, 6414 >> 7])
    with pytest.raises(ValueError):
        maestro.encode_set_target(24, 1500)


def test_maestro_decoder_resyncs_on_command_bytes():
    dec = maestro.MaestroDecoder(steering_channel=2, throttle_channel=3)
    data = (bytes([0x84, 0x02, 0x10])  # cut short by the next command
            + maestro.encode_set_target(2, 1700) + bytes([0x05, 0x7F])  # stray data bytes
            + bytes([0x87, 0x02, 0x00, 0x00])  # Set Speed: not ours, ignored
            + maestro.encode_set_target(3, 1311.25) + maestro.encode_set_target(9, 1000))
    got = dec.feed(data[:7]) + dec.feed(data[7:])  # split anywhere
    assert [(d.steering_us, d.throttle_us) for d in got] == [(1700, None), (None, 1311.25)]
    assert dec.bad == 2


def test_mm1_text_lines():
    assert mm1.encode(1450.4, 1603.5) == b"1450, 1604\r"
    dec = mm1.Mm1Decoder()
    got = dec.feed(b"1500, 1400\rgarbage\r" + b"x" * 100 + b"\r1600,1300\r12")
    assert [(d.steering_us, d.throttle_us) for d in got] == [(1500, 1400), (1600, 1300)]
    assert dec.bad == 2


def test_crc16_ccitt_check_value_and_frame_layout():
    assert racekit.crc16_ccitt(b"123456789") == 0x29B1
    frame = racekit.encode_command(7, 1700, 1311.5)
    assert frame == bytes.fromhex("a5 07 90 1a 7e 14 33 f0")  # the example in PROTOCOL.md
    ack = racekit.encode_ack(7, racekit.STATUS_FAILSAFE)
    assert ack[:3] == bytes([0x5A, 7, 1]) and racekit.crc16_ccitt(ack[:3]) == int.from_bytes(ack[3:], "little")
    with pytest.raises(ValueError):
        racekit.encode_command(0, 3000, 1500)


def test_racekit_decoder_ignores_bad_crc_and_resyncs_after_garbage():
    dec = make_decoder("racekit")
    good = racekit.encode_command(1, 1500, 1400)
    corrupt = bytearray(racekit.encode_command(2, 1600, 1400))
    corrupt[2] ^= 0x04
    tricky = racekit.encode_command(0xA5, 0x17A5 / 4, 0x16A5 / 4)  # start bytes inside the payload
    stream = b"\x00\xa5\xa5\x13" + bytes(corrupt) + tricky + b"\xa5\x01" + good
    got = []
    for i in range(len(stream)):  # byte by byte, as a UART delivers them
        got += dec.feed(stream[i:i + 1])
    assert [(d.seq, d.steering_us, d.throttle_us) for d in got] == [(0xA5, 0x17A5 / 4, 0x16A5 / 4), (1, 1500, 1400)]
    assert dec.bad >= 2
    assert dec.reply(got[-1], failsafe_was_active=False) == racekit.encode_ack(1, 0)


def test_out_of_range_racekit_frames_are_refused():
    dec = racekit.CommandDecoder()
    body = bytes([0xA5, 3]) + (400 * 4).to_bytes(2, "little") + (1500 * 4).to_bytes(2, "little")
    frame = body + racekit.crc16_ccitt(body).to_bytes(2, "little")
    assert dec.feed(frame) == [] and dec.bad == 1


@pytest.mark.parametrize("name, expected", [
    ("maestro", maestro.encode_set_target(0, 1575) + maestro.encode_set_target(1, 1412.25)),
    ("mm1", b"1575, 1412\r"),
])
def test_drivers_write_exactly_the_protocol_bytes_on_a_loopback_url(name, expected):
    controller = open_controller(name, "loop://")
    try:
        assert controller.send(1575, 1412.25) == expected
        assert controller._serial.read(100) == expected  # what went over the (looped-back) wire
    finally:
        controller.close()


def test_protocol_modules_take_decoded_from_base_not_from_the_package():
    """The package picks among the protocol modules; they import base.py, never the package (no circle)."""
    import ast
    from pathlib import Path

    from racekit.hardware import protocols
    from racekit.hardware.protocols import base

    folder = Path(protocols.__file__).parent
    for name in ("base.py", "maestro.py", "mm1.py", "racekit.py"):
        tree = ast.parse((folder / name).read_text())
        froms = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0}
        assert "racekit.hardware.protocols" not in froms, name
    assert protocols.Decoded is base.Decoded is maestro.Decoded is mm1.Decoded is racekit.Decoded
    assert protocols.Decoder is base.Decoder
    assert make_decoder("mm1").feed(b"1500, 1400\r") == [base.Decoded(1500.0, 1400.0)]
