// ClientConn: one client connection and the exchange it is running with a
// member. Parses request heads in place (a copy of the head bytes is kept for
// the exchange), forwards them rebuilt, streams bodies both ways with
// watermark backpressure, and answers local errors. Runs in workers only.
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "core/clock.h"
#include "core/log.h"
#include "core/strings.h"
#include "proxy/ajp_exchange.h"
#include "proxy/server.h"
#include "tls/bufferevent.h"

namespace drover::proxy {
namespace {

// Past this many bytes waiting in one side's output, reading the other side stops.
constexpr size_t kHighWater = 256 * 1024;
constexpr size_t kLowWater = 64 * 1024;
// Most bytes read from a client while a request is being handled (pipelining).
constexpr size_t kClientReadMax = 64 * 1024;
// Body pieces up to this size are copied into a TLS client's last output chain.
constexpr size_t kTlsCoalesceMax = 4096;
// Splicing (see ClientConn::MaybeStartSplice): bodies with at least kSpliceMin bytes
// still to come; at most kSpliceQueued bytes already queued for the client go into
// the pipe ahead of them; one splice() from the member moves at most kSpliceChunk.
// Measured here (bench/compare.py, alternating runs): a 64 KiB body costs the same
// CPU either way, a 1 MiB body 17 % less spliced.
constexpr uint64_t kSpliceMin = 64 * 1024;
constexpr size_t kSpliceQueued = 16 * 1024;
constexpr size_t kSpliceChunk = 256 * 1024;
constexpr int64_t kLingerMs = 2000;
// Largest request body the balancer-manager accepts (forms and JSON edits).
constexpr uint64_t kLocalBodyMax = 64 * 1024;
// Idle connections of a draining worker are closed after this much silence.
constexpr int64_t kShutdownGraceMs = 1000;

const char* StatusReason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

struct timeval Tv(int64_t ms) {
  return {static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

void SetNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void AppendHeader(std::string* out, std::string_view name, std::string_view value) {
  // One size check for the line instead of one per piece.
  const size_t at = out->size();
  out->resize(at + name.size() + value.size() + 4);
  char* d = out->data() + at;
  memcpy(d, name.data(), name.size());
  d += name.size();
  memcpy(d, ": ", 2);
  d += 2;
  memcpy(d, value.data(), value.size());
  memcpy(d + value.size(), "\r\n", 2);
}

// Rebases views from one copy of a buffer to another.
std::string_view Rebase(std::string_view v, const char* from, const char* to) {
  if (v.data() == nullptr || v.empty()) {
    return v;
  }
  return std::string_view(to + (v.data() - from), v.size());
}

void RebaseRequest(http::RequestHead* r, const char* from, const char* to) {
  r->method = Rebase(r->method, from, to);
  r->target = Rebase(r->target, from, to);
  r->path = Rebase(r->path, from, to);
  r->query = Rebase(r->query, from, to);
  r->host = Rebase(r->host, from, to);
  r->upgrade = Rebase(r->upgrade, from, to);
  for (auto& h : r->headers) {
    h.name = Rebase(h.name, from, to);
    h.value = Rebase(h.value, from, to);
  }
  for (auto& t : r->connection_tokens) {
    t = Rebase(t, from, to);
  }
}

void RebaseResponse(http::ResponseHead* r, const char* from, const char* to) {
  r->reason = Rebase(r->reason, from, to);
  for (auto& h : r->headers) {
    h.name = Rebase(h.name, from, to);
    h.value = Rebase(h.value, from, to);
  }
  for (auto& t : r->connection_tokens) {
    t = Rebase(t, from, to);
  }
}

// The host name of a Host header value: "example.com:8443" -> "example.com",
// "[::1]:8443" -> "::1" (for TLS names).
std::string HostName(std::string_view host) {
  if (!host.empty() && host[0] == '[') {
    size_t end = host.find(']');
    return std::string(host.substr(1, end == std::string_view::npos ? end : end - 1));
  }
  size_t colon = host.find(':');
  return std::string(host.substr(0, colon));
}

// inet_ntop() formats IPv4 with sprintf (about 1,700 instructions, once per
// connection); this does the same in a few dozen. `out` has INET_ADDRSTRLEN.
void FormatIpv4(in_addr a, char* out) {
  const auto* b = reinterpret_cast<const unsigned char*>(&a.s_addr);
  char* p = out;
  for (int i = 0; i < 4; ++i) {
    unsigned v = b[i];
    if (v >= 100) {
      *p++ = static_cast<char>('0' + v / 100);
      *p++ = static_cast<char>('0' + v / 10 % 10);
    } else if (v >= 10) {
      *p++ = static_cast<char>('0' + v / 10);
    }
    *p++ = static_cast<char>('0' + v % 10);
    *p++ = i < 3 ? '.' : '\0';
  }
}

// The bytes of `in`'s first chain, at most `limit` of them: a head is parsed
// there first, without evbuffer_pullup() copying a whole buffered body behind it
// into one block (a 64 KiB response used to be copied once more per request).
const char* FirstChain(evbuffer* in, size_t limit, size_t* n) {
  evbuffer_iovec v;
  if (evbuffer_peek(in, -1, nullptr, &v, 1) < 1) {
    *n = 0;
    return "";
  }
  *n = v.iov_len < limit ? v.iov_len : limit;
  return static_cast<const char*>(v.iov_base);
}

bool IsIdempotent(std::string_view m) {
  return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "TRACE" || m == "PUT" ||
         m == "DELETE";
}

}  // namespace

ClientConn::ClientConn(Server* server, int fd, const sockaddr* peer, int peer_len,
                       uint16_t local_port, bool tls)
    : server_(server), local_port_(local_port), tls_(tls) {
  char ip[INET6_ADDRSTRLEN] = "-";
  if (peer->sa_family == AF_INET) {
    auto* s4 = reinterpret_cast<const sockaddr_in*>(peer);
    FormatIpv4(s4->sin_addr, ip);
    peer_port_ = ntohs(s4->sin_port);
  } else if (peer->sa_family == AF_INET6) {
    auto* s6 = reinterpret_cast<const sockaddr_in6*>(peer);
    inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
    peer_port_ = ntohs(s6->sin6_port);
  }
  (void)peer_len;
  peer_ip_ = ip;
  ConnBuffers spare;
  if (server->TakeBuffers(&spare)) {
    SwapBuffers(&spare);
  }
  if (tls_) {
    // TLS: OpenSSL writes each record (handshake flights, tickets, head, body) as it comes;
    // Nagle would hold the later ones back for an ACK.
    SetNoDelay(fd);
    nodelay_ = true;
    // The handshake runs inside the bufferevent; it is bounded by the RequestHeaderTimeout
    // timer armed in Start() (the connection is kIdle until a request head arrives).
    tls::ServerContext* ctx = server->tls_server();
    if (ctx == nullptr) {
      DLOG(kError, "client %s: ssl listener without a tls server context", peer_ip_.c_str());
    } else {
      bev_ = tls::NewServerBufferevent(server->base(), fd, *ctx);
      if (bev_ == nullptr) {
        DLOG(kError, "client %s: tls setup failed (%s)", peer_ip_.c_str(),
             tls::ErrorQueueString().c_str());
      }
    }
  } else {
    // TCP_NODELAY is set later, when it can matter (EnsureNoDelay).
    bev_ = bufferevent_socket_new(server->base(), fd, BEV_OPT_CLOSE_ON_FREE);
  }
  if (bev_ == nullptr) {
    close(fd);
  }
}

ClientConn::~ClientConn() {
  server_->GivePipe(&pipe_, pipe_bytes_ == 0);  // splicing when the worker stops
  if (up_ != nullptr) {
    server_->DeferFree(up_);
    up_ = nullptr;
  }
  if (member_started_ && balancer_ != nullptr) {
    balancer_->OnRequestEnd(static_cast<uint32_t>(member_), up_bytes_in_, up_bytes_out_);
    member_started_ = false;
  }
  if (timer_ != nullptr) {
    event_free(timer_);
  }
  server_->DisableDirectIo(&out_);
  if (bev_ != nullptr) {
    bufferevent_free(bev_);
  }
  ConnBuffers mine;
  SwapBuffers(&mine);
  server_->GiveBuffers(&mine);
}

void ClientConn::SwapBuffers(ConnBuffers* b) {
  head_buf_.swap(b->head);
  up_head_.swap(b->up_head);
  resp_head_buf_.swap(b->resp_head);
  req_.headers.swap(b->req_headers);
  resp_.headers.swap(b->resp_headers);
  out_headers_.swap(b->out_headers);
  req_.connection_tokens.swap(b->req_tokens);
  resp_.connection_tokens.swap(b->resp_tokens);
}

bool ClientConn::Start() {
  if (bev_ == nullptr) {
    return false;
  }
  timer_ = evtimer_new(server_->base(), TimerCb, this);
  if (timer_ == nullptr) {
    return false;
  }
  bufferevent_setcb(bev_, ReadCb, WriteCb, EventCb, this);
  if (tls_) {
    bufferevent_enable(bev_, EV_WRITE);
    bufferevent_enable(bev_, EV_READ);
  } else {
    // Before reading starts: it changes the read event. FirstRead enables reading.
    server_->EnableDirectIo(&out_, bev_);
  }
  // The first request must arrive within RequestHeaderTimeout.
  ArmTimer(server_->server_config().request_header_timeout_ms);
  return true;
}

// A plain connection's first read is tried at once (the request is usually there
// when the connection is accepted); the read event (epoll registration) follows,
// except while a Connection: close request that came whole runs. Such a client has
// nothing more to send: reading its socket would only notice that it left early,
// and costs an EPOLL_CTL_ADD now and a DEL at the close, two of the eight system
// calls of the exchange. Its departure shows when the response is written, as in
// Apache (mod_proxy_http does not watch the client while the member works); a
// keep-alive connection is watched throughout (499 in the access log). Bytes it
// sends anyway stay in the socket: StartLinger peeks (UnreadBytes) and lingers
// over them instead of letting the close turn into a reset.
void ClientConn::FirstRead() {
  if (tls_ || out_.bev == nullptr || state_ != State::kIdle) {
    return;
  }
  read_deferred_ = true;  // until reading is enabled below
  server_->ReadNow(&out_);
  if (state_ == State::kClosed) {
    return;
  }
  if (state_ == State::kProxying && ClosesAtOnce()) {
    return;  // for good: the connection ends with this exchange
  }
  read_deferred_ = false;
  EnableRead(bev_);
}

// ----------------------------------------------------------------- callbacks

void ClientConn::ReadCb(bufferevent*, void* arg) noexcept {
  static_cast<ClientConn*>(arg)->OnRead();
}
void ClientConn::WriteCb(bufferevent*, void* arg) noexcept {
  auto* c = static_cast<ClientConn*>(arg);
  Server::DirectWriteDrained(&c->out_);
  c->OnWrite();
}
void ClientConn::EventCb(bufferevent*, short events, void* arg) noexcept {
  static_cast<ClientConn*>(arg)->OnEvent(events);
}
void ClientConn::TimerCb(evutil_socket_t, short, void* arg) noexcept {
  auto* c = static_cast<ClientConn*>(arg);
  c->timer_armed_ms_ = 0;
  if (c->timer_deadline_ms_ == 0) {
    return;  // disarmed since it was armed
  }
  int64_t left = c->timer_deadline_ms_ - core::MonotonicMs();
  if (left > 0) {
    // The deadline moved later since the event was armed.
    struct timeval tv = Tv(left);
    evtimer_add(c->timer_, &tv);
    c->timer_armed_ms_ = c->timer_deadline_ms_;
    return;
  }
  c->timer_deadline_ms_ = 0;
  c->OnTimer();
}

void ClientConn::ArmTimer(int64_t ms) {
  timer_deadline_ms_ = core::MonotonicMs() + ms;
  if (timer_armed_ms_ != 0 && timer_armed_ms_ <= timer_deadline_ms_) {
    return;  // the pending event fires first and re-arms for the rest
  }
  struct timeval tv = Tv(ms);
  evtimer_add(timer_, &tv);
  timer_armed_ms_ = timer_deadline_ms_;
}

void ClientConn::SetIdleTimeouts() {
  // Waiting for a request: the timer bounds it; no read timeout. The write
  // timeout stays as during an exchange (no write is pending when idle), so
  // that a keep-alive request changes no bufferevent timeout at all.
  SetBevTimeouts(bev_, &timeouts_, 0, server_->server_config().timeout_ms);
}

void ClientConn::OnRead() {
  switch (state_) {
    case State::kIdle:
    case State::kHead:
      ProcessInput();
      break;
    case State::kProxying:
      if (local_ != 0) {
        PumpLocalBody();
      } else if (!req_body_done_ && up_ != nullptr && up_->connected_) {
        PumpRequestBody();
      }
      break;
    case State::kTunnel:
      PumpTunnel(true);
      break;
    case State::kLinger: {
      evbuffer* in = bufferevent_get_input(bev_);
      evbuffer_drain(in, evbuffer_get_length(in));
      break;
    }
    case State::kClosed:
      return;
  }
  BoundInput();
}

// The client's input is bounded at kClientReadMax while drover is not consuming
// it (pipelined requests during an exchange, a body the member is slow to
// take): libevent's read high-water mark stops reading until it drains. It is
// set only when needed: while set, libevent re-adds the read event on every
// change of the input buffer.
void ClientConn::BoundInput() {
  if (read_high_ == 0 && state_ != State::kClosed && state_ != State::kLinger &&
      evbuffer_get_length(bufferevent_get_input(bev_)) >= kClientReadMax) {
    SetReadHigh(kClientReadMax);
  }
}

void ClientConn::SetReadHigh(size_t high) {
  if (high != read_high_) {
    read_high_ = high;
    bufferevent_setwatermark(bev_, EV_READ, 0, high);
  }
}

void ClientConn::OnWrite() {
  if (state_ == State::kClosed) {
    return;
  }
  evbuffer* out = bufferevent_get_output(bev_);
  if (close_after_flush_) {
    if (evbuffer_get_length(out) == 0) {
      StartLinger();
    }
    return;
  }
  if (up_paused_ && up_ != nullptr && evbuffer_get_length(out) <= kLowWater) {
    up_paused_ = false;
    bufferevent_enable(up_->bev_, EV_READ);
    if (state_ == State::kTunnel) {
      PumpTunnel(false);
    } else {
      PumpResponseBody();
    }
  }
}

void ClientConn::OnEvent(short events) {
  if (state_ == State::kClosed) {
    return;
  }
  if ((events & BEV_EVENT_CONNECTED) != 0) {
    tls_established_ = true;  // a TLS bufferevent finished its handshake
    return;
  }
  if (tls_ && !tls_established_) {
    // A failed client handshake (e.g. plain HTTP on the TLS port, no shared protocol or
    // cipher, an unknown CA at the client) costs a log line at info and the connection.
    std::string why = tls::TlsError(bev_);
    int e = EVUTIL_SOCKET_ERROR();
    if (why.empty() && (events & BEV_EVENT_ERROR) != 0 && e != 0) {
      why = strerror(e);
    }
    if (why.empty()) {
      // Connected and closed without a word (port probes, load balancer checks).
      DLOG(kDebug, "client %s: closed before the tls handshake", peer_ip_.c_str());
    } else {
      DLOG(kInfo, "client %s: tls handshake failed (%s)", peer_ip_.c_str(), why.c_str());
    }
    Close();
    return;
  }
  if (state_ == State::kLinger) {
    Close();
    return;
  }
  if (state_ == State::kTunnel) {
    if ((events & BEV_EVENT_TIMEOUT) != 0 &&
        WallUs() - tunnel_activity_us_ < server_->server_config().timeout_ms * 1000) {
      bufferevent_enable(bev_, EV_READ);  // the other direction is active
      return;
    }
    EndTunnel((events & BEV_EVENT_TIMEOUT) != 0 ? "client idle timeout" : "client closed");
    return;
  }
  if ((events & BEV_EVENT_TIMEOUT) != 0) {
    DLOG(kInfo, "client %s: i/o timeout", peer_ip_.c_str());
    Close();
    return;
  }
  if ((events & BEV_EVENT_EOF) != 0 && state_ == State::kProxying && req_body_done_ &&
      (events & BEV_EVENT_ERROR) == 0) {
    // Half-close after a complete request: finish the response, then close.
    client_eof_ = true;
    keep_alive_ = false;
    return;
  }
  if (state_ == State::kProxying && exchange_active_) {
    DLOG(kInfo, "client %s closed the connection during %.*s %.*s", peer_ip_.c_str(),
         static_cast<int>(req_.method.size()), req_.method.data(),
         static_cast<int>(req_.path.size()), req_.path.data());
    if (status_ == 0) {
      status_ = 499;
    }
    keep_alive_ = false;
    WriteAccessLog();
  }
  Close();
}

void ClientConn::OnTimer() {
  if (state_ == State::kLinger || close_after_flush_) {
    Close();
    return;
  }
  if (state_ == State::kHead) {
    DLOG(kInfo, "client %s: request head not complete within RequestHeaderTimeout",
         peer_ip_.c_str());
    SendLocal(408, "request head timeout", true);
    return;
  }
  if (state_ == State::kIdle) {
    if (shutting_down_) {
      char c;
      int fd = bufferevent_getfd(bev_);
      if (fd >= 0 && recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0) {
        ArmTimer(100);  // a request is arriving: the read callback serves it
        return;
      }
    }
    Close();
    return;
  }
  if (state_ == State::kProxying && waiting_member_) {
    CheckBodyDeadline() || PickAndConnect();
    return;
  }
  if (state_ == State::kProxying) {
    CheckBodyDeadline();
  }
}

// ------------------------------------------------------------------ requests

void ClientConn::ProcessInput() {
  if (in_process_) {
    return;
  }
  in_process_ = true;
  evbuffer* in = bufferevent_get_input(bev_);
  while ((state_ == State::kIdle || state_ == State::kHead) && !close_after_flush_) {
    size_t len = evbuffer_get_length(in);
    if (len == 0) {
      break;
    }
    // A head's first bytes: RequestHeaderTimeout runs from here, armed below only
    // when they are not the whole head (usually they are).
    const bool head_starts = state_ == State::kIdle;
    if (head_starts) {
      state_ = State::kHead;
    }
    const auto& lim = server_->limits();
    size_t max_head = lim.max_request_line + 2 + (lim.max_fields + 1) * (lim.max_field_size + 2);
    size_t limit = len < max_head ? len : max_head;
    size_t n = 0;
    const char* p = FirstChain(in, limit, &n);
    http::ParseError err;
    auto r = http::ParseRequestHead(p, n, lim, &req_, &err);
    if (r == http::ParseResult::kIncomplete && n < limit) {
      n = limit;  // the head spans chains: make it contiguous
      p = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(n)));
      r = http::ParseRequestHead(p, n, lim, &req_, &err);
    }
    if (r == http::ParseResult::kIncomplete) {
      if (head_starts) {
        ArmTimer(server_->server_config().request_header_timeout_ms);
      }
      if (n >= max_head) {
        SendLocal(431, "request head too large", true);
      } else if (len >= kClientReadMax) {
        // BoundInput() would stop reading at kClientReadMax: allow a head up
        // to max_head by raising the mark for this request.
        SetReadHigh(max_head + 1);
      }
      break;
    }
    if (r == http::ParseResult::kError) {
      DLOG(kInfo, "client %s: bad request (%s), answering %d", peer_ip_.c_str(), err.reason,
           err.status);
      SendLocal(err.status, err.reason, true);
      break;
    }
    // Keep a private copy of the head for the whole exchange.
    head_buf_.assign(p, req_.head_size);
    RebaseRequest(&req_, p, head_buf_.data());
    evbuffer_drain(in, req_.head_size);
    req_bytes_ = req_.head_size;
    if (read_high_ != 0) {
      SetReadHigh(evbuffer_get_length(in) >= kClientReadMax ? kClientReadMax : 0);
    }
    DisarmTimer();
    StartExchange();
  }
  in_process_ = false;
}

void ClientConn::ResetExchange() {
  route_ = Route();
  balancer_ = nullptr;
  pick_ = balancer::PickResult();
  tried_.clear();
  attempts_ = 0;
  member_ = -1;
  member_started_ = false;
  up_paused_ = false;
  client_paused_ = false;
  retried_stale_ = false;
  waiting_member_ = false;
  body_start_ms_ = 0;
  body_paused_ms_ = 0;
  local_ = 0;
  resp_state_ = RespState::kNone;
  req_body_done_ = true;
  req_remaining_ = 0;
  req_payload_ = 0;
  resp_remaining_ = 0;
  dechunk_ = false;
  resp_close_delimited_ = false;
  sent_continue_ = false;
  status_ = 0;
  resp_body_bytes_ = 0;
  resp_bytes_ = 0;
  up_bytes_in_ = 0;
  up_bytes_out_ = 0;
  out_headers_.clear();
  rewritten_.clear();
  resp_.Clear();
  proto_ = nullptr;
  exchange_active_ = true;
}

void ClientConn::StartExchange() {
  ResetExchange();
  state_ = State::kProxying;
  start_us_ = WallUs();
  ++requests_;
  const auto& sc = server_->server_config();
  client_asked_close_ = !req_.keep_alive;
  keep_alive_ = req_.keep_alive && !shutting_down_ && !server_->shutting_down();
  if (sc.max_keepalive_requests > 0 && requests_ >= static_cast<uint64_t>(sc.max_keepalive_requests)) {
    keep_alive_ = false;
  }
  req_body_done_ = req_.body == http::BodyKind::kNone ||
                   (req_.body == http::BodyKind::kLength && req_.content_length == 0);
  req_remaining_ = req_.body == http::BodyKind::kLength ? req_.content_length : 0;
  if (req_.body == http::BodyKind::kChunked) {
    req_chunked_.Reset();  // here rather than in ResetExchange: two cache lines
  }
  // Client I/O timeouts while the exchange runs.
  SetBevTimeouts(bev_, &timeouts_, req_body_done_ ? 0 : sc.timeout_ms, sc.timeout_ms);
  if (!req_body_done_ && sc.request_body_timeout_ms > 0) {
    body_start_ms_ = core::MonotonicMs();
    ArmBodyTimer();
  }

  if (!req_.host.empty()) {
    client_host_.assign(req_.host.data(), req_.host.size());
  } else {
    client_host_ = sc.server_name;
    uint16_t def = tls_ ? 443 : 80;
    if (local_port_ != def) {
      client_host_ += ":" + std::to_string(local_port_);
    }
  }

  // Status paths are matched before proxy rules (SPEC §4).
  if (server_->status() != nullptr) {
    std::string_view path = req_.path;
    const std::string& bm = sc.balancer_manager;
    if (!bm.empty() && path.substr(0, bm.size()) == bm &&
        (path.size() == bm.size() || path[bm.size()] == '/')) {
      StartStatus(1);
      return;
    }
    if (!sc.metrics.empty() && path == sc.metrics) {
      StartStatus(2);
      return;
    }
  }
  if (sc.limit_request_body > 0 && req_.body == http::BodyKind::kLength &&
      req_.content_length > static_cast<uint64_t>(sc.limit_request_body)) {
    SendLocal(413, "request body larger than LimitRequestBody", true);
    return;
  }
  websocket_ = (req_.connection & http::kConnUpgrade) != 0 &&
               core::IEquals(core::Trim(req_.upgrade), "websocket");
  route_ = MatchRoute(sc, req_.path, req_.query, req_.has_query);
  if (route_.rule == nullptr || route_.rule->exclude) {
    SendLocal(404, "no ProxyPass rule matched", !req_body_done_);
    return;
  }
  balancer_ = server_->balancer(route_.rule->balancer);
  PickAndConnect(start_us_);
}

// Picks members until one connects synchronously-or-pending, or none is left.
bool ClientConn::PickAndConnect(int64_t now_us) {
  balancer::PickRequest preq;
  preq.path = req_.path;
  preq.query = req_.query;
  preq.has_query = req_.has_query;
  for (const auto& h : req_.headers) {
    if (core::IEquals(h.name, "cookie")) {
      preq.cookies.push_back(h.value);
    }
  }
  const auto& bc = balancer_->config();
  int max_attempts = balancer_->MaxAttempts();
  if (max_attempts < 0) {
    max_attempts = 0;
  }
  std::vector<int> excluded;
  while (true) {
    int64_t now_ms = (now_us != 0 ? now_us : WallUs()) / 1000;
    now_us = 0;  // a later round (failover) reads the clock again
    // Members at their max= connections in this worker (and without an idle
    // connection to reuse) are left out of this pick, like members already tried.
    excluded = tried_;
    uint32_t nm = balancer_->num_members();
    for (uint32_t m = 0; m < nm; ++m) {
      MemberAddr* a = server_->member_addr(balancer_->index(), m);
      if (a != nullptr && a->max > 0 && a->conns >= a->max &&
          !server_->HasIdle(balancer_->index(), m)) {
        excluded.push_back(static_cast<int>(m));
      }
    }
    balancer::PickResult pr = balancer_->Pick(preq, excluded, now_ms);
    if (pr.member < 0) {
      if (tried_.empty() || pick_.member < 0) {
        pick_ = pr;
      }
      if (balancer_->TimeoutMs() > 0) {
        // Balancer timeout=: wait for a member to become usable (Apache polls too).
        if (!waiting_member_) {
          waiting_member_ = true;
          wait_deadline_us_ = WallUs() + balancer_->TimeoutMs() * 1000;
        }
        if (WallUs() < wait_deadline_us_) {
          ArmTimer(100);
          return true;
        }
      }
      waiting_member_ = false;
      DLOG(kError, "proxy: balancer %s: no usable member for %.*s (%s)", bc.name.c_str(),
           static_cast<int>(req_.path.size()), req_.path.data(), pr.reason);
      SendLocal(503, "no usable member", !req_body_done_);
      return false;
    }
    if (waiting_member_) {
      waiting_member_ = false;
      ArmBodyTimer();
    }
    if (tried_.empty()) {
      pick_ = pr;
    } else {
      // A failover keeps the session route; the route counts as changed.
      pr.session_route = pick_.session_route;
      pr.route_changed = true;
      pick_ = pr;
    }
    member_ = pr.member;
    if (ConnectTo(pr.member)) {
      return true;
    }
    // Synchronous connect failure: mark and try another member.
    balancer_->OnConnectFailure(static_cast<uint32_t>(pr.member), WallUs() / 1000);
    tried_.push_back(pr.member);
    if (attempts_++ >= max_attempts) {
      SendLocal(503, "all attempts failed", !req_body_done_);
      return false;
    }
  }
}

bool ClientConn::ConnectTo(int member) {
  uint32_t b = balancer_->index();
  uint32_t m = static_cast<uint32_t>(member);
  MemberAddr* addr = server_->member_addr(b, m);
  if (addr == nullptr || !addr->resolved) {
    DLOG(kError, "proxy: balancer %s: member %s has no address", balancer_->name().c_str(),
         addr != nullptr ? addr->url.c_str() : "?");
    return false;
  }
  if (!member_started_) {
    balancer_->OnRequestStart(m);
    member_started_ = true;
  }
  // https:// members: the TLS name is the member's host, or the request's host name with
  // ProxyPreserveHost (as Apache's mod_proxy_http sets SNI and the peer name to check).
  std::string tls_host;
  if (addr->tls) {
    tls_host = addr->tls_host;
    if (server_->server_config().preserve_host && !req_.host.empty()) {
      tls_host = HostName(req_.host);
    }
  }
  UpstreamConn* u =
      addr->disablereuse ? nullptr : server_->TakeIdle(b, m, addr->tls, tls_host);
  if (u != nullptr) {
    up_ = u;
    u->owner_ = this;
    // A pooled connection keeps its callbacks (ConnectTo set them). Not setting them
    // again spares the bufferevent's lock field, a cache line of its own.
    if (u->bev_->readcb != UpstreamConn::ReadCb || u->bev_->cbarg != u) {
      bufferevent_setcb(u->bev_, UpstreamConn::ReadCb, UpstreamConn::WriteCb, UpstreamConn::EventCb,
                        u);
    }
    OnUpstreamConnected();
    return true;
  }
  u = new UpstreamConn(server_, b, m);
  if (addr->tls) {
    u->tls_ = true;
    u->tls_host_ = tls_host;
    tls::ClientContext* ctx = server_->tls_client();
    if (ctx == nullptr) {
      // Only a member added at run time can be https:// without the config having one.
      DLOG(kError, "proxy: balancer %s: member %s: no tls client context (no https:// "
           "member in the configuration)", balancer_->name().c_str(), addr->url.c_str());
    } else {
      // One session per member URL and name, resumed by the next connection.
      u->bev_ = tls::NewClientBufferevent(server_->base(), -1, *ctx, tls_host,
                                          addr->url + "#" + tls_host);
      if (u->bev_ == nullptr) {
        DLOG(kError, "proxy: balancer %s: member %s: tls setup failed (%s)",
             balancer_->name().c_str(), addr->url.c_str(), tls::ErrorQueueString().c_str());
      }
    }
  } else {
    u->bev_ = bufferevent_socket_new(server_->base(), -1, BEV_OPT_CLOSE_ON_FREE);
  }
  if (u->bev_ == nullptr) {
    delete u;
    return false;
  }
  u->owner_ = this;
  up_ = u;
  bufferevent_setcb(u->bev_, UpstreamConn::ReadCb, UpstreamConn::WriteCb, UpstreamConn::EventCb,
                    u);
  SetBevTimeouts(u->bev_, &u->timeouts_, addr->connect_timeout_ms, addr->connect_timeout_ms);
  // A plain connection needs only the write event to learn that the connect finished
  // (reading starts in OnUpstreamConnected); bufferevent_openssl handshakes on both.
  bufferevent_enable(u->bev_, u->tls_ ? EV_READ | EV_WRITE : EV_WRITE);
  if (bufferevent_socket_connect(u->bev_, reinterpret_cast<sockaddr*>(&addr->addr),
                                 static_cast<int>(addr->len)) != 0) {
    int e = errno;
    DLOG(kError, "proxy: balancer %s: connect() to member %s failed (%d: %s)",
         balancer_->name().c_str(), addr->url.c_str(), e, strerror(e));
    up_ = nullptr;
    server_->DeferFree(u);
    return false;
  }
  int fd = bufferevent_getfd(u->bev_);
  if (fd >= 0) {
    SetNoDelay(fd);
  }
  return true;
}

void ClientConn::BuildUpstreamHead() {
  const auto& sc = server_->server_config();
  MemberAddr* addr = server_->member_addr(balancer_->index(), static_cast<uint32_t>(member_));
  up_head_.clear();
  up_head_.append(req_.method);
  up_head_.push_back(' ');
  up_head_.append(addr->path);
  if (route_.path.empty() || route_.path[0] != '/') {
    if (addr->path.empty()) {
      up_head_.push_back('/');
    }
  }
  up_head_.append(route_.path);
  up_head_.append(" HTTP/1.1\r\n");
  if (sc.preserve_host && !req_.host.empty()) {
    AppendHeader(&up_head_, "Host", req_.host);
  } else {
    AppendHeader(&up_head_, "Host", addr->host_header);
  }
  std::string_view xff_prev;
  std::string_view xfh_prev;
  std::string_view xfs_prev;
  std::string_view via_prev;
  for (const auto& h : req_.headers) {
    const http::FieldName field = http::ClassifyFieldName(h.name);
    if (!req_.connection_tokens.empty() && http::IsListedIn(h.name, req_.connection_tokens)) {
      continue;
    }
    switch (field) {
      case http::FieldName::kHopByHop:
      case http::FieldName::kHost:
      case http::FieldName::kContentLength:
      case http::FieldName::kExpect:
        continue;
      case http::FieldName::kXForwardedFor:
        if (sc.add_headers) {
          xff_prev = h.value;  // merged below (the last one; repeated fields are rare)
          continue;
        }
        break;
      case http::FieldName::kXForwardedHost:
        if (sc.add_headers) {
          xfh_prev = h.value;
          continue;
        }
        break;
      case http::FieldName::kXForwardedServer:
        if (sc.add_headers) {
          xfs_prev = h.value;
          continue;
        }
        break;
      case http::FieldName::kXForwardedProto:
        if (sc.add_headers) {
          continue;  // ours replaces the client's: it must not be spoofable
        }
        break;
      case http::FieldName::kVia:
        if (sc.via) {
          via_prev = h.value;
          continue;
        }
        break;
      default:
        break;
    }
    AppendHeader(&up_head_, h.name, h.value);
  }
  if (sc.add_headers) {
    up_head_.append("X-Forwarded-For: ");
    if (!xff_prev.empty()) {
      up_head_.append(xff_prev);
      up_head_.append(", ");
    }
    up_head_.append(peer_ip_);
    up_head_.append("\r\n");
    if (!req_.host.empty()) {
      up_head_.append("X-Forwarded-Host: ");
      if (!xfh_prev.empty()) {
        up_head_.append(xfh_prev);
        up_head_.append(", ");
      }
      up_head_.append(req_.host);
      up_head_.append("\r\n");
    }
    up_head_.append("X-Forwarded-Server: ");
    if (!xfs_prev.empty()) {
      up_head_.append(xfs_prev);
      up_head_.append(", ");
    }
    up_head_.append(sc.server_name);
    up_head_.append("\r\n");
    AppendHeader(&up_head_, "X-Forwarded-Proto", tls_ ? "https" : "http");
  }
  if (sc.via) {
    up_head_.append("Via: ");
    if (!via_prev.empty()) {
      up_head_.append(via_prev);
      up_head_.append(", ");
    }
    up_head_.append(req_.minor == 0 ? "1.0 " : "1.1 ");
    up_head_.append(sc.server_name);
    up_head_.append("\r\n");
  }
  if (req_.body == http::BodyKind::kLength) {
    up_head_.append("Content-Length: ");
    core::AppendUint(req_.content_length, &up_head_);
    up_head_.append("\r\n");
  } else if (req_.body == http::BodyKind::kChunked) {
    up_head_.append("Transfer-Encoding: chunked\r\n");
  }
  if (websocket_) {
    // The one hop-by-hop exchange drover forwards: the WebSocket handshake.
    AppendHeader(&up_head_, "Upgrade", req_.upgrade);
    up_head_.append("Connection: Upgrade\r\n");
  } else if (addr->disablereuse) {
    up_head_.append("Connection: close\r\n");
  }
  up_head_.append("\r\n");
}

void ClientConn::OnUpstreamConnected() {
  MemberAddr* addr = server_->member_addr(balancer_->index(), static_cast<uint32_t>(member_));
  SetBevTimeouts(up_->bev_, &up_->timeouts_, addr->timeout_ms, addr->timeout_ms);
  if (!up_->watermarks_set_) {
    up_->watermarks_set_ = true;
    bufferevent_setwatermark(up_->bev_, EV_READ, 0, 0);
    bufferevent_setwatermark(up_->bev_, EV_WRITE, kLowWater, 0);
  }
  if (up_->tls_) {
    bufferevent_enable(up_->bev_, EV_WRITE);  // OpenSSL owns the socket: no DirectIo
  } else {
    server_->EnableDirectIo(&up_->out_, up_->bev_);
  }
  EnableRead(up_->bev_);
  proto_ = nullptr;
  if (addr->scheme == config::Scheme::kAjp) {
    if (!ajp_) {
      ajp_ = std::make_unique<AjpExchange>(this);
    }
    proto_ = ajp_.get();
    proto_->Start();
    return;
  }
  BuildUpstreamHead();
  // A plain client may get the body spliced: see the head before reading on.
  up_->out_.head_first = !tls_;
  ++up_->requests_;
  size_t sent = 0;
  if (req_body_done_ && Server::WritesThrough(&up_->out_)) {
    // Write-through (DirectIo): a request without a body goes out now.
    iovec v{up_head_.data(), up_head_.size()};
    ssize_t r = Server::SendVec(up_->out_.fd, &v, 1, 0);
    sent = r > 0 ? static_cast<size_t>(r) : 0;
  }
  if (sent < up_head_.size()) {
    evbuffer_add(bufferevent_get_output(up_->bev_), up_head_.data() + sent, up_head_.size() - sent);
  }
  up_bytes_out_ += up_head_.size();
  resp_state_ = RespState::kHead;
  if (req_.expect_continue && !req_body_done_ && !sent_continue_ &&
      evbuffer_get_length(bufferevent_get_input(bev_)) == 0) {
    // We ask for the body ourselves (nginx's way): Expect is not forwarded.
    sent_continue_ = true;
    static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
    bufferevent_write(bev_, kContinue, sizeof(kContinue) - 1);
  }
  if (!req_body_done_) {
    PumpRequestBody();
  }
}

void ClientConn::PumpRequestBody() {
  if (proto_ != nullptr) {
    proto_->PumpRequestBody();  // AJP: body packets only when the container asks
    return;
  }
  if (up_ == nullptr || req_body_done_) {
    return;
  }
  evbuffer* in = bufferevent_get_input(bev_);
  evbuffer* out = bufferevent_get_output(up_->bev_);
  const auto& sc = server_->server_config();
  while (!req_body_done_) {
    size_t avail = evbuffer_get_length(in);
    if (avail == 0) {
      break;
    }
    if (evbuffer_get_length(out) >= kHighWater) {
      // Member is slow to read: stop reading the client until it drains (the
      // body deadline stands still meanwhile: not the client's fault).
      if (!client_paused_) {
        client_paused_ = true;
        paused_at_ms_ = core::MonotonicMs();
        bufferevent_disable(bev_, EV_READ);
      }
      return;
    }
    size_t move = 0;
    if (req_.body == http::BodyKind::kLength) {
      move = avail < req_remaining_ ? avail : static_cast<size_t>(req_remaining_);
      req_remaining_ -= move;
      req_payload_ += move;
      if (req_remaining_ == 0) {
        req_body_done_ = true;
      }
    } else {
      // Chunked: validate the framing over what has arrived; forward what is valid.
      evbuffer_iovec vec[8];
      int nvec = evbuffer_peek(in, static_cast<ssize_t>(avail), nullptr, vec, 8);
      for (int i = 0; i < nvec && i < 8; ++i) {
        size_t consumed = 0;
        auto st = req_chunked_.Feed(static_cast<const char*>(vec[i].iov_base), vec[i].iov_len,
                                    &consumed, &req_payload_);
        move += consumed;
        if (st == http::ChunkedDecoder::Status::kError) {
          DLOG(kInfo, "client %s: bad chunked request body (%s)", peer_ip_.c_str(),
               req_chunked_.error());
          UpstreamFailed(400, "bad chunked body");
          return;
        }
        if (st == http::ChunkedDecoder::Status::kDone) {
          req_body_done_ = true;
          break;
        }
      }
    }
    if (sc.limit_request_body > 0 && req_payload_ > static_cast<uint64_t>(sc.limit_request_body)) {
      UpstreamFailed(413, "request body larger than LimitRequestBody");
      return;
    }
    if (move == 0) {
      break;
    }
    evbuffer_remove_buffer(in, out, move);
    req_bytes_ += move;
    up_bytes_out_ += move;
  }
  if (req_body_done_) {
    // The request is complete: pipelined bytes wait; no client read timeout now.
    SetBevTimeouts(bev_, &timeouts_, 0, sc.timeout_ms);
    ResumeClientBody();
    if (resp_state_ == RespState::kDone) {
      FinishExchange();
    }
  }
}

void ClientConn::OnUpstreamWrite() {
  if (state_ == State::kTunnel) {
    if (client_paused_) {
      client_paused_ = false;
      bufferevent_enable(bev_, EV_READ);
      PumpTunnel(true);
    }
    return;
  }
  // The member drained our output below the low-water mark.
  ResumeClientBody();
  if (!req_body_done_) {
    PumpRequestBody();
  }
}

void ClientConn::ResumeClientBody() {
  if (client_paused_) {
    client_paused_ = false;
    body_paused_ms_ += core::MonotonicMs() - paused_at_ms_;
    bufferevent_enable(bev_, EV_READ);
  }
}

// RequestBodyTimeout / RequestBodyMinRate (mod_reqtimeout's body=,MinRate=):
// the body must begin within the timeout, and each RequestBodyMinRate bytes
// received push the deadline one second later; time spent paused because the
// member reads slowly does not count.
int64_t ClientConn::BodyDeadlineMs() const {
  const auto& sc = server_->server_config();
  uint64_t got = req_bytes_ - req_.head_size;
  int64_t extra = sc.request_body_min_rate > 0
                      ? static_cast<int64_t>(got * 1000 / static_cast<uint64_t>(
                                                              sc.request_body_min_rate))
                      : 0;
  return body_start_ms_ + sc.request_body_timeout_ms + extra + body_paused_ms_;
}

void ClientConn::ArmBodyTimer() {
  if (req_body_done_ || body_start_ms_ == 0) {
    DisarmTimer();
    return;
  }
  ArmTimer(std::max<int64_t>(BodyDeadlineMs() - core::MonotonicMs(), 1));
}

// Returns true when the body deadline passed (the exchange is then failed).
bool ClientConn::CheckBodyDeadline() {
  if (req_body_done_ || body_start_ms_ == 0) {
    return false;
  }
  if (client_paused_ || core::MonotonicMs() < BodyDeadlineMs()) {
    ArmBodyTimer();
    return false;
  }
  const auto& sc = server_->server_config();
  DLOG(kInfo, "client %s: request body too slow (%llu bytes in %lld ms; RequestBodyTimeout "
       "%lld ms, RequestBodyMinRate %lld bytes/s)", peer_ip_.c_str(),
       static_cast<unsigned long long>(req_bytes_ - req_.head_size),
       static_cast<long long>(core::MonotonicMs() - body_start_ms_),
       static_cast<long long>(sc.request_body_timeout_ms),
       static_cast<long long>(sc.request_body_min_rate));
  UpstreamFailed(408, "request body timeout");
  return true;
}

// ----------------------------------------------------------------- responses

void ClientConn::OnUpstreamRead() {
  if (up_ == nullptr) {
    return;
  }
  if (state_ == State::kTunnel) {
    PumpTunnel(false);
    return;
  }
  if (proto_ != nullptr) {
    proto_->OnMemberRead();
    return;
  }
  if (resp_state_ == RespState::kHead) {
    if (!HandleResponseHead()) {
      return;
    }
  }
  if (resp_state_ == RespState::kBody) {
    PumpResponseBody();
    if (resp_state_ == RespState::kBody) {
      EnsureNoDelay();  // the response goes out in several writes
    }
  }
}

// nginx's rule: a response written in one go needs no TCP_NODELAY (the close or
// the next request pushes it out); a keep-alive connection, a response sent in
// several writes and a tunnel do, or Nagle holds their last small segment until
// the client's delayed ACK. Saves a setsockopt() per Connection: close request.
void ClientConn::EnsureNoDelay() {
  if (nodelay_ || bev_ == nullptr) {
    return;
  }
  nodelay_ = true;
  int fd = bufferevent_getfd(bev_);
  if (fd >= 0) {
    SetNoDelay(fd);
  }
}

// Returns true when a final response head was parsed and sent.
bool ClientConn::HandleResponseHead() {
  evbuffer* in = bufferevent_get_input(up_->bev_);
  while (true) {
    size_t len = evbuffer_get_length(in);
    if (len == 0) {
      return false;
    }
    const auto& lim = server_->response_limits();
    size_t max_head = lim.max_request_line + 2 + (lim.max_fields + 1) * (lim.max_field_size + 2);
    size_t limit = len < max_head ? len : max_head;
    size_t n = 0;
    const char* p = FirstChain(in, limit, &n);
    http::ParseError err;
    auto r = http::ParseResponseHead(p, n, lim, req_.method, &resp_, &err);
    if (r == http::ParseResult::kIncomplete && n < limit) {
      n = limit;  // the head spans chains: make it contiguous
      p = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(n)));
      r = http::ParseResponseHead(p, n, lim, req_.method, &resp_, &err);
    }
    if (r == http::ParseResult::kIncomplete) {
      if (n >= max_head) {
        UpstreamFailed(502, "response head too large");
      }
      return false;
    }
    if (r == http::ParseResult::kError) {
      MemberAddr* addr = server_->member_addr(balancer_->index(), static_cast<uint32_t>(member_));
      DLOG(kError, "proxy: balancer %s: member %s sent an invalid response head (%s)",
           balancer_->name().c_str(), addr->url.c_str(), err.reason);
      UpstreamFailed(502, "invalid response from member");
      return false;
    }
    up_bytes_in_ += resp_.head_size;
    if (resp_.status >= 100 && resp_.status < 200 && resp_.status != 101) {
      // Interim response: relay 103 etc. to 1.1 clients, drop 100 when we sent our own.
      bool relay = req_.minor >= 1 && !(resp_.status == 100 && sent_continue_);
      if (relay) {
        evbuffer_add(bufferevent_get_output(bev_), p, resp_.head_size);
        resp_bytes_ += resp_.head_size;
      }
      evbuffer_drain(in, resp_.head_size);
      resp_.Clear();
      continue;
    }
    up_->out_.head_first = false;  // the final head: reads may go on past it
    if (resp_.status == 101) {
      if (!websocket_ || !req_body_done_) {
        UpstreamFailed(502, "member switched protocols without an upgrade request");
        return false;
      }
      resp_head_buf_.assign(p, resp_.head_size);
      RebaseResponse(&resp_, p, resp_head_buf_.data());
      evbuffer_drain(in, resp_.head_size);
      StartTunnel();
      return false;
    }
    resp_head_buf_.assign(p, resp_.head_size);
    RebaseResponse(&resp_, p, resp_head_buf_.data());
    evbuffer_drain(in, resp_.head_size);
    SendResponseHead();
    return true;
  }
}

