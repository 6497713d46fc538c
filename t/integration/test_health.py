"""Active health checks through the real binary (issue 6, part 3): the master forks one
health-check process when a member has hcmethod; a member whose health URL starts failing
is taken out within hcinterval x hcfails and comes back after hcpasses, which clients see
as the distribution of their requests (X-Backend) and operators in the error log.

The member under test is a small Python server whose /health answer the test switches;
all its other paths answer 200, so only the health check can take it out of rotation.
hcinterval=1 (the config's minimum) keeps each test at a few seconds.
"""
import http.server
import re
import threading
import time

import pytest

import drover as dr

WORKERS = 2
HC = "hcinterval=1 hcfails=2 hcpasses=2"
SLACK = 2.5  # seconds on top of hcinterval x hcfails (or x hcpasses)


class SwitchableBackend:
    """An HTTP/1.1 server on loopback in a thread: GET/HEAD/OPTIONS /health answer
    .health (switchable at any time), every other path 200 `NAME\\n`; every answer
    carries X-Backend: NAME. .health_hits counts health checks received."""

    def __init__(self, name):
        self.name = name
        self.health = 200
        self.health_hits = 0
        self.server = None
        self.thread = None

    @property
    def port(self):
        return self.server.server_address[1]

    @property
    def url(self):
        return "http://%s:%d" % (dr.LOOPBACK, self.port)

    def start(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self, body_allowed=True):
                if self.path.split("?")[0] == "/health":
                    owner.health_hits += 1
                    status = owner.health
                else:
                    status = 200
                body = ("%s\n" % owner.name).encode()
                self.send_response(status)
                self.send_header("X-Backend", owner.name)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body_allowed:
                    self.wfile.write(body)

            def do_GET(self):
                self._answer()

            def do_OPTIONS(self):
                self._answer()

            def do_HEAD(self):
                self._answer(body_allowed=False)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((dr.LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def switchable():
    made = []

    def make(name):
        b = SwitchableBackend(name).start()
        made.append(b)
        return b

    yield make
    for b in made:
        b.stop()


def cluster(drover, members):
    return drover(global_={"WorkerProcesses": WORKERS},
                  server={"ProxyPassMatch": "^(/.*)$ balancer://mycluster$1"},
                  balancers={"mycluster": {"BalancerMember": members}})


def require_checker(d):
    """The master forks WorkerProcesses workers plus one health checker."""
    d.wait_workers(WORKERS + 1, timeout=10)


def who(d, path="/"):
    r = dr.request(d.port, "GET", path)
    assert r.status == 200, r
    return r.header("X-Backend")


def names(d, n):
    return [who(d, "/r%d" % i) for i in range(n)]


def wait_log(d, regex, since, budget):
    """Waits for an error-log line; returns the seconds from `since` until it was seen."""
    d.wait_error_log(regex, timeout=budget + 5)
    return time.monotonic() - since


def test_failing_health_url_takes_member_out_and_back(drover, backend, switchable):
    a = backend("A")
    b = switchable("B")
    d = cluster(drover, [
        "%s route=a hcmethod=GET hcuri=/status?code=200 %s" % (a.url, HC),
        "%s route=b hcmethod=GET hcuri=/health %s" % (b.url, HC),
    ])
    require_checker(d)
    dr.wait_until(lambda: b.health_hits > 0, 3, what="a health check at B")
    # Both healthy: byrequests alternates.
    assert sorted(set(names(d, 6))) == ["A", "B"]

    # B's health URL starts failing: C within hcinterval x hcfails (+ slack).
    b.health = 500
    t0 = time.monotonic()
    took = wait_log(d, r"health check: balancer mycluster member %s failed 2 times "
                       r"\(status 500\), marked down" % re.escape(b.url), t0, 1 * 2 + SLACK)
    assert took <= 1 * 2 + SLACK, took
    # Requests avoid B in every worker, though B itself still answers them with 200.
    assert names(d, 12) == ["A"] * 12
    assert "marked down" not in "".join(
        line for line in d.error_log().splitlines() if a.url in line)

    # Healthy again: back after hcpasses passes in a row.
    b.health = 200
    t1 = time.monotonic()
    took = wait_log(d, r"health check: balancer mycluster member %s passed 2 times, "
                       r"marked up" % re.escape(b.url), t1, 1 * 2 + SLACK)
    assert took <= 1 * 2 + SLACK, took
    assert "B" in names(d, 6)


def test_member_down_from_the_start_never_gets_traffic(drover, backend):
    a, b = backend("A"), backend("B")
    d = cluster(drover, [
        "%s hcmethod=HEAD hcuri=/status?code=200 %s" % (a.url, HC),
        "%s hcmethod=GET hcuri=/status?code=500 hcinterval=1 hcfails=1" % b.url,
    ])
    require_checker(d)
    d.wait_error_log(r"member %s failed 1 times \(status 500\), marked down" % re.escape(b.url),
                     timeout=1 + SLACK + 5)
    assert names(d, 10) == ["A"] * 10


def test_tcp_check_follows_a_stopped_and_restarted_backend(drover, backend):
    a, b = backend("A"), backend("B")
    d = cluster(drover, [
        "%s hcmethod=TCP %s" % (a.url, HC),
        "%s hcmethod=TCP hcinterval=1 hcfails=1 hcpasses=1" % b.url,
    ])
    require_checker(d)
    assert sorted(set(names(d, 4))) == ["A", "B"]
    port = b.port
    b.stop()
    t0 = time.monotonic()
    took = wait_log(d, r"member %s failed 1 times \(connect\(\) failed \(111: "
                       % re.escape(b.url), t0, 1 + SLACK)
    assert took <= 1 + SLACK, took
    assert names(d, 6) == ["A"] * 6
    b.start(port=port)
    t1 = time.monotonic()
    took = wait_log(d, r"member %s passed 1 times, marked up" % re.escape(b.url), t1, 1 + SLACK)
    assert took <= 1 + SLACK, took
    assert "B" in names(d, 4)
