"""The car from the console (racekit/console/car.py): a tiny real run flashed to a real car service (`racekit car
serve`'s app with a software motor controller, tests/server_helpers.py) through `racekit flash`, the car's
status through `racekit car status`; a wrong token, an unreachable car and bad fields refused in one line; the
same from the model page in a real headless Chromium."""
import pytest
from browser_helpers import chromium, needs_chromium

from racekit.console.jobs import Jobs
from racekit.console.server import BackgroundConsole
from racekit.console.tasks import Tasks
from server_helpers import car_service
from test_console_app import call


@pytest.fixture
def console(real_run, tmp_path):
    with BackgroundConsole(real_run, Jobs(real_run), tasks=Tasks(), db_path=tmp_path / "board.sqlite") as server:
        yield server.url


def test_flash_a_model_to_a_car_and_read_its_status(console, real_run, tmp_path):
    with car_service(tmp_path) as car:
        status, flashed = call(f"{console}/api/run/flash", {"id": "tiny", "car": car.url, "car_token": car.token,
                                                            "activate": True})
        assert status == 200, flashed
        assert any("sha256 verified" in line for line in flashed["lines"])
        assert car.active_bytes() == (real_run / "tiny" / "model.onnx").read_bytes()
        status, answer = call(f"{console}/api/car/status", {"car": car.url, "car_token": car.token})
        assert status == 200 and answer["car"]["active"]["name"] == "tiny.onnx", answer
        assert answer["car"]["running"] is False and answer["car"]["state"] == "stopped"

        status, refused = call(f"{console}/api/car/status", {"car": car.url, "car_token": "not-the-token"})
        assert status == 409 and "token" in refused["error"] and "\n" not in refused["error"]


@pytest.mark.parametrize("form, field", [({"car": "ftp://car", "car_token": "t"}, "car"),
                                         ({"car": "car.local:8080", "car_token": "t"}, "car"),
                                         ({"car": "http://127.0.0.1:8080", "car_token": " "}, "car_token")])
def test_bad_car_fields_are_refused_by_name(console, form, field):
    status, refused = call(f"{console}/api/car/status", form)
    assert status == 400 and refused["field"] == field
    status, refused = call(f"{console}/api/run/flash", {"id": "tiny", **form})
    assert status == 400 and refused["field"] == field


def test_an_unreachable_car_says_so(console):
    status, refused = call(f"{console}/api/car/status", {"car": "http://127.0.0.1:9", "car_token": "t" * 20})
    assert status == 409 and refused["error"].startswith("cannot reach the car at http://127.0.0.1:9")


@needs_chromium
def test_flash_from_the_model_page(console, tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait

    def wait_for(condition, message, timeout=120):
        return WebDriverWait(browser, timeout, poll_frequency=0.2).until(lambda d: condition(d), message)

    with car_service(tmp_path) as car, chromium(tmp_path / "profile", "1200,1000") as browser:
        browser.get(console + "/#/model/tiny")
        wait_for(lambda d: d.find_element("id", "model-state").text == "finished", "the model page")
        browser.find_element("id", "car").send_keys(car.url)
        browser.find_element("id", "car_token").send_keys("not-the-token")
        browser.find_element("id", "flash").click()
        wait_for(lambda d: "token" in d.find_element("id", "err-car-form").text, "a wrong token refused")
        token = browser.find_element("id", "car_token")
        token.clear()
        token.send_keys(car.token)
        browser.find_element("id", "flash").click()
        wait_for(lambda d: "sha256 verified" in d.find_element("id", "car-result").text, "flashed")
        browser.find_element("id", "car-status").click()
        wait_for(lambda d: "active model: tiny.onnx" in d.find_element("id", "car-result").text, "the car's status")
        assert "state: stopped" in browser.find_element("id", "car-result").text
        browser.refresh()  # the car's address is kept, its token is not
        wait_for(lambda d: d.find_element("id", "car").get_attribute("value") == car.url, "the address kept")
        assert browser.find_element("id", "car_token").get_attribute("value") == ""
