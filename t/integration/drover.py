"""Integration-test harness for drover: starts the real `drover` binary and
`drover-backend` processes on loopback, writes configs, and speaks HTTP to them.

Standard library only (pytest is used by conftest.py, not here). Every wait has a
deadline; every process started here is tracked and stopped by pid (never by
name) at teardown. See conftest.py for the fixtures that wrap these classes.

The deterministic body pattern of drover-backend (/size, /slowbody, /trunc, and
the "pattern" flag of /upload): byte i = (31*i + 7 + (i >> 16)) mod 256.
"""
from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("DROVER_BUILD", str(ROOT / "build"))).resolve()
DROVER = BUILD / "drover"
BACKEND = BUILD / "drover-backend"
LOOPBACK = "127.0.0.1"

# Default deadlines (seconds).
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
HTTP_TIMEOUT = 15.0


class HarnessError(Exception):
    """A process did not start, stop or answer as the harness expected."""


# --------------------------------------------------------------------------------------
# waiting


def wait_until(pred, timeout=START_TIMEOUT, interval=0.01, what="condition"):
    """Polls pred() until it returns a truthy value (returned) or the deadline passes
    (HarnessError naming `what`). The poll interval grows from `interval` to 0.1 s."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise HarnessError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)
        interval = min(interval * 1.5, 0.1)


# --------------------------------------------------------------------------------------
# body pattern and checksums

_BASE = bytes(((31 * j + 7) & 0xFF) for j in range(65536 + 256))


def pattern(n: int, offset: int = 0) -> bytes:
    """n bytes of drover-backend's pattern starting at byte `offset`."""
    out = []
    pos, end = offset, offset + n
    while pos < end:
        block, j = pos >> 16, pos & 0xFFFF
        shift = (block * 223) & 0xFF
        take = min(65536 - j, end - pos)
        out.append(_BASE[shift + j: shift + j + take])
        pos += take
    return b"".join(out)


class PatternChecker:
    """Feed body pieces in order; .ok stays True while they match the pattern."""

    def __init__(self):
        self.length = 0
        self.ok = True
        self.first_bad = None

    def feed(self, data: bytes):
        if self.ok and data != pattern(len(data), self.length):
            self.ok = False
            exp = pattern(len(data), self.length)
            for i, (a, b) in enumerate(zip(data, exp)):
                if a != b:
                    self.first_bad = self.length + i
                    break
        self.length += len(data)


def pattern_chunks(n: int, piece: int = 65536):
    """Yields the first n pattern bytes in pieces (for streaming uploads)."""
    off = 0
    while off < n:
        take = min(piece, n - off)
        yield pattern(take, off)
        off += take


def fnv1a64(data: bytes) -> str:
    """FNV-1a 64 as 16 hex digits, as drover-backend reports it (slow: small bodies)."""
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


# --------------------------------------------------------------------------------------
# ports and /proc


