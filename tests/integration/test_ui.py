"""The dashboard (GET /ui, issue #18, docs/dashboard.md) in headless Chromium (Debian's chromium and
chromium-driver, driven by Selenium): while a datagen pipeline flows the chart states a rate within
10 % of the counters; pause turns the state PAUSED and the rate to zero, resume brings it back; a
failed pipeline shows FAILED with its trace; the topology is drawn; the tap's table fills; the page
works behind the listener's TLS and basic auth; the browser logs no error. Screenshots go to the
test's tmp directory."""
import json
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from resttest import poll
from sluicetest import scaled, write_yaml
from workertest import Worker

RATE = 1000  # records/s of the flowing pipeline


def ui_yaml(tmp):
    """`gen` flows; `bad` fails at its first flush (its sink writes to /dev/full: ENOSPC) while the
    worker keeps running `gen`."""
    return write_yaml(tmp / "ui.yaml", f"""version: 1
offset.storage.file.filename: {tmp / 'offsets.json'}
pipelines:
  - id: gen
    value.converter: json
    value.converter.schemas.enable: false
    source:
      plugin: datagen-avro
      config: {{quickstart: orders, rate: {RATE}}}
    sinks:
      - id: out
        plugin: file
        config: {{file: {tmp / 'out.jsonl'}}}
  - id: bad
    value.converter: json
    value.converter.schemas.enable: false
    source:
      plugin: datagen-avro
      config: {{quickstart: orders, rate: 20}}
    sinks:
      - id: full
        plugin: file
        config: {{file: /dev/full}}
""")


@pytest.fixture
def browser(tmp):
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "chromium and chromium-driver (scripts/lib/deps.sh, test group)"
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1280,1500", "--no-first-run", "--disable-extensions",
              f"--user-data-dir={tmp / 'chromium-profile'}"):
        opts.add_argument(a)
    # the page's console, read by console_errors()
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # Debian's chromedriver: Selenium Manager downloads nothing
    d = webdriver.Chrome(options=opts, service=Service(executable_path=driver,
                                                       log_output=str(tmp / "chromedriver.log")))
    d.set_page_load_timeout(30)
    yield d
    d.quit()


def console_errors(d):
    return [e for e in d.get_log("browser") if e.get("level") == "SEVERE"]


def connector(d, name):
    return d.find_element(By.CSS_SELECTOR, f'.connector[data-connector="{name}"]')


def wait(what, fn, timeout=30):
    def attempt():
        try:
            return fn()
        except Exception:  # the element is not drawn yet, or was just redrawn
            return None
    return poll(what, attempt, timeout, 0.2)


def stats(w, window=0):
    status, _, text = w.get(f"/stats?window={window}")
    assert status == 200, text
    return {c["name"]: c for c in json.loads(text)["connectors"]}


def shown_rate(d, name):
    svg = connector(d, name).find_element(By.CSS_SELECTOR, ".chart svg")
    return float(svg.get_attribute("data-shown-rate"))


def test_dashboard_rates_pause_resume_failed(sluice, tmp, browser):
    d = browser
    w = Worker(sluice, tmp, ui_yaml(tmp))
    try:
        d.get(w.url + "/ui")
        assert d.title.startswith("sluice")
        wait("gen RUNNING on the page",
             lambda: connector(d, "gen").get_attribute("data-state") == "RUNNING")
        # the chart's rate (the worker's mean of 5 s) against the counters over 10 s
        wait("six seconds of samples", lambda: shown_rate(d, "gen") > 0, 30)
        time.sleep(5)
        a, ta = stats(w), time.monotonic()
        time.sleep(10)
        b, tb = stats(w), time.monotonic()
        counted = (b["gen"]["totals"]["out"] - a["gen"]["totals"]["out"]) / (tb - ta)
        assert counted > RATE / 2, counted
        time.sleep(1.5)  # the page's next poll
        shown = shown_rate(d, "gen")
        assert abs(shown - counted) <= 0.1 * counted, (shown, counted)
        legend = connector(d, "gen").find_element(By.CSS_SELECTOR, ".chart .legend").text
        assert legend.startswith("out ") and legend.endswith("/s"), legend
        # the page asks for the new samples only and appends them: its series is the worker's
        points = connector(d, "gen").find_element(By.CSS_SELECTOR, "polyline.line-out")
        drawn = len(points.get_attribute("points").split())
        held = len(stats(w, 900)["gen"]["series"]["out"])
        assert drawn >= 15 and abs(drawn - held) <= 2, (drawn, held)
        d.save_screenshot(str(tmp / "dashboard-running.png"))

        # in-process the worker refuses stop and restart (409): the page does not offer them
        for a in ("restart", "stop"):
            b = connector(d, "gen").find_element(By.CSS_SELECTOR, f'button[data-action="{a}"]')
            assert not b.is_enabled() and "Kafka mode" in b.get_attribute("title"), a

        # a failed pipeline: FAILED and its trace
        wait("bad.full FAILED",
             lambda: connector(d, "bad.full").get_attribute("data-state") == "FAILED")
        c = connector(d, "bad.full")
        assert c.find_element(By.CSS_SELECTOR, ".state").text == "FAILED"
        trace = c.find_element(By.CSS_SELECTOR, "pre.trace")
        assert trace.is_displayed() and "/dev/full" in trace.text, trace.text

        # the topology: one drawing for the file, its pipelines and connectors
        nodes = d.find_elements(By.CSS_SELECTOR, "#topology .node[data-connector]")
        assert {n.get_attribute("data-connector") for n in nodes} == {
            "gen", "gen.out", "bad", "bad.full"}

        # pause: PAUSED, and the rate falls to zero; resume: back
        connector(d, "gen").find_element(By.CSS_SELECTOR, 'button[data-action="pause"]').click()
        wait("gen PAUSED", lambda: connector(d, "gen").get_attribute("data-state") == "PAUSED")
        assert connector(d, "gen").find_element(By.CSS_SELECTOR, ".state").text == "PAUSED"
        wait("the rate at zero", lambda: shown_rate(d, "gen") == 0, 20)
        assert stats(w)["gen"]["state"] == "PAUSED"
        d.save_screenshot(str(tmp / "dashboard-paused.png"))
        connector(d, "gen").find_element(By.CSS_SELECTOR, 'button[data-action="resume"]').click()
        wait("gen RUNNING again",
             lambda: connector(d, "gen").get_attribute("data-state") == "RUNNING")
        wait("the rate back", lambda: shown_rate(d, "gen") > 0.8 * RATE, 20)
        d.save_screenshot(str(tmp / "dashboard.png"))
        assert console_errors(d) == []
    finally:
        rc = w.stop()
    assert rc == 1, "the failed pipeline makes the run's exit code 1"


