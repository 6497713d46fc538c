// drover-openloop: an open-loop (constant-rate) HTTP/1.1 load generator, as wrk2 is, for
// bench/compare.py's "latency at the same offered load". Closed-loop wrk gives each server
// its own maximum load; this sends the same schedule to every server. One file, one
// thread, plain Linux epoll and nonblocking sockets (no libdrover, no libevent).
//
// Usage: drover-openloop --port P --rate R [--duration S] [--warmup S] [--host 127.0.0.1]
//          [--path /] [--header "Name: value"]... [--connections N] [--close]
//          [--latencies FILE]
//
// Semantics:
//   - Request k (from 0) is due at t0 + k/R: a uniform schedule over warmup + duration
//     seconds, whatever the server does. A due request goes to an idle connection; while
//     all N connections are busy, due requests wait in a FIFO queue and each is sent as
//     soon as a connection frees up. A request's latency is the time its complete response
//     arrived minus its DUE time, not its send time, so time spent queued behind a slow
//     server counts (no coordinated omission, as in wrk2).
//   - Keep-alive (default): the N connections are opened before t0 and used in turn (FIFO,
//     so that all of them carry traffic, as wrk2 spreads its rate over its connections);
//     one the server closes is reopened when a request needs it. --close: each request
//     gets a fresh connection (at most N at a time) and `Connection: close`; its response
//     is read to the end, then the connection is closed. A --header "Connection: close"
//     implies --close.
//   - Responses: status line and headers up to CRLFCRLF; the body is delimited by
//     `Transfer-Encoding: chunked` (chunk sizes, extensions and trailers decoded), else by
//     Content-Length, else by the close, which is accepted only when the connection closes
//     after the response anyway (--close, or the response has `Connection: close` or is
//     HTTP/1.0 without keep-alive). 1xx interim responses are skipped; 204 and 304 have no
//     body. Anything malformed, a connect, write or read error, bytes after the response,
//     or a close before the response's end is an error: the request is lost and the
//     connection closed. A status outside 2xx/3xx completes the request and is also
//     counted in non2xx.
//   - The schedule runs on CLOCK_MONOTONIC: epoll_pwait2 sleeps until the next due time
//     (nanoseconds), and every wakeup sends all the requests that have come due since, so
//     timer granularity costs latency (which is measured), never rate.
//   - Sending stops at t0 + warmup + duration; requests still queued then are "unsent".
//     Up to 5 s more are spent waiting for the responses in flight; those still missing
//     are "timeouts".
//   - Only requests due in the measured window (after the warm-up) are counted:
//     scheduled = completed + errors + timeouts + unsent; sent = requests fully written.
//     achieved_rps = completed / duration. Percentiles are exact: the sorted latencies of
//     the completed requests, nearest rank.
//   - --latencies FILE also writes the measured window's latencies there, sorted, one
//     integer of nanoseconds per line (compare.py --latency-interleave pools them over
//     runs for exact percentiles of the whole).
//   - On stderr, "drover-openloop: measuring" when the warm-up ends and
//     "drover-openloop: stopped sending" when the measured window ends (compare.py samples
//     the proxy's CPU time at these two moments), and the first error if there were any.
//
// Output: one JSON object on one line on stdout. Exit status 0 if it ran, 1 if no
// connection could be made at all, 2 on bad options.
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr int64_t kNs = 1000000000;
constexpr int64_t kSetupNs = 5 * kNs;     // keep-alive connections get this long to open
constexpr int64_t kDrainNs = 5 * kNs;     // wait for responses in flight after the end
constexpr size_t kMaxHead = 64 * 1024;    // response head limit
constexpr size_t kMaxLine = 8 * 1024;     // chunk-size line and trailer section limit
constexpr size_t kReadSize = 256 * 1024;  // one read() takes up to this much

