"""Drives a project's alert channel pages in headless Chromium.

Usage: python plugins.py BASE_URL EMAIL PASSWORD RECEIVER_URL SCREENSHOT_DIR

Signs in, opens the project's settings, follows "Alert channels" to Slack's
page, saves a webhook on the receiver at RECEIVER_URL, enables the plugin
and sends a test message, which must be reported as delivered; then sets up
DingTalk with a wrong secret and sends a test, which must show DingTalk's
refusal. Exits non-zero with a message on the first failed expectation.
Uses Debian's chromium and chromedriver; nothing phones home.
"""

import os
import sys

os.environ.setdefault("SE_AVOID_STATS", "true")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from dashboard import browser, recorder, sign_in, submit  # noqa: E402


def main():
    base, email, password, receiver, shots = sys.argv[1:6]
    driver = browser()
    wait = WebDriverWait(driver, 15)
    shot, expect = recorder(driver, shots, "plugins")

    def result():
        return wait.until(EC.presence_of_element_located((By.ID, "plugin-result")))

    def press(form, value=None):
        selector = f"#{form} button" + (f"[value='{value}']" if value else "")
        submit(driver, wait, driver.find_element(By.CSS_SELECTOR, selector))

    try:
        driver.get(f"{base}/settings/faultline/projects/default/")
        sign_in(driver, wait, email, password, "alert-channels")
        driver.find_element(By.ID, "alert-channels").click()
        wait.until(EC.presence_of_element_located((By.ID, "plugins")))
        shot("list")
        names = [r.get_attribute("data-plugin") for r in driver.find_elements(By.CSS_SELECTOR, "#plugins tr[data-plugin]")]
        expect(names == ["webhooks", "slack", "discord", "msteams", "dingtalk", "feishu", "wecom"], f"every channel listed: {names}")
        driver.find_element(By.CSS_SELECTOR, "tr[data-plugin='slack'] a").click()

        wait.until(EC.presence_of_element_located((By.ID, "field-webhook")))
        driver.find_element(By.ID, "field-webhook").send_keys(f"{receiver}/slack/services/T0/B0/browser")
        press("plugin-settings")
        expect(result().text == "Saved.", "the settings were saved")
        press("plugin-actions", "enable")
        expect(result().text == "Enabled.", "the plugin was enabled")
        expect("enabled" in driver.find_element(By.ID, "plugin-status").text, "shown as enabled")
        press("plugin-actions", "test")
        text = result().text
        shot("slack-test")
        expect("Test message sent" in text, f"the test got through: {text}")

        driver.get(f"{base}/settings/faultline/projects/default/plugins/dingtalk/")
        wait.until(EC.presence_of_element_located((By.ID, "field-webhook")))
        driver.find_element(By.ID, "field-webhook").send_keys(f"{receiver}/dingtalk/robot/send?access_token=browser")
        driver.find_element(By.ID, "field-secret").send_keys("SECwrong")
        press("plugin-settings")
        expect(result().text == "Saved.", "DingTalk saved")
        expect(driver.find_element(By.ID, "field-secret").get_attribute("value") == "", "the secret is not shown back")
        press("plugin-actions", "test")
        text = result().text
        shot("dingtalk-test")
        expect("not delivered" in text and "sign not match" in text, f"DingTalk's refusal shown: {text}")
        expect("error-box" in result().get_attribute("class"), "shown as a failure")
    finally:
        driver.quit()
    print("ok")


if __name__ == "__main__":
    main()
