"""`racekit console` in a real headless Chromium (Debian's chromium + chromium-driver, driven by selenium), the
issue's whole flow: create a model whose reward fails Validate (the line is marked, the draft survives a
reload), fix it, start a short real training, see the live camera's frames change and a curve gain points,
stop it, race it from its page (results, replay, map), see its row on the leaderboard, clone it, import a
model file and download it, delete after a confirmation. A page of each step is saved as a picture
(tests/artifacts/console-*.png; with RACEKIT_SCREENSHOTS=docs also docs/console-*.png, the guide's)."""
import os
import signal
import time

import pytest
from browser_helpers import WAIT, chromium, needs_chromium, screenshot
from selenium.common.exceptions import TimeoutException

from racekit.console.jobs import Jobs
from racekit.console.server import BackgroundConsole
from racekit.console.tasks import Tasks

TRAINING_WAIT = 240.0  # a training's start on a busy 2-core machine: imports, env workers, the first update
TINY = ["--envs", "2", "--rollout-steps", "64", "--camera", "36x36", "--eval-every", "128", "--eval-laps", "1",
        "--no-simtrace"]
BROKEN = "def reward_function(params):\n    speed = params['speed']\n    return speed *\n"
FIXED = "def reward_function(params):\n    speed = params['speed']\n    return 1e-3 if params['is_offtrack'] else speed\n"
CHECKSUM = """const img = document.getElementById(arguments[0]);
if (!img.naturalWidth) return -1;
const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
const g = c.getContext('2d'); g.drawImage(img, 0, 0);
return g.getImageData(0, 0, c.width, c.height).data.reduce((a, b) => (a * 31 + b) % 1000000007, 7);"""

# Slow set: a real training, a race and a clone, a few minutes on a loaded 2-core machine.
pytestmark = pytest.mark.slow


def wait_for(driver, condition, message, timeout=WAIT):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: condition(d), message)


def by_id(driver, element_id):
    return driver.find_element("id", element_id)


def set_value(driver, element_id: str, value: str) -> None:
    """As typing would: the value, then the events the page keeps its draft on."""
    driver.execute_script("const t = document.getElementById(arguments[0]); t.value = arguments[1];"
                          "t.dispatchEvent(new Event('input', {bubbles: true}));"
                          "t.dispatchEvent(new Event('change', {bubbles: true}));", element_id, value)


def to_top(driver, element_id: str) -> None:
    driver.execute_script("document.getElementById(arguments[0]).scrollIntoView()", element_id)


def create_and_validate(browser, url, root):
    browser.get(url + "/#/create")
    wait_for(browser, lambda d: d.execute_script("return document.querySelectorAll('#track-picker button').length")
             >= 3, "the track picker")
    by_id(browser, "name").send_keys("first-model")
    browser.find_element("css selector", "#track-picker button[data-track=oval]").click()
    set_value(browser, "minutes", "10")  # Stop ends it: on a loaded machine 2 minutes could run out first
    set_value(browser, "reward", BROKEN)
    browser.execute_script("window.scrollTo(0, 0)")
    screenshot(browser, "console-create-track")
    by_id(browser, "validate").click()
    wait_for(browser, lambda d: by_id(d, "validate-result").text.startswith("Line 3:"),
             "Validate names the syntax error's line", timeout=60)
    assert "syntax error" in by_id(browser, "validate-result").text
    assert browser.find_element("css selector", "#gutter .bad").text == "3"
    to_top(browser, "validate")
    screenshot(browser, "console-create")

    browser.refresh()  # nothing typed is lost
    wait_for(browser, lambda d: by_id(d, "reward").get_attribute("value") == BROKEN, "the draft restored")
    assert by_id(browser, "name").get_attribute("value") == "first-model"
    assert by_id(browser, "track").get_attribute("value") == "oval"
    set_value(browser, "reward", FIXED)
    by_id(browser, "validate").click()
    wait_for(browser, lambda d: by_id(d, "validate-result").text.startswith("Valid"), "the fixed reward passes",
             timeout=90)
    by_id(browser, "create").click()
    wait_for(browser, lambda d: d.current_url.endswith("#/model/first-model"), "the model page")


def watch_and_stop(browser, root):
    wait_for(browser, lambda d: by_id(d, "model-state").text == "training", "training")
    seen = set()
    wait_for(browser, lambda d: seen.add(d.execute_script(CHECKSUM, "live-front")) or len(seen - {-1}) >= 2,
             "two different frames of the live camera", timeout=TRAINING_WAIT)
    assert "step" in by_id(browser, "live-note").text
    wait_for(browser, lambda d: int(by_id(d, "curve-progress").get_attribute("data-points") or 0) >= 2,
             "the progress curve gains points", timeout=TRAINING_WAIT)
    assert int(by_id(browser, "curve-reward").get_attribute("data-points")) >= 2
    assert any(line.startswith("$ racekit train") for line in by_id(browser, "log").text.splitlines())
    browser.execute_script("window.scrollTo(0, 0)")
    screenshot(browser, "console-model")

    by_id(browser, "stop").click()
    try:
        wait_for(browser, lambda d: by_id(d, "model-state").text == "stopped", "stopped", timeout=90)
    except TimeoutException:  # say what the page showed instead
        raise AssertionError(f"not stopped: the page says {by_id(browser, 'model-state').text!r}; log: "
                             f"{by_id(browser, 'log').text[-600:]!r}") from None
    assert "racekit: interrupted" in by_id(browser, "log").text
    assert by_id(browser, "resume").is_enabled() and not by_id(browser, "stop").is_enabled()
    assert (root / "first-model" / "checkpoints" / "last.pt").is_file()
    assert "return 1e-3" in (root / "first-model" / "reward_function.py").read_text()


