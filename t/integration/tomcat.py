"""Real Apache Tomcat 10 instances for drover's AJP tests (Debian's tomcat10
package; the system service is never used). Each instance gets its own
CATALINA_BASE in a temporary directory: server.xml with no shutdown port, an
HTTP connector and an AJP connector (secretRequired, with a secret) on free
loopback ports, Engine jvmRoute=NAME, and a ROOT webapp with one JSP
(info.jsp, compiled by Jasper with the JDT compiler Debian ships) that reports
the node, the session and what it received:

    node=node1
    session=<id>.node1
    new=true|false
    count=<requests seen by this session>
    method=POST
    length=<request body bytes read>
    sha256=<hex of the body>
    remote=127.0.0.1
    server=<getServerName()>:<getServerPort()>
    query=<getQueryString()>
    secure=false

Started processes are stopped by pid. Standard library only.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

CATALINA_HOME = Path(os.environ.get("DROVER_CATALINA_HOME", "/usr/share/tomcat10"))
TOMCAT_CONF = Path("/etc/tomcat10")  # Debian's conf/ (web.xml, catalina.properties)
JDT_JAR = Path("/usr/share/java/eclipse-jdt-core.jar")
START_TIMEOUT = 90.0  # JVM + Tomcat + the first JSP compile on a 2-core machine

SERVER_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Server port="-1" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Connector address="127.0.0.1" port="{http_port}" protocol="HTTP/1.1"
               connectionTimeout="20000" maxKeepAliveRequests="-1" maxThreads="32"/>
    <Connector address="127.0.0.1" port="{ajp_port}" protocol="AJP/1.3"
               secretRequired="true" secret="{secret}" maxThreads="32"/>
    <Engine name="Catalina" defaultHost="localhost" jvmRoute="{name}">
      <Host name="localhost" appBase="webapps" unpackWARs="false" autoDeploy="false"/>
    </Engine>
  </Service>
</Server>
"""

INFO_JSP = r"""<%@ page contentType="text/plain; charset=UTF-8" session="true"
%><%@ page import="java.security.MessageDigest"
%><%
  long n = 0;
  MessageDigest md = MessageDigest.getInstance("SHA-256");
  java.io.InputStream in = request.getInputStream();
  byte[] buf = new byte[65536];
  int r;
  while ((r = in.read(buf)) > 0) { md.update(buf, 0, r); n += r; }
  StringBuilder hex = new StringBuilder();
  for (byte b : md.digest()) { hex.append(String.format("%02x", b)); }
  Integer count = (Integer) session.getAttribute("count");
  count = count == null ? 1 : count + 1;
  session.setAttribute("count", count);
  out.print("node=" + System.getProperty("drover.node") + "\n"
      + "session=" + session.getId() + "\n"
      + "new=" + session.isNew() + "\n"
      + "count=" + count + "\n"
      + "method=" + request.getMethod() + "\n"
      + "length=" + n + "\n"
      + "sha256=" + hex + "\n"
      + "remote=" + request.getRemoteAddr() + "\n"
      + "server=" + request.getServerName() + ":" + request.getServerPort() + "\n"
      + "query=" + request.getQueryString() + "\n"
      + "secure=" + request.isSecure() + "\n");
%>"""


def unavailable() -> str | None:
    """Why real Tomcat cannot run here, or None."""
    if not (CATALINA_HOME / "bin" / "bootstrap.jar").exists():
        return "tomcat10 is not installed (%s/bin/bootstrap.jar missing; " \
               "tools/install-deps.sh installs it)" % CATALINA_HOME
    if shutil.which("java") is None:
        return "no java on PATH"
    if not JDT_JAR.exists():
        return "%s missing (Jasper needs it to compile the test JSP)" % JDT_JAR
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def http_get(port: int, path: str, timeout: float = 30.0) -> tuple[int, bytes]:
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def parse_info(body: bytes) -> dict:
    out = {}
    for line in body.decode("utf-8", "replace").splitlines():
        k, sep, v = line.partition("=")
        if sep:
            out[k] = v
    return out


class Tomcat:
    """One Tomcat: .name (= jvmRoute) .http_port .ajp_port .secret .base .pid"""

    def __init__(self, base: Path, name: str, secret: str):
        self.base = Path(base)
        self.name = name
        self.secret = secret
        self.http_port = free_port()
        self.ajp_port = free_port()
        self.proc = None
        self._log = None

    def _write_base(self):
        b = self.base
        for d in ("conf", "logs", "temp", "work", "lib", "webapps/ROOT"):
            (b / d).mkdir(parents=True, exist_ok=True)
        (b / "conf" / "server.xml").write_text(SERVER_XML.format(
            http_port=self.http_port, ajp_port=self.ajp_port, secret=self.secret,
            name=self.name))
        for f in ("web.xml", "catalina.properties", "logging.properties"):
            src = TOMCAT_CONF / f
            if src.exists():
                shutil.copy(src, b / "conf" / f)
        link = b / "lib" / JDT_JAR.name
        if not link.exists():
            link.symlink_to(JDT_JAR)
        (b / "webapps" / "ROOT" / "info.jsp").write_text(INFO_JSP)
        # A static 1 KiB file for bench/ajp_bench.py (Tomcat's DefaultServlet).
        (b / "webapps" / "ROOT" / "bench.txt").write_bytes(b"x" * 1023 + b"\n")

    def start(self):
        self._write_base()
        home = CATALINA_HOME
        cp = "%s:%s" % (home / "bin" / "bootstrap.jar", home / "bin" / "tomcat-juli.jar")
        args = ["java", "-Xmx256m", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
                "-Djava.security.egd=file:/dev/./urandom",
                "-Dcatalina.home=%s" % home, "-Dcatalina.base=%s" % self.base,
                "-Djava.io.tmpdir=%s" % (self.base / "temp"),
                "-Ddrover.node=%s" % self.name,
                "-Djava.util.logging.manager=org.apache.juli.ClassLoaderLogManager",
                "-Djava.util.logging.config.file=%s" % (self.base / "conf" / "logging.properties"),
                "-cp", cp, "org.apache.catalina.startup.Bootstrap", "start"]
        self._log = open(self.base / "logs" / "stdout.log", "ab")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=str(self.base))
        return self

    def wait_ready(self, deadline: float):
        """Both ports open and the JSP compiled and answering (bounded)."""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("tomcat %s exited (%d): %s" % (
                    self.name, self.proc.returncode, self.log_tail()))
            if port_open(self.http_port) and port_open(self.ajp_port):
                try:
                    status, body = http_get(self.http_port, "/info.jsp",
                                            timeout=max(1.0, deadline - time.monotonic()))
                except OSError:
                    status, body = 0, b""
                if status == 200 and parse_info(body).get("node") == self.name:
                    return self
            time.sleep(0.2)
        raise RuntimeError("tomcat %s not ready in time: %s" % (self.name, self.log_tail()))

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=3000):
        out = []
        for p in sorted((self.base / "logs").glob("*")):
            try:
                out.append("== %s\n%s" % (p.name, p.read_text(errors="replace")[-n:]))
            except OSError:
                pass
        return "\n".join(out)

    def stop(self, timeout=20.0):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log:
            self._log.close()
            self._log = None

    def __repr__(self):
        return "Tomcat(%s, http=%d, ajp=%d, pid=%s)" % (self.name, self.http_port,
                                                        self.ajp_port, self.pid)
