"""TLS through the real binary (issue 7): `ssl` listeners (TLS 1.2 and 1.3, SNI,
session resumption across workers, X-Forwarded-Proto, Secure sticky cookies, a plain
HTTP client on the TLS port), https:// members (verified, refused from another CA,
accepted with SSLProxyVerify none, health-checked over TLS), `drover -t` on bad
certificates and keys, and a HUP that swaps the certificate.

Certificates are made at test time with the openssl command (ECDSA P-256, a private
CA and a second, unrelated CA) in a directory shared by the module. The https://
member is a Python http.server wrapped in ssl, in a thread of the test process.
Every external command runs with a timeout.
"""
import http.server
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest

import drover as dr
from tls_pki import CMD_TIMEOUT, OPENSSL, pki, run  # noqa: F401 (pki: a fixture)

CURL = shutil.which("curl")

pytestmark = pytest.mark.skipif(OPENSSL is None, reason="openssl command not installed")


# --------------------------------------------------------------------------------------
# an https:// member


class HttpsBackend:
    """HTTP/1.1 over TLS on loopback, in threads of this process. Every answer is JSON
    {"backend": NAME, "path": ..., "headers": [[k, v], ...]} with X-Backend: NAME;
    .requests counts requests, .handshakes TLS handshakes (completed or failed)."""

    def __init__(self, name, crt, key):
        self.name = name
        self.requests = 0
        self.reused = []  # per request: was its connection's TLS session resumed
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 10

            def setup(self):
                self.request.settimeout(10)
                try:
                    self.request.do_handshake()
                except (OSError, ssl.SSLError):
                    self.close_connection = True
                super().setup()

            def do_GET(self):
                owner.requests += 1
                owner.reused.append(self.request.session_reused)
                body = json.dumps({"backend": owner.name, "path": self.path,
                                   "headers": [[k, v] for k, v in self.headers.items()]}).encode()
                self.send_response(200)
                self.send_header("X-Backend", owner.name)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

            def handle(self):
                try:
                    super().handle()
                except (OSError, ssl.SSLError):
                    pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):
                sock, addr = self.socket.accept()
                return ctx.wrap_socket(sock, server_side=True,
                                       do_handshake_on_connect=False), addr

            def handle_error(self, request, client_address):
                pass

        self.server = Server((dr.LOOPBACK, 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self):
        return self.server.server_address[1]

    @property
    def url(self):
        return "https://%s:%d" % (dr.LOOPBACK, self.port)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def https_backend():
    made = []

    def make(name, crt, key):
        b = HttpsBackend(name, crt, key)
        made.append(b)
        return b

    yield make
    for b in made:
        b.stop()


# --------------------------------------------------------------------------------------
# helpers


def tls_conf(pki, body="", server_extra="", global_extra="", balancers=None, workers=2):
    """A whole config (harness placeholders) with an `ssl` listener on @PORT@."""
    crt, key = pki.localhost
    text = ("[global]\nWorkerProcesses = %d\nPidFile = @PIDFILE@\nErrorLog = @ERRORLOG@\n"
            "LogLevel = info\n%s\n"
            "[server]\nListen = 127.0.0.1:@PORT@ ssl\nServerName = drover.test\n"
            "CustomLog = @ACCESSLOG@ combined\n"
            "SSLCertificateFile = %s\nSSLCertificateKeyFile = %s\n%s\n%s\n"
            % (workers, global_extra, crt, key, server_extra, body))
    for name, lines in (balancers or {}).items():
        text += "[balancer://%s]\n%s\n" % (name, "\n".join(lines))
    return text


def curl(pki, port, path="/", host="localhost", extra=(), ca=None):
    """curl over https with the test CA; returns (http code, headers text, body)."""
    if CURL is None:
        pytest.skip("curl not installed")
    out = run([CURL, "-sS", "--max-time", "10", "--cacert", ca or pki.ca[0],
               "--resolve", "%s:%d:127.0.0.1" % (host, port), "-D", "-",
               "https://%s:%d%s" % (host, port, path), *extra], check=False)
    head, _, body = out.partition("\r\n\r\n")
    m = re.match(r"HTTP/[\d.]+ (\d+)", head)
    return (int(m.group(1)) if m else 0), head, body


def https_get(pki, port, path="/", host="localhost", headers=None):
    """One request with Python's ssl (verifying against the test CA) -> dr.Response."""
    ctx = ssl.create_default_context(cafile=pki.ca[0])
    import http.client
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    conn._tunnel_host = None
    # server_hostname = host: connect by IP, verify and send SNI for `host`.
    conn.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                                server_hostname=host)
    try:
        dr.send_request(conn, "GET", path, dict({"Host": host}, **(headers or {})))
        resp = conn.getresponse()
        return dr.Response(resp.status, resp.getheaders(), resp.read(), resp.reason)
    finally:
        conn.close()


