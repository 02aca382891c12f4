"""Calibration: DeepRacer defaults, the TOML file, errors naming file and field, mapping and clamping."""
import tomllib

import pytest

from racekit.hardware.calibration import Calibration, format_calibration, load_calibration, save_calibration
from racekit.hardware.errors import CalibrationError


def test_defaults_are_deepracers():
    cal = Calibration()
    assert (cal.steering_right_us, cal.steering_center_us, cal.steering_left_us) == (1200, 1450, 1700)
    assert (cal.throttle_forward_us, cal.throttle_neutral_us, cal.throttle_reverse_us) == (1311, 1446, 1603.5)
    assert cal.throttle_polarity == -1 and cal.steering_polarity == 1
    assert cal.neutral() == (1450, 1446)


def test_mapping_fractions_to_pulses_and_clamping():
    cal = Calibration()
    assert cal.steering_us(1.0) == 1700 and cal.steering_us(-1.0) == 1200 and cal.steering_us(0) == 1450
    assert cal.steering_us(0.5) == pytest.approx(1575)
    assert cal.steering_us(-0.5) == pytest.approx(1325)
    assert cal.throttle_us(1.0) == 1311  # polarity -1: full forward is the short pulse
    assert cal.throttle_us(0.25) == pytest.approx(1446 - 0.25 * 135)
    assert cal.throttle_us(-1.0) == 1603.5
    # Out-of-range and non-finite fractions never leave the calibrated range.
    assert cal.steering_us(7.0) == 1700 and cal.steering_us(-3) == 1200
    assert cal.throttle_us(2.0) == 1311 and cal.throttle_us(-9) == 1603.5
    assert cal.pulses(float("nan"), float("nan")) == (1450, 1446)
    assert cal.throttle_us(float("inf")) == 1311
    assert cal.clamp(3000, 100) == (1700, 1311)


def test_save_and_load_round_trip_with_a_readable_file(tmp_path):
    cal = Calibration(1500, 1200, 1800, 1500, 1650.25, 1350)  # mirrored servo, polarity +1 ESC
    path = tmp_path / "car.toml"
    save_calibration(cal, path)
    text = path.read_text()
    assert "[steering]" in text and "center_us = 1500" in text and "forward_us = 1650.25" in text
    raw = tomllib.loads(text)
    assert raw["steering"]["polarity"] == -1 and raw["throttle"]["polarity"] == 1
    assert load_calibration(path) == cal
    assert cal.steering_us(1.0) == 1200 and cal.throttle_us(1.0) == 1650.25


@pytest.mark.parametrize("edit, fault", [
    (lambda t: t.replace("center_us = 1450\n", ""), "missing field steering.center_us"),
    (lambda t: t.replace("neutral_us = 1446", 'neutral_us = "1446"'), "throttle.neutral_us must be a number"),
    (lambda t: t.replace("left_us = 1700", "left_us = 17000"), "steering.left_us = 17000.0 is outside"),
    (lambda t: t.replace("center_us = 1450", "center_us = 1750"), "steering.center_us = 1750.0 must lie"),
    (lambda t: t.replace("forward_us = 1311", "forward_us = 1500"), "throttle.neutral_us = 1446.0 must lie"),
    (lambda t: t.replace("polarity = -1", "polarity = 1"), "throttle.polarity = 1 disagrees"),
    (lambda t: t.replace("[throttle]", "[throttle"), "not valid TOML"),
])
def test_bad_files_name_the_file_and_field(tmp_path, edit, fault):
    path = tmp_path / "car.toml"
    path.write_text(edit(format_calibration(Calibration())))
    with pytest.raises(CalibrationError) as err:
        load_calibration(path)
    assert str(path) in str(err.value) and fault in str(err.value)


def test_missing_file_and_invalid_save_are_refused(tmp_path):
    with pytest.raises(CalibrationError, match="calibration file not found"):
        load_calibration(tmp_path / "nope.toml")
    with pytest.raises(CalibrationError, match="must lie strictly between"):
        save_calibration(Calibration(steering_center_us=1200), tmp_path / "bad.toml")
    assert not (tmp_path / "bad.toml").exists()


def test_pulses_map_back_to_fractions_for_a_simulated_car():
    for cal in (Calibration(), Calibration(1500, 1200, 1800, 1500, 1650, 1350)):
        for s, t in [(0, 0), (1, 1), (-1, -1), (0.3, 0.25), (-0.7, -0.5)]:
            back = cal.fractions(*cal.pulses(s, t))
            assert back == pytest.approx((s, t))
    cal = Calibration()
    assert cal.fractions(1450, 1311) == (0.0, 1.0)  # DeepRacer: the short pulse is full forward
    assert cal.fractions(1200, 1603.5) == (-1.0, -1.0)
    assert cal.fractions(2400, 900) == (1.0, 1.0)  # beyond the calibrated range: clamped to full
