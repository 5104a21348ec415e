"""Drives the Feedback page and an issue's feedback in headless Chromium.

Usage: python feedback.py BASE_URL EMAIL PASSWORD EVENT_ID SCREENSHOT_DIR

Signs in on the Feedback page, which must list the report about EVENT_ID
with its comments as text (the HTML in them shown, not rendered), follows
it to its issue, whose page must show the same report under User Feedback.
Exits non-zero with a message on the first failed expectation. Uses
Debian's chromium and chromedriver; nothing phones home.
"""

import os
import sys

os.environ.setdefault("SE_AVOID_STATS", "true")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from dashboard import browser, recorder, sign_in  # noqa: E402

WRITTEN = "The <b>export</b> button does nothing."


def main():
    base, email, password, event_id, shots = sys.argv[1:6]
    driver = browser()
    wait = WebDriverWait(driver, 15)
    shot, expect = recorder(driver, shots, "feedback")
    try:
        driver.get(f"{base}/organizations/faultline/feedback/")
        sign_in(driver, wait, email, password, "feedback")
        shot("list")
        report = driver.find_element(By.CSS_SELECTOR, f".user-report[data-event='{event_id}']")
        comments = report.find_element(By.CLASS_NAME, "report-comments")
        expect(comments.text == WRITTEN, f"the comments as written: {comments.text!r}")
        expect(not comments.find_elements(By.TAG_NAME, "b"), "the user's HTML is not rendered")
        expect(report.find_element(By.CLASS_NAME, "report-name").text == "Jane Doe", "the name")
        expect(report.find_element(By.CLASS_NAME, "report-email").text == "jane@example.com", "the email")
        report.find_element(By.CLASS_NAME, "report-issue").click()

        wait.until(EC.presence_of_element_located((By.ID, "user-feedback")))
        shot("issue")
        heading = driver.find_element(By.ID, "user-feedback").text
        expect(heading == "User Feedback (1)", f"the issue counts its feedback: {heading!r}")
        on_issue = driver.find_element(By.CSS_SELECTOR, f".user-report[data-event='{event_id}'] .report-comments")
        expect(on_issue.text == WRITTEN, f"the issue shows the report: {on_issue.text!r}")
        # The nav leads back to the list.
        driver.find_element(By.ID, "nav-feedback").click()
        wait.until(EC.presence_of_element_located((By.ID, "feedback")))
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
