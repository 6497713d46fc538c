"""Large response bodies spliced member socket -> pipe -> client socket
(client.cc, "Splicing"): the bytes and their order, a client that stops reading, a
member that stops early, and the pipes a worker keeps."""
import os
import re
import socket
import threading
import time

import drover as dr

BIG = 1 << 20  # well over the splice threshold (64 KiB)
H = b"Host: front.example"


def proxied(drover, backend, workers="1"):
    b = backend("M")
    d = drover(global_={"WorkerProcesses": workers}, server={"ProxyPass": "/ %s/" % b.url})
    return d, b


def pipes_of(pid):
    """Pipe descriptors held by process `pid`."""
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("pipe:"):
                n += 1
        except OSError:
            pass  # closed meanwhile
    return n


def served_worker(d):
    """The one worker's pid, once it has answered a (small, unspliced) request: its
    own descriptors (libevent's signal pipe among them) exist from then on, so its
    pipe count before the test is stable."""
    (worker,) = d.wait_workers()
    assert dr.request(d.port, "GET", "/size?n=10").status == 200
    return worker


def read_response(sock, deadline):
    """Reads one response with a Content-Length body; returns (head bytes, body)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, "closed before the head: %r" % buf[:200]
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
    assert m, head
    want = int(m.group(1))
    parts = [body]
    got = len(body)
    while got < want:
        assert time.monotonic() < deadline, "body stalled at %d of %d bytes" % (got, want)
        chunk = sock.recv(1 << 20)
        assert chunk, "closed at %d of %d bytes" % (got, want)
        parts.append(chunk)
        got += len(chunk)
    body = b"".join(parts)
    assert len(body) == want, "%d bytes past the body" % (len(body) - want)
    return head, body


def test_spliced_bodies_are_exact_and_the_member_connection_is_reused(drover, backend):
    d, b = proxied(drover, backend)
    worker = served_worker(d)
    before = pipes_of(worker)
    deadline = time.monotonic() + 20
    with socket.create_connection((dr.LOOPBACK, d.port), timeout=10) as s:
        for n in (BIG, 100_000, 70_000, 65_536 + 1000, 3_000_000, 100):
            s.sendall(b"GET /size?n=%d HTTP/1.1\r\n%s\r\n\r\n" % (n, H))
            head, body = read_response(s, deadline)
            assert head.startswith(b"HTTP/1.1 200"), head
            assert body == dr.pattern(n), "body of %d bytes differs" % n
    # One member connection served all six (spliced bodies leave it reusable; the
    # stats request is the backend's second connection), and the worker keeps one
    # pipe (two descriptors) for the next body.
    assert b.stats()["connections"] == 2
    assert pipes_of(worker) == before + 2
    d.wait_access_log(r'"GET /size\?n=3000000 HTTP/1\.1" 200 3000000 ')


def test_client_that_stops_reading_gets_every_byte_later(drover, backend):
    d, b = proxied(drover, backend)
    n = 8 << 20  # more than the socket buffers and the pipe hold
    with socket.create_connection((dr.LOOPBACK, d.port), timeout=10) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        s.sendall(b"GET /size?n=%d HTTP/1.1\r\n%s\r\n\r\n" % (n, H))
        time.sleep(1.0)  # drover fills the client's socket and has to wait for it
        head, body = read_response(s, time.monotonic() + 30)
        assert body == dr.pattern(n)
        # The connection is still good for another (spliced) response.
        s.sendall(b"GET /size?n=%d HTTP/1.1\r\n%s\r\n\r\n" % (BIG, H))
        head, body = read_response(s, time.monotonic() + 20)
        assert body == dr.pattern(BIG)


def test_member_that_stops_mid_body_while_spliced(drover, backend):
    d, b = proxied(drover, backend)
    with socket.create_connection((dr.LOOPBACK, d.port), timeout=10) as s:
        s.sendall(b"GET /trunc?n=%d HTTP/1.1\r\n%s\r\n\r\n" % (4 * BIG, H))
        buf = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
        else:
            raise AssertionError("client connection left open")
    parsed, _ = dr.parse_responses(buf)
    assert len(parsed) == 1 and parsed[0].status == 200 and not parsed[0].complete
    # Everything the member sent (half its Content-Length) reached the client.
    assert parsed[0].body == dr.pattern(2 * BIG)
    d.wait_error_log(r"member %s failed during the response body" % re.escape(b.url))
    assert dr.request(d.port, "GET", "/size?n=%d" % BIG).body == dr.pattern(BIG)


def test_client_gone_mid_body_and_the_pipe_pool_stays_bounded(drover, backend):
    d, b = proxied(drover, backend)
    worker = served_worker(d)
    before = pipes_of(worker)
    # Clients that leave after the first bytes of a large body.
    for _ in range(5):
        s = socket.create_connection((dr.LOOPBACK, d.port), timeout=10)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        s.sendall(b"GET /size?n=%d HTTP/1.1\r\n%s\r\n\r\n" % (16 * BIG, H))
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
        s.close()
    # 24 large bodies at once: each needs a pipe; the worker keeps at most 16.
    errors = []

    def fetch():
        try:
            r = dr.request(d.port, "GET", "/size?n=%d" % (2 * BIG))
            if r.status != 200 or r.body != dr.pattern(2 * BIG):
                errors.append("status %d, %d bytes" % (r.status, len(r.body)))
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(repr(e))

    threads = [threading.Thread(target=fetch) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    dr.wait_until(lambda: pipes_of(worker) <= before + 2 * 16, what="spare pipes at most 16")
    assert pipes_of(worker) >= before + 2
    assert dr.request(d.port, "GET", "/size?n=%d" % BIG).body == dr.pattern(BIG)
    assert d.alive()
