"""The web desk driven in Debian's chromium, as a person would use it: sign in with the link, upload by the
file input and by drag and drop, tag, filter, preview, build a packet, read the audit log, be refused.

One browser for the module and one real uvicorn server per person (bob the lawyer, erin the case lead,
carol who is not a member, dave the auditor), each in a thread of this process. Run as a script with
--screenshots DIR (make screenshots), the same steps save a picture of each main screen.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from test_web_support import WebWorld

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SHOTS = os.environ.get("REFUGE_SCREENSHOTS")

pytestmark = pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
                                reason="needs Debian's chromium and chromium-driver (make test installs them)")


class Served:
    """A desk served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, world: WebWorld, name: str) -> None:
        import uvicorn

        from refuge.web._desk import Desk
        from refuge.web.app import make_app

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.desk = Desk(world.open(name), 600)
        self.desk.bind("127.0.0.1", self.port)
        self.base = f"http://127.0.0.1:{self.port}{self.desk.prefix}"
        from refuge.web._http import BoundedHttpTools

        self.server = uvicorn.Server(uvicorn.Config(make_app(self.desk), log_level="warning", access_log=False,
                                                    lifespan="off", http=BoundedHttpTools))  # as refuge serve
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)

    def sign_in_link(self) -> str:
        return f"{self.base}/login?token={self.desk.new_token()}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = WebWorld(tmp_path_factory.mktemp("web"))
    assert w.cli("keys", "org", "generate", "--name", "Fictional Legal Clinic", user="alice").returncode == 0
    return w


@pytest.fixture(scope="module")
def desks(world):
    served = {name: Served(world, name) for name in ("bob", "erin", "carol", "dave")}
    yield served
    for s in served.values():
        s.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tmp_path_factory.mktemp("chromium-profile")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1280,1000", "--lang=en-US"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def wait(driver, css: str, timeout: float = 30):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))


def loaded_image(driver, css: str, timeout: float = 10):
    """The image at ``css`` once the browser has decoded it (a page rendered in the keyless worker)."""
    img = wait(driver, css)
    for _ in range(int(timeout * 10)):
        if driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img):
            break
        time.sleep(0.1)
    return img


