#!/usr/bin/python3
"""Soak test for drover (issue 4, part 6).

Runs wrk through drover for a few minutes while a chaos thread, every --period
seconds and in rotation, SIGKILLs a member (drover-backend, restarted on the same
port 3-5 s later), SIGKILLs a drover worker, or SIGHUPs the master (reload). Then
it checks and prints a summary:

  * requests (wrk), non-2xx and socket errors, per period and in total;
  * the access log's statuses by count and by cause: every non-2xx (and every
    truncated 200) must fall in the window of a kill (502/503 right after a
    member or worker kill, 499 when a wrk run ends); anything else is
    "unexplained" and fails the run. wrk socket errors count only in periods
    whose action was a kill (a SIGKILLed worker drops its client connections,
    a killed member truncates responses already under way); in a reload period
    they are unexplained (drover.8: "No accepted request is dropped") unless
    --accept-reload-resets is given;
  * RSS min/max per worker (sampled every 0.5 s) against --rss-limit-mib;
  * open fds of the master and the workers before and after: once idle, every
    worker must be back at the baseline apart from ESTABLISHED idle pooled
    connections to live members (at most --connections per member), with no
    client sockets and no half-closed or orphaned member sockets left;
  * no stuck slot-table lock: afterwards, fresh requests must each succeed
    within 1 s; the error log's "lock owner died, state recovered" lines are
    counted; "exited on signal" lines for workers this script did not kill
    (crashes) fail the run.

It builds nothing: it needs build/drover and build/drover-backend (`make all`;
DROVER_BUILD=DIR overrides the directory) and wrk (Debian package wrk, installed
with apt-get when missing and running as root).

    /usr/bin/python3 t/soak.py [--duration 180] [--workers 2]
    make soak [SOAK_ARGS="--duration 60"]

Exit status 0 when every check passes, 1 otherwise. Everything it starts is
stopped by pid. The work directory (configs, logs, wrk output) is kept when the
run fails or with --keep, and removed otherwise.
"""
from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import queue
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "integration"))
import drover as h  # noqa: E402  (the integration-test harness)

ACCESS_FORMAT = ("%{%s}t %>s %{BALANCER_WORKER_NAME}e %D %{BALANCER_ROUTE_CHANGED}e "
                 "%P %b %m %U%q")
ACCESS_RE = re.compile(r"^\[(\d+)\] (\d{3}) (\S+) (\d+) (\S+) (\d+) (\S+) (\S+) (\S+)$")
ERROR_RE = re.compile(r"^\[\w{3} (\w{3} +\d+ [\d:.]+ \d{4})\] \[(\w+)\] \[pid (\d+)\] (.*)$")
LOCK_RECOVERED = "lock owner died, state recovered"
LIFECYCLE_RE = re.compile(r"reload|graceful|started|exited|respawn|lock owner|fatal|"
                          r"shutdown|pthread_mutex", re.I)
SMALL, BIG = 512, 65536

WRK_LUA = r"""
-- drover soak: 70%% GET /size?n=512, 20%% GET /size?n=65536, 10%% POST 64 KiB /upload
local reqs = {}
local n = 0
init = function(args)
  local body = string.rep("x", %(big)d)
  reqs[1] = wrk.format("GET", "/size?n=%(small)d")
  reqs[2] = wrk.format("GET", "/size?n=%(big)d")
  reqs[3] = wrk.format("POST", "/upload", {["Content-Type"] = "application/octet-stream"}, body)
end
request = function()
  n = n + 1
  local k = n %% 10
  if k == 3 then return reqs[3] end
  if k == 1 or k == 6 then return reqs[2] end
  return reqs[1]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "SOAK-WRK {\"requests\": %%d, \"bytes\": %%d, \"duration_us\": %%d, \"connect\": %%d, " ..
    "\"read\": %%d, \"write\": %%d, \"status\": %%d, \"timeout\": %%d, \"p99_us\": %%d, " ..
    "\"max_us\": %%d}\n",
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(99), latency.max))
end
""" % {"small": SMALL, "big": BIG}

