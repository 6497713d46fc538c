"""ajp:// members behind `ssl` listeners: the SSL fields mod_proxy_ajp fills from mod_ssl
(is_ssl, ssl_cipher 0x08, ssl_session 0x09, ssl_key_size 0x0B, AJP_SSL_PROTOCOL) as the
fake AJP container t/backend/ajp_backend.py received them, against what the client
negotiated (Python's ssl, TLS 1.2 and 1.3 forced); and none of them on a plain listener.

server_port: mod_proxy_ajp sends the listener's port (r->connection->local_addr->port),
which Tomcat takes as getLocalPort(); Tomcat derives getServerPort() from the Host and
is_ssl itself (443 over TLS for a Host without a port). drover does the same; the server
name is the Host's (ap_get_server_name, UseCanonicalName Off).

No client certificates: ssl listeners do not ask for one, so ssl_cert is never sent.
"""
import http.client
import socket
import ssl

import pytest

import drover as dr
from test_ajp_backend import AjpBackend
from tls_pki import OPENSSL, pki  # noqa: F401 (pki: a fixture)

pytestmark = pytest.mark.skipif(OPENSSL is None, reason="openssl command not installed")

SSL_ATTRS = {"ssl_cert", "ssl_cipher", "ssl_session", "ssl_key_size"}
VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


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


def tls_ajp_conf(pki, member_port, extra="", workers=1):
    crt, key = pki.localhost
    return ("[global]\nWorkerProcesses = %d\nPidFile = @PIDFILE@\nErrorLog = @ERRORLOG@\n"
            "LogLevel = info\n"
            "[server]\nListen = 127.0.0.1:@PORT@ ssl\nServerName = drover.test\n"
            "CustomLog = @ACCESSLOG@ combined\n"
            "SSLCertificateFile = %s\nSSLCertificateKeyFile = %s\n%s\n"
            "ProxyPass = / ajp://127.0.0.1:%d/\n" % (workers, crt, key, extra, member_port))


class TlsClient:
    """One TLS connection with Python's ssl (verifying the test CA, SNI localhost) at
    exactly `version`; .get() sends keep-alive requests on it. .cipher is ssl's
    (name, protocol, secret bits); .session is the client's SSL session."""

    def __init__(self, pki, port, version, session=None, ciphers=None, ctx=None):
        if ctx is None:  # a session resumes only with the context that made it
            ctx = ssl.create_default_context(cafile=pki.ca[0])
            ctx.minimum_version = ctx.maximum_version = VERSIONS[version]
            if ciphers:
                ctx.set_ciphers(ciphers)
        self.ctx = ctx
        self.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                                    server_hostname="localhost", session=session)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.conn.sock = self.sock

    def get(self, path="/info", host="localhost"):
        dr.send_request(self.conn, "GET", path, {"Host": host})
        resp = self.conn.getresponse()
        r = dr.Response(resp.status, resp.getheaders(), resp.read(), resp.reason)
        assert r.status == 200, r
        return r.json()

    @property
    def cipher(self):
        return self.sock.cipher()

    @property
    def session(self):
        return self.sock.session

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def assert_ssl_fields(j, client):
    """The FORWARD_REQUEST's SSL fields against the client's view of the connection."""
    name, protocol, bits = client.cipher
    a = j["attributes"]
    assert j["is_ssl"] is True
    assert a["ssl_cipher"] == name
    assert a["ssl_key_size"] == bits
    assert a["req"]["AJP_SSL_PROTOCOL"] == protocol == client.sock.version()
    sid = a["ssl_session"]
    assert len(sid) in (2 * 32, 2 * 16) and sid == sid.upper() and bytes.fromhex(sid), sid
    assert "ssl_cert" not in a  # the listener asks for no client certificate
    return sid


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_ssl_attributes_match_the_negotiated_session(drover, ajp, pki, version):
    b = ajp()
    d = drover(text=tls_ajp_conf(pki, b.port))
    with TlsClient(pki, d.port, version) as c:
        j = c.get("/info?q=1")
        sid = assert_ssl_fields(j, c)
        assert j["attributes"]["req"]["AJP_LOCAL_ADDR"] == "127.0.0.1"
        assert j["query"] == "q=1" and j["uri"] == "/info"
        # Host without a port: the name is the Host's, the port the listener's (Tomcat
        # makes getServerPort() 443 from is_ssl, getLocalPort() the listener's port).
        assert (j["server_name"], j["server_port"]) == ("localhost", d.port)
        # A Host with another port changes the name, not server_port.
        j2 = c.get("/info", host="front.example:8443")
        assert (j2["server_name"], j2["server_port"]) == ("front.example", d.port)
        assert dict(j2["headers"])["host"] == "front.example:8443"
        # Same connection, same member connection: the same session.
        assert_ssl_fields(j2, c)
        assert j2["attributes"]["ssl_session"] == sid
        assert j2["conn_id"] == j["conn_id"] and j2["request_count"] == 2
    # Another connection (a full handshake): another session id.
    with TlsClient(pki, d.port, version) as c2:
        assert assert_ssl_fields(c2.get(), c2) != sid


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_resumed_session_has_an_id(drover, ajp, pki, version):
    """A ticket resumption: still a session id, the same for every request of the
    connection."""
    b = ajp()
    d = drover(text=tls_ajp_conf(pki, b.port))
    with TlsClient(pki, d.port, version) as c:
        assert_ssl_fields(c.get(), c)  # TLS 1.3: the ticket came before the response
        sess, ctx = c.session, c.ctx
    with TlsClient(pki, d.port, version, session=sess, ctx=ctx) as c2:
        sid = assert_ssl_fields(c2.get(), c2)
        assert c2.sock.session_reused
        assert assert_ssl_fields(c2.get(), c2) == sid