def shot(driver, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        height = driver.execute_script("return Math.min(document.body.scrollHeight + 20, 2400)")
        driver.set_window_size(1280, max(700, height))
        driver.save_screenshot(str(Path(SHOTS) / f"{name}.png"))
        driver.set_window_size(1280, 1000)


def sign_in(driver, served: Served) -> None:
    driver.get(served.sign_in_link())
    wait(driver, "header.top")
    assert "/login" not in driver.current_url


def css(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def test_sign_in_with_the_one_time_link(browser, desks, world):
    link = desks["bob"].sign_in_link()
    browser.get(link)
    wait(browser, "#cases")
    assert browser.current_url == desks["bob"].base + "/"
    assert "MX-0001" in browser.page_source
    shot(browser, "cases")
    browser.delete_all_cookies()
    browser.get(link)  # the link is used up
    assert "already used" in browser.page_source


def test_sign_in_through_the_launch_file_the_command_opens(browser, desks, world):
    """refuge serve opens the browser on a private file (the token stays out of the browser's argv)."""
    from refuge.web.serve import launch_file

    browser.delete_all_cookies()
    launch = launch_file(desks["bob"].sign_in_link())
    assert oct(launch.stat().st_mode & 0o777) == "0o600" and oct(launch.parent.stat().st_mode & 0o777) == "0o700"
    browser.get(launch.as_uri())
    wait(browser, "#cases")
    assert browser.current_url == desks["bob"].base + "/"
    launch.unlink()
    launch.parent.rmdir()


def test_upload_by_the_file_input_with_a_progress_bar_per_file(browser, desks, world, tmp_path):
    from selenium.webdriver.support.ui import Select

    sign_in(browser, desks["bob"])
    browser.get(f"{desks['bob'].base}/case/{world.case}")
    Select(css(browser, "#up-type")[0]).select_by_value("medical")
    css(browser, "#up-tags")[0].send_keys("report, 2026")
    css(browser, "#up-person")[0].send_keys("Ana")
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    css(browser, "#up-files")[0].send_keys(f"{world.docs['medical']}\n{empty}")
    css(browser, "#up-send")[0].click()
    wait(browser, "#upload-done")
    rows = css(browser, "#progress li[data-name]")
    assert [r.get_attribute("class") for r in rows] == ["ok", "error"]
    assert "empty" in rows[1].text and all(r.find_element("css selector", "progress") for r in rows)
    shot(browser, "upload")
    docs = world.open("bob").find_case(world.case).documents.values()
    medical = [d for d in docs if d.type == "medical"]
    assert len(medical) == 1 and medical[0].tags == ["2026", "report"] and medical[0].person == "Ana"


def test_upload_by_drag_and_drop(browser, desks, world):
    sign_in(browser, desks["bob"])
    browser.get(f"{desks['bob'].base}/case/{world.case}")
    browser.execute_script("""
        const dt = new DataTransfer();
        dt.items.add(new File(["Letter from the shelter, dropped.\\n"], "dropped-letter.txt", {type: "text/plain"}));
        dt.items.add(new File(["Second dropped note.\\n"], "dropped-note.txt", {type: "text/plain"}));
        const zone = document.getElementById("drop");
        for (const name of ["dragenter", "dragover", "drop"]) {
            zone.dispatchEvent(new DragEvent(name, {dataTransfer: dt, bubbles: true, cancelable: true}));
        }""")
    wait(browser, "#upload-done")
    assert [r.get_attribute("class") for r in css(browser, "#progress li[data-name]")] == ["ok", "ok"]
    titles = {d.title for d in world.open("bob").find_case(world.case).documents.values()}
    assert {"dropped-letter", "dropped-note"} <= titles


def test_a_case_lead_creates_a_case(browser, desks, world):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    lead = desks["erin"]
    sign_in(browser, lead)
    browser.get(lead.base + "/")
    css(browser, "#create-ref")[0].send_keys("MX-0500")
    css(browser, "#create-title")[0].send_keys("Made in the page")
    css(browser, "#create")[0].click()
    WebDriverWait(browser, 30).until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "h1"), "MX-0500"))
    made = world.open("erin").find_case("MX-0500")
    assert made.title == "Made in the page" and browser.current_url == f"{lead.base}/case/{made.id}"


def test_upload_a_new_version_with_the_file_s_own_field(browser, desks, world, tmp_path):
    from selenium.webdriver.support.ui import Select

    first, second = tmp_path / "plan.txt", tmp_path / "plan-signed.txt"
    first.write_text("Safety plan, draft.\n")
    second.write_text("Safety plan, signed.\n")
    bob = world.open("bob")
    doc = bob.add_documents(bob.find_case(world.case), [str(first)], "other")[0].document.id
    sign_in(browser, desks["bob"])
    browser.get(f"{desks['bob'].base}/case/{world.case}")
    css(browser, "#up-files")[0].send_keys(str(second))
    Select(wait(browser, "#up-supersedes-0")).select_by_value(doc)  # the row the page made for this file
    css(browser, "#up-send")[0].click()
    wait(browser, "#upload-done")
    assert [r.get_attribute("class") for r in css(browser, "#progress li[data-name]")] == ["ok"]
    found = world.open("bob").find_document(doc)[1]
    assert (found.version, found.filename) == (2, "plan-signed.txt")