int64_t Now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kNs + ts.tv_nsec;
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// Case-insensitive search for `tok` in a comma-separated list; `last`: only the last item.
bool HasToken(std::string_view list, std::string_view tok, bool last = false) {
  bool found = false;
  while (true) {
    size_t c = list.find(',');
    found = IEquals(Trim(list.substr(0, c)), tok) || (found && !last);
    if (c == std::string_view::npos) {
      return found;
    }
    list.remove_prefix(c + 1);
  }
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// ---------------------------------------------------------------------------------------
// Incremental HTTP/1.x response parser. Keeps its head buffer's capacity across responses,
// so a connection's steady state allocates nothing.

class ResponseParser {
 public:
  enum Result { kMore, kDone, kError };

  // Before each request; `request_close`: the request asked for Connection: close.
  void Reset(bool request_close) {
    state_ = kHead;
    head_.clear();
    request_close_ = request_close;
    close_after_ = request_close;
    status_ = 0;
  }

  // Consumes bytes from [*p, end) up to the end of the response at most: on kDone, *p
  // points just past it.
  Result Feed(const char** p, const char* end) {
    Result r = kMore;
    while (*p < end && r == kMore) {
      switch (state_) {
        case kHead:
          r = FeedHead(p, end);
          break;
        case kLength:
        case kChunkData: {
          uint64_t take = std::min<uint64_t>(remaining_, static_cast<uint64_t>(end - *p));
          *p += take;
          remaining_ -= take;
          if (remaining_ == 0) {
            if (state_ == kLength) {
              state_ = kComplete;
              r = kDone;
            } else {
              state_ = kChunkDataCr;
            }
          }
          break;
        }
        case kUntilClose:
          *p = end;
          break;
        default:
          r = FeedFraming(*(*p)++);
          break;
      }
    }
    return r;
  }

  // The peer closed the connection.
  Result Eof() const { return state_ == kUntilClose ? kDone : kError; }
  // A body delimited by the close is being read: read until the end of the stream.
  bool until_close() const { return state_ == kUntilClose; }
  int status() const { return status_; }
  // The connection cannot carry another request after this response.
  bool close_after() const { return close_after_; }

 private:
  enum State {
    kHead,
    kLength,
    kChunkSize,
    kChunkExt,
    kChunkSizeLf,
    kChunkData,
    kChunkDataCr,
    kChunkDataLf,
    kTrailerStart,
    kTrailerLine,
    kTrailerLf,
    kFinalLf,
    kUntilClose,
    kComplete,
  };

  // Collects the head up to CRLFCRLF. The usual case, a head that arrived in one read, is
  // parsed in place; a split one is copied into head_ (at most kMaxHead bytes).
  Result FeedHead(const char** p, const char* end) {
    std::string_view in(*p, static_cast<size_t>(end - *p));
    if (head_.empty()) {
      size_t e = in.find("\r\n\r\n");
      if (e != std::string_view::npos) {
        *p += e + 4;
        return Head(in.substr(0, e + 4));
      }
      if (in.size() > kMaxHead) {
        return kError;
      }
      head_.assign(in.data(), in.size());
      *p = end;
      return kMore;
    }
    size_t old = head_.size();
    size_t take = std::min(in.size(), kMaxHead + 1 - std::min(old, kMaxHead));
    head_.append(in.data(), take);
    size_t e = head_.find("\r\n\r\n", old >= 3 ? old - 3 : 0);
    if (e == std::string::npos) {
      if (head_.size() > kMaxHead) {
        return kError;
      }
      *p += take;
      return kMore;
    }
    *p += e + 4 - old;
    Result r = Head(std::string_view(head_).substr(0, e + 4));
    head_.clear();
    return r;
  }

  // A complete head, CRLFCRLF included.
  Result Head(std::string_view h) {
    size_t eol = h.find("\r\n");
    std::string_view line = h.substr(0, eol);
    // HTTP/1.x SP 3DIGIT [SP reason]
    if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || (line[7] != '0' && line[7] != '1') ||
        line[8] != ' ' || line[9] < '1' || line[9] > '5' || !std::isdigit(line[10] & 0xff) ||
        !std::isdigit(line[11] & 0xff) || (line.size() > 12 && line[12] != ' ')) {
      return kError;
    }
    bool http10 = line[7] == '0';
    int status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    bool has_length = false, has_te = false, chunked = false, conn_close = false;
    bool conn_keep = false;
    uint64_t length = 0;
    for (size_t pos = eol + 2;; pos = eol + 2) {
      eol = h.find("\r\n", pos);
      line = h.substr(pos, eol - pos);
      if (line.empty()) {
        break;  // the empty line that ends the head
      }
      size_t colon = line.find(':');
      if (line[0] == ' ' || line[0] == '\t' || colon == 0 || colon == std::string_view::npos) {
        return kError;  // obsolete line folding, or not a field
      }
      std::string_view name = line.substr(0, colon);
      std::string_view value = Trim(line.substr(colon + 1));
      if (name.find_first_of(" \t") != std::string_view::npos) {
        return kError;
      }
      if (IEquals(name, "content-length")) {
        uint64_t v = 0;
        if (value.empty() || value.size() > 18) {
          return kError;
        }
        for (char c : value) {
          if (c < '0' || c > '9') {
            return kError;
          }
          v = v * 10 + static_cast<uint64_t>(c - '0');
        }
        if (has_length && v != length) {
          return kError;
        }
        has_length = true;
        length = v;
      } else if (IEquals(name, "transfer-encoding")) {
        has_te = true;
        chunked = HasToken(value, "chunked", true);  // the last field's last coding counts
      } else if (IEquals(name, "connection")) {
        conn_close = conn_close || HasToken(value, "close");
        conn_keep = conn_keep || HasToken(value, "keep-alive");
      }
    }
    status_ = status;
    if (status < 200) {
      if (status == 101) {
        return kError;  // nothing here asks for an upgrade
      }
      state_ = kHead;  // interim response: the real one follows
      return kMore;
    }
    close_after_ = request_close_ || conn_close || (http10 && !conn_keep);
    if (status == 204 || status == 304) {
      state_ = kComplete;
      return kDone;
    }
    if (has_te && chunked) {
      state_ = kChunkSize;
      remaining_ = 0;
      digits_ = 0;
      line_ = 0;
      return kMore;
    }
    if (has_length && !has_te) {
      if (length == 0) {
        state_ = kComplete;
        return kDone;
      }
      state_ = kLength;
      remaining_ = length;
      return kMore;
    }
    if (!close_after_) {
      return kError;  // delimited by the close, on a connection meant to stay open
    }
    state_ = kUntilClose;
    return kMore;
  }

  // Chunk-size lines, the CRLF after chunk data, trailers: one byte at a time.
  Result FeedFraming(char c) {
    if (++line_ > kMaxLine) {
      return kError;
    }
    switch (state_) {
      case kChunkSize: {
        int v = HexVal(c);
        if (v >= 0) {
          if (++digits_ > 15) {
            return kError;
          }
          remaining_ = remaining_ * 16 + static_cast<uint64_t>(v);
        } else if (digits_ == 0) {
          return kError;
        } else if (c == ';' || c == ' ' || c == '\t') {
          state_ = kChunkExt;
        } else if (c == '\r') {
          state_ = kChunkSizeLf;
        } else {
          return kError;
        }
        return kMore;
      }
      case kChunkExt:
        if (c == '\r') {
          state_ = kChunkSizeLf;
        } else if (c == '\n') {
          return kError;
        }
        return kMore;
      case kChunkSizeLf:
        if (c != '\n') {
          return kError;
        }
        state_ = remaining_ == 0 ? kTrailerStart : kChunkData;
        line_ = 0;  // the trailer section shares one budget
        return kMore;
      case kChunkDataCr:
        state_ = kChunkDataLf;
        return c == '\r' ? kMore : kError;
      case kChunkDataLf:
        state_ = kChunkSize;
        digits_ = 0;
        line_ = 0;
        return c == '\n' ? kMore : kError;
      case kTrailerStart:
        state_ = c == '\r' ? kFinalLf : kTrailerLine;
        return c == '\n' ? kError : kMore;
      case kTrailerLine:
        if (c == '\r') {
          state_ = kTrailerLf;
        } else if (c == '\n') {
          return kError;
        }
        return kMore;
      case kTrailerLf:
        state_ = kTrailerStart;
        return c == '\n' ? kMore : kError;
      case kFinalLf:
        state_ = kComplete;
        return c == '\n' ? kDone : kError;
      default:
        return kError;  // kComplete: bytes after the response
    }
  }

  State state_ = kHead;
  std::string head_;  // a head split over reads
  bool request_close_ = false;
  bool close_after_ = false;
  int status_ = 0;
  uint64_t remaining_ = 0;  // body bytes (kLength) or chunk bytes (kChunkData) still to come
  int digits_ = 0;          // hex digits of the chunk size so far
  size_t line_ = 0;         // bytes of the current chunk-size line or of the trailers
};