T0 = time.time()


def log(msg):
    print("[%8.3fs] %s" % (time.time() - T0, msg), flush=True)


def stamp(t):
    return "%s.%03d (+%.3fs)" % (time.strftime("%H:%M:%S", time.localtime(t)),
                                 int((t % 1) * 1000), t - T0)


# --------------------------------------------------------------------------------------
# /proc: fds and sockets


def tcp_table():
    """inode -> (local port, remote port, state name) for every IPv4/IPv6 TCP socket."""
    states = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
              "05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
              "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING"}
    out = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if len(f) < 10:
                continue
            lport = int(f[1].rsplit(":", 1)[1], 16)
            rport = int(f[2].rsplit(":", 1)[1], 16)
            out[f[9]] = (lport, rport, states.get(f[3], f[3]))
    return out


def fd_targets(pid):
    d = "/proc/%d/fd" % pid
    out = []
    try:
        names = os.listdir(d)
    except OSError:
        return None
    for n in names:
        try:
            out.append(os.readlink("%s/%s" % (d, n)))
        except OSError:
            pass
    return out


def classify_fds(pid, drover_port, member_ports, tcp=None):
    """Counter of a process's fds: listen, client:STATE, member:STATE (pooled member
    connections), tcp-other:STATE, orphan-socket (not in /proc/net/tcp: a closed TCP
    socket still open, or a unix socket), file, pipe, anon. None when gone."""
    targets = fd_targets(pid)
    if targets is None:
        return None
    tcp = tcp_table() if tcp is None else tcp
    c = collections.Counter()
    for t in targets:
        m = re.match(r"socket:\[(\d+)\]", t)
        if not m:
            c["pipe" if t.startswith("pipe:") else "anon" if t.startswith("anon_inode:")
              else "file"] += 1
            continue
        e = tcp.get(m.group(1))
        if e is None:
            c["other-socket"] += 1
        elif e[2] == "LISTEN":
            c["listen"] += 1
        elif e[0] == drover_port:
            c["client:" + e[2]] += 1
        elif e[1] in member_ports:
            c["member:" + e[2]] += 1
        else:
            c["tcp-other:" + e[2]] += 1
    return c


def fd_base(c):
    """The fds that are not connections: what must return to the baseline."""
    return sum(v for k, v in c.items() if not k.startswith(("client:", "member:")))


# --------------------------------------------------------------------------------------
# wrk


def ensure_wrk():
    w = shutil.which("wrk")
    if w:
        return w
    if os.geteuid() != 0:
        sys.exit("soak: wrk is not installed and this is not root: "
                 "apt-get install wrk (Debian package wrk), then run again")
    log("wrk missing: apt-get install -y wrk")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    rc = subprocess.call(["apt-get", "install", "-y", "-q", "wrk"], env=env)
    if rc != 0:
        subprocess.call(["apt-get", "update", "-q"], env=env)
        subprocess.call(["apt-get", "install", "-y", "-q", "wrk"], env=env)
    w = shutil.which("wrk")
    if not w:
        sys.exit("soak: could not install wrk with apt-get (Debian package wrk)")
    return w


# --------------------------------------------------------------------------------------
# the run


