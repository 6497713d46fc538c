"""Robustness (issue 4, parts 1 and 3): strict parsing on both sides and faulty members.

Every refused request is sent as raw bytes, and each test checks both sides: what the
client got (the status, `Connection: close`, then the connection closed by drover) and
what the member received (its /stats counters: for a refused request NOTHING, not even
a connection). Forwarded requests are checked byte for byte with /echo?raw=1.

Faulty members: drover-backend's misbehaviour endpoints (/reset /hang /garbage /trunc
/raw) and, where it has none (a reset in the middle of a body, an oversized response
header), a small scripted member in this file (FakeMember). Each case checks the
client side, the error log line naming the member URL, and the member's state where
SPEC §5 gives it one (connect failures and failontimeout put a member in error).
"""
import re
import socket
import threading
import time
import urllib.parse

import pytest

import drover as dr

CRLF = b"\r\n"


def q(b):
    return urllib.parse.quote(b, safe="")


# --------------------------------------------------------------------------------------
# helpers


def exchange(port, data, timeout=5.0, chunks=None, delay=0.0):
    """Sends raw bytes (or `chunks` with `delay` s between them) and reads until drover
    closes the connection or `timeout` passes. Returns (bytes, closed) where closed is
    True when the connection ended (FIN or RST) before the deadline."""
    deadline = time.monotonic() + timeout
    buf = b""
    closed = False
    with socket.create_connection((dr.LOOPBACK, port), timeout=timeout) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            for i, piece in enumerate(chunks if chunks is not None else [data]):
                if i and delay:
                    time.sleep(delay)
                s.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # drover may refuse and close before everything was sent
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                got = s.recv(1 << 16)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not got:
                closed = True
                break
            buf += got
    return buf, closed


def one_response(buf):
    """The single final response in buf (asserts there is exactly one, complete)."""
    parsed, rest = dr.parse_responses(buf)
    finals = [r for r in parsed if r.status >= 200]
    assert len(finals) == 1 and finals[0].complete and rest == b"", (parsed, rest)
    return finals[0]


class Member:
    """Counts what a drover-backend received between a snapshot and now, leaving out
    the /stats requests (and their connections) made through this helper."""

    def __init__(self, backend):
        self.b = backend
        self.polls = 0
        self.before = self.stats()

    def stats(self):
        self.polls += 1
        return self.b.stats()

    def delta(self):
        """(requests, connections) the member received since the snapshot."""
        now = self.stats()
        own = self.polls - 1  # the snapshot's own /stats came before `before`
        return (now["requests"] - self.before["requests"] - own,
                now["connections"] - self.before["connections"] - own)


def proxied(drover, backend, **server):
    """One drover-backend behind `ProxyPass = / URL/` (plus `server` keys)."""
    b = backend("M")
    s = {"ProxyPass": "/ %s/" % b.url}
    s.update(server)
    return drover(server=s), b


def refused(d, b, data, status, reason_re=None, **kw):
    """Sends `data`; asserts a `status` answer with Connection: close, the connection
    closed afterwards, and that the member received nothing at all."""
    m = Member(b)
    buf, closed = exchange(d.port, data, **kw)
    r = one_response(buf)
    assert r.status == status, (data[:200], r)
    assert (r.header("Connection") or "").lower() == "close", r
    assert r.header("X-Backend") is None, r
    assert closed, "drover kept the connection open after %d" % status
    assert m.delta() == (0, 0), "the member received something for %r" % data[:200]
    return r


def head(lines, body=b""):
    """A request made of `lines` (bytes, joined with CRLF) + the empty line + body."""
    return CRLF.join(lines) + CRLF + CRLF + body


# --------------------------------------------------------------------------------------
# part 1: requests that two parsers could read differently are refused


POST = b"POST /upload HTTP/1.1"
H = b"Host: front.example"
TE = b"Transfer-Encoding: chunked"

