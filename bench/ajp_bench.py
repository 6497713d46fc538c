#!/usr/bin/python3
"""bench/ajp_bench.py: requests/s through drover over AJP vs over HTTP to the
same two Tomcat 10 instances, and the same through Apache httpd 2.4
(mod_proxy_ajp / mod_proxy_http + mod_proxy_balancer), in one run.

    /usr/bin/python3 bench/ajp_bench.py [--duration 10] [--connections 16] [--path /bench.txt]

Needs build/drover, tomcat10, apache2 and wrk (tools/install-deps.sh --bench).
Tomcats are started with t/integration/tomcat.py (own CATALINA_BASE, ports from
port 0); drover runs with WorkerProcesses 1; Apache runs from its own config file
in a temporary directory (`apache2 -f DIR/httpd.conf -DFOREGROUND`), mpm_event with
ONE process (ServerLimit 1, ThreadsPerChild 32) so both proxies use one process.
Each row is `wrk -t1 -cN -dDs http://127.0.0.1:PORT/PATH`, after a 2 s warm-up.
Everything started is stopped by pid. Not a test: figures only.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "t" / "integration"))
import tomcat as tc  # noqa: E402

DROVER = Path(os.environ.get("DROVER_BUILD", ROOT / "build")) / "drover"
SECRET = "bench-secret"

HTTPD_CONF = """ServerRoot /usr/lib/apache2
ServerName bench.local
Listen 127.0.0.1:{ajp_port}
Listen 127.0.0.1:{http_port}
LoadModule mpm_event_module modules/mod_mpm_event.so
LoadModule authz_core_module modules/mod_authz_core.so
LoadModule proxy_module modules/mod_proxy.so
LoadModule proxy_ajp_module modules/mod_proxy_ajp.so
LoadModule proxy_http_module modules/mod_proxy_http.so
LoadModule proxy_balancer_module modules/mod_proxy_balancer.so
LoadModule slotmem_shm_module modules/mod_slotmem_shm.so
LoadModule lbmethod_byrequests_module modules/mod_lbmethod_byrequests.so
User nobody
Group nogroup
PidFile {dir}/httpd.pid
ErrorLog {dir}/error.log
DefaultRuntimeDir {dir}
LogLevel warn
StartServers 1
ServerLimit 1
ThreadsPerChild 32
MaxRequestWorkers 32
MinSpareThreads 1
MaxSpareThreads 32
KeepAlive On
MaxKeepAliveRequests 0
<Proxy balancer://ajp>
  BalancerMember ajp://127.0.0.1:{t1_ajp} route=node1 secret={secret}
  BalancerMember ajp://127.0.0.1:{t2_ajp} route=node2 secret={secret}
</Proxy>
<Proxy balancer://http>
  BalancerMember http://127.0.0.1:{t1_http} route=node1
  BalancerMember http://127.0.0.1:{t2_http} route=node2
</Proxy>
<VirtualHost 127.0.0.1:{ajp_port}>
  ProxyPass / balancer://ajp/
</VirtualHost>
<VirtualHost 127.0.0.1:{http_port}>
  ProxyPass / balancer://http/
</VirtualHost>
"""

DROVER_CONF = """[global]
User = nobody
Group = nogroup
WorkerProcesses = 1
PidFile = {dir}/drover.pid
ErrorLog = {dir}/error.log
LogLevel = warn
[server]
Listen = 127.0.0.1:{port}
CustomLog = off
ProxyPass = / balancer://b/
[balancer://b]
{members}
"""


def wait_port(port, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tc.port_open(port):
            return
        time.sleep(0.05)
    raise RuntimeError("port %d not open" % port)


def wrk(port, path, duration, conns):
    url = "http://127.0.0.1:%d%s" % (port, path)
    subprocess.run(["wrk", "-t1", "-c%d" % conns, "-d2s", url], capture_output=True)
    out = subprocess.run(["wrk", "-t1", "-c%d" % conns, "-d%ds" % duration, url],
                         capture_output=True, text=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    lat = re.search(r"Latency\s+(\S+)", out)
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    return (float(rps.group(1)) if rps else 0.0, lat.group(1) if lat else "?",
            int(errs.group(1)) if errs else 0, sock.group(1) if sock else "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--path", default="/bench.txt")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args()
    for what, ok in (("build/drover", DROVER.exists()), ("wrk", shutil.which("wrk")),
                     ("apache2", Path("/usr/sbin/apache2").exists()),
                     ("tomcat10", tc.unavailable() is None)):
        if not ok:
            sys.exit("ajp_bench: %s missing (tools/install-deps.sh --bench; make)" % what)
    tmp = Path(tempfile.mkdtemp(prefix="drover-ajp-bench-"))
    os.chmod(tmp, 0o755)
    procs = []
    tomcats = [tc.Tomcat(tmp / n, n, SECRET) for n in ("node1", "node2")]
    try:
        for t in tomcats:
            t.start()
        deadline = time.monotonic() + tc.START_TIMEOUT
        for t in tomcats:
            t.wait_ready(deadline)
        ports = {}
        for scheme in ("ajp", "http"):
            d = tmp / ("drover-" + scheme)
            d.mkdir()
            os.chmod(d, 0o777)
            ports["drover", scheme] = tc.free_port()
            if scheme == "ajp":
                members = "\n".join("BalancerMember = ajp://127.0.0.1:%d route=%s secret=%s"
                                    % (t.ajp_port, t.name, SECRET) for t in tomcats)
            else:
                members = "\n".join("BalancerMember = http://127.0.0.1:%d route=%s"
                                    % (t.http_port, t.name) for t in tomcats)
            (d / "drover.conf").write_text(DROVER_CONF.format(
                dir=d, port=ports["drover", scheme], members=members))
            procs.append(subprocess.Popen([str(DROVER), "-F", "-c", str(d / "drover.conf")],
                                          stdin=subprocess.DEVNULL))
            wait_port(ports["drover", scheme])
        h = tmp / "httpd"
        h.mkdir()
        os.chmod(h, 0o777)
        ports["apache", "ajp"] = tc.free_port()
        ports["apache", "http"] = tc.free_port()
        (h / "httpd.conf").write_text(HTTPD_CONF.format(
            dir=h, ajp_port=ports["apache", "ajp"], http_port=ports["apache", "http"],
            t1_ajp=tomcats[0].ajp_port, t2_ajp=tomcats[1].ajp_port,
            t1_http=tomcats[0].http_port, t2_http=tomcats[1].http_port, secret=SECRET))
        procs.append(subprocess.Popen(["/usr/sbin/apache2", "-f", str(h / "httpd.conf"),
                                       "-DFOREGROUND"], stdin=subprocess.DEVNULL))
        wait_port(ports["apache", "ajp"])
        wait_port(ports["apache", "http"])
        # Direct to one Tomcat's HTTP connector, for scale.
        rows = [("tomcat node1 direct", "http", tomcats[0].http_port)]
        for proxy in ("drover", "apache"):
            for scheme in ("ajp", "http"):
                rows.append((proxy, scheme, ports[proxy, scheme]))
        print("wrk -t1 -c%d -d%ds, path %s" % (a.connections, a.duration, a.path))
        print("%-22s %-6s %12s %10s %8s" % ("proxy", "member", "requests/s", "latency", "non-2xx"))
        for proxy, scheme, port in rows:
            rps, lat, errs, sock = wrk(port, a.path, a.duration, a.connections)
            print("%-22s %-6s %12.0f %10s %8d %s" % (proxy, scheme, rps, lat, errs, sock),
                  flush=True)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
        for t in tomcats:
            t.stop()
        if a.keep:
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
