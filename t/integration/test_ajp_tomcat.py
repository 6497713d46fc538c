"""drover in front of two real Tomcat 10 instances (node1, node2), through
ajp:// members and, for comparison, http:// members to the same Tomcats: GET
and POST bodies larger than an AJP packet (Content-Length and chunked),
stickiness by JSESSIONID cookie and by ;jsessionid= path parameter, failover
when a Tomcat stops, and a wrong AJP secret. Tomcat is started once per module
(see tomcat.py); without the tomcat10 package these tests are skipped, never
passed. The failover test stops node1, so it runs last."""
import hashlib
import re

import pytest

import drover as dr
import tomcat as tc

SECRET = "drover-ajp-secret"


@pytest.fixture(scope="module")
def tomcats(tmp_path_factory):
    why = tc.unavailable()
    if why:
        pytest.skip("real Tomcat tests: " + why)
    base = tmp_path_factory.mktemp("tomcat")
    nodes = [tc.Tomcat(base / n, n, SECRET) for n in ("node1", "node2")]
    try:
        for t in nodes:
            t.start()
        deadline = tc.time.monotonic() + tc.START_TIMEOUT
        for t in nodes:
            t.wait_ready(deadline)
    except Exception:
        for t in nodes:
            print("[tomcat] %r log:\n%s" % (t, t.log_tail()))
            t.stop()
        raise
    yield nodes
    for t in nodes:
        t.stop()


def front(drover, nodes, scheme, secret=SECRET, workers=1):
    members = []
    for t in nodes:
        if scheme == "ajp":
            members.append("ajp://127.0.0.1:%d route=%s secret=%s" % (t.ajp_port, t.name, secret))
        else:
            members.append("http://127.0.0.1:%d route=%s" % (t.http_port, t.name))
    return drover(global_={"WorkerProcesses": workers},
                  server={"ProxyPass": "/ balancer://tc/"},
                  balancers={"tc": {"BalancerMember": members,
                                    "ProxySet": "stickysession=JSESSIONID|jsessionid"}})


def info(r):
    assert r.status == 200, r
    return tc.parse_info(r.body)


def session_cookie(r):
    for v in r.header_all("Set-Cookie"):
        m = re.match(r"JSESSIONID=([^;]+)", v)
        if m:
            return m.group(1)
    return None


@pytest.mark.parametrize("scheme", ["ajp", "http"])
def test_get_and_post_bodies(tomcats, drover, scheme):
    d = front(drover, tomcats, scheme)
    j = info(dr.request(d.port, "GET", "/info.jsp?a=1&b=2", headers={"Host": "front.example"}))
    assert j["node"] in ("node1", "node2")
    assert j["query"] == "a=1&b=2"
    assert j["server"] == ("front.example:80" if scheme == "ajp" else "127.0.0.1:%d"
                           % next(t.http_port for t in tomcats if t.name == j["node"]))
    assert j["remote"] == "127.0.0.1"
    body = dr.pattern(100 * 1024)
    digest = hashlib.sha256(body).hexdigest()
    j = info(dr.request(d.port, "POST", "/info.jsp", body=body,
                        headers={"Content-Type": "application/octet-stream"}))
    assert j["method"] == "POST" and j["length"] == str(len(body)) and j["sha256"] == digest
    # The same body chunked (AJP: no Content-Length, packets on request, empty packet at end).
    pieces = [body[i:i + 10000] for i in range(0, len(body), 10000)]
    j = info(dr.request(d.port, "POST", "/info.jsp", body=iter(pieces),
                        headers={"Content-Type": "application/octet-stream"}))
    assert j["length"] == str(len(body)) and j["sha256"] == digest
    # Keep-alive client, pooled member connections.
    with dr.Client(d.port) as c:
        for _ in range(5):
            assert info(c.request("GET", "/info.jsp"))["method"] == "GET"


@pytest.mark.parametrize("scheme", ["ajp", "http"])
def test_sticky_session_by_cookie_and_path(tomcats, drover, scheme):
    d = front(drover, tomcats, scheme)
    seen = set()
    for _ in range(4):
        r = dr.request(d.port, "GET", "/info.jsp")
        j = info(r)
        sid = session_cookie(r)
        assert sid and sid == j["session"] and sid.endswith("." + j["node"])
        seen.add(j["node"])
        # By cookie: the same node, the same session, the count goes up.
        for i in range(2, 5):
            k = info(dr.request(d.port, "GET", "/info.jsp",
                                headers={"Cookie": "JSESSIONID=%s" % sid}))
            assert (k["node"], k["session"], k["count"]) == (j["node"], sid, str(i))
        # By path parameter (Tomcat reads the session from the URL too).
        k = info(dr.request(d.port, "GET", "/info.jsp;jsessionid=%s?x=1" % sid))
        assert (k["node"], k["session"], k["count"], k["new"]) == (j["node"], sid, "5", "false")
    assert seen == {"node1", "node2"}  # new sessions are balanced


def test_wrong_secret(tomcats, drover):
    """Tomcat refuses a FORWARD_REQUEST with a wrong secret: it answers 403 and
    closes the connection. The client gets that 403 (what Apache's mod_proxy_ajp
    passes on too); drover's error log adds a warning that names the member and
    suggests the secret."""
    d = front(drover, tomcats, "ajp", secret="not-the-secret")
    r = dr.request(d.port, "GET", "/info.jsp")
    assert r.status == 403, r
    d.wait_access_log(r'"GET /info.jsp HTTP/1.1" 403 ')
    d.wait_error_log(r"balancer tc: member ajp://127\.0\.0\.1:\d+ answered 403 and closed "
                     r"the connection: a wrong or missing secret=")
    # Drover is fine: the right secret on the same Tomcats works.
    d2 = front(drover, tomcats, "ajp")
    assert info(dr.request(d2.port, "GET", "/info.jsp"))["node"] in ("node1", "node2")


def test_zz_failover_when_a_tomcat_stops(tomcats, drover):
    """Sessions on node1 (both front ends) fail over to node2 with no error when
    node1 stops: the member is put in error and the request goes to node2 (which
    starts a new session, as Tomcat without session replication does)."""
    fronts = {s: front(drover, tomcats, s) for s in ("ajp", "http")}
    sids = {}
    for s, d in fronts.items():
        for _ in range(6):
            r = dr.request(d.port, "GET", "/info.jsp")
            if info(r)["node"] == "node1":
                sids[s] = session_cookie(r)
                break
        assert s in sids, "no session landed on node1"
    node1 = next(t for t in tomcats if t.name == "node1")
    node1.stop()
    for s, d in fronts.items():
        for i in range(3):
            r = dr.request(d.port, "GET", "/info.jsp",
                           headers={"Cookie": "JSESSIONID=%s" % sids[s]})
            j = info(r)  # 200: no error reaches the client
            assert j["node"] == "node2"
        d.wait_error_log(r"balancer tc: .*member %s://127\.0\.0\.1:%d failed" % (
            s, node1.ajp_port if s == "ajp" else node1.http_port))