void ClientConn::SendResponseHead() {
  const auto& sc = server_->server_config();
  status_ = resp_.status;
  std::string& h = up_head_;  // reuse the buffer: the request head was sent already
  h.clear();
  h.append("HTTP/1.1 ");
  core::AppendUint(static_cast<uint64_t>(resp_.status), &h);
  h.push_back(' ');
  h.append(resp_.reason);
  h.append("\r\n");
  // Body framing towards the client.
  bool head_only = req_.method == "HEAD";
  switch (resp_.body) {
    case http::BodyKind::kNone:
      resp_state_ = RespState::kDone;
      break;
    case http::BodyKind::kLength:
      resp_remaining_ = resp_.content_length;
      resp_state_ = resp_remaining_ == 0 ? RespState::kDone : RespState::kBody;
      break;
    case http::BodyKind::kChunked:
      resp_state_ = RespState::kBody;
      resp_chunked_.Reset();
      if (req_.minor == 0) {
        dechunk_ = true;
        resp_close_delimited_ = true;
        keep_alive_ = false;
      }
      break;
    case http::BodyKind::kUntilClose:
      resp_state_ = RespState::kBody;
      resp_close_delimited_ = true;
      keep_alive_ = false;
      break;
  }
  if (!req_body_done_) {
    // The member answered before the whole request arrived: we can't find the
    // next request's start reliably, so this connection ends with the response.
    keep_alive_ = false;
  }
  rewritten_.clear();
  // out_headers_ views these strings: no push_back below may move them (at most one
  // per header, the sticky cookie and the Content-Length).
  rewritten_.reserve(resp_.headers.size() + 2);
  out_headers_.clear();
  // The access log's %{Name}o sees the response as sent, framing fields included.
  const bool keep_out = server_->logs_response_headers();
  const bool cookie_maps =
      !server_->cookie_domain_maps().empty() || !server_->cookie_path_maps().empty();
  for (const auto& hd : resp_.headers) {
    const http::FieldName field = http::ClassifyFieldName(hd.name);
    if (field == http::FieldName::kHopByHop ||
        (!resp_.connection_tokens.empty() && http::IsListedIn(hd.name, resp_.connection_tokens))) {
      continue;
    }
    if (field == http::FieldName::kContentLength && resp_.body != http::BodyKind::kNone) {
      continue;  // written below from the parsed value
    }
    std::string_view value = hd.value;
    std::optional<std::string> nv;
    switch (field) {
      case http::FieldName::kLocation:
      case http::FieldName::kContentLocation:
      case http::FieldName::kUri:
      case http::FieldName::kDestination:
        nv = http::ReverseMapUrl(hd.value, server_->reverse_maps(), tls_ ? "https" : "http",
                                 client_host_);
        break;
      case http::FieldName::kSetCookie:
        if (cookie_maps) {
          nv = http::RewriteSetCookie(hd.value, server_->cookie_domain_maps(),
                                      server_->cookie_path_maps());
        }
        break;
      default:
        break;
    }
    if (nv) {
      rewritten_.push_back(std::move(*nv));
      value = rewritten_.back();
    }
    AppendHeader(&h, hd.name, value);
    if (keep_out) {
      out_headers_.push_back({hd.name, value});
    }
  }
  const auto& bc = balancer_->config();
  if (bc.stickysessioninsert && !bc.sticky_cookie.empty() && pick_.route_changed &&
      !pick_.route.empty()) {
    std::string cookie = bc.sticky_cookie + "=" + bc.sticky_sep + pick_.route + "; Path=/; HttpOnly";
    if (tls_) {
      cookie += "; Secure";
    }
    rewritten_.push_back(std::move(cookie));
    AppendHeader(&h, "Set-Cookie", rewritten_.back());
    if (keep_out) {
      out_headers_.push_back({"Set-Cookie", rewritten_.back()});
    }
  }
  if (resp_.body == http::BodyKind::kLength) {
    h.append("Content-Length: ");
    const size_t at = h.size();
    core::AppendUint(resp_.content_length, &h);
    if (keep_out) {
      rewritten_.emplace_back(h, at);
      out_headers_.push_back({"Content-Length", rewritten_.back()});
    }
    h.append("\r\n");
  } else if (resp_.body == http::BodyKind::kChunked && !dechunk_) {
    h.append("Transfer-Encoding: chunked\r\n");
    if (keep_out) {
      out_headers_.push_back({"Transfer-Encoding", "chunked"});
    }
  }
  if (server_->shutting_down() || shutting_down_) {
    keep_alive_ = false;
  }
  std::string_view connection;
  if (!keep_alive_) {
    connection = "close";
  } else if (req_.minor == 0) {
    connection = "keep-alive";
  }
  if (!connection.empty()) {
    h.append("Connection: ");
    h.append(connection);
    h.append("\r\n");
    if (keep_out) {
      out_headers_.push_back({"Connection", connection});
    }
  }
  h.append("\r\n");
  (void)sc;
  (void)head_only;
  evbuffer* out = bufferevent_get_output(bev_);
  if (tls_ && evbuffer_get_length(out) == 0) {
    // OpenSSL's bufferevent makes one TLS record (and one write()) per chain:
    // leave room after the head for a small body (MoveToClient copies it in).
    evbuffer_expand(out, h.size() + kTlsCoalesceMax);
  }
  size_t sent = SendResponseThrough(h);
  if (sent < h.size()) {
    evbuffer_add(out, h.data() + sent, h.size() - sent);
  }
  resp_bytes_ += h.size();
  // An AJP response is complete only at END_RESPONSE (AjpExchange finishes it).
  if (resp_state_ == RespState::kDone && proto_ == nullptr) {
    FinishResponse();
  }
}

