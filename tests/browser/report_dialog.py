"""Drives showReportDialog of the official @sentry/browser in headless Chromium.

Usage: python report_dialog.py PAGE_URL DSN SCREENSHOT_DIR

Opens the page (tests/browser/report_dialog/, bundled and served by the
test), whose SDK captures an error and opens Faultline's crash-report
dialog; checks the dialog shows the page's title as text and the user's
name filled in, writes what happened and submits it, then waits for the
thanks and for the dialog to close. Prints the event id. Exits non-zero
with a message on the first failed expectation. Uses Debian's chromium and
chromedriver; nothing phones home.
"""

import os
import sys
import urllib.parse

os.environ.setdefault("SE_AVOID_STATS", "true")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from dashboard import browser, recorder  # noqa: E402


def main():
    page, dsn, shots = sys.argv[1:4]
    driver = browser()
    wait = WebDriverWait(driver, 15)
    shot, expect = recorder(driver, shots, "report-dialog")
    try:
        driver.get(f"{page}#{urllib.parse.quote(dsn, safe='')}")
        wait.until(EC.presence_of_element_located((By.CLASS_NAME, "sentry-error-embed")))
        shot("dialog")
        title = driver.find_element(By.CSS_SELECTOR, ".sentry-error-embed h2")
        expect(title.text == "Sorry, <b>checkout</b> broke.", f"the title as text: {title.text!r}")
        expect(not title.find_elements(By.TAG_NAME, "b"), "the page's option is not markup")
        name = driver.find_element(By.ID, "sentry-name").get_attribute("value")
        expect(name == "Ann Lee", f"the user's name filled in: {name!r}")
        driver.find_element(By.ID, "sentry-comments").send_keys("I pressed Pay and it crashed.")
        driver.find_element(By.CSS_SELECTOR, "#sentry-report-form button[type='submit']").click()
        wait.until(EC.presence_of_element_located((By.CLASS_NAME, "sentry-report-success")))
        shot("thanks")
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-closed") == "yes")
        print(driver.find_element(By.TAG_NAME, "body").get_attribute("data-event-id"))
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
