// drover-backend: the HTTP/1.1 origin server used by `make demo`, the integration
// tests and the benchmarks. One file, libevent bufferevents and the C++ standard
// library only (no evhttp: the tests need control over every byte, keep-alive,
// pipelining and deliberate misbehaviour). Single-threaded event loop per process;
// `--procs N` forks N such processes that share the listening socket.
//
// Usage: drover-backend --listen HOST:PORT --name NAME [--port-file FILE] [--procs N]
//   PORT 0 binds an ephemeral port; the real one goes to FILE (written to a temporary
//   name, then renamed) and to stdout as `listening on HOST:PORT`. SIGTERM/SIGINT exit 0.
//
// Every response carries `X-Backend: NAME`, `X-Conn-Id: K` (per-process connection
// counter, from 1) and `X-Request-Count: N` (requests seen on this connection, from 1).
// The endpoint is chosen by the LAST path segment (path parameters after `;` ignored),
// so `/echo`, `/app/echo` and `/a/b/echo;jsessionid=x` all reach echo. Query values
// are percent-decoded (`+` stays a plus). Any endpoint accepts `close=1` (answer with
// `Connection: close`, then close). HEAD gets the same headers without a body.
//
//   (anything else)        200 text/plain `NAME\n`
//   echo                   200 JSON: backend, method, target (raw), path, query, version,
//                          headers [[name, value], ...] in order received, body_length,
//                          body_fnv (FNV-1a 64, 16 hex digits), body (if <= 64 KiB),
//                          trailers, conn_id, request_count, peer. Strings are JSON with
//                          bytes >= 0x80 escaped as \u00XX (latin-1: .encode('latin-1')
//                          gives the raw bytes back).
//   echo?raw=1             200 application/octet-stream: the request head bytes exactly
//                          as received, then the body bytes exactly as received (chunk
//                          framing and trailers included).
//   size?n=N[&chunked=1|&eof=1]  200, exactly N bytes of the pattern below, streamed in
//                          64 KiB pieces as the socket drains (zero-copy, never the whole
//                          body); Content-Length, chunked, or (eof=1) delimited by the close.
//   upload                 200 JSON {"bytes": N, "fnv": "hex", "pattern": bool,
//                          "chunked": bool}; pattern = the body equals the pattern's
//                          first N bytes. The body (CL or chunked) is read streaming.
//   redirect?to=URL[&status=302]   Location: URL
//   cookie?v=VALUE (repeatable)    one Set-Cookie: VALUE each
//   header?name=N&value=V (repeatable, paired in order)  arbitrary response headers
//   slow?ms=N              answers like the default after N ms
//   slowbody?ms=N[&n=BYTES]        headers now (Content-Length BYTES, default 1), the
//                          pattern body after N ms
//   status?code=N          status N with body `NAME\n`; 204 and 304 have no body and no
//                          Content-Length; 1xx sends that interim response, then a 200
//   stats                  JSON {"requests": total, "connections": total, "open": now,
//                          "active": requests being answered now, this one excluded}
//   close                  closes (FIN) without answering
//   garbage                sends non-HTTP bytes, then closes
//   reset                  SO_LINGER 0 and close: the client sees a RST
//   hang                   never answers (the connection stays open until the peer closes)
//   trunc?n=N              Content-Length: N, sends N/2 pattern bytes, then closes
//   raw?data=ENC[&keep=1]  writes the decoded bytes verbatim as the whole response, then
//                          closes (keep=1: stays open); for testing drover's response parser
//
// The pattern: byte i = (31*i + 7 + (i >> 16)) mod 256. Its period is 16 MiB, so lost,
// duplicated or reordered 64 KiB pieces are visible. 64 KiB block k is the base
// sequence b[j] = (31*j + 7) mod 256 starting at j = (223*k) mod 256 (223 = 31^-1 mod 256).
//
// Requests are parsed simply but correctly for well-formed HTTP/1.1 and 1.0 (keep-alive,
// pipelining, Content-Length, chunked with extensions and trailers, Expect: 100-continue);
// obviously broken input gets a 400 (431 for a head over 64 KiB, 501 for an unknown
// transfer coding) and a close.

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

constexpr size_t kPiece = 64 * 1024;          // pattern piece and chunk size
constexpr size_t kMaxHead = 64 * 1024;        // request head limit (431 above)
constexpr size_t kMaxLine = 8 * 1024;         // chunk-size and trailer line limit
constexpr size_t kStreamLow = 64 * 1024;      // refill when output drains to this
constexpr size_t kStreamHigh = 256 * 1024;    // ... up to this
constexpr size_t kReadHigh = 1024 * 1024;     // stop reading past this much buffered input
constexpr size_t kEchoBodyMax = 64 * 1024;    // echo includes the body up to this size
constexpr size_t kRawCaptureMax = 64u << 20;  // echo?raw=1 keeps at most this much
constexpr int kLingerMs = 2000;               // drain input after our FIN for this long
constexpr uint64_t kFnvBasis = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;

class Conn;

struct Globals {
  event_base* base = nullptr;
  std::string name;
  uint64_t requests = 0;
  uint64_t connections = 0;
  uint64_t open = 0;
  uint64_t active = 0;           // requests whose head has arrived and whose answer is not complete
  std::vector<Conn*> graveyard;  // closed connections, deleted after the current dispatch
  event* reaper = nullptr;
  unsigned char pattern[kPiece + 256];
};
Globals g;

void InitPattern() {
  for (size_t j = 0; j < sizeof(g.pattern); j++) {
    g.pattern[j] = static_cast<unsigned char>((31 * j + 7) & 0xff);
  }
}

// The pattern from `offset` to the end of its 64 KiB block; *avail = bytes available.
const unsigned char* PatternAt(uint64_t offset, size_t* avail) {
  uint64_t block = offset >> 16;
  size_t j = static_cast<size_t>(offset & 0xffff);
  size_t shift = static_cast<size_t>((block * 223) & 0xff);
  *avail = kPiece - j;
  return g.pattern + shift + j;
}

uint64_t Fnv(uint64_t h, const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= kFnvPrime;
  }
  return h;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); i++) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Case-insensitive search for token `tok` in a comma-separated list.