// Write-through (DirectIo) of a response whose body is all in the member's input:
// head and body leave in one sendmsg() now, without passing through the client's
// output. Returns how many head bytes the kernel took (the caller queues the rest);
// body bytes it took are drained from the member's input and counted, so that
// PumpResponseBody moves only what is left. 0 when the response does not qualify,
// on EAGAIN and on an error (the output path meets the error).
//
// A keep-alive response, or the last one on a connection that closes at once
// (ClosesAtOnce: the client asked for the close). The latter goes with MSG_MORE, as
// the queued path's last write does: the close that follows in this same call chain
// (FinishResponse, CloseAfterFlush, StartLinger) sends it with the FIN, in one
// segment when it fits. A lingering close keeps the queued path.
size_t ClientConn::SendResponseThrough(const std::string& h) {
  constexpr int kMaxIov = 8;
  if (proto_ != nullptr || up_ == nullptr || !(keep_alive_ || ClosesAtOnce()) ||
      !Server::WritesThrough(&out_)) {
    return 0;
  }
  uint64_t body = 0;
  if (resp_state_ == RespState::kBody) {
    if (resp_.body != http::BodyKind::kLength) {
      return 0;
    }
    body = resp_remaining_;
  }
  evbuffer* in = bufferevent_get_input(up_->bev_);
  if (evbuffer_get_length(in) < body) {
    return 0;  // the rest is still coming: PumpResponseBody (or splicing) moves it
  }
  iovec v[kMaxIov];
  v[0].iov_base = const_cast<char*>(h.data());
  v[0].iov_len = h.size();
  int n = 1;
  if (body > 0) {
    int chains = evbuffer_peek(in, static_cast<ev_ssize_t>(body), nullptr, v + 1, kMaxIov - 1);
    if (chains > kMaxIov - 1) {
      return 0;
    }
    n += Server::ClampIovecs(v + 1, chains,
                             static_cast<size_t>(body));  // the last chain may hold more
  }
  ssize_t r = Server::SendVec(out_.fd, v, n, keep_alive_ ? 0 : MSG_MORE);
  if (r <= 0) {
    return 0;
  }
  size_t sent = static_cast<size_t>(r);
  const size_t head_sent = std::min(sent, h.size());
  const size_t body_sent = sent - head_sent;
  if (body_sent > 0) {
    evbuffer_drain(in, body_sent);
    resp_remaining_ -= body_sent;
    resp_body_bytes_ += body_sent;
    resp_bytes_ += body_sent;
    up_bytes_in_ += body_sent;
    if (resp_remaining_ == 0) {
      resp_state_ = RespState::kDone;
    }
  }
  return head_sent;
}

