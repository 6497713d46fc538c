"""Capacity (issue 5 part 4): one worker holds 10,000 idle keep-alive client
connections, each after a proxied request, and still serves new ones; the
memory an idle keep-alive connection costs is measured and bounded."""
import resource
import selectors
import socket
import subprocess
import time

import drover as dr

N = 10000
REQUEST = b"GET /app/size?n=100 HTTP/1.1\r\nHost: a\r\n\r\n"


def sanitized():
    out = subprocess.run([str(dr.DROVER), "-V"], capture_output=True, text=True,
                         timeout=10).stdout
    return "--with-sanitizers" in out


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return
    if hard < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return
        except (ValueError, OSError):
            pass
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))


def open_keepalive(port, n, deadline):
    """n connections, one request each, read to the end of its 100-byte response;
    returns the open sockets (the response counted by its length: head + 100)."""
    sel = selectors.DefaultSelector()
    socks = []
    want = {}
    batch = 500
    i = 0
    while i < n or want:
        assert time.monotonic() < deadline, "%d connections still waiting" % len(want)
        while i < n and len(want) < batch:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.connect((dr.LOOPBACK, port))
            s.sendall(REQUEST)
            s.setblocking(False)
            want[s] = b""
            sel.register(s, selectors.EVENT_READ)
            socks.append(s)
            i += 1
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            got = s.recv(65536)
            assert got, "drover closed a keep-alive connection"
            buf = want[s] + got
            head, sep, body = buf.partition(b"\r\n\r\n")
            if sep and len(body) >= 100:
                assert head.startswith(b"HTTP/1.1 200 "), head[:60]
                sel.unregister(s)
                del want[s]
            else:
                want[s] = buf
    sel.close()
    return socks


def test_one_worker_holds_10000_idle_keepalive_connections(drover, backend):
    raise_nofile(2 * N + 1000)
    b = backend("A")
    d = drover(global_={"WorkerProcesses": "1", "WorkerConnections": str(N + 1000)},
               server={"ProxyPass": "/app %s/app" % b.url, "KeepAliveTimeout": "60",
                       "CustomLog": "off"})
    # Room for the member connections that 500 requests in flight open too.
    worker = d.wait_workers()[0]
    # Warm up (pool connection, allocator arenas), then the baseline.
    for _ in range(3):
        assert dr.request(d.port, "GET", "/app/size?n=100").status == 200
    time.sleep(0.2)
    rss0 = dr.vmrss_kib(worker)
    socks = []
    try:
        socks = open_keepalive(d.port, N, time.monotonic() + 120)
        assert len(socks) == N
        time.sleep(0.5)
        rss = dr.vmrss_kib(worker)
        per_conn = (rss - rss0) * 1024 / N
        print("worker RSS %d KiB -> %d KiB with %d idle keep-alive connections: "
              "%.0f bytes each" % (rss0, rss, N, per_conn))
        # An idle keep-alive connection keeps no buffers: bound it at 4 KiB of
        # user memory (the kernel's socket buffers are not in RSS); AddressSanitizer
        # (configure --with-sanitizers, CI's second pass) pads every allocation.
        assert per_conn < (16384 if sanitized() else 4096), per_conn
        # New connections are still served, and the idle ones still work.
        assert dr.request(d.port, "GET", "/app/size?n=100").status == 200
        for s in (socks[0], socks[N // 2], socks[-1]):
            s.setblocking(True)
            s.settimeout(10)
            s.sendall(REQUEST)
            got = b""
            while b"\r\n\r\n" not in got or len(got.partition(b"\r\n\r\n")[2]) < 100:
                chunk = s.recv(65536)
                assert chunk
                got += chunk
            assert got.startswith(b"HTTP/1.1 200 ")
    finally:
        for s in socks:
            s.close()
    dr.wait_until(lambda: d.error_log() is not None, what="error log readable")
    assert "worker" not in "".join(
        line for line in d.error_log().splitlines() if "[emerg]" in line or "[alert]" in line)
