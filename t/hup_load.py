#!/usr/bin/python3
"""Reload under load (issue 6): wrk through drover while the master is SIGHUPed
again and again; no client may see a failed or reset request.

Starts two drover-backend processes and drover (WorkerProcesses=2 by default,
both members in one balancer), runs `wrk -t2 -c32 -d20s` through it and, from
2 s into the run, sends SIGHUP to the master 10 times, 1.5 s apart. Then it
checks:

  * wrk's own summary: no "Socket errors" line (or one with every count 0) and
    no "Non-2xx or 3xx responses" line; at least one request per HUP;
  * the error log: 10 "configuration reloaded" lines, no worker that exited on
    a signal, no "reload failed";
  * the access log: every logged status is 200.

It builds nothing: it needs build/drover and build/drover-backend (`make all`;
DROVER_BUILD=DIR overrides the directory) and wrk (Debian package wrk, installed
with apt-get when missing and running as root).

    /usr/bin/python3 t/hup_load.py [--duration 20] [--hups 10] [--interval 1.5]
    make hup-load [HUP_LOAD_ARGS="--hups 20 --duration 35"]

Prints wrk's output and a verdict line `hup-load: PASS` or `hup-load: FAIL`;
exit status 0 or 1. Everything it starts is stopped by pid. The work directory
(config, logs, wrk output) is kept when the run fails or with --keep.
"""
from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "integration"))
import drover as h  # noqa: E402  (the integration-test harness)

T0 = time.monotonic()
ACCESS_FORMAT = "%>s %P %m %U"


def log(msg):
    print("[%7.3fs] %s" % (time.monotonic() - T0, msg), flush=True)


def ensure_wrk():
    w = shutil.which("wrk")
    if w:
        return w
    if os.geteuid() != 0:
        sys.exit("hup-load: wrk is not installed and this is not root: "
                 "apt-get install wrk (Debian package wrk), then run again")
    log("wrk missing: apt-get install -y wrk")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.call(["apt-get", "install", "-y", "-q", "wrk"], env=env) != 0:
        subprocess.call(["apt-get", "update", "-q"], env=env)
        subprocess.call(["apt-get", "install", "-y", "-q", "wrk"], env=env)
    w = shutil.which("wrk")
    if not w:
        sys.exit("hup-load: could not install wrk with apt-get (Debian package wrk)")
    return w


