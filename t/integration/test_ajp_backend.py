"""t/backend/ajp_backend.py on its own, spoken to with drover's AJP13 wire format
(src/ajp/encoder.h) written out in Python: CPING, FORWARD_REQUEST with coded
headers and attributes, request bodies the Tomcat way, secrets, sessions,
persistent connections and the deliberate misbehaviours."""
import hashlib
import json
import os
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import drover as dr

AJP_BACKEND = Path(__file__).resolve().parent.parent / "backend" / "ajp_backend.py"

REQ_CODES = {n: 0xA001 + i for i, n in enumerate(
    ["accept", "accept-charset", "accept-encoding", "accept-language", "authorization",
     "connection", "content-type", "content-length", "cookie", "cookie2", "host", "pragma",
     "referer", "user-agent"])}
METHODS = {n: i + 1 for i, n in enumerate(
    ["OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "PROPFIND", "PROPPATCH",
     "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "ACL", "REPORT", "VERSION-CONTROL", "CHECKIN",
     "CHECKOUT", "UNCHECKOUT", "SEARCH", "MKWORKSPACE", "UPDATE", "LABEL", "MERGE",
     "BASELINE-CONTROL", "MKACTIVITY"])}
RESP_NAMES = ["Content-Type", "Content-Language", "Content-Length", "Date", "Last-Modified",
              "Location", "Set-Cookie", "Set-Cookie2", "Servlet-Engine", "Status",
              "WWW-Authenticate"]


# ------------------------------------------------------------------ the wire format

def s(v):
    if v is None:
        return b"\xff\xff"
    v = v.encode("latin-1") if isinstance(v, str) else v
    return struct.pack(">H", len(v)) + v + b"\0"


def forward_request(method="GET", uri="/", headers=(), query=None, remote_addr="127.0.0.1",
                    remote_host=None, server_name="localhost", server_port=80, is_ssl=False,
                    secret=None, jvm_route=None, req_attributes=(), max_packet=8192):
    """The bytes EncodeForwardRequest() writes (see src/ajp/encoder.h)."""
    code = METHODS.get(method, 0xFF)
    out = [b"\x02", bytes([code]), s("HTTP/1.1"), s(uri), s(remote_addr), s(remote_host),
           s(server_name), struct.pack(">HB", server_port, 1 if is_ssl else 0),
           struct.pack(">H", len(headers))]
    for name, value in headers:
        c = REQ_CODES.get(name.lower())
        out.append(struct.pack(">H", c) if c else s(name))
        out.append(s(value))
    if secret:
        out.append(b"\x0c" + s(secret))
    if query is not None:
        out.append(b"\x05" + s(query))
    if jvm_route:
        out.append(b"\x06" + s(jvm_route))
    if code == 0xFF:
        out.append(b"\x0d" + s(method))
    for k, v in req_attributes:
        out.append(b"\x0a" + s(k) + s(v))
    out.append(b"\xff")
    payload = b"".join(out)
    assert len(payload) + 4 <= max_packet
    return b"\x12\x34" + struct.pack(">H", len(payload)) + payload


def body_packet(data):
    return b"\x12\x34" + struct.pack(">HH", len(data) + 2, len(data)) + data


CPING = b"\x12\x34\x00\x01\x0a"


