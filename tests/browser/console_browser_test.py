#!/usr/bin/env python3
"""The web console in a real browser (docs/CONSOLE.md, docs/CONSOLE-API.md).

Starts the demo network with its three consoles (scripts/demo.sh with
MIR_DEMO_NO_MIR=1) and plays a complete Messa in Rete through them with
Chromium headless, one browser per person:

  toscana operator   submits (refused first without consent, next to the field)
  nvn operator       takes it into evaluation and routes it on to lombardia
  lombardia operator evaluates (refused once: someone else moved it first),
                     circulates it to its partner
  lombardia partner  sees only the placement fields, is refused an operators'
                     page, proposes a place
  toscana operator   accepts, schedules
  lombardia partner  confirms the arrival
  nvn operator       closes; the timeline is checked at each node

then a citizen report through toscana's public form (a second mir-console
with console.publicForm): the 112 sentence shown the moment danger is ticked,
the receipt, the follow-up, and toscana's operator finding and triaging it
on the "Citizen reports" page; then toscana's operator adding a roster
entry, making a mediator request, assigning it, refused a time outside its
window (in words, next to the field) and scheduling it, on the "Service
requests" page, then placing another with nvn, whose operator sees it
arrive from toscana;

and also: a sign-in with an expired certificate refused in words, an
EMERGENCY_24H referral left unacknowledged past a short deadline raising the
alarm until acknowledged, the language switch, sign-out, and that no page
made a request outside its own origin.

Environment: MIR_SOURCE_DIR, MIR_BUILD_DIR (binaries), MIR_BROWSER_ARTIFACTS
(screenshots NN-step.png), MIR_DEMO_PORT (first node port; consoles at +342).
Exit 77 (skipped) when Chromium, ChromeDriver or Selenium is missing
(scripts/setup.sh --with-test-tools installs them).
"""

import base64
import datetime
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import traceback

SKIP = 77


def skip(why):
    print(f"SKIPPED: {why} (install them with scripts/setup.sh --with-test-tools)")
    sys.exit(SKIP)


CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
CHROMEDRIVER = shutil.which("chromedriver") or (
    "/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None)
if not CHROMIUM:
    skip("no chromium")
if not CHROMEDRIVER:
    skip("no chromedriver")
try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:
    skip(f"no selenium for {sys.executable}")

SOURCE = os.environ.get("MIR_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.environ.get("MIR_BUILD_DIR", os.path.join(SOURCE, "build"))
ARTIFACTS = os.environ.get("MIR_BROWSER_ARTIFACTS", os.path.join(BUILD, "browser-artifacts"))
PORT = int(os.environ.get("MIR_DEMO_PORT", "27301"))
DEMO_DIR = os.environ.get("MIR_DEMO_DIR", os.path.join(BUILD, "browser-demo"))
PKI = os.path.join(DEMO_DIR, "pki")
ACK_TIMEOUT_S = 20
NODE_PORT = {"nvn": PORT, "toscana": PORT + 1, "lombardia": PORT + 2}
CONSOLE = {n: f"https://127.0.0.1:{p + 342}" for n, p in NODE_PORT.items()}
WAIT = 30          # seconds for anything that crosses nodes
DEMO_ENV = dict(os.environ, MIR_DEMO_SKIP_SETUP="1", MIR_DEMO_NO_MIR="1", MIR_DEMO_DIR=DEMO_DIR,
                MIR_DEMO_PORT=str(PORT), MIR_DEMO_BUILD_DIR=BUILD, MIR_DEMO_ACK_TIMEOUT_S=str(ACK_TIMEOUT_S))

steps = 0
started = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - started:6.1f}s] {msg}", flush=True)


# MIR_BROWSER_DOCS_DIR=docs/console: also saves the pictures of docs/CONSOLE.md
# there, smaller (the visible part of the page at 60%).
DOCS_DIR = os.environ.get("MIR_BROWSER_DOCS_DIR")


def shot(driver, name, doc=None):
    global steps
    steps += 1
    path = os.path.join(ARTIFACTS, f"{steps:02d}-{name}.png")
    driver.save_screenshot(path)
    log(f"screenshot {path}")
    if doc and DOCS_DIR:
        view = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssVisualViewport"]
        clip = {"x": view["pageX"], "y": view["pageY"], "width": view["clientWidth"],
                "height": min(view["clientHeight"], 820), "scale": 0.6}
        data = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "clip": clip})["data"]
        with open(os.path.join(DOCS_DIR, f"{doc}.png"), "wb") as f:
            f.write(base64.b64decode(data))


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