void ClientConn::PumpResponseBody() {
  if (proto_ != nullptr) {
    proto_->OnMemberRead();  // AJP: body bytes come in SEND_BODY_CHUNK messages
    return;
  }
  if (up_ == nullptr || resp_state_ != RespState::kBody) {
    return;
  }
  if (splicing_) {
    PumpSplice();
    return;
  }
  evbuffer* in = bufferevent_get_input(up_->bev_);
  evbuffer* out = bufferevent_get_output(bev_);
  while (resp_state_ == RespState::kBody) {
    size_t avail = evbuffer_get_length(in);
    if (avail == 0) {
      MaybeStartSplice();
      return;
    }
    if (evbuffer_get_length(out) >= kHighWater) {
      if (!up_paused_) {
        up_paused_ = true;
        bufferevent_disable(up_->bev_, EV_READ);
        bufferevent_setwatermark(bev_, EV_WRITE, kLowWater, 0);
      }
      return;
    }
    size_t move = 0;
    bool done = false;
    switch (resp_.body) {
      case http::BodyKind::kLength:
        move = avail < resp_remaining_ ? avail : static_cast<size_t>(resp_remaining_);
        resp_remaining_ -= move;
        resp_body_bytes_ += move;
        done = resp_remaining_ == 0;
        break;
      case http::BodyKind::kUntilClose:
        move = avail;
        resp_body_bytes_ += move;
        break;
      case http::BodyKind::kChunked: {
        if (dechunk_) {
          // HTTP/1.0 client: strip the framing, send the data.
          while (avail > 0 && resp_state_ == RespState::kBody) {
            if (resp_chunked_.InData()) {
              uint64_t r = resp_chunked_.DataRemaining();
              size_t take = avail < r ? avail : static_cast<size_t>(r);
              size_t consumed = 0;
              char tmp[1];
              (void)tmp;
              // Feed only the data bytes: the decoder consumes exactly `take`.
              evbuffer_iovec v;
              evbuffer_peek(in, static_cast<ssize_t>(take), nullptr, &v, 1);
              size_t first = v.iov_len < take ? v.iov_len : take;
              resp_chunked_.Feed(static_cast<const char*>(v.iov_base), first, &consumed, nullptr);
              evbuffer_remove_buffer(in, out, consumed);
              resp_body_bytes_ += consumed;
              up_bytes_in_ += consumed;
              avail -= consumed;
            } else {
              char c;
              evbuffer_copyout(in, &c, 1);
              size_t consumed = 0;
              auto st = resp_chunked_.Feed(&c, 1, &consumed, nullptr);
              if (st == http::ChunkedDecoder::Status::kError) {
                UpstreamFailed(502, "bad chunked response body");
                return;
              }
              evbuffer_drain(in, consumed);
              up_bytes_in_ += consumed;
              avail -= consumed;
              if (st == http::ChunkedDecoder::Status::kDone) {
                resp_state_ = RespState::kDone;
              }
              if (consumed == 0) {
                break;
              }
            }
          }
          if (resp_state_ == RespState::kDone) {
            FinishResponse();
          }
          continue;
        }
        evbuffer_iovec vec[8];
        int nvec = evbuffer_peek(in, static_cast<ssize_t>(avail), nullptr, vec, 8);
        for (int i = 0; i < nvec && i < 8; ++i) {
          size_t consumed = 0;
          auto st = resp_chunked_.Feed(static_cast<const char*>(vec[i].iov_base), vec[i].iov_len,
                                       &consumed, &resp_body_bytes_);
          move += consumed;
          if (st == http::ChunkedDecoder::Status::kError) {
            MemberAddr* addr =
                server_->member_addr(balancer_->index(), static_cast<uint32_t>(member_));
            DLOG(kError, "proxy: balancer %s: member %s sent a bad chunked body (%s)",
                 balancer_->name().c_str(), addr->url.c_str(), resp_chunked_.error());
            if (move > 0) {
              evbuffer_remove_buffer(in, out, move);
            }
            UpstreamFailed(502, "bad chunked response body");
            return;
          }
          if (st == http::ChunkedDecoder::Status::kDone) {
            done = true;
            break;
          }
        }
        break;
      }
      case http::BodyKind::kNone:
        done = true;
        break;
    }
    if (move > 0) {
      MoveToClient(in, out, move);
      resp_bytes_ += move;
      up_bytes_in_ += move;
    }
    if (done) {
      resp_state_ = RespState::kDone;
      FinishResponse();
      return;
    }
    if (move == 0) {
      return;
    }
  }
}