bool HasToken(std::string_view list, std::string_view tok) {
  while (!list.empty()) {
    size_t c = list.find(',');
    std::string_view item = list.substr(0, c);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) {
      item.remove_prefix(1);
    }
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) {
      item.remove_suffix(1);
    }
    if (IEquals(item, tok)) {
      return true;
    }
    if (c == std::string_view::npos) {
      break;
    }
    list.remove_prefix(c + 1);
  }
  return false;
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PctDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int h = HexVal(s[i + 1]);
      int l = HexVal(s[i + 2]);
      if (h >= 0 && l >= 0) {
        out.push_back(static_cast<char>(h * 16 + l));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

bool ParseU64(std::string_view s, uint64_t* out) {
  if (s.empty()) {
    return false;
  }
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

void AppendJsonString(std::string* o, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  o->push_back('"');
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      o->push_back('\\');
      o->push_back(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7f) {
      o->append("\\u00");
      o->push_back(kHex[c >> 4]);
      o->push_back(kHex[c & 15]);
    } else {
      o->push_back(static_cast<char>(c));
    }
  }
  o->push_back('"');
}

const char* Reason(int code) {
  switch (code) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 102:
      return "Processing";
    case 103:
      return "Early Hints";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Status";
  }
}

enum class Route {
  kDefault,
  kEcho,
  kSize,
  kUpload,
  kRedirect,
  kCookie,
  kHeader,
  kSlow,
  kSlowBody,
  kStatus,
  kStats,
  kClose,
  kGarbage,
  kReset,
  kHang,
  kTrunc,
  kRaw
};

Route RouteOf(std::string_view seg) {
  static const std::pair<std::string_view, Route> kRoutes[] = {
      {"echo", Route::kEcho},         {"size", Route::kSize},         {"upload", Route::kUpload},
      {"redirect", Route::kRedirect}, {"cookie", Route::kCookie},     {"header", Route::kHeader},
      {"slow", Route::kSlow},         {"slowbody", Route::kSlowBody}, {"status", Route::kStatus},
      {"stats", Route::kStats},       {"close", Route::kClose},       {"garbage", Route::kGarbage},
      {"reset", Route::kReset},       {"hang", Route::kHang},         {"trunc", Route::kTrunc},
      {"raw", Route::kRaw},
  };
  for (const auto& [name, route] : kRoutes) {
    if (seg == name) {
      return route;
    }
  }
  return Route::kDefault;
}

void ReaperCb(evutil_socket_t, short, void*) noexcept;

// One client connection: parses requests in order and answers them one at a time.
class Conn {
 public:
  Conn(evutil_socket_t fd, uint64_t id, std::string peer) : id_(id), peer_(std::move(peer)) {
    bev_ = bufferevent_socket_new(g.base, fd, BEV_OPT_CLOSE_ON_FREE);
    in_ = bufferevent_get_input(bev_);
    out_ = bufferevent_get_output(bev_);
    bufferevent_setcb(bev_, ReadCb, WriteCb, EventCb, this);
    bufferevent_setwatermark(bev_, EV_READ, 0, kReadHigh);
    // New bufferevents start with EV_WRITE enabled; we want it only while output is backed up.
    bufferevent_disable(bev_, EV_WRITE);
    bufferevent_enable(bev_, EV_READ);
    g.open++;
  }
  ~Conn() {
    if (timer_ != nullptr) {
      event_free(timer_);
    }
  }
  bool ok() const { return bev_ != nullptr; }

 private:
  enum class State { kHead, kBody, kResponding, kClosing, kLingering, kDead };
  enum class BodyMode { kNone, kLength, kChunked };
  enum class ChunkState { kSize, kData, kDataEnd, kTrailer };
  enum class Timer { kNone, kSlow, kSlowBody, kLinger };

  // Every callback ends with Flush(): responses are written straight from the callback
  // that produced them, and the bufferevent's EV_WRITE is enabled only when the socket
  // did not take everything (saves two epoll_ctl calls and a wakeup per response).
  static void ReadCb(bufferevent*, void* arg) noexcept {
    auto* c = static_cast<Conn*>(arg);
    c->OnRead();
    c->Flush();
  }
  static void WriteCb(bufferevent*, void* arg) noexcept {
    auto* c = static_cast<Conn*>(arg);
    c->OnWrite();
    c->Flush();
  }
  static void EventCb(bufferevent*, short what, void* arg) noexcept {
    auto* c = static_cast<Conn*>(arg);
    c->OnEvent(what);
    c->Flush();
  }
  static void TimerCb(evutil_socket_t, short, void* arg) noexcept {
    auto* c = static_cast<Conn*>(arg);
    c->OnTimer();
    c->Flush();
  }

  void Flush() {
    if (state_ == State::kDead || state_ == State::kLingering || write_enabled_) {
      return;
    }
    if (evbuffer_get_length(out_) > 0) {
      // A socket bufferevent keeps the front of its output frozen and unfreezes it
      // around its own writes; do the same.
      evbuffer_unfreeze(out_, 1);
      errno = 0;
      int n = evbuffer_write(out_, bufferevent_getfd(bev_));
      int err = errno;
      evbuffer_freeze(out_, 1);
      if (n < 0 && err != EAGAIN && err != EWOULDBLOCK && err != EINTR) {
        Close();  // the peer is gone (EPIPE, ECONNRESET)
        return;
      }
    }
    if (evbuffer_get_length(out_) > 0) {
      EnableWrite(true);
    } else if (state_ == State::kClosing) {
      Linger();
    }
  }

  void EnableWrite(bool on) {
    if (on != write_enabled_) {
      write_enabled_ = on;
      if (on) {
        bufferevent_enable(bev_, EV_WRITE);
      } else {
        bufferevent_disable(bev_, EV_WRITE);
      }
    }
  }

  // ---- lifecycle -------------------------------------------------------------------

