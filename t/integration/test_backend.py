"""drover-backend on its own: every endpoint, keep-alive, pipelining, bodies and the
misbehaviours the proxy tests rely on."""
import signal
import socket
import subprocess
import threading
import time
import urllib.parse

import pytest

import drover as dr


def q(s):
    return urllib.parse.quote(s, safe="")


def test_starts_with_port_file_and_stdout(backend):
    b = backend("A")
    assert 0 < b.port < 65536
    line = dr.wait_until(lambda: b.log_text().strip(), what="stdout line")
    assert line == "listening on 127.0.0.1:%d" % b.port


def test_default_answer_names_the_backend(backend):
    b = backend("alpha")
    r = dr.request(b.port, "GET", "/anything/at/all?x=1")
    assert r.status == 200
    assert r.body == b"alpha\n"
    assert r.header("X-Backend") == "alpha"
    assert r.header("Content-Type") == "text/plain"
    assert r.header("Content-Length") == "6"
    assert r.header("X-Request-Count") == "1"
    assert int(r.header("X-Conn-Id")) >= 1


def test_keepalive_reuses_one_connection(backend):
    b = backend("A")
    with dr.Client(b.port) as c:
        rs = [c.request("GET", "/k%d" % i) for i in range(20)]
    assert {r.header("X-Conn-Id") for r in rs} == {rs[0].header("X-Conn-Id")}
    assert [int(r.header("X-Request-Count")) for r in rs] == list(range(1, 21))
    other = dr.request(b.port, "GET", "/")
    assert other.header("X-Conn-Id") != rs[0].header("X-Conn-Id")
    assert other.header("X-Request-Count") == "1"