def s_client(port, *args, input_=b"", servername="localhost"):
    return run([OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port,
                "-servername", servername, *args], input_=input_, check=False)


def subject_cn(s_client_out):
    m = re.search(r"subject=.*?CN\s*=\s*([^\s,/]+)", s_client_out)
    return m.group(1) if m else None


def manager_flags(pki, port, member_url):
    r = https_get(pki, port, "/balancer-manager?format=json")
    assert r.status == 200, r
    for b in r.json()["balancers"]:
        for m in b["members"]:
            if m["url"] == member_url:
                return m["flags"]
    raise AssertionError("no member %s in %s" % (member_url, r.body[:500]))


# --------------------------------------------------------------------------------------
# ssl listeners


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_tls_versions_and_forwarded_proto(drover, backend, pki, version):
    a = backend("A")
    d = drover(text=tls_conf(pki, "ProxyPass = / %s/" % a.url))
    code, head, body = curl(pki, d.port, "/echo",
                            extra=["--tlsv" + version, "--tls-max", version])
    assert code == 200, (head, body)
    headers = dict((k.lower(), v) for k, v in json.loads(body)["headers"])
    assert headers["x-forwarded-proto"] == "https"
    out = s_client(d.port, "-tls1_" + version[-1], "-brief",
                   input_=b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
    assert re.search(r"Protocol version: TLSv%s\b" % re.escape(version), out), out
    assert "Verification: OK" in out or "Verification error" in out  # brief output shape


def test_big_bodies_both_ways_on_one_tls_connection(drover, backend, pki):
    import http.client
    a = backend("A")
    d = drover(text=tls_conf(pki, "ProxyPass = / %s/" % a.url))
    ctx = ssl.create_default_context(cafile=pki.ca[0])
    conn = http.client.HTTPSConnection("localhost", d.port, context=ctx, timeout=20)
    conn.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", d.port), timeout=20),
                                server_hostname="localhost")
    try:
        for n in (3 * 1024 * 1024 + 7, 100):
            dr.send_request(conn, "GET", "/size?n=%d" % n, {"Host": "localhost"})
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 200 and len(body) == n and body == dr.pattern(n)
        n = 2 * 1024 * 1024 + 3
        dr.send_request(conn, "POST", "/upload", {"Host": "localhost"},
                        body=dr.pattern_chunks(n))
        resp = conn.getresponse()
        j = json.loads(resp.read())
        assert resp.status == 200 and j["bytes"] == n and j["pattern"] and j["chunked"]
    finally:
        conn.close()