  // Frees the socket now; the object itself is deleted by the reaper after this dispatch.
  void Close() {
    if (state_ == State::kDead) {
      return;
    }
    EndRequest();
    state_ = State::kDead;
    bufferevent_free(bev_);
    bev_ = nullptr;
    if (timer_ != nullptr) {
      evtimer_del(timer_);
    }
    g.open--;
    g.graveyard.push_back(this);
    event_active(g.reaper, EV_TIMEOUT, 0);
  }

  // Close after the output drains: FIN, then discard input until EOF (lingering close,
  // so that unread pipelined bytes do not turn our FIN into a RST that eats the answer).
  void StartClose() {
    state_ = State::kClosing;
    bufferevent_setwatermark(bev_, EV_WRITE, 0, 0);
    if (evbuffer_get_length(out_) == 0) {
      Linger();
    }
  }

  void Linger() {
    if (peer_eof_) {
      Close();
      return;
    }
    state_ = State::kLingering;
    shutdown(bufferevent_getfd(bev_), SHUT_WR);
    EnableWrite(false);
    evbuffer_drain(in_, evbuffer_get_length(in_));
    bufferevent_enable(bev_, EV_READ);
    Arm(Timer::kLinger, kLingerMs);
  }

  void Arm(Timer what, uint64_t ms) {
    if (timer_ == nullptr) {
      timer_ = evtimer_new(g.base, TimerCb, this);
    }
    timer_action_ = what;
    timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
    evtimer_add(timer_, &tv);
  }

  void EndRequest() {
    if (in_request_) {
      in_request_ = false;
      g.active--;
    }
  }

  // The current response is complete (its bytes may still be in the output buffer).
  // Called inside the Process() loop; FinishResponse() is the asynchronous variant that
  // also goes on with pipelined requests. (Kept apart so that pipelined requests are
  // handled by iteration, never by recursion.)
  void Complete() {
    EndRequest();
    if (!keepalive_) {
      StartClose();
    } else {
      state_ = State::kHead;
    }
  }

  void FinishResponse() {
    Complete();
    if (state_ == State::kHead) {
      Process();
    }
  }

  // ---- callbacks ---------------------------------------------------------------------

  void OnRead() {
    if (state_ == State::kLingering) {
      evbuffer_drain(in_, evbuffer_get_length(in_));
      return;
    }
    if (state_ == State::kHead || state_ == State::kBody) {
      Process();
    }
  }

  void OnWrite() {
    if (state_ == State::kResponding && stream_active_) {
      if (Fill()) {
        FinishResponse();
      }
    }
    if (state_ != State::kDead && evbuffer_get_length(out_) == 0 && !stream_active_) {
      EnableWrite(false);  // drained: back to direct writes (Flush handles kClosing)
    }
  }

  void OnEvent(short what) {
    if (what & BEV_EVENT_ERROR) {
      Close();
      return;
    }
    if (what & BEV_EVENT_EOF) {
      peer_eof_ = true;
      switch (state_) {
        case State::kHead:
          // A complete answer may still be flushing; a partial request never completes.
          if (evbuffer_get_length(in_) == 0 && evbuffer_get_length(out_) > 0) {
            StartClose();
          } else {
            Close();
          }
          break;
        case State::kBody:
        case State::kLingering:
          Close();
          break;
        case State::kResponding:
          if (hang_) {
            Close();
          }
          break;  // otherwise finish the answer, then close (keepalive_ is cleared below)
        case State::kClosing:
        case State::kDead:
          break;
      }
      keepalive_ = false;
    }
  }

  void OnTimer() {
    Timer what = timer_action_;
    timer_action_ = Timer::kNone;
    switch (what) {
      case Timer::kSlow:
        DefaultResponse(200);
        FinishResponse();
        break;
      case Timer::kSlowBody:
        if (StartStream(slowbody_n_, false, false)) {
          FinishResponse();
        }
        break;
      case Timer::kLinger:
        Close();
        break;
      case Timer::kNone:
        break;
    }
  }

  // ---- request parsing ----------------------------------------------------------------

  void Process() {
    while (state_ == State::kHead || state_ == State::kBody) {
      if (state_ == State::kHead) {
        if (!ReadHead()) {
          if (peer_eof_ && state_ == State::kHead) {
            if (evbuffer_get_length(out_) > 0) {
              StartClose();
            } else {
              Close();
            }
          }
          return;
        }
      }
      if (state_ == State::kBody) {
        if (!ReadBody()) {
          return;
        }
        Dispatch();
      }
    }
  }

  // Returns true when a whole head was read and parsed (state is then kBody).
  bool ReadHead() {
    // Tolerate empty lines before the request line (RFC 9112 §2.2).
    while (true) {
      size_t len = evbuffer_get_length(in_);
      if (len == 0) {
        return false;
      }
      unsigned char* p = evbuffer_pullup(in_, std::min<size_t>(len, 2));
      if (p[0] == '\n') {
        evbuffer_drain(in_, 1);
      } else if (p[0] == '\r' && len >= 2 && p[1] == '\n') {
        evbuffer_drain(in_, 2);
      } else if (p[0] == '\r' && len < 2) {
        return false;
      } else {
        break;
      }
    }
    evbuffer_ptr end = evbuffer_search(in_, "\r\n\r\n", 4, nullptr);
    if (end.pos < 0) {
      if (evbuffer_get_length(in_) > kMaxHead) {
        Fail(431);
      }
      return false;
    }
    size_t head_len = static_cast<size_t>(end.pos) + 4;
    if (head_len > kMaxHead) {
      Fail(431);
      return false;
    }
    head_.resize(head_len);
    evbuffer_remove(in_, head_.data(), head_len);
    g.requests++;
    requests_++;
    in_request_ = true;
    g.active++;
    if (!ParseHead()) {
      return false;
    }
    state_ = State::kBody;
    return true;
  }