def free_port(host: str = LOOPBACK) -> int:
    """A port that was free a moment ago (bind port 0, read it, close)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def proc_status(pid: int) -> dict:
    """/proc/PID/status as a dict of strings ({} when the process is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            text = f.read()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        out[k] = v.strip()
    return out


def vmrss_kib(pid: int) -> int:
    """Resident set size of pid in KiB (0 when gone)."""
    v = proc_status(pid).get("VmRSS", "0 kB")
    return int(v.split()[0])


def _stat_fields(pid: int):
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except OSError:
        return None
    # comm may contain spaces and parentheses: split after the last ')'.
    rest = text[text.rindex(")") + 2:].split()
    return rest  # rest[0] = state, rest[1] = ppid


def pid_alive(pid: int) -> bool:
    """True when pid exists and is not a zombie."""
    f = _stat_fields(pid)
    return f is not None and f[0] not in ("Z", "X")


def children_of(pid: int) -> list:
    """Live (non-zombie) child pids of pid, sorted."""
    kids = set()
    task_dir = "/proc/%d/task" % pid
    try:
        tasks = os.listdir(task_dir)
        have_children_file = os.path.exists("%s/%s/children" % (task_dir, tasks[0]))
    except (OSError, IndexError):
        return []
    if have_children_file:
        for t in tasks:
            try:
                with open("%s/%s/children" % (task_dir, t)) as f:
                    kids.update(int(x) for x in f.read().split())
            except OSError:
                pass
    else:
        for name in os.listdir("/proc"):
            if name.isdigit():
                f = _stat_fields(int(name))
                if f is not None and int(f[1]) == pid:
                    kids.add(int(name))
    return sorted(k for k in kids if pid_alive(k))


def _exe_is(pid: int, path: Path) -> bool:
    try:
        return os.path.realpath("/proc/%d/exe" % pid) == os.path.realpath(str(path))
    except OSError:
        return False


class RssSampler:
    """Samples the VmRSS of some pids every `interval` s in a thread.
    Use as a context manager; .max_kib is the peak seen across all pids,
    .samples the number of samples taken. `pids` may be a callable."""

    def __init__(self, pids, interval: float = 0.02):
        self._pids = pids
        self.interval = interval
        self.max_kib = 0
        self.per_pid = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self):
        pids = self._pids() if callable(self._pids) else self._pids
        for p in pids:
            kib = vmrss_kib(p)
            self.per_pid[p] = max(self.per_pid.get(p, 0), kib)
            self.max_kib = max(self.max_kib, kib)
        self.samples += 1

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample()
        return False


# --------------------------------------------------------------------------------------
# HTTP client helpers


class Response:
    """A response: .status, .reason, .headers (list of (name, value) in order),
    .body (bytes). Unpacks as (status, headers, body)."""

    def __init__(self, status, headers, body, reason="", version="HTTP/1.1"):
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = list(headers)
        self.body = body

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    def header(self, name, default=None):
        """The first value of header `name` (case-insensitive), or default."""
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    def header_all(self, name):
        """Every value of header `name`, in order."""
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "Response(%d, %r, %r)" % (self.status, self.headers, self.body[:200])


def _pairs(headers):
    if headers is None:
        return []
    if isinstance(headers, dict):
        return list(headers.items())
    return list(headers)


def send_request(conn, method, path, headers=None, body=None):
    """Writes one request on an http.client connection with exactly the given headers
    (repeats and order kept; Host added unless given; no Accept-Encoding added).
    body: bytes/str (Content-Length added unless given) or an iterable of bytes (sent
    chunked unless a Content-Length is given)."""
    pairs = _pairs(headers)
    names = {k.lower() for k, _ in pairs}
    conn.putrequest(method, path, skip_host="host" in names, skip_accept_encoding=True)
    for k, v in pairs:
        conn.putheader(k, v)
    if isinstance(body, str):
        body = body.encode()
    if body is None or isinstance(body, (bytes, bytearray)):
        if body is not None and "content-length" not in names \
                and "transfer-encoding" not in names:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        return
    chunked = "content-length" not in names
    if chunked and "transfer-encoding" not in names:
        conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    for piece in body:
        if not piece:
            continue
        conn.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
    if chunked:
        conn.send(b"0\r\n\r\n")


