#!/usr/bin/python3
"""ajp_backend.py: a small fake AJP13 container (a stand-in for Tomcat's AJP
connector) for drover's integration tests. Python 3 standard library only; one
thread per connection; connections are persistent (END_RESPONSE reuse=1).

Usage: ajp_backend.py --listen HOST:PORT --route NAME [--port-file FILE]
                      [--secret S] [--packet-size N]
  PORT 0 binds an ephemeral port; the real one goes to FILE (written to a temporary
  name, then renamed) and to stdout as `listening on HOST:PORT`. SIGTERM/SIGINT exit 0.
  --packet-size is Tomcat's packetSize (8192 default, up to 65536): larger packets
  from the proxy are a protocol error (logged, connection closed).

Behaviour, as Tomcat 10's AjpProcessor does it:
  - CPING (12 34 00 01 0A) between requests is answered with CPONG (AB 00 01 09).
  - --secret S: a FORWARD_REQUEST without the secret attribute, or with another
    value, gets 403 with no body and END_RESPONSE reuse=0, then the connection is
    closed (the request body is not read).
  - Request bodies: with Content-Length > 0 the FIRST body packet must follow the
    FORWARD_REQUEST unasked; each further packet is asked for with GET_BODY_CHUNK
    (requested = packet size - 6) until Content-Length bytes arrived. Without a
    Content-Length but with Transfer-Encoding: chunked, every packet is asked for,
    until an empty body packet. An empty body packet always ends the body.
  - A response without a JSESSIONID in the request (cookie or ;jsessionid= in the
    URI) sets `Set-Cookie: JSESSIONID=<32 hex>.<route>; Path=/`.
  - Response bodies go out in SEND_BODY_CHUNK packets of at most packet size - 8
    data bytes, each followed by its NUL, as Tomcat writes them.
Every response carries X-Backend: NAME (string-coded name), X-Conn-Id: K and
X-Request-Count: N (as drover-backend); Content-Type, Content-Length and
Set-Cookie use the coded names 0xA001, 0xA003, 0xA007.

The endpoint is the LAST path segment (path parameters after `;` ignored):
  (anything else)   200 application/json: what the container received:
                    route, conn_id, request_count, method, method_code, protocol,
                    uri, query (null when absent), remote_addr, remote_host (null
                    when null), server_name, server_port, is_ssl,
                    headers [[name, value], ...] (coded names in lowercase, as
                    Tomcat names them), coded_headers [names sent coded],
                    attributes {remote_user, auth_type, jvm_route, secret,
                    ssl_cert, ssl_cipher, ssl_session, ssl_key_size, stored_method,
                    req: {name: value}} (only those present), body_length,
                    body_sha256, body_pattern (the body is the pattern's prefix),
                    body (latin-1, when <= 4096 bytes), body_packets,
                    get_body_chunks, session (the JSESSIONID seen or null),
                    new_session (the one set or null)
  size?n=N[&nolength=1][&flush=1]  N bytes of drover-backend's pattern
                    (byte i = (31*i + 7 + (i >> 16)) mod 256); nolength=1 omits
                    Content-Length; flush=1 sends an empty SEND_BODY_CHUNK first
  status?code=N     status N, JSON body as the default (none for 204/304)
  redirect?to=URL   302 with Location: URL
  cookie?v=VALUE    an extra Set-Cookie: VALUE (repeatable)
  slow?ms=N         answers like the default after N ms
  noreuse           answers like the default, END_RESPONSE reuse=0, then closes
  close             closes without answering
  hang              never answers
  bad?kind=K        sends a malformed answer, then closes. K: magic (XY...),
                    oversize (length = packet size), type (message type 7),
                    nonul (a string without its NUL), crlf (CR LF in a header
                    value), trunc (half a SEND_HEADERS), bodylen (chunk length
                    disagrees with the packet), http (an HTTP/1.1 response),
                    status (status 101), reuse (reuse flag 2)
  stats             200 JSON {"requests", "connections", "open", "cpings"}
"""
import argparse
import hashlib
import json
import os
import secrets
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
import urllib.parse