  bool ParseHead() {
    std::string_view h(head_);
    size_t eol = h.find("\r\n");
    std::string_view line = h.substr(0, eol);
    size_t sp1 = line.find(' ');
    size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp1 == 0 || sp2 == std::string_view::npos || sp2 == sp1 + 1) {
      Fail(400);
      return false;
    }
    method_ = line.substr(0, sp1);
    target_ = line.substr(sp1 + 1, sp2 - sp1 - 1);
    version_ = line.substr(sp2 + 1);
    if (version_.size() != 8 || version_.substr(0, 7) != "HTTP/1." || version_[7] < '0' ||
        version_[7] > '9') {
      Fail(400);
      return false;
    }
    http10_ = version_[7] == '0';
    headers_.clear();
    trailers_.clear();
    size_t pos = eol + 2;
    bool conn_close = false, conn_keepalive = false, te_chunked = false, has_cl = false;
    bool expect_continue = false;
    uint64_t cl = 0;
    while (pos < h.size()) {
      size_t e = h.find("\r\n", pos);
      if (e == pos) {
        break;
      }
      std::string_view l = h.substr(pos, e - pos);
      pos = e + 2;
      size_t colon = l.find(':');
      if (colon == 0 || colon == std::string_view::npos || l[0] == ' ' || l[0] == '\t' ||
          l[colon - 1] == ' ' || l[colon - 1] == '\t') {
        Fail(400);
        return false;
      }
      std::string_view name = l.substr(0, colon);
      std::string_view value = l.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
      }
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
        value.remove_suffix(1);
      }
      headers_.emplace_back(name, value);
      if (IEquals(name, "content-length")) {
        uint64_t v;
        if (!ParseU64(value, &v) || (has_cl && v != cl)) {
          Fail(400);
          return false;
        }
        has_cl = true;
        cl = v;
      } else if (IEquals(name, "transfer-encoding")) {
        // Only a final "chunked" is understood.
        std::string_view last = value;
        size_t c = last.rfind(',');
        if (c != std::string_view::npos) {
          last.remove_prefix(c + 1);
        }
        while (!last.empty() && (last.front() == ' ' || last.front() == '\t')) {
          last.remove_prefix(1);
        }
        if (!IEquals(last, "chunked")) {
          Fail(501);
          return false;
        }
        te_chunked = true;
      } else if (IEquals(name, "connection")) {
        conn_close |= HasToken(value, "close");
        conn_keepalive |= HasToken(value, "keep-alive");
      } else if (IEquals(name, "expect")) {
        expect_continue = IEquals(value, "100-continue");
      }
    }
    if (te_chunked && has_cl) {
      Fail(400);
      return false;
    }
    keepalive_ = http10_ ? (conn_keepalive && !conn_close) : !conn_close;
    if (peer_eof_) {
      keepalive_ = false;
    }
    head_method_ = method_ == "HEAD";

    // Target -> path, query, endpoint.
    std::string_view t = target_;
    if (t.substr(0, 7) == "http://" || t.substr(0, 8) == "https://") {
      size_t s = t.find("//");
      size_t p = t.find('/', s + 2);
      t = p == std::string_view::npos ? std::string_view("/") : t.substr(p);
    }
    size_t hash = t.find('#');
    if (hash != std::string_view::npos) {
      t = t.substr(0, hash);
    }
    size_t q = t.find('?');
    path_ = t.substr(0, q);
    query_ = q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
    std::string_view seg = path_.substr(path_.rfind('/') + 1);
    seg = seg.substr(0, seg.find(';'));
    route_ = RouteOf(seg);
    ParseQuery();
    if (Param("close") == "1") {
      keepalive_ = false;
    }

    // Body.
    body_len_ = 0;
    body_fnv_ = kFnvBasis;
    pattern_ok_ = true;
    body_keep_.clear();
    raw_.clear();
    capture_raw_ = route_ == Route::kEcho && Param("raw") == "1";
    if (capture_raw_) {
      raw_.append(head_);
    }
    if (te_chunked) {
      body_mode_ = BodyMode::kChunked;
      chunk_state_ = ChunkState::kSize;
    } else if (cl > 0) {
      body_mode_ = BodyMode::kLength;
      remaining_ = cl;
    } else {
      body_mode_ = BodyMode::kNone;
    }
    chunked_req_ = te_chunked;
    if (expect_continue && body_mode_ != BodyMode::kNone && !http10_ &&
        evbuffer_get_length(in_) == 0) {
      evbuffer_add_printf(out_, "HTTP/1.1 100 Continue\r\n\r\n");
    }
    return true;
  }

  void ParseQuery() {
    params_.clear();
    std::string_view q = query_;
    while (!q.empty()) {
      size_t amp = q.find('&');
      std::string_view kv = q.substr(0, amp);
      if (!kv.empty()) {
        size_t eq = kv.find('=');
        if (eq == std::string_view::npos) {
          params_.emplace_back(PctDecode(kv), std::string());
        } else {
          params_.emplace_back(PctDecode(kv.substr(0, eq)), PctDecode(kv.substr(eq + 1)));
        }
      }
      if (amp == std::string_view::npos) {
        break;
      }
      q.remove_prefix(amp + 1);
    }
  }

  std::string_view Param(std::string_view name, std::string_view def = {}) const {
    for (const auto& [k, v] : params_) {
      if (k == name) {
        return v;
      }
    }
    return def;
  }

  uint64_t ParamU64(std::string_view name, uint64_t def) const {
    uint64_t v;
    return ParseU64(Param(name), &v) ? v : def;
  }

  void BodyData(const unsigned char* p, size_t n) {
    if (pattern_ok_) {
      uint64_t off = body_len_;
      const unsigned char* q = p;
      size_t left = n;
      while (left > 0) {
        size_t avail;
        const unsigned char* pat = PatternAt(off, &avail);
        size_t m = std::min(avail, left);
        if (std::memcmp(pat, q, m) != 0) {
          pattern_ok_ = false;
          break;
        }
        off += m;
        q += m;
        left -= m;
      }
    }
    body_fnv_ = Fnv(body_fnv_, p, n);
    body_len_ += n;
    if (route_ == Route::kEcho && body_keep_.size() < kEchoBodyMax + 1) {
      body_keep_.append(reinterpret_cast<const char*>(p),
                        std::min(n, kEchoBodyMax + 1 - body_keep_.size()));
    }
    if (capture_raw_ && raw_.size() < kRawCaptureMax) {
      raw_.append(reinterpret_cast<const char*>(p), std::min(n, kRawCaptureMax - raw_.size()));
    }
  }

  // Consumes n body bytes from the input buffer without copying them.
  void ConsumeBody(size_t n) {
    while (n > 0) {
      evbuffer_iovec vec[16];
      int cnt = evbuffer_peek(in_, static_cast<ev_ssize_t>(n), nullptr, vec, 16);
      size_t done = 0;
      for (int i = 0; i < std::min(cnt, 16) && done < n; i++) {
        size_t len = std::min(vec[i].iov_len, n - done);
        BodyData(static_cast<const unsigned char*>(vec[i].iov_base), len);
        done += len;
      }
      evbuffer_drain(in_, done);
      n -= done;
    }
  }

  // Reads one CRLF- (or LF-) terminated line into line_; false when incomplete.
  bool ReadLine() {
    size_t eol_len = 0;
    evbuffer_ptr p = evbuffer_search_eol(in_, nullptr, &eol_len, EVBUFFER_EOL_CRLF);
    if (p.pos < 0) {
      if (evbuffer_get_length(in_) > kMaxLine) {
        Fail(400);
      }
      return false;
    }
    line_.resize(static_cast<size_t>(p.pos));
    evbuffer_copyout(in_, line_.data(), line_.size());
    if (capture_raw_ && raw_.size() < kRawCaptureMax) {
      line_raw_.resize(static_cast<size_t>(p.pos) + eol_len);
      evbuffer_copyout(in_, line_raw_.data(), line_raw_.size());
      raw_.append(line_raw_);
    }
    evbuffer_drain(in_, static_cast<size_t>(p.pos) + eol_len);
    return true;
  }

  // Returns true when the body is complete.
  bool ReadBody() {
    switch (body_mode_) {
      case BodyMode::kNone:
        return true;
      case BodyMode::kLength: {
        size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, evbuffer_get_length(in_)));
        ConsumeBody(n);
        remaining_ -= n;
        return remaining_ == 0;
      }
      case BodyMode::kChunked:
        while (true) {
          switch (chunk_state_) {
            case ChunkState::kSize: {
              if (!ReadLine()) {
                return false;
              }
              std::string_view s(line_);
              s = s.substr(0, s.find(';'));
              while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
                s.remove_suffix(1);
              }
              uint64_t size = 0;
              auto [e, ec] = std::from_chars(s.data(), s.data() + s.size(), size, 16);
              if (s.empty() || ec != std::errc() || e != s.data() + s.size()) {
                Fail(400);
                return false;
              }
              if (size == 0) {
                chunk_state_ = ChunkState::kTrailer;
              } else {
                remaining_ = size;
                chunk_state_ = ChunkState::kData;
              }
              break;
            }
            case ChunkState::kData: {
              size_t n =
                  static_cast<size_t>(std::min<uint64_t>(remaining_, evbuffer_get_length(in_)));
              if (n == 0) {
                return false;
              }
              ConsumeBody(n);
              remaining_ -= n;
              if (remaining_ == 0) {
                chunk_state_ = ChunkState::kDataEnd;
              }
              break;
            }
            case ChunkState::kDataEnd:
              if (!ReadLine()) {
                return false;
              }
              if (!line_.empty()) {
                Fail(400);
                return false;
              }
              chunk_state_ = ChunkState::kSize;
              break;
            case ChunkState::kTrailer:
              if (!ReadLine()) {
                return false;
              }
              if (line_.empty()) {
                return true;
              }
              trailers_.push_back(line_);
              break;
          }
        }
    }
    return true;
  }

  // ---- responses -------------------------------------------------------------------

  void StatusLine(int code) {
    evbuffer_add_printf(out_,
                        "HTTP/1.1 %d %s\r\nX-Backend: %s\r\nX-Request-Count: %llu\r\n"
                        "X-Conn-Id: %llu\r\n",
                        code, Reason(code), g.name.c_str(),
                        static_cast<unsigned long long>(requests_),
                        static_cast<unsigned long long>(id_));
  }

  void Header(std::string_view name, std::string_view value) {
    evbuffer_add(out_, name.data(), name.size());
    evbuffer_add(out_, ": ", 2);
    evbuffer_add(out_, value.data(), value.size());
    evbuffer_add(out_, "\r\n", 2);
  }

  // content_length >= 0: Content-Length; -1: chunked; -2: neither (204/304).
  void EndHead(int64_t content_length, const char* ctype) {
    if (ctype != nullptr) {
      evbuffer_add_printf(out_, "Content-Type: %s\r\n", ctype);
    }
    if (content_length >= 0) {
      evbuffer_add_printf(out_, "Content-Length: %lld\r\n", static_cast<long long>(content_length));
    } else if (content_length == -1) {
      evbuffer_add(out_, "Transfer-Encoding: chunked\r\n", 28);
    }
    if (!keepalive_) {
      evbuffer_add(out_, "Connection: close\r\n", 19);
    } else if (http10_) {
      evbuffer_add(out_, "Connection: keep-alive\r\n", 24);
    }
    evbuffer_add(out_, "\r\n", 2);
  }

  void Body(std::string_view body) {
    if (!head_method_) {
      evbuffer_add(out_, body.data(), body.size());
    }
  }

  // `NAME\n` with the given status (the default answer).
  void DefaultResponse(int code) {
    if (!head_method_ && keepalive_ && !http10_ && code == 200) {
      // The hot path of the benchmarks: one printf.
      evbuffer_add_printf(out_,
                          "HTTP/1.1 200 OK\r\nX-Backend: %s\r\nX-Request-Count: %llu\r\n"
                          "X-Conn-Id: %llu\r\nContent-Type: text/plain\r\n"
                          "Content-Length: %zu\r\n\r\n%s\n",
                          g.name.c_str(), static_cast<unsigned long long>(requests_),
                          static_cast<unsigned long long>(id_), g.name.size() + 1, g.name.c_str());
      return;
    }
    StatusLine(code);
    EndHead(static_cast<int64_t>(g.name.size() + 1), "text/plain");
    if (!head_method_) {
      evbuffer_add_printf(out_, "%s\n", g.name.c_str());
    }
  }

  void Fail(int code) {
    keepalive_ = false;
    head_method_ = false;
    StatusLine(code);
    const char* msg = code == 431   ? "request header too large\n"
                      : code == 501 ? "transfer coding not implemented\n"
                                    : "bad request\n";
    EndHead(static_cast<int64_t>(std::strlen(msg)), "text/plain");
    Body(msg);
    StartClose();
  }

  void JsonResponse(const std::string& json) {
    StatusLine(200);
    EndHead(static_cast<int64_t>(json.size()), "application/json");
    Body(json);
  }

  // Starts a pattern body; true when it was queued completely right away.
  bool StartStream(uint64_t n, bool chunked, bool trunc) {
    state_ = State::kResponding;
    stream_left_ = trunc ? n / 2 : n;
    stream_off_ = 0;
    stream_chunked_ = chunked;
    stream_trunc_ = trunc;
    stream_active_ = true;
    if (trunc) {
      keepalive_ = false;
    }
    if (head_method_) {
      stream_left_ = 0;
    }
    bufferevent_setwatermark(bev_, EV_WRITE, kStreamLow, 0);
    EnableWrite(true);
    return Fill();
  }

  // Tops the output up to kStreamHigh; true when the whole body has been queued.
  bool Fill() {
    while (stream_left_ > 0 && evbuffer_get_length(out_) < kStreamHigh) {
      size_t avail;
      const unsigned char* p = PatternAt(stream_off_, &avail);
      size_t n = static_cast<size_t>(std::min<uint64_t>(avail, stream_left_));
      if (stream_chunked_) {
        evbuffer_add_printf(out_, "%zx\r\n", n);
      }
      evbuffer_add_reference(out_, p, n, nullptr, nullptr);
      if (stream_chunked_) {
        evbuffer_add(out_, "\r\n", 2);
      }
      stream_off_ += n;
      stream_left_ -= n;
    }
    if (stream_left_ == 0) {
      if (stream_chunked_ && !head_method_) {
        evbuffer_add(out_, "0\r\n\r\n", 5);
      }
      stream_active_ = false;
      bufferevent_setwatermark(bev_, EV_WRITE, 0, 0);
      return true;
    }
    return false;
  }

  void Dispatch() {
    state_ = State::kResponding;
    hang_ = false;
    switch (route_) {
      case Route::kDefault:
        DefaultResponse(200);
        break;
      case Route::kEcho:
        if (capture_raw_) {
          StatusLine(200);
          EndHead(static_cast<int64_t>(raw_.size()), "application/octet-stream");
          Body(raw_);
        } else {
          JsonResponse(EchoJson());
        }
        break;
      case Route::kSize: {
        uint64_t n = ParamU64("n", 0);
        bool chunked = Param("chunked") == "1";
        // eof=1, or chunked for an HTTP/1.0 client: no length, the close ends the body.
        bool eof = Param("eof") == "1" || (chunked && http10_);
        if (eof) {
          chunked = false;
          keepalive_ = false;
        }
        StatusLine(200);
        EndHead(eof ? -2 : chunked ? -1 : static_cast<int64_t>(n), "application/octet-stream");
        if (!StartStream(n, chunked, false)) {
          return;
        }
        break;
      }
      case Route::kUpload: {
        char buf[160];
        std::snprintf(buf, sizeof(buf),
                      "{\"bytes\": %llu, \"fnv\": \"%016llx\", \"pattern\": %s, "
                      "\"chunked\": %s}\n",
                      static_cast<unsigned long long>(body_len_),
                      static_cast<unsigned long long>(body_fnv_), pattern_ok_ ? "true" : "false",
                      chunked_req_ ? "true" : "false");
        JsonResponse(buf);
        break;
      }
      case Route::kRedirect: {
        int code = static_cast<int>(ParamU64("status", 302));
        StatusLine(code);
        Header("Location", Clean(Param("to", "/")));
        std::string body = g.name + "\n";
        EndHead(static_cast<int64_t>(body.size()), "text/plain");
        Body(body);
        break;
      }
      case Route::kCookie:
      case Route::kHeader: {
        StatusLine(200);
        if (route_ == Route::kCookie) {
          for (const auto& [k, v] : params_) {
            if (k == "v") {
              Header("Set-Cookie", Clean(v));
            }
          }
        } else {
          std::vector<std::string_view> names, values;
          for (const auto& [k, v] : params_) {
            if (k == "name") {
              names.push_back(v);
            } else if (k == "value") {
              values.push_back(v);
            }
          }
          for (size_t i = 0; i < names.size(); i++) {
            std::string n = Clean(names[i]);
            if (!n.empty()) {
              Header(n, i < values.size() ? Clean(values[i]) : std::string());
            }
          }
        }
        std::string body = g.name + "\n";
        EndHead(static_cast<int64_t>(body.size()), "text/plain");
        Body(body);
        break;
      }
      case Route::kSlow:
        Arm(Timer::kSlow, ParamU64("ms", 1000));
        return;
      case Route::kSlowBody:
        slowbody_n_ = ParamU64("n", 1);
        StatusLine(200);
        EndHead(static_cast<int64_t>(slowbody_n_), "application/octet-stream");
        Arm(Timer::kSlowBody, ParamU64("ms", 1000));
        return;
      case Route::kStatus: {
        int code = static_cast<int>(ParamU64("code", 200));
        if (code < 100 || code > 999) {
          code = 500;
        }
        if (code < 200) {
          evbuffer_add_printf(out_, "HTTP/1.1 %d %s\r\nX-Backend: %s\r\n\r\n", code, Reason(code),
                              g.name.c_str());
          code = 200;
        }
        if (code == 204 || code == 304) {
          StatusLine(code);
          EndHead(-2, nullptr);
        } else {
          DefaultResponse(code);
        }
        break;
      }
      case Route::kStats: {
        char buf[160];
        std::snprintf(buf, sizeof(buf),
                      "{\"requests\": %llu, \"connections\": %llu, \"open\": %llu, "
                      "\"active\": %llu}\n",
                      static_cast<unsigned long long>(g.requests),
                      static_cast<unsigned long long>(g.connections),
                      static_cast<unsigned long long>(g.open),
                      static_cast<unsigned long long>(g.active - 1));  // not this one
        JsonResponse(buf);
        break;
      }
      case Route::kClose:
        keepalive_ = false;
        StartClose();
        return;
      case Route::kGarbage: {
        static const char kGarbage[] = "\x16\x03\x01 this is not HTTP \xff\xfe\r\n\r\n";
        evbuffer_add(out_, kGarbage, sizeof(kGarbage) - 1);
        keepalive_ = false;
        StartClose();
        return;
      }
      case Route::kReset: {
        linger lg{1, 0};
        setsockopt(bufferevent_getfd(bev_), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        Close();
        return;
      }
      case Route::kHang:
        hang_ = true;
        return;
      case Route::kTrunc: {
        uint64_t n = ParamU64("n", 1024);
        keepalive_ = false;
        StatusLine(200);
        EndHead(static_cast<int64_t>(n), "application/octet-stream");
        if (!StartStream(n, false, true)) {
          return;
        }
        break;
      }
      case Route::kRaw: {
        std::string data(Param("data"));
        evbuffer_add(out_, data.data(), data.size());
        if (Param("keep") != "1") {
          keepalive_ = false;
        }
        break;
      }
    }
    Complete();
  }

  // Response header values come from the query: drop CR/LF so they stay one line.
  static std::string Clean(std::string_view v) {
    std::string s;
    s.reserve(v.size());
    for (char c : v) {
      if (c != '\r' && c != '\n') {
        s.push_back(c);
      }
    }
    return s;
  }

  std::string EchoJson() {
    std::string o;
    o.reserve(512 + head_.size() + body_keep_.size() * 2);
    o += "{\"backend\": ";
    AppendJsonString(&o, g.name);
    o += ", \"method\": ";
    AppendJsonString(&o, method_);
    o += ", \"target\": ";
    AppendJsonString(&o, target_);
    o += ", \"path\": ";
    AppendJsonString(&o, path_);
    o += ", \"query\": ";
    AppendJsonString(&o, query_);
    o += ", \"version\": ";
    AppendJsonString(&o, version_);
    o += ", \"headers\": [";
    for (size_t i = 0; i < headers_.size(); i++) {
      o += i ? ", [" : "[";
      AppendJsonString(&o, headers_[i].first);
      o += ", ";
      AppendJsonString(&o, headers_[i].second);
      o += "]";
    }
    o += "], \"trailers\": [";
    for (size_t i = 0; i < trailers_.size(); i++) {
      if (i) {
        o += ", ";
      }
      AppendJsonString(&o, trailers_[i]);
    }
    char buf[200];
    std::snprintf(buf, sizeof(buf),
                  "], \"body_length\": %llu, \"body_fnv\": \"%016llx\", \"chunked\": %s, "
                  "\"conn_id\": %llu, \"request_count\": %llu, \"peer\": ",
                  static_cast<unsigned long long>(body_len_),
                  static_cast<unsigned long long>(body_fnv_), chunked_req_ ? "true" : "false",
                  static_cast<unsigned long long>(id_), static_cast<unsigned long long>(requests_));
    o += buf;
    AppendJsonString(&o, peer_);
    if (body_keep_.size() <= kEchoBodyMax) {
      o += ", \"body\": ";
      AppendJsonString(&o, body_keep_);
    }
    o += "}\n";
    return o;
  }

  // ---- state -------------------------------------------------------------------------

  bufferevent* bev_ = nullptr;
  evbuffer* in_ = nullptr;
  evbuffer* out_ = nullptr;
  event* timer_ = nullptr;
  Timer timer_action_ = Timer::kNone;
  State state_ = State::kHead;
  uint64_t id_;
  std::string peer_;
  uint64_t requests_ = 0;
  bool peer_eof_ = false;
  bool write_enabled_ = false;
  bool in_request_ = false;
  bool keepalive_ = true;
  bool http10_ = false;
  bool head_method_ = false;
  bool hang_ = false;

  // The current request (views point into head_).
  std::string head_;
  std::string_view method_, target_, version_, path_, query_;
  std::vector<std::pair<std::string_view, std::string_view>> headers_;
  std::vector<std::string> trailers_;
  std::vector<std::pair<std::string, std::string>> params_;
  Route route_ = Route::kDefault;
  BodyMode body_mode_ = BodyMode::kNone;
  ChunkState chunk_state_ = ChunkState::kSize;
  bool chunked_req_ = false;
  uint64_t remaining_ = 0;
  uint64_t body_len_ = 0;
  uint64_t body_fnv_ = kFnvBasis;
  bool pattern_ok_ = true;
  std::string body_keep_;
  bool capture_raw_ = false;
  std::string raw_;
  std::string line_, line_raw_;

  // Streaming response.
  bool stream_active_ = false;
  bool stream_chunked_ = false;
  bool stream_trunc_ = false;
  uint64_t stream_left_ = 0;
  uint64_t stream_off_ = 0;
  uint64_t slowbody_n_ = 0;
};