def request(port, method="GET", path="/", headers=None, body=None, *, host=LOOPBACK,
            timeout=HTTP_TIMEOUT) -> Response:
    """One request on a new http.client connection (closed afterwards); returns a
    Response (unpacks as status, headers, body). headers: dict or list of pairs (see
    send_request for body and header handling)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        send_request(conn, method, path, headers, body)
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, resp.getheaders(), data, resp.reason,
                        "HTTP/1.1" if resp.version == 11 else "HTTP/1.0")
    finally:
        conn.close()


class Client:
    """A persistent (keep-alive) http.client connection for several requests:
        with Client(port) as c: r = c.request("GET", "/x")"""

    def __init__(self, port, host=LOOPBACK, timeout=HTTP_TIMEOUT):
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout)

    def request(self, method="GET", path="/", headers=None, body=None) -> Response:
        send_request(self.conn, method, path, headers, body)
        resp = self.conn.getresponse()
        data = resp.read()
        return Response(resp.status, resp.getheaders(), data, resp.reason)

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class StreamedRequest:
    """Context manager for big bodies: sends the request and yields the
    http.client.HTTPResponse unread, so the caller reads it in pieces.
        with StreamedRequest(port, "GET", "/size?n=...") as resp: resp.read(65536)"""

    def __init__(self, port, method="GET", path="/", headers=None, body=None, *,
                 host=LOOPBACK, timeout=HTTP_TIMEOUT):
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout)
        self.args = (method, path, headers, body)

    def __enter__(self):
        send_request(self.conn, *self.args)
        return self.conn.getresponse()

    def __exit__(self, *exc):
        self.conn.close()
        return False


def raw(port, data: bytes, timeout: float = 5.0, *, host=LOOPBACK, responses=None,
        head_methods=None, shutdown_write=False, chunks=None, delay=0.0) -> bytes:
    """Sends raw bytes on a fresh socket and returns everything read until the peer
    closes or `timeout` (overall) passes. With responses=N, returns as soon as N
    complete final responses (see parse_responses) have arrived. `chunks` (a list of
    bytes) replaces `data` to send pieces separately with `delay` seconds between
    them. shutdown_write half-closes after sending."""
    deadline = time.monotonic() + timeout
    buf = b""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i, piece in enumerate(chunks if chunks is not None else [data]):
            if i and delay:
                time.sleep(delay)
            s.sendall(piece)
        if shutdown_write:
            s.shutdown(socket.SHUT_WR)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                got = s.recv(1 << 16)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not got:
                break
            buf += got
            if responses is not None:
                parsed, _ = parse_responses(buf, head_methods=head_methods)
                finals = [r for r in parsed if r.status >= 200 and r.complete]
                if len(finals) >= responses:
                    break
    return buf


def raw_exchange(port, data: bytes, timeout: float = 5.0, **kw):
    """raw() and parse_responses() together: returns (final responses, rest bytes)."""
    buf = raw(port, data, timeout, **kw)
    parsed, rest = parse_responses(buf, head_methods=kw.get("head_methods"))
    return [r for r in parsed if r.status >= 200], rest


class RawResponse(Response):
    """A response parsed from raw bytes; .complete is False when the bytes ended
    before the body did (or a close-delimited body that may continue)."""

    def __init__(self, version, status, reason, headers, body, complete):
        super().__init__(status, headers, body, reason, version)
        self.complete = complete

    def __repr__(self):
        return "RawResponse(%d, complete=%s, %r, %r)" % (
            self.status, self.complete, self.headers, self.body[:200])


_STATUS_RE = re.compile(rb"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$")


def parse_responses(data: bytes, head_methods=None, eof=True):
    """Parses consecutive HTTP/1.x responses from raw bytes. Returns (list of
    RawResponse including 1xx interims, unparsed rest). head_methods: a list of
    booleans, True where the corresponding final response answers a HEAD request.
    Bodies: Content-Length, chunked (with trailers) or, without either, until the
    end of `data` (close-delimited: complete only when eof=True). Raises ValueError
    on bytes that are not a response."""
    out = []
    pos = 0
    final_index = 0
    while pos < len(data):
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            break
        lines = data[pos:end].split(b"\r\n")
        m = _STATUS_RE.match(lines[0])
        if not m:
            raise ValueError("not an HTTP response at offset %d: %r" % (pos, data[pos:pos + 80]))
        version, status = m.group(1).decode(), int(m.group(2))
        reason = (m.group(3) or b"").decode("latin-1")
        headers = []
        for line in lines[1:]:
            k, sep, v = line.partition(b":")
            if not sep:
                raise ValueError("bad header line %r" % line)
            headers.append((k.decode("latin-1"), v.strip(b" \t").decode("latin-1")))
        hdr = {k.lower(): v for k, v in headers}
        body_start = end + 4
        is_head = False
        if status >= 200:
            is_head = bool(head_methods and final_index < len(head_methods)
                           and head_methods[final_index])
            final_index += 1
        if status < 200 or status in (204, 304) or is_head:
            out.append(RawResponse(version, status, reason, headers, b"", True))
            pos = body_start
            continue
        if "transfer-encoding" in hdr and "chunked" in hdr["transfer-encoding"].lower():
            body, newpos, ok = _parse_chunked(data, body_start)
            out.append(RawResponse(version, status, reason, headers, body, ok))
            if not ok:
                return out, data[pos:]
            pos = newpos
        elif "content-length" in hdr:
            n = int(hdr["content-length"])
            body = data[body_start:body_start + n]
            ok = len(body) == n
            out.append(RawResponse(version, status, reason, headers, body, ok))
            if not ok:
                return out, data[pos:]
            pos = body_start + n
        else:
            out.append(RawResponse(version, status, reason, headers, data[body_start:], eof))
            return out, b""
    return out, data[pos:]


def _parse_chunked(data, pos):
    body = []
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return b"".join(body), pos, False
        size = int(data[pos:eol].split(b";")[0].strip(), 16)
        pos = eol + 2
        if size == 0:
            while True:  # trailers up to an empty line
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    return b"".join(body), pos, False
                line = data[pos:eol]
                pos = eol + 2
                if not line:
                    return b"".join(body), pos, True
        if len(data) < pos + size + 2:
            body.append(data[pos:pos + size])
            return b"".join(body), pos, False
        body.append(data[pos:pos + size])
        pos += size + 2


# --------------------------------------------------------------------------------------
# drover-backend


class Backend:
    """One drover-backend process on loopback.
    .name, .port, .pid, .url ("http://127.0.0.1:PORT"), .stats(), .stop(), .kill(),
    .start(port=...) (to restart on the same port after a stop)."""

    def __init__(self, name, workdir, host=LOOPBACK, procs=1):
        self.name = name
        self.host = host
        self.procs = procs
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = None
        self.proc = None
        self._log = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def url(self):
        h = "[%s]" % self.host if ":" in self.host else self.host
        return "http://%s:%d" % (h, self.port)

    def start(self, port=0, timeout=START_TIMEOUT):
        if not BACKEND.exists():
            raise HarnessError("%s not built (run: make build/drover-backend)" % BACKEND)
        port_file = self.workdir / ("backend-%s.port" % self.name)
        if port_file.exists():
            port_file.unlink()
        h = "[%s]" % self.host if ":" in self.host else self.host
        self._log = open(self.workdir / ("backend-%s.log" % self.name), "ab")
        args = [str(BACKEND), "--listen", "%s:%d" % (h, port), "--name", self.name,
                "--port-file", str(port_file)]
        if self.procs > 1:
            args += ["--procs", str(self.procs)]
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

        def ready():
            if self.proc.poll() is not None:
                raise HarnessError("drover-backend %s exited with %s: %s" % (
                    self.name, self.proc.returncode, self.log_text()))
            try:
                text = port_file.read_text()
            except OSError:
                return None
            return int(text) if text.strip() else None

        self.port = wait_until(ready, timeout, what="drover-backend %s port file" % self.name)
        return self

    def log_text(self):
        try:
            return (self.workdir / ("backend-%s.log" % self.name)).read_text(errors="replace")
        except OSError:
            return ""

    def stats(self) -> dict:
        """{"requests", "connections", "open", "active"} of this backend process: totals
        since start, open connections, and requests being answered right now. The stats
        request itself counts in requests/connections/open, not in active."""
        return request(self.port, "GET", "/stats", host=self.host).json()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, wait, SIGKILL after the deadline. Idempotent."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self._close_log()

    def kill(self):
        """SIGKILL now (a crashed member)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT)
        self._close_log()

    def _close_log(self):
        if self._log is not None:
            self._log.close()
            self._log = None

    def __repr__(self):
        return "Backend(%s, port=%s)" % (self.name, self.port)