def race(browser):
    set_value(browser, "race-laps", "1")
    by_id(browser, "race").click()
    wait_for(browser, lambda d: d.find_elements("css selector", "#tasks .task[data-state=done] table.race-result"),
             "the race's results", timeout=TRAINING_WAIT)
    card = browser.find_element("css selector", "#tasks .task")
    assert card.find_element("css selector", "video").get_attribute("src").endswith("name=replay.mp4")
    wait_for(browser, lambda d: d.execute_script("return arguments[0].naturalWidth",
                                                 card.find_element("css selector", "img.map")) > 0, "the map")
    to_top(browser, "evaluate")
    screenshot(browser, "console-evaluate")


def leaderboard(browser, url):
    browser.get(url + "/#/leaderboard")  # today's leaderboard page, inside the console, with the race
    browser.switch_to.frame(by_id(browser, "leaderboard"))
    wait_for(browser, lambda d: "first-model" in d.find_element("tag name", "body").text, "the leaderboard's row")
    browser.switch_to.default_content()
    screenshot(browser, "console-leaderboard")


def clone(browser, url, root):
    browser.get(url + "/#/model/first-model")
    wait_for(browser, lambda d: by_id(d, "clone").is_enabled(), "Clone")
    by_id(browser, "clone").click()
    wait_for(browser, lambda d: "starts from first-model's best checkpoint" in by_id(d, "clone-banner").text,
             "the clone's page")
    assert by_id(browser, "name").get_attribute("value") == "first-model-clone"
    assert "return 1e-3" in by_id(browser, "reward").get_attribute("value")  # the model's own reward
    set_value(browser, "minutes", "0.1")
    screenshot(browser, "console-clone")
    by_id(browser, "create").click()
    wait_for(browser, lambda d: d.current_url.endswith("#/model/first-model-clone"), "the clone's model page")
    wait_for(browser, lambda d: (root / "first-model-clone" / "config.json").is_file(), "the clone's run",
             timeout=TRAINING_WAIT)
    assert str(root / "first-model") in (root / "first-model-clone" / "config.json").read_text()


def import_and_download(browser, url, root):
    browser.get(url + "/#/")
    wait_for(browser, lambda d: "first-model" in by_id(d, "models").text, "the models list")
    by_id(browser, "import-name").send_keys("brought")
    by_id(browser, "import-file").send_keys(str(root / "first-model" / "model.onnx"))  # exported for the race
    by_id(browser, "import").click()
    wait_for(browser, lambda d: by_id(d, "model-state").text == "imported", "the imported model", timeout=120)
    size = browser.execute_script("return fetch('/api/run/model.onnx?id=brought').then(r => r.arrayBuffer())"
                                  ".then(b => b.byteLength)")
    assert size == (root / "first-model" / "model.onnx").stat().st_size
    browser.get(url + "/#/")
    wait_for(browser, lambda d: "brought" in by_id(d, "models").text and "stopped" in by_id(d, "models").text,
             "the models list with both")
    screenshot(browser, "console-models")


def delete(browser, url, root):
    browser.get(url + "/#/model/first-model")
    wait_for(browser, lambda d: by_id(d, "delete").is_enabled(), "Delete, for a stopped model")
    by_id(browser, "delete").click()
    wait_for(browser, lambda d: d.switch_to.alert, "the confirmation").dismiss()  # No: nothing happens
    assert (root / "first-model").is_dir()
    by_id(browser, "delete").click()
    wait_for(browser, lambda d: d.switch_to.alert, "the confirmation").accept()
    wait_for(browser, lambda d: not (root / "first-model").exists(), "deleted")
    wait_for(browser, lambda d: d.current_url.endswith("#/"), "back to the models")


@needs_chromium
def test_the_issues_flow_in_a_browser(tmp_path, monkeypatch):
    monkeypatch.setenv("RACEKIT_DB", str(tmp_path / "board.sqlite"))
    root = tmp_path / "runs"
    jobs = Jobs(root, max_trainings=1, extra_train_args=TINY)
    tasks = Tasks({"race": ["--video-size", "320x240"]})
    with BackgroundConsole(root, jobs, tasks=tasks, db_path=tmp_path / "board.sqlite") as server, \
            chromium(tmp_path / "profile", "1200,1100") as browser:
        try:
            create_and_validate(browser, server.url, root)
            watch_and_stop(browser, root)
            race(browser)
            leaderboard(browser, server.url)
            clone(browser, server.url, root)
            import_and_download(browser, server.url, root)
            delete(browser, server.url, root)
        finally:
            for pid in jobs.live().values():  # a failure above must not leave a training behind
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while jobs.live() and time.monotonic() < deadline:
                time.sleep(0.2)
