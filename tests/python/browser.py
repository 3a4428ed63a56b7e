"""Headless Chromium for the browser tests: Debian's chromium and chromedriver (no selenium-manager)."""
import os

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

os.environ["SE_AVOID_STATS"] = "true"  # selenium-manager must not phone home (and is never used: paths are fixed)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def require_chromium():
    """Fails (not skips) the test when the browser is missing: scripts/test.sh installs it."""
    for path, what in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromedriver")):
        if not os.path.exists(path):
            pytest.fail(f"{path} is missing: scripts/test.sh installs {what} from Debian (apt-get install chromium chromium-driver)")


def new_chromium(log_console=True):
    """A fresh headless Chromium at 1280×800; with `log_console`, its console log is kept in `driver.console_log`."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,800",
                     "--disable-extensions", "--no-first-run", "--lang=en-US"):
        options.add_argument(argument)
    if log_console:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_window_size(1280, 800)
    driver.console_log = []
    return driver