// ---------------------------------------------------------------------------------------
// The load generator.

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/";
  std::vector<std::string> headers;
  double rate = 0;
  int connections = 64;
  double duration = 10;
  double warmup = 1;
  bool close = false;
  std::string latencies;  // --latencies: where to write every measured latency
};

struct Conn {
  enum State { kFree, kConnecting, kIdle, kWriting, kReading };
  int fd = -1;
  State state = kFree;
  int64_t req = -1;  // index of the request in flight, -1: none
  size_t written = 0;
  ResponseParser parser;
};

class Loader {
 public:
  explicit Loader(const Options& o) : o_(o) {}

  // 0: ran, 1: could not connect at all.
  int Run() {
    if (!Setup()) {
      return 1;
    }
    ns_per_req_ = 1e9 / o_.rate;
    total_ = static_cast<int64_t>(std::ceil((o_.warmup + o_.duration) * o_.rate - 1e-6));
    first_measured_ = static_cast<int64_t>(std::ceil(o_.warmup * o_.rate - 1e-6));
    // Up front, so that recording allocates nothing (capped at 256 MiB for absurd runs).
    latencies_.reserve(
        std::min<size_t>(static_cast<size_t>(o_.rate * o_.duration * 1.1) + 16, size_t{32} << 20));
    t0_ = Now();
    const int64_t measure_at = t0_ + static_cast<int64_t>(o_.warmup * 1e9);
    const int64_t stop_at = t0_ + static_cast<int64_t>((o_.warmup + o_.duration) * 1e9);
    const int64_t drain_until = stop_at + kDrainNs;
    bool measuring = false, sending = true;
    while (fatal_ == 0) {
      int64_t now = Now();
      if (!measuring && now >= measure_at) {
        measuring = true;
        fputs("drover-openloop: measuring\n", stderr);
      }
      if (sending) {
        due_ = DueCount(now);
        Dispatch();
        if (now >= stop_at) {
          sending = false;
          unsent_ = total_ - std::max(next_send_, first_measured_);
          next_send_ = total_;
          fputs("drover-openloop: stopped sending\n", stderr);
        }
      }
      if (!sending && (inflight_ == 0 || now >= drain_until)) {
        break;
      }
      int64_t wake = drain_until;
      if (sending) {
        // Queued requests wait for a response (an event), not for the clock.
        wake = next_send_ < due_ || due_ == total_ ? stop_at : std::min(Due(due_), stop_at);
        if (!measuring) {
          wake = std::min(wake, measure_at);
        }
      }
      Poll(wake - now);
    }
    if (fatal_ != 0) {
      fprintf(stderr, "drover-openloop: cannot connect to %s:%d: %s\n", o_.host.c_str(), o_.port,
              strerror(fatal_));
      return 1;
    }
    for (Conn& c : conns_) {
      if (c.req >= first_measured_) {
        timeouts_++;
      }
      if (c.fd >= 0) {
        close(c.fd);
      }
    }
    if (first_error_[0] != '\0') {
      fprintf(stderr,
              "drover-openloop: %lld errors in the measured window; the first of the run: %s\n",
              static_cast<long long>(errors_), first_error_);
    }
    Report();
    return 0;
  }

