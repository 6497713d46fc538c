"""Slow and hostile clients (issue 4 part 2): RequestHeaderTimeout against
slowloris, WorkerConnections enforced by pausing accept, idle keep-alive
connections reclaimed first under pressure, KeepAliveTimeout, and AcceptFilter (the
kernel keeps a silent client until its first bytes)."""
import re
import socket
import time

import drover as dr


def app(drover, backend, **extra):
    b = backend("A")
    server = {"ProxyPass": "/app %s/app" % b.url}
    server.update(extra.pop("server", {}))
    return drover(server=server, **extra), b


def trickle(s, data, delay):
    """Sends `data` one byte per `delay` seconds, collecting what drover answers
    meanwhile, until drover closes; then reads to EOF (5 s at most). Returns what
    was read."""
    got_all = b""
    try:
        for c in data:
            s.sendall(bytes([c]))
            time.sleep(delay)
            s.setblocking(False)
            try:
                got = s.recv(4096)
                if not got:
                    break
                got_all += got
            except BlockingIOError:
                pass
            finally:
                s.setblocking(True)
    except (BrokenPipeError, ConnectionResetError):
        pass
    s.settimeout(5)
    try:
        while True:
            got = s.recv(4096)
            if not got:
                break
            got_all += got
    except (socket.timeout, ConnectionResetError):
        pass
    return got_all


def test_slowloris_head_times_out_with_408(drover, backend):
    d, b = app(drover, backend, server={"RequestHeaderTimeout": "2"})
    before = b.stats()["requests"]
    t0 = time.monotonic()
    with socket.create_connection((dr.LOOPBACK, d.port), timeout=10) as s:
        s.sendall(b"GET /app/x HTTP/1.1\r\nHost: a\r\n")
        # One header byte at a time, well inside Timeout each time.
        data = trickle(s, b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0.2)
    elapsed = time.monotonic() - t0
    assert data.startswith(b"HTTP/1.1 408 "), data[:100]
    assert elapsed < 8
    assert b.stats()["requests"] == before + 1  # only our own /stats calls


def test_slowloris_second_head_on_keepalive_connection_times_out_with_408(drover, backend):
    """RequestHeaderTimeout runs from a head's first byte on a kept-alive connection
    too (not from the KeepAliveTimeout, which is far longer here): drover arms it
    only when a read leaves the head incomplete."""
    d, b = app(drover, backend,
               server={"RequestHeaderTimeout": "2", "KeepAliveTimeout": "30"})
    with socket.create_connection((dr.LOOPBACK, d.port), timeout=10) as s:
        s.sendall(b"GET /app/x HTTP/1.1\r\nHost: a\r\n\r\n")
        buf = b""
        while b"A\n" not in buf:
            buf += s.recv(4096)
        time.sleep(1.5)  # idle, well inside KeepAliveTimeout
        t0 = time.monotonic()
        data = trickle(s, b"GET /app/x HTTP/1.1\r\nHost: a\r\nX-Slow: " + b"a" * 34, 0.1)
    elapsed = time.monotonic() - t0
    assert data.startswith(b"HTTP/1.1 408 "), data[:100]
    assert 1.5 < elapsed < 6, elapsed


def test_idle_connection_closed_after_keepalive_timeout(drover, backend):
    d, b = app(drover, backend, server={"KeepAliveTimeout": "1"})
    with socket.create_connection((dr.LOOPBACK, d.port), timeout=10) as s:
        s.sendall(b"GET /app/x HTTP/1.1\r\nHost: a\r\n\r\n")
        buf = b""
        while b"A\n" not in buf:
            buf += s.recv(4096)
        t0 = time.monotonic()
        s.settimeout(10)
        assert s.recv(4096) == b""  # closed by drover
        assert 0.5 < time.monotonic() - t0 < 5


def test_worker_connections_pause_accept_and_reclaim_idle(drover, backend):
    # One worker, room for 8 connections (clients + member connections).
    d, b = app(drover, backend, global_={"WorkerProcesses": "1", "WorkerConnections": "8"})
    idle = []
    try:
        # Idle keep-alive clients that have each made one request.
        for _ in range(6):
            s = socket.create_connection((dr.LOOPBACK, d.port), timeout=10)
            s.sendall(b"GET /app/x HTTP/1.1\r\nHost: a\r\n\r\n")
            buf = b""
            while b"A\n" not in buf:
                buf += s.recv(4096)
            idle.append(s)
        # More clients than fit: drover reclaims idle keep-alive connections
        # (oldest first) instead of refusing service; every new request is served.
        for i in range(6):
            r = dr.request(d.port, "GET", "/app/x")
            assert r.status == 200
        d.wait_error_log(r"WorkerConnections (pressure|8 reached)")
        closed = 0
        for s in idle:
            s.settimeout(0.2)
            try:
                if s.recv(4096) == b"":
                    closed += 1
            except socket.timeout:
                pass
            except ConnectionResetError:
                closed += 1
        assert closed >= 1
    finally:
        for s in idle:
            s.close()
    # Busy connections are never reclaimed: with the limit reached by clients
    # waiting on slow responses, accept pauses and resumes when they finish.
    assert dr.request(d.port, "GET", "/app/x").status == 200


