#!/usr/bin/python3
"""bench/compare.py — drover against nginx and HAProxy on loopback (`make compare`).

Starts two drover-backend instances, then in turn drover, nginx and HAProxy as
equivalent round-robin balancers over them (keep-alive to the backends, no access
log), and drives each with wrk. Measures requests/s, p50/p99 latency, CPU time per
request of the proxy's whole process tree (utime+stime of the master and every
worker from /proc/PID/stat, after minus before, divided by the completed requests)
and the workers' peak RSS (VmHWM). Also runs wrk against one backend directly as
the baseline. Prints a markdown table with ratios to nginx, writes
bench/results/compare-<date>.csv and a gnuplot PNG, and checks that drover spread
the requests exactly (the backends' counts differ by at most 1).

Latency at the same offered load: wrk is closed-loop (64 connections, each sends its
next request when the last one is answered), so every proxy runs at its own maximum
and their latencies are not comparable. So after the wrk runs of a scenario at a
worker count, each proxy is started afresh once more and driven by
build/drover-openloop (bench/openloop.cc, open loop as wrk2: a constant rate, latency
measured from each request's due time) at the same rate for all: --latency-load
(default 0.6) of the lowest req/s any proxy reached in those wrk runs, rounded down
to 100 req/s. Prints a second table (p50/p99/p99.9/max, achieved req/s, the proxy's
CPU time per request at that load) and writes compare-<date>-latency.csv.
--no-latency skips these runs. --latency-interleave N runs them instead with every
proxy up at once, in N slices taking turns, each proxy's percentiles over all its
slices' latencies together (latency_interleaved()).

CPU layout: the proxy gets its own cores when there are enough. On a 2-core host
the proxy runs on cpu 0 with 1 worker, wrk and the backends on cpu 1. On bigger
hosts the first half of the allowed cpus is for the proxy (1, 2, 4 ... P workers
pinned to as many cores) and wrk plus the backends share the rest. On 1 cpu
nothing is pinned.

Python 3 standard library only; installs nothing (the Makefile runs
tools/install-deps.sh --bench first). Every process started here is stopped by
its pid (SIGTERM, then SIGKILL after a deadline); temp dirs are removed unless
--keep is given. Usage: bench/compare.py [--quick] [--duration S] [--tls] [--help]

--proxies drover,nginx,haproxy,relay adds build/drover-relay (bench/relay.cc), the
kernel's floor: a byte copier between each client connection and a backend
connection of its own, with the proxies' system calls and TCP segments per request
and no HTTP work. Keep-alive scenarios only; not with --tls.

--tls: the proxies terminate TLS (TLS 1.3 only, one ECDSA P-256 certificate made
with the openssl command, each proxy's default TLS 1.3 suites, which OpenSSL 3
negotiates to TLS_AES_256_GCM_SHA384 with wrk) and wrk speaks https; members stay
plain HTTP. small-close is then one full handshake per request (wrk does not
resume sessions): new handshakes/s. No backend-direct baseline, and no open-loop
runs (drover-openloop speaks plain HTTP only).
"""
from __future__ import annotations

import argparse
import csv
import datetime
import functools
import glob
import grp
import json
import math
import os
import platform
import pwd
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = Path(os.environ.get("DROVER_BUILD", str(ROOT / "build"))).resolve()
DROVER = BUILD / "drover"
BACKEND = BUILD / "drover-backend"
OPENLOOP = BUILD / "drover-openloop"
RELAY = BUILD / "drover-relay"
RESULTS = ROOT / "bench" / "results"
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")

SCENARIOS = {
    # name: (path, extra wrk headers, description)
    "small-ka": ("/size?n=100", [], "100 B body, client keep-alive"),
    "small-close": ("/size?n=100", ["Connection: close"], "100 B body, client Connection: close"),
    "64k-ka": ("/size?n=65536", [], "64 KiB body, client keep-alive"),
    # Not in the default set: large bodies, where drover splices (man drover.conf).
    "1m-ka": ("/size?n=1048576", [], "1 MiB body, client keep-alive"),
}
DEFAULT_SCENARIOS = ("small-ka", "small-close", "64k-ka")
PROXIES = ("drover", "nginx", "haproxy")
# Not a proxy: build/drover-relay (bench/relay.cc) copies bytes between each client
# connection and a backend connection of its own, with no HTTP work. `--proxies
# drover,nginx,haproxy,relay` adds it as the kernel's floor for a proxy's CPU per
# request; it runs in the keep-alive scenarios only (it would pass Connection: close on
# to the backend and open a backend connection per request).
FLOOR = "relay"
# --tls: {"cert": path, "key": path, "pem": cert+key path}; empty = plain HTTP.
TLS = {}


def make_tls_cert(d: Path):
    """A self-signed ECDSA P-256 certificate for 127.0.0.1 in `d` (fills TLS)."""
    key, crt, pem = d / "bench.key", d / "bench.crt", d / "bench.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, timeout=30,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pem.write_text(crt.read_text() + key.read_text())
    TLS.update(cert=str(crt), key=str(key), pem=str(pem))


def log(msg):
    print("compare: " + msg, file=sys.stderr, flush=True)


class Failure(Exception):
    pass


# ------------------------------------------------------------------------------------
# processes and /proc


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def stat_fields(pid: int):
    """Fields of /proc/PID/stat after the comm field (index 0 = state), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def alive(pid: int) -> bool:
    f = stat_fields(pid)
    return f is not None and f[0] not in ("Z", "X")


def children_of(pid: int) -> list:
    kids = set()
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                    kids.update(int(x) for x in f.read().split())
            except OSError:
                pass
    except OSError:
        return []
    return sorted(k for k in kids if alive(k))


def tree(pid: int) -> list:
    """pid and all its live descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        if alive(p):
            out.append(p)
            todo.extend(children_of(p))
    return out


def cpu_ticks(pids) -> int:
    """utime + stime (clock ticks) summed over pids (threads included)."""
    total = 0
    for p in pids:
        f = stat_fields(p)
        if f is not None:
            total += int(f[11]) + int(f[12])  # fields 14 and 15 of stat(5)
    return total


def tcp_out_segs() -> int:
    """TCP segments sent by the whole network namespace (/proc/net/snmp OutSegs): on
    loopback each one is also received here, so per request it counts the packets that
    wrk, the proxy and the backends exchanged."""
    lines = [l.split() for l in read_text(Path("/proc/net/snmp")).splitlines()
             if l.startswith("Tcp:")]
    if len(lines) < 2 or "OutSegs" not in lines[0]:
        return 0
    return int(lines[1][lines[0].index("OutSegs")])


def sleeps(pids) -> int:
    """Voluntary context switches summed over pids and their threads: how often the
    proxy went to sleep (in epoll_wait, mostly) and had to be woken again."""
    total = 0
    for p in pids:
        for st in glob.glob("/proc/%d/task/*/status" % p):
            try:
                with open(st) as f:
                    for line in f:
                        if line.startswith("voluntary_ctxt_switches:"):
                            total += int(line.split()[1])
            except (OSError, ValueError):
                pass
    return total


def status_kib(pid: int, key: str) -> int:
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Proc:
    """A started process, stopped by pid: SIGTERM, wait, SIGKILL after `timeout`.
    Descendants seen while it ran (workers) are SIGKILLed if they outlive it."""

    def __init__(self, name, args, cwd, cpus=None, out_path=None):
        self.name = name
        if cpus is not None and shutil.which("taskset"):
            args = ["taskset", "-c", ",".join(str(c) for c in cpus)] + list(args)
        self.out = open(out_path or os.devnull, "ab")
        self.args = args
        self.popen = subprocess.Popen(args, cwd=str(cwd), stdin=subprocess.DEVNULL,
                                      stdout=self.out, stderr=subprocess.STDOUT)
        self.pid = self.popen.pid
        self.seen = set()
        self.exe = None

    def running(self):
        return self.popen.poll() is None

    def descendants(self):
        if not self.running():
            return []
        kids = [p for p in tree(self.pid) if p != self.pid]
        self.seen.update(kids)
        if self.exe is None:
            try:
                self.exe = os.path.realpath("/proc/%d/exe" % self.pid)
            except OSError:
                pass
        return kids

    def stop(self, timeout=5.0) -> bool:
        """Returns False when SIGKILL was needed."""
        clean = True
        if self.running():
            self.descendants()
            try:
                self.popen.send_signal(signal.SIGTERM)
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                log("%s (pid %d) did not stop in %.0fs: SIGKILL" % (self.name, self.pid, timeout))
                clean = False
                self.popen.kill()
                self.popen.wait(timeout)
        deadline = time.monotonic() + timeout
        for p in sorted(self.seen):
            while alive(p) and time.monotonic() < deadline:
                time.sleep(0.02)
            if alive(p) and self.exe and os.path.realpath("/proc/%d/exe" % p) == self.exe:
                log("%s child %d outlived its parent: SIGKILL" % (self.name, p))
                clean = False
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
        self.out.close()
        return clean