# (id, raw request, expected status)
REFUSED = [
    # Content-Length and Transfer-Encoding
    ("cl-then-te", head([POST, H, b"Content-Length: 5", TE], b"0\r\n\r\n"), 400),
    ("te-then-cl", head([POST, H, TE, b"Content-Length: 5"], b"0\r\n\r\n"), 400),
    ("cl-duplicate-disagree", head([POST, H, b"Content-Length: 5", b"Content-Length: 6"],
                                   b"hello!"), 400),
    ("cl-list-disagree", head([POST, H, b"Content-Length: 5, 6"], b"hello!"), 400),
    ("cl-list-and-repeat-disagree", head([POST, H, b"Content-Length: 5, 5",
                                          b"Content-Length: 6"], b"hello!"), 400),
    ("cl-plus-sign", head([POST, H, b"Content-Length: +5"], b"hello"), 400),
    ("cl-minus-sign", head([POST, H, b"Content-Length: -5"], b"hello"), 400),
    ("cl-hex", head([POST, H, b"Content-Length: 0x5"], b"hello"), 400),
    ("cl-overflow-u64", head([POST, H, b"Content-Length: 18446744073709551621"], b"hello"),
     400),
    ("cl-overflow-16-digits", head([POST, H, b"Content-Length: 1000000000000005"], b"hello"),
     400),
    ("cl-empty", head([POST, H, b"Content-Length: "], b"hello"), 400),
    ("cl-inner-space", head([POST, H, b"Content-Length: 1 5"], b"hello"), 400),
    ("cl-decimal-point", head([POST, H, b"Content-Length: 5.0"], b"hello"), 400),
    # Transfer-Encoding
    ("te-not-ending-in-chunked", head([POST, H, b"Transfer-Encoding: chunked, identity"],
                                      b"0\r\n\r\n"), 400),
    ("te-only-gzip", head([POST, H, b"Transfer-Encoding: gzip"], b"0\r\n\r\n"), 400),
    ("te-chunked-twice", head([POST, H, b"Transfer-Encoding: chunked",
                               b"Transfer-Encoding: chunked"], b"0\r\n\r\n"), 400),
    ("te-lookalike", head([POST, H, b"Transfer-Encoding: xchunked"], b"0\r\n\r\n"), 400),
    ("te-empty-element", head([POST, H, b"Transfer-Encoding: , chunked"], b"0\r\n\r\n"), 400),
    ("te-in-http10", head([b"POST /upload HTTP/1.0", H, TE], b"0\r\n\r\n"), 400),
    ("te-unknown-coding", head([POST, H, b"Transfer-Encoding: gzip, chunked"], b"0\r\n\r\n"),
     501),
    # line and field syntax
    ("obs-fold", head([b"GET / HTTP/1.1", H, b"X-A: 1", b" 2"]), 400),
    ("obs-fold-on-te", head([POST, H, b"Transfer-Encoding:", b" chunked"], b"0\r\n\r\n"), 400),
    ("obs-fold-first-field", head([b"GET / HTTP/1.1", b" X-A: 1", H]), 400),
    ("bare-cr-in-value", head([b"GET / HTTP/1.1", H, b"X-A: a\rb"]), 400),
    ("bare-cr-line-end", b"GET / HTTP/1.1\r\nHost: a\rX-A: 1\r\n\r\n", 400),
    ("bare-lf-everywhere", b"GET / HTTP/1.1\nHost: a\n\n", 400),
    ("bare-lf-request-line", b"GET / HTTP/1.1\nHost: a\r\n\r\n", 400),
    ("bare-lf-field", b"GET / HTTP/1.1\r\nHost: a\nX-A: 1\r\n\r\n", 400),
    ("bare-lf-head-end", b"GET / HTTP/1.1\r\nHost: a\r\n\n\r\n\r\n", 400),
    ("space-before-colon", head([b"GET / HTTP/1.1", b"Host : a"]), 400),
    ("tab-before-colon", head([POST, H, b"Content-Length\t: 5"], b"hello"), 400),
    ("empty-field-name", head([b"GET / HTTP/1.1", H, b": x"]), 400),
    ("no-colon", head([b"GET / HTTP/1.1", H, b"X-A"]), 400),
    ("nul-in-value", head([b"GET / HTTP/1.1", H, b"X-A: a\x00b"]), 400),
    ("nul-in-name", head([b"GET / HTTP/1.1", H, b"X-\x00A: 1"]), 400),
    ("nul-in-target", head([b"GET /a\x00b HTTP/1.1", H]), 400),
    ("ctl-in-value", head([b"GET / HTTP/1.1", H, b"X-A: a\x01b"]), 400),
    ("del-in-value", head([b"GET / HTTP/1.1", H, b"X-A: a\x7fb"]), 400),
    ("esc-in-value", head([b"GET / HTTP/1.1", H, b"X-A: \x1b[31m"]), 400),
    ("ctl-in-target", head([b"GET /a\x01 HTTP/1.1", H]), 400),
    ("space-in-target", head([b"GET /a b HTTP/1.1", H]), 400),
    ("double-space", head([b"GET  / HTTP/1.1", H]), 400),
    ("tab-separator", head([b"GET\t/ HTTP/1.1", H]), 400),
    ("fragment-in-target", head([b"GET /a#b HTTP/1.1", H]), 400),
    ("bad-method-char", head([b"G(T / HTTP/1.1", H]), 400),
    # Host
    ("host-missing-http11", head([b"GET / HTTP/1.1", b"X-A: 1"]), 400),
    ("host-duplicate", head([b"GET / HTTP/1.1", H, H]), 400),
    ("host-duplicate-differ", head([b"GET / HTTP/1.1", b"Host: a.example",
                                    b"Host: b.example"]), 400),
    ("host-list", head([b"GET / HTTP/1.1", b"Host: a.example, b.example"]), 400),
    ("host-userinfo", head([b"GET / HTTP/1.1", b"Host: user@a.example"]), 400),
    ("host-empty", head([b"GET / HTTP/1.1", b"Host: "]), 400),
    ("absolute-form-other-host", head([b"GET http://a.example/x HTTP/1.1",
                                       b"Host: b.example"]), 400),
    ("absolute-form-userinfo", head([b"GET http://u@a.example/x HTTP/1.1",
                                     b"Host: a.example"]), 400),
    ("authority-form", head([b"CONNECT a.example:443 HTTP/1.1", b"Host: a.example:443"]), 400),
    # versions
    ("http09-with-empty-line", b"GET /\r\n\r\n", 400),
    ("version-1.2", head([b"GET / HTTP/1.2", H]), 505),
    ("version-2.0", head([b"GET / HTTP/2.0", H]), 400),
    ("version-lowercase", head([b"GET / http/1.1", H]), 400),
    ("version-leading-zero", head([b"GET / HTTP/01.1", H]), 400),
    ("version-extra", head([b"GET / HTTP/1.1x", H]), 400),
    ("version-trailing-space", head([b"GET / HTTP/1.1 ", H]), 400),
    # limits (defaults: LimitRequestLine 8190, LimitRequestFieldSize 8190, 100 fields)
    ("request-line-414", head([b"GET /" + b"a" * 9000 + b" HTTP/1.1", H]), 414),
    ("field-too-large-431", head([b"GET / HTTP/1.1", H, b"X-Big: " + b"b" * 9000]), 431),
    ("too-many-fields-431", head([b"GET / HTTP/1.1", H] +
                                 [b"X-F%d: %d" % (i, i) for i in range(100)]), 431),
]