 private:
  // Address, request bytes, epoll; with keep-alive, opens the N connections.
  bool Setup() {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    std::string port = std::to_string(o_.port);
    int rc = getaddrinfo(o_.host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0 || res == nullptr) {
      fprintf(stderr, "drover-openloop: cannot resolve %s: %s\n", o_.host.c_str(),
              gai_strerror(rc));
      return false;
    }
    memcpy(&addr_, res->ai_addr, res->ai_addrlen);
    addr_len_ = res->ai_addrlen;
    family_ = res->ai_family;
    freeaddrinfo(res);

    bool has_host = false;
    std::string extra;
    for (const std::string& h : o_.headers) {
      std::string_view name = Trim(std::string_view(h).substr(0, h.find(':')));
      std::string_view value = Trim(std::string_view(h).substr(h.find(':') + 1));
      has_host = has_host || IEquals(name, "host");
      if (IEquals(name, "connection") && HasToken(value, "close")) {
        o_.close = true;  // sent once, below
        continue;
      }
      extra += h + "\r\n";
    }
    request_ = "GET " + o_.path + " HTTP/1.1\r\n";
    if (!has_host) {
      bool v6 = o_.host.find(':') != std::string::npos;
      request_ += "Host: " + std::string(v6 ? "[" : "") + o_.host + (v6 ? "]" : "") + ":" +
                  std::to_string(o_.port) + "\r\n";
    }
    request_ += extra + (o_.close ? "Connection: close\r\n\r\n" : "\r\n");

    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) {
      fprintf(stderr, "drover-openloop: epoll_create1: %s\n", strerror(errno));
      return false;
    }
    conns_.resize(static_cast<size_t>(o_.connections));
    idle_.resize(conns_.size());
    for (size_t i = conns_.size(); i-- > 0;) {
      free_.push_back(static_cast<int>(i));
    }
    if (o_.close) {
      return true;  // connections are made per request
    }
    for (size_t i = 0; i < conns_.size(); i++) {
      int c = free_.back();
      free_.pop_back();
      Open(c, -1);
    }
    int64_t deadline = Now() + kSetupNs;
    while (fatal_ == 0 && idle_count_ + free_.size() < conns_.size()) {
      int64_t now = Now();
      if (now >= deadline) {
        break;
      }
      Poll(deadline - now);
    }
    if (fatal_ != 0 || connects_ok_ == 0) {
      fprintf(stderr, "drover-openloop: cannot connect to %s:%d: %s\n", o_.host.c_str(), o_.port,
              strerror(fatal_ != 0 ? fatal_ : ETIMEDOUT));
      return false;
    }
    return true;
  }

  int64_t Due(int64_t k) const { return t0_ + static_cast<int64_t>(k * ns_per_req_); }

  // How many requests have come due by `now` (at most total_).
  int64_t DueCount(int64_t now) const {
    if (now < t0_) {
      return 0;
    }
    int64_t n = std::min(total_, static_cast<int64_t>((now - t0_) / ns_per_req_) + 1);
    while (n > 0 && Due(n - 1) > now) {
      n--;
    }
    while (n < total_ && Due(n) <= now) {
      n++;
    }
    return n;
  }

  // Hands the queued requests, in order, to idle connections, then to new ones.
  void Dispatch() {
    while (next_send_ < due_) {
      if (idle_count_ > 0) {
        int i = idle_[idle_head_];
        idle_head_ = (idle_head_ + 1) % idle_.size();
        idle_count_--;
        Assign(i, next_send_++);
        Send(i);
      } else if (!free_.empty()) {
        int i = free_.back();
        free_.pop_back();
        Open(i, next_send_++);
      } else {
        return;
      }
    }
  }

  void Assign(int i, int64_t req) {
    Conn& c = conns_[i];
    c.req = req;
    c.written = 0;
    c.state = Conn::kWriting;
    c.parser.Reset(o_.close);
    inflight_++;
  }

  // A new connection in slot i, carrying request `req` once connected (-1: none).
  void Open(int i, int64_t req) {
    Conn& c = conns_[i];
    connects_++;
    c.fd = socket(family_, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
      c.req = req;
      inflight_ += req >= 0;
      Fail(i, errno, "socket");
      return;
    }
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (req >= 0) {
      Assign(i, req);
    }
    c.state = Conn::kConnecting;
    int rc = connect(c.fd, reinterpret_cast<const sockaddr*>(&addr_), addr_len_);
    if (rc != 0 && errno != EINPROGRESS) {
      Fail(i, errno, "connect");
      return;
    }
    // Edge-triggered: one registration per connection, none per request.
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u32 = static_cast<uint32_t>(i);
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev) != 0) {
      Fail(i, errno, "epoll_ctl");
      return;
    }
    if (rc == 0) {
      Connected(i);
    }
  }

  void Connected(int i) {
    Conn& c = conns_[i];
    connects_ok_++;
    if (c.req >= 0) {
      c.state = Conn::kWriting;
      Send(i);
    } else {
      MakeIdle(i);
    }
  }

  void MakeIdle(int i) {
    conns_[i].state = Conn::kIdle;
    idle_[(idle_head_ + idle_count_) % idle_.size()] = i;
    idle_count_++;
  }

  // Writes (the rest of) the request: one send() unless the socket buffer is full.
  void Send(int i) {
    Conn& c = conns_[i];
    while (c.written < request_.size()) {
      ssize_t n =
          send(c.fd, request_.data() + c.written, request_.size() - c.written, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          Fail(i, errno, "write");
        }
        return;  // the next EPOLLOUT edge continues
      }
      c.written += static_cast<size_t>(n);
    }
    c.state = Conn::kReading;
    sent_ += c.req >= first_measured_;
  }

  void OnEvent(int i, uint32_t events) {
    Conn& c = conns_[i];
    if (c.fd < 0) {
      return;
    }
    if (c.state == Conn::kConnecting) {
      if (events & (EPOLLERR | EPOLLHUP)) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        Fail(i, err != 0 ? err : ECONNREFUSED, "connect");
        return;
      }
      if (!(events & EPOLLOUT)) {
        return;
      }
      Connected(i);
    } else if (c.state == Conn::kWriting && (events & EPOLLOUT)) {
      Send(i);
    }
    if (c.fd >= 0 && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
      Read(i, (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
    }
  }

  // Reads what has arrived. Edge-triggered: a short read means the socket is drained,
  // since data arriving later raises a new edge; after the peer's FIN (`eof_seen`), or
  // for a body delimited by the close, reads on until read() returns 0.
  void Read(int i, bool eof_seen) {
    Conn& c = conns_[i];
    while (true) {
      ssize_t n = read(c.fd, buf_, sizeof(buf_));
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          Fail(i, errno, "read");
        }
        return;
      }
      if (n == 0) {
        if (c.req < 0) {
          Close(i);  // an idle connection the server closed: reopened when needed
        } else if (c.parser.Eof() == ResponseParser::kDone) {
          Complete(i);
        } else {
          Fail(i, 0, "connection closed before the end of the response");
        }
        return;
      }
      if (c.req < 0) {
        Fail(i, 0, "bytes on an idle connection");
        return;
      }
      const char* p = buf_;
      const char* end = buf_ + n;
      ResponseParser::Result r = c.parser.Feed(&p, end);
      if (r == ResponseParser::kError) {
        Fail(i, 0, "malformed response");
        return;
      }
      if (r == ResponseParser::kDone) {
        if (p != end) {
          Fail(i, 0, "bytes after the response");
        } else {
          Complete(i);
        }
        return;
      }
      if (static_cast<size_t>(n) < sizeof(buf_) && !eof_seen && !c.parser.until_close()) {
        return;
      }
    }
  }

  void Complete(int i) {
    Conn& c = conns_[i];
    if (c.req >= first_measured_) {
      completed_++;
      latencies_.push_back(Now() - Due(c.req));
      int s = c.parser.status();
      non2xx_ += s < 200 || s > 399;
    }
    c.req = -1;
    inflight_--;
    if (c.parser.close_after() || c.state != Conn::kReading) {
      Close(i);
    } else {
      MakeIdle(i);
    }
  }

  // The request in flight on slot i (if any) is lost; closes the connection.
  void Fail(int i, int err, const char* what) {
    Conn& c = conns_[i];
    if (c.state == Conn::kConnecting && connects_ok_ == 0 && err != 0) {
      fatal_ = err;  // nothing listening: stop at once
    }
    if (c.req >= 0) {
      errors_ += c.req >= first_measured_;
      inflight_--;
      c.req = -1;
    }
    if (first_error_[0] == '\0' && t0_ != 0) {
      snprintf(first_error_, sizeof(first_error_), "%s%s%s", what, err != 0 ? ": " : "",
               err != 0 ? strerror(err) : "");
    }
    Close(i);
  }

  void Close(int i) {
    Conn& c = conns_[i];
    if (c.state == Conn::kIdle) {
      // Rare (the server closed an idle connection): take it out of the ring.
      size_t k = 0, n = idle_.size();
      while (k < idle_count_ && idle_[(idle_head_ + k) % n] != i) {
        k++;
      }
      for (; k + 1 < idle_count_; k++) {
        idle_[(idle_head_ + k) % n] = idle_[(idle_head_ + k + 1) % n];
      }
      idle_count_--;
    }
    if (c.fd >= 0) {
      close(c.fd);
      c.fd = -1;
    }
    c.state = Conn::kFree;
    free_.push_back(i);
  }

  // Waits up to `ns` (>= 0) for events and handles them.
  void Poll(int64_t ns) {
    ns = std::max<int64_t>(ns, 0);
    epoll_event events[256];
    int n = 0;
    if (use_pwait2_) {
      timespec ts{static_cast<time_t>(ns / kNs), static_cast<long>(ns % kNs)};
      n = epoll_pwait2(epfd_, events, 256, &ts, nullptr);
      if (n < 0 && errno == ENOSYS) {
        use_pwait2_ = false;  // kernel older than 5.11: millisecond timeouts
      }
    }
    if (!use_pwait2_) {
      n = epoll_wait(epfd_, events, 256, static_cast<int>((ns + 999999) / 1000000));
    }
    for (int k = 0; k < n; k++) {
      OnEvent(static_cast<int>(events[k].data.u32), events[k].events);
    }
  }

  void Report() {
    std::vector<int64_t>& lat = latencies_;
    std::sort(lat.begin(), lat.end());
    if (!o_.latencies.empty() && !WriteLatencies(o_.latencies, lat)) {
      fprintf(stderr, "drover-openloop: cannot write %s: %s\n", o_.latencies.c_str(),
              strerror(errno));
    }
    auto ms = [](double ns) { return ns / 1e6; };
    auto pct = [&](double q) {
      size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(lat.size())));
      return ms(static_cast<double>(lat[std::max<size_t>(rank, 1) - 1]));
    };
    char figures[256] =
        "\"mean_ms\":null,\"p50_ms\":null,\"p90_ms\":null,\"p99_ms\":null,"
        "\"p999_ms\":null,\"max_ms\":null";
    if (!lat.empty()) {
      double sum = 0;
      for (int64_t v : lat) {
        sum += static_cast<double>(v);
      }
      snprintf(figures, sizeof(figures),
               "\"mean_ms\":%.3f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,"
               "\"p999_ms\":%.3f,\"max_ms\":%.3f",
               ms(sum / static_cast<double>(lat.size())), pct(0.5), pct(0.9), pct(0.99), pct(0.999),
               ms(static_cast<double>(lat.back())));
    }
    printf(
        "{\"rate\":%g,\"connections\":%d,\"close\":%s,\"warmup_s\":%g,\"duration_s\":%g,"
        "\"scheduled\":%lld,\"sent\":%lld,\"completed\":%lld,\"errors\":%lld,"
        "\"non2xx\":%lld,\"timeouts\":%lld,\"unsent\":%lld,\"connects\":%lld,"
        "\"achieved_rps\":%.1f,%s}\n",
        o_.rate, o_.connections, o_.close ? "true" : "false", o_.warmup, o_.duration,
        static_cast<long long>(total_ - first_measured_), static_cast<long long>(sent_),
        static_cast<long long>(completed_), static_cast<long long>(errors_),
        static_cast<long long>(non2xx_), static_cast<long long>(timeouts_),
        static_cast<long long>(unsent_), static_cast<long long>(connects_),
        static_cast<double>(completed_) / o_.duration, figures);
    fflush(stdout);
  }

  static bool WriteLatencies(const std::string& path, const std::vector<int64_t>& lat) {
    FILE* f = fopen(path.c_str(), "w");
    if (f == nullptr) {
      return false;
    }
    for (int64_t v : lat) {
      fprintf(f, "%lld\n", static_cast<long long>(v));
    }
    return fclose(f) == 0;
  }

  Options o_;
  sockaddr_storage addr_{};
  socklen_t addr_len_ = 0;
  int family_ = AF_INET;
  std::string request_;
  int epfd_ = -1;
  bool use_pwait2_ = true;
  std::vector<Conn> conns_;
  std::vector<int> idle_;  // ring of idle connected slots, used in FIFO order
  size_t idle_head_ = 0;
  size_t idle_count_ = 0;
  std::vector<int> free_;  // slots without a connection
  int fatal_ = 0;          // errno of a connect that failed before any succeeded

  double ns_per_req_ = 0;
  int64_t t0_ = 0;
  int64_t total_ = 0;           // requests in the schedule, warm-up included
  int64_t first_measured_ = 0;  // the first request due after the warm-up
  int64_t due_ = 0;             // requests due so far
  int64_t next_send_ = 0;       // the first request not yet handed to a connection
  int64_t inflight_ = 0;        // requests handed to a connection and not finished

  // Counts of requests of the measured window, except connects (every connection).
  int64_t sent_ = 0, completed_ = 0, errors_ = 0, non2xx_ = 0, timeouts_ = 0, unsent_ = 0;
  int64_t connects_ = 0, connects_ok_ = 0;
  std::vector<int64_t> latencies_;  // ns, of the completed requests
  char first_error_[160] = "";
  char buf_[kReadSize];
};

