"""ajp:// members (issue 8): drover in front of the fake AJP container
t/backend/ajp_backend.py. What the container received is reported back in the
JSON body, so the tests assert the FORWARD_REQUEST fields, the body packet
sequence and the response translation; the deliberate misbehaviours check the
502 path. Real Tomcat 10 is exercised in test_ajp_tomcat.py."""
import hashlib
import re
import socket
import time

import pytest

import drover as dr
from test_ajp_backend import AjpBackend


@pytest.fixture
def ajp(workdir):
    started = []

    def make(route="node1", **kw):
        b = AjpBackend(workdir, route, **kw)
        started.append(b)
        return b
    yield make
    for b in started:
        b.stop()


def start(drover, backends, member_keys="", balancer_keys=None, server=None, workers=1):
    members = ["ajp://127.0.0.1:%d route=%s %s" % (b.port, b.route, member_keys)
               for b in backends]
    bal = {"BalancerMember": members}
    if balancer_keys:
        bal["ProxySet"] = balancer_keys
    srv = {"ProxyPass": "/ balancer://tc/"}
    srv.update(server or {})
    return drover(global_={"WorkerProcesses": workers}, server=srv, balancers={"tc": bal})


def test_get_forward_request_fields(drover, ajp):
    b = ajp("node1")
    d = start(drover, [b])
    r = dr.request(d.port, "GET", "/app/info;x=1?a=1&b=%20", headers={
        "Host": "front.example:8443", "User-Agent": "t", "X-Custom": "v",
        "Connection": "keep-alive, X-Hop", "X-Hop": "gone", "Cookie": "c=1"})
    assert r.status == 200, r
    j = r.json()
    assert j["method"] == "GET" and j["method_code"] == 2
    assert j["protocol"] == "HTTP/1.1"
    assert j["uri"] == "/app/info;x=1"
    assert j["query"] == "a=1&b=%20"
    assert j["remote_addr"] == "127.0.0.1" and j["remote_host"] is None
    assert j["server_name"] == "front.example" and j["server_port"] == d.port  # the listener's
    assert j["is_ssl"] is False
    names = [n.lower() for n, _ in j["headers"]]
    assert "x-custom" in names and "x-hop" not in names and "connection" not in names
    assert dict(j["headers"])["host"] == "front.example:8443"
    assert {"host", "user-agent", "cookie"} <= set(j["coded_headers"])
    assert j["attributes"]["jvm_route"] == "node1"
    assert "secret" not in j["attributes"]
    req = j["attributes"]["req"]
    assert req["AJP_LOCAL_ADDR"] == "127.0.0.1" and int(req["AJP_REMOTE_PORT"]) > 0
    assert r.header("X-Backend") == "node1"
    assert r.header("Content-Length") == str(len(r.body))
    # No query: no query attribute at all.
    assert dr.request(d.port, "GET", "/x").json()["query"] is None


def test_methods_and_stored_method(drover, ajp):
    b = ajp()
    d = start(drover, [b])
    assert dr.request(d.port, "DELETE", "/x").json()["method_code"] == 6
    j = dr.request(d.port, "PATCH", "/x").json()
    assert j["method"] == "PATCH" and j["method_code"] == 0xFF
    r = dr.request(d.port, "HEAD", "/x")
    assert r.status == 200 and r.body == b""


def test_secret_sent(drover, ajp):
    b = ajp(secret="s3cr3t")
    d = start(drover, [b], "secret=s3cr3t")
    r = dr.request(d.port, "GET", "/x")
    assert r.status == 200
    assert r.json()["attributes"]["secret"] == "s3cr3t"


def test_wrong_secret_is_403_and_connection_closed(drover, ajp):
    """Tomcat answers a wrong secret with 403 and closes the connection: the client
    gets that 403 (drover does not turn it into a member failure)."""
    b = ajp(secret="right")
    d = start(drover, [b], "secret=wrong")
    with dr.Client(d.port) as c:
        r1 = c.request("GET", "/x")
        r2 = c.request("GET", "/x")
    assert r1.status == 403 and r2.status == 403
    assert "wrong or missing secret" in b.log_text()
    d.wait_error_log(r"member ajp://127\.0\.0\.1:%d answered 403 and closed the connection" % b.port)
    # reuse=0: each request had its own member connection.
    assert b.log_text().count("wrong or missing secret") == 2