def test_tap_table_fills(sluice, tmp, browser):
    d = browser
    w = Worker(sluice, tmp, ui_yaml(tmp))
    try:
        d.get(w.url + "/ui")
        wait("the connectors in the tap's choice",
             lambda: "gen" in [o.get_attribute("value") for o in Select(
                 d.find_element(By.ID, "tap-connector")).options])
        Select(d.find_element(By.ID, "tap-connector")).select_by_value("gen")
        Select(d.find_element(By.ID, "tap-stage")).select_by_value("source")
        limit = d.find_element(By.ID, "tap-limit")
        limit.clear()
        limit.send_keys("20")
        d.find_element(By.ID, "tap-start").click()
        wait("20 rows in the tap's table", lambda: len(d.find_elements(
            By.CSS_SELECTOR, "#tap-table tbody tr")) == 20, 30)
        wait("the tap's end", lambda: "ended" in d.find_element(By.ID, "tap-status").text, 30)
        row = d.find_elements(By.CSS_SELECTOR, "#tap-table tbody tr")[0]
        cells = [td.text for td in row.find_elements(By.TAG_NAME, "td")]
        assert cells[1] == "gen", cells  # the topic
        assert "orderid" in cells[5], cells  # the value, as JSON
        d.save_screenshot(str(tmp / "dashboard-tap.png"))
        assert console_errors(d) == []
    finally:
        rc = w.stop()
    assert rc == 1, "the failed pipeline makes the run's exit code 1"


def test_dashboard_behind_basic_auth_and_tls(sluice, tmp, browser):
    """The listener's TLS and basic auth cover the page and everything it fetches: without the
    credentials /ui is 401 with a Basic challenge; with them (given once, in the address) the page
    shows the pipelines, its own requests authenticated by the browser; no error in the console."""
    key, cert = tmp / "key.pem", tmp / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=scaled(60))
    password = "pw-dashboard-secret"
    creds = tmp / "credentials.properties"
    creds.write_text(f"admin: {password}\n")
    creds.chmod(0o600)
    cfg = ui_yaml(tmp)
    cfg.write_text(cfg.read_text().replace("pipelines:\n", (
        f"rest.basic.auth.credentials.file: {creds}\n"
        f"listeners.https.ssl.certificate.location: {cert}\n"
        f"listeners.https.ssl.key.location: {key}\n"
        "pipelines:\n"), 1))
    w = Worker(sluice, tmp, cfg, "--listeners", "https://127.0.0.1:0")
    try:
        assert w.url.startswith("https://"), w.url
        ctx = ssl.create_default_context(cafile=str(cert))
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(w.url + "/ui", context=ctx, timeout=scaled(10))
        assert e.value.code == 401
        assert e.value.headers.get("WWW-Authenticate", "").startswith("Basic")
        host = w.url.split("://", 1)[1]
        # the browser trusts the certificate for this test only (--ignore-certificate-errors
        # would hide a TLS failure of the page's own requests too: none may fail)
        browser.execute_cdp_cmd("Security.setIgnoreCertificateErrors", {"ignore": True})
        browser.get(f"https://admin:{password}@{host}/ui")
        wait("gen RUNNING behind auth and TLS",
             lambda: connector(browser, "gen").get_attribute("data-state") == "RUNNING")
        wait("a rate behind auth and TLS", lambda: shown_rate(browser, "gen") > 0, 30)
        wait("the topology behind auth and TLS", lambda: len(browser.find_elements(
            By.CSS_SELECTOR, "#topology .node[data-connector]")) == 4)
        assert password not in browser.page_source
        assert console_errors(browser) == []
    finally:
        rc = w.stop()
    assert rc == 1, "the failed pipeline makes the run's exit code 1"