def test_tag_then_filter_then_preview(browser, desks, world):
    sign_in(browser, desks["bob"])
    browser.get(f"{desks['bob'].base}/doc/{world.decl}")
    css(browser, "#tag-add")[0].send_keys("reviewed")
    css(browser, "#tag-save")[0].click()
    wait(browser, "#tags .tag")
    assert "reviewed" in css(browser, "#tags")[0].text
    img = loaded_image(browser, "img#page")
    assert browser.execute_script("return arguments[0].naturalWidth", img) > 500
    shot(browser, "document")
    browser.get(f"{desks['bob'].base}/case/{world.case}")
    from selenium.webdriver.support.ui import Select

    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    Select(css(browser, "#filter-tag")[0]).select_by_value("reviewed")
    unfiltered = css(browser, "#docs")[0]
    css(browser, "#filter-go")[0].click()  # a form: the filtered page replaces this one
    WebDriverWait(browser, 30).until(ec.staleness_of(unfiltered))
    wait(browser, "#docs")
    rows = css(browser, "#docs tbody tr")
    assert [r.get_attribute("data-doc") for r in rows] == [world.decl]
    browser.get(f"{desks['bob'].base}/case/{world.case}")
    shot(browser, "case")


def test_a_case_lead_edits_then_removes_a_document(browser, desks, world, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    note = tmp_path / "stray.txt"
    note.write_text("A stray note filed in the wrong case.\n")
    bob = world.open("bob")
    doc = bob.add_documents(bob.find_case(world.case), [str(note)], "other")[0].document.id
    lead = desks["erin"]
    sign_in(browser, lead)
    browser.get(f"{lead.base}/doc/{doc}")
    css(browser, "#edit summary")[0].click()
    title = css(browser, "#edit-title")[0]
    title.clear()
    title.send_keys("Stray note")
    css(browser, "#edit-save")[0].click()
    WebDriverWait(browser, 30).until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "h1"), "Stray note"))
    css(browser, "#lifecycle summary")[0].click()
    css(browser, "#remove-reason")[0].send_keys("filed in the wrong case")
    css(browser, "#remove")[0].click()
    wait(browser, "#docs")
    assert doc not in [r.get_attribute("data-doc") for r in css(browser, "#docs tbody tr")]
    assert world.open("erin").find_case(world.case).removed[doc].title == "Stray note"


def test_a_case_lead_draws_a_region_by_dragging_on_the_page(browser, desks, world):
    from selenium.webdriver.common.action_chains import ActionChains

    lead = desks["erin"]
    sign_in(browser, lead)
    browser.set_window_size(1280, 1400)  # the whole page image in view, as on a person's screen
    browser.get(f"{lead.base}/doc/{world.decl}")
    css(browser, "#regions-link")[0].click()
    img = loaded_image(browser, "#region-canvas img#page")
    width, height = img.size["width"], img.size["height"]
    # from a quarter across and a tenth down, drag 40% right and 8% down (offsets from the image's centre)
    ActionChains(browser).move_to_element_with_offset(img, int(-width * 0.25), int(-height * 0.4)).click_and_hold() \
        .move_by_offset(int(width * 0.2), int(height * 0.04)).move_by_offset(int(width * 0.2), int(height * 0.04)) \
        .release().perform()
    frac = [float(v) for v in css(browser, "#region-frac")[0].get_attribute("value").split(",")]
    assert abs(frac[0] - 0.25) < 0.02 and abs(frac[1] - 0.1) < 0.02 and abs(frac[2] - 0.65) < 0.02, frac
    assert css(browser, "#region-draft")[0].is_displayed()
    css(browser, "#region-add")[0].click()
    row = wait(browser, "#regions tbody tr[data-rule]")
    rules = [r for r in world.open("erin").find_case(world.case).redactions if r.get("doc") == world.decl]
    assert [(r["kind"], r["page"], r["category"], r["id"]) for r in rules] == [
        ("region", 1, "always", row.get_attribute("data-rule"))]
    # in the declaration's own points: its letter page is drawn at 0.82 scale inside 54 pt margins, so a
    # quarter across the preview is (153 - 54) / 0.82 = 120 pt, 40% of it is 297 pt, 10% down is 780 pt up
    x0, y0, x1, y1 = rules[0]["box"]
    assert 110 < x0 < 130 and 285 < x1 - x0 < 310 and 770 < y1 < 790 and 60 < y1 - y0 < 90, rules[0]["box"]
    drawn = wait(browser, f'#region-canvas .region[data-rule="{rules[0]["id"]}"]')
    assert drawn.size["width"] > width * 0.3  # the rule is shown where it was drawn
    shot(browser, "regions")
    browser.set_window_size(1280, 1000)