def test_post_body_larger_than_a_packet(drover, ajp):
    b = ajp()
    d = start(drover, [b])
    body = dr.pattern(100 * 1024)
    r = dr.request(d.port, "POST", "/upload", body=body,
                   headers={"Content-Type": "application/octet-stream"})
    assert r.status == 200, r
    j = r.json()
    assert j["body_length"] == len(body)
    assert j["body_sha256"] == hashlib.sha256(body).hexdigest()
    # First packet unasked, then one GET_BODY_CHUNK per further packet (at most
    # 8186 data bytes each; a packet carries what the client has sent so far).
    assert j["body_packets"] >= -(-len(body) // 8186)
    assert j["get_body_chunks"] == j["body_packets"] - 1
    assert dict(j["headers"])["content-length"] == str(len(body))


def test_chunked_client_body(drover, ajp):
    b = ajp()
    d = start(drover, [b])
    pieces = [dr.pattern(30000)[i:i + 7000] for i in range(0, 30000, 7000)]
    r = dr.request(d.port, "POST", "/upload", body=iter(pieces))
    assert r.status == 200, r
    j = r.json()
    assert j["body_length"] == 30000 and j["body_pattern"]
    hdrs = {k.lower(): v for k, v in j["headers"]}
    assert "content-length" not in hdrs and hdrs["transfer-encoding"] == "chunked"
    # Every packet asked for, the last answer is the empty packet.
    assert j["get_body_chunks"] == j["body_packets"]
    assert j["body_packets"] >= 2


def test_empty_chunked_body(drover, ajp):
    d = start(drover, [ajp()])
    r = dr.request(d.port, "POST", "/upload", body=iter([]))
    assert r.status == 200
    j = r.json()
    assert j["body_length"] == 0 and j["body_packets"] == 1 and j["get_body_chunks"] == 1


def test_response_body_framing_and_backpressure(drover, ajp):
    b = ajp()
    d = start(drover, [b])
    n = 3 * 1024 * 1024
    # Content-Length from the container: relayed as is.
    with dr.StreamedRequest(d.port, "GET", "/size?n=%d" % n) as resp:
        assert resp.getheader("Content-Length") == str(n)
        chk = dr.PatternChecker()
        time.sleep(0.5)  # let drover hit its high watermark
        while True:
            data = resp.read(65536)
            if not data:
                break
            chk.feed(data)
        assert chk.length == n and chk.ok
    # Without a length: chunked to an HTTP/1.1 client (empty flush chunk skipped).
    r = dr.request(d.port, "GET", "/size?n=20000&nolength=1&flush=1")
    assert r.status == 200 and r.body == dr.pattern(20000)
    assert r.header("Transfer-Encoding") == "chunked"
    # ... and close-delimited to an HTTP/1.0 client.
    out = dr.raw(d.port, b"GET /size?n=20000&nolength=1 HTTP/1.0\r\nHost: x\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"Connection: close" in head
    assert body == dr.pattern(20000)


def test_connection_reuse_and_reuse_false(drover, ajp):
    b = ajp()
    d = start(drover, [b])
    with dr.Client(d.port) as c:
        ids = [c.request("GET", "/x").header("X-Conn-Id") for _ in range(3)]
        assert len(set(ids)) == 1  # pooled between requests
        r = c.request("GET", "/noreuse")
        assert r.status == 200 and r.header("X-Conn-Id") == ids[0]
        # END_RESPONSE reuse=0: the next request needs a new member connection.
        assert c.request("GET", "/x").header("X-Conn-Id") != ids[0]


def test_status_redirect_and_cookie_rewrites(drover, ajp):
    b = ajp()
    d = start(drover, [b], server={
        "ProxyPassReverse": "/ http://internal.example:8080/",
        "ProxyPassReverseCookieDomain": "internal.example public.example",
        "ProxyPassReverseCookiePath": "/app /"})
    r = dr.request(d.port, "GET", "/redirect?to=http://internal.example:8080/login",
                   headers={"Host": "front.example"})
    assert r.status == 302
    assert r.header("Location") == "http://front.example/login"
    r = dr.request(d.port, "GET", "/cookie?v=a%3D1%3B%20Domain%3Dinternal.example%3B%20Path%3D/app/x",
                   headers={"Cookie": "JSESSIONID=abc.node1"})
    assert "a=1; Domain=public.example; Path=/" in r.header_all("Set-Cookie")
    r = dr.request(d.port, "GET", "/status?code=204")
    assert r.status == 204 and r.body == b""
    r = dr.request(d.port, "GET", "/status?code=503")
    assert r.status == 503


@pytest.mark.parametrize("kind", ["magic", "oversize", "type", "nonul", "crlf", "trunc",
                                  "bodylen", "http", "status", "reuse"])
def test_malformed_packets_are_502(drover, ajp, kind):
    b = ajp()
    d = start(drover, [b])
    if kind in ("bodylen", "reuse"):
        # The head was fine and was sent: the client sees a cut response instead
        # (here the connection closes before the head is flushed).
        out = dr.raw(d.port, b"GET /bad?kind=%s HTTP/1.1\r\nHost: x\r\n\r\n" % kind.encode())
        assert out == b"" or (out.startswith(b"HTTP/1.1 200") and not out.endswith(b"0\r\n\r\n"))
    else:
        r = dr.request(d.port, "GET", "/bad?kind=%s" % kind)
        assert r.status == 502, r
    d.wait_error_log(r"balancer tc: member ajp://127\.0\.0\.1:%d" % b.port)
    # The member stays usable and the worker alive.
    assert dr.request(d.port, "GET", "/x").status == 200
    assert d.alive()


def test_bodylen_cuts_the_response(drover, ajp):
    b = ajp()
    d = start(drover, [b])
    out = dr.raw(d.port, b"GET /bad?kind=bodylen HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
    assert b"0\r\n\r\n" not in out  # never a complete chunked body
    d.wait_error_log(r"member ajp://127\.0\.0\.1:%d sent a malformed AJP packet" % b.port)


def test_oversized_with_larger_iobuffersize(drover, ajp):
    """iobuffersize=16384: 16 KiB packets are fine both ways."""
    b = ajp(packet_size=16384)
    d = start(drover, [b], "iobuffersize=16384")
    body = dr.pattern(50000)
    j = dr.request(d.port, "POST", "/upload", body=body).json()
    assert j["body_length"] == 50000 and j["body_pattern"]
    assert j["body_packets"] == -(-50000 // (16384 - 6))
    r = dr.request(d.port, "GET", "/size?n=100000")
    assert r.body == dr.pattern(100000)


def test_failover_on_connect_failure(drover, ajp):
    b = ajp("node2")
    dead = dr.free_port()
    d = drover(global_={"WorkerProcesses": 1}, server={"ProxyPass": "/ balancer://tc/"},
               balancers={"tc": {"BalancerMember": [
                   "ajp://127.0.0.1:%d route=node1" % dead,
                   "ajp://127.0.0.1:%d route=node2" % b.port]}})
    for _ in range(4):
        r = dr.request(d.port, "GET", "/x")
        assert r.status == 200 and r.header("X-Backend") == "node2"
    d.wait_error_log(r"connect to member ajp://127\.0\.0\.1:%d failed" % dead)


def test_sticky_by_cookie_and_path(drover, ajp):
    b1, b2 = ajp("node1"), ajp("node2")
    d = start(drover, [b1, b2], balancer_keys="stickysession=JSESSIONID|jsessionid")
    for route in ("node1", "node2", "node2", "node1"):
        r = dr.request(d.port, "GET", "/x", headers={"Cookie": "JSESSIONID=ABC.%s" % route})
        assert r.header("X-Backend") == route
        r = dr.request(d.port, "GET", "/x;jsessionid=ABC.%s" % route)
        assert r.header("X-Backend") == route
        assert r.json()["uri"] == "/x;jsessionid=ABC.%s" % route


def test_ping_cpong_before_requests(drover, ajp):
    b = ajp()
    d = start(drover, [b], "ping=2")
    with dr.Client(d.port) as c:
        for _ in range(3):
            assert c.request("GET", "/x").status == 200
    stats = dr.request(d.port, "GET", "/stats").json()
    assert stats["cpings"] >= 4


def test_ping_failure_fails_over(drover, ajp, workdir):
    """A member that accepts but never answers CPING is put in error; the request
    goes to the other member (no error for the client)."""
    mute = socket.socket()
    mute.bind(("127.0.0.1", 0))
    mute.listen(16)
    try:
        b = ajp("node2")
        d = drover(global_={"WorkerProcesses": 1}, server={"ProxyPass": "/ balancer://tc/"},
                   balancers={"tc": {"BalancerMember": [
                       "ajp://127.0.0.1:%d route=node1 ping=300ms" % mute.getsockname()[1],
                       "ajp://127.0.0.1:%d route=node2 ping=300ms" % b.port]}})
        for _ in range(3):
            r = dr.request(d.port, "GET", "/x")
            assert r.status == 200 and r.header("X-Backend") == "node2"
        d.wait_error_log(r"member ajp://127\.0\.0\.1:%d: CPING failed \(no CPONG within ping\)"
                         % mute.getsockname()[1])
    finally:
        mute.close()


def test_hcmethod_cping(drover, ajp):
    b1, b2 = ajp("node1"), ajp("node2")
    d = start(drover, [b1, b2], "hcmethod=CPING hcinterval=1")
    dr.wait_until(lambda: dr.request(d.port, "GET", "/stats").json()["cpings"] >= 1
                  if True else None, timeout=10, what="health-check CPING")
    b1.stop()
    # node1 fails its CPING check and is marked down: everything goes to node2.
    d.wait_error_log(r"health check: balancer tc member ajp://127\.0\.0\.1:%d failed" % b1.port,
                     timeout=10)
    for _ in range(4):
        assert dr.request(d.port, "GET", "/x").header("X-Backend") == "node2"


def test_member_timeout_is_504(drover, ajp):
    b = ajp()
    d = start(drover, [b], "timeout=1")
    r = dr.request(d.port, "GET", "/hang")
    assert r.status == 504


def test_config_keys_dump(drover, ajp, workdir):
    d = drover(start=False, server={"ProxyPass": "/ balancer://tc/"},
               balancers={"tc": {"BalancerMember":
                                 "ajp://127.0.0.1:8009 secret=x ping=500ms iobuffersize=20000 "
                                 "hcmethod=CPING"}})
    rc, out = d.test_config()
    assert rc == 0, out
    rc, out = d.test_config("-T")
    assert rc == 0, out
    assert re.search(r"ajp://127\.0\.0\.1:8009 .*secret=x ping=500ms\s+iobuffersize=20000", out), out
    assert "hcmethod=CPING" in out


def test_balancer_accounting(drover, ajp):
    """elected, busy and the byte counters move as for HTTP members."""
    b1, b2 = ajp("node1"), ajp("node2")
    d = start(drover, [b1, b2], server={"BalancerManager": "/balancer-manager"})
    body = dr.pattern(20000)
    for _ in range(3):
        assert dr.request(d.port, "POST", "/upload", body=body).status == 200
    for _ in range(3):
        assert dr.request(d.port, "GET", "/size?n=30000").status == 200
    j = dr.request(d.port, "GET", "/balancer-manager?format=json").json()
    members = j["balancers"][0]["members"]
    assert [m["elected"] for m in members] == [3, 3]
    assert [m["busy"] for m in members] == [0, 0]
    assert sum(m["bytes_out"] for m in members) > 3 * 20000
    assert sum(m["bytes_in"] for m in members) > 3 * 30000


def test_limit_request_body_chunked(drover, ajp):
    d = start(drover, [ajp()], server={"LimitRequestBody": "10000"})
    r = dr.request(d.port, "POST", "/upload", body=iter([dr.pattern(8000), dr.pattern(8000)]))
    assert r.status == 413
    assert dr.request(d.port, "POST", "/upload", body=iter([dr.pattern(5000)])).status == 200


def test_pipelined_requests(drover, ajp):
    b = ajp()
    d = start(drover, [b])
    reqs = (b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
            b"GET /size?n=10000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    resps, _ = dr.raw_exchange(d.port, reqs, responses=3)
    assert [r.status for r in resps] == [200, 200, 200]
    assert resps[1].json()["body"] == "hello"
    assert resps[2].body == dr.pattern(10000)


def test_header_name_that_would_read_as_a_coded_name_is_refused(drover, ajp):
    """A header name sent as a string starts with its length; one of 40,960 bytes or
    more starts with 0xA0nn, which the container reads as a coded name, and it would
    read the rest of the name as headers and attributes of the client's making.
    drover answers 500 and sends nothing; a name one byte shorter goes through."""
    b = ajp(packet_size=65536)
    d = start(drover, [b], "iobuffersize=65536", server={"LimitRequestFieldSize": 65536})
    r = dr.request(d.port, "GET", "/info", headers={"X" * 40960: "v"})
    assert r.status == 500, r
    d.wait_error_log(r"cannot send GET /info over AJP \(a request header name of 40960 bytes "
                     r"or more cannot be encoded\)")
    r = dr.request(d.port, "GET", "/info", headers={"X" * 40959: "v"})
    assert r.status == 200, r
    assert len(r.json()["headers"]) >= 1