class Conn:
    """One AJP connection to the fake container."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection((dr.LOOPBACK, port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, n):
        while len(self.buf) < n:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("closed with %d bytes buffered" % len(self.buf))
            self.buf += d

    def raw_packet(self):
        self._fill(4)
        assert self.buf[:2] == b"AB", self.buf[:8]
        (n,) = struct.unpack(">H", self.buf[2:4])
        self._fill(4 + n)
        p, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
        return p

    def message(self):
        """(type, value): ("headers", (status, reason, [(n, v)])), ("body", bytes),
        ("end", reuse), ("get", n), ("cpong", None)."""
        p = self.raw_packet()
        t = p[0]
        if t == 4:
            pos = 1
            (status,) = struct.unpack(">H", p[pos:pos + 2])
            pos += 2

            def string():
                nonlocal pos
                (n,) = struct.unpack(">H", p[pos:pos + 2])
                v = p[pos + 2:pos + 2 + n].decode("latin-1")
                assert p[pos + 2 + n] == 0
                pos += 3 + n
                return v
            reason = string()
            (count,) = struct.unpack(">H", p[pos:pos + 2])
            pos += 2
            hs = []
            for _ in range(count):
                (v,) = struct.unpack(">H", p[pos:pos + 2])
                if v & 0xFF00 == 0xA000:
                    name = RESP_NAMES[(v & 0xFF) - 1]
                    pos += 2
                else:
                    name = string()
                hs.append((name, string()))
            assert pos == len(p)
            return "headers", (status, reason, hs)
        if t == 3:
            (n,) = struct.unpack(">H", p[1:3])
            assert len(p) == 3 + n + 1 and p[-1] == 0, "chunk framing"
            return "body", p[3:3 + n]
        if t == 5:
            assert len(p) == 2
            return "end", p[1] == 1
        if t == 6:
            return "get", struct.unpack(">H", p[1:3])[0]
        if t == 9:
            return "cpong", None
        raise AssertionError("unknown message type %d" % t)

    def exchange(self, fwd, body=b"", chunked=False, max_packet=8192):
        """Sends a request the way drover does and collects the response:
        (status, reason, headers dict-of-lists, body, reuse, get_body_chunk count)."""
        self.send(fwd)
        pending = body
        if body and not chunked:
            first, pending = pending[:max_packet - 6], pending[max_packet - 6:]
            self.send(body_packet(first))  # unasked, as Tomcat expects
        status = reason = None
        headers, data, asks = {}, [], 0
        while True:
            kind, v = self.message()
            if kind == "get":
                asks += 1
                take = min(v, max_packet - 6)
                piece, pending = pending[:take], pending[take:]
                self.send(body_packet(piece))  # empty: end of body
            elif kind == "headers":
                status, reason, hs = v
                for n, val in hs:
                    headers.setdefault(n.lower(), []).append(val)
            elif kind == "body":
                data.append(v)
            elif kind == "end":
                return status, reason, headers, b"".join(data), v, asks
            else:
                raise AssertionError(kind)


# ------------------------------------------------------------------ the process

class AjpBackend:
    def __init__(self, workdir, route, secret=None, packet_size=None):
        self.route = route
        port_file = Path(workdir) / ("ajp-%s.port" % route)
        self.log_path = Path(workdir) / ("ajp-%s.log" % route)
        args = [sys.executable, str(AJP_BACKEND), "--listen", "127.0.0.1:0", "--route", route,
                "--port-file", str(port_file)]
        if secret is not None:
            args += ["--secret", secret]
        if packet_size is not None:
            args += ["--packet-size", str(packet_size)]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

        def ready():
            if self.proc.poll() is not None:
                raise dr.HarnessError("ajp_backend exited: %s" % self.log_text())
            try:
                t = port_file.read_text()
            except OSError:
                return None
            return int(t) if t.strip() else None
        self.port = dr.wait_until(ready, what="ajp_backend port file")

    def log_text(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.log.close()


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


# ------------------------------------------------------------------ tests

def test_starts_and_answers_cping(ajp):
    b = ajp("node1")
    line = dr.wait_until(lambda: b.log_text().strip(), what="stdout line")
    assert line == "listening on 127.0.0.1:%d" % b.port
    with Conn(b.port) as c:
        for _ in range(3):
            c.send(CPING)
            assert c.message() == ("cpong", None)


def test_get_reports_what_it_received(ajp):
    b = ajp("node1")
    fwd = forward_request(
        "GET", "/app/hello", headers=[("Host", "www.example.com"), ("User-Agent", "t/1"),
                                      ("X-Trace", "abc"), ("Accept", "*/*")],
        query="x=1&y=2", remote_addr="192.0.2.7", server_name="www.example.com",
        server_port=8443, is_ssl=False, jvm_route="node1",
        req_attributes=[("AJP_REMOTE_PORT", "51234"), ("AJP_LOCAL_ADDR", "127.0.0.1")])
    with Conn(b.port) as c:
        status, reason, hs, body, reuse, asks = c.exchange(fwd)
    assert (status, reason, reuse, asks) == (200, "OK", True, 0)
    assert hs["content-type"] == ["application/json"]
    assert hs["content-length"] == [str(len(body))]
    assert hs["x-backend"] == ["node1"]
    (cookie,) = hs["set-cookie"]
    assert cookie.startswith("JSESSIONID=") and cookie.endswith(".node1; Path=/")
    j = json.loads(body)
    assert j["method"] == "GET" and j["method_code"] == 2
    assert j["uri"] == "/app/hello" and j["query"] == "x=1&y=2"
    assert j["protocol"] == "HTTP/1.1"
    assert j["remote_addr"] == "192.0.2.7" and j["remote_host"] is None
    assert j["server_name"] == "www.example.com" and j["server_port"] == 8443
    assert j["is_ssl"] is False
    assert j["headers"] == [["host", "www.example.com"], ["user-agent", "t/1"],
                            ["X-Trace", "abc"], ["accept", "*/*"]]
    assert j["coded_headers"] == ["host", "user-agent", "accept"]
    assert j["attributes"] == {"jvm_route": "node1",
                               "req": {"AJP_REMOTE_PORT": "51234",
                                       "AJP_LOCAL_ADDR": "127.0.0.1"}}
    assert j["body_length"] == 0 and j["session"] is None
    assert cookie == "JSESSIONID=%s; Path=/" % j["new_session"]


def test_connection_is_persistent(ajp):
    b = ajp("node1")
    with Conn(b.port) as c:
        seen = []
        for i in range(5):
            status, _, hs, body, reuse, _ = c.exchange(forward_request(uri="/r%d" % i))
            assert status == 200 and reuse
            seen.append((hs["x-conn-id"][0], hs["x-request-count"][0]))
            c.send(CPING)
            assert c.message()[0] == "cpong"
    assert {cid for cid, _ in seen} == {seen[0][0]}
    assert [n for _, n in seen] == ["1", "2", "3", "4", "5"]


def test_post_body_larger_than_a_packet(ajp):
    b = ajp("node1")
    data = dr.pattern(20000)
    fwd = forward_request("POST", "/app/upload", headers=[
        ("Content-Type", "application/octet-stream"), ("Content-Length", str(len(data)))])
    with Conn(b.port) as c:
        status, _, _, body, reuse, asks = c.exchange(fwd, data)
    j = json.loads(body)
    assert status == 200 and reuse
    assert j["body_length"] == 20000 and j["body_pattern"]
    assert j["body_sha256"] == hashlib.sha256(data).hexdigest()
    # 8186 + 8186 + 3628: the first packet unasked, then two GET_BODY_CHUNKs.
    assert (j["body_packets"], j["get_body_chunks"], asks) == (3, 2, 2)


def test_chunked_request_body_is_asked_for_from_the_start(ajp):
    b = ajp("node1")
    data = dr.pattern(10000)
    fwd = forward_request("PUT", "/x", headers=[("Transfer-Encoding", "chunked")])
    with Conn(b.port) as c:
        status, _, _, body, _, asks = c.exchange(fwd, data, chunked=True)
    j = json.loads(body)
    assert status == 200 and j["method"] == "PUT"
    assert j["body_length"] == 10000 and j["body_pattern"]
    assert asks == 3  # 8186, 1814, then the empty packet that ends the body


def test_short_body_ends_with_empty_packet(ajp):
    b = ajp("node1")
    fwd = forward_request("POST", "/x", headers=[("Content-Length", "20000")])
    with Conn(b.port) as c:
        c.send(fwd + body_packet(b"a" * 100))
        kind, n = c.message()
        assert (kind, n) == ("get", 8186)
        c.send(body_packet(b""))  # the client went away: end of body
        kind, (status, _, _) = c.message()
        assert kind == "headers" and status == 200


def test_unknown_method_is_stored(ajp):
    b = ajp("node1")
    with Conn(b.port) as c:
        _, _, _, body, _, _ = c.exchange(forward_request("PATCH", "/p"))
    j = json.loads(body)
    assert j["method"] == "PATCH" and j["method_code"] == 255
    assert j["attributes"]["stored_method"] == "PATCH"


def test_secret(ajp):
    b = ajp("node2", secret="s3cr3t")
    with Conn(b.port) as c:
        status, _, _, body, reuse, _ = c.exchange(forward_request(secret="s3cr3t"))
        assert status == 200 and reuse
        assert json.loads(body)["attributes"]["secret"] == "s3cr3t"
    for wrong in ("nope", None):
        with Conn(b.port) as c:
            status, reason, _, body, reuse, _ = c.exchange(forward_request(secret=wrong))
            assert (status, reason, body, reuse) == (403, "Forbidden", b"", False)
            with pytest.raises(EOFError):
                c.message()


def test_existing_session_gets_no_new_cookie(ajp):
    b = ajp("node1")
    with Conn(b.port) as c:
        _, _, hs, body, _, _ = c.exchange(forward_request(
            headers=[("Cookie", "a=1; JSESSIONID=ABC.node2")]))
        assert "set-cookie" not in hs and json.loads(body)["session"] == "ABC.node2"
        _, _, hs, body, _, _ = c.exchange(forward_request(uri="/app/x;jsessionid=DEF.node1"))
        assert "set-cookie" not in hs and json.loads(body)["session"] == "DEF.node1"


def test_size_without_length_and_flush(ajp):
    b = ajp("node1")
    with Conn(b.port) as c:
        c.send(forward_request(uri="/app/size", query="n=20000&nolength=1&flush=1"))
        kinds = []
        data = b""
        while True:
            kind, v = c.message()
            kinds.append(kind)
            if kind == "headers":
                names = [n for n, _ in v[2]]
                assert "Content-Length" not in names
            if kind == "body":
                data += v
            if kind == "end":
                break
    assert data == dr.pattern(20000)
    # The flush (empty) chunk, then 8184 + 8184 + 3632.
    assert kinds == ["headers", "body", "body", "body", "body", "end"]


def test_head_and_no_content(ajp):
    b = ajp("node1")
    with Conn(b.port) as c:
        status, _, hs, body, reuse, _ = c.exchange(forward_request("HEAD", "/app/size",
                                                                   query="n=100"))
        assert (status, body, reuse) == (200, b"", True) and hs["content-length"] == ["100"]
        status, _, hs, body, _, _ = c.exchange(forward_request(uri="/status", query="code=204"))
        assert (status, body) == (204, b"") and "content-length" not in hs


def test_big_packets(ajp):
    b = ajp("node1", packet_size=65536)
    data = dr.pattern(100000)
    fwd = forward_request("POST", "/u", headers=[("Content-Length", str(len(data)))],
                          max_packet=65536)
    with Conn(b.port) as c:
        status, _, _, body, _, asks = c.exchange(fwd, data, max_packet=65536)
        assert json.loads(body)["body_length"] == 100000 and asks == 1
        c.send(forward_request(uri="/size", query="n=70000"))
        sizes = []
        while True:
            kind, v = c.message()
            if kind == "body":
                sizes.append(len(v))
            if kind == "end":
                break
    assert sizes == [65528, 70000 - 65528]


def test_packet_over_the_size_is_refused(ajp):
    b = ajp("node1")
    with Conn(b.port) as c:
        big = forward_request(headers=[("X", "v" * 9000)], max_packet=65536)
        c.send(big)
        with pytest.raises((EOFError, ConnectionResetError)):
            c.message()
    assert "exceeds the packet size 8192" in b.log_text()


@pytest.mark.parametrize("kind,start", [
    ("magic", b"XY"), ("type", b"AB\x00\x01\x07"), ("http", b"HTTP/1.1 200"),
    ("oversize", b"AB\x20\x00"), ("reuse", None), ("crlf", None)])
def test_malformed_answers(ajp, kind, start):
    b = ajp("node1")
    with Conn(b.port) as c:
        c.send(forward_request(uri="/bad", query="kind=" + kind))
        data = b""
        while True:
            d = c.sock.recv(65536)
            if not d:
                break
            data += d
    if start is not None:
        assert data.startswith(start)
    elif kind == "reuse":
        assert data.endswith(b"AB\x00\x02\x05\x02")
    else:
        assert b"a\r\nInjected: 1" in data


def test_stats(ajp):
    b = ajp("node1")
    with Conn(b.port) as c:
        c.send(CPING)
        c.message()
        c.exchange(forward_request())
        _, _, _, body, _, _ = c.exchange(forward_request(uri="/stats"))
    j = json.loads(body)
    assert j == {"requests": 2, "connections": 1, "open": 1, "cpings": 1}


def test_unit_test_packet_is_understood(ajp):
    """The exact FORWARD_REQUEST of t/unit/ajp/encoder_test.cc (ForwardRequestExactBytes),
    byte for byte, is parsed by the fake container as intended."""
    b = ajp("node1", secret="s3cr3t")
    pkt = (b"\x12\x34\x00\xe9" b"\x02\x02" b"\x00\x08HTTP/1.1\0" b"\x00\x0a/app/hello\0"
           b"\x00\x09192.0.2.7\0" b"\xff\xff" b"\x00\x0fwww.example.com\0" b"\x00\x50" b"\x00"
           b"\x00\x05" b"\xa0\x0b\x00\x0fwww.example.com\0" b"\xa0\x0e\x00\x08curl/8.0\0"
           b"\xa0\x01\x00\x03*/*\0" b"\x00\x07X-Trace\0\x00\x03abc\0"
           b"\xa0\x09\x00\x14JSESSIONID=abc.node1\0" b"\x0c\x00\x06s3cr3t\0"
           b"\x05\x00\x07x=1&y=2\0" b"\x06\x00\x05node1\0"
           b"\x0a\x00\x0fAJP_REMOTE_PORT\0\x00\x0551234\0"
           b"\x0a\x00\x0eAJP_LOCAL_ADDR\0\x00\x09127.0.0.1\0" b"\xff")
    assert len(pkt) == 237
    with Conn(b.port) as c:
        status, _, hs, body, reuse, _ = c.exchange(pkt)
    assert status == 200 and reuse and "set-cookie" not in hs
    j = json.loads(body)
    assert (j["method"], j["uri"], j["query"], j["remote_addr"], j["server_port"]) == (
        "GET", "/app/hello", "x=1&y=2", "192.0.2.7", 80)
    assert j["headers"][3] == ["X-Trace", "abc"] and j["session"] == "abc.node1"
    assert j["attributes"]["secret"] == "s3cr3t" and j["attributes"]["jvm_route"] == "node1"
