"""The issue page of a minified JavaScript error, in headless Chromium.

Usage: python sourcemaps.py BASE_URL EMAIL PASSWORD MAPPED_PATH UNMAPPED_PATH SCREENSHOT_DIR

MAPPED_PATH is the page of an issue whose frames the uploaded source map
turned back into src/math.js; UNMAPPED_PATH one whose event matched no map
(another dist). Checks what a user reads: the original function, file and
source line, and for the unmapped frame why it was not mapped.
"""

import os
import sys

os.environ.setdefault("SE_AVOID_STATS", "true")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from dashboard import browser, recorder, sign_in  # noqa: E402


def frames(driver):
    return driver.find_elements(By.CSS_SELECTOR, "details.frame.in-app")


def main():
    base, email, password, mapped, unmapped, shots = sys.argv[1:7]
    driver = browser()
    wait = WebDriverWait(driver, 20)
    shot, expect = recorder(driver, shots, "sourcemaps")
    try:
        driver.get(base + mapped)
        sign_in(driver, wait, email, password, "event-id")
        shot("mapped")
        app = frames(driver)
        expect(app, "the mapped issue shows in-app frames")
        top = app[-1] if app[-1].get_attribute("open") else next(
            (f for f in app if f.get_attribute("open")), app[-1])
        summary = top.find_element(By.TAG_NAME, "summary").text
        expect("validatePrice" in summary, f"the thrower is named validatePrice: {summary!r}")
        expect("src/math.js" in summary, f"the thrower is in src/math.js: {summary!r}")
        expect("mapped by debug-id" in summary, f"the frame says how it was mapped: {summary!r}")
        current = top.find_element(By.CSS_SELECTOR, ".context .current").text
        expect("throw new Error(`negative price" in current, f"the source line shows: {current!r}")
        everything = driver.find_element(By.TAG_NAME, "body").text
        expect("app.min.js" not in summary, "no minified location on the mapped frame")
        expect("computeTotal" in everything, "the caller frames are named too")

        driver.get(base + unmapped)
        wait.until(lambda d: d.find_elements(By.ID, "event-id"))
        shot("unmapped")
        app = frames(driver)
        expect(app, "the unmapped issue shows in-app frames")
        top = app[-1]
        summary = top.find_element(By.TAG_NAME, "summary")
        expect("not mapped: url not in release" in summary.text,
               f"the frame says it was not mapped and why: {summary.text!r}")
        if not top.get_attribute("open"):
            summary.click()
        detail = top.find_element(By.CSS_SELECTOR, ".frame-symbolication").text
        expect("shop@3.1" in detail and "--url-prefix" in detail,
               f"the reason names the release and what to check: {detail!r}")
        shot("unmapped-open")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