void Usage() {
  fputs(
      "usage: drover-openloop --port P --rate R [--duration S] [--warmup S] [--host H]\n"
      "         [--path /x] [--header 'Name: value']... [--connections N] [--close]\n"
      "         [--latencies FILE]\n"
      "  --rate R         requests per second in total, on a uniform schedule\n"
      "  --duration S     measured seconds (default 10)\n"
      "  --warmup S       seconds at the same rate before, not recorded (default 1)\n"
      "  --host H         default 127.0.0.1\n"
      "  --path P         default /\n"
      "  --header H       an extra request header (repeatable)\n"
      "  --connections N  at most N connections (default 64)\n"
      "  --close          a new connection per request, with Connection: close\n"
      "  --latencies F    also write the measured latencies to F (ns, sorted, one a line)\n"
      "Latency = response complete - due time. Prints one JSON line.\n",
      stderr);
}

bool ParseNumber(const char* s, double lo, double hi, double* out) {
  char* end = nullptr;
  errno = 0;
  double v = strtod(s, &end);
  if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi)) {
    return false;
  }
  *out = v;
  return true;
}

// One option's value into *o; false when it is bad.
bool ParseOption(int opt, const char* arg, Options* o) {
  double v = 0;
  switch (opt) {
    case 'H':
      o->host = arg;
      return !o->host.empty();
    case 'p':
      o->port = ParseNumber(arg, 1, 65535, &v) && v == std::floor(v) ? static_cast<int>(v) : 0;
      return o->port != 0;
    case 'P':
      o->path = arg;
      return o->path[0] == '/' && o->path.find_first_of(" \r\n") == std::string::npos;
    case 'h': {
      std::string_view h(arg);
      size_t colon = h.find(':');
      if (colon == std::string_view::npos || Trim(h.substr(0, colon)).empty() ||
          h.find_first_of("\r\n") != std::string_view::npos) {
        return false;
      }
      o->headers.emplace_back(h);
      return true;
    }
    case 'r':
      return ParseNumber(arg, 0.001, 1e7, &o->rate);
    case 'c':
      o->connections =
          ParseNumber(arg, 1, 100000, &v) && v == std::floor(v) ? static_cast<int>(v) : 0;
      return o->connections != 0;
    case 'd':
      return ParseNumber(arg, 0.001, 86400, &o->duration);
    case 'w':
      return ParseNumber(arg, 0, 86400, &o->warmup);
    case 'C':
      o->close = true;
      return true;
    case 'L':
      o->latencies = arg;
      return !o->latencies.empty();
    default:
      return false;  // getopt_long has said why
  }
}

bool ParseArgs(int argc, char** argv, Options* o) {
  static const option kLong[] = {
      {"host", required_argument, nullptr, 'H'},
      {"port", required_argument, nullptr, 'p'},
      {"path", required_argument, nullptr, 'P'},
      {"header", required_argument, nullptr, 'h'},
      {"rate", required_argument, nullptr, 'r'},
      {"connections", required_argument, nullptr, 'c'},
      {"duration", required_argument, nullptr, 'd'},
      {"warmup", required_argument, nullptr, 'w'},
      {"close", no_argument, nullptr, 'C'},
      {"latencies", required_argument, nullptr, 'L'},
      {nullptr, 0, nullptr, 0},
  };
  int opt, index = 0;
  while ((opt = getopt_long(argc, argv, "", kLong, &index)) != -1) {
    if (!ParseOption(opt, optarg, o)) {
      if (opt != '?') {
        fprintf(stderr, "drover-openloop: bad --%s '%s'\n", kLong[index].name, optarg);
      }
      return false;
    }
  }
  if (optind != argc || o->port == 0 || o->rate <= 0) {
    fputs("drover-openloop: --port and --rate are required; no other arguments\n", stderr);
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, &o)) {
    Usage();
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  Loader loader(o);
  return loader.Run();
}