class Person:
    """One browser (its own profile) for one person."""

    def __init__(self, who, node, role):
        self.who, self.node, self.role = who, node, role
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000",
                    "--lang=it-IT", "--autoplay-policy=no-user-gesture-required"):
            opts.add_argument(arg)
        opts.accept_insecure_certs = True   # the demo's web CA (ECDSA) is not in the browser's store
        opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        self.d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        self.requests = []
        self.document_csp = []     # the CSP header of each page load

    def wait(self, timeout=WAIT):
        return WebDriverWait(self.d, timeout)

    def find(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def has(self, css):
        return bool(self.d.find_elements(By.CSS_SELECTOR, css))

    def visible(self, css, timeout=WAIT):
        return self.wait(timeout).until(EC.visibility_of_element_located((By.CSS_SELECTOR, css)))

    def click(self, css, timeout=WAIT):
        el = self.wait(timeout).until(EC.element_to_be_clickable((By.CSS_SELECTOR, css)))
        el.click()
        return el

    def text_in(self, css, text, timeout=WAIT):
        self.wait(timeout).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))
        return self.find(css).text

    def open(self, url):
        self.d.get(url)

    def collect_requests(self):
        """Every URL the browser asked for so far (Chrome's performance log)."""
        for entry in self.d.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg.get("method") == "Network.requestWillBeSent":
                self.requests.append(msg["params"]["request"]["url"])
            elif msg.get("method") == "Network.responseReceived" and msg["params"].get("type") == "Document" \
                    and msg["params"]["response"]["url"].startswith(tuple(CONSOLE.values())):
                headers = {k.lower(): v for k, v in msg["params"]["response"].get("headers", {}).items()}
                self.document_csp.append(headers.get("content-security-policy", ""))

    def sign_in_first_time(self, node, crt, key, expect_ok=True):
        self.open(CONSOLE[node] + "/")
        self.visible("#cert-file")
        self.find("#cert-file").send_keys(crt)
        self.find("#key-file").send_keys(key)
        self.click("#import-identity")
        if expect_ok:
            self.visible("#whoami")
            log(f"{self.who} signed in at {node}: {self.find('#whoami').text}")

    def goto_referral(self, node, rid):
        url = f"{CONSOLE[node]}/#/referral/{rid}"
        if self.d.current_url == url:
            self.d.refresh()      # the same hash again would not load anything
        else:
            self.open(url)
        self.visible("#timeline")

    def state_is(self, state, timeout=WAIT):
        """Waits for the referral page to show `state` (or one of a tuple)."""
        states = state if isinstance(state, tuple) else (state,)
        css = ", ".join(f'#referral-state[data-state="{s}"]' for s in states)
        self.wait(timeout).until(lambda d: d.find_elements(By.CSS_SELECTOR, css))

    def do_action(self, slug, fill=None, expect_state=None, shot_review=None):
        """Opens an action, fills it, reviews what will be signed, signs and sends."""
        self.click(f"#action-{slug}")
        if fill:
            fill()
        self.click(f"#{slug}-review")
        review = self.visible(".review")
        words = review.text
        if shot_review:
            self.d.execute_script("arguments[0].scrollIntoView({block: 'center'})", review)
            shot(self.d, *shot_review)
        self.click(f"#{slug}-sign")
        if expect_state:
            self.state_is(expect_state)
            if not isinstance(expect_state, tuple):   # a later state replaces the notice
                self.visible(".notice-success")
        return words

    def timeline_states(self):
        return [li.get_attribute("data-state") for li in self.d.find_elements(By.CSS_SELECTOR, "#timeline > li")]

    def quit(self):
        try:
            self.collect_requests()
        finally:
            self.d.quit()


def demo(*args):
    return subprocess.run([os.path.join(SOURCE, "scripts", "demo.sh"), *args], env=DEMO_ENV, cwd=SOURCE,
                          capture_output=True, text=True, timeout=180)


def mirctl(who, *args):
    node = who.split("/")[0]
    return subprocess.run([os.path.join(BUILD, "client", "mirctl"), "--node", f"127.0.0.1:{NODE_PORT[node]}",
                           "--pki", PKI, "--as", who, *args], capture_output=True, text=True, timeout=60)


def date_input(el, iso_date):
    """Types a date into <input type=date> whatever the locale's field order."""
    el.parent.execute_script("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'));", el, iso_date)


def main():
    os.makedirs(ARTIFACTS, exist_ok=True)
    for f in os.listdir(ARTIFACTS):
        if f.endswith(".png"):
            os.remove(os.path.join(ARTIFACTS, f))
    for binary in ("broker/mir-broker", "client/mirctl", "console/mir-console"):
        check(os.access(os.path.join(BUILD, binary), os.X_OK), f"{BUILD}/{binary} is not built")

    demo("reset")
    up = demo()
    log("demo.sh: " + up.stdout.strip().splitlines()[-1] if up.stdout.strip() else "demo.sh: no output")
    check(up.returncode == 0 and "The demo network is still running" in up.stdout,
          f"demo.sh failed ({up.returncode}):\n{up.stdout}\n{up.stderr}")
    for node, url in CONSOLE.items():
        check(url in up.stdout, f"demo.sh does not print the console address {url}")

    people = []
    try:
        run(people)
    except Exception:
        for p in people:   # what each browser showed when it failed
            try:
                path = os.path.join(ARTIFACTS, f"FAILED-{p.who.replace(' ', '-')}.png")
                p.d.save_screenshot(path)
                log(f"{p.who} at {p.d.current_url}: {path}\n{p.d.find_element(By.ID, 'main').text[:1500]}")
            except Exception:  # noqa: BLE001
                pass
        raise
    finally:
        for p in people:
            try:
                p.quit()
            except Exception:  # noqa: BLE001 - the browser may already be gone
                pass
        stopped = demo("stop")
        log(f"demo.sh stop: {stopped.stdout.strip()}")


