"""Drives the Faultline dashboard in headless Chromium as a new user would.

Usage: python dashboard.py BASE_URL EMAIL PASSWORD SCREENSHOT_DIR

The devserver at BASE_URL must already hold the events the Rust test sent
(a ZeroDivisionError from the Python SDK, and an event full of XSS payloads).
Exits non-zero with a message on the first failed expectation. Uses Debian's
chromium and chromedriver; nothing is downloaded and nothing phones home.
"""

import os
import sys

os.environ.setdefault("SE_AVOID_STATS", "true")

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)


def recorder(driver, shots, prefix):
    """The `shot(name)` and `expect(condition, message)` of a browser flow:
    numbered screenshots in `shots`, and a failed expectation that leaves
    a screenshot and stops the script."""
    os.makedirs(shots, exist_ok=True)
    step = [0]

    def shot(name):
        step[0] += 1
        driver.save_screenshot(os.path.join(shots, f"{prefix}-{step[0]:02d}-{name}.png"))

    def expect(condition, message):
        if not condition:
            shot("failure")
            raise SystemExit(f"FAILED: {message} (at {driver.current_url})")

    return shot, expect


def submit(driver, wait, button):
    """Clicks a form's button and waits for the page it answers with: the
    old page must be gone before anything is read from the new one."""
    old = driver.find_element(By.TAG_NAME, "html")
    button.click()

    def gone(_):
        # Chromium reports a node of a page it has left either as stale or
        # as "no longer in the document": both mean the new page is there.
        try:
            old.is_enabled()
            return False
        except WebDriverException:
            return True

    wait.until(gone)


def sign_in(driver, wait, email, password, then):
    """Fills in the sign-in form the browser is on, then waits for the
    element with id `then` on the page it leads to."""
    wait.until(EC.presence_of_element_located((By.ID, "email")))
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "sign-in").click()
    wait.until(EC.presence_of_element_located((By.ID, then)))