// Response body bytes to the client: evbuffer chains are moved, not copied,
// except small pieces for a TLS client, which are copied behind what is
// already queued so that head and body leave in one TLS record.
void ClientConn::MoveToClient(evbuffer* in, evbuffer* out, size_t n) {
  if (!tls_ || n > kTlsCoalesceMax) {
    evbuffer_remove_buffer(in, out, n);
    return;
  }
  char tmp[kTlsCoalesceMax];
  int got = evbuffer_remove(in, tmp, n);
  if (got > 0) {
    evbuffer_add(out, tmp, static_cast<size_t>(got));
  }
}

// ---------------------------------------------------------------------------
// Splicing
//
// A Content-Length body with at least kSpliceMin bytes still to come, from a plain
// member connection to a plain client, goes from socket to socket through a pipe
// with splice(2): the kernel hands on page references instead of copying every byte
// into drover and out again. What is already queued for the client (the head, the
// body bytes read with it) goes into the pipe first, so the bytes keep their order
// and the client gets head and body in one write. Splicing lasts while the client
// keeps up: when its socket is full (EAGAIN) or fails, or when the member fails,
// times out or closes early, EndSplice() puts what is left in the pipe back in front
// of the client's output and the ordinary path (evbuffers, backpressure, the error
// handling) takes over. HAProxy does the same with "option splice-response".

