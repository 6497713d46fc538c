"""The balancer-manager page in a real browser (issue 6): headless Chromium driven by
Selenium (Debian's chromium, chromium-driver and python3-selenium) opens the page,
opens a member's Edit <details>, ticks Disabled and saves; the JSON then shows the
member disabled and traffic avoids it. Then, without a reload, the page's script
(it polls ?format=json every 2 s) must bring the page's counters and status badges
up to date with what the proxy did meanwhile.

Skipped, with the reason, when chromium, chromedriver or selenium is missing
(tools/install-deps.sh installs all three, so CI runs it).
"""
import inspect
import shutil

import pytest

import drover as dr

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
WAIT = 10  # seconds for any one browser-side condition


def _find_browser():
    try:
        import selenium  # noqa: F401
        from selenium import webdriver  # noqa: F401
    except ImportError as e:
        return None, None, "python3-selenium is not installed (%s)" % e
    browser = next((shutil.which(n) for n in CHROMIUM_NAMES if shutil.which(n)), None)
    driver = shutil.which("chromedriver")
    if browser is None:
        return None, None, "chromium is not installed"
    if driver is None:
        return None, None, "chromedriver is not installed (Debian package chromium-driver)"
    return browser, driver, None


@pytest.fixture
def browser(workdir):
    path, driver_path, why = _find_browser()
    if why:
        pytest.skip(why + ": apt-get install chromium chromium-driver python3-selenium "
                    "(tools/install-deps.sh does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = path
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--no-first-run", "--no-default-browser-check", "--disable-extensions",
              "--user-data-dir=%s" % (workdir / "chromium-profile"),
              "--window-size=1600,1000"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # Selenium >= 4.11 names the log argument log_output (Debian 12 has 4.8: log_path).
    log_arg = "log_output" if "log_output" in inspect.signature(Service).parameters \
        else "log_path"
    service = Service(executable_path=driver_path, **{log_arg: str(workdir / "chromedriver.log")})
    drv = webdriver.Chrome(service=service, options=opts)
    try:
        drv.set_page_load_timeout(20)
        drv.set_script_timeout(10)
        yield drv
    finally:
        drv.quit()


def manager_json(d):
    r = dr.request(d.port, "GET", "/balancer-manager?format=json")
    assert r.status == 200, r
    return r.json()


def member(j, route):
    return next(m for m in j["balancers"][0]["members"] if m["route"] == route)


def wait_browser(drv, pred, what, timeout=WAIT):
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(drv, timeout, poll_frequency=0.1).until(lambda _d: pred())
    except Exception as e:  # TimeoutException, or a stale element on a reload
        raise AssertionError("browser: timed out after %ss waiting for %s (%r)"
                             % (timeout, what, e)) from None


def test_disable_member_in_the_browser(drover, backend, browser):
    from selenium.webdriver.common.by import By

    def page_text(row_id, key):
        return browser.find_element(By.CSS_SELECTOR, '#%s [data-k="%s"]' % (row_id, key)).text

    a, b = backend("A"), backend("B")
    d = drover(global_={"WorkerProcesses": "2"},
               server={"BalancerManager": "/balancer-manager", "ProxyPass": "/ balancer://c/"},
               balancers={"c": {"BalancerMember": ["%s route=a" % a.url, "%s route=b" % b.url]}})
    got = [dr.request(d.port, "GET", "/x").header("X-Backend") for _ in range(4)]
    assert sorted(got) == ["A", "A", "B", "B"]

    page = "http://%s:%d/balancer-manager" % (dr.LOOPBACK, d.port)
    browser.get(page)
    assert "balancer-manager" in browser.title, browser.title
    idx = member(manager_json(d), "a")["index"]
    row = browser.find_element(By.ID, "m-0-%d" % idx)
    assert row.get_attribute("data-url") == a.url
    form = browser.find_element(By.CSS_SELECTOR, "form#edit-0-%d" % idx)
    details = row.find_element(By.TAG_NAME, "details")
    box = form.find_element(By.CSS_SELECTOR, 'input[type=checkbox][name="w_status_D"]')
    # Selenium 4.8's is_displayed() does not see into a closed <details>; ask the page.
    def visible(el):
        return browser.execute_script("return arguments[0].checkVisibility();", el)

    assert details.get_attribute("open") is None
    assert not visible(box)  # inside the closed <details>
    details.find_element(By.TAG_NAME, "summary").click()
    wait_browser(browser, lambda: visible(box), "the Edit form to open")
    assert details.get_attribute("open") is not None
    assert not box.is_selected()
    box.click()
    assert box.is_selected()
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    # Post/Redirect/Get: back on the page with a confirmation.
    wait_browser(browser, lambda: "done=edit" in browser.current_url, "the redirect after Save")
    notice = browser.find_element(By.CSS_SELECTOR, "p.notice").text
    assert notice == "Saved member %s of balancer c." % a.url, notice

    # The JSON agrees, and traffic avoids the member in both workers.
    ma = member(manager_json(d), "a")
    assert "D" in ma["status"] and "Dis" in ma["flags"] and not ma["usable"], ma
    assert member(manager_json(d), "b")["usable"]
    got = [dr.request(d.port, "GET", "/x").header("X-Backend") for _ in range(20)]
    assert got == ["B"] * 20, got

    # The page refreshes itself: mark this document, then change things behind its
    # back (traffic; member a re-enabled through the API) and wait for the page to
    # show them. The marker proves that it was not reloaded.
    # (The browser's own requests, e.g. for /favicon.ico, also go through the
    # proxy: the page is compared with the JSON of the moment, not a fixed count.)
    browser.execute_script("window.__droverMarker = 42;")
    row_b = "m-0-%d" % member(manager_json(d), "b")["index"]
    row_a = "m-0-%d" % idx
    shown_before = page_text(row_b, "elected")
    for _ in range(7):
        dr.request(d.port, "GET", "/x")
    nonce = manager_json(d)["nonce"]
    r = dr.request(d.port, "PUT", "/balancer-manager/api/c/members/a",
                   headers={"Content-Type": "application/json", "X-Drover-Nonce": nonce},
                   body=b'{"status": "-D"}')
    assert r.status == 200, r

    def b_elected_current():
        shown = page_text(row_b, "elected")
        return shown != shown_before and shown == str(member(manager_json(d), "b")["elected"])

    wait_browser(browser, b_elected_current,
                 "member b's Elected to follow the JSON (page showed %s before)" % shown_before)
    wait_browser(browser, lambda: "Ok" in page_text(row_a, "status").split(),
                 "member a's status badges to show Ok again")
    assert "Dis" not in page_text(row_a, "status").split()
    assert "down" not in (browser.find_element(By.ID, row_a).get_attribute("class") or "")
    assert browser.execute_script("return window.__droverMarker;") == 42
    assert browser.find_element(By.ID, "updated").text.startswith("updated ")
    # The closed form followed the change; nothing was logged as a failure.
    assert not browser.find_element(
        By.CSS_SELECTOR, '#edit-0-%d input[type=checkbox][name="w_status_D"]' % idx).is_selected()
    try:
        logs = browser.get_log("browser")
    except Exception:  # noqa: BLE001  (a driver without the log endpoint)
        logs = []
    errors = [e for e in logs if e.get("level") == "SEVERE" and "favicon" not in e.get("message", "")]
    assert not errors, errors  # e.g. a CSP refusal of the page's script