def trickle_post(port, total, step, pause, limit_s):
    """POSTs a `total`-byte body `step` bytes every `pause` s; returns (response
    bytes, seconds until drover answered or closed)."""
    t0 = time.monotonic()
    data = b""
    with socket.create_connection((dr.LOOPBACK, port), timeout=10) as s:
        s.sendall(b"POST /app/upload HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % total)
        sent = 0
        s.setblocking(False)
        while sent < total and time.monotonic() - t0 < limit_s:
            try:
                s.sendall(b"x" * min(step, total - sent))
                sent += min(step, total - sent)
            except (BrokenPipeError, ConnectionResetError, BlockingIOError):
                break
            time.sleep(pause)
            try:
                got = s.recv(65536)
                if not got:
                    break
                data += got
                if b"\r\n\r\n" in data and not data.startswith(b"HTTP/1.1 100"):
                    break
            except BlockingIOError:
                pass
            except ConnectionResetError:
                break
        s.setblocking(True)
        s.settimeout(10)
        try:
            while True:
                got = s.recv(65536)
                if not got:
                    break
                data += got
                if b"\r\n\r\n" in data and len(data.partition(b"\r\n\r\n")[2]) > 0 and \
                        not data.startswith(b"HTTP/1.1 408"):
                    break
        except (socket.timeout, ConnectionResetError):
            pass
    return data, time.monotonic() - t0


def test_request_body_below_min_rate_gets_408(drover, backend):
    d, b = app(drover, backend, server={"RequestBodyTimeout": "2",
                                        "RequestBodyMinRate": "100"})
    # 10 bytes every 0.5 s is 20 bytes/s: the 2 s deadline moves only 0.1 s per
    # 10 bytes, so it passes after about 2.5 s.
    data, took = trickle_post(d.port, 10000, 10, 0.5, 15)
    assert data.startswith(b"HTTP/1.1 408 "), data[:120]
    assert b"connection: close" in data.lower()
    assert 2.0 <= took < 6, took
    d.wait_error_log(r"request body too slow")
    # The member never got a complete request, and drover still serves.
    assert dr.request(d.port, "GET", "/app/x").status == 200


def test_request_body_at_min_rate_is_accepted(drover, backend):
    d, b = app(drover, backend, server={"RequestBodyTimeout": "1",
                                        "RequestBodyMinRate": "1000"})
    # 1000 bytes every 0.4 s (2500 bytes/s) for 1.6 s: longer than the 1 s
    # timeout, but each 1000 bytes add a second.
    data, took = trickle_post(d.port, 4000, 1000, 0.4, 15)
    assert data.startswith(b"HTTP/1.1 200 "), data[:200]
    assert took >= 1.2
    assert b'"bytes": 4000' in data or b'"bytes":4000' in data, data[-200:]


def silent_client_outcome(port, wait):
    """Connects, sends nothing for `wait` seconds, then a request. Returns (what
    drover did meanwhile: "open", "closed" or the bytes it sent, and the answer to the
    request if the connection was still open)."""
    with socket.create_connection((dr.LOOPBACK, port), timeout=wait) as s:
        try:
            got = s.recv(4096)
            return ("closed" if got == b"" else got), None
        except socket.timeout:
            pass
        s.settimeout(5)
        s.sendall(b"GET /app/late HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        answer = b""
        while True:
            got = s.recv(65536)
            if not got:
                return "open", answer
            answer += got


def test_accept_filter_data_hands_over_connections_with_their_first_bytes(drover, backend):
    # The default (AcceptFilter http data, as Apache on Linux): the kernel keeps a
    # connection until its first bytes come, so RequestHeaderTimeout does not run for a
    # client that sends nothing, and the request it sends later is served.
    d, b = app(drover, backend, server={"RequestHeaderTimeout": "1"})
    state, answer = silent_client_outcome(d.port, 3)
    assert state == "open"
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:100]
    # With none, drover sees the connection at once and times it out; a reload
    # applies the change to the listening sockets it keeps.
    d.write_config(server=dict(d.server, AcceptFilter=["http none", "https data"]))
    d.reload(wait_old_exit=True)
    t0 = time.monotonic()
    state, _ = silent_client_outcome(d.port, 4)
    assert state != "open" and time.monotonic() - t0 < 3.5, state
    # And back.
    d.write_config(server=dict(d.server, AcceptFilter="http data"))
    d.reload(wait_old_exit=True)
    state, answer = silent_client_outcome(d.port, 3)
    assert state == "open" and answer.startswith(b"HTTP/1.1 200 "), (state, answer[:100])


def test_accept_filter_syntax_errors_name_the_line(drover):
    for value, message in [("ftp data", "unknown protocol 'ftp'"),
                           ("http ready", "unknown filter 'ready'"),
                           ("http", "expected 'PROTOCOL FILTER'")]:
        d = drover(start=False, server={"ProxyPass": "/ http://127.0.0.1:1/",
                                        "AcceptFilter": value})
        rc, out = d.test_config()
        assert rc != 0 and re.search(r"drover\.conf:\d+: .*" + re.escape(message), out), out
    d = drover(start=False, server={"ProxyPass": "/ http://127.0.0.1:1/",
                                    "AcceptFilter": ["https none", "HTTP httpready"]})
    rc, out = d.test_config("-T")
    assert rc == 0, out
    assert "AcceptFilter = http data" in out and "AcceptFilter = https none" in out, out
