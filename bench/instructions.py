#!/usr/bin/python3
"""bench/instructions.py — instructions per request of drover, nginx and HAProxy
under valgrind's callgrind (`make instructions`).

CPU time per request moves by 15 % or more between runs on a shared machine;
the number of instructions a proxy executes per request does not. This script
starts the same two drover-backend instances and the same equivalent round-robin
configurations as bench/compare.py (one worker each, keep-alive to the backends,
no access log), each proxy under `valgrind --tool=callgrind --trace-children=yes`,
and drives it with wrk twice: for the warm-up time only, then for warm-up +
measured time. The difference of the workers' instruction counts (Ir) over the
difference of the requests the backends answered is what one request costs,
without start-up, warm-up and shutdown. Under valgrind a proxy runs ~50x slower,
so only the counts mean anything, not the rates; they leave out the kernel
(compare.py --syscalls counts the system calls).

--cache-lines adds callgrind's cache simulation with a last-level cache of 64 KiB
(--LL=65536,8,64, smaller than one round of 64 connections' state, so every
connection's lines have left it when its next request comes): its misses per
request count the distinct cache lines a request touches that are not shared by
all requests, the connection's own state. On a busy machine those are misses in
the real L2 as well (the kernel's network stack works through it between two
requests of one connection), and they, not instructions, make most of a proxy's
user time there. wrk then keeps 64 connections open, as compare.py does.

--code-lines counts the proxy's code footprint per request: the 64-byte lines of
machine code (callgrind --dump-instr=yes) whose instructions ran, from the shorter
run to the longer one, at least half as many more times as there were more
requests: about the lines every request runs, with start-up, the connections'
set-up and rare paths left out. Between two requests of a connection
the kernel's network stack runs through the instruction cache as well, so on a busy
machine these lines are fetched again for each request, like the cold data lines.

Python 3 standard library + bench/compare.py. Usage:
  bench/instructions.py [--proxies drover,nginx,haproxy] [--scenarios small-ka,...]
                        [--duration S] [--top N] [--cache-lines] [--code-lines]
"""
from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare as C  # noqa: E402


def callgrind_totals(path: str) -> dict:
    """The event totals of one callgrind output file: Ir, and with the cache
    simulation DLmr and DLmw (last-level read and write misses) among others."""
    events = ["Ir"]
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("summary:") or line.startswith("totals:"):
                return dict(zip(events, (int(x) for x in line.split()[1:])))
    return {}


def code_line_costs(path: str) -> dict:
    """Ir per 64-byte line of code in one callgrind --dump-instr=yes file."""
    per_line = {}
    last = 0
    after_calls = False
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("calls="):
                after_calls = True  # the next cost line is the callee's inclusive cost
                continue
            if not line or line[0] not in "0123456789+-*":
                continue
            fields = line.split()
            pos = fields[0]
            if pos[0] == "+":
                addr = last + int(pos[1:], 0)
            elif pos[0] == "-":
                addr = last - int(pos[1:], 0)
            elif pos == "*":
                addr = last
            else:
                addr = int(pos, 0)
            last = addr
            if after_calls:
                after_calls = False
                continue
            if len(fields) >= 3:  # address, source line, Ir
                per_line[addr >> 6] = per_line.get(addr >> 6, 0) + int(fields[2])
    return per_line


def code_lines(short: str, long: str, requests: int) -> int:
    """The lines of code whose Ir grew by at least requests / 2 from the short run to
    the long one. The difference leaves out start-up (a worker's file holds the
    master's start-up too, from before the fork) and the connections' set-up."""
    before = code_line_costs(short)
    return sum(1 for line, ir in code_line_costs(long).items()
               if 2 * (ir - before.get(line, 0)) >= requests)


def top_functions(path: str, n: int) -> list:
    ann = shutil.which("callgrind_annotate")
    if not ann or n <= 0:
        return []
    out = subprocess.run([ann, path], capture_output=True, text=True, timeout=120).stdout
    rows = []
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*([\d.]+)%\)\s+(.*)", line)
        if m and "PROGRAM TOTALS" not in line:
            rows.append("%5.1f%%  %s" % (float(m.group(2)), re.sub(r" \[.*\]$", "", m.group(3))[:110]))
        if len(rows) >= n:
            break
    return rows


