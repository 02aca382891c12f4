"""A model's evaluations on its page, in a real headless Chromium over a tiny real run: a bad lap count refused
at its field, a race run as `racekit race` with its progress, then its results table, replay video and
track map; the analysis and its report's link."""
import pytest
from browser_helpers import ARTIFACTS, WAIT, chromium, needs_chromium

from racekit.console.jobs import Jobs
from racekit.console.server import BackgroundConsole
from racekit.console.tasks import Tasks
from test_console_tasks import FAST, TASK_WAIT


def wait_for(driver, condition, message, timeout=WAIT):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: condition(d), message)


def css(driver, selector):
    return driver.find_elements("css selector", selector)


@needs_chromium
def test_race_and_analyse_a_model_from_its_page(real_run, tmp_path):
    with BackgroundConsole(real_run, Jobs(real_run, max_trainings=1), tasks=Tasks(FAST),
                           db_path=tmp_path / "board.sqlite") as server, \
            chromium(tmp_path / "profile", "1200,1400") as browser:
        browser.get(server.url + "/#/model/tiny")
        wait_for(browser, lambda d: d.find_element("id", "model-state").text == "finished", "the model page")
        laps = browser.find_element("id", "race-laps")
        laps.clear()
        laps.send_keys("0")
        browser.find_element("id", "race").click()
        wait_for(browser, lambda d: "laps" in d.find_element("id", "err-race-laps").text, "laps refused at its field")
        assert not css(browser, "#tasks .task")

        laps.clear()
        laps.send_keys("1")
        browser.find_element("id", "race").click()
        wait_for(browser, lambda d: css(d, "#tasks .task[data-state=running] progress"), "the race's progress")
        assert browser.find_element("id", "err-race-laps").text == ""
        wait_for(browser, lambda d: css(d, "#tasks .task[data-state=done] table.race-result"), "the results table",
                 timeout=TASK_WAIT)
        card = css(browser, "#tasks .task")[0]
        rows = card.find_elements("css selector", "table.race-result tbody tr")
        assert rows[-1].text.startswith("all")
        assert "leaderboard result #1" in card.text
        video = card.find_element("css selector", "video")
        assert video.get_attribute("src").endswith("name=replay.mp4")
        wait_for(browser, lambda d: d.execute_script("return arguments[0].naturalWidth",
                                                      card.find_element("css selector", "img.map")) > 0, "the map")

        browser.find_element("id", "analysis").click()
        wait_for(browser, lambda d: css(d, "#tasks .task[data-state=done] a[href*='name=report.html']"),
                 "the report's link", timeout=TASK_WAIT)
        assert css(browser, "#tasks .task")[1].find_elements("css selector", "video")  # the race's card stayed
        ARTIFACTS.mkdir(exist_ok=True)
        browser.execute_script("document.getElementById('evaluate').scrollIntoView()")
        browser.save_screenshot(str(ARTIFACTS / "console-evaluate.png"))
