"""build/drover-relay (bench/relay.cc), the kernel-floor reference of bench/compare.py:
it must really carry every byte both ways, pair each client connection with one
backend connection (backends in turn), hold a large response for a slow reader, and
stop with its workers on SIGTERM. A relay that dropped or reordered bytes would make
the floor it reports meaningless."""
import signal
import socket
import subprocess
import time

import pytest

import drover as dr

RELAY = dr.BUILD / "drover-relay"


@pytest.fixture
def relay(workdir):
    """relay(backend_ports, workers=1) -> (Popen, port)."""
    if not RELAY.exists():
        pytest.fail("%s is missing: run `make`" % RELAY)
    started = []

    def make(backend_ports, workers=1):
        port = dr.free_port()
        log = open(workdir / ("relay-%d.log" % port), "wb")
        p = subprocess.Popen([str(RELAY), str(port)] + [str(b) for b in backend_ports]
                             + ["-w", str(workers)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        started.append(p)
        dr.wait_until(lambda: dr.port_open(port), what="drover-relay listening")
        return p, port

    yield make
    for p in started:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=dr.STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def test_pairs_each_connection_with_one_backend_in_turn(backend, relay):
    a, b = backend("A"), backend("B")
    _, port = relay([a.port, b.port])
    seen = []
    clients = [dr.Client(port) for _ in range(4)]
    try:
        for c in clients:
            bodies = {c.request("GET", "/x?i=%d" % i).body for i in range(3)}
            assert len(bodies) == 1, bodies  # one backend per connection
            seen.append(bodies.pop())
    finally:
        for c in clients:
            c.close()
    # One worker takes the backends in turn, connection after connection.
    assert sorted(seen) == [b"A\n", b"A\n", b"B\n", b"B\n"]
    assert seen[0] != seen[1] and seen[1] != seen[2]


def test_carries_request_bodies_and_large_responses_to_a_slow_reader(backend, relay):
    a = backend("A")
    _, port = relay([a.port])
    body = dr.pattern(300000)
    r = dr.request(port, "POST", "/upload?pattern=1", body=body)
    assert r.status == 200, r
    assert r.json()["bytes"] == len(body) and r.json()["pattern"] is True
    n = 3 * 1024 * 1024
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    s.settimeout(10)
    s.connect((dr.LOOPBACK, port))
    try:
        s.sendall(b"GET /size?n=%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % n)
        time.sleep(0.5)  # the relay's send to this client blocks meanwhile
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, got = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:80]
    assert len(got) == n
    assert got == dr.pattern(n)


def test_sigterm_stops_the_relay_and_its_workers(backend, relay):
    a = backend("A")
    p, port = relay([a.port], workers=2)
    kids = dr.wait_until(lambda: len(dr.children_of(p.pid)) == 2 and dr.children_of(p.pid),
                         what="two relay workers")
    assert dr.request(port, "GET", "/").body == b"A\n"
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=5) == 0
    dr.wait_until(lambda: not any(dr.pid_alive(k) for k in kids), timeout=5,
                  what="relay workers gone")


def test_bad_arguments_are_a_usage_error():
    for args in ([], ["8080"], ["8080", "x"], ["8080", "9090", "-w", "0"]):
        r = subprocess.run([str(RELAY)] + args, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=5)
        assert r.returncode == 2, args
        assert b"usage: drover-relay" in r.stderr