// Starts splicing when the body allows it; true when it did.
bool ClientConn::MaybeStartSplice() {
  if (tls_ || up_ == nullptr || up_->tls_ || proto_ != nullptr || resp_state_ != RespState::kBody ||
      resp_.body != http::BodyKind::kLength || resp_remaining_ < kSpliceMin ||
      out_.bev == nullptr || up_->out_.bev == nullptr ||
      (Enabled(bev_) & EV_WRITE) != 0) {  // the client's socket was full
    return false;
  }
  evbuffer* out = bufferevent_get_output(bev_);
  const size_t queued = evbuffer_get_length(out);
  if (queued > kSpliceQueued || evbuffer_get_length(bufferevent_get_input(up_->bev_)) != 0 ||
      !server_->TakePipe(&pipe_)) {
    return false;
  }
  splicing_ = true;
  if (queued > 0) {
    evbuffer_unfreeze(out, 1);  // bufferevent_socket freezes its output's front
    int n = evbuffer_write(out, pipe_.fd[1]);
    evbuffer_freeze(out, 1);
    pipe_bytes_ = n > 0 ? static_cast<size_t>(n) : 0;
    if (pipe_bytes_ != queued) {  // an empty pipe takes that much: not expected
      EndSplice();
      return false;
    }
  }
  up_->out_.splice_read = true;
  PumpSplice();
  return true;
}

// Member socket -> pipe -> client socket, for as long as both move.
void ClientConn::PumpSplice() {
  const int up_fd = up_->out_.fd;
  const int client_fd = out_.fd;
  for (;;) {
    bool progress = false;
    if (resp_remaining_ > 0) {
      size_t want =
          resp_remaining_ < kSpliceChunk ? static_cast<size_t>(resp_remaining_) : kSpliceChunk;
      ssize_t n =
          splice(up_fd, nullptr, pipe_.fd[1], nullptr, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        size_t got = static_cast<size_t>(n);
        pipe_bytes_ += got;
        resp_remaining_ -= got;
        resp_body_bytes_ += got;
        resp_bytes_ += got;
        up_bytes_in_ += got;
        progress = true;
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        // The member closed before the end of the body, or failed: as for a read.
        const short what = BEV_EVENT_READING | (n == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR);
        const int e = errno;
        EndSplice();
        bufferevent_disable(up_->bev_, EV_READ);
        errno = e;
        OnUpstreamEvent(what);
        return;
      }
    }
    if (pipe_bytes_ > 0) {
      ssize_t n = splice(pipe_.fd[0], nullptr, client_fd, nullptr, pipe_bytes_,
                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n <= 0) {
        // EAGAIN: the client's socket is full, the ordinary write waits for it. An
        // error: the ordinary write meets it again and reports it.
        EndSplice();
        if (resp_remaining_ == 0) {
          resp_state_ = RespState::kDone;
          FinishResponse();
        }
        return;
      }
      pipe_bytes_ -= static_cast<size_t>(n);
      progress = true;
    }
    if (resp_remaining_ == 0 && pipe_bytes_ == 0) {
      EndSplice();
      resp_state_ = RespState::kDone;
      FinishResponse();
      return;
    }
    if (!progress) {
      return;  // the member's socket is empty: its read event calls again
    }
  }
}

// Back to the ordinary path: the pipe's bytes go in front of the client's output.
void ClientConn::EndSplice() {
  if (!splicing_) {
    return;
  }
  splicing_ = false;
  if (up_ != nullptr) {
    up_->out_.splice_read = false;
  }
  if (pipe_bytes_ > 0 && bev_ != nullptr) {
    evbuffer* tmp = evbuffer_new();
    while (tmp != nullptr && pipe_bytes_ > 0) {
      int n = evbuffer_read(tmp, pipe_.fd[0], static_cast<int>(pipe_bytes_));
      if (n <= 0) {
        break;
      }
      pipe_bytes_ -= static_cast<size_t>(n);
    }
    if (tmp != nullptr) {
      evbuffer* out = bufferevent_get_output(bev_);
      evbuffer_unfreeze(out, 1);
      evbuffer_prepend_buffer(out, tmp);
      evbuffer_freeze(out, 1);
      evbuffer_free(tmp);
    }
  }
  server_->GivePipe(&pipe_, pipe_bytes_ == 0);
  pipe_bytes_ = 0;
}

void ClientConn::FinishResponse() {
  // The response is complete (as far as the member goes).
  bool reusable = resp_.keep_alive && req_body_done_ && !resp_close_delimited_;
  if (up_ != nullptr) {
    evbuffer* in = bufferevent_get_input(up_->bev_);
    if (evbuffer_get_length(in) != 0) {
      reusable = false;  // extra bytes after the response
    }
    MemberAddr* addr = server_->member_addr(balancer_->index(), static_cast<uint32_t>(member_));
    if (addr != nullptr && addr->disablereuse) {
      reusable = false;
    }
  }
  if (balancer_ != nullptr && member_ >= 0) {
    if (balancer_->FailsOnStatus(status_) &&
        balancer_->OnResponseStatus(static_cast<uint32_t>(member_), status_, WallUs() / 1000)) {
      DLOG(kError, "proxy: balancer %s: member %s answered %d (failonstatus): in error",
           balancer_->name().c_str(), balancer_->MemberUrl(static_cast<uint32_t>(member_)).c_str(),
           status_);
    }
  }
  if (req_body_done_) {
    ReleaseUpstream(reusable);
    FinishExchange();
  } else {
    // Member finished early; the rest of the request body is not wanted.
    ReleaseUpstream(false);
    FinishExchange();
  }
}

void ClientConn::ReleaseUpstream(bool reusable) {
  EndSplice();
  if (member_started_ && balancer_ != nullptr) {
    balancer_->OnRequestEnd(static_cast<uint32_t>(member_), up_bytes_in_, up_bytes_out_);
    member_started_ = false;
  }
  if (up_ == nullptr) {
    return;
  }
  UpstreamConn* u = up_;
  up_ = nullptr;
  u->out_.head_first = false;
  if (up_paused_) {
    up_paused_ = false;
  }
  if (reusable) {
    server_->PutIdle(u);
  } else {
    server_->DeferFree(u);
  }
}