def run(people):
    today = datetime.date.today().isoformat()
    tomorrow = (datetime.date.today() + datetime.timedelta(days=1)).isoformat()

    # ---- the toscana operator signs in and submits ---------------------------
    tos = Person("toscana operator", "toscana", "operator")
    people.append(tos)
    tos.open(CONSOLE["toscana"] + "/")
    tos.visible("#import-form")
    check(tos.d.execute_script("return document.documentElement.lang") == "it", "Italian first")
    shot(tos.d, "sign-in-first-time", doc="sign-in")
    tos.sign_in_first_time("toscana", f"{PKI}/toscana/operator.crt", f"{PKI}/toscana/operator.key")
    tos.visible("#referrals, #no-referrals")
    check(tos.find("#whoami").text.endswith("mir://toscana/operator/op1"), "signed in as op1")
    # The key was stored non-extractable.
    extractable = tos.d.execute_async_script("""
      const done = arguments[arguments.length - 1];
      const req = indexedDB.open('mir-console');
      req.onsuccess = () => { const g = req.result.transaction('identity').objectStore('identity').get('me');
        g.onsuccess = () => done([g.result.key.extractable, g.result.key.algorithm.name, g.result.key.type]); };""")
    check(extractable == [False, "Ed25519", "private"], f"stored key: {extractable}")
    shot(tos.d, "work-list-empty")

    tos.click("#nav-new")
    tos.visible("#new-form")
    # Every field has a label (or a name given by ARIA).
    unlabelled = tos.d.execute_script("""
      return [...document.querySelectorAll('main input, main select, main textarea')]
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.id || e.name);""")
    check(not unlabelled, f"fields without a label: {unlabelled}")
    tos.find("#new-destinationNode").send_keys("nvn")
    Select(tos.find("#new-urgency")).select_by_value("URGENCY_URGENT")
    Select(tos.find("#new-dangerLevel")).select_by_value("DANGER_LEVEL_HIGH")
    tos.find('input[name="requestedServices"][value="SERVICE_SECOND_RECEPTION"]').click()
    tos.find("#new-personCode").send_keys("DEMO-TOS-0101")
    Select(tos.find("#new-gender")).select_by_value("GENDER_FEMALE")
    Select(tos.find("#new-ageBand")).select_by_value("AGE_BAND_25_34")
    tos.find("#new-languages").send_keys("pcm bin")
    tos.find("#new-nationality").send_keys("NG")
    tos.find("#new-notes").send_keys("DEMO-NOTE: invented data for the browser test")
    Select(tos.find("#new-consentMethod")).select_by_value("CONSENT_WRITTEN")
    # Without consent: refused next to the field, nothing prepared.
    tos.click("#new-prepare")
    err = tos.visible("#new-consent-error")
    check("consenso" in err.text, f"consent error: {err.text}")
    check("new-consent-error" in (tos.find("#new-consent").get_attribute("aria-describedby") or ""),
          "consent error tied to the field")
    check(tos.find("#new-consent").get_attribute("aria-invalid") == "true", "consent field marked invalid")
    check(not tos.has(".review"), "nothing to sign without consent")
    tos.d.execute_script("arguments[0].scrollIntoView({block: 'center'})", err)
    shot(tos.d, "new-referral-refused-without-consent", doc="consent")
    tos.find("#new-consent").click()
    tos.click("#new-prepare")
    review = tos.visible(".review")
    check("nvn" in review.text and "DEMO-TOS-0101" in review.text, f"review: {review.text}")
    tos.d.execute_script("arguments[0].scrollIntoView({block: 'center'})", review)
    shot(tos.d, "new-referral-review")
    tos.click("#new-sign")
    tos.visible("#timeline")
    rid = tos.find("#referral-h").text.split()[-1]
    log(f"referral {rid} submitted")
    # RECEIVED from nvn arrives by itself (live update, no reload).
    tos.state_is("RECEIVED")
    check("mir://nvn/node" in tos.find("#timeline").text, "RECEIVED by nvn's node")
    shot(tos.d, "referral-received-at-nvn")

    # ---- nvn evaluates and routes it on to lombardia ----------------------
    nvn = Person("nvn operator", "nvn", "operator")
    people.append(nvn)
    nvn.sign_in_first_time("nvn", f"{PKI}/nvn/operator.crt", f"{PKI}/nvn/operator.key")
    nvn.visible(f'#referrals tr[data-id="{rid}"]')
    nvn.click(f'#referrals tr[data-id="{rid}"] a')
    nvn.visible("#timeline")
    nvn.state_is("RECEIVED")
    # With the keyboard only: Enter opens the action and focus goes into it,
    # Tab reaches the review, Enter reviews, focus lands on "Firma e invia".
    nvn.find("#action-under-evaluation").send_keys(Keys.ENTER)
    nvn.wait().until(lambda d: d.switch_to.active_element.get_attribute("id") == "under-evaluation-text")
    nvn.d.switch_to.active_element.send_keys(Keys.TAB)
    check(nvn.d.switch_to.active_element.get_attribute("id") == "under-evaluation-review", "Tab reaches the review")
    nvn.d.switch_to.active_element.send_keys(Keys.ENTER)
    nvn.wait().until(lambda d: d.switch_to.active_element.get_attribute("id") == "under-evaluation-sign")
    words = nvn.find(".review").text
    check(rid in words and "mir://nvn/operator/op1" in words, f"review words: {words}")
    nvn.d.switch_to.active_element.send_keys(Keys.ENTER)
    nvn.state_is("UNDER_EVALUATION")
    def route_to_lombardia():
        # the node field suggests nvn's peers that never had it: not toscana, the origin
        options = nvn.d.execute_script(
            "return [...document.querySelectorAll('#submitted-destinations option')].map(o => o.value)")
        check(options == ["lombardia"], f"nvn: regions suggested for routing on: {options}")
        nvn.find("#submitted-destination").send_keys("lombardia")
    nvn.do_action("submitted", fill=route_to_lombardia,
                  expect_state=("SUBMITTED", "RECEIVED"))   # RECEIVED once lombardia answers
    check("lombardia" in nvn.find("#summary").text, "nvn: destination lombardia")
    shot(nvn.d, "nvn-routed-to-lombardia")

    # ---- lombardia: a refused action (someone else moved it first) -----------
    lom = Person("lombardia operator", "lombardia", "operator")
    people.append(lom)
    lom.sign_in_first_time("lombardia", f"{PKI}/lombardia/operator.crt", f"{PKI}/lombardia/operator.key")
    lom.visible(f'#referrals tr[data-id="{rid}"][data-state="RECEIVED"]')
    lom.goto_referral("lombardia", rid)
    lom.state_is("RECEIVED")
    lom.click("#action-under-evaluation")
    lom.click("#under-evaluation-review")
    lom.visible("#under-evaluation-sign")
    other = mirctl("lombardia/operator", "evaluate", rid)   # a colleague, with mirctl, first
    check(other.returncode == 0, f"mirctl evaluate: {other.stdout} {other.stderr}")
    lom.click("#under-evaluation-sign")
    refusal = lom.visible(".action-status .notice-error")
    check("Rifiutato" in refusal.text and "nel frattempo" in refusal.text, f"refusal: {refusal.text}")
    shot(lom.d, "refused-referral-moved-on", doc="refused")
    lom.goto_referral("lombardia", rid)
    lom.state_is("UNDER_EVALUATION")
    # nvn sees lombardia's evaluation; it may close it, no longer route it on
    nvn.goto_referral("nvn", rid)
    nvn.state_is("UNDER_EVALUATION")
    check(nvn.has("#action-closed-negative") and not nvn.has("#action-submitted"),
          "nvn: a region's evaluation is not routed on")
    # lombardia's review of a rejection says where the referral goes (not signed)
    lom.click("#action-rejected")
    Select(lom.find("#rejected-reason")).select_by_value("REJECTION_NO_PLACES")
    lom.click("#rejected-review")
    words = lom.visible(".review").text
    check("torna al nodo nazionale" in words and "cancellati in questo nodo" in words,
          f"review of a rejection at the region nvn routed it to: {words}")
    lom.goto_referral("lombardia", rid)
    lom.state_is("UNDER_EVALUATION")

    # the operators' dead letters page answers (none in this demo)
    lom.open(CONSOLE["lombardia"] + "/#/dead-letters")
    lom.visible("#no-dead-letters, #dead-letters")
    lom.goto_referral("lombardia", rid)

    # circulate to the partner
    lom.find("#circulate-partners").send_keys("mir://lombardia/partner/shelter1")
    lom.click("#circulate-button")
    check("shelter1" in lom.visible(".notice-success").text, "circulated")
    shot(lom.d, "lombardia-circulated")

    # ---- an expired certificate is refused in words ---------------------------
    par = Person("lombardia partner", "lombardia", "partner")
    people.append(par)
    par.sign_in_first_time("toscana", f"{PKI}/test/expired.crt", f"{PKI}/test/expired.key", expect_ok=False)
    refusal = par.visible("#login-status .notice-error")
    check("scaduto" in refusal.text, f"expired certificate: {refusal.text}")
    check(not par.has("#whoami"), "not signed in with an expired certificate")
    shot(par.d, "sign-in-refused-expired-certificate", doc="sign-in-refused")

    # ---- the partner: placement fields only, no operators' page, proposes ------
    par.sign_in_first_time("lombardia", f"{PKI}/lombardia/partner.crt", f"{PKI}/lombardia/partner.key")
    par.text_in("#list-h", "Segnalazioni offerte")
    check(not par.has("#nav-new") and not par.has("#nav-node"), "no operators' links for a partner")
    par.visible(f'#referrals tr[data-id="{rid}"]')
    par.goto_referral("lombardia", rid)
    fields = par.find("#referral-fields").text
    check("DEMO-TOS-0101" not in fields and "NG" not in fields and "DEMO-NOTE" not in fields,
          f"a partner sees placement fields only: {fields}")
    check(par.has('#referral-fields [data-field="languages"]'), "a partner sees the languages")
    par.open(CONSOLE["lombardia"] + "/#/node")
    denied = par.visible("main .notice-error")
    check("ruolo" in denied.text, f"node page refused to a partner: {denied.text}")
    shot(par.d, "partner-refused-node-page")
    par.goto_referral("lombardia", rid)

    def propose():
        par.find("#placement-proposed-project").send_keys("PRJ-LOM-07")
        date_input(par.find("#placement-proposed-date"), today)
    words = par.do_action("placement-proposed", fill=propose, expect_state="PLACEMENT_PROPOSED",
                          shot_review=("partner-reviews-the-proposal", "review"))
    check("PRJ-LOM-07" in words, f"proposal words: {words}")
    shot(par.d, "partner-proposed-a-place")

    # ---- toscana sees it live, accepts and schedules -----------------------
    tos.state_is("PLACEMENT_PROPOSED")          # the page toscana left open, live
    shot(tos.d, "toscana-sees-the-proposal-live")
    tos.do_action("placement-accepted", expect_state="PLACEMENT_ACCEPTED")
    tos.do_action("transfer-scheduled", fill=lambda: date_input(tos.find("#transfer-scheduled-date"), tomorrow),
                  expect_state="TRANSFER_SCHEDULED")

    # ---- the partner confirms the arrival ---------------------------------
    par.state_is("TRANSFER_SCHEDULED")
    words = par.do_action("placement-confirmed", fill=lambda: par.find("#placement-confirmed-project").send_keys("PRJ-LOM-07"),
                          expect_state="PLACEMENT_CONFIRMED")
    check("PRJ-LOM-07" in words, f"confirmation words: {words}")
    shot(par.d, "partner-confirmed-arrival")

    # ---- nvn closes -----------------------------------------------------------
    nvn.state_is("PLACEMENT_CONFIRMED")
    nvn.do_action("closed-positive", expect_state="CLOSED_POSITIVE")

    # ---- the timeline at each node -----------------------------------------------
    expected = ["SUBMITTED", "RECEIVED", "UNDER_EVALUATION", "PLACEMENT_PROPOSED", "PLACEMENT_ACCEPTED",
                "TRANSFER_SCHEDULED", "PLACEMENT_CONFIRMED", "CLOSED_POSITIVE"]
    for person, node in ((tos, "toscana"), (nvn, "nvn"), (lom, "lombardia")):
        person.goto_referral(node, rid)
        person.state_is("CLOSED_POSITIVE")
        states = person.timeline_states()
        missing = [s for s in expected if s not in states]
        check(not missing, f"{node}: timeline lacks {missing}: {states}")
        check(person.has("#timeline .proofs"), f"{node}: delivery proofs shown apart")
        person.d.execute_script("document.getElementById('timeline').scrollIntoView()")
        shot(person.d, f"timeline-at-{node}", doc="timeline" if node == "toscana" else None)
        log(f"{node}: timeline {states}")
    check("mir://lombardia/partner/shelter1" in tos.find("#timeline").text, "the partner's events reach the origin")

    # ---- an emergency left unacknowledged raises the alarm ------------------------
    tos.click("#nav-new")
    tos.visible("#new-form")
    tos.find("#new-destinationNode").send_keys("nvn")
    Select(tos.find("#new-urgency")).select_by_value("URGENCY_EMERGENCY_24H")
    tos.find("#new-personCode").send_keys("DEMO-TOS-0102")
    tos.find("#new-consent").click()
    tos.click("#new-prepare")
    tos.click("#new-sign")
    tos.visible("#timeline")
    emergency = tos.find("#referral-h").text.split()[-1]
    tos.click("#nav-list")
    row = tos.visible(f'#referrals tr[data-id="{emergency}"]')
    check(tos.find("#referrals tbody tr").get_attribute("data-id") == emergency, "the emergency is on top")
    tos.text_in(f'#referrals tr[data-id="{emergency}"] .countdown', "scade tra")
    shot(tos.d, "emergency-countdown", doc="work-list")
    banner = tos.visible("#alarm-banner", timeout=ACK_TIMEOUT_S + WAIT)
    check(emergency in banner.text and "ALLARME" in banner.text.upper(), f"alarm: {banner.text}")
    check("scaduta da" in banner.text, f"alarm countdown: {banner.text}")
    check(banner.get_attribute("data-sound") == "on", "the alarm sounds (its AudioContext is running)")
    tos.visible(f'#referrals tr.row-overdue[data-id="{emergency}"]')
    check(tos.find("#referrals tbody tr").get_attribute("data-id") == emergency, "the overdue emergency is on top")
    shot(tos.d, "emergency-alarm", doc="alarm")
    # It stays on other pages until acknowledged.
    tos.click("#nav-new")
    tos.visible("#new-form")
    check(tos.has("#alarm-banner"), "the alarm stays on every page")
    tos.click("#alarm-ack")
    tos.visible("#alarm-acked")
    check(not tos.has("#alarm-banner"), "acknowledged: the banner goes")
    shot(tos.d, "emergency-alarm-acknowledged")

    # ---- the work list's filters --------------------------------------------------
    tos.click("#nav-list")
    tos.visible(f'#referrals tr[data-id="{emergency}"]')

    def listed():   # read at once: the list may be redrawn meanwhile
        return tos.d.execute_script(
            "return [...document.querySelectorAll('#referrals tbody tr')].map(r => r.dataset.id)")
    tos.find("#filter-q").send_keys(rid[:18])   # a prefix: ids of one moment share their start
    tos.find("#filter-q").send_keys(Keys.ENTER)
    tos.wait().until(lambda d: listed() == [rid])
    tos.find("#filter-q").clear()
    Select(tos.find("#filter-urgency")).select_by_value("EMERGENCY_24H")
    tos.find("#filter-q").send_keys(Keys.ENTER)
    tos.wait().until(lambda d: listed() == [emergency])
    Select(tos.find("#filter-urgency")).select_by_value("")
    Select(tos.find("#filter-state")).select_by_value("CLOSED_POSITIVE")
    tos.find("#filter-q").send_keys(Keys.ENTER)
    tos.wait().until(lambda d: listed() == [rid])
    Select(tos.find("#filter-state")).select_by_value("")
    tos.find("#filter-q").send_keys(Keys.ENTER)
    tos.wait().until(lambda d: sorted(listed()) == sorted([rid, emergency]))

    # ---- the node page, English, sign-out -----------------------------------------
    tos.click("#nav-node")
    tos.visible("#peers")
    check("nvn" in tos.find("#peers").text, "toscana's peer nvn listed")
    shot(tos.d, "node-status", doc="node")
    tos.click("#lang-switch")
    tos.text_in("#node-h", "Status of node")
    check(tos.d.execute_script("return document.documentElement.lang") == "en", "lang=en")
    tos.click("#nav-list")
    tos.visible("#referrals")
    shot(tos.d, "work-list-english")
    tos.click("#lang-switch")
    tos.text_in("#list-h", "Segnalazioni")
    tos.click("#logout")
    tos.text_in("main", "Uscita effettuata")
    check(tos.has("#sign-in") and "mir://toscana/operator/op1" in tos.find("#stored-identity").text,
          "the stored key signs in next time")
    tos.click("#sign-in")
    tos.visible("#whoami")
    shot(tos.d, "signed-in-again-with-stored-key")
    # A session the console no longer knows (here: its cookie gone): the next
    # call answers SESSION_EXPIRED and the page goes back to sign-in, saying so.
    tos.d.delete_all_cookies()
    tos.click("#nav-node")
    tos.text_in("main", "La sessione è scaduta")
    check(not tos.has("#whoami"), "signed out after SESSION_EXPIRED")
    shot(tos.d, "session-expired")
    tos.click("#sign-in")
    tos.visible("#whoami")

    # ---- live updates came as server-sent events ------------------------------------
    for p in (tos, nvn, lom, par):
        n = int(p.d.execute_script("return sessionStorage.getItem('mir-events') || '0'"))
        check(n > 0, f"{p.who}: no server-sent event reached the page")
        log(f"{p.who}: {n} live events")

    # ---- the strict CSP refused nothing (no inline script or style) ------------------
    for p in people:
        csp = [e["message"] for e in p.d.get_log("browser") if "Content Security Policy" in e["message"]]
        check(not csp, f"{p.who}: CSP violations: {csp}")

    # ---- no request left the page's origin -------------------------------------------
    origins = tuple(CONSOLE.values())
    for p in people:
        entries = p.d.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        here = p.d.execute_script("return location.origin")
        outside = [u for u in entries if not u.startswith(here + "/")]
        check(not outside, f"{p.who}: resources outside {here}: {outside}")
        p.collect_requests()
        outside = [u for u in p.requests if not (u.startswith(origins) or u.startswith("data:"))]
        check(p.requests and not outside, f"{p.who}: requests outside the consoles: {outside}")
        check(p.document_csp and all("script-src 'self'" in c and "style-src 'self'" in c for c in p.document_csp),
              f"{p.who}: pages served without the strict CSP: {p.document_csp}")
        log(f"{p.who}: {len(p.requests)} requests, all to the consoles")

    # ---- a citizen report through the public form ---------------------------------------
    citizen_report(people, tos)

    # ---- a service request: roster entry, request, assigned, scheduled ------------------
    service_request(tos, nvn)


