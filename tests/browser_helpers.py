"""Headless Chromium for the page tests: Debian's chromium and chromium-driver, driven by selenium."""
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
WAIT = 20.0  # bounds a hang only; each wait ends as soon as its condition holds

needs_chromium = pytest.mark.skipif(
    not (os.path.isfile(CHROMIUM) and os.path.isfile(CHROMEDRIVER)),
    reason="needs Debian's chromium and chromium-driver: apt-get install -y chromium chromium-driver")


@contextmanager
def chromium(profile_dir: Path, window: str, extra_flags: tuple[str, ...] = ()):
    """A headless Chromium with a fresh profile; quits on exit."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (the dev extra)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # without the background-networking flags Chromium keeps dialling out, and this machine refuses it
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--window-size={window}", f"--user-data-dir={profile_dir}",
                 *extra_flags):
        options.add_argument(flag)
    # An explicit driver path: selenium never runs its manager, which would try to download a browser.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    driver.set_script_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


SCREENSHOTS = os.environ.get("RACEKIT_SCREENSHOTS")  # "docs": also write docs/NAME.png (the guides' pictures)
DOCS = Path(__file__).resolve().parents[1] / "docs"


def screenshot(driver, name: str) -> Path:
    """tests/artifacts/NAME.png, and docs/NAME.png when RACEKIT_SCREENSHOTS=docs (so a test run leaves the
    repository's pictures alone unless asked)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    if SCREENSHOTS == "docs":
        driver.save_screenshot(str(DOCS / f"{name}.png"))
    return path