REQ_HEADERS = ["accept", "accept-charset", "accept-encoding", "accept-language",
               "authorization", "connection", "content-type", "content-length",
               "cookie", "cookie2", "host", "pragma", "referer", "user-agent"]
METHODS = ["OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "PROPFIND",
           "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "ACL", "REPORT",
           "VERSION-CONTROL", "CHECKIN", "CHECKOUT", "UNCHECKOUT", "SEARCH",
           "MKWORKSPACE", "UPDATE", "LABEL", "MERGE", "BASELINE-CONTROL", "MKACTIVITY"]
RESP_CODES = {"content-type": 0xA001, "content-language": 0xA002, "content-length": 0xA003,
              "date": 0xA004, "last-modified": 0xA005, "location": 0xA006,
              "set-cookie": 0xA007, "set-cookie2": 0xA008, "servlet-engine": 0xA009,
              "status": 0xA00A, "www-authenticate": 0xA00B}
REASONS = {200: "OK", 201: "Created", 204: "No Content", 302: "Found", 304: "Not Modified",
           400: "Bad Request", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error",
           503: "Service Unavailable"}
ATTR_NAMES = {0x03: "remote_user", 0x04: "auth_type", 0x06: "jvm_route", 0x07: "ssl_cert",
              0x08: "ssl_cipher", 0x09: "ssl_session", 0x0C: "secret", 0x0D: "stored_method"}

_BASE = bytes(((31 * j + 7) & 0xFF) for j in range(65536 + 256))


def pattern(n, offset=0):
    out, pos, end = [], offset, offset + n
    while pos < end:
        block, j = pos >> 16, pos & 0xFFFF
        shift = (block * 223) & 0xFF
        take = min(65536 - j, end - pos)
        out.append(_BASE[shift + j: shift + j + take])
        pos += take
    return b"".join(out)


class ProtocolError(Exception):
    pass


class Closed(Exception):
    pass


# ------------------------------------------------------------------ wire helpers

def ajp_string(s):
    if s is None:
        return b"\xff\xff"
    if isinstance(s, str):
        s = s.encode("latin-1")
    return struct.pack(">H", len(s)) + s + b"\0"


def packet(payload):
    return b"AB" + struct.pack(">H", len(payload)) + payload


def send_headers(status, headers, reason=None):
    out = [b"\x04", struct.pack(">H", status),
           ajp_string(reason if reason is not None else REASONS.get(status, str(status))),
           struct.pack(">H", len(headers))]
    for name, value in headers:
        code = RESP_CODES.get(name.lower())
        out.append(struct.pack(">H", code) if code else ajp_string(name))
        out.append(ajp_string(value))
    return packet(b"".join(out))


def body_chunks(data, packet_size):
    step = packet_size - 8
    out = []
    for off in range(0, len(data), step):
        piece = data[off:off + step]
        out.append(packet(b"\x03" + struct.pack(">H", len(piece)) + piece + b"\0"))
    return out


def end_response(reuse):
    return packet(b"\x05" + (b"\x01" if reuse else b"\x00"))


class Reader:
    """Reads proxy -> container packets from a socket."""

    def __init__(self, sock, packet_size):
        self.sock = sock
        self.packet_size = packet_size
        self.buf = b""

    def _fill(self, n):
        while len(self.buf) < n:
            data = self.sock.recv(65536)
            if not data:
                if self.buf:
                    raise ProtocolError("connection closed inside a packet")
                raise Closed()
            self.buf += data

    def packet(self):
        self._fill(4)
        if self.buf[:2] != b"\x12\x34":
            raise ProtocolError("bad magic %r" % self.buf[:2])
        (length,) = struct.unpack(">H", self.buf[2:4])
        if length + 4 > self.packet_size:
            raise ProtocolError("packet of %d bytes exceeds the packet size %d"
                                % (length + 4, self.packet_size))
        self._fill(4 + length)
        payload, self.buf = self.buf[4:4 + length], self.buf[4 + length:]
        return payload