def test_sni_picks_the_certificate(drover, backend, pki):
    a = backend("A")
    alt_crt, alt_key = pki.alt
    d = drover(text=tls_conf(pki, "ProxyPass = / %s/" % a.url,
                             server_extra="SSLCertificate = alt.test %s %s" % (alt_crt, alt_key)))
    assert subject_cn(s_client(d.port, servername="alt.test")) == "alt.test"
    assert subject_cn(s_client(d.port, servername="localhost")) == "localhost"
    assert subject_cn(s_client(d.port, servername="unknown.test")) == "localhost"  # default
    code, _, body = curl(pki, d.port, "/", host="alt.test")
    assert code == 200 and body == "A\n"
    code, _, body = curl(pki, d.port, "/", host="localhost")
    assert code == 200 and body == "A\n"


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_session_resumption_across_workers(drover, backend, pki, workdir, version):
    a = backend("A")
    d = drover(text=tls_conf(pki, "ProxyPass = / %s/" % a.url, workers=4))
    d.wait_workers(4)
    sess = str(workdir / ("sess-%s.pem" % version))
    req = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    # -ign_eof: read to the server's close, so that TLS 1.3 tickets arrive before -sess_out.
    out = s_client(d.port, "-tls1_" + version[-1], "-sess_out", sess, "-ign_eof", input_=req)
    assert "New," in out and os.path.getsize(sess) > 0, out
    # New connections hash over the 4 workers' SO_REUSEPORT sockets: with 12 of them
    # several workers answer, and each resumes the session of another worker.
    reused = 0
    for _ in range(12):
        out = s_client(d.port, "-tls1_" + version[-1], "-sess_in", sess, "-ign_eof", input_=req)
        assert "HTTP/1.1 200" in out, out
        reused += "Reused," in out
    assert reused == 12


def test_ticket_keys_rotate(drover, backend, pki, workdir):
    a = backend("A")
    d = drover(text=tls_conf(pki, "ProxyPass = / %s/" % a.url,
                             server_extra="SSLSessionTicketKeyRotation = 1s"))
    sess = str(workdir / "sess.pem")
    req = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    out = s_client(d.port, "-tls1_2", "-sess_out", sess, "-ign_eof", input_=req)
    assert "New," in out, out
    assert "Reused," in s_client(d.port, "-tls1_2", "-sess_in", sess, "-ign_eof", input_=req)
    # Two more rotations: the ticket's key is neither current nor previous any more.
    d.wait_error_log(r"tls session ticket keys rotated \(rotation 3\)", timeout=10)
    out = s_client(d.port, "-tls1_2", "-sess_in", sess, "-ign_eof", input_=req)
    assert "New," in out and "HTTP/1.1 200" in out, out


def test_sticky_cookie_is_secure_on_tls(drover, backend, pki):
    n1, n2 = backend("node1"), backend("node2")
    d = drover(text=tls_conf(pki, "ProxyPass = / balancer://c/", balancers={"c": [
        "BalancerMember = %s route=node1" % n1.url,
        "BalancerMember = %s route=node2" % n2.url,
        "ProxySet = stickysession=BALANCEID stickysessioninsert=On"]}))
    r = https_get(pki, d.port, "/first")
    assert r.status == 200
    node = r.header("X-Backend")
    assert r.header_all("Set-Cookie") == ["BALANCEID=.%s; Path=/; HttpOnly; Secure" % node]