void ReaperCb(evutil_socket_t, short, void*) noexcept {
  std::vector<Conn*> dead;
  dead.swap(g.graveyard);
  for (Conn* c : dead) {
    delete c;
  }
}

void AcceptCb(evconnlistener*, evutil_socket_t fd, sockaddr* sa, int, void*) noexcept {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(sa);
    evutil_inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    port = ntohs(in->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(sa);
    evutil_inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    port = ntohs(in6->sin6_port);
  }
  g.connections++;
  std::string peer = sa->sa_family == AF_INET6 ? "[" + std::string(host) + "]" : host;
  peer += ":" + std::to_string(port);
  auto* c = new Conn(fd, g.connections, std::move(peer));
  if (!c->ok()) {
    evutil_closesocket(fd);
    delete c;
  }
}

void AcceptErrorCb(evconnlistener*, void*) noexcept {
  int err = EVUTIL_SOCKET_ERROR();
  std::fprintf(stderr, "drover-backend: accept() failed (%d: %s)\n", err,
               evutil_socket_error_to_string(err));
  // EMFILE and friends: keep the listener; the next accept may succeed.
}

void StopCb(evutil_socket_t, short, void*) noexcept { event_base_loopexit(g.base, nullptr); }

// "127.0.0.1:8080" or "[::1]:0" (numeric addresses only; port 0 = ephemeral).
bool ParseListen(const std::string& text, sockaddr_storage* ss, socklen_t* len) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) {
    return false;
  }
  std::string host = text.substr(0, colon);
  uint64_t port;
  if (!ParseU64(std::string_view(text).substr(colon + 1), &port) || port > 65535) {
    return false;
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(*in6);
    return inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &in6->sin6_addr) == 1;
  }
  auto* in = reinterpret_cast<sockaddr_in*>(ss);
  in->sin_family = AF_INET;
  in->sin_port = htons(static_cast<uint16_t>(port));
  *len = sizeof(*in);
  return inet_pton(AF_INET, host.c_str(), &in->sin_addr) == 1;
}

