"""Drives the dashboard's Alerts pages in headless Chromium.

Usage: python alerts.py BASE_URL EMAIL PASSWORD DSN SCREENSHOT_DIR

Signs in, creates an alert rule from the Alerts page's form (a new issue,
error level or above, email the team), sends an error with the official
Python SDK to DSN, and waits for the rule's page to show the issue in its
history with its delivery; then disables and deletes the rule from the list.
Exits non-zero with a message on the first failed expectation. Uses Debian's
chromium and chromedriver; nothing is downloaded and nothing phones home.
"""

import os
import sys
import time

os.environ.setdefault("SE_AVOID_STATS", "true")

import sentry_sdk  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from dashboard import browser, recorder, sign_in, submit  # noqa: E402


def send_error(dsn):
    sentry_sdk.init(dsn=dsn, default_integrations=False)
    try:
        {}["browser-alert-key"]
    except KeyError as e:
        sentry_sdk.capture_exception(e)
    sentry_sdk.flush(10)


def main():
    base, email, password, dsn, shots = sys.argv[1:6]
    driver = browser()
    wait = WebDriverWait(driver, 15)
    shot, expect = recorder(driver, shots, "alerts")

    try:
        driver.get(f"{base}/organizations/faultline/alerts/rules/")
        sign_in(driver, wait, email, password, "rules")
        shot("list")
        rows = driver.find_elements(By.CSS_SELECTOR, "#rules .rule")
        expect(any("Send a notification for new issues" in r.text for r in rows),
               "the project's default rule is listed")

        # Create a rule from the form, in Sentry's words.
        form = driver.find_element(By.ID, "create-rule")
        form.find_element(By.NAME, "name").send_keys("Browser rule")
        first_seen = form.find_element(By.NAME, "first_seen")
        expect(first_seen.is_selected(), "a new rule starts with the new-issue trigger ticked")
        Select(form.find_element(By.NAME, "level")).select_by_visible_text("error")
        Select(form.find_element(By.NAME, "email")).select_by_visible_text("All Project Members")
        submit(driver, wait, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        wait.until(EC.presence_of_element_located((By.ID, "rule-summary")))
        shot("created")
        summary = driver.find_element(By.ID, "rule-summary").text
        expect(driver.find_element(By.ID, "rule-name").text == "Browser rule", "the new rule's page")
        expect("A new issue is created" in summary, f"trigger in Sentry's words: {summary}")
        expect("The event's level is greater than or equal to error" in summary, f"filter: {summary}")
        expect("All Project Members" in summary, f"action: {summary}")
        expect(driver.find_elements(By.ID, "no-history"), "no history yet")
        # The edit form shows the rule as it is.
        edit = driver.find_element(By.ID, "edit-rule")
        expect(edit.find_element(By.NAME, "first_seen").is_selected(), "edit form: trigger ticked")
        expect(not edit.find_element(By.NAME, "regression").is_selected(), "edit form: others not")
        level = Select(edit.find_element(By.NAME, "level")).first_selected_option.text
        expect(level == "error", f"edit form: level {level}")
        fallthrough = Select(edit.find_element(By.NAME, "email")).first_selected_option.text
        expect(fallthrough == "All Project Members", f"edit form: fallthrough {fallthrough}")

        # An error arrives: the rule fires and its history shows it.
        send_error(dsn)
        deadline = time.time() + 30
        while True:
            driver.refresh()
            fires = driver.find_elements(By.CSS_SELECTOR, "#history .fire")
            if fires and fires[0].find_elements(By.CSS_SELECTOR, ".delivery[data-status=sent]"):
                break
            expect(time.time() < deadline, "the rule fired and its delivery was sent")
            time.sleep(0.5)
        shot("history")
        expect("KeyError" in fires[0].text, f"the issue in the history: {fires[0].text}")
        expect(email in fires[0].text, f"the recipient in the history: {fires[0].text}")

        # Disable, then delete, from the list.
        driver.get(f"{base}/organizations/faultline/alerts/rules/")
        row = next(r for r in driver.find_elements(By.CSS_SELECTOR, "#rules .rule") if "Browser rule" in r.text)
        submit(driver, wait, row.find_element(By.CSS_SELECTOR, "button[value=disable]"))
        wait.until(EC.presence_of_element_located((By.ID, "rules")))
        row = next(r for r in driver.find_elements(By.CSS_SELECTOR, "#rules .rule") if "Browser rule" in r.text)
        expect("disabled" in row.text, f"the rule is disabled: {row.text}")
        submit(driver, wait, row.find_element(By.CSS_SELECTOR, "button[value=delete]"))
        wait.until(EC.presence_of_element_located((By.ID, "rules")))
        shot("deleted")
        names = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#rules .rule")]
        expect(not any("Browser rule" in n for n in names), f"the rule is gone: {names}")
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        expect(not errors, f"console errors: {errors}")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
