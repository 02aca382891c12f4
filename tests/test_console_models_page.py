"""Models as files on the console's pages, in a real headless Chromium over a tiny real run: random bytes
refused at the import form's file field, a model file imported and shown as imported (no curves, no Stop),
a DeepRacer download that cannot be saying why in one line, and Clone opening the create page for a clone
of the model (its settings kept, the action space not asked)."""
import pytest
from browser_helpers import WAIT, chromium, needs_chromium

from racekit.console.jobs import Jobs
from racekit.console.server import BackgroundConsole
from racekit.console.tasks import Tasks
from test_console_app import call

EXPORT_WAIT = 120.0


def wait_for(driver, condition, message, timeout=WAIT):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: condition(d), message)


def text(driver, element_id):
    return driver.find_element("id", element_id).text


@needs_chromium
def test_import_download_and_clone_from_the_pages(real_run, tmp_path):
    noise = tmp_path / "noise.onnx"
    noise.write_bytes(bytes(range(256)) * 50)
    with BackgroundConsole(real_run, Jobs(real_run, max_trainings=1), tasks=Tasks(),
                           db_path=tmp_path / "board.sqlite") as server, \
            chromium(tmp_path / "profile", "1200,1000") as browser:
        assert call(f"{server.url}/api/run/export", {"id": "tiny"})[0] == 200
        browser.get(server.url + "/#/")
        wait_for(browser, lambda d: "tiny" in text(d, "models"), "the models list")
        browser.find_element("id", "import-name").send_keys("noise")
        browser.find_element("id", "import-file").send_keys(str(noise))
        browser.find_element("id", "import").click()
        wait_for(browser, lambda d: "not a model file racekit reads" in text(d, "err-import-file"),
                 "random bytes refused at the file field", timeout=EXPORT_WAIT)
        assert browser.find_element("id", "import-name").get_attribute("value") == "noise"  # nothing typed is lost
        assert not (real_run / "noise").exists()

        name = browser.find_element("id", "import-name")
        name.clear()
        name.send_keys("brought")
        browser.find_element("id", "import-file").send_keys(str(real_run / "tiny" / "model.onnx"))
        browser.find_element("id", "import").click()
        wait_for(browser, lambda d: d.current_url.endswith("#/model/brought"), "the imported model's page",
                 timeout=EXPORT_WAIT)
        wait_for(browser, lambda d: text(d, "model-state") == "imported", "imported")
        assert "model.onnx" in text(browser, "model-reason")
        assert not browser.find_element("id", "stop").is_displayed()
        assert not browser.find_element("id", "log").is_displayed()
        assert browser.find_element("id", "download").is_enabled()

        browser.get(server.url + "/#/model/tiny")
        wait_for(browser, lambda d: text(d, "model-state") == "finished", "the run's page")
        browser.find_element("id", "download-deepracer").click()
        wait_for(browser, lambda d: "cannot be a DeepRacer model: trained with racekit's network" in
                 text(d, "model-message"), "why it cannot be a DeepRacer model", timeout=EXPORT_WAIT)

        browser.find_element("id", "clone").click()
        wait_for(browser, lambda d: d.current_url.endswith("#/create/from/tiny"), "the create page, for a clone")
        wait_for(browser, lambda d: "starts from tiny's best checkpoint" in text(d, "clone-banner"), "the banner")
        assert text(browser, "create-title") == "Clone tiny"
        assert browser.find_element("id", "name").get_attribute("value") == "tiny-clone"
        assert browser.find_element("id", "track").get_attribute("value") == "oval"
        assert not browser.find_element("id", "steering_low").is_displayed()

        browser.get(server.url + "/#/create/from/brought")  # a model file cannot be trained on
        wait_for(browser, lambda d: "cannot be cloned" in text(d, "clone-banner"), "why it cannot be cloned")
        assert not browser.find_element("id", "create").is_enabled()
        browser.get(server.url + "/#/create")
        wait_for(browser, lambda d: text(d, "create-title") == "Create model", "a new model's page again")
        assert browser.find_element("id", "steering_low").is_displayed()
        assert not browser.find_element("id", "clone-banner").is_displayed()