def test_pipelined_requests_answered_in_order(backend):
    b = backend("P")
    reqs = (b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
            b"HEAD /size?n=10 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /echo?p=3 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
            b"GET /size?n=70000&chunked=1 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    heads = [False, True, False, False, False]
    data = dr.raw(b.port, reqs, timeout=10, head_methods=heads)
    rs, rest = dr.parse_responses(data, head_methods=heads)
    assert rest == b""
    assert [r.status for r in rs] == [200] * 5
    assert [r.header("X-Request-Count") for r in rs] == ["1", "2", "3", "4", "5"]
    assert len({r.header("X-Conn-Id") for r in rs}) == 1
    assert rs[0].body == b"P\n"
    assert rs[1].header("Content-Length") == "10" and rs[1].body == b""
    assert rs[2].json()["target"] == "/echo?p=3" and rs[2].json()["body"] == "abc"
    assert rs[3].body == dr.pattern(70000)
    assert rs[4].header("Connection") == "close" and rs[4].body == b"P\n"


def test_pipelined_requests_split_at_every_byte(backend):
    b = backend("S")
    reqs = (b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n0\r\n\r\n"
            b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
    for cut in range(1, len(reqs), 7):
        rs, _ = dr.raw_exchange(b.port, b"", timeout=5, responses=2,
                                chunks=[reqs[:cut], reqs[cut:]], delay=0.002)
        assert [r.status for r in rs] == [200, 200], cut
        assert rs[0].json()["bytes"] == 3
        assert rs[1].body == b"S\n"


def test_echo_reports_request_exactly(backend):
    b = backend("E")
    body = b"hello \xff world"
    r = dr.request(b.port, "POST", "/app/echo?a=1&b=%20", body=body,
                   headers=[("X-One", "1"), ("X-Two", " two "), ("x-one", "again")])
    assert r.status == 200
    assert r.header("Content-Type") == "application/json"
    j = r.json()
    assert j["backend"] == "E"
    assert j["method"] == "POST"
    assert j["target"] == "/app/echo?a=1&b=%20"
    assert j["path"] == "/app/echo"
    assert j["query"] == "a=1&b=%20"
    assert j["version"] == "HTTP/1.1"
    names = [h[0] for h in j["headers"]]
    assert names == ["Host", "X-One", "X-Two", "x-one", "Content-Length"]
    assert j["headers"][2] == ["X-Two", "two"]
    assert j["body_length"] == len(body)
    assert j["body_fnv"] == dr.fnv1a64(body)
    assert j["body"].encode("latin-1") == body
    assert j["chunked"] is False
    assert j["peer"].startswith("127.0.0.1:")


def test_echo_chunked_body_and_trailers(backend):
    b = backend("E")
    req = (b"POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
    rs, _ = dr.raw_exchange(b.port, req, responses=1)
    j = rs[0].json()
    assert j["body"] == "hello world"
    assert j["body_length"] == 11
    assert j["chunked"] is True
    assert j["trailers"] == ["X-Trailer: t"]


def test_echo_raw_returns_head_and_body_bytes(backend):
    b = backend("R")
    req = (b"POST /echo?raw=1 HTTP/1.1\r\nHost: h\r\nX-Weird:   spaced  \r\n"
           b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    rs, _ = dr.raw_exchange(b.port, req, responses=1)
    assert rs[0].status == 200
    assert rs[0].body == req


def test_size_content_length_and_chunked(backend):
    b = backend("Z")
    for n in (0, 1, 65535, 65536, 65537, 1000003):
        r = dr.request(b.port, "GET", "/size?n=%d" % n)
        assert r.header("Content-Length") == str(n)
        assert r.body == dr.pattern(n)
        r = dr.request(b.port, "GET", "/size?n=%d&chunked=1" % n)
        assert r.header("Transfer-Encoding") == "chunked"
        assert r.header("Content-Length") is None
        assert r.body == dr.pattern(n)
    data = dr.raw(b.port, b"GET /size?n=200000&eof=1 HTTP/1.1\r\nHost: h\r\n\r\n", timeout=5)
    rs, _ = dr.parse_responses(data)
    assert rs[0].header("Content-Length") is None and rs[0].header("Transfer-Encoding") is None
    assert rs[0].header("Connection") == "close" and rs[0].body == dr.pattern(200000)
    data = dr.raw(b.port, b"GET /size?n=1000&chunked=1 HTTP/1.0\r\n\r\n", timeout=5)
    rs, _ = dr.parse_responses(data)
    assert rs[0].header("Transfer-Encoding") is None and rs[0].body == dr.pattern(1000)
    r = dr.request(b.port, "HEAD", "/size?n=12345")
    assert r.status == 200 and r.header("Content-Length") == "12345" and r.body == b""


def test_pattern_helper_matches_formula():
    data = dr.pattern(300000)
    assert all(data[i] == (31 * i + 7 + (i >> 16)) & 0xFF for i in range(0, 300000, 997))
    assert dr.pattern(1000, 130000) == data[130000:131000]


def test_size_streams_with_backpressure(backend):
    b = backend("BIG")
    n = 256 << 20
    before = dr.vmrss_kib(b.pid)
    got = 0
    with dr.StreamedRequest(b.port, "GET", "/size?n=%d" % n) as resp:
        assert resp.status == 200
        check = dr.PatternChecker()
        while got < (8 << 20):
            piece = resp.read(65536)
            check.feed(piece)
            got += len(piece)
        assert check.ok
        # The client stops reading: the backend must not queue the other ~248 MiB.
        peak = dr.vmrss_kib(b.pid)
    assert peak - before < 16 * 1024, (before, peak)
    assert b.alive()


def test_upload_content_length_and_chunked(backend):
    b = backend("U")
    r = dr.request(b.port, "POST", "/upload", body=b"abc")
    assert r.json() == {"bytes": 3, "fnv": dr.fnv1a64(b"abc"), "pattern": False,
                        "chunked": False}
    n = 3 * 1024 * 1024 + 17
    r = dr.request(b.port, "PUT", "/x/upload", body=dr.pattern_chunks(n, 100000))
    j = r.json()
    assert j["bytes"] == n and j["pattern"] is True and j["chunked"] is True
    r = dr.request(b.port, "POST", "/upload", body=dr.pattern(n))
    assert r.json()["pattern"] is True and r.json()["bytes"] == n
    assert r.json()["fnv"] == j["fnv"]
    r = dr.request(b.port, "POST", "/upload", body=b"")
    assert r.json()["bytes"] == 0


def test_expect_100_continue(backend):
    b = backend("C")
    with socket.create_connection(("127.0.0.1", b.port), timeout=5) as s:
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        got = b""
        while b"\r\n\r\n" not in got:
            got += s.recv(4096)
        assert got.startswith(b"HTTP/1.1 100 Continue\r\n")
        s.sendall(b"body")
        rest = got.split(b"\r\n\r\n", 1)[1]
        while b"}" not in rest:
            rest += s.recv(4096)
        assert b'"bytes": 4' in rest


def test_redirect_cookie_header(backend):
    b = backend("H")
    r = dr.request(b.port, "GET", "/redirect?to=%s" % q("http://127.0.0.1:%d/login?a=b" % b.port))
    assert r.status == 302
    assert r.header("Location") == "http://127.0.0.1:%d/login?a=b" % b.port
    r = dr.request(b.port, "GET", "/redirect?status=301&to=/x")
    assert r.status == 301 and r.header("Location") == "/x"
    r = dr.request(b.port, "GET", "/cookie?v=%s&v=%s" % (q("s=1; Domain=192.168.1.50; Path=/a"),
                                                         q("t=2")))
    assert r.header_all("Set-Cookie") == ["s=1; Domain=192.168.1.50; Path=/a", "t=2"]
    r = dr.request(b.port, "GET", "/header?name=Content-Location&value=%s&name=X-A&value=%s"
                   % (q("http://h/c"), q("a b&c+d")))
    assert r.header("Content-Location") == "http://h/c"
    assert r.header("X-A") == "a b&c+d"
    r = dr.request(b.port, "HEAD", "/cookie?v=a%3Db")
    assert r.header("Set-Cookie") == "a=b" and r.body == b""


def test_slow_and_slowbody(backend):
    b = backend("W")
    t0 = time.monotonic()
    r = dr.request(b.port, "GET", "/slow?ms=300")
    assert r.status == 200 and r.body == b"W\n"
    assert time.monotonic() - t0 >= 0.29
    with socket.create_connection(("127.0.0.1", b.port), timeout=5) as s:
        t0 = time.monotonic()
        s.sendall(b"GET /slowbody?ms=600&n=10 HTTP/1.1\r\nHost: h\r\n\r\n")
        got = b""
        while b"\r\n\r\n" not in got:
            got += s.recv(4096)
        t_head = time.monotonic() - t0
        head, _, body = got.partition(b"\r\n\r\n")
        assert b"Content-Length: 10" in head
        while len(body) < 10:
            body += s.recv(4096)
        t_body = time.monotonic() - t0
    assert body == dr.pattern(10)
    assert t_head < 0.5 and t_body >= 0.59, (t_head, t_body)


def test_status_codes(backend):
    b = backend("S")
    for code in (200, 201, 404, 500, 502, 503):
        r = dr.request(b.port, "GET", "/status?code=%d" % code)
        assert r.status == code and r.body == b"S\n"
    rs, _ = dr.raw_exchange(b.port, b"GET /status?code=204 HTTP/1.1\r\nHost: h\r\n\r\n"
                            b"GET /status?code=304 HTTP/1.1\r\nHost: h\r\n\r\n"
                            b"GET /status?code=103 HTTP/1.1\r\nHost: h\r\n\r\n", responses=3)
    assert [r.status for r in rs] == [204, 304, 200]
    assert rs[0].header("Content-Length") is None and rs[0].body == b""
    data = dr.raw(b.port, b"GET /status?code=103 HTTP/1.1\r\nHost: h\r\n\r\n", responses=1)
    all_rs, _ = dr.parse_responses(data)
    assert [r.status for r in all_rs] == [103, 200]


def test_stats_counts(backend):
    b = backend("T")
    s0 = b.stats()
    with dr.Client(b.port) as c:
        for _ in range(3):
            c.request("GET", "/")
        s1 = b.stats()  # measured while the client connection is still open
    assert s1["requests"] - s0["requests"] == 4
    assert s1["connections"] - s0["connections"] == 2
    assert s1["open"] == 2
    assert s1["active"] == 0
    dr.wait_until(lambda: b.stats()["open"] == 1, what="closed connections to be counted")
    result = {}
    t = threading.Thread(target=lambda: result.update(r=dr.request(b.port, "GET", "/slow?ms=300")))
    t.start()
    try:
        dr.wait_until(lambda: b.stats()["active"] == 1, what="the slow request to be active")
    finally:
        t.join(10)
    assert result["r"].status == 200
    assert b.stats()["active"] == 0


def test_close_garbage_reset_hang_trunc(backend):
    b = backend("M")
    assert dr.raw(b.port, b"GET /close HTTP/1.1\r\nHost: h\r\n\r\n", timeout=5) == b""
    g = dr.raw(b.port, b"GET /garbage HTTP/1.1\r\nHost: h\r\n\r\n", timeout=5)
    assert g and not g.startswith(b"HTTP/")
    with socket.create_connection(("127.0.0.1", b.port), timeout=5) as s:
        s.sendall(b"GET /reset HTTP/1.1\r\nHost: h\r\n\r\n")
        with pytest.raises(ConnectionResetError):
            while s.recv(4096):
                pass
            raise AssertionError("got a FIN, not a RST")
    t0 = time.monotonic()
    assert dr.raw(b.port, b"GET /hang HTTP/1.1\r\nHost: h\r\n\r\n", timeout=0.5) == b""
    assert time.monotonic() - t0 >= 0.45
    data = dr.raw(b.port, b"GET /trunc?n=1000 HTTP/1.1\r\nHost: h\r\n\r\n", timeout=5)
    rs, _ = dr.parse_responses(data)
    assert rs[0].header("Content-Length") == "1000"
    assert rs[0].complete is False and rs[0].body == dr.pattern(500)
    # /raw: verbatim bytes, then close
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"
    assert dr.raw(b.port, b"GET /raw?data=%s HTTP/1.1\r\nHost: h\r\n\r\n"
                  % q(resp.decode()).encode(), timeout=5) == resp
    assert b.alive()


def test_http10_and_connection_close(backend):
    b = backend("V")
    data = dr.raw(b.port, b"GET / HTTP/1.0\r\n\r\n", timeout=5)
    rs, _ = dr.parse_responses(data)
    assert rs[0].header("Connection") == "close" and rs[0].body == b"V\n"
    rs, _ = dr.raw_exchange(b.port, b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                            b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", responses=2)
    assert [r.header("Connection") for r in rs] == ["keep-alive", "keep-alive"]
    assert rs[1].header("X-Request-Count") == "2"
    # close=1 on any endpoint
    data = dr.raw(b.port, b"GET /echo?close=1 HTTP/1.1\r\nHost: h\r\n\r\n", timeout=5)
    rs, _ = dr.parse_responses(data)
    assert rs[0].header("Connection") == "close" and rs[0].json()["method"] == "GET"


def test_half_closed_client_still_gets_answer(backend):
    b = backend("F")
    data = dr.raw(b.port, b"GET /size?n=300000 HTTP/1.1\r\nHost: h\r\n\r\n", timeout=5,
                  shutdown_write=True)
    rs, _ = dr.parse_responses(data)
    assert rs[0].status == 200 and rs[0].body == dr.pattern(300000)


def test_bad_requests_get_400_and_close(backend):
    b = backend("B")
    for req, code in ((b"NONSENSE\r\n\r\n", 400),
                      (b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n", 400),
                      (b"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
                      (b"GET / HTTP/1.1\r\nHost: h\r\nX-" + b"a" * 70000 + b"\r\n\r\n", 431)):
        data = dr.raw(b.port, req, timeout=5)
        rs, _ = dr.parse_responses(data)
        assert rs[0].status == code
        assert rs[0].header("Connection") == "close"
    assert b.alive()


def test_sigterm_exits_zero(backend):
    b = backend("X")
    b.proc.send_signal(signal.SIGTERM)
    assert b.proc.wait(10) == 0
    b2 = backend("Y")
    b2.proc.send_signal(signal.SIGINT)
    assert b2.proc.wait(10) == 0


def test_multi_process_mode(backend):
    b = backend("MP", procs=2)
    ids = set()
    for _ in range(10):
        r = dr.request(b.port, "GET", "/")
        assert r.body == b"MP\n"
        ids.add(r.header("X-Conn-Id"))
    dr.wait_until(lambda: len(dr.children_of(b.pid)) == 2, what="2 backend processes")
    b.proc.send_signal(signal.SIGTERM)
    assert b.proc.wait(10) == 0


def test_ipv6_loopback(backend):
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError as e:
        pytest.skip("no IPv6 loopback here: %s" % e)
    b = backend("six", host="::1")
    r = dr.request(b.port, "GET", "/echo", host="::1")
    assert r.json()["peer"].startswith("[::1]:")


def test_bad_command_line_exit_1(workdir):
    p = subprocess.run([str(dr.BACKEND), "--listen", "nonsense", "--name", "x"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
    assert p.returncode == 1 and b"--listen" in p.stdout
    port = dr.free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen(1)
        p = subprocess.run([str(dr.BACKEND), "--listen", "127.0.0.1:%d" % port, "--name", "x"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
    assert p.returncode == 2 and b"bind" in p.stdout
