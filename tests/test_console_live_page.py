"""The model page's live view in a real headless Chromium: while a run trains (a stand-in process whose
command line is `racekit train --out RUN`), the trainer's frames (written here as it writes them) show as
they change, with the evaluation's step; leaving the page closes the streams; a run that is not training
shows its last frame."""
import time

import pytest
from browser_helpers import WAIT, chromium, needs_chromium

from racekit.console import live, processes
from racekit.console.jobs import Jobs
from racekit.console.server import BackgroundConsole
from test_console_live import jpeg, put, put_status
from test_console_runs import stand_in, write_run


def wait_for(driver, condition, message, timeout=WAIT):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: condition(d), message)


GREY = """const img = document.getElementById(arguments[0]);
if (!img.naturalWidth) return -1;
const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
const g = c.getContext('2d'); g.drawImage(img, 0, 0);
return g.getImageData(c.width / 2, c.height / 2, 1, 1).data[0];"""


def grey(driver, element_id: str) -> int:
    """The grey level in the middle of the image as the page shows it now (-1: nothing shown)."""
    return driver.execute_script(GREY, element_id)


@needs_chromium
@pytest.mark.skipif(not processes.PROC.is_dir(), reason="reads /proc")
def test_the_model_page_shows_the_frames_as_they_change(tmp_path, monkeypatch):
    monkeypatch.setenv("RACEKIT_DB", str(tmp_path / "board.sqlite"))
    root = tmp_path / "runs"
    run = write_run(root / "eval", steps=10**6, rows=[(1024, 2.0)])
    busy = stand_in(root, "eval")
    try:
        with BackgroundConsole(root, Jobs(root, max_trainings=1)) as server, \
                chromium(tmp_path / "profile", "1200,1000") as browser:
            browser.get(server.url + "/#/model/eval")
            wait_for(browser, lambda d: d.find_element("id", "model-state").text == "training", "training")
            note = browser.find_element("id", "live-note")
            wait_for(browser, lambda d: "during the training's evaluations" in note.text, "before any evaluation")
            before = live.streams_open
            put(run, "front.jpg", jpeg(30))
            put(run, "chase.jpg", jpeg(60))
            put_status(run, 25600)
            wait_for(browser, lambda d: "Evaluating at step 25,600" in note.text, "the evaluation's step")
            wait_for(browser, lambda d: abs(grey(d, "live-front") - 30) < 8, "the first front frame")
            wait_for(browser, lambda d: abs(grey(d, "live-chase") - 60) < 8, "the first chase frame")
            assert live.streams_open == before + 2
            for level in (220, 120):  # each new frame shows, without a reload
                put(run, "front.jpg", jpeg(level))
                wait_for(browser, lambda d: abs(grey(d, "live-front") - level) < 8, f"the frame of grey {level}")

            browser.get(server.url + "/#/")  # leaving the page closes its streams
            wait_for(browser, lambda d: live.streams_open == before, "the streams closed")

            busy.terminate()
            busy.wait(10)
            put_status(run, 25600, evaluating=False)
            browser.get(server.url + "/#/model/eval")
            wait_for(browser, lambda d: d.find_element("id", "model-state").text != "training", "not training")
            wait_for(browser, lambda d: "Last evaluation at step 25,600" in note.text, "the last evaluation")
            wait_for(browser, lambda d: abs(grey(d, "live-front") - 120) < 8, "the last front frame, still")
            assert live.streams_open == before
    finally:
        busy.kill()
        busy.wait()