@pytest.mark.parametrize("version,ciphers,bits", [
    ("1.2", "ECDHE-ECDSA-AES128-GCM-SHA256", 128),
    ("1.2", "ECDHE-ECDSA-CHACHA20-POLY1305", 256),
])
def test_tls12_key_size_follows_the_cipher(drover, ajp, pki, version, ciphers, bits):
    b = ajp()
    d = drover(text=tls_ajp_conf(pki, b.port))
    with TlsClient(pki, d.port, version, ciphers=ciphers) as c:
        j = c.get()
        assert c.cipher[0] == ciphers and c.cipher[2] == bits
        assert_ssl_fields(j, c)
        assert j["attributes"]["ssl_key_size"] == bits


def test_tls13_key_size_follows_the_cipher_suite(drover, ajp, pki):
    b = ajp()
    d = drover(text=tls_ajp_conf(pki, b.port, "SSLCipherSuite = TLSv1.3 TLS_AES_128_GCM_SHA256"))
    with TlsClient(pki, d.port, "1.3") as c:
        j = c.get()
        assert c.cipher[:3] == ("TLS_AES_128_GCM_SHA256", "TLSv1.3", 128)
        assert_ssl_fields(j, c)


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_session_id_without_tickets(drover, ajp, pki, version):
    """SSLSessionTickets Off: OpenSSL leaves a TLS 1.3 session (and, without a server
    session cache, a TLS 1.2 one) without an id; drover names it all the same."""
    b = ajp()
    d = drover(text=tls_ajp_conf(pki, b.port, "SSLSessionTickets = Off"))
    with TlsClient(pki, d.port, version) as c:
        sid = assert_ssl_fields(c.get(), c)
        assert assert_ssl_fields(c.get(), c) == sid


def test_plain_listener_sends_no_ssl_fields(drover, ajp):
    b = ajp()
    d = drover(global_={"WorkerProcesses": 1},
               server={"ProxyPass": "/ ajp://127.0.0.1:%d/" % b.port})
    j = dr.request(d.port, "GET", "/info", headers={"Host": "localhost"}).json()
    assert j["is_ssl"] is False
    assert not SSL_ATTRS & set(j["attributes"])
    assert "AJP_SSL_PROTOCOL" not in j["attributes"]["req"]
    assert (j["server_name"], j["server_port"]) == ("localhost", d.port)
    # HTTP/1.0 without a Host: ServerName, and still the listener's port.
    resps, _ = dr.raw_exchange(d.port, b"GET /info HTTP/1.0\r\n\r\n")
    assert len(resps) == 1 and resps[0].status == 200, resps
    j = resps[0].json()
    assert (j["server_name"], j["server_port"], j["is_ssl"]) == ("drover.test", d.port, False)