class Payload:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def u8(self):
        if self.pos + 1 > len(self.data):
            raise ProtocolError("truncated byte at %d" % self.pos)
        v = self.data[self.pos]
        self.pos += 1
        return v

    def u16(self):
        if self.pos + 2 > len(self.data):
            raise ProtocolError("truncated integer at %d" % self.pos)
        (v,) = struct.unpack(">H", self.data[self.pos:self.pos + 2])
        self.pos += 2
        return v

    def peek16(self):
        if self.pos + 2 > len(self.data):
            raise ProtocolError("truncated integer at %d" % self.pos)
        return struct.unpack(">H", self.data[self.pos:self.pos + 2])[0]

    def string(self):
        n = self.u16()
        if n == 0xFFFF:
            return None
        if self.pos + n + 1 > len(self.data):
            raise ProtocolError("truncated string at %d" % self.pos)
        if self.data[self.pos + n] != 0:
            raise ProtocolError("string without nul at %d" % self.pos)
        s = self.data[self.pos:self.pos + n].decode("latin-1")
        self.pos += n + 1
        return s


def parse_forward_request(payload):
    p = Payload(payload)
    if p.u8() != 2:
        raise ProtocolError("not a forward request")
    code = p.u8()
    req = {"method_code": code}
    if 1 <= code <= len(METHODS):
        req["method"] = METHODS[code - 1]
    elif code == 0xFF:
        req["method"] = None  # from the stored_method attribute
    else:
        raise ProtocolError("unknown method code %d" % code)
    req["protocol"] = p.string()
    req["uri"] = p.string()
    req["remote_addr"] = p.string()
    req["remote_host"] = p.string()
    req["server_name"] = p.string()
    req["server_port"] = p.u16()
    req["is_ssl"] = bool(p.u8())
    headers, coded = [], []
    for _ in range(p.u16()):
        v = p.peek16()
        if v & 0xFF00 == 0xA000:
            p.u16()
            if not 1 <= (v & 0xFF) <= len(REQ_HEADERS):
                raise ProtocolError("unknown coded header 0x%04x" % v)
            name = REQ_HEADERS[(v & 0xFF) - 1]
            coded.append(name)
        else:
            name = p.string()
            if name is None:
                raise ProtocolError("null header name")
        value = p.string()
        if value is None:
            raise ProtocolError("null header value")
        headers.append([name, value])
    req["headers"], req["coded_headers"] = headers, coded
    attrs, reqattrs, query = {}, {}, None
    while True:
        a = p.u8()
        if a == 0xFF:
            break
        if a == 0x05:
            query = p.string()
        elif a == 0x0A:
            k = p.string()
            reqattrs[k] = p.string()
        elif a == 0x0B:
            attrs["ssl_key_size"] = p.u16()
        elif a in ATTR_NAMES:
            attrs[ATTR_NAMES[a]] = p.string()
        else:
            raise ProtocolError("unknown attribute code 0x%02x" % a)
    if p.pos != len(payload):
        raise ProtocolError("%d bytes after the terminator" % (len(payload) - p.pos))
    if reqattrs:
        attrs["req"] = reqattrs
    req["attributes"], req["query"] = attrs, query
    if req["method"] is None:
        if "stored_method" not in attrs:
            raise ProtocolError("method 0xFF without a stored_method attribute")
        req["method"] = attrs["stored_method"]
    return req


def parse_body_packet(payload):
    if len(payload) == 0:
        return b""  # mod_jk's empty packet
    if len(payload) < 2:
        raise ProtocolError("body packet of 1 byte")
    (n,) = struct.unpack(">H", payload[:2])
    if n != len(payload) - 2:
        raise ProtocolError("body length %d in a packet of %d" % (n, len(payload)))
    return payload[2:]


# ------------------------------------------------------------------ the server

class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = self.connections = self.open = self.cpings = 0