def test_a_case_lead_records_consent_plans_and_builds_a_packet(browser, desks, world):
    from selenium.webdriver.support.ui import Select

    lead = desks["erin"]
    sign_in(browser, lead)
    browser.get(f"{lead.base}/case/{world.case}/consent")
    Select(css(browser, "#consent-recipient")[0]).select_by_value("unhcr-resettlement")
    css(browser, "#consent-note")[0].send_keys("form signed")
    css(browser, "#consent-grant")[0].click()
    wait(browser, "#consents tbody tr")
    assert "unhcr-resettlement" in css(browser, "#consents")[0].text
    browser.get(f"{lead.base}/case/{world.case}/packets?profile=unhcr-resettlement")
    wait(browser, "#plan")
    shot(browser, "packet-plan")
    css(browser, "input[name=allow_incomplete]")[0].click()
    css(browser, "#accept-gaps")[0].send_keys("location, third-party, network, legal-strategy, faces")
    css(browser, "#gap-reason")[0].send_keys("fictional case: nobody of these kinds")
    css(browser, "#build-sender")[0].send_keys("Another Clinic")
    css(browser, "#build")[0].click()
    wait(browser, "#job-download", timeout=120)
    shot(browser, "packet-built")
    packets = world.open("erin").find_case(world.case).packets
    assert packets
    # what packet build prints besides the paths: the signer's warning and the level, with what it is not
    assert "the letter names 'Another Clinic' as the sender" in css(browser, ".warning")[0].text
    level = packets[-1]["manifest"]["signature"]["level"]
    assert css(browser, "#job-level")[0].text == level and level.startswith("PAdES-")
    assert level not in ("PAdES-B-B", "PAdES-B-B with validation data") or css(browser, "#job-level-note")[0].text
    browser.get(f"{lead.base}/case/{world.case}/packets")
    assert f"Fictional Legal Clinic: {level}" in wait(browser, "#history").text


def test_a_case_lead_reads_the_review_report_and_the_pages_to_review(browser, desks, world):
    lead = desks["erin"]
    sign_in(browser, lead)
    browser.get(f"{lead.base}/case/{world.case}/packets")
    css(browser, "#history a[id^=review-]")[0].click()
    img = loaded_image(browser, "#report img.report-page")
    assert browser.execute_script("return arguments[0].naturalWidth", img) > 300
    shot(browser, "review-report")
    css(browser, "#nav-review")[0].click()
    loaded_image(browser, "#review-pages img.thumb")
    assert world.photo in css(browser, "#review-pages")[0].get_attribute("innerHTML")  # the photo: reviewed
    shot(browser, "review")


def test_an_auditor_reads_and_verifies_the_log_and_reaches_no_document(browser, desks, world):
    sign_in(browser, desks["dave"])
    wait(browser, "#audit")
    assert browser.current_url.endswith("/audit")
    assert len(css(browser, "#audit tbody tr")) > 5
    shot(browser, "audit")
    css(browser, "#verify")[0].click()
    wait(browser, "#verified")
    browser.get(f"{desks['dave'].base}/doc/{world.decl}")
    assert "auditors cannot read" in wait(browser, "#error").text


def test_a_non_member_is_refused(browser, desks, world):
    sign_in(browser, desks["carol"])
    assert "MX-0001" not in browser.page_source
    browser.get(f"{desks['carol'].base}/case/{world.case}")
    assert "refuge: error:" in wait(browser, "#error").text
    shot(browser, "refused")


if __name__ == "__main__":  # make screenshots: the same steps, saving a picture of each main screen
    if len(sys.argv) != 3 or sys.argv[1] != "--screenshots":
        sys.exit("usage: test_web_browser.py --screenshots DIR")
    os.environ["REFUGE_SCREENSHOTS"] = str(Path(sys.argv[2]).resolve())
    shutil.rmtree(os.environ["REFUGE_SCREENSHOTS"], ignore_errors=True)
    sys.exit(pytest.main([__file__, "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]))