class Soak:
    def __init__(self, args):
        self.a = args
        self.wrk = None
        self.dir = h.make_workdir("drover-soak-")
        self.backends = []
        self.drover = None
        self.wrk_proc = None
        self.events = []          # chaos timeline: dicts
        self.periods = []         # per wrk period: dicts
        self.killed_workers = set()
        self.old_workers = set()  # workers of a previous generation (after a HUP)
        self.rss = {}             # pid -> [min, max, samples]
        self.lock = threading.Lock()
        self.stop_evt = threading.Event()
        self.restarts = []        # restart threads
        self.failures = []
        self.rng = random.Random(args.seed)

    # ---- setup

    def start(self):
        a = self.a
        for i in range(1, 4):
            self.backends.append(h.Backend("m%d" % i, self.dir / "backends").start())
        self.member_ports = {b.port for b in self.backends}
        members = ["%s retry=1" % b.url for b in self.backends]
        self.drover = h.Drover(
            self.dir / "drover",
            global_={"WorkerProcesses": a.workers, "LogLevel": "info"},
            server={"ProxyPass": "/ balancer://soak/",
                    "CustomLog": '%s "%s"' % (self.dir / "drover" / "access.log",
                                              ACCESS_FORMAT)},
            balancers={"soak": {"BalancerMember": members}})
        self.drover.start()
        self.workers0 = self.drover.wait_workers()
        log("drover pid %d on port %d, workers %s; members %s; dir %s" % (
            self.drover.pid, self.drover.port, self.workers0,
            " ".join("%s=%d(pid %d)" % (b.name, b.port, b.pid) for b in self.backends),
            self.dir))
        time.sleep(0.5)
        tcp = tcp_table()
        self.fd_before = {"master": classify_fds(self.drover.pid, self.drover.port,
                                                 self.member_ports, tcp)}
        for p in self.workers0:
            self.fd_before[p] = classify_fds(p, self.drover.port, self.member_ports, tcp)
        self.lua = self.dir / "soak.lua"
        self.lua.write_text(WRK_LUA)

    # ---- samplers and chaos

    def sampler(self):
        while not self.stop_evt.is_set():
            pids = self.drover.worker_pids() if self.drover.alive() else []
            for p in pids:
                kib = h.vmrss_kib(p)
                if kib <= 0:
                    continue
                with self.lock:
                    r = self.rss.setdefault(p, [kib, kib, 0])
                    r[0] = min(r[0], kib)
                    r[1] = max(r[1], kib)
                    r[2] += 1
            self.stop_evt.wait(0.5)

    def event(self, kind, detail, **kw):
        ev = dict(t=time.time(), kind=kind, detail=detail, **kw)
        with self.lock:
            self.events.append(ev)
        log("CHAOS %-14s %s" % (kind, detail))
        return ev

    def chaos(self, q):
        """Takes (index, period start) from q; acts at start + offset."""
        rotation = ["backend-kill", "worker-kill", "reload"]
        while True:
            item = q.get()
            if item is None:
                return
            i, t_start = item
            t_act = t_start + self.a.offset
            while time.time() < t_act and not self.stop_evt.is_set():
                time.sleep(min(0.05, max(0.0, t_act - time.time())))
            if self.stop_evt.is_set():
                return
            kind = rotation[i % 3]
            try:
                if kind == "backend-kill":
                    self.kill_backend(i)
                elif kind == "worker-kill":
                    self.kill_worker(i)
                else:
                    self.reload(i)
            except Exception as e:  # noqa: BLE001 -- keep the run going, but fail it
                self.failures.append("chaos %s in period %d failed: %s" % (kind, i, e))
                log("CHAOS %s FAILED: %s" % (kind, e))

    def kill_backend(self, i):
        b = self.backends[(i // 3) % len(self.backends)]
        pid, port = b.pid, b.port
        b.kill()
        delay = self.rng.uniform(3.0, 5.0)
        ev = self.event("backend-kill", "kill -9 %s (pid %d, port %d); restart in %.1fs"
                        % (b.name, pid, port, delay), period=i, member=b.url, name=b.name)

        def restart():
            self.stop_evt.wait(delay)
            for attempt in range(20):
                try:
                    b.start(port=port)
                    break
                except h.HarnessError as e:
                    log("restart %s on port %d failed (%s), retrying" % (b.name, port, e))
                    time.sleep(0.25)
            else:
                self.failures.append("could not restart %s on port %d" % (b.name, port))
                return
            ev["restart_t"] = time.time()
            self.event("backend-start", "%s restarted (pid %d, port %d)"
                       % (b.name, b.pid, b.port), period=i, member=b.url, name=b.name)

        th = threading.Thread(target=restart, daemon=True)
        th.start()
        self.restarts.append(th)

    def kill_worker(self, i):
        kids = [p for p in self.drover.worker_pids()
                if p not in self.old_workers and p not in self.killed_workers]
        if not kids:
            raise RuntimeError("no worker to kill (children: %s)" % self.drover.worker_pids())
        pid = self.rng.choice(kids)
        os.kill(pid, signal.SIGKILL)
        self.killed_workers.add(pid)
        self.event("worker-kill", "kill -9 worker %d (workers were %s)" % (pid, kids),
                   period=i, pid=pid)

    def reload(self, i):
        old = self.drover.worker_pids()
        self.old_workers.update(old)
        self.drover.signal(signal.SIGHUP)
        self.event("reload", "kill -HUP master %d (old workers %s)" % (self.drover.pid, old),
                   period=i)

    # ---- load

    def run_period(self, i, seconds):
        out_path = self.dir / ("wrk-%03d.out" % i)
        cmd = [self.wrk, "-t", str(self.a.threads), "-c", str(self.a.connections),
               "-d", "%ds" % seconds, "--timeout", "%ds" % self.a.wrk_timeout,
               "-s", str(self.lua), "http://127.0.0.1:%d/" % self.drover.port]
        t_start = time.time()
        with open(out_path, "wb") as out:
            self.wrk_proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL)
            try:
                rc = self.wrk_proc.wait(seconds + 30)
            except subprocess.TimeoutExpired:
                self.wrk_proc.kill()
                rc = self.wrk_proc.wait()
                self.failures.append("wrk period %d did not finish" % i)
        t_end = time.time()
        text = out_path.read_text(errors="replace")
        m = re.search(r"^SOAK-WRK (\{.*\})$", text, re.M)
        res = json.loads(m.group(1)) if m else None
        if res is None:
            self.failures.append("wrk period %d: no result (rc %s): %s" % (i, rc, text[-500:]))
            res = dict(requests=0, bytes=0, duration_us=0, connect=0, read=0, write=0,
                       status=0, timeout=0, p99_us=0, max_us=0)
        res.update(index=i, t_start=t_start, t_end=t_end, rc=rc)
        self.periods.append(res)
        sock = res["connect"] + res["read"] + res["write"] + res["timeout"]
        log("wrk period %d: %d requests, %d non-2xx, socket errors connect %d read %d "
            "write %d timeout %d, p99 %.1f ms" % (i, res["requests"], res["status"],
                                                 res["connect"], res["read"], res["write"],
                                                 res["timeout"], res["p99_us"] / 1000.0))
        return sock

    def run(self):
        a = self.a
        sampler = threading.Thread(target=self.sampler, daemon=True)
        sampler.start()
        q = queue.Queue()
        chaos = threading.Thread(target=self.chaos, args=(q,), daemon=True)
        chaos.start()
        n = max(1, int(round(a.duration / a.period)))
        log("soak: %d periods of %ds (%ds), %d connections, %d wrk threads, %d workers" % (
            n, a.period, n * a.period, a.connections, a.threads, a.workers))
        self.t_load0 = time.time()
        for i in range(n):
            if not self.drover.alive():
                self.failures.append("drover master died during period %d" % i)
                break
            q.put((i, time.time()))
            self.run_period(i, a.period)
        self.t_load1 = time.time()
        q.put(None)
        chaos.join(timeout=30)
        for th in self.restarts:
            th.join(timeout=30)
        self.stop_evt.set()
        sampler.join(timeout=5)

    # ---- checks

    def wait_idle(self, timeout=20.0):
        """Waits until no worker holds a client socket and no old worker is left."""
        deadline = time.monotonic() + timeout
        while True:
            tcp = tcp_table()
            busy = False
            for p in self.drover.worker_pids():
                c = classify_fds(p, self.drover.port, self.member_ports, tcp) or {}
                if any(k.startswith("client:") for k in c) or p in self.old_workers:
                    busy = True
            if (not busy and len(self.drover.worker_pids()) == self.a.workers) \
                    or time.monotonic() > deadline:
                return not busy
            time.sleep(0.25)

    def check_requests_after(self, n=60):
        """Fresh-connection requests that must each succeed within 1 s."""
        slow, bad, per_worker = [], [], collections.Counter()
        for k in range(n):
            path = "/size?n=%d&soak_after=%d" % (SMALL if k % 3 else BIG, k)
            t = time.monotonic()
            try:
                r = h.request(self.drover.port, "GET", path, timeout=1.0)
                dt = time.monotonic() - t
                if r.status != 200:
                    bad.append("%s -> %d" % (path, r.status))
                elif dt > 1.0:
                    slow.append("%s took %.3fs" % (path, dt))
            except (OSError, http.client.HTTPException) as e:
                bad.append("%s -> %s after %.3fs" % (path, e.__class__.__name__,
                                                     time.monotonic() - t))
        time.sleep(0.3)
        for line in self.drover.access_log().splitlines():
            m = ACCESS_RE.match(line)
            if m and "soak_after=" in m.group(9):
                per_worker[int(m.group(6))] += 1
        return slow, bad, per_worker

    def analyse(self):
        a = self.a
        ok = True
        out = []
        p = out.append
        ev = sorted(self.events, key=lambda e: e["t"])
        W = a.window

        # ---- wrk
        tot = collections.Counter()
        for r in self.periods:
            for k in ("requests", "bytes", "connect", "read", "write", "status", "timeout"):
                tot[k] += r[k]
        load_s = self.t_load1 - self.t_load0
        p("== drover soak summary (%s) ==" % self.dir)
        p("load: %.0f s, %d periods of %d s, %d connections, %d workers, %d members "
          "(retry=1), window %.1f s" % (load_s, len(self.periods), a.period, a.connections,
                                        a.workers, len(self.backends), W))
        p("wrk: %d requests (%.0f/s), %.1f MiB read, non-2xx %d, socket errors: connect %d "
          "read %d write %d timeout %d" % (tot["requests"], tot["requests"] / max(load_s, 1),
                                           tot["bytes"] / 1048576.0, tot["status"],
                                           tot["connect"], tot["read"], tot["write"],
                                           tot["timeout"]))

        # ---- timeline
        p("chaos timeline:")
        for e in ev:
            p("  %s  %-14s %s" % (stamp(e["t"]), e["kind"], e["detail"]))

        # ---- per period, socket errors
        kinds = {}
        for e in ev:
            if "period" in e and e["kind"] != "backend-start":
                kinds[e["period"]] = e["kind"]
        p("per period (socket errors count as accounted only in kill periods):")
        p("  %3s %-13s %8s %6s %7s %4s %5s %5s %7s  %s" % (
            "#", "action", "requests", "non2xx", "connect", "read", "write", "tmout",
            "p99ms", "verdict"))
        sock_acc = sock_unexpl = 0
        for r in self.periods:
            k = kinds.get(r["index"], "-")
            sock = r["connect"] + r["read"] + r["write"] + r["timeout"]
            if sock and k in ("backend-kill", "worker-kill"):
                verdict = "accounted (%s)" % k
                sock_acc += sock
            elif sock and k == "reload" and a.accept_reload_resets:
                verdict = "accounted (reload, --accept-reload-resets)"
                sock_acc += sock
            elif sock:
                verdict = "UNEXPLAINED"
                sock_unexpl += sock
            else:
                verdict = "ok"
            p("  %3d %-13s %8d %6d %7d %4d %5d %5d %7.1f  %s" % (
                r["index"], k, r["requests"], r["status"], r["connect"], r["read"],
                r["write"], r["timeout"], r["p99_us"] / 1000.0, verdict))
        p("  socket errors: %d accounted, %d unexplained" % (sock_acc, sock_unexpl))
        if sock_unexpl:
            ok = False
            self.failures.append("%d wrk socket errors in periods without a kill" % sock_unexpl)

        # ---- access log
        lines = self.drover.access_log().splitlines()
        statuses = collections.Counter()
        causes = collections.Counter()
        unexplained = []
        parsed = 0
        junk = []
        t_lo, t_hi = self.t_load0 - 1, self.t_load1 + 1
        ends = [r["t_end"] for r in self.periods]

        def in_window(t_s, t_ev, width):
            # t_s: second the head arrived (floored); the event may precede the failure
            # of a request that started up to 1 s before it.
            return int(t_ev) - 1 <= t_s <= t_ev + width

        for line in lines:
            m = ACCESS_RE.match(line)
            if not m:
                junk.append(line)
                continue
            parsed += 1
            t_s, st, member, _, _, wpid, nbytes, meth, target = m.groups()
            t_s, st = int(t_s), int(st)
            if "soak_after=" in target or not (t_lo <= t_s <= t_hi):
                continue
            statuses[st] += 1
            truncated = False
            if st == 200 and meth == "GET" and target.startswith("/size?n="):
                want = int(target.split("=", 1)[1])
                truncated = nbytes != str(want)
            if 200 <= st < 300 and not truncated:
                continue
            label = ("%d truncated (%s of %s bytes)" % (st, nbytes, target.split("=", 1)[1])
                     if truncated else str(st))
            label_short = "200-truncated" if truncated else str(st)
            cause = None
            for e in ev:
                if e["kind"] == "backend-kill" and (st in (502, 503) or truncated) \
                        and member in (e["member"], "-") and in_window(t_s, e["t"], W):
                    cause = "backend-kill %s" % e["name"]
                    break
                if e["kind"] == "worker-kill" and (st in (502, 503) or truncated) \
                        and in_window(t_s, e["t"], W):
                    cause = "worker-kill"
                    break
            if cause is None and (st == 499 or truncated) \
                    and any(in_window(t_s, t_e, 1.0) for t_e in ends):
                cause = "wrk run ended (client closed)"
            if cause is None:
                cause = "UNEXPLAINED"
                unexplained.append("%s  (%s)" % (line, label))
            causes["%s: %s" % (label_short, cause)] += 1
        p("access log: %d lines (%d during the load; wrk counted %d), %d unparsable" % (
            parsed, sum(statuses.values()), tot["requests"], len(junk)))
        p("  statuses: " + ", ".join("%d x%d" % (s, c) for s, c in sorted(statuses.items())))
        if causes:
            p("  non-2xx and truncated responses by cause:")
            for k, c in sorted(causes.items()):
                p("    %6d  %s" % (c, k))
        else:
            p("  non-2xx and truncated responses: none")
        if unexplained:
            ok = False
            self.failures.append("%d unexplained non-2xx/truncated responses in the access "
                                 "log" % len(unexplained))
            p("  unexplained (first 20):")
            for u in unexplained[:20]:
                p("    " + u)

        # ---- RSS
        limit = a.rss_limit_mib * 1024
        p("RSS per worker (KiB, sampled every 0.5 s; limit %d MiB):" % a.rss_limit_mib)
        for pid in sorted(self.rss):
            lo, hi, n = self.rss[pid]
            tag = []
            if pid in self.killed_workers:
                tag.append("SIGKILLed")
            if pid in self.old_workers:
                tag.append("reloaded")
            if pid in self.cur_workers:
                tag.append("current")
            p("  worker %-7d min %6d max %6d  (%d samples) %s%s" % (
                pid, lo, hi, n, ",".join(tag), "  OVER LIMIT" if hi > limit else ""))
            if hi > limit:
                ok = False
                self.failures.append("worker %d RSS %d KiB > %d MiB" % (pid, hi,
                                                                        a.rss_limit_mib))
        if not self.rss:
            ok = False
            self.failures.append("no RSS samples")

        # ---- fds
        p("open fds (before: fresh workers, idle; after: idle after the run):")
        fb = self.fd_before

        def fmt(c):
            return "%d [%s]" % (sum(c.values()), " ".join("%s=%d" % kv for kv in sorted(c.items())))

        p("  master before %s" % fmt(fb["master"]))
        p("  master after  %s" % fmt(self.fd_after["master"]))
        if sum(self.fd_after["master"].values()) > sum(fb["master"].values()):
            ok = False
            self.failures.append("master fds grew from %d to %d" % (
                sum(fb["master"].values()), sum(self.fd_after["master"].values())))
        base = max(fd_base(fb[w]) for w in self.workers0)
        for w in self.workers0:
            p("  worker %-7d before %s" % (w, fmt(fb[w])))
        for w in self.cur_workers:
            c = self.fd_after.get(w)
            if c is None:
                continue
            problems = []
            if fd_base(c) > base + a.fd_slack:
                problems.append("%d non-connection fds > baseline %d + %d" % (
                    fd_base(c), base, a.fd_slack))
            for k, v in c.items():
                if k.startswith("client:"):
                    problems.append("%d client sockets (%s) still open when idle" % (v, k))
                elif k.startswith("member:") and k != "member:ESTABLISHED":
                    problems.append("%d member sockets in %s" % (v, k[7:]))
            # Idle pooled connections to one member cannot outnumber the requests that
            # were in flight to it at once, which wrk's connections bound.
            for port, n in sorted(self.pool_by_member.get(w, {}).items()):
                if n > a.connections:
                    problems.append("%d pooled connections to member port %d > %d" % (
                        n, port, a.connections))
            p("  worker %-7d after  %s%s" % (w, fmt(c), ("  PROBLEM: " + "; ".join(problems))
                                             if problems else ""))
            if problems:
                ok = False
                self.failures.append("worker %d fds: %s" % (w, "; ".join(problems)))
        if self.pool_by_member:
            p("  idle pooled member connections after (worker: member port -> n): %s" % (
                "; ".join("%d: %s" % (w, ", ".join("%d->%d" % kv for kv in sorted(d.items())))
                          for w, d in sorted(self.pool_by_member.items()))))

        # ---- lock and error log
        slow, bad, per_worker = self.after_reqs
        p("after the run: %d fresh requests, %d slow (> 1 s), %d failed; served by workers "
          "%s" % (self.after_n, len(slow), len(bad), dict(per_worker)))
        for x in (slow + bad)[:10]:
            p("    " + x)
        if slow or bad:
            ok = False
            self.failures.append("requests after the run: %d slow, %d failed (stuck lock?)"
                                 % (len(slow), len(bad)))
        err = self.drover.error_log().splitlines()
        levels = collections.Counter()
        msgs = collections.Counter()
        crashes = []
        recov = 0
        for line in err:
            m = ERROR_RE.match(line)
            if not m:
                continue
            lvl, msg = m.group(2), m.group(4)
            levels[lvl] += 1
            if LOCK_RECOVERED in msg:
                recov += 1
            mm = re.search(r"worker (\d+) exited (on signal (\d+)|with code (\d+))", msg)
            if mm and not (mm.group(3) == "9" and int(mm.group(1)) in self.killed_workers):
                crashes.append(line)
            if lvl in ("emerg", "alert", "crit", "error", "warn"):
                msgs["[%s] %s" % (lvl, re.sub(r"\d+", "N", msg))] += 1
        p("error log: %d lines, by level %s" % (len(err), dict(levels)))
        p("  process lifecycle (from the error log):")
        for line in err:
            if LIFECYCLE_RE.search(line):
                p("    " + line[:200])
        p("  \"%s\": %d (workers SIGKILLed: %d)" % (LOCK_RECOVERED, recov,
                                                   len(self.killed_workers)))
        for k, c in msgs.most_common(25):
            p("    %6d  %s" % (c, k[:150]))
        if crashes:
            ok = False
            self.failures.append("%d worker exits not caused by this script" % len(crashes))
            p("  unexpected worker exits:")
            for c in crashes[:20]:
                p("    " + c)
        if not self.master_alive:
            ok = False
            self.failures.append("the master is not running after the load")
        return ok and not self.failures, out

    def finish_checks(self):
        self.master_alive = self.drover.alive()
        idle = self.wait_idle()
        if not idle:
            self.failures.append("workers not idle 20 s after the load")
        time.sleep(1.0)
        self.cur_workers = self.drover.worker_pids()
        tcp = tcp_table()
        self.fd_after = {"master": classify_fds(self.drover.pid, self.drover.port,
                                                self.member_ports, tcp) or collections.Counter()}
        self.pool_by_member = {}
        for w in self.cur_workers:
            self.fd_after[w] = classify_fds(w, self.drover.port, self.member_ports, tcp)
            d = collections.Counter()
            for t in fd_targets(w) or []:
                mm = re.match(r"socket:\[(\d+)\]", t)
                e = tcp.get(mm.group(1)) if mm else None
                if e and e[1] in self.member_ports:
                    d[e[1]] += 1
            self.pool_by_member[w] = d
        self.after_n = 60
        self.after_reqs = self.check_requests_after(self.after_n)

    # ---- teardown

    def stop(self):
        self.stop_evt.set()
        if self.wrk_proc is not None and self.wrk_proc.poll() is None:
            self.wrk_proc.kill()
            self.wrk_proc.wait(10)
        if self.drover is not None:
            self.drover.stop()
        for th in self.restarts:
            th.join(timeout=10)
        for b in self.backends:
            b.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=180, help="seconds of load (default 180)")
    ap.add_argument("--workers", type=int, default=2, help="WorkerProcesses (default 2)")
    ap.add_argument("--period", type=int, default=10,
                    help="seconds between chaos actions = length of one wrk run (default 10)")
    ap.add_argument("--offset", type=float, default=3.0,
                    help="when in each period the action happens (default 3 s)")
    ap.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    ap.add_argument("--wrk-timeout", type=int, default=5, help="wrk --timeout seconds (5)")
    ap.add_argument("--window", type=float, default=2.0,
                    help="seconds after a kill in which 502/503 are accounted (2)")
    ap.add_argument("--rss-limit-mib", type=int, default=64, help="worker RSS bound (64)")
    ap.add_argument("--fd-slack", type=int, default=2,
                    help="non-connection fds a worker may have above the baseline (2)")
    ap.add_argument("--seed", type=int, default=None, help="random seed (member delays, "
                    "worker picks)")
    ap.add_argument("--accept-reload-resets", action="store_true",
                    help="count wrk socket errors in reload periods as accounted (old "
                    "workers close keep-alive connections whose next request is unread)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    if args.period < 8 or args.offset + 5.5 > args.period:
        ap.error("--period must leave room for a kill at --offset and a restart 3-5 s later")

    missing = [str(p) for p in (h.DROVER, h.BACKEND) if not p.exists()]
    if missing:
        print("soak: missing %s: build first with `make all` (soak.py builds nothing)"
              % " and ".join(missing), file=sys.stderr)
        return 1
    wrk = ensure_wrk()

    s = Soak(args)
    s.wrk = wrk

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    ok = False
    try:
        s.start()
        s.run()
        s.finish_checks()
        ok, out = s.analyse()
        print("\n".join(out))
    except KeyboardInterrupt:
        log("interrupted")
        s.failures.append("interrupted")
    except Exception as e:  # noqa: BLE001
        log("soak aborted: %r" % e)
        s.failures.append("aborted: %r" % e)
        if s.drover is not None:
            print("error log tail:\n" + "\n".join(s.drover.error_log().splitlines()[-30:]))
    finally:
        s.stop()
    if s.failures:
        ok = False
        print("FAILED:")
        for f in s.failures:
            print("  - " + f)
    print("soak: %s" % ("PASS" if ok else "FAIL"))
    if ok and not args.keep:
        h.remove_workdir(s.dir)
    else:
        print("soak: work directory kept: %s" % s.dir)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