[[noreturn]] void Usage(const char* msg) {
  if (msg != nullptr) {
    std::fprintf(stderr, "drover-backend: %s\n", msg);
  }
  std::fprintf(stderr,
               "usage: drover-backend --listen HOST:PORT --name NAME [--port-file FILE] "
               "[--procs N]\n");
  std::exit(msg != nullptr ? 1 : 0);
}

// Runs one event loop on the listening socket until SIGTERM/SIGINT. Returns the exit code.
int Serve(evutil_socket_t lfd) {
  g.base = event_base_new();
  if (g.base == nullptr) {
    std::fprintf(stderr, "drover-backend: event_base_new() failed\n");
    return 1;
  }
  g.reaper = event_new(g.base, -1, 0, ReaperCb, nullptr);
  evconnlistener* lst = evconnlistener_new(g.base, AcceptCb, nullptr,
                                           LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, lfd);
  if (lst == nullptr) {
    std::fprintf(stderr, "drover-backend: evconnlistener_new() failed\n");
    return 1;
  }
  evconnlistener_set_error_cb(lst, AcceptErrorCb);
  event* sterm = evsignal_new(g.base, SIGTERM, StopCb, nullptr);
  event* sint = evsignal_new(g.base, SIGINT, StopCb, nullptr);
  evsignal_add(sterm, nullptr);
  evsignal_add(sint, nullptr);
  event_base_dispatch(g.base);
  // Exit without tearing down connections one by one: the kernel closes them.
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen, port_file;
  int procs = 1;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        Usage(("missing value for " + a).c_str());
      }
      return argv[++i];
    };
    if (a == "--listen") {
      listen = value();
    } else if (a == "--name") {
      g.name = value();
    } else if (a == "--port-file") {
      port_file = value();
    } else if (a == "--procs") {
      procs = std::atoi(value().c_str());
      if (procs < 1 || procs > 256) {
        Usage("--procs must be 1..256");
      }
    } else if (a == "-h" || a == "--help") {
      Usage(nullptr);
    } else {
      Usage(("unknown argument '" + a + "'").c_str());
    }
  }
  if (listen.empty() || g.name.empty()) {
    Usage("--listen and --name are required");
  }
  for (char c : g.name) {
    if (c == '\r' || c == '\n' || c == '%') {
      Usage("--name must not contain CR, LF or %");
    }
  }
  InitPattern();
  signal(SIGPIPE, SIG_IGN);

  sockaddr_storage ss{};
  socklen_t sslen = 0;
  if (!ParseListen(listen, &ss, &sslen)) {
    Usage(("cannot parse --listen '" + listen + "' (want IPV4:PORT or [IPV6]:PORT)").c_str());
  }
  evutil_socket_t lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (lfd < 0) {
    std::perror("drover-backend: socket()");
    return 2;
  }
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(lfd, reinterpret_cast<sockaddr*>(&ss), sslen) != 0) {
    int err = errno;
    std::fprintf(stderr, "drover-backend: bind(%s) failed (%d: %s)\n", listen.c_str(), err,
                 std::strerror(err));
    return 2;
  }
  if (::listen(lfd, 4096) != 0) {
    int err = errno;
    std::fprintf(stderr, "drover-backend: listen(%s) failed (%d: %s)\n", listen.c_str(), err,
                 std::strerror(err));
    return 2;
  }
  evutil_make_socket_nonblocking(lfd);
  sockaddr_storage bound{};
  socklen_t blen = sizeof(bound);
  getsockname(lfd, reinterpret_cast<sockaddr*>(&bound), &blen);
  int port = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                         : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  std::string host = listen.substr(0, listen.rfind(':'));

  if (!port_file.empty()) {
    std::string tmp = port_file + ".tmp." + std::to_string(getpid());
    FILE* f = std::fopen(tmp.c_str(), "w");
    if (f == nullptr || std::fprintf(f, "%d\n", port) < 0 || std::fclose(f) != 0 ||
        std::rename(tmp.c_str(), port_file.c_str()) != 0) {
      int err = errno;
      std::fprintf(stderr, "drover-backend: writing port file %s failed (%d: %s)\n",
                   port_file.c_str(), err, std::strerror(err));
      return 2;
    }
  }
  std::printf("listening on %s:%d\n", host.c_str(), port);
  std::fflush(stdout);

  if (procs == 1) {
    return Serve(lfd);
  }

  // Several processes on one listening socket; the parent only relays TERM/INT.
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, &old);
  std::vector<pid_t> kids;
  for (int i = 0; i < procs; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      sigprocmask(SIG_SETMASK, &old, nullptr);
      return Serve(lfd);
    }
    if (pid < 0) {
      std::perror("drover-backend: fork()");
      break;
    }
    kids.push_back(pid);
  }
  close(lfd);
  size_t alive = kids.size();
  int code = 0;
  while (alive > 0) {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig == SIGCHLD) {
      int st;
      while (waitpid(-1, &st, WNOHANG) > 0) {
        alive--;
        code = 1;  // a child died on its own
      }
    } else {
      for (pid_t k : kids) {
        kill(k, SIGTERM);
      }
      while (alive > 0 && waitpid(-1, nullptr, 0) > 0) {
        alive--;
      }
      code = 0;
    }
  }
  return code;
}