def check_wrk(text, hups):
    """Problems found in wrk's summary (an empty list when it is clean)."""
    problems = []
    m = re.search(r"^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                  text, re.M)
    if m and any(int(x) for x in m.groups()):
        problems.append("wrk: %s" % m.group(0).strip())
    m = re.search(r"^\s*Non-2xx or 3xx responses: (\d+)", text, re.M)
    if m:
        problems.append("wrk: %s" % m.group(0).strip())
    m = re.search(r"^\s*(\d+) requests in ", text, re.M)
    if not m:
        problems.append("wrk printed no request count")
    elif int(m.group(1)) < hups:
        problems.append("wrk made only %s requests" % m.group(1))
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=20, help="seconds of load (20)")
    ap.add_argument("--hups", type=int, default=10, help="SIGHUPs to send (10)")
    ap.add_argument("--interval", type=float, default=1.5, help="seconds between HUPs (1.5)")
    ap.add_argument("--start", type=float, default=2.0,
                    help="seconds into the wrk run of the first HUP (2)")
    ap.add_argument("--workers", type=int, default=2, help="WorkerProcesses (2)")
    ap.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    ap.add_argument("--path", default="/size?n=512", help="request path (/size?n=512)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args()
    if a.start + (a.hups - 1) * a.interval + 2 > a.duration:
        ap.error("--duration must cover --start + (--hups - 1) x --interval + 2 s")

    missing = [str(p) for p in (h.DROVER, h.BACKEND) if not p.exists()]
    if missing:
        print("hup-load: missing %s: build first with `make all`" % " and ".join(missing),
              file=sys.stderr)
        return 1
    wrk = ensure_wrk()

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    work = h.make_workdir("drover-hup-load-")
    backends = []
    d = None
    wrk_proc = None
    problems = []
    wrk_out = ""
    try:
        for name in ("A", "B"):
            backends.append(h.Backend(name, work / "backends").start())
        d = h.Drover(
            work / "drover",
            global_={"WorkerProcesses": a.workers, "LogLevel": "info"},
            server={"ProxyPass": "/ balancer://hup/",
                    "CustomLog": '%s "%s"' % (work / "drover" / "access.log", ACCESS_FORMAT)},
            balancers={"hup": {"BalancerMember": [b.url for b in backends]}})
        d.start()
        workers0 = d.wait_workers()
        log("drover pid %d on port %d, workers %s; members %s; dir %s" % (
            d.pid, d.port, workers0, " ".join(b.url for b in backends), work))
        r = h.request(d.port, "GET", a.path)
        if r.status != 200:
            raise h.HarnessError("warm-up request answered %d" % r.status)

        cmd = [wrk, "-t%d" % a.threads, "-c%d" % a.connections, "-d%ds" % a.duration,
               "--timeout", "5s", "--latency", "http://%s:%d%s" % (h.LOOPBACK, d.port, a.path)]
        log("running: %s" % " ".join(cmd))
        out_path = work / "wrk.out"
        with open(out_path, "wb") as out:
            wrk_proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)
            t_start = time.monotonic()
            for i in range(a.hups):
                t = t_start + a.start + i * a.interval
                time.sleep(max(0.0, t - time.monotonic()))
                if wrk_proc.poll() is not None:
                    problems.append("wrk ended before HUP %d" % (i + 1))
                    break
                d.signal(signal.SIGHUP)
                log("HUP %d/%d" % (i + 1, a.hups))
            try:
                wrk_proc.wait(a.duration + 30)
            except subprocess.TimeoutExpired:
                wrk_proc.kill()
                wrk_proc.wait(10)
                problems.append("wrk did not finish within %d s" % (a.duration + 30))
        wrk_out = out_path.read_text(errors="replace")
        if wrk_proc.returncode != 0:
            problems.append("wrk exited with %s" % wrk_proc.returncode)
        problems += check_wrk(wrk_out, a.hups)

        # Every reload done, and no crash on the way.
        try:
            h.wait_until(lambda: d.error_log().count("configuration reloaded") >= a.hups,
                         10, what="%d 'configuration reloaded' lines" % a.hups)
        except h.HarnessError as e:
            problems.append(str(e))
        elog = d.error_log()
        reloads = elog.count("configuration reloaded")
        for pat in ("exited on signal", "reload failed", "GracefulShutdownTimeout reached"):
            n = elog.count(pat)
            if n:
                problems.append("error log: %d x %r" % (n, pat))
        statuses = collections.Counter()
        for line in d.access_log().splitlines():
            if line.strip():
                statuses[line.split()[0]] += 1
        bad = {s: n for s, n in statuses.items() if s != "200"}
        if bad:
            problems.append("access log: non-200 statuses %s" % bad)
        print("---- wrk output ----")
        print(wrk_out.rstrip())
        print("---- end of wrk output ----")
        log("reloads logged: %d; access log statuses: %s" % (reloads, dict(statuses)))
    except KeyboardInterrupt:
        problems.append("interrupted")
    except Exception as e:  # noqa: BLE001
        problems.append("aborted: %r" % e)
        if d is not None:
            print("error log tail:\n" + "\n".join(d.error_log().splitlines()[-30:]))
    finally:
        if wrk_proc is not None and wrk_proc.poll() is None:
            wrk_proc.kill()
            wrk_proc.wait(10)
        if d is not None:
            d.stop()
        for b in backends:
            b.stop()
    ok = not problems
    for p in problems:
        print("FAILED: " + p)
    print("hup-load: %s" % ("PASS" if ok else "FAIL"))
    if ok and not a.keep:
        h.remove_workdir(work)
    else:
        print("hup-load: work directory kept: %s" % work)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