def main():
    base, email, password, shots = sys.argv[1:5]
    os.makedirs(shots, exist_ok=True)
    for old in os.listdir(shots):
        if old.endswith(".png"):
            os.remove(os.path.join(shots, old))
    driver = browser()
    wait = WebDriverWait(driver, 15)
    step = [0]

    def shot(name):
        step[0] += 1
        driver.save_screenshot(os.path.join(shots, f"{step[0]:02d}-{name}.png"))

    def expect(condition, message):
        if not condition:
            shot("failure")
            raise SystemExit(f"FAILED: {message} (at {driver.current_url})")

    def no_console_errors(where):
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        expect(not errors, f"console errors on {where}: {errors}")

    def no_xss(where):
        fired = driver.execute_script("return window.__xss || null")
        expect(fired is None, f"injected script ran on {where}: {fired}")

    try:
        # Signing in: the stream redirects to the login page and back.
        driver.get(f"{base}/organizations/faultline/issues/")
        wait.until(EC.presence_of_element_located((By.ID, "email")))
        shot("login")
        driver.find_element(By.ID, "email").send_keys(email)
        driver.find_element(By.ID, "password").send_keys("not the password")
        driver.find_element(By.ID, "sign-in").click()
        wait.until(EC.presence_of_element_located((By.ID, "login-error")))
        driver.find_element(By.ID, "email").clear()
        driver.find_element(By.ID, "email").send_keys(email)
        driver.find_element(By.ID, "password").send_keys(password)
        driver.find_element(By.ID, "sign-in").click()
        wait.until(EC.presence_of_element_located((By.ID, "issues")))
        expect("/organizations/faultline/issues/" in driver.current_url, "signed in to the issue stream")
        titles = [a.text for a in driver.find_elements(By.CSS_SELECTOR, ".issue-title")]
        shot("stream")
        expect("ZeroDivisionError: division by zero" in titles, f"SDK issue listed: {titles}")
        no_xss("the issue stream")
        xss_title = "<script>window.__xss=1</script><img src=x onerror=\"window.__xss=2\">"
        expect(xss_title in titles, f"XSS title shown as text: {titles}")
        no_console_errors("the issue stream")

        # The page's script (dashboard.js; no inline script, the CSP forbids
        # it): the header checkbox ticks every row, and choosing a sort
        # order submits the search.
        driver.find_element(By.ID, "select-all").click()
        boxes = driver.find_elements(By.CSS_SELECTOR, "#issues tbody input[type=checkbox]")
        expect(boxes and all(b.is_selected() for b in boxes), "select-all ticks every issue")
        driver.find_element(By.CSS_SELECTOR, "select[name=sort] option[value=freq]").click()
        wait.until(lambda d: "sort=freq" in d.current_url)
        wait.until(EC.presence_of_element_located((By.ID, "issues")))

        # Searching.
        search = driver.find_element(By.ID, "search")
        search.clear()
        search.send_keys("is:unresolved ZeroDivisionError")
        driver.find_element(By.CSS_SELECTOR, "#search-form button[type=submit]").click()
        wait.until(lambda d: "ZeroDivisionError" in d.current_url)
        titles = [a.text for a in driver.find_elements(By.CSS_SELECTOR, ".issue-title")]
        shot("search")
        expect(titles == ["ZeroDivisionError: division by zero"], f"search narrows the stream: {titles}")

        # Reading the stack trace.
        driver.find_element(By.CSS_SELECTOR, ".issue-title").click()
        wait.until(EC.presence_of_element_located((By.ID, "issue-title")))
        shot("issue")
        functions = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".frame.in-app .frame-function")]
        expect("compute_ratio" in functions and "handle_order" in functions, f"in-app frames shown: {functions}")
        context = driver.find_element(By.CSS_SELECTOR, ".frame.in-app[open] .context .current").text
        expect("1 / 0" in context or "/ 0" in context, f"the failing source line is shown: {context!r}")
        no_console_errors("the issue page")

        # The events chart and the tag distributions.
        bars = driver.find_elements(By.CSS_SELECTOR, "#events-chart rect")
        expect(len(bars) == 24, f"24 hourly bars: {len(bars)}")
        keys = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".tag-distribution .muted:first-child")]
        expect("release" in keys and "server_name" in keys, f"tag distributions: {keys}")
        expect("shop@1.0" in driver.find_element(By.ID, "tag-distributions").text, "release value listed")

        # Resolving: gone from is:unresolved.
        driver.find_element(By.ID, "resolve").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "status"), "resolved"))
        shot("resolved")
        driver.get(f"{base}/organizations/faultline/issues/?query=is%3Aunresolved")
        wait.until(EC.presence_of_element_located((By.ID, "issues")))
        titles = [a.text for a in driver.find_elements(By.CSS_SELECTOR, ".issue-title")]
        expect("ZeroDivisionError: division by zero" not in titles, f"resolved issue left is:unresolved: {titles}")

        # The XSS event's page renders every payload as text.
        link = [a for a in driver.find_elements(By.CSS_SELECTOR, ".issue-title") if a.text == xss_title]
        expect(link, "XSS issue listed")
        link[0].click()
        wait.until(EC.presence_of_element_located((By.ID, "issue-title")))
        shot("xss-issue")
        no_xss("the XSS issue page")
        page = driver.find_element(By.TAG_NAME, "body").text
        expect("<b onmouseover=alert(1)>tag</b>" in page, "tag value shown as text")
        expect("<svg onload=alert(1)>" in page, "frame function shown as text")
        expect(not driver.find_elements(By.CSS_SELECTOR, "main img, main svg[onload], main b"), "no injected elements")
        no_console_errors("the XSS issue page")

        # Projects: create one, read its DSN and set-up snippets, add a key.
        driver.find_element(By.LINK_TEXT, "Projects").click()
        wait.until(EC.presence_of_element_located((By.ID, "projects")))
        driver.find_element(By.ID, "project-name").send_keys("Checkout API")
        driver.find_element(By.CSS_SELECTOR, "#project-platform option[value=python]").click()
        driver.find_element(By.ID, "create-project-button").click()
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".key .dsn")))
        expect(driver.current_url.endswith("/settings/faultline/projects/checkout-api/"), "project settings page")
        dsn = driver.find_element(By.CSS_SELECTOR, ".key .dsn").get_attribute("value")
        expect(dsn.startswith("http://") and "@" in dsn and dsn.rsplit("/", 1)[1].isdigit(), f"a DSN: {dsn}")
        driver.find_element(By.CSS_SELECTOR, ".key details summary").click()
        snippets = driver.find_element(By.CSS_SELECTOR, ".key details").text
        expect("sentry_sdk.init" in snippets and "Sentry.init" in snippets and "sentry::init" in snippets, "set-up snippets")
        shot("project-settings")
        driver.find_element(By.CSS_SELECTOR, "#create-key input[name=name]").send_keys("CI")
        driver.find_element(By.CSS_SELECTOR, "#create-key button").click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".key")) == 2)
        no_console_errors("project settings")

        # Account settings: dates follow the chosen time zone.
        driver.get(f"{base}/settings/account/")
        driver.find_element(By.CSS_SELECTOR, "#timezone option[value='Asia/Tokyo']").click()
        driver.find_element(By.CSS_SELECTOR, "#timezone-form button").click()
        wait.until(EC.presence_of_element_located((By.ID, "notice")))
        driver.get(f"{base}/organizations/faultline/issues/?query=")
        driver.find_element(By.CSS_SELECTOR, ".issue-title").click()
        wait.until(EC.presence_of_element_located((By.ID, "first-seen")))
        first_seen = driver.find_element(By.ID, "first-seen").text
        expect("(Asia/Tokyo)" in first_seen, f"dates in the chosen zone: {first_seen!r}")
        shot("timezone")

        # API tokens: created in the page, accepted by the REST API.
        driver.get(f"{base}/settings/account/api/auth-tokens/")
        driver.find_element(By.CSS_SELECTOR, "#create-token input[name=name]").send_keys("ci pipeline")
        driver.find_element(By.CSS_SELECTOR, "#create-token button").click()
        wait.until(EC.presence_of_element_located((By.ID, "new-token-value")))
        token = driver.find_element(By.ID, "new-token-value").get_attribute("value")
        import json
        import urllib.request
        request = urllib.request.Request(f"{base}/api/0/organizations/", headers={"Authorization": f"Bearer {token}"})
        orgs = json.load(urllib.request.urlopen(request, timeout=10))
        expect(orgs and orgs[0]["slug"] == "faultline", f"the new token works: {orgs}")
        shot("tokens")

        # Signing out.
        driver.find_element(By.ID, "logout").click()
        wait.until(EC.presence_of_element_located((By.ID, "email")))
        driver.get(f"{base}/organizations/faultline/issues/")
        wait.until(EC.presence_of_element_located((By.ID, "email")))
        shot("signed-out")
    finally:
        driver.quit()
    print("dashboard flow passed")


if __name__ == "__main__":
    main()
