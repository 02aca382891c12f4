"""The console page in a real headless Chromium (Debian's chromium + chromium-driver, driven by
selenium): log in, see the models and the status, stop the car, upload a model, roll back, watch
the camera. Saves tests/artifacts/console.png."""
import pytest

from browser_helpers import ARTIFACTS, WAIT, chromium, needs_chromium
from server_helpers import car_service, models, neutral_arrives

pytestmark = needs_chromium


@pytest.fixture
def browser(tmp_path):
    with chromium(tmp_path / "chromium", "1200,1100") as driver:
        yield driver


def wait_for(driver, condition, message):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT, poll_frequency=0.1).until(lambda d: condition(d), message)


def text(driver, element_id):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id).text


def model_rows(driver):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, "#models tbody tr")


def test_console_logs_in_shows_models_stops_the_car_and_uploads(browser, tmp_path):
    from selenium.webdriver.common.by import By

    first, second = models(tmp_path)
    with car_service(tmp_path) as service:
        service.client.upload(str(second), name="older-model.onnx")
        service.client.upload(str(first), name="racing-line.onnx", activate=True)
        service.client.start(0.3)

        browser.get(f"{service.url}/?attempt=1#token=wrong")
        wait_for(browser, lambda d: text(d, "login-error") == "Wrong token.", "a wrong token is not refused")
        browser.get(f"{service.url}/#token={service.token}")
        wait_for(browser, lambda d: d.title == "racekit car" and text(d, "state") == "running",
                 "the console does not show the car running")
        assert "#token" not in browser.current_url  # wiped from the address bar
        rows = model_rows(browser)
        assert [r.find_element(By.TAG_NAME, "td").text for r in rows] == ["racing-line.onnx", "older-model.onnx"]
        assert rows[0].get_attribute("class") == "active" and "active" in rows[0].text
        assert text(browser, "status-active").startswith("racing-line.onnx (")
        wait_for(browser, lambda d: "Hz" in text(d, "status-loop"), "no loop rate shown")
        assert "drive" in text(browser, "status-command")

        browser.find_element(By.ID, "stop").click()
        wait_for(browser, lambda d: text(d, "state") == "stopped", "a click on stop does not stop the car")
        assert not service.car.runner.running and neutral_arrives(service.virtual) is not None
        assert "stop (console)" in text(browser, "status-loop")

        # Upload through the page: its own SHA-256 must match what the car computes.
        extra = models(tmp_path, 3)[2]
        browser.find_element(By.ID, "upload-file").send_keys(str(extra))
        browser.find_element(By.ID, "upload").click()
        wait_for(browser, lambda d: len(model_rows(d)) == 3, "the uploaded model is not listed")
        assert text(browser, "message") == ""
        assert service.active_bytes() == extra.read_bytes()
        assert model_rows(browser)[0].text.startswith("model2.onnx")
        browser.find_element(By.ID, "rollback").click()
        wait_for(browser, lambda d: text(d, "status-active").startswith("racing-line.onnx"), "rollback not shown")
        assert service.active_bytes() == first.read_bytes()

        browser.find_element(By.ID, "camera-toggle").click()
        wait_for(browser, lambda d: d.execute_script("return document.getElementById('camera').naturalWidth") == 160,
                 "the camera view shows no frame")
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "console.png"))
        browser.find_element(By.ID, "camera-toggle").click()  # hide: closes the stream