class Handler(socketserver.BaseRequestHandler):
    def setup(self):
        srv = self.server
        with srv.stats.lock:
            srv.stats.connections += 1
            srv.stats.open += 1
            self.conn_id = srv.stats.connections
        self.count = 0
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def finish(self):
        with self.server.stats.lock:
            self.server.stats.open -= 1

    def log(self, msg):
        sys.stdout.write("ajp_backend %s: conn %d: %s\n" % (self.server.route, self.conn_id, msg))
        sys.stdout.flush()

    def handle(self):
        rd = Reader(self.request, self.server.packet_size)
        try:
            while True:
                payload = rd.packet()
                if not payload:
                    raise ProtocolError("empty packet between requests")
                if payload[0] == 10 and len(payload) == 1:
                    with self.server.stats.lock:
                        self.server.stats.cpings += 1
                    self.request.sendall(packet(b"\x09"))
                    continue
                if payload[0] == 7:
                    self.log("shutdown request ignored")
                    continue
                if payload[0] != 2:
                    raise ProtocolError("unexpected message type %d" % payload[0])
                if not self.exchange(rd, parse_forward_request(payload)):
                    return
        except Closed:
            return
        except ProtocolError as e:
            self.log("protocol error: %s; closing" % e)
        except OSError as e:
            self.log("socket error: %s" % e)

    def read_body(self, rd, req):
        """Returns (body, packets, get_body_chunks) the Tomcat way."""
        headers = {n.lower(): v for n, v in req["headers"]}
        ask = struct.pack(">H", self.server.packet_size - 6)
        get_chunk = packet(b"\x06" + ask)
        cl = headers.get("content-length")
        parts, packets, asks = [], 0, 0
        if cl is not None:
            try:
                remaining = int(cl)
            except ValueError:
                raise ProtocolError("bad content-length %r" % cl)
            first = True
            while remaining > 0:
                if not first:
                    self.request.sendall(get_chunk)
                    asks += 1
                first = False
                data = parse_body_packet(rd.packet())
                packets += 1
                if not data:
                    break
                parts.append(data)
                remaining -= len(data)
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            while True:
                self.request.sendall(get_chunk)
                asks += 1
                data = parse_body_packet(rd.packet())
                packets += 1
                if not data:
                    break
                parts.append(data)
        return b"".join(parts), packets, asks

    def session_of(self, req):
        uri = req["uri"] or ""
        if ";jsessionid=" in uri:
            return uri.split(";jsessionid=", 1)[1].split(";", 1)[0]
        for name, value in req["headers"]:
            if name.lower() == "cookie":
                for part in value.split(";"):
                    k, _, v = part.strip().partition("=")
                    if k == "JSESSIONID":
                        return v
        return None

    def exchange(self, rd, req):
        """Answers one request; False when the connection must close."""
        srv = self.server
        self.count += 1
        with srv.stats.lock:
            srv.stats.requests += 1
        if srv.secret is not None and req["attributes"].get("secret") != srv.secret:
            self.log("wrong or missing secret: 403")
            self.request.sendall(send_headers(403, []) + end_response(False))
            return False
        body, packets, asks = self.read_body(rd, req)
        path = (req["uri"] or "").split(";", 1)[0]
        endpoint = path.rstrip("/").rsplit("/", 1)[-1] if path.strip("/") else ""
        q = urllib.parse.parse_qs(req["query"] or "", keep_blank_values=True)
        arg = lambda k, d=None: q.get(k, [d])[0]  # noqa: E731

        session = self.session_of(req)
        extra = [("X-Backend", srv.route), ("X-Conn-Id", str(self.conn_id)),
                 ("X-Request-Count", str(self.count))]
        new_session = None
        if session is None:
            new_session = "%s.%s" % (secrets.token_hex(16).upper(), srv.route)
            extra.append(("Set-Cookie", "JSESSIONID=%s; Path=/" % new_session))

        if endpoint == "close":
            return False
        if endpoint == "hang":
            time.sleep(3600)
            return False
        if endpoint == "bad":
            self.request.sendall(self.malformed(arg("kind", "magic")))
            return False
        if endpoint == "stats":
            with srv.stats.lock:
                data = {"requests": srv.stats.requests, "connections": srv.stats.connections,
                        "open": srv.stats.open, "cpings": srv.stats.cpings}
            return self.respond(200, extra, json.dumps(data).encode(), req)
        if endpoint == "slow":
            time.sleep(int(arg("ms", "0")) / 1000.0)
        status = 200
        if endpoint == "status":
            status = int(arg("code", "200"))
        if endpoint == "redirect":
            status = 302
            extra.append(("Location", arg("to", "/")))
        if endpoint == "cookie":
            for v in q.get("v", []):
                extra.append(("Set-Cookie", v))
        if endpoint == "size":
            n = int(arg("n", "0"))
            return self.respond(status, extra, pattern(n), req, ctype="application/octet-stream",
                                length=arg("nolength") != "1", flush=arg("flush") == "1")
        info = {
            "route": srv.route, "conn_id": self.conn_id, "request_count": self.count,
            "method": req["method"], "method_code": req["method_code"],
            "protocol": req["protocol"], "uri": req["uri"], "query": req["query"],
            "remote_addr": req["remote_addr"], "remote_host": req["remote_host"],
            "server_name": req["server_name"], "server_port": req["server_port"],
            "is_ssl": req["is_ssl"], "headers": req["headers"],
            "coded_headers": req["coded_headers"], "attributes": req["attributes"],
            "body_length": len(body), "body_sha256": hashlib.sha256(body).hexdigest(),
            "body_pattern": body == pattern(len(body)),
            "body_packets": packets, "get_body_chunks": asks,
            "session": session, "new_session": new_session,
        }
        if len(body) <= 4096:
            info["body"] = body.decode("latin-1")
        reuse = endpoint != "noreuse"
        return self.respond(status, extra, json.dumps(info).encode(), req, reuse=reuse)

    def respond(self, status, extra, body, req, ctype="application/json", length=True,
                flush=False, reuse=True):
        no_body = status in (204, 304) or req["method"] == "HEAD"
        headers = [("Content-Type", ctype)] if status not in (204, 304) else []
        if length and status not in (204, 304):
            headers.append(("Content-Length", str(len(body))))
        headers += extra
        out = [send_headers(status, headers)]
        if flush:
            out.append(packet(b"\x03\x00\x00\x00"))
        if not no_body:
            out += body_chunks(body, self.server.packet_size)
        out.append(end_response(reuse))
        self.request.sendall(b"".join(out))
        return reuse

    def malformed(self, kind):
        ps = self.server.packet_size
        ok_head = send_headers(200, [("Content-Type", "text/plain")])
        if kind == "magic":
            return b"XY\x00\x01\x09"
        if kind == "oversize":
            return b"AB" + struct.pack(">H", ps) + b"\x03" * 64
        if kind == "type":
            return packet(b"\x07")
        if kind == "nonul":
            return packet(b"\x04\x00\xc8\x00\x02OK!\x00\x00")
        if kind == "crlf":
            return send_headers(200, [("X-Evil", "a\r\nInjected: 1")])
        if kind == "trunc":
            return ok_head[:len(ok_head) // 2]
        if kind == "bodylen":
            return ok_head + packet(b"\x03\x00\x09hi\x00")
        if kind == "http":
            return b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
        if kind == "status":
            return send_headers(101, [("Upgrade", "websocket")])
        if kind == "reuse":
            return ok_head + packet(b"\x05\x02")
        return b"XY"


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, route, secret, packet_size):
        family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.address_family = family
        super().__init__(addr, Handler)
        self.route = route
        self.secret = secret
        self.packet_size = packet_size
        self.stats = Stats()


def main():
    ap = argparse.ArgumentParser(description="fake AJP13 container for drover's tests")
    ap.add_argument("--listen", required=True, help="HOST:PORT (PORT 0: ephemeral)")
    ap.add_argument("--route", required=True, help="jvmRoute appended to new session ids")
    ap.add_argument("--port-file", help="write the bound port here")
    ap.add_argument("--secret", help="required secret (Tomcat's secret/secretRequired)")
    ap.add_argument("--packet-size", type=int, default=8192, help="8192..65536")
    a = ap.parse_args()
    if not 8192 <= a.packet_size <= 65536:
        ap.error("--packet-size must be 8192..65536")
    host, _, port = a.listen.rpartition(":")
    host = host.strip("[]")
    srv = Server((host, int(port)), a.route, a.secret, a.packet_size)
    bound = srv.server_address[1]

    def stop(signum, frame):
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % bound)
        os.rename(tmp, a.port_file)
    shown = "[%s]" % host if ":" in host else host
    print("listening on %s:%d" % (shown, bound), flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