void ClientConn::FinishExchange() {
  if (!exchange_active_) {
    return;
  }
  WriteAccessLog();
  exchange_active_ = false;
  if (up_ != nullptr) {
    ReleaseUpstream(false);
  }
  if (!keep_alive_ || client_eof_ || !req_body_done_) {
    CloseAfterFlush();
    return;
  }
  state_ = State::kIdle;
  EnsureNoDelay();
  SetIdleTimeouts();
  ArmTimer(shutting_down_ ? kShutdownGraceMs : server_->server_config().keepalive_timeout_ms);
  EnableRead(bev_);
  if (evbuffer_get_length(bufferevent_get_input(bev_)) > 0) {
    ProcessInput();
  }
}

// Fails the exchange: an error status when nothing was sent to the client yet,
// otherwise the client gets every byte the member sent, then the close (the
// framing it was promised is left incomplete, so it sees the truncation).
void ClientConn::UpstreamFailed(int status, const char* cause) {
  bool head_sent = resp_state_ == RespState::kBody || resp_state_ == RespState::kDone;
  ReleaseUpstream(false);
  if (head_sent) {
    keep_alive_ = false;
    if (status_ == 0) {
      status_ = status;
    }
    WriteAccessLog();
    exchange_active_ = false;
    CloseAfterFlush();
    return;
  }
  SendLocal(status, cause, true);
}

void ClientConn::OnUpstreamEvent(short events) {
  if (up_ == nullptr) {
    return;
  }
  EndSplice();
  if (state_ == State::kTunnel) {
    if ((events & BEV_EVENT_TIMEOUT) != 0) {
      MemberAddr* a = server_->member_addr(balancer_->index(), static_cast<uint32_t>(member_));
      if (a != nullptr && WallUs() - tunnel_activity_us_ < a->timeout_ms * 1000) {
        bufferevent_enable(up_->bev_, EV_READ);
        return;
      }
    }
    EndTunnel((events & BEV_EVENT_TIMEOUT) != 0 ? "member idle timeout" : "member closed");
    return;
  }
  MemberAddr* addr = server_->member_addr(balancer_->index(), static_cast<uint32_t>(member_));
  const char* url = addr != nullptr ? addr->url.c_str() : "?";
  int err = EVUTIL_SOCKET_ERROR();
  if (!up_->connected_) {
    // Connect failure, connect timeout or (https://) a failed handshake, e.g. the
    // member's certificate refused: nothing was sent; mark the member and fail over.
    std::string what = (events & BEV_EVENT_TIMEOUT) != 0 ? "connect timed out" : strerror(err);
    if (up_->tls_) {
      std::string why = tls::TlsError(up_->bev_);
      if ((events & BEV_EVENT_TIMEOUT) == 0 && !why.empty()) {
        what = "tls handshake failed: " + why;
      }
      if (tls::ClientContext* ctx = server_->tls_client()) {
        ctx->ForgetSession(url + std::string("#") + up_->tls_host_);
      }
    }
    DLOG(kError, "proxy: balancer %s: connect to member %s failed (%s)", balancer_->name().c_str(),
         url, what.c_str());
    FailOver();
    return;
  }
  if (proto_ != nullptr && proto_->OnMemberEvent(events)) {
    return;  // AJP handled it (the CPING phase)
  }
  if ((events & BEV_EVENT_EOF) != 0 && resp_state_ == RespState::kBody &&
      resp_.body == http::BodyKind::kUntilClose) {
    // Close-delimited body: EOF is its end. Move what is left, then finish.
    PumpResponseBody();
    resp_state_ = RespState::kDone;
    ReleaseUpstream(false);
    FinishResponse();
    return;
  }
  if (resp_state_ == RespState::kHead) {
    bool nothing_received = up_bytes_in_ == 0 &&
                            evbuffer_get_length(bufferevent_get_input(up_->bev_)) == 0;
    if ((events & BEV_EVENT_TIMEOUT) != 0) {
      DLOG(kError, "proxy: balancer %s: member %s timed out before responding to %.*s %.*s",
           balancer_->name().c_str(), url, static_cast<int>(req_.method.size()),
           req_.method.data(), static_cast<int>(req_.path.size()), req_.path.data());
      balancer_->OnTimeout(static_cast<uint32_t>(member_), WallUs() / 1000);
      UpstreamFailed(504, "member timed out");
      return;
    }
    if (nothing_received && up_->reused_ && !retried_stale_ && req_payload_ == 0 &&
        req_.body == http::BodyKind::kNone && IsIdempotent(req_.method)) {
      // The member closed a pooled keep-alive connection as we reused it (a race
      // every HTTP client has): the request was not processed; retry once on a
      // fresh connection to the same member (RFC 9112 §9.3.1).
      DLOG(kInfo, "proxy: balancer %s: pooled connection to %s closed, retrying on a new one",
           balancer_->name().c_str(), url);
      retried_stale_ = true;
      UpstreamConn* u = up_;
      up_ = nullptr;
      server_->DeferFree(u);
      MemberAddr* a = addr;
      bool saved = a->disablereuse;
      a->disablereuse = true;  // force a new connection for this attempt
      bool ok = ConnectTo(member_);
      a->disablereuse = saved;
      if (!ok) {
        UpstreamFailed(502, "member connection failed");
      }
      return;
    }
    DLOG(kError, "proxy: balancer %s: member %s closed the connection before responding (%s)",
         balancer_->name().c_str(), url,
         (events & BEV_EVENT_ERROR) != 0 ? strerror(err) : "eof");
    balancer_->OnResponseStatus(static_cast<uint32_t>(member_), 502, WallUs() / 1000);
    UpstreamFailed(502, "member closed the connection");
    return;
  }
  // Mid-body failure: the client gets a truncated response (connection closed).
  DLOG(kError, "proxy: balancer %s: member %s failed during the response body (%s)",
       balancer_->name().c_str(), url,
       (events & BEV_EVENT_TIMEOUT) != 0 ? "timeout"
       : (events & BEV_EVENT_ERROR) != 0 ? strerror(err)
                                          : "eof");
  if ((events & BEV_EVENT_TIMEOUT) != 0) {
    balancer_->OnTimeout(static_cast<uint32_t>(member_), WallUs() / 1000);
  }
  // Flush what arrived before closing.
  if (resp_state_ == RespState::kBody) {
    PumpResponseBody();
  }
  if (up_ != nullptr) {
    UpstreamFailed(502, "member failed mid-response");
  }
}

void ClientConn::FailOver() {
  UpstreamConn* u = up_;
  up_ = nullptr;
  u->out_.head_first = false;
  proto_ = nullptr;
  if (u != nullptr) {
    server_->DeferFree(u);
  }
  balancer_->OnConnectFailure(static_cast<uint32_t>(member_), WallUs() / 1000);
  tried_.push_back(member_);
  int max_attempts = balancer_->MaxAttempts();
  if (attempts_++ >= max_attempts) {
    if (member_started_) {
      balancer_->OnRequestEnd(static_cast<uint32_t>(member_), 0, 0);
      member_started_ = false;
    }
    SendLocal(503, "no member could be reached", !req_body_done_);
    return;
  }
  if (member_started_) {
    balancer_->OnRequestEnd(static_cast<uint32_t>(member_), 0, 0);
    member_started_ = false;
  }
  PickAndConnect();
}

// ------------------------------------------------------------- local replies

void ClientConn::SendLocal(int status, const char* reason, bool close, const char* detail) {
  if (up_ != nullptr) {
    ReleaseUpstream(false);
  }
  if (member_started_ && balancer_ != nullptr) {
    balancer_->OnRequestEnd(static_cast<uint32_t>(member_), up_bytes_in_, up_bytes_out_);
    member_started_ = false;
  }
  status_ = status;
  const char* text = StatusReason(status);
  char body[512];
  int blen = snprintf(body, sizeof(body),
                      "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>"
                      "<body><h1>%d %s</h1><p>%s</p></body></html>\n",
                      status, text, status, text, detail != nullptr ? detail : reason);
  if (close || shutting_down_ || server_->shutting_down()) {
    keep_alive_ = false;
  }
  char head[256];
  int hlen = snprintf(head, sizeof(head),
                      "HTTP/1.1 %d %s\r\nContent-Type: text/html; charset=utf-8\r\n"
                      "Content-Length: %d\r\nConnection: %s\r\n\r\n",
                      status, text, blen, keep_alive_ ? "keep-alive" : "close");
  evbuffer* out = bufferevent_get_output(bev_);
  evbuffer_add(out, head, static_cast<size_t>(hlen));
  if (req_.method != "HEAD" || state_ != State::kProxying) {
    evbuffer_add(out, body, static_cast<size_t>(blen));
    resp_body_bytes_ = static_cast<uint64_t>(blen);
  }
  resp_bytes_ += static_cast<uint64_t>(hlen);
  resp_state_ = RespState::kDone;
  if (state_ == State::kProxying && exchange_active_) {
    out_headers_.clear();
    FinishExchange();
  } else {
    // A request that never became an exchange (parse error, timeout): logged
    // with "-" as its request line, as Apache logs requests it rejects.
    req_.Clear();
    start_us_ = WallUs();
    exchange_active_ = true;
    WriteAccessLog();
    exchange_active_ = false;
    CloseAfterFlush();
  }
}

void ClientConn::WriteAccessLog() {
  int fd = server_->access_log_fd();
  if (fd < 0 || !exchange_active_) {
    return;
  }
  const auto& sc = server_->server_config();
  LogRecord r;
  r.client_ip = peer_ip_;
  r.client_port = peer_port_;
  r.local_port = local_port_;
  r.server_name = sc.server_name;
  r.start_us = start_us_;
  r.duration_us = WallUs() - start_us_;
  r.method = req_.method;
  r.target = req_.target;
  r.path = req_.path;
  r.query = req_.query;
  r.has_query = req_.has_query;
  r.minor = req_.minor;
  r.status = status_;
  r.body_bytes = resp_body_bytes_;
  r.bytes_received = req_bytes_;
  r.bytes_sent = resp_bytes_ + resp_body_bytes_;
  r.request_headers = &req_.headers;
  r.response_headers = &out_headers_;
  if (balancer_ != nullptr) {
    r.balancer = balancer_->name();
    if (member_ >= 0) {
      MemberAddr* a = server_->member_addr(balancer_->index(), static_cast<uint32_t>(member_));
      if (a != nullptr) {
        r.member = a->url;
      }
    }
    r.route = pick_.route;
    r.session_route = pick_.session_route;
    r.route_changed = pick_.route_changed;
  }
  r.keep_alive = keep_alive_;
  r.pid = static_cast<uint32_t>(getpid());
  std::string* buf = server_->log_buf();
  buf->clear();
  FormatAccessLog(sc.access_format, r, buf);
  ssize_t w = write(fd, buf->data(), buf->size());
  (void)w;
}

// ------------------------------------------------------------- status pages