def wait_port(proc: Proc, port: int, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.running():
            raise Failure("%s exited with %s" % (proc.name, proc.popen.returncode))
        if port_open(port):
            return
        time.sleep(0.02)
    raise Failure("%s did not accept on port %d within %.0fs" % (proc.name, port, timeout))


# ------------------------------------------------------------------------------------
# backends


class Backend:
    def __init__(self, name, workdir, cpus, procs):
        self.name = name
        port_file = workdir / ("%s.port" % name)
        args = [str(BACKEND), "--listen", "%s:0" % HOST, "--name", name,
                "--port-file", str(port_file)]
        if procs > 1:
            args += ["--procs", str(procs)]
        self.proc = Proc("backend " + name, args, workdir, cpus, workdir / ("%s.log" % name))
        deadline = time.monotonic() + 10
        while True:
            if not self.proc.running():
                raise Failure("drover-backend %s exited" % name)
            try:
                text = port_file.read_text().strip()
                if text:
                    self.port = int(text)
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise Failure("drover-backend %s wrote no port file" % name)
            time.sleep(0.02)

    def snapshot(self) -> tuple:
        """(requests, connections, stats calls so far) of this backend process. The
        /stats request counts itself in both counters: `calls` lets deltas remove it."""
        self.calls = getattr(self, "calls", 0) + 1
        with urllib.request.urlopen("http://%s:%d/stats" % (HOST, self.port), timeout=10) as r:
            st = json.loads(r.read())
        return int(st["requests"]), int(st["connections"]), self.calls


def delta(after, before) -> tuple:
    """(requests, connections) between two snapshots of one backend, without the
    /stats requests made in between (the one of `after` included)."""
    calls = after[2] - before[2]
    return after[0] - before[0] - calls, after[1] - before[1] - calls


def settle(backends, timeout=5.0) -> list:
    """Snapshots of the backends once their counts stop moving (in-flight requests
    have landed)."""
    prev = [b.snapshot() for b in backends]
    deadline = time.monotonic() + timeout
    while True:
        time.sleep(0.1)
        cur = [b.snapshot() for b in backends]
        if all(delta(c, p) == (0, 0) for c, p in zip(cur, prev)) or \
                time.monotonic() > deadline:
            return cur
        prev = cur


# ------------------------------------------------------------------------------------
# proxy configurations


def identity():
    """(user, group) for workers when running as root, else None."""
    if os.geteuid() != 0:
        return None
    try:
        pw = pwd.getpwnam("nobody")
        return "nobody", grp.getgrgid(pw.pw_gid).gr_name
    except KeyError:
        return None


def drover_config(d: Path, port, workers, backends) -> list:
    ident = identity()
    lines = ["[global]", "WorkerProcesses = %d" % workers,
             "ErrorLog = %s" % (d / "error.log"), "PidFile = %s" % (d / "drover.pid"),
             "LogLevel = warn"]
    if ident:
        lines += ["User = %s" % ident[0], "Group = %s" % ident[1]]
    lines += ["", "[server]", "Listen = %s:%d%s" % (HOST, port, " ssl" if TLS else ""),
              "CustomLog = off"]
    if TLS:
        lines += ["SSLCertificateFile = %s" % TLS["cert"],
                  "SSLCertificateKeyFile = %s" % TLS["key"], "SSLProtocol = TLSv1.3"]
    lines += ["ProxyPass = / balancer://b/", "", "[balancer://b]"]
    lines += ["BalancerMember = http://%s:%d" % (HOST, b.port) for b in backends]
    (d / "drover.conf").write_text("\n".join(lines) + "\n")
    return [str(DROVER), "-F", "-c", str(d / "drover.conf")]


def nginx_config(d: Path, port, workers, backends) -> list:
    ident = identity()
    servers = "".join("        server %s:%d;\n" % (HOST, b.port) for b in backends)
    temp = "".join("    %s_temp_path %s;\n" % (k, d / k)
                   for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = (
        ("user %s %s;\n" % ident if ident else "")
        + "daemon off;\nmaster_process on;\nworker_processes %d;\n" % workers
        + "pid %s;\nerror_log %s warn;\n" % (d / "nginx.pid", d / "error.log")
        + "events {\n    worker_connections 10240;\n}\n"
        + "http {\n    access_log off;\n" + temp
        + "    upstream b {\n" + servers + "        keepalive 64;\n    }\n"
        + "    server {\n        listen %s:%d%s;\n" % (HOST, port, " ssl" if TLS else "")
        + ("        ssl_certificate %s;\n        ssl_certificate_key %s;\n"
           "        ssl_protocols TLSv1.3;\n" % (TLS["cert"], TLS["key"]) if TLS else "")
        + "        location / {\n            proxy_pass http://b;\n"
        + "            proxy_http_version 1.1;\n"
        + "            proxy_set_header Connection \"\";\n"
        # Stream bodies through memory like drover and HAProxy, never via temp files.
        + "            proxy_max_temp_file_size 0;\n"
        + "        }\n    }\n}\n")
    (d / "nginx.conf").write_text(conf)
    return [shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(d), "-e", str(d / "error.log"),
            "-c", str(d / "nginx.conf")]


def haproxy_config(d: Path, port, workers, backends) -> list:
    servers = "".join("    server b%d %s:%d\n" % (i + 1, HOST, b.port)
                      for i, b in enumerate(backends))
    # No maxconn: HAProxy derives it from the fd limit (asking for more than the
    # limit allows is a fatal error).
    conf = ("global\n    nbthread %d\n\n" % workers
            + "defaults\n    mode http\n    timeout connect 5s\n    timeout client 60s\n"
            + "    timeout server 60s\n    option http-keep-alive\n    http-reuse always\n\n"
            + "frontend fe\n    bind %s:%d%s\n    default_backend be\n\n" % (
                HOST, port, " ssl crt %s ssl-min-ver TLSv1.3" % TLS["pem"] if TLS else "")
            + "backend be\n    balance roundrobin\n" + servers)
    (d / "haproxy.cfg").write_text(conf)
    return [shutil.which("haproxy") or "/usr/sbin/haproxy", "-db", "-f", str(d / "haproxy.cfg")]


def relay_config(d: Path, port, workers, backends) -> list:
    return [str(RELAY), str(port)] + [str(b.port) for b in backends] + ["-w", str(workers)]


CONFIGS = {"drover": drover_config, "nginx": nginx_config, "haproxy": haproxy_config,
           FLOOR: relay_config}


def runs_in(kind, scenario) -> bool:
    """Whether `kind` is measured in `scenario` (the relay only with keep-alive)."""
    return kind != FLOOR or not SCENARIOS[scenario][1]


def start_proxy(kind, tmp_root: Path, workers, backends, cpus) -> tuple:
    """Starts proxy `kind` in a fresh dir; returns (Proc, port, dir)."""
    last = ""
    for _ in range(3):
        d = Path(tempfile.mkdtemp(prefix="%s-" % kind, dir=str(tmp_root)))
        os.chmod(d, 0o755)  # workers may run as nobody
        port = free_port()
        args = CONFIGS[kind](d, port, workers, backends)
        proc = Proc(kind, args, d, cpus, d / "stdout.log")
        try:
            wait_port(proc, port)
            # Let the workers come up (nginx/drover fork after binding).
            deadline = time.monotonic() + 10
            want = workers if kind in ("drover", "nginx", FLOOR) else 0
            while len(proc.descendants()) < want and time.monotonic() < deadline:
                time.sleep(0.02)
            return proc, port, d
        except Failure as e:
            proc.stop()
            last = "%s\n%s%s" % (e, read_text(d / "stdout.log"), read_text(d / "error.log"))
    raise Failure("could not start %s: %s" % (kind, last))


def rel(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(ROOT))
    except ValueError:
        return str(p)


def read_text(p: Path) -> str:
    try:
        return p.read_text(errors="replace")
    except OSError:
        return ""


# ------------------------------------------------------------------------------------
# wrk


def to_ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if not m:
        return float("nan")
    v = float(m.group(1))
    return v * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[m.group(2)]


def run_wrk(port, scenario, duration, threads, connections, cpus) -> dict:
    path, headers, _ = SCENARIOS[scenario]
    args = ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % duration, "--latency"]
    for h in headers:
        args += ["-H", h]
    args.append("%s://%s:%d%s" % ("https" if TLS else "http", HOST, port, path))
    if cpus is not None and shutil.which("taskset"):
        args = ["taskset", "-c", ",".join(str(c) for c in cpus)] + args
    try:
        p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=duration + 60)
    except subprocess.TimeoutExpired:
        raise Failure("wrk did not finish within %ds" % (duration + 60))
    out = p.stdout.decode(errors="replace")
    r = {"wrk_output": out, "requests": 0, "rps": 0.0, "p50_ms": float("nan"),
         "p99_ms": float("nan"), "non2xx": 0, "err_connect": 0, "err_read": 0,
         "err_write": 0, "err_timeout": 0, "wrk_seconds": float(duration)}
    m = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    if m:
        r["requests"] = int(m.group(1))
        r["wrk_seconds"] = to_ms(m.group(2) + m.group(3)) / 1000.0
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        r["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(r"^\s+%s%%\s+(\S+)" % pct, out, re.M)
        if m:
            r[key] = to_ms(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if m:
        r["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        r["err_connect"], r["err_read"], r["err_write"], r["err_timeout"] = map(int, m.groups())
    if p.returncode != 0 or not r["requests"]:
        raise Failure("wrk failed (exit %d):\n%s" % (p.returncode, out))
    return r


# ------------------------------------------------------------------------------------
# drover-openloop


def offered_rate(reached, load) -> int:
    """The open-loop rate of a scenario at a worker count: `load` times the lowest req/s
    in `reached` (every wrk run of every proxy), rounded down to 100 req/s."""
    return int(min(reached) * load) // 100 * 100


def run_openloop(port, scenario, rate, at_start, at_end, ctx, extra=()) -> dict:
    """drover-openloop against `port` at `rate` req/s, pinned like wrk, for the warm-up
    and then the measured seconds; calls at_start() and at_end() when its measured
    window starts and ends (it says so on stderr). Returns its JSON figures."""
    a = ctx.args
    path, headers, _ = SCENARIOS[scenario]
    args = [str(OPENLOOP), "--host", HOST, "--port", str(port), "--path", path,
            "--rate", str(rate), "--connections", str(a.connections),
            "--duration", str(a.duration), "--warmup", str(a.warmup)] + list(extra)
    for h in headers:
        args += ["--close"] if h.lower() == "connection: close" else ["--header", h]
    if ctx.load_cpus is not None and shutil.which("taskset"):
        args = ["taskset", "-c", ",".join(str(c) for c in ctx.load_cpus)] + args
    # It bounds itself (5 s to connect, the run, 5 s for the last responses); margin.
    limit = a.warmup + a.duration + 30
    deadline = time.monotonic() + limit
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    err = b""
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("drover-openloop did not finish within %ds" % limit)
            if not select.select([p.stderr], [], [], left)[0]:
                continue
            chunk = os.read(p.stderr.fileno(), 4096)
            if not chunk:
                break
            lines = (err[err.rfind(b"\n") + 1:] + chunk).split(b"\n")[:-1]
            err += chunk
            for line in lines:
                if line == b"drover-openloop: measuring":
                    at_start()
                elif line == b"drover-openloop: stopped sending":
                    at_end()
                else:
                    log(line.decode(errors="replace"))
        out = p.stdout.read()
        p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)
        p.stdout.close()
        p.stderr.close()
    text = err.decode(errors="replace").strip()
    if p.returncode != 0:
        raise Failure("drover-openloop failed (exit %d): %s" % (p.returncode, text))
    try:
        return json.loads(out)
    except ValueError:
        raise Failure("drover-openloop printed no JSON: %r %s" % (out[:200], text))


def openloop_window(proc: Proc, port, scenario, rate, ctx, latencies=None) -> dict:
    """One drover-openloop run at `rate` req/s against the running proxy `proc`: its
    JSON figures, with the CPU time of the proxy's process tree during the tool's
    measured window (cpu_s, cpu_util) and, per request completed in it,
    cpu_us_per_req and sleeps_per_req. `latencies`: a path for the tool's
    --latencies file."""
    marks = {}

    def at_start():
        marks["pids"] = tree(proc.pid)
        marks["start"] = (time.monotonic(), cpu_ticks(marks["pids"]), sleeps(marks["pids"]))

    def at_end():
        pids = set(marks.get("pids", [])) | set(tree(proc.pid))
        marks["end"] = (time.monotonic(), cpu_ticks(pids), sleeps(pids))

    extra = ["--latencies", str(latencies)] if latencies else []
    row = run_openloop(port, scenario, rate, at_start, at_end, ctx, extra)
    if "start" not in marks or "end" not in marks:
        raise Failure("drover-openloop did not mark its measured window")
    (w0, t0, z0), (w1, t1, z1) = marks["start"], marks["end"]
    cpu_s = (t1 - t0) / CLK_TCK
    done = row["completed"]
    row.update(cpu_s=cpu_s, cpu_util=cpu_s / (w1 - w0) if w1 > w0 else 0.0,
               cpu_us_per_req=cpu_s * 1e6 / done if done else float("nan"),
               sleeps_per_req=(z1 - z0) / done if done else float("nan"),
               wall_s=w1 - w0, sleeps=z1 - z0)
    return row


def measure_latency(kind, scenario, workers, rate, ctx) -> dict:
    """Starts `kind` afresh (same configuration and cpus as measure()), drives it with
    drover-openloop at `rate` req/s, stops it. CPU per request = CPU time of the
    proxy's process tree during the tool's measured window / the requests of that
    window it completed."""
    row = {"proxy": kind, "scenario": scenario, "workers": workers, "offered_rps": rate}
    cpus = ctx.proxy_cpus[:workers] if ctx.proxy_cpus else None
    row["proxy_cpus"] = ",".join(map(str, cpus)) if cpus else "any"
    proc, port, d = start_proxy(kind, ctx.tmp, workers, ctx.backends, cpus)
    row["dir"] = d
    try:
        row.update(openloop_window(proc, port, scenario, rate, ctx))
        if not proc.running():
            row["note"] = "%s exited during the run with %s" % (kind, proc.popen.returncode)
        return row
    finally:
        t = time.monotonic()
        if not proc.stop() and "note" not in row:
            row["note"] = "%s did not exit within 5 s of SIGTERM (SIGKILLed)" % kind
        row["stop_s"] = time.monotonic() - t
        if kind == "drover":
            row["drover_log"] = read_text(d / "error.log") + read_text(d / "stdout.log")


# ------------------------------------------------------------------------------------
# one measurement


def measure(kind, scenario, workers, ctx) -> dict:
    """Starts `kind` (or uses backend 1 directly for kind == "direct"), warms up,
    runs wrk, collects the figures, stops the proxy."""
    a = ctx.args
    backends = ctx.backends
    counted = ctx.backend_procs == 1  # /stats covers the whole backend
    row = {"proxy": kind, "scenario": scenario, "workers": workers}
    proc = None
    at_start = None
    try:
        if kind == "direct":
            port, root_pid = backends[0].port, backends[0].proc.pid
            row["proxy_cpus"] = ",".join(map(str, ctx.load_cpus or [])) or "any"
        else:
            if counted:
                at_start = [b.snapshot() for b in backends]
            cpus = ctx.proxy_cpus[:workers] if ctx.proxy_cpus else None
            row["proxy_cpus"] = ",".join(map(str, cpus)) if cpus else "any"
            proc, port, d = start_proxy(kind, ctx.tmp, workers, backends, cpus)
            root_pid = proc.pid
            row["dir"] = d
        if a.warmup > 0:
            run_wrk(port, scenario, a.warmup, ctx.threads, a.connections, ctx.load_cpus)
        before = settle(backends) if counted and proc is not None else None
        pids = tree(root_pid)
        t0, z0, g0 = cpu_ticks(pids), sleeps(pids), tcp_out_segs()
        res = run_wrk(port, scenario, a.duration, ctx.threads, a.connections, ctx.load_cpus)
        g1 = tcp_out_segs()
        pids_after = tree(root_pid)
        t1, z1 = cpu_ticks(set(pids) | set(pids_after)), sleeps(set(pids) | set(pids_after))
        row["sleeps_per_req"] = (z1 - z0) / res["requests"]
        row["segs_per_req"] = (g1 - g0) / res["requests"]
        row.update(res)
        if proc is not None:
            if kind == "haproxy":
                wpids = [root_pid]  # threads in one process
            else:
                wpids = proc.descendants()
            row["rss_kib"] = max([status_kib(p, "VmHWM") for p in wpids] or [0])
        else:
            row["rss_kib"] = status_kib(root_pid, "VmHWM")
        cpu_s = (t1 - t0) / CLK_TCK
        row["cpu_s"] = cpu_s
        row["cpu_util"] = cpu_s / res["wrk_seconds"] if res["wrk_seconds"] else 0.0
        row["cpu_us_per_req"] = cpu_s * 1e6 / res["requests"]
        # Per core of the proxy: its pinned cores (fewer than workers only when
        # --workers asks for more workers than there are proxy cpus).
        cores = 1 if kind == "direct" else (
            min(workers, len(ctx.proxy_cpus)) if ctx.proxy_cpus else workers)
        row["rps_per_core"] = res["rps"] / cores
        if before is not None:
            after = settle(backends)
            d_run = [delta(x, y) for x, y in zip(after, before)]
            # New connections to the backends per 1000 requests they answered during
            # the measured run: 0 when the proxy's upstream keep-alive always hits.
            reqs = sum(r for r, _ in d_run)
            row["upstream_conns_per_1k"] = 1000.0 * sum(c for _, c in d_run) / reqs if reqs else 0
            if kind == "drover":
                # Over drover's whole life (warm-up included): exact round robin
                # means the counts differ by at most 1.
                row["dist"] = [delta(x, y)[0] for x, y in zip(after, at_start)]
        if a.syscalls and proc is not None:
            row["syscalls"] = syscall_profile(kind, proc, port, scenario, ctx)
        if a.profile and proc is not None:
            row["kernel_share"], row["profile"] = perf_profile(kind, proc, port, scenario, ctx)
        if proc is not None and not proc.running():
            row["note"] = "%s exited during the run with %s" % (kind, proc.popen.returncode)
        return row
    finally:
        if proc is not None:
            t = time.monotonic()
            if not proc.stop() and "note" not in row:
                row["note"] = "%s did not exit within 5 s of SIGTERM (SIGKILLed)" % kind
            row["stop_s"] = time.monotonic() - t
            if kind == "drover" and "dir" in row:
                row["drover_log"] = read_text(row["dir"] / "error.log") + \
                    read_text(row["dir"] / "stdout.log")


def rotated(proxies, k) -> list:
    """The order of the proxies in slice k of an interleaved run: each slice starts
    one further along."""
    return proxies[k % len(proxies):] + proxies[:k % len(proxies)]


def interleaved(scenario, workers, proxies, ctx, problems) -> list:
    """--interleave N: all proxies run at once (each pinned as in the other runs, idle
    while not measured), and wrk goes to them in turn, N slices of --duration seconds
    each, the order rotating from slice to slice. A slow phase of a shared machine
    (on this VM the same binary's CPU per request moves by up to 1.8x between runs
    minutes apart) then falls on every proxy alike instead of on whichever ran then.
    Returns one row per proxy: its CPU time over its requests in all slices, and the
    ratio to nginx in each round of slices."""
    a = ctx.args
    cpus = ctx.proxy_cpus[:workers] if ctx.proxy_cpus else None
    started = {}
    rows = []
    try:
        for p in proxies:
            started[p] = start_proxy(p, ctx.tmp, workers, ctx.backends, cpus)
            run_wrk(started[p][1], scenario, max(a.warmup, 1), ctx.threads, a.connections,
                    ctx.load_cpus)
        slices = {p: [] for p in proxies}  # (cpu seconds, requests) per slice
        for k in range(a.interleave):
            order = rotated(proxies, k)
            log("%s: %d worker(s), interleaved slice %d of %d (%s)" % (
                scenario, workers, k + 1, a.interleave, ", ".join(order)))
            for p in order:
                proc, port, _ = started[p]
                pids = tree(proc.pid)
                t0 = cpu_ticks(pids)
                res = run_wrk(port, scenario, a.duration, ctx.threads, a.connections,
                              ctx.load_cpus)
                t1 = cpu_ticks(set(pids) | set(tree(proc.pid)))
                slices[p].append(((t1 - t0) / CLK_TCK, res["requests"]))
    except Failure as e:
        problems.append("%s w=%d interleaved: %s" % (scenario, workers, e))
        return rows
    finally:
        for proc, _, _ in started.values():
            proc.stop()
    for p in proxies:
        cpu = sum(c for c, _ in slices[p])
        reqs = sum(n for _, n in slices[p])
        per = [c * 1e6 / n for c, n in slices[p] if n]
        rows.append({"scenario": scenario, "workers": workers, "proxy": p,
                     "slices": len(per), "requests": reqs,
                     "cpu_us_per_req": cpu * 1e6 / reqs if reqs else float("nan"),
                     "slice_cpu": per})
    ref = {r["scenario"]: r for r in rows if r["proxy"] == "nginx"}.get(scenario)
    for r in rows:
        if ref is not None and ref["requests"]:
            r["vs_nginx"] = r["cpu_us_per_req"] / ref["cpu_us_per_req"]
            pairs = sorted(x / y for x, y in zip(r["slice_cpu"], ref["slice_cpu"]))
            r["slice_ratios"] = pairs
    add_floor_excess(rows)
    return rows


def add_floor_excess(rows):
    """With the relay among `rows` (one scenario and worker count): each proxy's CPU
    per request above the relay's, the part its own work costs, and that as a ratio
    to nginx's part. A ratio of CPU per request to nginx's cannot fall below the
    relay's, whatever a proxy does; this one can reach 0."""
    floor = [r for r in rows if r["proxy"] == FLOOR]
    ref = [r for r in rows if r["proxy"] == "nginx"]
    if not floor:
        return
    for r in rows:
        if r["proxy"] != FLOOR:
            r["above_floor"] = r["cpu_us_per_req"] - floor[0]["cpu_us_per_req"]
    for r in rows:
        if ref and r.get("above_floor") is not None and ref[0]["above_floor"] > 0:
            r["above_floor_vs_nginx"] = r["above_floor"] / ref[0]["above_floor"]


def interleaved_markdown(rows) -> str:
    out = ["| scenario | workers | proxy | slices | requests | CPU µs/req | vs nginx | "
           "median slice ratio vs nginx | above the relay µs/req | above the relay vs "
           "nginx's | slice ratios (sorted) |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratios = r.get("slice_ratios") or []
        med = statistics.median(ratios) if ratios else float("nan")
        out.append("| %s | %d | %s | %d | %s | %s | %s | %s | %s | %s | %s |" % (
            r["scenario"], r["workers"], r["proxy"], r["slices"], fmt(r["requests"], ","),
            fmt(r["cpu_us_per_req"], ".1f"), fmt(r.get("vs_nginx"), ".2f"), fmt(med, ".2f"),
            fmt(r.get("above_floor"), ".1f"), fmt(r.get("above_floor_vs_nginx"), ".2f"),
            " ".join("%.2f" % x for x in ratios) if r["proxy"] != "nginx" else "-"))
    return "\n".join(out)


def attached_run(tool_args, proc: Proc, port, scenario, ctx) -> tuple:
    """Runs `tool_args` (strace or perf, attached to the proxy) for a whole extra 3 s wrk
    run after the measured one, stops it with SIGINT; returns (requests, wrk result).
    Requests are counted by the backends (by wrk with --backend-procs > 1)."""
    counted = ctx.backend_procs == 1
    st = subprocess.Popen(tool_args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)  # attach (the proxy is idle meanwhile)
        s0 = [b.snapshot() for b in ctx.backends] if counted else None
        res = run_wrk(port, scenario, 3, ctx.threads, ctx.args.connections, ctx.load_cpus)
        if counted:
            s1 = settle(ctx.backends)
            requests = sum(delta(x, y)[0] for x, y in zip(s1, s0))
        else:
            requests = res["requests"]
    finally:
        st.send_signal(signal.SIGINT)
        try:
            st.wait(30)
        except subprocess.TimeoutExpired:
            st.kill()
            st.wait(10)
    return requests, res


def worker_pids(kind, proc: Proc) -> list:
    return [proc.pid] if kind == "haproxy" else (proc.descendants() or [proc.pid])


@functools.lru_cache(maxsize=None)
def perf_tracepoints_work() -> bool:
    """Whether `perf stat` can count the syscalls:sys_enter_* tracepoints here."""
    perf = shutil.which("perf")
    if not perf:
        return False
    try:
        r = subprocess.run([perf, "stat", "-x,", "-e", "syscalls:sys_enter_getpid", "--",
                            "true"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0 and "syscalls:sys_enter_getpid" in r.stderr


def parse_perf_syscalls(text: str) -> list:
    """(count, name) of every system call `perf stat -x, -e syscalls:sys_enter_*`
    counted at least once (the lines "count,,syscalls:sys_enter_NAME,...")."""
    counts = []
    for line in text.splitlines():
        f = line.split(",")
        if len(f) >= 3 and f[2].startswith("syscalls:sys_enter_") and f[0].isdigit():
            if int(f[0]):
                counts.append((int(f[0]), f[2][len("syscalls:sys_enter_"):]))
    return counts


def parse_strace_summary(text: str) -> list:
    """(count, name) of every system call in an `strace -c` summary."""
    counts = []
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 5 and f[0][0].isdigit() and f[-1] != "total":
            counts.append((int(f[3]), f[-1]))
    return counts


def syscall_profile(kind, proc: Proc, port, scenario, ctx) -> str:
    """System calls per request of the proxy's workers, counted for an extra run; the
    64 connection set-ups are included. With perf's syscall tracepoints when they
    work here (`perf stat -e syscalls:sys_enter_*`, which barely slows the proxy);
    else with `strace -c -f`, which slows it so much that paths depending on timing
    change (a request that would come a moment after accept() is already there)."""
    pids = [str(p) for p in worker_pids(kind, proc)]
    if perf_tracepoints_work():
        tool = "perf"
        out = ctx.tmp / ("perf-syscalls-%s-%s-%d.txt" % (kind, scenario, proc.pid))
        args = [shutil.which("perf"), "stat", "-x,", "-e", "syscalls:sys_enter_*", "-o",
                str(out), "-p", ",".join(pids)]
        parse = parse_perf_syscalls
    elif shutil.which("strace"):
        tool = "strace"
        out = ctx.tmp / ("strace-%s-%s-%d.txt" % (kind, scenario, proc.pid))
        args = [shutil.which("strace"), "-c", "-f", "-o", str(out)]
        for p in pids:
            args += ["-p", p]
        parse = parse_strace_summary
    else:
        return "neither perf's syscall tracepoints nor strace available"
    requests, res = attached_run(args, proc, port, scenario, ctx)
    counts = parse(read_text(out))
    if not counts or not requests:
        return "no %s output" % tool
    counts.sort(reverse=True)
    total = sum(c for c, _ in counts)
    errs = res["err_connect"] + res["err_read"] + res["err_write"] + res["err_timeout"]
    note = ""
    if errs or res["non2xx"]:
        note = " (under %s wrk saw %d non-2xx, socket errors connect %d read %d write %d " \
               "timeout %d)" % (tool, res["non2xx"], res["err_connect"], res["err_read"],
                                res["err_write"], res["err_timeout"])
    return "%.1f syscalls/request over %d requests (%s): " % (
        total / requests, requests, tool) + ", ".join(
        "%s %.2f" % (name, c / requests) for c, name in counts[:6]) + note


def perf_profile(kind, proc: Proc, port, scenario, ctx) -> tuple:
    """Where the proxy's CPU goes, kernel included: `perf record -e cpu-clock` (a
    software clock, so it works where hardware counters do not) attached to the
    workers for an extra run. Returns (the kernel's share of the samples or None,
    a text with it and the top symbols)."""
    perf = shutil.which("perf")
    if not perf:
        return None, "perf not installed (apt-get install linux-perf)"
    data = ctx.tmp / ("perf-%s-%s-%d.data" % (kind, scenario, proc.pid))
    args = [perf, "record", "-q", "-e", "cpu-clock", "-F", "4999", "-o", str(data),
            "-p", ",".join(str(p) for p in worker_pids(kind, proc))]
    attached_run(args, proc, port, scenario, ctx)
    p = subprocess.run([perf, "report", "-i", str(data), "--stdio", "--no-children",
                        "--sort", "sym"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=120)
    rows = []
    for line in p.stdout.decode(errors="replace").splitlines():
        m = re.match(r"\s*([\d.]+)%\s+\[([k.])\]\s+(\S+)", line)
        if m:
            rows.append((float(m.group(1)), m.group(2) == "k", m.group(3)))
    if not rows:
        return None, "no perf samples (perf_event_paranoid %s?)" % read_text(
            Path("/proc/sys/kernel/perf_event_paranoid")).strip()
    share = sum(pc for pc, k, _ in rows if k) / (sum(pc for pc, _, _ in rows) or 100.0)
    return share, "kernel %.0f%% of the samples; top: %s" % (
        100.0 * share, ", ".join("%s%s %.1f%%" % (name, " [k]" if k else "", pc)
                                 for pc, k, name in rows[:12]))


# ------------------------------------------------------------------------------------
# reporting


def fmt(v, spec):
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    return format(v, spec)


def add_ratios(rows):
    base = {(r["scenario"], r["workers"]): r for r in rows if r["proxy"] == "nginx"}
    for r in rows:
        n = base.get((r["scenario"], r["workers"]))
        if r["proxy"] != "direct" and n and n.get("cpu_us_per_req") and n.get("rps"):
            r["cpu_ratio_nginx"] = r["cpu_us_per_req"] / n["cpu_us_per_req"]
            r["rps_ratio_nginx"] = r["rps"] / n["rps"]


def markdown(rows) -> str:
    head = ("| scenario | proxy | workers | req/s | req/s per core | p50 ms | p99 ms | "
            "CPU µs/req | CPU/req vs nginx | req/s vs nginx | proxy CPU % | sleeps/req | TCP segs/req "
            "| worker max RSS MiB | upstream conns/1k req | non-2xx | socket errors |")
    out = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        errs = r.get("err_connect", 0) + r.get("err_read", 0) + r.get("err_write", 0) + \
            r.get("err_timeout", 0)
        err_text = "0" if not errs else "c%d r%d w%d t%d" % (
            r["err_connect"], r["err_read"], r["err_write"], r["err_timeout"])
        name = "direct (1 backend)" if r["proxy"] == "direct" else r["proxy"]
        out.append("|" + " %s |" * 17 % (
            r["scenario"], name, r["workers"] if r["proxy"] != "direct" else "-",
            fmt(r.get("rps"), ",.0f"), fmt(r.get("rps_per_core"), ",.0f"),
            fmt(r.get("p50_ms"), ".2f"), fmt(r.get("p99_ms"), ".2f"),
            fmt(r.get("cpu_us_per_req"), ".1f"), fmt(r.get("cpu_ratio_nginx"), ".2f"),
            fmt(r.get("rps_ratio_nginx"), ".2f"), fmt(100 * r.get("cpu_util", 0), ".0f"),
            fmt(r.get("sleeps_per_req"), ".2f"), fmt(r.get("segs_per_req"), ".2f"),
            fmt(r.get("rss_kib", 0) / 1024.0, ".1f"), fmt(r.get("upstream_conns_per_1k"), ".1f"),
            r.get("non2xx", 0), err_text))
    return "\n".join(out)


CSV_FIELDS = ["date", "host", "nproc", "cpu_model", "scenario", "proxy", "workers", "proxy_cpus",
              "load_cpus", "wrk_threads", "connections", "duration_s", "requests", "rps",
              "rps_per_core", "p50_ms", "p99_ms", "cpu_s", "cpu_us_per_req", "cpu_util",
              "sleeps_per_req", "segs_per_req",
              "rss_kib", "upstream_conns_per_1k", "non2xx", "err_connect", "err_read",
              "err_write", "err_timeout", "cpu_ratio_nginx", "rps_ratio_nginx",
              "backend1_requests", "backend2_requests", "syscalls"]


def machine_fields(ctx) -> dict:
    """The CSV columns that describe the run's machine and layout."""
    return dict(date=ctx.date, host=platform.node(), nproc=os.cpu_count(),
                cpu_model=ctx.cpu_model, load_cpus=",".join(map(str, ctx.load_cpus or [])))


def write_csv(path: Path, rows, ctx):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            d = dict(r)
            d.update(machine_fields(ctx), wrk_threads=ctx.threads,
                     connections=ctx.args.connections, duration_s=ctx.args.duration)
            if r.get("dist"):
                d["backend1_requests"], d["backend2_requests"] = r["dist"][0], r["dist"][1]
            for k in ("cpu_s", "cpu_us_per_req", "cpu_util", "sleeps_per_req", "segs_per_req",
                      "rps_per_core", "cpu_ratio_nginx", "rps_ratio_nginx", "p50_ms", "p99_ms",
                      "upstream_conns_per_1k"):
                if isinstance(d.get(k), float):
                    d[k] = "%.4g" % d[k]
            w.writerow(d)


def add_latency_ratios(rows):
    base = {(r["scenario"], r["workers"]): r for r in rows if r["proxy"] == "nginx"}
    for r in rows:
        n = base.get((r["scenario"], r["workers"]))
        if n is None:
            continue
        if r.get("p99_ms") is not None and n.get("p99_ms"):
            r["p99_ratio_nginx"] = r["p99_ms"] / n["p99_ms"]
        c = r.get("cpu_us_per_req")
        if c is not None and c == c and n.get("cpu_us_per_req"):  # NaN: nothing completed
            r["cpu_ratio_nginx"] = c / n["cpu_us_per_req"]


def latency_markdown(rows) -> str:
    head = ("| scenario | workers | offered req/s | proxy | achieved req/s | p50 ms | p99 ms "
            "| p99.9 ms | max ms | CPU µs/req | proxy CPU % | p99 vs nginx | CPU/req vs nginx "
            "| errors |")
    out = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        bad = [(r[k], c) for k, c in (("errors", "e"), ("non2xx", "n"), ("timeouts", "t"),
                                      ("unsent", "u"))]
        out.append("|" + " %s |" * 14 % (
            r["scenario"], r["workers"], format(r["offered_rps"], ",d"), r["proxy"],
            fmt(r.get("achieved_rps"), ",.0f"), fmt(r.get("p50_ms"), ".3f"),
            fmt(r.get("p99_ms"), ".3f"), fmt(r.get("p999_ms"), ".3f"),
            fmt(r.get("max_ms"), ".3f"), fmt(r.get("cpu_us_per_req"), ".1f"),
            fmt(100 * r.get("cpu_util", 0), ".0f"), fmt(r.get("p99_ratio_nginx"), ".2f"),
            fmt(r.get("cpu_ratio_nginx"), ".2f"),
            " ".join("%s%d" % (c, v) for v, c in bad) if any(v for v, _ in bad) else "0"))
    return "\n".join(out)


LATENCY_CSV_FIELDS = ["date", "host", "nproc", "cpu_model", "scenario", "proxy", "workers",
                      "proxy_cpus", "load_cpus", "connections", "close", "warmup_s",
                      "duration_s", "latency_load", "offered_rps", "scheduled", "sent",
                      "completed", "achieved_rps", "errors", "non2xx", "timeouts", "unsent",
                      "connects", "mean_ms", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms",
                      "cpu_s", "cpu_us_per_req", "cpu_util", "sleeps_per_req",
                      "p99_ratio_nginx", "cpu_ratio_nginx", "p99_runs",
                      "p99_slice_ratio_median"]


def write_latency_csv(path: Path, rows, ctx):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=LATENCY_CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            d = dict(r)
            d.update(machine_fields(ctx), close=int(bool(r.get("close"))),
                     latency_load=ctx.args.latency_load,
                     p99_runs="/".join("%.3f" % x if x is not None else "-"
                                       for x in r.get("p99_runs", [])))
            for k in ("cpu_s", "cpu_us_per_req", "cpu_util", "sleeps_per_req",
                      "p99_ratio_nginx", "cpu_ratio_nginx", "p99_slice_ratio_median"):
                if isinstance(d.get(k), float):
                    d[k] = "%.4g" % d[k]
            w.writerow(d)


def plot(path: Path, rows, worker_counts, ctx, ncpu=None) -> bool:
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        log("gnuplot not found: no plot (apt-get install gnuplot-nox)")
        return False
    proxies = [p for p in PROXIES if any(r["proxy"] == p for r in rows)]
    scen = [s for s in SCENARIOS if any(r["scenario"] == s for r in rows)]
    data = ctx.tmp / "plot.dat"
    title = "req/s per proxy core (%s, %d cpus, wrk -c%d)" % (
        ctx.cpu_model, ncpu or os.cpu_count(), ctx.args.connections)
    if len(worker_counts) == 1:
        # One point per proxy: a clustered bar chart, one cluster per scenario.
        with open(data, "w") as f:
            f.write("scenario " + " ".join(proxies) + "\n")
            for s in scen:
                vals = []
                for p in proxies:
                    r = [x for x in rows if x["proxy"] == p and x["scenario"] == s]
                    vals.append("%.0f" % r[0]["rps_per_core"] if r else "0")
                f.write("%s %s\n" % (s, " ".join(vals)))
        script = (
            "set terminal pngcairo size 900,500 noenhanced\nset output '%s'\n" % path
            + "set title '%s, %d worker'\n" % (title, worker_counts[0])
            + "set style data histograms\nset style histogram clustered gap 1\n"
            + "set style fill solid 0.8 border -1\nset boxwidth 0.9\nset ylabel 'req/s per core'\n"
            + "set yrange [0:*]\nset xrange [-0.6:%.1f]\n" % (len(scen) - 0.4)
            + "set grid ytics\nset key top right\n"
            + "plot " + ", ".join("'%s' using %d:xtic(1) title columnheader(%d)"
                                  % (data, i + 2, i + 2) for i in range(len(proxies))) + "\n")
    else:
        blocks = []
        with open(data, "w") as f:
            for s in scen:
                for p in proxies:
                    f.write("# %s %s\n" % (s, p))
                    for w in worker_counts:
                        r = [x for x in rows if x["proxy"] == p and x["scenario"] == s
                             and x["workers"] == w]
                        if r:
                            f.write("%d %.0f\n" % (w, r[0]["rps_per_core"]))
                    f.write("\n\n")
                    blocks.append((s, p))
        pcpus = getattr(ctx, "proxy_cpus", None)
        xlabel = "workers (= proxy cores)"
        if pcpus and max(worker_counts) > len(pcpus):
            xlabel = "workers (on at most %d proxy core%s)" % (len(pcpus),
                                                           "" if len(pcpus) == 1 else "s")
        script = ("set terminal pngcairo size 1400,450 noenhanced\nset output '%s'\n" % path
                  + "set multiplot layout 1,%d title '%s'\n" % (len(scen), title)
                  + "set xlabel '%s'\nset ylabel 'req/s per core'\n" % xlabel
                  + "set logscale x 2\nset yrange [0:*]\nset grid\nset key bottom left\n")
        for s in scen:
            parts = ["'%s' index %d using 1:2 with linespoints title '%s'" % (data, i, p)
                     for i, (bs, p) in enumerate(blocks) if bs == s]
            script += "set title '%s'\nplot %s\n" % (SCENARIOS[s][2], ", ".join(parts))
        script += "unset multiplot\n"
    (ctx.tmp / "plot.gp").write_text(script)
    p = subprocess.run([gnuplot, str(ctx.tmp / "plot.gp")], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    if p.returncode != 0:
        # pngcairo missing in some builds: fall back to the plain png terminal.
        script = script.replace("pngcairo", "png")
        (ctx.tmp / "plot.gp").write_text(script)
        p = subprocess.run([gnuplot, str(ctx.tmp / "plot.gp")], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
    if p.returncode != 0:
        log("gnuplot failed: %s" % p.stdout.decode(errors="replace"))
        return False
    return True


# ------------------------------------------------------------------------------------
# main


class Ctx:
    pass


def measure_checked(p, s, w, ctx, problems):
    """measure(), with what went wrong added to `problems`; None when it failed."""
    try:
        r = measure(p, s, w, ctx)
    except Failure as e:
        problems.append("%s %s w=%d: %s" % (p, s, w, e))
        log("FAILED: %s" % e)
        return None
    errs = r["err_connect"] + r["err_read"] + r["err_write"] + r["err_timeout"]
    if r["non2xx"] or errs:
        problems.append("%s %s w=%d: %d non-2xx, socket errors connect %d read %d "
                        "write %d timeout %d" % (
                            p, s, w, r["non2xx"], r["err_connect"], r["err_read"],
                            r["err_write"], r["err_timeout"]))
    if r.get("note"):
        problems.append("%s %s w=%d: %s" % (p, s, w, r["note"]))
    if p == "drover":
        if "dist" in r:
            d = r["dist"]
            ok = abs(d[0] - d[1]) <= 1
            msg = "distribution %s w=%d: backend b1 %d, b2 %d requests, " \
                  "difference %d (%s)" % (s, w, d[0], d[1], abs(d[0] - d[1]),
                                         "ok" if ok else "NOT within 1")
            r["dist_msg"] = msg
            log(msg)
            if not ok:
                problems.append("drover " + msg)
        check_drover_log(r, "drover %s w=%d" % (s, w), problems)
    return r


def check_drover_log(r, what, problems):
    """Adds drover's error-log lines of the run `r` (if any) to `problems`."""
    lines = [x for x in r.get("drover_log", "").splitlines() if x.strip()]
    if lines:
        problems.append("%s: %d error-log lines, e.g. %s" % (
            what, len(lines), " | ".join(sorted(set(
                re.sub(r"^\S+ \S+ \[[^]]*\] ", "", x) for x in lines))[:3])))


def latency_checked(p, s, w, rate, ctx, problems):
    """measure_latency(), with what went wrong added to `problems`; None when it
    failed."""
    what = "%s %s w=%d open loop at %d req/s" % (p, s, w, rate)
    try:
        r = measure_latency(p, s, w, rate, ctx)
    except Failure as e:
        problems.append("%s: %s" % (what, e))
        log("FAILED: %s" % e)
        return None
    bad = ["%d %s" % (r[k], k) for k in ("errors", "non2xx", "timeouts", "unsent") if r[k]]
    if bad:
        problems.append("%s: %s" % (what, ", ".join(bad)))
    if r.get("note"):
        problems.append("%s: %s" % (what, r["note"]))
    if p == "drover":
        check_drover_log(r, what, problems)
    return r


def median_run(runs: list, key="cpu_us_per_req", runs_key="cpu_runs") -> dict:
    """The run with the median `key` (the lower middle one of an even number; a
    missing figure sorts last), with every run's figure in `runs_key`."""
    order = sorted(runs, key=lambda r: r[key] if r.get(key) is not None else float("inf"))
    row = dict(order[(len(order) - 1) // 2])
    row[runs_key] = [r[key] for r in runs]
    return row


def latency_rate(s, w, proxies, runs, ctx, problems):
    """The open-loop rate of scenario `s` at `w` workers from its wrk runs (`runs`:
    proxy -> its wrk runs); None (with the reason in `problems`) when there is none."""
    a = ctx.args
    reached = [r["rps"] for p in proxies for r in runs[p]]
    if not reached:
        return None
    rate = offered_rate(reached, a.latency_load)
    if rate < 100:
        problems.append("%s w=%d: no open-loop runs (%g of %.0f req/s is under 100 req/s)" % (
            s, w, a.latency_load, min(reached)))
        return None
    return rate


def latency_runs(s, w, proxies, runs, ctx, problems) -> list:
    """The open-loop runs of scenario `s` at `w` workers after its wrk runs (`runs`:
    proxy -> its wrk runs), every proxy at the same rate; one row per proxy (with
    --latency-repeat, its median run by p99)."""
    a = ctx.args
    rate = latency_rate(s, w, proxies, runs, ctx, problems)
    if rate is None:
        return []
    lat = {p: [] for p in proxies}
    for rep in range(a.latency_repeat):
        for p in proxies:
            log("%s: %s, %d worker(s), open loop at %d req/s%s" % (
                s, p, w, rate, " (run %d of %d)" % (rep + 1, a.latency_repeat)
                if a.latency_repeat > 1 else ""))
            r = latency_checked(p, s, w, rate, ctx, problems)
            if r is not None:
                lat[p].append(r)
    return [median_run(lat[p], "p99_ms", "p99_runs") for p in proxies if lat[p]]


def nearest_rank(sorted_values, q):
    """The q-quantile of sorted_values by nearest rank, as drover-openloop takes it."""
    return sorted_values[max(math.ceil(q * len(sorted_values)), 1) - 1]


def pooled_row(p, s, w, rate, windows, latencies_ns, ctx) -> dict:
    """One proxy's row of --latency-interleave: the counts and CPU time summed over its
    measured windows, the percentiles of all their latencies together."""
    a = ctx.args
    row = {"proxy": p, "scenario": s, "workers": w, "offered_rps": rate,
           "close": windows[0]["close"], "connections": a.connections,
           "warmup_s": a.warmup, "duration_s": a.duration, "slices": len(windows),
           "p99_runs": [x["p99_ms"] for x in windows]}
    cpus = ctx.proxy_cpus[:w] if ctx.proxy_cpus else None
    row["proxy_cpus"] = ",".join(map(str, cpus)) if cpus else "any"
    for k in ("scheduled", "sent", "completed", "errors", "non2xx", "timeouts", "unsent",
              "connects", "cpu_s", "wall_s", "sleeps"):
        row[k] = sum(x[k] for x in windows)
    done = row["completed"]
    row["achieved_rps"] = done / (a.duration * len(windows))
    row["cpu_util"] = row["cpu_s"] / row["wall_s"] if row["wall_s"] else 0.0
    row["cpu_us_per_req"] = row["cpu_s"] * 1e6 / done if done else float("nan")
    row["sleeps_per_req"] = row["sleeps"] / done if done else float("nan")
    if latencies_ns:
        lat = sorted(latencies_ns)
        row["mean_ms"] = sum(lat) / len(lat) / 1e6
        for k, q in (("p50_ms", 0.5), ("p90_ms", 0.9), ("p99_ms", 0.99), ("p999_ms", 0.999)):
            row[k] = nearest_rank(lat, q) / 1e6
        row["max_ms"] = lat[-1] / 1e6
    return row


def latency_interleaved(s, w, proxies, runs, ctx, problems) -> list:
    """--latency-interleave N: the open-loop runs as interleaved() does the wrk runs.
    Every proxy runs at once (each pinned as in the other runs, idle while not
    measured) and drover-openloop goes to them in turn, N slices of --warmup +
    --duration seconds each at the same rate, the order rotating from slice to slice;
    each proxy's percentiles are those of all its slices' latencies together. A
    machine's slow phase, which moves one run's p99 by 3x here, then falls on every
    proxy alike, and p99 counts 1 % of N times as many requests."""
    a = ctx.args
    rate = latency_rate(s, w, proxies, runs, ctx, problems)
    if rate is None:
        return []
    cpus = ctx.proxy_cpus[:w] if ctx.proxy_cpus else None
    started = {}
    windows = {p: [] for p in proxies}
    latencies = {p: [] for p in proxies}
    try:
        for p in proxies:
            started[p] = start_proxy(p, ctx.tmp, w, ctx.backends, cpus)
        for k in range(a.latency_interleave):
            order = rotated(proxies, k)
            log("%s: %d worker(s), open loop at %d req/s, interleaved slice %d of %d (%s)" % (
                s, w, rate, k + 1, a.latency_interleave, ", ".join(order)))
            for p in order:
                proc, port, d = started[p]
                what = "%s %s w=%d open loop at %d req/s, slice %d" % (p, s, w, rate, k + 1)
                path = d / ("latencies-%d" % k)
                try:
                    r = openloop_window(proc, port, s, rate, ctx, path)
                    with open(path) as f:
                        lat = [int(x) for x in f]
                    os.unlink(path)
                except (Failure, OSError, ValueError) as e:
                    problems.append("%s: %s" % (what, e))
                    log("FAILED: %s: %s" % (what, e))
                    continue
                if len(lat) != r["completed"]:
                    problems.append("%s: %d latencies for %d completed requests" % (
                        what, len(lat), r["completed"]))
                bad = ["%d %s" % (r[x], x) for x in ("errors", "non2xx", "timeouts", "unsent")
                       if r[x]]
                if bad:
                    problems.append("%s: %s" % (what, ", ".join(bad)))
                windows[p].append(r)
                latencies[p] += lat
    except Failure as e:
        problems.append("%s w=%d interleaved open loop: %s" % (s, w, e))
    finally:
        for p, (proc, _, d) in started.items():
            if not proc.stop():
                problems.append("%s %s w=%d: did not exit within 5 s of SIGTERM (SIGKILLed)" % (
                    p, s, w))
            if p == "drover":
                check_drover_log({"drover_log": read_text(d / "error.log") +
                                  read_text(d / "stdout.log")},
                                 "drover %s w=%d interleaved open loop" % (s, w), problems)
    rows = [pooled_row(p, s, w, rate, windows[p], latencies[p], ctx)
            for p in proxies if windows[p]]
    ref = [r for r in rows if r["proxy"] == "nginx"]
    for r in rows:
        if ref and len(r["p99_runs"]) == len(ref[0]["p99_runs"]):
            ratios = [x / y for x, y in zip(r["p99_runs"], ref[0]["p99_runs"]) if x and y]
            if ratios:
                r["p99_slice_ratio_median"] = statistics.median(ratios)
    return rows


def replot(csv_path: Path, args) -> int:
    with open(csv_path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["proxy"] != "direct"]
    if not rows:
        log("%s: no proxy rows" % csv_path)
        return 1
    for r in rows:
        r["workers"] = int(r["workers"])
        r["rps_per_core"] = float(r["rps_per_core"])
    ctx = Ctx()
    ctx.args = args
    args.connections = int(rows[0]["connections"])
    ctx.cpu_model = rows[0]["cpu_model"]
    ctx.proxy_cpus = sorted({c for r in rows for c in r.get("proxy_cpus", "").split(",")
                             if c.isdigit()})
    ctx.tmp = Path(tempfile.mkdtemp(prefix="drover-replot-"))
    try:
        counts = sorted({r["workers"] for r in rows})
        png = csv_path.with_suffix(".png")
        ok = plot(png, rows, counts, ctx, int(rows[0]["nproc"]))
        if ok:
            print("Plot: %s" % rel(png))
        return 0 if ok else 1
    finally:
        shutil.rmtree(ctx.tmp, ignore_errors=True)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def layout(args):
    """(proxy cpus, load cpus, worker counts) from the cpus this process may use."""
    cpus = sorted(os.sched_getaffinity(0))
    n = len(cpus)
    if n == 1:
        return None, None, [1]
    if n == 2:
        return cpus[:1], cpus[1:], [1]
    p = n // 2
    counts, w = [], 1
    while w <= p:
        counts.append(w)
        w *= 2
    if counts[-1] != p:
        counts.append(p)
    return cpus[:p], cpus[p:], counts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 s per run (default 10 s)")
    ap.add_argument("--duration", type=int, default=None, help="seconds per measured run")
    ap.add_argument("--warmup", type=int, default=1, help="seconds of wrk before each run")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per proxy, taking turns; the table shows each proxy's median "
                         "run by CPU per request")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0,
                    help="wrk threads (default: 1 with <= 2 load cpus, else half of them)")
    ap.add_argument("--backend-procs", type=int, default=0,
                    help="processes per backend (default: 1 with <= 2 load cpus, else a "
                         "quarter of them; the distribution check needs 1)")
    ap.add_argument("--workers", default="",
                    help="comma-separated worker counts (default: from the cpu count)")
    ap.add_argument("--proxies", default=",".join(PROXIES),
                    help="of %s, and %s: the kernel's floor (keep-alive scenarios only)" % (
                        ", ".join(PROXIES), FLOOR))
    ap.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS),
                    help="of %s (default %s)" % (", ".join(SCENARIOS),
                                                 ",".join(DEFAULT_SCENARIOS)))
    ap.add_argument("--no-direct", action="store_true", help="skip the backend-direct baseline")
    ap.add_argument("--results", default=str(RESULTS), help="directory for CSV and PNG")
    ap.add_argument("--syscalls", action="store_true",
                    help="after each proxy run, an extra 3 s run counting the workers' "
                         "system calls per request (perf's syscall tracepoints, else "
                         "strace -c)")
    ap.add_argument("--profile", action="store_true",
                    help="after each proxy run, an extra 3 s run under perf record -e "
                         "cpu-clock: the kernel's share and the top symbols")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (configs, logs)")
    ap.add_argument("--tls", action="store_true",
                    help="the proxies terminate TLS 1.3 (ECDSA P-256); no direct baseline")
    ap.add_argument("--no-latency", action="store_true",
                    help="skip the open-loop runs (latency at the same offered load)")
    ap.add_argument("--latency-load", type=float, default=0.6,
                    help="open-loop rate as a fraction of the lowest req/s any proxy reached "
                         "in the wrk runs of the scenario and worker count, over all their "
                         "runs (default 0.6)")
    ap.add_argument("--latency-repeat", type=int, default=1,
                    help="open-loop runs per proxy, taking turns; the table shows each "
                         "proxy's median run by p99 (default 1; --repeat does not apply to "
                         "them, to keep the run time bounded)")
    ap.add_argument("--latency-interleave", type=int, default=0, metavar="N",
                    help="instead, the open-loop runs as N interleaved slices per proxy, all "
                         "proxies running at once, each proxy's percentiles over all its "
                         "slices' latencies (see latency_interleaved())")
    ap.add_argument("--interleave", type=int, default=0, metavar="N",
                    help="also N interleaved slices of --duration seconds per proxy, all "
                         "proxies running at once, for CPU per request with the machine's "
                         "slow phases spread over all of them (see interleaved())")
    ap.add_argument("--replot", metavar="CSV",
                    help="only redraw the PNG (next to the CSV) from an earlier run's CSV")
    a = ap.parse_args(argv)
    if a.replot:
        return replot(Path(a.replot), a)
    if a.duration is None:
        a.duration = 3 if a.quick else 10
    if not 0 < a.latency_load <= 1 or a.latency_repeat < 1 or a.latency_interleave < 0:
        ap.error("--latency-load must be in (0, 1], --latency-repeat at least 1, "
                 "--latency-interleave not negative")
    if a.tls and not a.no_latency:
        log("--tls: no open-loop runs (drover-openloop speaks plain HTTP only)")
        a.no_latency = True

    ctx = Ctx()
    ctx.args = a
    ctx.proxy_cpus, ctx.load_cpus, counts = layout(a)
    if a.workers:
        counts = [int(x) for x in a.workers.split(",")]
    nload = len(ctx.load_cpus) if ctx.load_cpus else 1
    ctx.threads = a.threads or (1 if nload <= 2 else nload // 2)
    ctx.backend_procs = a.backend_procs or (1 if nload <= 2 else max(1, nload // 4))
    ctx.cpu_model = cpu_model()
    ctx.date = datetime.datetime.now().strftime("%Y-%m-%d-%H%M%S")
    proxies = [p for p in a.proxies.split(",") if p]
    for p in proxies:
        if p not in CONFIGS:
            ap.error("unknown proxy %r (%s)" % (p, ", ".join(CONFIGS)))
    if a.tls and FLOOR in proxies:
        log("--tls: no %s (it copies bytes and terminates no TLS)" % FLOOR)
        proxies.remove(FLOOR)
    if not proxies:
        ap.error("--proxies: nothing to run")
    scenarios = [s for s in a.scenarios.split(",") if s]
    for s in scenarios:
        if s not in SCENARIOS:
            ap.error("unknown scenario %r (%s)" % (s, ", ".join(SCENARIOS)))
    missing = [str(x) for x in (DROVER, BACKEND) + (() if a.no_latency else (OPENLOOP,))
               + ((RELAY,) if FLOOR in proxies else ()) if not x.exists()]
    tools = {"wrk": "wrk", "nginx": "nginx", "haproxy": "haproxy"}
    for p in ["wrk"] + [p for p in proxies if p in ("nginx", "haproxy")]:
        if not shutil.which(tools[p]) and not os.path.exists("/usr/sbin/" + tools[p]):
            missing.append(tools[p])
    if missing:
        log("missing: %s (run make, then tools/install-deps.sh --bench)" % ", ".join(missing))
        return 1

    # Keep this script (and so the stats polling) off the proxy's cores.
    if ctx.load_cpus:
        os.sched_setaffinity(0, ctx.load_cpus)

    def on_signal(signum, frame):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, on_signal)
    ctx.loadavg = " ".join(read_text(Path("/proc/loadavg")).split()[:3])
    ctx.tmp = Path(tempfile.mkdtemp(prefix="drover-compare-"))
    if a.tls:
        make_tls_cert(ctx.tmp)
        a.no_direct = True
    os.chmod(ctx.tmp, 0o755)
    ctx.backends = []
    rows = []
    lat_rows = []
    inter_rows = []
    problems = []
    log("%d cpus (%s); proxy cpus %s, wrk+backends cpus %s; workers %s; wrk -t%d -c%d; "
        "%d s per run (+%d s warm-up); load average %s" % (
            os.cpu_count(), ctx.cpu_model, ctx.proxy_cpus or "any", ctx.load_cpus or "any",
            counts, ctx.threads, a.connections, a.duration, a.warmup, ctx.loadavg))
    try:
        for i in range(2):
            ctx.backends.append(Backend("b%d" % (i + 1), ctx.tmp, ctx.load_cpus,
                                        ctx.backend_procs))
        for s in scenarios:
            if not a.no_direct:
                log("%s: backend direct" % s)
                rows.append(measure("direct", s, 1, ctx))
            sp = [p for p in proxies if runs_in(p, s)]
            for w in counts:
                # With --repeat the proxies take turns, run after run, so that a change
                # in the machine's background load hits all of them alike; each proxy's
                # row is its run with the median CPU per request.
                runs = {p: [] for p in sp}
                for rep in range(a.repeat):
                    for p in sp:
                        log("%s: %s, %d worker(s)%s" % (
                            s, p, w, " (run %d of %d)" % (rep + 1, a.repeat) if a.repeat > 1
                            else ""))
                        r = measure_checked(p, s, w, ctx, problems)
                        if r is not None:
                            runs[p].append(r)
                for p in sp:
                    if runs[p]:
                        rows.append(median_run(runs[p]))
                if not a.no_latency:
                    lat = latency_interleaved if a.latency_interleave else latency_runs
                    lat_rows += lat(s, w, sp, runs, ctx, problems)
                if a.interleave > 0:
                    inter_rows += interleaved(s, w, sp, ctx, problems)
    except KeyboardInterrupt:
        log("interrupted: stopping everything")
        problems.append("interrupted")
    finally:
        for b in ctx.backends:
            b.proc.stop()

    try:
        if not rows:
            return 1
        add_ratios(rows)
        add_latency_ratios(lat_rows)
        order = {p: i for i, p in enumerate(("direct",) + PROXIES)}
        for rs in (rows, lat_rows):
            rs.sort(key=lambda r: (list(SCENARIOS).index(r["scenario"]), r["workers"],
                                   order.get(r["proxy"], 9)))
        results = Path(a.results)
        results.mkdir(parents=True, exist_ok=True)
        tag = "compare-tls" if a.tls else "compare"
        csv_path = results / ("%s-%s.csv" % (tag, ctx.date))
        png_path = results / ("%s-%s.png" % (tag, ctx.date))
        write_csv(csv_path, rows, ctx)
        lat_csv_path = results / ("%s-%s-latency.csv" % (tag, ctx.date))
        if lat_rows:
            write_latency_csv(lat_csv_path, lat_rows, ctx)
        inter_csv_path = results / ("%s-%s-interleaved.csv" % (tag, ctx.date))
        if inter_rows:
            with open(inter_csv_path, "w", newline="") as f:
                wr = csv.writer(f)
                wr.writerow(["date", "scenario", "workers", "proxy", "slices", "requests",
                             "cpu_us_per_req", "cpu_ratio_nginx", "above_relay_us_per_req",
                             "above_relay_ratio_nginx", "slice_cpu_us_per_req"])
                for r in inter_rows:
                    wr.writerow([ctx.date, r["scenario"], r["workers"], r["proxy"], r["slices"],
                                 r["requests"], "%.2f" % r["cpu_us_per_req"],
                                 fmt(r.get("vs_nginx"), ".3f"), fmt(r.get("above_floor"), ".2f"),
                                 fmt(r.get("above_floor_vs_nginx"), ".3f"),
                                 " ".join("%.2f" % x for x in r["slice_cpu"])])
        have_plot = plot(png_path, [r for r in rows if r["proxy"] != "direct"], counts, ctx)
        print()
        print("## drover vs nginx vs HAProxy — %s" % ctx.date)
        print()
        print("%d cpus (%s), proxy on cpu %s, wrk -t%d -c%d and 2 backends on cpu %s, %d s per "
              "run, load average %s at the start and %s at the end." % (
                  os.cpu_count(), ctx.cpu_model,
                  ",".join(map(str, ctx.proxy_cpus)) if ctx.proxy_cpus else "any",
                  ctx.threads, a.connections,
                  ",".join(map(str, ctx.load_cpus)) if ctx.load_cpus else "any",
                  a.duration, ctx.loadavg, " ".join(read_text(Path("/proc/loadavg")).split()[:3])))
        print()
        print(markdown(rows))
        print()
        for r in rows:
            if len(r.get("cpu_runs", [])) > 1:
                print("- %s %s w=%d: CPU µs/request in the %d runs %s (the median run is shown)" % (
                    r["proxy"], r["scenario"], r["workers"], len(r["cpu_runs"]),
                    " / ".join("%.1f" % x for x in r["cpu_runs"])))
        for r in rows:
            if r.get("dist_msg"):
                print("- drover " + r["dist_msg"])
        for r in rows:
            if r.get("syscalls"):
                print("- %s %s w=%d: %s" % (r["proxy"], r["scenario"], r["workers"],
                                            r["syscalls"]))
        for r in rows:
            if r.get("profile"):
                k = r.get("kernel_share")
                split = ""
                if k is not None and r.get("cpu_us_per_req"):
                    split = " (of its %.1f µs per request: kernel %.1f, user %.1f)" % (
                        r["cpu_us_per_req"], k * r["cpu_us_per_req"],
                        (1 - k) * r["cpu_us_per_req"])
                print("- %s %s w=%d profile%s: %s" % (r["proxy"], r["scenario"], r["workers"],
                                                      split, r["profile"]))
        if ctx.backend_procs != 1:
            print("- distribution check skipped (backends run %d processes each; stats are per "
                  "process; use --backend-procs 1)" % ctx.backend_procs)
        if lat_rows:
            print()
            print("## Latency at the same offered load — %s" % ctx.date)
            print()
            how = ("each proxy started afresh" if not a.latency_interleave else
                   "all proxies running at once and taking turns, %d slices each in a "
                   "rotating order, each proxy's percentiles over all its slices' "
                   "latencies together," % a.latency_interleave)
            print("Open loop (build/drover-openloop, as wrk2): %s sent requests on a fixed "
                  "schedule, %g %% of the lowest req/s any proxy reached above, over at most "
                  "%d connections, %d s per run (+%d s warm-up at the same rate); latency "
                  "counts from each request's due time, so waiting for a busy connection is "
                  "included. CPU µs/req: the proxy's CPU time in the measured window(s) / the "
                  "requests completed." % (how, 100 * a.latency_load, a.connections,
                                           a.duration, a.warmup))
            print()
            print(latency_markdown(lat_rows))
            print()
            for r in lat_rows:
                if len(r.get("p99_runs", [])) > 1:
                    print("- %s %s w=%d: p99 ms in the %d open-loop %s %s%s" % (
                        r["proxy"], r["scenario"], r["workers"], len(r["p99_runs"]),
                        "slices" if a.latency_interleave else "runs",
                        " / ".join(fmt(x, ".3f") for x in r["p99_runs"]),
                        "" if a.latency_interleave else " (the median run is shown)"))
                if r.get("p99_slice_ratio_median") is not None and r["proxy"] != "nginx":
                    print("  - median over the slices of its p99 / nginx's in the same round: "
                          "%.2f" % r["p99_slice_ratio_median"])
        if inter_rows:
            print()
            print("## CPU per request, interleaved — %s" % ctx.date)
            print()
            print("All proxies running at once, wrk sent to each in turn: %d slices of %d s per "
                  "proxy, the order rotating. CPU µs/req: the proxy's CPU time over its "
                  "requests in all its slices. Slice ratio: its CPU per request in a slice "
                  "over nginx's in the same round." % (a.interleave, a.duration))
            print()
            print(interleaved_markdown(inter_rows))
        for p in problems:
            print("- problem: " + p)
        print()
        print("CSV: %s" % rel(csv_path))
        if lat_rows:
            print("Latency CSV: %s" % rel(lat_csv_path))
        if inter_rows:
            print("Interleaved CSV: %s" % rel(inter_csv_path))
        if have_plot:
            print("Plot: %s" % rel(png_path))
        return 0
    finally:
        if a.keep:
            log("kept %s" % ctx.tmp)
        else:
            shutil.rmtree(ctx.tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