def test_plain_http_on_the_tls_port_is_closed_cleanly(drover, backend, pki):
    a = backend("A")
    d = drover(text=tls_conf(pki, "ProxyPass = / %s/" % a.url, workers=1))
    before = d.wait_workers(1)
    for _ in range(3):
        got = dr.raw(d.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
        assert b"HTTP/1.1" not in got  # no plain-text answer; at most a TLS alert
    d.wait_error_log(r"client 127\.0\.0\.1: tls handshake failed \(.*(http request|wrong "
                     r"version number|packet length too long)")
    # A client that sends nothing is bounded by RequestHeaderTimeout.
    assert d.worker_pids() == before
    code, _, body = curl(pki, d.port, "/")
    assert code == 200 and body == "A\n"
    assert d.worker_pids() == before


def test_silent_client_is_closed_during_the_handshake(drover, backend, pki):
    # AcceptFilter https none: with the default (data) the kernel would keep the silent
    # client from drover for about 30 s (test_limits.py).
    a = backend("A")
    d = drover(text=tls_conf(pki, "ProxyPass = / %s/" % a.url,
                             server_extra="RequestHeaderTimeout = 1\n"
                                          "AcceptFilter = https none"))
    t0 = time.monotonic()
    got = dr.raw(d.port, b"", timeout=8)
    assert got == b"" and time.monotonic() - t0 < 5


# --------------------------------------------------------------------------------------
# https:// members


def member_conf(pki, member, verify="require", ca=None, manager=True, hc="", extra=""):
    extra += "SSLProxyVerify = %s\n" % verify
    if ca is not None:
        extra += "SSLProxyCACertificateFile = %s\n" % ca
    body = "ProxyPass = /balancer-manager !\nProxyPass = / balancer://m/\n"
    if manager:
        body += "BalancerManager = /balancer-manager\n"
    return tls_conf(pki, body, server_extra=extra,
                    balancers={"m": ["BalancerMember = %s route=s %s" % (member.url, hc)]})


def test_https_member_with_a_valid_certificate(drover, pki, https_backend):
    m = https_backend("S", *pki.member)
    d = drover(text=member_conf(pki, m, ca=pki.ca[0]))
    for i in range(5):
        r = https_get(pki, d.port, "/x%d" % i)
        assert r.status == 200 and r.header("X-Backend") == "S", r
        assert r.json()["path"] == "/x%d" % i
        headers = dict((k.lower(), v) for k, v in r.json()["headers"])
        assert headers["x-forwarded-proto"] == "https"
    assert "Ok" in manager_flags(pki, d.port, "https://127.0.0.1:%d" % m.port)


def test_https_member_sessions_are_resumed(drover, pki, https_backend):
    m = https_backend("S5", *pki.member)
    # disablereuse: a new connection (and handshake) per request; WorkerProcesses 1 so
    # that every connection comes from the worker that holds the session.
    text = member_conf(pki, m, ca=pki.ca[0], hc="disablereuse=On").replace(
        "WorkerProcesses = 2", "WorkerProcesses = 1")
    d = drover(text=text)
    for i in range(4):
        assert https_get(pki, d.port, "/r%d" % i).status == 200
    assert m.reused[0] is False and all(m.reused[1:]), m.reused


def test_https_member_tls_name_follows_preserved_host(drover, pki, https_backend):
    # The member's certificate names localhost and 127.0.0.1, not other.test.
    m = https_backend("S6", *pki.member)
    d = drover(text=member_conf(pki, m, ca=pki.ca[0], extra="ProxyPreserveHost = On\n"))
    r = https_get(pki, d.port, "/p", host="localhost")
    assert r.status == 200 and r.json()["path"] == "/p", r
    headers = dict((k.lower(), v) for k, v in r.json()["headers"])
    assert headers["host"] == "localhost"
    r = https_get(pki, d.port, "/p", host="localhost", headers={"Host": "other.test"})
    assert r.status in (502, 503), r
    d.wait_error_log(r"certificate verify failed: hostname mismatch")


def test_https_member_from_another_ca_is_refused_then_accepted_with_verify_none(
        drover, pki, https_backend):
    m = https_backend("S2", *pki.member_ca2)
    d = drover(text=member_conf(pki, m, ca=pki.ca[0]))
    r = https_get(pki, d.port, "/a")
    assert r.status in (502, 503), r
    member = "https://127.0.0.1:%d" % m.port
    d.wait_error_log(r"balancer m: connect to member %s failed \(tls handshake failed: "
                     r"certificate verify failed: unable to get local issuer certificate"
                     % re.escape(member))
    assert "Err" in manager_flags(pki, d.port, member)
    assert m.requests == 0
    d.stop()
    d2 = drover(text=member_conf(pki, m, verify="none"))
    r = https_get(pki, d2.port, "/b")
    assert r.status == 200 and r.header("X-Backend") == "S2", r


def test_https_member_peer_name_is_checked(drover, pki, https_backend):
    # CA one, but the certificate names alt.test, not 127.0.0.1.
    m = https_backend("S3", *pki.alt)
    d = drover(text=member_conf(pki, m, ca=pki.ca[0]))
    assert https_get(pki, d.port, "/").status in (502, 503)
    d.wait_error_log(r"certificate verify failed: (IP address|hostname) mismatch")


def test_https_member_health_check_over_tls(drover, pki, https_backend):
    m = https_backend("S4", *pki.member)
    d = drover(text=member_conf(pki, m, ca=pki.ca[0], hc="hcmethod=GET hcuri=/hc hcinterval=1"))
    dr.wait_until(lambda: m.requests >= 2, 10, what="two health checks over TLS")
    assert "Ok" in manager_flags(pki, d.port, m.url)
    assert "not supported for https" not in d.error_log()


# --------------------------------------------------------------------------------------
# configuration errors and reload


def write_conf(workdir, text):
    p = workdir / "bad.conf"
    p.write_text(text.replace("@PORT@", str(dr.free_port())).replace(
        "@PIDFILE@", str(workdir / "p.pid")).replace("@ERRORLOG@", str(workdir / "e.log"))
        .replace("@ACCESSLOG@", str(workdir / "a.log")))
    return p


def line_of(path, directive):
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith(directive + " ="):
            return i
    raise AssertionError(directive)


@pytest.mark.parametrize("case", ["missing", "mismatch", "expired"])
def test_bad_certificates_fail_the_config_test(pki, workdir, case):
    crt, key = pki.localhost
    if case == "missing":
        crt = str(workdir / "nope.crt")
    elif case == "mismatch":
        key = pki.other[1]
    else:
        crt, key = pki.expired
    conf = write_conf(workdir, tls_conf(pki, "ProxyPass = / http://127.0.0.1:9/").replace(
        pki.localhost[0], crt).replace(pki.localhost[1], key))
    rc, out = dr.drover_t(conf)
    assert rc == 1, out
    directive = "SSLCertificateKeyFile" if case == "mismatch" else "SSLCertificateFile"
    assert "%s:%d: %s:" % (conf, line_of(conf, directive), directive) in out, out
    assert {"missing": "cannot read", "mismatch": "does not match",
            "expired": "expired"}[case] in out, out
    # Starting with it fails the same way (exit 1, the same message).
    p = subprocess.run([str(dr.DROVER), "-F", "-c", str(conf)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=CMD_TIMEOUT)
    assert p.returncode == 1 and b"%s:%d:" % (str(conf).encode(), line_of(conf, directive)) \
        in p.stdout, p.stdout


def test_hup_picks_up_a_new_certificate_and_keeps_the_old_on_error(drover, backend, pki,
                                                                   workdir):
    a = backend("A")
    live_crt, live_key = str(workdir / "live.crt"), str(workdir / "live.key")
    shutil.copy(pki.localhost[0], live_crt)
    shutil.copy(pki.localhost[1], live_key)
    text = tls_conf(pki, "ProxyPass = / %s/" % a.url).replace(
        pki.localhost[0], live_crt).replace(pki.localhost[1], live_key)
    d = drover(text=text)
    assert subject_cn(s_client(d.port)) == "localhost"
    # A broken pair: the reload is refused, naming file:line; the old certificate stays.
    shutil.copy(pki.other[1], live_key)
    d.reload_failed_at = time.monotonic()
    d.signal(__import__("signal").SIGHUP)
    d.wait_error_log(r"reload failed, keeping the running configuration: .*drover\.conf:\d+: "
                     r"SSLCertificateKeyFile: the key in .* does not match")
    assert subject_cn(s_client(d.port)) == "localhost"
    # A good new pair (alt.test) is served after the next HUP.
    shutil.copy(pki.alt[0], live_crt)
    shutil.copy(pki.alt[1], live_key)
    d.reload(wait_old_exit=True)
    assert subject_cn(s_client(d.port)) == "alt.test"
    code, _, body = curl(pki, d.port, "/", host="alt.test")
    assert code == 200 and body == "A\n"