// The balancer-manager or the metrics page, answered by this worker from the
// slot table (status/). Only clients inside StatusAllow get it; a body (the
// manager's forms and JSON edits) is read whole first, up to kLocalBodyMax.
void ClientConn::StartStatus(int kind) {
  if (!server_->status()->Allowed(peer_ip_)) {
    DLOG(kInfo, "client %s: status page %.*s refused (StatusAllow)", peer_ip_.c_str(),
         static_cast<int>(req_.path.size()), req_.path.data());
    SendLocal(403, "not allowed by StatusAllow", !req_body_done_);
    return;
  }
  if (req_.body == http::BodyKind::kChunked) {
    SendLocal(411, "the status pages need a Content-Length body", true);
    return;
  }
  if (req_.content_length > kLocalBodyMax) {
    SendLocal(413, "request body too large for the status pages", true);
    return;
  }
  local_ = kind;
  local_body_.clear();
  if (req_body_done_) {
    RunStatus();
  } else {
    PumpLocalBody();
  }
}

void ClientConn::PumpLocalBody() {
  evbuffer* in = bufferevent_get_input(bev_);
  size_t avail = evbuffer_get_length(in);
  size_t take = avail < req_remaining_ ? avail : static_cast<size_t>(req_remaining_);
  if (take > 0) {
    size_t old = local_body_.size();
    local_body_.resize(old + take);
    evbuffer_remove(in, local_body_.data() + old, take);
    req_remaining_ -= take;
    req_bytes_ += take;
  }
  if (req_remaining_ == 0) {
    req_body_done_ = true;
    RunStatus();
  }
}

void ClientConn::RunStatus() {
  status::StatusRequest sr;
  sr.method = req_.method;
  sr.path = req_.path;
  sr.query = req_.query;
  sr.body = local_body_;
  sr.client_ip = peer_ip_;
  sr.host = req_.host;
  for (const auto& h : req_.headers) {
    if (core::IEquals(h.name, "content-type")) {
      sr.content_type = h.value;
    } else if (core::IEquals(h.name, "referer")) {
      sr.referer = h.value;
    } else if (core::IEquals(h.name, "origin")) {
      sr.origin = h.value;
    } else if (core::IEquals(h.name, "x-drover-nonce")) {
      sr.nonce_header = h.value;
    }
  }
  int64_t now_ms = WallUs() / 1000;
  status::StatusResponse r = local_ == 1 ? server_->status()->HandleManager(sr, now_ms)
                                         : server_->status()->HandleMetrics(sr, now_ms);
  status_ = r.status;
  if (server_->shutting_down() || shutting_down_) {
    keep_alive_ = false;
  }
  std::string& h = up_head_;
  h.clear();
  h.append("HTTP/1.1 ");
  core::AppendUint(static_cast<uint64_t>(r.status), &h);
  h.push_back(' ');
  h.append(StatusReason(r.status));
  h.append("\r\n");
  if (!r.content_type.empty()) {
    AppendHeader(&h, "Content-Type", r.content_type);
  }
  for (const auto& kv : r.headers) {
    AppendHeader(&h, kv.first, kv.second);
  }
  h.append("Content-Length: ");
  core::AppendUint(r.body.size(), &h);
  h.append(keep_alive_ ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\nConnection: close\r\n\r\n");
  evbuffer* out = bufferevent_get_output(bev_);
  evbuffer_add(out, h.data(), h.size());
  resp_bytes_ += h.size();
  if (req_.method != "HEAD") {
    evbuffer_add(out, r.body.data(), r.body.size());
    resp_body_bytes_ = r.body.size();
  }
  resp_state_ = RespState::kDone;
  local_ = 0;
  FinishExchange();
}

// ------------------------------------------------------------------- tunnel

// The member accepted the WebSocket upgrade (101): relay its head, then the
// two connections become a byte tunnel with backpressure both ways. The member
// stays busy in the slot table until the tunnel ends; idle tunnels end after
// Timeout (client side) / the member's timeout with no byte in either direction.
void ClientConn::StartTunnel() {
  status_ = 101;
  std::string& h = up_head_;
  h.clear();
  h.append("HTTP/1.1 101 ");
  h.append(resp_.reason.empty() ? std::string_view("Switching Protocols") : resp_.reason);
  h.append("\r\n");
  out_headers_.clear();
  std::string_view upgrade = "websocket";
  for (const auto& hd : resp_.headers) {
    if (core::IEquals(hd.name, "upgrade")) {
      upgrade = hd.value;
      continue;
    }
    if (http::IsHopByHop(hd.name) || http::IsListedIn(hd.name, resp_.connection_tokens)) {
      continue;
    }
    AppendHeader(&h, hd.name, hd.value);
    out_headers_.push_back({hd.name, hd.value});
  }
  AppendHeader(&h, "Upgrade", upgrade);
  h.append("Connection: Upgrade\r\n\r\n");
  evbuffer_add(bufferevent_get_output(bev_), h.data(), h.size());
  resp_bytes_ += h.size();
  state_ = State::kTunnel;
  EnsureNoDelay();
  resp_state_ = RespState::kBody;
  keep_alive_ = false;
  tunnel_activity_us_ = WallUs();
  const auto& sc = server_->server_config();
  SetBevTimeouts(bev_, &timeouts_, sc.timeout_ms, sc.timeout_ms);
  SetReadHigh(0);
  bufferevent_enable(bev_, EV_READ | EV_WRITE);
  PumpTunnel(true);
  if (up_ != nullptr) {
    PumpTunnel(false);
  }
}

void ClientConn::PumpTunnel(bool from_client) {
  if (up_ == nullptr || state_ != State::kTunnel) {
    return;
  }
  bufferevent* src = from_client ? bev_ : up_->bev_;
  bufferevent* dst = from_client ? up_->bev_ : bev_;
  evbuffer* in = bufferevent_get_input(src);
  size_t n = evbuffer_get_length(in);
  if (n > 0) {
    evbuffer_remove_buffer(in, bufferevent_get_output(dst), n);
    tunnel_activity_us_ = WallUs();
    if (from_client) {
      up_bytes_out_ += n;
      req_bytes_ += n;
    } else {
      up_bytes_in_ += n;
      resp_body_bytes_ += n;
    }
  }
  if (evbuffer_get_length(bufferevent_get_output(dst)) >= kHighWater) {
    bufferevent_disable(src, EV_READ);
    bufferevent_setwatermark(dst, EV_WRITE, kLowWater, 0);
    if (from_client) {
      client_paused_ = true;
    } else {
      up_paused_ = true;
    }
  }
}

void ClientConn::EndTunnel(const char* why) {
  DLOG(kInfo, "client %s: websocket tunnel to %s ended (%s)", peer_ip_.c_str(),
       balancer_ != nullptr && member_ >= 0
           ? balancer_->MemberUrl(static_cast<uint32_t>(member_)).c_str()
           : "?",
       why);
  // Deliver what is still buffered towards the client, then close.
  if (up_ != nullptr) {
    PumpTunnel(false);
  }
  ReleaseUpstream(false);
  WriteAccessLog();
  exchange_active_ = false;
  state_ = State::kProxying;
  CloseAfterFlush();
}

// ------------------------------------------------------------------- closing

bool ClientConn::IdleKeepAlive() const {
  return state_ == State::kIdle && requests_ > 0 &&
         evbuffer_get_length(bufferevent_get_input(bev_)) == 0 &&
         evbuffer_get_length(bufferevent_get_output(bev_)) == 0;
}

bool ClientConn::ReclaimIfIdle() {
  if (!IdleKeepAlive()) {
    return false;
  }
  Close();
  return true;
}

// Graceful reload or shutdown. A busy connection gets Connection: close on its
// current response. An idle one is not closed at once: a client may already
// have sent its next request (in the kernel buffer, not read yet), and closing
// would reset it. It gets kShutdownGraceMs in which a request is still served
// (with Connection: close); only a connection that stays silent is closed.
void ClientConn::Shutdown() {
  shutting_down_ = true;
  if (state_ == State::kIdle) {
    ArmTimer(kShutdownGraceMs);
  }
}

void ClientConn::CloseAfterFlush() {
  if (state_ == State::kClosed) {
    return;
  }
  close_after_flush_ = true;
  state_ = State::kHead;  // no more requests are parsed (close_after_flush_ stops them)
  if (evbuffer_get_length(bufferevent_get_output(bev_)) == 0) {
    StartLinger();  // arms its own timer
    return;
  }
  // The output drains (WriteCb at empty) within the I/O timeout.
  bufferevent_setwatermark(bev_, EV_WRITE, 0, 0);
  ArmTimer(server_->server_config().timeout_ms);
  if (ClosesAtOnce()) {
    out_.last_write = true;
  }
}

// The client asked for the close (Connection: close, or HTTP/1.0 without
// keep-alive) and its request was read to the end: it has nothing more to send,
// so nothing can turn the close into a reset. Close at once, as nginx does;
// lingering is for the other cases. (StartLinger also asks UnreadBytes.)
bool ClientConn::ClosesAtOnce() {
  return client_asked_close_ && req_body_done_ &&
         evbuffer_get_length(bufferevent_get_input(bev_)) == 0;
}

// Whether the client sent bytes drover has not read: only possible while reading
// is deferred (FirstRead), when they stay in the socket. One peek at the close
// decision, instead of the read event's EPOLL_CTL_ADD and DEL.
bool ClientConn::UnreadBytes() {
  char c;
  return read_deferred_ && recv(bufferevent_getfd(bev_), &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

// Lingering close: send FIN, then read and discard what the client still sends
// for a moment, so that unread request bytes don't turn our close into a RST
// that destroys the response before the client reads it.
void ClientConn::StartLinger() {
  if (state_ == State::kLinger || state_ == State::kClosed) {
    return;
  }
  if (SSL* ssl = tls::GetSsl(bev_); ssl != nullptr && tls_established_) {
    // close_notify before the FIN. The output is flushed, so this writes one alert
    // record straight to the socket; it never waits for the client's close_notify.
    SSL_shutdown(ssl);
    ERR_clear_error();
  }
  if (ClosesAtOnce() && !UnreadBytes()) {
    Close();
    return;
  }
  state_ = State::kLinger;
  int fd = bufferevent_getfd(bev_);
  if (fd >= 0) {
    shutdown(fd, SHUT_WR);
  }
  evbuffer* in = bufferevent_get_input(bev_);
  evbuffer_drain(in, evbuffer_get_length(in));
  SetBevTimeouts(bev_, &timeouts_, 0, 0);
  SetReadHigh(0);
  bufferevent_enable(bev_, EV_READ);
  ArmTimer(kLingerMs);
}

void ClientConn::Close() {
  if (state_ == State::kClosed) {
    return;
  }
  state_ = State::kClosed;
  if (up_ != nullptr) {
    ReleaseUpstream(false);
  }
  if (timer_ != nullptr) {
    evtimer_del(timer_);
  }
  server_->DisableDirectIo(&out_);
  if (bev_ != nullptr) {
    bufferevent_disable(bev_, EV_READ | EV_WRITE);
    bufferevent_setcb(bev_, nullptr, nullptr, nullptr, nullptr);
  }
  server_->DeferFree(this);
}

}  // namespace drover::proxy