# --------------------------------------------------------------------------------------
# drover


def render_config(sections) -> str:
    """sections: {"global": {...}, "server": {...}, "balancer://b": {...}} (insertion
    order kept). A value that is a list/tuple is written once per line (repeatable
    directives); None values are skipped."""
    out = []
    for name, body in sections.items():
        out.append("[%s]" % name)
        if isinstance(body, str):
            out.append(body.rstrip("\n"))
        else:
            for k, v in body.items():
                if v is None:
                    continue
                for item in (v if isinstance(v, (list, tuple)) else [v]):
                    out.append("%s = %s" % (k, item))
        out.append("")
    return "\n".join(out) + "\n"


def drover_t(conf_path, *extra, timeout=STOP_TIMEOUT):
    """Runs `drover -t -c CONF [extra...]`; returns (exit code, stdout + stderr)."""
    p = subprocess.run([str(DROVER), "-t", "-c", str(conf_path), *extra],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace")


class Drover:
    """A drover master started in the foreground (-F) in its own directory.

    Config: either `text` (a whole config with placeholders @PORT@ @DIR@ @PIDFILE@
    @ERRORLOG@ @ACCESSLOG@ replaced) or dicts `global_`, `server`, `balancers`
    ({"NAME": {...}} -> [balancer://NAME]) merged over the defaults: WorkerProcesses 2,
    LogLevel info, PidFile/ErrorLog/CustomLog in the directory, Listen on a free
    loopback port, ServerName drover.test. Keys with value None are dropped.

    .port .pid (master) .dir .conf .worker_pids() .wait_workers() .error_log()
    .access_log() .signal() .reload() .stop() .test_config() .write_config()
    """

    DEFAULT_WORKERS = 2

    def __init__(self, workdir, *, text=None, global_=None, server=None, balancers=None,
                 extra_sections=None):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o755)  # workers run as nobody
        self.conf = self.dir / "drover.conf"
        self.pid_file = self.dir / "drover.pid"
        self.error_log_path = self.dir / "error.log"
        self.access_log_path = self.dir / "access.log"
        self.text = text
        self.global_ = dict(global_ or {})
        self.server = dict(server or {})
        self.balancers = dict(balancers or {})
        self.extra_sections = dict(extra_sections or {})
        self.port = None
        self.proc = None
        self._out = None
        self._seen_workers = set()

    # ---- config

    @property
    def workers_wanted(self):
        """The configured worker count when it is a number, else None."""
        if self.text is not None:
            m = re.search(r"(?im)^\s*WorkerProcesses\s*=\s*(\d+)\s*$", self.text)
            return int(m.group(1)) if m else None
        v = self.global_.get("WorkerProcesses", self.DEFAULT_WORKERS)
        return int(v) if str(v).isdigit() else None

    def config_text(self, port=None) -> str:
        port = self.port if port is None else port
        if self.text is not None:
            t = self.text
            for k, v in (("@PORT@", str(port)), ("@DIR@", str(self.dir)),
                         ("@PIDFILE@", str(self.pid_file)),
                         ("@ERRORLOG@", str(self.error_log_path)),
                         ("@ACCESSLOG@", str(self.access_log_path))):
                t = t.replace(k, v)
            return t
        g = {"WorkerProcesses": self.DEFAULT_WORKERS, "PidFile": str(self.pid_file),
             "ErrorLog": str(self.error_log_path), "LogLevel": "info"}
        g.update(self.global_)
        s = {"Listen": "%s:%d" % (LOOPBACK, port), "ServerName": "drover.test",
             "CustomLog": "%s combined" % self.access_log_path}
        s.update(self.server)
        sections = {"global": g, "server": s}
        for name, body in self.balancers.items():
            sections[name if name.startswith("balancer://") else "balancer://" + name] = body
        sections.update(self.extra_sections)
        return render_config(sections)

    def write_config(self, text=None, **changes):
        """Rewrites drover.conf (for reload tests): the given text verbatim, or the dicts
        updated with changes (global_=, server=, balancers= replace those dicts)."""
        if text is None:
            for k, v in changes.items():
                setattr(self, k, dict(v))
            text = self.config_text()
        self.conf.write_text(text)
        return text

    def test_config(self, *extra):
        """`drover -t -c CONF` on the current file: (rc, output)."""
        if not self.conf.exists():
            self.conf.write_text(self.config_text(self.port or free_port()))
        return drover_t(self.conf, *extra)

    # ---- lifecycle

    def start(self, timeout=START_TIMEOUT, attempts=3):
        if not DROVER.exists():
            raise HarnessError("%s not built (run: make)" % DROVER)
        last = ""
        for _ in range(attempts):
            self.port = free_port()
            self.conf.write_text(self.config_text(self.port))
            self._out = open(self.dir / "drover.out", "ab")
            self.proc = subprocess.Popen([str(DROVER), "-F", "-c", str(self.conf)],
                                         stdout=self._out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=str(self.dir))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if port_open(self.port):
                    return self
                time.sleep(0.02)
            rc = self.proc.poll()
            last = self.output()
            if rc == 2:
                # Runtime failure to start, most likely the port was taken between
                # free_port() and drover's bind: retry on another port.
                self._out.close()
                self._out = None
                continue
            self.stop()
            if rc is None:
                raise HarnessError("drover did not accept on port %d within %.0fs: %s\n%s"
                                   % (self.port, timeout, last, self.error_log()))
            raise HarnessError("drover exited with %s: %s\n%s" % (rc, last, self.error_log()))
        raise HarnessError("drover could not bind a free port in %d attempts: %s"
                           % (attempts, last))

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def worker_pids(self) -> list:
        """Live children of the master (workers; plus the health-check process when one
        is configured)."""
        if not self.alive():
            return []
        kids = children_of(self.proc.pid)
        self._seen_workers.update(kids)
        return kids

    def wait_workers(self, n=None, timeout=START_TIMEOUT, exclude=()) -> list:
        """Waits until n (default: WorkerProcesses) live workers not in `exclude` exist."""
        n = self.workers_wanted if n is None else n
        excl = set(exclude)

        def ok():
            pids = [p for p in self.worker_pids() if p not in excl]
            if n is None:
                return pids or None
            return pids if len(pids) == n else None

        return wait_until(ok, timeout, what="%s drover workers" % (n or "some"))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def reload(self, timeout=START_TIMEOUT, wait_old_exit=False) -> list:
        """SIGHUP, then waits until WorkerProcesses new worker pids (not among the old
        ones) are alive; with wait_old_exit also until every old worker has exited.
        Returns the new pids."""
        old = set(self.worker_pids())
        self.signal(signal.SIGHUP)
        n = self.workers_wanted

        def changed():
            new = [p for p in self.worker_pids() if p not in old]
            if n is None:
                return new or None
            return new if len(new) >= n else None

        new = wait_until(changed, timeout, what="new workers after SIGHUP")
        if wait_old_exit:
            wait_until(lambda: not set(self.worker_pids()) & old, timeout,
                       what="old workers to exit after SIGHUP")
        return new

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, wait, SIGKILL after the deadline; then SIGKILL any worker seen
        earlier that outlived its master (by pid, after checking its executable)."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.worker_pids()
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout)
        for p in sorted(self._seen_workers):
            if pid_alive(p) and _exe_is(p, DROVER):
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
        if self._out is not None:
            self._out.close()
            self._out = None

    # ---- logs

    def _read(self, path):
        try:
            return Path(path).read_text(errors="replace")
        except OSError:
            return ""

    def error_log(self) -> str:
        return self._read(self.error_log_path)

    def access_log(self) -> str:
        return self._read(self.access_log_path)

    def output(self) -> str:
        """What the master wrote to stdout/stderr."""
        return self._read(self.dir / "drover.out")

    def wait_error_log(self, regex, timeout=START_TIMEOUT, flags=re.I):
        """Waits until the error log matches regex; returns the match."""
        r = re.compile(regex, flags)
        return wait_until(lambda: r.search(self.error_log()), timeout,
                          what="error log line /%s/" % regex)

    def wait_access_log(self, regex, timeout=START_TIMEOUT, flags=0):
        r = re.compile(regex, flags)
        return wait_until(lambda: r.search(self.access_log()), timeout,
                          what="access log line /%s/" % regex)

    def __repr__(self):
        return "Drover(port=%s, pid=%s, dir=%s)" % (self.port, self.pid, self.dir)


def make_workdir(prefix="drover-it-") -> Path:
    """A fresh world-traversable directory under the system temp dir (pytest's
    tmp_path is mode 0700 under root's tree, which workers running as nobody could
    not reach on log reopen)."""
    d = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(d, 0o755)
    return d


def remove_workdir(d):
    shutil.rmtree(d, ignore_errors=True)