def run_once(kind, scenario, seconds, args, backends, tmp) -> tuple:
    """Starts `kind` under callgrind, drives it with wrk for `seconds`, stops it;
    returns (the event totals of its workers over their whole life, requests the
    backends answered, the biggest worker's callgrind file)."""
    d = Path(tempfile.mkdtemp(prefix="cg-%s-" % kind, dir=str(tmp)))
    os.chmod(d, 0o1777)  # workers running as nobody write their callgrind files here
    port = C.free_port()
    cmd = C.CONFIGS[kind](d, port, 1, backends)
    vg = ["valgrind", "--tool=callgrind", "--trace-children=yes",
          "--callgrind-out-file=%s/cg.%%p" % d]
    if args.cache_lines:
        vg += ["--cache-sim=yes", "--D1=32768,8,64", "--LL=65536,8,64"]
    if args.code_lines:
        vg += ["--dump-instr=yes"]
    proc = C.Proc(kind, vg + cmd, d, None, d / "stdout.log")
    try:
        C.wait_port(proc, port, timeout=60)
        deadline = time.monotonic() + 30
        while kind != "haproxy" and not proc.descendants() and time.monotonic() < deadline:
            time.sleep(0.1)
        s0 = [b.snapshot() for b in backends]
        C.run_wrk(port, scenario, seconds, 1, args.connections, None)
        s1 = C.settle(backends)
        requests = sum(C.delta(x, y)[0] for x, y in zip(s1, s0))
    finally:
        proc.stop(timeout=60)
    # valgrind keeps the pids: the master's file is cg.<pid of the started process>;
    # HAProxy runs its threads in that one process.
    files = glob.glob(str(d / "cg.*"))
    if kind != "haproxy":
        files = [f for f in files if f != str(d / ("cg.%d" % proc.pid))]
    if not files:
        raise C.Failure("%s: no callgrind output" % kind)
    per_file = {f: callgrind_totals(f) for f in files}
    biggest = max(files, key=lambda f: per_file[f].get("Ir", 0))
    totals = {}
    for t in per_file.values():
        for k, v in t.items():
            totals[k] = totals.get(k, 0) + v
    return totals, requests, biggest


def measure(kind, scenario, args, backends, tmp) -> dict:
    """Two runs, warm-up only and warm-up + measured time: the difference in
    instructions over the difference in requests leaves out start-up, warm-up
    and shutdown."""
    t1, req1, short = run_once(kind, scenario, args.warmup, args, backends, tmp)
    t2, req2, biggest = run_once(kind, scenario, args.warmup + args.duration, args, backends,
                                 tmp)
    if req2 <= req1:
        raise C.Failure("%s: the longer run answered no more requests (%d, %d)" % (
            kind, req1, req2))
    n = req2 - req1

    def per_req(*events):
        return sum(t2.get(e, 0) - t1.get(e, 0) for e in events) / n

    return {"proxy": kind, "scenario": scenario, "requests": n, "ir": t2["Ir"] - t1["Ir"],
            "ir_per_req": per_req("Ir"), "lines_per_req": per_req("DLmr", "DLmw"),
            "code_lines": code_lines(short, biggest, n) if args.code_lines else 0,
            "top": top_functions(biggest, args.top)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--proxies", default=",".join(C.PROXIES))
    ap.add_argument("--scenarios", default="small-ka,small-close,64k-ka")
    ap.add_argument("--duration", type=int, default=5, help="seconds of the measured wrk run")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--connections", type=int, default=None,
                    help="wrk connections (16; 64 with --cache-lines)")
    ap.add_argument("--top", type=int, default=0, help="print the top N functions of each")
    ap.add_argument("--cache-lines", action="store_true",
                    help="also count cold cache lines per request (cache simulation, 64 KiB LL)")
    ap.add_argument("--code-lines", action="store_true",
                    help="also count the code lines each request runs (callgrind --dump-instr)")
    a = ap.parse_args(argv)
    if a.connections is None:
        a.connections = 64 if a.cache_lines else 16
    for tool in ("valgrind", "wrk"):
        if not shutil.which(tool):
            C.log("missing: %s (tools/install-deps.sh --bench)" % tool)
            return 1
    tmp = Path(tempfile.mkdtemp(prefix="drover-instr-"))
    os.chmod(tmp, 0o755)
    backends = []
    rows = []
    try:
        backends = [C.Backend("b%d" % (i + 1), tmp, None, 1) for i in range(2)]
        for s in a.scenarios.split(","):
            for p in a.proxies.split(","):
                if not C.runs_in(p, s):
                    continue  # the relay is a floor for keep-alive only (compare.py)
                C.log("%s: %s under callgrind" % (s, p))
                try:
                    rows.append(measure(p, s, a, backends, tmp))
                except C.Failure as e:
                    C.log("FAILED: %s" % e)
    finally:
        for b in backends:
            b.proc.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    # (column title, row key, format) after instructions/request; each with its ratio
    # to nginx's in the same scenario.
    extra = ([("cold lines/request", "lines_per_req", "%.1f")] if a.cache_lines else []) + \
        ([("code lines/request", "code_lines", "%d")] if a.code_lines else [])
    print("| scenario | proxy | requests | instructions/request | vs nginx |"
          + "".join(" %s | vs nginx |" % title for title, _, _ in extra))
    print("|---|---|---|---|---|" + "---|---|" * len(extra))
    for r in rows:
        ng = [x for x in rows if x["scenario"] == r["scenario"] and x["proxy"] == "nginx"]

        def vs_nginx(key):
            return "%.2f" % (r[key] / ng[0][key]) if ng and ng[0][key] > 0 else "-"

        row = "| %s | %s | %d | %s | %s |" % (r["scenario"], r["proxy"], r["requests"],
                                             "{:,.0f}".format(r["ir_per_req"]),
                                             vs_nginx("ir_per_req"))
        for _, key, fmt in extra:
            row += " %s | %s |" % (fmt % r[key], vs_nginx(key))
        print(row)
    for r in rows:
        if r["top"]:
            print("\n%s %s, top functions (self):" % (r["proxy"], r["scenario"]))
            for t in r["top"]:
                print("  " + t)
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
