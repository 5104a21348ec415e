"""Clickjacking, as an attacker would try it in headless Chromium.

Usage: python framing.py BASE_URL EMAIL PASSWORD PAGE_PATH

Signs in at BASE_URL, then opens a page served from another port of the
same host (same site, so the SameSite=Lax session cookie goes along) that
frames BASE_URL + PAGE_PATH, and checks that the signed-in page does not
show inside the frame: no #resolve button to trick a click onto. Exits
non-zero with a message when it does.
"""

import http.server
import os
import sys
import threading

os.environ.setdefault("SE_AVOID_STATS", "true")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from dashboard import browser, sign_in  # noqa: E402


def attacker_site(target):
    """Serves one page that frames `target` under a decoy, on a free port."""
    page = (
        "<!doctype html><title>Win a prize</title><p>Click the button!</p>"
        f'<iframe id="victim" src="{target}" width="1200" height="800"'
        ' onload="window.framed = true"></iframe>'
    ).encode()

    class Decoy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Decoy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    base, email, password, path = sys.argv[1:5]
    site = attacker_site(base + path)
    driver = browser()
    wait = WebDriverWait(driver, 15)
    try:
        driver.get(f"{base}/auth/login/")
        sign_in(driver, wait, email, password, "issues")
        # Signed in: the page itself shows its Resolve button.
        driver.get(base + path)
        wait.until(EC.presence_of_element_located((By.ID, "resolve")))

        driver.get(f"http://127.0.0.1:{site.server_address[1]}/")
        # The frame's load event fires for a refused frame too.
        wait.until(lambda d: d.execute_script("return window.framed === true"))
        driver.switch_to.frame("victim")
        shown = driver.find_elements(By.ID, "resolve")
        driver.switch_to.default_content()
        if shown:
            raise SystemExit(f"FAILED: another site framed {path} signed in, Resolve button and all")
    finally:
        driver.quit()
        site.shutdown()
    print("framing refused")


if __name__ == "__main__":
    main()