PUBLIC_STAFF_PORT = PORT + 352    # the second console's staff listener (unused here)
PUBLIC_PORT = PORT + 353          # its public form
PUBLIC = f"https://127.0.0.1:{PUBLIC_PORT}"


def start_public_form():
    """A second mir-console for toscana with the public form (the demo's has none)."""
    with open(os.path.join(DEMO_DIR, "config", "toscana.json")) as f:
        config = json.load(f)
    config["console"]["listenAddress"] = f"127.0.0.1:{PUBLIC_STAFF_PORT}"
    config["console"]["origin"] = f"https://127.0.0.1:{PUBLIC_STAFF_PORT}"
    config["console"]["publicForm"] = {"listenAddress": f"127.0.0.1:{PUBLIC_PORT}"}
    path = os.path.join(DEMO_DIR, "config", "toscana-public-form.json")
    with open(path, "w") as f:
        json.dump(config, f, indent=2)
    out = open(os.path.join(DEMO_DIR, "logs", "console-public-form.log"), "w")
    proc = subprocess.Popen([os.path.join(BUILD, "console", "mir-console"), "--config", path],
                            stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", PUBLIC_PORT), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise AssertionError("the public form's mir-console did not start (logs/console-public-form.log)")


def citizen_report(people, tos):
    """A report through the public form, followed up, then found and triaged by staff."""
    proc = start_public_form()
    try:
        cit = Person("citizen", "toscana", "public")
        people.append(cit)
        cit.open(PUBLIC + "/")
        cit.visible("#report-form")
        check(cit.d.execute_script("return document.documentElement.lang") == "it", "the form: Italian first")
        check(not cit.find("#danger-112").is_displayed(), "the 112 sentence waits for the box")
        cit.click("#immediate_danger")
        check(cit.find("#danger-112").is_displayed(), "the 112 sentence at once when danger is ticked")
        check("112" in cit.find("#danger-112").text, "it says to call 112")
        unlabelled = cit.d.execute_script("""
          return [...document.querySelectorAll('main input:not([type=hidden]), main select, main textarea')]
            .filter(e => !(e.labels && e.labels.length)).map(e => e.id || e.name);""")
        check(not unlabelled, f"public form fields without a label: {unlabelled}")
        Select(cit.find("#reporter_type")).select_by_value("REPORTER_CITIZEN")
        cit.find("#description").send_keys("DEMO: persone al lavoro nei campi di notte, sembrano sorvegliate.")
        cit.click("#x-EXPLOITATION_LABOUR")
        cit.find("#province").send_keys("po")
        cit.find("#persons").send_keys("5")
        cit.d.execute_script("document.getElementById('danger-112').scrollIntoView({block: 'center'})")
        shot(cit.d, "public-form-danger", doc="public-form")
        cit.click("#send")
        code = cit.visible("#receipt-code").text
        passphrase = cit.find("#passphrase").text
        check(code and passphrase, "the receipt shows a code and a passphrase")
        check("112" in cit.find("#danger-112").text, "the answer repeats the 112 sentence")
        log(f"citizen: receipt {code}")
        shot(cit.d, "public-form-receipt", doc="public-form-receipt")
        # Back to the filled-in form and sent again (or a reload): the same
        # receipt, and still one report for staff (form_once.h).
        cit.d.back()
        cit.visible("#report-form")
        cit.click("#send")
        check(cit.visible("#receipt-code").text == code, "the form sent again shows the same receipt")
        check(cit.find("#passphrase").text == passphrase, "and the same passphrase")

        def follow_up(expected):
            cit.open(PUBLIC + "/follow-up")
            cit.visible("#follow-up-form")
            cit.find("#receipt_code").send_keys(code)
            cit.find("#passphrase").send_keys(passphrase)
            cit.click("#check")
            cit.wait().until(lambda d: d.find_elements(By.CSS_SELECTOR, f'#progress[data-progress="{expected}"]'))

        follow_up("RECEIVED")
        shot(cit.d, "public-form-follow-up")

        # Staff find it among the citizen reports and triage it.
        tos.click("#nav-reports")
        tos.visible("#reports")
        row = tos.find('#reports tbody tr[data-state="REPORT_RECEIVED"] a')
        check(len(tos.d.find_elements(By.CSS_SELECTOR, '#reports tbody tr[data-state="REPORT_RECEIVED"]')) == 1,
              "the form sent twice is one report")
        shot(tos.d, "citizen-reports", doc="citizen-reports")
        row.click()
        tos.text_in("#report-fields", "DEMO: persone al lavoro")
        check("Modulo web" in tos.find("#report-fields").text, "channel web form")
        Select(tos.find("#report-triage")).select_by_value("TRIAGE_PERTINENT")
        tos.click("#report-triage-save")
        tos.wait().until(lambda d: d.find_elements(By.CSS_SELECTOR, '#report-state[data-state="REPORT_TRIAGED"]'))
        check(len(tos.d.find_elements(By.CSS_SELECTOR, "#report-timeline > li")) == 2, "recorded, triaged")
        shot(tos.d, "citizen-report-triaged", doc="citizen-report")

        follow_up("IN_HAND")
        csp = [e["message"] for e in cit.d.get_log("browser") if "Content Security Policy" in e["message"]]
        check(not csp, f"public form: CSP violations: {csp}")
        entries = cit.d.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        outside = [u for u in entries if not u.startswith(PUBLIC + "/")]
        check(not outside, f"public form: resources outside {PUBLIC}: {outside}")
        log("citizen report: sent, followed up, triaged by staff")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def local_input(dt):
    """<input type=datetime-local>'s value: the browser's clock is this machine's."""
    return dt.strftime("%Y-%m-%dT%H:%M")


def service_request(tos, nvn):
    """A roster entry added, a mediator request made, assigned, scheduled after a refusal;
    another placed with nvn, which sees where it came from."""
    tos.click("#nav-services")
    tos.visible("#services-h")
    tos.click("#roster-link")
    tos.visible("#roster-form")
    tos.find("#roster-code").send_keys("med-demo-1")
    Select(tos.find("#roster-kind")).select_by_value("ROSTER_MEDIATOR")
    tos.find("#roster-languages").send_keys("pcm, eng")
    tos.find("#roster-provinces").send_keys("fi, po")
    Select(tos.find("#roster-gender")).select_by_value("GENDER_FEMALE")
    tos.click("#roster-save")
    tos.visible('#roster tr[data-code="MED-DEMO-1"]')
    check("pcm, eng" in tos.find('#roster tr[data-code="MED-DEMO-1"]').text, "the roster lists the languages")
    shot(tos.d, "service-roster")

    tos.click("#nav-services")
    tos.click("#service-new-link")
    tos.visible("#service-form")
    unlabelled = tos.d.execute_script("""
      return [...document.querySelectorAll('#service-form input, #service-form select, #service-form textarea')]
        .filter(e => !(e.labels && e.labels.length)).map(e => e.id || e.name);""")
    check(not unlabelled, f"service request fields without a label: {unlabelled}")
    check(not tos.find("#svc-venue").is_displayed(), "no venue for a mediator")
    now = datetime.datetime.now()
    Select(tos.find("#svc-kind")).select_by_value("SERVICE_KIND_MEDIATOR")
    tos.find("#svc-language").send_keys("pcm")
    tos.find("#svc-sameGenderWanted").click()
    Select(tos.find("#svc-gender")).select_by_value("GENDER_FEMALE")
    Select(tos.find("#svc-attendance")).select_by_value("ATTENDANCE_IN_PERSON")
    tos.find("#svc-province").send_keys("fi")
    date_input(tos.find("#svc-windowStart"), local_input(now + datetime.timedelta(hours=1)))
    date_input(tos.find("#svc-windowEnd"), local_input(now + datetime.timedelta(days=2)))
    tos.find("#svc-requester").send_keys("DEMO Commissione")
    tos.find("#svc-notes").send_keys("DEMO: nota di prova")
    tos.click("#service-save")
    tos.visible('#service-state[data-state="SERVICE_REQUESTED"]')
    check("DEMO Commissione" in tos.find("#service-fields").text, "the requester, opened")
    check(tos.has("#service-assign-form") and tos.has("#service-cancel-form")
          and not tos.has("#service-schedule-form") and not tos.has("#service-complete-form"),
          "requested: assign or cancel only")
    shot(tos.d, "service-request-new")

    Select(tos.find("#service-assign-code")).select_by_value("MED-DEMO-1")
    tos.click("#service-assign-save")
    tos.visible('#service-state[data-state="SERVICE_ASSIGNED"]')
    check(tos.find("#service-roster-code").text == "MED-DEMO-1", "assigned to the roster entry")
    check(not tos.has("#service-assign-form") and tos.has("#service-schedule-form"), "assigned: schedule next")

    # Outside the window: the node refuses, in words, next to the field.
    date_input(tos.find("#service-schedule-at"), local_input(now + datetime.timedelta(days=5)))
    tos.click("#service-schedule-save")
    refusal = tos.text_in("#service-schedule-status", "Rifiutato")
    check(tos.has("#service-schedule-at-error"), f"the refusal next to the field: {refusal}")
    check(tos.find('#service-state').get_attribute("data-state") == "SERVICE_ASSIGNED", "nothing changed")
    shot(tos.d, "service-request-schedule-refused")

    date_input(tos.find("#service-schedule-at"), local_input(now + datetime.timedelta(hours=3)))
    tos.click("#service-schedule-save")
    tos.visible('#service-state[data-state="SERVICE_SCHEDULED"]')
    kinds = [li.get_attribute("data-kind") for li in tos.d.find_elements(By.CSS_SELECTOR, "#service-timeline > li")]
    check(kinds == ["REQUESTED", "ASSIGNED", "SCHEDULED"], f"timeline: {kinds}")
    check(tos.has("#service-complete-form") and tos.has("#service-cancel-form")
          and not tos.has("#service-schedule-form"), "scheduled: complete or cancel only")
    # Keyboard: Tab from the outcome reaches its button.
    tos.d.execute_script("document.getElementById('service-complete-outcome').focus()")
    tos.d.switch_to.active_element.send_keys(Keys.TAB)
    check(tos.d.switch_to.active_element.get_attribute("id") == "service-complete-save", "Tab reaches the button")
    shot(tos.d, "service-request-scheduled")
    tos.click("#nav-services")
    tos.visible('#services tr[data-state="SERVICE_SCHEDULED"]')
    log("service request: roster entry, request, assigned, scheduled")

    # Another one placed with nvn: PLACED here, its steps nvn's.
    tos.click("#service-new-link")
    tos.visible("#service-form")
    tos.find("#svc-language").send_keys("bin")
    Select(tos.find("#svc-attendance")).select_by_value("ATTENDANCE_REMOTE")
    date_input(tos.find("#svc-windowStart"), local_input(now + datetime.timedelta(hours=1)))
    date_input(tos.find("#svc-windowEnd"), local_input(now + datetime.timedelta(days=2)))
    tos.click("#service-save")
    tos.visible('#service-state[data-state="SERVICE_REQUESTED"]')
    placed_id = tos.find("#service-summary .mono").text
    tos.find("#service-place-node").send_keys("nvn")
    tos.click("#service-place-save")
    tos.visible('#service-state[data-state="SERVICE_PLACED"]')
    check(tos.find("#service-placed-with").text == "nvn", "placed with nvn")
    check(tos.has("#service-placed") and not tos.has("#service-assign-form") and not tos.has("#service-cancel-form"),
          "placed: no step here")
    check(tos.has("#service-recall-form"), "placed: it can be recalled")
    shot(tos.d, "service-request-placed-with-nvn")

    def reloaded_until(css):
        """Another node's step shows on a reload: reload until `css` is there."""
        def shown(d):
            if d.find_elements(By.CSS_SELECTOR, css):
                return True
            d.refresh()
            return False
        return shown
    nvn.open(f"{CONSOLE['nvn']}/#/service/{placed_id}")
    nvn.wait().until(reloaded_until("#service-placed-from"))
    check(nvn.find("#service-placed-from").text == "toscana", "nvn sees where it came from")
    check(nvn.has("#service-assign-form"), "nvn takes its steps")
    shot(nvn.d, "service-request-arrived-at-nvn")
    log(f"service request {placed_id}: placed with nvn, arrived there")

    # Recalled from toscana: nvn cancels it, and toscana's copy follows.
    tos.d.refresh()
    tos.visible("#service-recall-form")
    Select(tos.find("#service-recall-reason")).select_by_value("CANCEL_REQUESTER_WITHDREW")
    tos.click("#service-recall-save")
    tos.visible('#service-timeline > li[data-kind="CANCEL_ASKED"]')
    # Until nvn answers, the page says it was asked, and offers to ask again.
    tos.visible("#service-recall-pending")
    check("nvn" in tos.find("#service-recall-pending").text, "names the node asked")
    check(tos.find("#service-recall-save").text in ("Chiedi di nuovo", "Ask again"), "asks again")
    shot(tos.d, "service-request-recall-asked")

    cancelled = reloaded_until('#service-state[data-state="SERVICE_CANCELLED"]')
    nvn.wait().until(cancelled)
    check(not nvn.has("#service-assign-form"), "cancelled at nvn: no step left")
    tos.wait().until(cancelled)
    check(not tos.has("#service-recall-form"), "cancelled here: nothing to recall")
    shot(tos.d, "service-request-recalled")
    log(f"service request {placed_id}: recalled, cancelled at nvn and at toscana")


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, TimeoutException, subprocess.SubprocessError, OSError) as e:
        traceback.print_exc()
        log(f"FAILED after {steps} screenshots: {e.__class__.__name__}: {e}")
        sys.exit(1)
    log(f"PASSED ({steps} screenshots in {ARTIFACTS})")
