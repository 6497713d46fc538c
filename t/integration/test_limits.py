"""Slow and hostile clients (issue 4 part 2): RequestHeaderTimeout against
slowloris, WorkerConnections enforced by pausing accept, idle keep-alive
connections reclaimed first under pressure, KeepAliveTimeout."""
import socket
import time

import drover as dr


def app(drover, backend, **extra):
    b = backend("A")
    server = {"ProxyPass": "/app %s/app" % b.url}
    server.update(extra.pop("server", {}))
    return drover(server=server, **extra), b


def test_slowloris_head_times_out_with_408(drover, backend):
    d, b = app(drover, backend, server={"RequestHeaderTimeout": "2"})
    before = b.stats()["requests"]
    t0 = time.monotonic()
    with socket.create_connection((dr.LOOPBACK, d.port), timeout=10) as s:
        s.sendall(b"GET /app/x HTTP/1.1\r\nHost: a\r\n")
        # Trickle one header byte at a time, well inside Timeout each time.
        data = b""
        try:
            for c in b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa":
                s.sendall(bytes([c]))
                time.sleep(0.2)
                s.setblocking(False)
                try:
                    got = s.recv(4096)
                    if not got:
                        break
                    data += got
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
                data += got
        except (socket.timeout, ConnectionResetError):
            pass
    elapsed = time.monotonic() - t0
    assert data.startswith(b"HTTP/1.1 408 "), data[:100]
    assert elapsed < 8
    assert b.stats()["requests"] == before + 1  # only our own /stats calls


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
