"""The create page's settings in a real headless Chromium: the track gallery (built-in, a generated track by
its seed, DeepRacer's public tracks where their folder is), the race type's settings, sensors, a discrete
action list edited as rows with DeepRacer's defaults offered, the physical-car randomisation; each bad value
refused at its field, everything kept over a reload, and the real training it starts carrying them all."""
import json
import os
import signal
import time
from pathlib import Path

from browser_helpers import WAIT, chromium, needs_chromium

from racekit.console import pictures
from racekit.console.jobs import Jobs
from racekit.console.server import BackgroundConsole

TINY = ["--envs", "2", "--rollout-steps", "64", "--camera", "36x36", "--eval-every", "100000", "--no-simtrace",
        "--steps", "128"]
TRAINING_WAIT = 240.0


def wait_for(driver, condition, message, timeout=WAIT):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: condition(d), message)


def field(driver, element_id):
    return driver.find_element("id", element_id)


def set_value(driver, element_id, value):
    """As a person would: the value, then the events the page listens to."""
    driver.execute_script("const e = document.getElementById(arguments[0]); e.value = arguments[1];"
                          "e.dispatchEvent(new Event('input', {bubbles: true}));"
                          "e.dispatchEvent(new Event('change', {bubbles: true}));", element_id, value)


def refused(driver, field_id, says):
    field(driver, "create").click()
    wait_for(driver, lambda d: says in field(d, "err-" + field_id).text, f"{field_id} refused: {says}")


@needs_chromium
def test_the_create_pages_settings_reach_the_training(tmp_path, monkeypatch):
    monkeypatch.setenv("RACEKIT_DB", str(tmp_path / "board.sqlite"))
    root = tmp_path / "runs"
    jobs = Jobs(root, max_trainings=1, extra_train_args=TINY)
    deepracer = pictures.deepracer_tracks()
    with BackgroundConsole(root, jobs) as server, chromium(tmp_path / "profile", "1200,1400") as browser:
        try:
            browser.get(server.url + "/#/create")
            wait_for(browser, lambda d: len(d.find_elements("css selector", "#track-picker button")) == 4, "built-in")
            field(browser, "name").send_keys("settings")
            set_value(browser, "generated_seed", "42")
            field(browser, "show-generated").click()
            wait_for(browser, lambda d: field(d, "track").get_attribute("value") == "generated:42", "generated:42")
            assert browser.find_element("css selector", "#generated-picker button.chosen img").get_attribute(
                "alt") == "generated:42"
            if deepracer:  # where ../shared/deepracer-tracks is
                assert field(browser, "deepracer-count").text == str(len(deepracer))
                field(browser, "deepracer-tracks").click()
                browser.find_element("css selector", f"#deepracer-picker button[data-track='{deepracer[0]['id']}']").click()
                assert field(browser, "track").get_attribute("value") == deepracer[0]["id"]
            set_value(browser, "direction", "both")

            set_value(browser, "race_type", "head-to-bot")
            assert field(browser, "bots").is_displayed() and not field(browser, "objects").is_displayed()
            set_value(browser, "bot_speed", "9")
            refused(browser, "bot_speed", "bot speed: from 0.05 to 4")
            set_value(browser, "bot_speed", "0.4")
            set_value(browser, "bots", "2")

            set_value(browser, "camera", "stereo-cameras")
            set_value(browser, "lidar", "discretized-sector-lidar")
            assert field(browser, "lidar_sectors").is_displayed()
            set_value(browser, "lidar_sectors", "3")
            refused(browser, "lidar_sectors", "lidar sectors: one of 1, 2, 4, 8, 16, 32, 64")
            set_value(browser, "lidar_sectors", "16")

            field(browser, "action-discrete").click()
            assert field(browser, "actions-table").is_displayed() and not field(browser, "steering_low").is_displayed()
            rows = browser.find_elements("css selector", "#actions-table tbody tr")
            assert len(rows) == 10  # DeepRacer's defaults, offered
            first = rows[0].find_element("css selector", "input.steering")
            first.clear()
            first.send_keys("40")
            refused(browser, "actions", "action 1 steering (degrees): from -30 to 30")
            rows[-1].find_element("css selector", "button").click()  # a row removed: a list of the user's own
            assert len(browser.find_elements("css selector", "#actions-table tbody tr")) == 9
            field(browser, "deepracer-actions").click()
            assert len(browser.find_elements("css selector", "#actions-table tbody tr")) == 10
            set_value(browser, "learning_rate", "1")
            assert not field(browser, "err-learning_rate").is_displayed()
            refused(browser, "learning_rate", "learning rate: from 1e-06 to 0.1")  # its folded section opened
            set_value(browser, "learning_rate", "0.0001")
            set_value(browser, "randomize", "default")
            set_value(browser, "minutes", "5")

            browser.refresh()  # nothing set is lost
            wait_for(browser, lambda d: field(d, "name").get_attribute("value") == "settings", "the draft")
            track = field(browser, "track").get_attribute("value")
            assert track == (deepracer[0]["id"] if deepracer else "generated:42")
            assert field(browser, "lidar_sectors").get_attribute("value") == "16"
            assert field(browser, "action-discrete").is_selected() and field(browser, "bots").is_displayed()
            assert field(browser, "randomize").get_attribute("value") == "default"

            field(browser, "create").click()
            wait_for(browser, lambda d: d.current_url.endswith("#/model/settings"), "the model page")
            deadline = time.monotonic() + TRAINING_WAIT
            while not (root / "settings" / "config.json").is_file() and time.monotonic() < deadline:
                time.sleep(0.5)
            run = json.loads((root / "settings" / "config.json").read_text())["run"]
            assert Path(run["track"]).resolve() == Path(pictures.resolve(track)).resolve()  # ../shared may be a link
            assert run["alternate_direction"] is True
            assert (run["race_type"], run["num_bots"], run["bot_speed"]) == ("head-to-bot", 2, 0.4)
            assert run["sensors"] == ["stereo-cameras", "discretized-sector-lidar"]
            assert run["lidar_config"]["num_sectors"] == 16
            assert len(run["actions"]) == 10 and run["randomize"] == "default"
            assert run["ppo"]["learning_rate"] == 0.0001
        finally:
            for pid in jobs.live().values():
                os.kill(pid, signal.SIGTERM)