@pytest.mark.parametrize("data,status", [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_ambiguous_request_refused_and_member_receives_nothing(drover, backend, data, status):
    d, b = proxied(drover, backend)
    refused(d, b, data, status)
    # The worker is fine afterwards.
    assert dr.request(d.port, "GET", "/ok").status == 200


def test_http09_simple_request_refused(drover, backend):
    """A real HTTP/0.9 request is one line and no empty line: it must be refused when
    the line is complete, not after RequestHeaderTimeout."""
    d, b = proxied(drover, backend, RequestHeaderTimeout="30")
    refused(d, b, b"GET /\r\n", 400, timeout=5.0)


# (id, chunked body after a valid head) -> 400, and the member gets nothing
BAD_CHUNKED = [
    ("size-not-hex", b"zz\r\nhello\r\n0\r\n\r\n"),
    ("size-negative", b"-5\r\nhello\r\n0\r\n\r\n"),
    ("size-0x-prefix", b"0x5\r\nhello\r\n0\r\n\r\n"),
    ("size-plus", b"+5\r\nhello\r\n0\r\n\r\n"),
    ("size-empty", b"\r\nhello\r\n0\r\n\r\n"),
    ("size-overflow", b"10000000000000005\r\nhello\r\n0\r\n\r\n"),
    ("size-leading-space", b" 5\r\nhello\r\n0\r\n\r\n"),
    ("size-trailing-space", b"5 \r\nhello\r\n0\r\n\r\n"),
    ("size-bare-lf", b"5\nhello\r\n0\r\n\r\n"),
    ("size-bare-cr", b"5\rhello\r\n0\r\n\r\n"),
    ("ext-no-name", b"5;\r\nhello\r\n0\r\n\r\n"),
    ("ext-ctl", b"5;a\x01\r\nhello\r\n0\r\n\r\n"),
    ("ext-unterminated-quote", b"5;a=\"x\r\nhello\r\n0\r\n\r\n"),
    ("ext-bad-value", b"5;a=b=c\r\nhello\r\n0\r\n\r\n"),
    ("ext-nul", b"5;a=\x00\r\nhello\r\n0\r\n\r\n"),
    ("data-without-crlf", b"5\r\nhelloX0\r\n\r\n"),
    ("data-longer-than-size", b"5\r\nhello!!\r\n0\r\n\r\n"),
    ("data-bare-lf", b"5\r\nhello\n0\r\n\r\n"),
    ("last-chunk-bare-lf", b"5\r\nhello\r\n0\n\n"),
    ("trailer-obs-fold", b"0\r\nX-T: 1\r\n 2\r\n\r\n"),
    ("trailer-space-before-colon", b"0\r\nX-T : 1\r\n\r\n"),
    ("trailer-nul", b"0\r\nX-T: \x00\r\n\r\n"),
]


@pytest.mark.parametrize("body", [c[1] for c in BAD_CHUNKED], ids=[c[0] for c in BAD_CHUNKED])
def test_invalid_chunked_request_body_refused(drover, backend, body):
    d, b = proxied(drover, backend)
    m = Member(b)
    buf, closed = exchange(d.port, head([POST, H, TE], body))
    r = one_response(buf)
    assert r.status == 400, r
    assert (r.header("Connection") or "").lower() == "close"
    assert closed
    # The body is streamed, so drover may have connected to the member, but it must
    # not have forwarded a single byte of an invalid message.
    assert m.delta()[0] == 0, "the member received the request head"
    assert dr.request(d.port, "GET", "/ok").status == 200


def test_limit_request_body_content_length_413(drover, backend):
    d, b = proxied(drover, backend, LimitRequestBody="100")
    refused(d, b, head([POST, H, b"Content-Length: 101"], b"x" * 101), 413)
    # Exactly at the limit is fine.
    r = dr.request(d.port, "POST", "/upload", body=b"x" * 100)
    assert r.status == 200 and r.json()["bytes"] == 100


def test_limit_request_body_chunked_413_all_at_once(drover, backend):
    d, b = proxied(drover, backend, LimitRequestBody="100")
    body = b"40\r\n" + b"a" * 64 + b"\r\n" + b"40\r\n" + b"b" * 64 + b"\r\n0\r\n\r\n"
    m = Member(b)
    buf, closed = exchange(d.port, head([POST, H, TE], body))
    r = one_response(buf)
    assert r.status == 413 and closed, r
    assert m.delta()[0] == 0
    # A chunked body at the limit passes.
    ok = b"64\r\n" + b"c" * 100 + b"\r\n0\r\n\r\n"
    r = one_response(dr.raw(d.port, head([POST, H, TE, b"Connection: close"], ok)))
    assert r.status == 200 and r.json()["bytes"] == 100


def test_limit_request_body_chunked_413_while_streaming(drover, backend):
    """The limit is enforced as the chunks stream: the member got the head and the
    first chunk, then drover answers 413, closes both connections, and the member
    never sees a complete request (its upload never answers)."""
    d, b = proxied(drover, backend, LimitRequestBody="1000")
    first = head([POST, H, TE]) + b"100\r\n" + b"a" * 256 + b"\r\n"
    rest = b"".join(b"100\r\n" + b"b" * 256 + b"\r\n" for _ in range(8)) + b"0\r\n\r\n"
    m = Member(b)
    buf, closed = exchange(d.port, None, chunks=[first, rest], delay=0.5)
    r = one_response(buf)
    assert r.status == 413 and closed, r
    assert r.header("X-Backend") is None
    # Member side: the request started, and its connection was closed by drover
    # without the body ever completing.
    dr.wait_until(lambda: m.stats()["active"] == 0, what="member request aborted")
    assert m.stats()["open"] == 1  # only this /stats connection
    assert m.delta()[0] <= 1


# --------------------------------------------------------------------------------------
# part 1: hop-by-hop headers


def echo_raw(d, lines, body=b""):
    """Sends one request to /echo?raw=1 and returns (client response, member's bytes)."""
    req = head(lines, body)
    r = one_response(dr.raw(d.port, req, responses=1))
    assert r.status == 200, r
    return r, r.body


def fields(raw_head):
    """Field lines of a raw request head as [(lowercase name, value)]."""
    text = raw_head.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    out = []
    for line in text.split("\r\n")[1:]:
        k, _, v = line.partition(":")
        out.append((k.lower(), v.strip()))
    return out


def test_hop_by_hop_request_headers_never_reach_the_member(drover, backend):
    d, b = proxied(drover, backend)
    _, got = echo_raw(d, [
        b"POST /echo?raw=1 HTTP/1.1", b"Host: front.example",
        b"Connection: keep-alive, X-Secret, x-other", b"Connection: Upgrade",
        b"X-Secret: 1", b"X-Other: 2", b"Keep-Alive: timeout=5", b"TE: trailers",
        b"Trailer: X-T", b"Upgrade: h2c", b"Proxy-Authorization: Basic eDp5",
        b"Proxy-Connection: keep-alive", b"Proxy-Foo: bar", TE, b"X-Keep: yes"],
        b"3\r\nabc\r\n0\r\n\r\n")
    f = fields(got)
    names = [k for k, _ in f]
    for n in ("connection", "x-secret", "x-other", "keep-alive", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-connection", "proxy-foo"):
        assert n not in names, (n, got)
    assert ("x-keep", "yes") in f
    # drover re-frames the body itself: exactly one Transfer-Encoding, its own.
    assert [v for k, v in f if k == "transfer-encoding"] == ["chunked"]
    assert got.endswith(b"\r\n\r\n3\r\nabc\r\n0\r\n\r\n")


def test_connection_cannot_remove_drovers_own_headers(drover, backend):
    d, b = proxied(drover, backend)
    _, got = echo_raw(d, [
        b"POST /echo?raw=1 HTTP/1.1", b"Host: front.example",
        b"Connection: X-Forwarded-For, X-Forwarded-Host, X-Forwarded-Server, "
        b"X-Forwarded-Proto, Host, Content-Length",
        b"X-Forwarded-For: 6.6.6.6", b"X-Forwarded-Proto: https", b"Content-Length: 3"],
        b"abc")
    f = fields(got)
    # The client's own X-Forwarded-For was hop-by-hop (listed in Connection) and is
    # dropped, but drover's is there: a client cannot hide its address.
    assert [v for k, v in f if k == "x-forwarded-for"] == ["127.0.0.1"], got
    assert [v for k, v in f if k == "x-forwarded-host"] == ["front.example"], got
    assert [v for k, v in f if k == "x-forwarded-server"] == ["drover.test"], got
    assert [v for k, v in f if k == "x-forwarded-proto"] == ["http"], got
    assert [v for k, v in f if k == "host"] == ["127.0.0.1:%d" % b.port], got
    assert [v for k, v in f if k == "content-length"] == ["3"], got
    assert got.endswith(b"\r\n\r\nabc")


def test_hop_by_hop_response_headers_never_reach_the_client(drover, backend):
    d, b = proxied(drover, backend)
    resp = (b"HTTP/1.1 200 OK\r\nConnection: X-Secret, close\r\nX-Secret: s\r\n"
            b"Keep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\nTrailer: X-T\r\n"
            b"Upgrade: h2c\r\nX-Keep: yes\r\nContent-Length: 2\r\n\r\nok")
    r = one_response(dr.raw(d.port, head([b"GET /raw?data=%s HTTP/1.1" % q(resp).encode(), H]),
                            responses=1))
    assert r.status == 200 and r.body == b"ok", r
    names = [k.lower() for k, _ in r.headers]
    for n in ("x-secret", "keep-alive", "proxy-authenticate", "trailer", "upgrade"):
        assert n not in names, (n, r.headers)
    assert r.header("X-Keep") == "yes"


# --------------------------------------------------------------------------------------
# part 1, member side: invalid response heads -> 502, member connection closed, log line

BAD_RESPONSES = [
    ("cl-and-te", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"0\r\n\r\n"),
    ("cl-disagree", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!"),
    ("cl-sign", b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok"),
    ("te-in-http10", b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("obs-fold", b"HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 2\r\n\r\nok"),
    ("bare-lf", b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok"),
    ("bare-cr", b"HTTP/1.1 200 OK\r\nX-A: 1\rContent-Length: 2\r\n\r\nok"),
    ("space-before-colon", b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok"),
    ("nul", b"HTTP/1.1 200 OK\r\nX-A: \x00\r\nContent-Length: 2\r\n\r\nok"),
    ("status-999", b"HTTP/1.1 999 Odd\r\nContent-Length: 2\r\n\r\nok"),
    ("version-2", b"HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    ("http09-body", b"just a body\r\n\r\n"),
]


@pytest.mark.parametrize("resp", [c[1] for c in BAD_RESPONSES], ids=[c[0] for c in BAD_RESPONSES])
def test_invalid_response_head_gives_502(drover, backend, resp):
    d, b = proxied(drover, backend)
    # keep=1: the member keeps its side open, so only drover can close it.
    buf, closed = exchange(d.port, head([b"GET /raw?keep=1&data=%s HTTP/1.1" % q(resp).encode(),
                                         H]))
    r = one_response(buf)
    assert r.status == 502 and r.header("X-Backend") is None, r
    d.wait_error_log(r"member %s sent an invalid response head" % re.escape(b.url))
    # The member connection was closed by drover (only the /stats one stays open).
    dr.wait_until(lambda: b.stats()["open"] == 1, what="member connection closed")


# --------------------------------------------------------------------------------------
# part 3: faulty members


class FakeMember:
    """A scripted member on loopback: accepts connections, reads each request head,
    records it in .heads, then calls act(sock). .closed_by_peer counts connections
    that drover closed while act() waited for it (see wait_peer_close)."""

    def __init__(self, act):
        self.act = act
        self.heads = []
        self.peer_closed = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((dr.LOOPBACK, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.url = "http://%s:%d" % (dr.LOOPBACK, self.port)
        self._stop = threading.Event()
        self._threads = []
        self._main = threading.Thread(target=self._accept, daemon=True)
        self._main.start()

    def _accept(self):
        while not self._stop.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(c,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, c):
        c.settimeout(5)
        buf = b""
        try:
            while b"\r\n\r\n" not in buf:
                got = c.recv(65536)
                if not got:
                    return
                buf += got
            self.heads.append(buf)
            self.act(c)
        except OSError:
            pass
        finally:
            c.close()

    def wait_peer_close(self, c, timeout=5):
        """Reads until drover closes this member connection (counted)."""
        c.settimeout(timeout)
        try:
            while c.recv(65536):
                pass
            self.peer_closed += 1
        except ConnectionResetError:
            self.peer_closed += 1
        except socket.timeout:
            pass

    def stop(self):
        self._stop.set()
        self.sock.close()
        self._main.join(2)
        for t in self._threads:
            t.join(2)


@pytest.fixture
def fake_member():
    made = []

    def make(act):
        f = FakeMember(act)
        made.append(f)
        return f

    yield make
    for f in made:
        f.stop()


def rst(c):
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    c.close()


def cluster(drover, urls, proxyset=None, **server):
    """A balancer over `urls` (in order) behind `ProxyPass = / balancer://c/`."""
    bal = {"BalancerMember": list(urls)}
    if proxyset:
        bal["ProxySet"] = proxyset
    s = {"ProxyPass": "/ balancer://c/"}
    s.update(server)
    return drover(server=s, balancers={"c": bal})


def backends_of(d, n, path="/n"):
    """X-Backend of n fresh requests (asserting 200)."""
    out = []
    for i in range(n):
        r = dr.request(d.port, "GET", "%s%d" % (path, i))
        assert r.status == 200, r
        out.append(r.header("X-Backend"))
    return out


def test_refused_member_gives_503_and_logs_it(drover):
    port = dr.free_port()  # nothing listens there
    url = "http://127.0.0.1:%d" % port
    d = drover(server={"ProxyPass": "/ %s/" % url})
    buf, closed = exchange(d.port, head([b"GET /x HTTP/1.1", H, b"Connection: close"]))
    r = one_response(buf)
    assert r.status == 503 and r.header("X-Backend") is None, r
    d.wait_error_log(r"connect to member %s failed" % re.escape(url))


def test_refused_member_is_put_in_error_and_avoided(drover, backend):
    port = dr.free_port()
    good = backend("good")
    d = cluster(drover, ["http://127.0.0.1:%d" % port, good.url])
    # The first pick is the first member: refused, so the request fails over.
    assert backends_of(d, 1) == ["good"]
    d.wait_error_log(r"connect to member http://127\.0\.0\.1:%d failed" % port)
    # The member comes back, but stays in error for its retry period (60 s).
    bad = dr.Backend("bad", d.dir / "bad")
    bad.start(port=port)
    try:
        m = Member(bad)
        assert backends_of(d, 6, "/after") == ["good"] * 6
        assert m.delta()[0] == 0
    finally:
        bad.stop()


def test_member_reset_before_response_gives_502(drover, backend):
    n1, n2 = backend("n1"), backend("n2")
    d = cluster(drover, [n1.url, n2.url])
    # byrequests: the first request goes to the first member, which resets.
    buf, closed = exchange(d.port, head([b"GET /reset HTTP/1.1", H]))
    r = one_response(buf)
    assert r.status == 502 and r.header("X-Backend") is None, r
    d.wait_error_log(r"member %s closed the connection before responding" % re.escape(n1.url))
    # A request already sent is never re-sent: n2 did not get it.
    assert n2.stats()["requests"] == 1
    # Not a connect failure and no failonstatus: both members stay in rotation.
    assert sorted(backends_of(d, 4)) == ["n1", "n1", "n2", "n2"]


def test_member_reset_mid_body_closes_client_connection(drover, fake_member):
    def act(c):
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
        time.sleep(0.3)
        rst(c)

    f = fake_member(act)
    d = drover(server={"ProxyPass": "/ %s/" % f.url})
    t0 = time.monotonic()
    buf, closed = exchange(d.port, head([b"GET /big HTTP/1.1", H]), timeout=8)
    assert closed, "client connection left open after the member reset mid-body"
    assert time.monotonic() - t0 < 5
    parsed, _ = dr.parse_responses(buf)
    assert len(parsed) == 1 and parsed[0].status == 200 and not parsed[0].complete, parsed
    # Everything the member sent before its reset reached the client.
    assert parsed[0].body == b"x" * 1000
    d.wait_error_log(r"member %s failed during the response body" % re.escape(f.url))
    assert len(f.heads) == 1


def test_member_truncated_content_length_closes_client_connection(drover, backend):
    d, b = proxied(drover, backend)
    t0 = time.monotonic()
    buf, closed = exchange(d.port, head([b"GET /trunc?n=200000 HTTP/1.1", H]), timeout=8)
    assert closed and time.monotonic() - t0 < 5
    parsed, _ = dr.parse_responses(buf)
    assert len(parsed) == 1 and parsed[0].status == 200 and not parsed[0].complete, parsed
    # /trunc sent half of its Content-Length, then closed: the client gets all of
    # it (a proxy must not drop what it already received), then the close.
    assert len(parsed[0].body) == 100000
    assert parsed[0].body == dr.pattern(100000)
    d.wait_error_log(r"member %s failed during the response body" % re.escape(b.url))


def test_member_that_never_answers_gives_504(drover, backend):
    d, b = proxied(drover, backend, ProxyTimeout="1")
    t0 = time.monotonic()
    buf, closed = exchange(d.port, head([b"GET /hang HTTP/1.1", H]), timeout=10)
    r = one_response(buf)
    assert r.status == 504 and r.header("X-Backend") is None, r
    assert time.monotonic() - t0 < 5
    d.wait_error_log(r"member %s timed out before responding" % re.escape(b.url))
    # drover closed its connection to the member.
    dr.wait_until(lambda: b.stats()["open"] == 1, what="member connection closed")
    assert dr.request(d.port, "GET", "/ok").status == 200


def test_member_timeout_with_failontimeout_puts_it_in_error(drover, backend):
    n1, n2 = backend("n1"), backend("n2")
    d = cluster(drover, [n1.url, n2.url], proxyset="failontimeout=On", ProxyTimeout="1")
    buf, _ = exchange(d.port, head([b"GET /hang HTTP/1.1", H]), timeout=10)
    assert one_response(buf).status == 504
    d.wait_error_log(r"member %s timed out" % re.escape(n1.url))
    assert backends_of(d, 4) == ["n2"] * 4


def test_member_garbage_gives_502(drover, backend):
    d, b = proxied(drover, backend)
    buf, closed = exchange(d.port, head([b"GET /garbage HTTP/1.1", H]))
    r = one_response(buf)
    assert r.status == 502 and r.header("X-Backend") is None, r
    d.wait_error_log(r"member %s sent an invalid response head" % re.escape(b.url))
    assert dr.request(d.port, "GET", "/ok").status == 200


def test_member_oversized_response_header_gives_502(drover, fake_member):
    def act(c):
        c.sendall(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70000 + b"\r\nContent-Length: 2\r\n\r\nok")
        f.wait_peer_close(c)

    f = fake_member(act)
    d = drover(server={"ProxyPass": "/ %s/" % f.url})
    buf, closed = exchange(d.port, head([b"GET /big-header HTTP/1.1", H]))
    r = one_response(buf)
    assert r.status == 502, r
    d.wait_error_log(re.escape(f.url))
    dr.wait_until(lambda: f.peer_closed == 1, what="drover to close the member connection")


def test_member_too_many_response_headers_gives_502(drover, fake_member):
    def act(c):
        c.sendall(b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-H%d: %d\r\n" % (i, i) for i in range(300))
                  + b"Content-Length: 2\r\n\r\nok")
        f.wait_peer_close(c)

    f = fake_member(act)
    d = drover(server={"ProxyPass": "/ %s/" % f.url})
    buf, closed = exchange(d.port, head([b"GET /many HTTP/1.1", H]))
    r = one_response(buf)
    assert r.status == 502, r
    d.wait_error_log(re.escape(f.url))
    dr.wait_until(lambda: f.peer_closed == 1, what="drover to close the member connection")
