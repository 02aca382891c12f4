"""Loading reward files and calling them: every fault is one message naming the user's file and line."""
import hashlib
import time
from pathlib import Path

import pytest

from racekit.cli import main
from racekit.sim.check import validation_states
from racekit.sim.reward import RewardError, load_reward
from racekit.tracks import load_track

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples" / "rewards").glob("*.py"))


def reward_file(tmp_path, body: str) -> Path:
    path = tmp_path / "my_reward.py"
    path.write_text(body)
    return path


PARAMS = validation_states(load_track("oval"))["valid"]

LOAD_FAULTS = [
    ("def reward_function(params)\n    return 1.0\n", 1, "syntax error"),
    ("x = 1\n", None, "no function named reward_function"),
    ("def reward_function(params, extra):\n    return 1.0\n", 1, "exactly one argument"),
    ("def reward_function():\n    return 1.0\n", 1, "exactly one argument"),
    ("import math\nraise RuntimeError('boom')\n", 2, "RuntimeError: boom"),
    ("reward_function = 3\n", None, "not a function"),
]


@pytest.mark.parametrize("body, line, words", LOAD_FAULTS)
def test_load_faults_name_the_file_and_line(tmp_path, body, line, words):
    path = reward_file(tmp_path, body)
    with pytest.raises(RewardError) as err:
        load_reward(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message and words in message
    if line is not None:
        assert f"line {line}" in message


CALL_FAULTS = [
    ("def reward_function(params):\n    x = 0\n    return 1 / x\n", 3, "ZeroDivisionError"),
    ("def reward_function(params):\n    return params['no_such_key']\n", 2, "KeyError"),
    ("def reward_function(params):\n    return 'fast'\n", 2, "not a number"),
    ("def reward_function(params):\n    x = 1\n    return None\n", 3, "not a number"),
    ("def reward_function(params):\n    return float('nan')\n", 2, "not a finite number"),
    ("def reward_function(params):\n    if params['speed'] > 0:\n        return float('inf')\n    return 1.0\n",
     3, "not a finite number"),
]


@pytest.mark.parametrize("body, line, words", CALL_FAULTS)
def test_call_faults_name_the_file_and_line(tmp_path, body, line, words):
    path = reward_file(tmp_path, body)
    reward = load_reward(path)
    with pytest.raises(RewardError) as err:
        reward(PARAMS)
    message = str(err.value)
    assert "\n" not in message and f"{path} line {line}" in message and words in message


@pytest.mark.parametrize("value", [1e6, -2e5, 117000.0])
def test_any_finite_number_is_accepted_as_deepracer_does(tmp_path, value):
    # the same wrapper scores training steps: a large reward must not stop a run
    assert load_reward(reward_file(tmp_path, f"def reward_function(params):\n    return {value!r}\n"))(PARAMS) == value


def test_numbers_of_any_kind_go_through_float(tmp_path):
    import numpy as np  # noqa: F401  (used by the reward file)

    path = reward_file(tmp_path, "import numpy as np\ndef reward_function(params):\n    return np.float32(0.5)\n")
    assert load_reward(path)(PARAMS) == 0.5
    assert load_reward(path).sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_endless_loop_is_stopped_with_its_line(tmp_path):
    path = reward_file(tmp_path, "def reward_function(params):\n    while True:\n        pass\n")
    reward = load_reward(path)
    reward.time_limit_s = 0.5
    start = time.monotonic()
    with pytest.raises(RewardError, match=r"line [23]: reward_function did not return within 0.5 s"):
        reward(PARAMS)
    assert time.monotonic() - start < 3.0


def test_a_user_except_clause_cannot_swallow_the_time_limit(tmp_path):
    path = reward_file(tmp_path, "def reward_function(params):\n    while True:\n        try:\n"
                                 "            sum(range(1000))\n        except Exception:\n            pass\n")
    reward = load_reward(path)
    reward.time_limit_s = 0.3
    with pytest.raises(RewardError, match="did not return"):
        reward(PARAMS)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_rewards_pass_the_check(path, capsys):
    assert main(["reward", "check", str(path), "--steps", "60"]) == 0
    out = capsys.readouterr().out
    assert "ok: every call returned a finite number" in out and "off-track" in out


def test_there_are_at_least_five_examples():
    assert len(EXAMPLES) >= 5


def test_reward_check_fails_with_the_message_of_a_bad_file(tmp_path, capsys):
    path = reward_file(tmp_path, "def reward_function(params):\n    if params['progress'] > 50:\n"
                                 "        return float('nan')\n    return 1.0\n")
    assert main(["reward", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path} line 3: reward_function returned nan, not a finite number" in err


def test_reward_check_reports_an_off_track_only_fault(tmp_path, capsys):
    # DeepRacer's validator catches functions that break on the off-track state only
    path = reward_file(tmp_path, "def reward_function(params):\n"
                                 "    return 1.0 / params['all_wheels_on_track']\n")
    assert main(["reward", "check", str(path)]) == 2
    assert f"{path} line 2: reward_function raised ZeroDivisionError" in capsys.readouterr().err


def test_invisible_characters_pasted_from_a_web_page_are_taken_out_outside_strings(tmp_path, capsys):
    """One of the AWS documentation's own examples ends with a zero-width space; web pages indent with
    non-breaking spaces. Python refuses both ("invalid non-printable character"); racekit takes them out."""
    path = tmp_path / "pasted.py"
    text = ("def reward_function(params):\n"
            "\u00a0\u00a0\u00a0\u00a0label = 'keep\u00a0this'  # a comment\u00a0stays\n"
            "    return float(len(label))\u200b\n")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SyntaxError):
        compile(text, str(path), "exec")  # what DeepRacer's users hit
    reward = load_reward(path)
    assert reward({}) == 9.0  # the string kept its non-breaking space: 'keep\xa0this' is 9 characters
    assert reward.notes == [f"{path} line 2: replaced 4 x non-breaking space (U+00A0) outside strings (pasted from a "
                            f"web page?)", f"{path} line 3: replaced 1 x zero-width space (U+200B) outside strings "
                                           f"(pasted from a web page?)"]
    assert reward.sha256 == hashlib.sha256(text.encode()).hexdigest()  # the file as it is
    assert main(["reward", "check", str(path), "--track", "oval", "--steps", "5"]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "line 2: replaced 4 x non-breaking space" in err and "line 3:" in err
