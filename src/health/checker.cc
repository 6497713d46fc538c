// The health-check process (mod_proxy_hcheck's watchdog, as one helper process
// forked by the master instead of a thread in one child): one libevent loop,
// one timer and at most one check in flight per checked member, results written
// to the member's shm slot with atomics. It never proxies, never accepts, never
// takes a balancer lock, and never touches members added at run time.
#include "health/checker.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netdb.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#include "ajp/decoder.h"
#include "ajp/encoder.h"
#include "core/clock.h"
#include "core/log.h"
#include "tls/bufferevent.h"
#include "worker/event_util.h"
#include "worker/privileges.h"
#include "worker/worker.h"

namespace drover::health {

using config::HealthCheck;
using config::kFlagError;
using config::kFlagHcFailed;

// ---------------------------------------------------------------------------
// The pure core.

bool NeedsHealthChecker(const config::Config& config) {
  for (const config::BalancerConfig& b : config.balancers) {
    for (const config::MemberConfig& m : b.members) {
      if (m.hc.method != HealthCheck::Method::kNone) {
        return true;
      }
    }
  }
  return false;
}

namespace {

uint16_t DefaultPort(config::Scheme scheme) {
  switch (scheme) {
    case config::Scheme::kHttps:
      return 443;
    case config::Scheme::kAjp:
      return 8009;
    case config::Scheme::kHttp:
      break;
  }
  return 80;
}

const char* MethodName(HealthCheck::Method m) {
  switch (m) {
    case HealthCheck::Method::kOptions:
      return "OPTIONS";
    case HealthCheck::Method::kHead:
      return "HEAD";
    case HealthCheck::Method::kGet:
      return "GET";
    case HealthCheck::Method::kCping:
      return "CPING";
    case HealthCheck::Method::kTcp:
    case HealthCheck::Method::kNone:
      break;
  }
  return "";
}

int32_t SaturatingInc(int32_t n) { return n < INT32_MAX ? n + 1 : n; }

}  // namespace

std::string BuildRequest(std::string_view method, const config::Url& url, std::string_view hcuri) {
  std::string target = url.path;
  if (!target.empty() && target.back() == '/' && !hcuri.empty() && hcuri.front() == '/') {
    target.pop_back();
  }
  target.append(hcuri);
  if (target.empty()) {
    target = "/";
  }
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  if (url.port != DefaultPort(url.scheme)) {
    host += ":" + std::to_string(url.port);
  }
  std::string req;
  req.reserve(method.size() + target.size() + host.size() + 96);
  req.append(method).append(" ").append(target).append(" HTTP/1.0\r\n");
  req.append("Host: ").append(host).append("\r\n");
  req.append("User-Agent: drover-health-check\r\n");
  req.append("Connection: close\r\n\r\n");
  return req;
}

ProbePlan PlanProbe(const config::MemberConfig& member, const config::ServerConfig& server) {
  ProbePlan p;
  const HealthCheck& hc = member.hc;
  if (hc.method == HealthCheck::Method::kNone) {
    return p;
  }
  int64_t timeout = member.timeout_ms >= 0 ? member.timeout_ms : server.proxy_timeout_ms;
  if (timeout < 0) {
    timeout = server.timeout_ms;  // ProxyTimeout unresolved (configs built in code)
  }
  p.timeout_ms = timeout;
  p.connect_timeout_ms = member.connect_timeout_ms >= 0 ? member.connect_timeout_ms : timeout;
  p.interval_ms = hc.interval_ms;
  if (hc.method == HealthCheck::Method::kTcp) {
    p.kind = ProbePlan::Kind::kTcp;
  } else if (hc.method == HealthCheck::Method::kCping && member.url.scheme == config::Scheme::kAjp) {
    p.kind = ProbePlan::Kind::kCping;
    if (member.ping_ms > 0) {
      p.timeout_ms = member.ping_ms;
    }
    p.request = ajp::EncodeCping();
  } else if (member.url.scheme == config::Scheme::kAjp ||
             hc.method == HealthCheck::Method::kCping) {
    p.kind = ProbePlan::Kind::kTcp;
    p.downgraded = true;
  } else {
    p.kind = ProbePlan::Kind::kHttp;
    p.tls = member.url.scheme == config::Scheme::kHttps;
    p.method = MethodName(hc.method);
    p.request = BuildRequest(p.method, member.url, hc.uri);
  }
  return p;
}

ResponseReader::State ResponseReader::Fail(std::string why) {
  state_ = State::kError;
  error_ = std::move(why);
  return state_;
}

ResponseReader::State ResponseReader::Feed(const char* data, size_t len) {
  if (state_ != State::kNeedMore) {
    return state_;
  }
  if (status_ == 0) {
    head_.append(data, len);
    return ParseHeads();
  }
  return FeedBody(data, len);
}

ResponseReader::State ResponseReader::ParseHeads() {
  http::Limits limits;
  limits.max_request_line = 8190;
  while (true) {
    http::ResponseHead h;
    http::ParseError err;
    http::ParseResult r =
        http::ParseResponseHead(head_.data(), head_.size(), limits, method_, &h, &err);
    if (r == http::ParseResult::kIncomplete) {
      if (head_.size() > kMaxHead) {
        return Fail("response head over 64 KiB");
      }
      return state_;
    }
    if (r == http::ParseResult::kError) {
      return Fail(std::string("bad response head (") + err.reason + ")");
    }
    if (h.status < 200) {
      head_.erase(0, h.head_size);  // an interim response: the final one follows
      continue;
    }
    status_ = h.status;
    body_ = h.body;
    remaining_ = h.content_length;
    std::string rest = head_.substr(h.head_size);
    head_.clear();
    head_.shrink_to_fit();
    if (body_ == http::BodyKind::kNone || (body_ == http::BodyKind::kLength && remaining_ == 0)) {
      state_ = State::kDone;
      return state_;
    }
    return FeedBody(rest.data(), rest.size());
  }
}

ResponseReader::State ResponseReader::FeedBody(const char* data, size_t len) {
  switch (body_) {
    case http::BodyKind::kNone:
      state_ = State::kDone;
      return state_;
    case http::BodyKind::kLength: {
      uint64_t take = std::min<uint64_t>(len, remaining_);
      remaining_ -= take;
      body_read_ += take;
      if (remaining_ == 0) {
        state_ = State::kDone;
        return state_;
      }
      break;
    }
    case http::BodyKind::kChunked: {
      size_t consumed = 0;
      http::ChunkedDecoder::Status st = chunked_.Feed(data, len, &consumed);
      body_read_ += consumed;
      if (st == http::ChunkedDecoder::Status::kDone) {
        state_ = State::kDone;
        return state_;
      }
      if (st == http::ChunkedDecoder::Status::kError) {
        return Fail(std::string("bad chunked body (") + chunked_.error() + ")");
      }
      break;
    }
    case http::BodyKind::kUntilClose:
      body_read_ += len;
      break;
  }
  if (body_read_ > kMaxBody) {
    state_ = State::kDone;  // the status is all we need: stop reading a huge body
  }
  return state_;
}

ResponseReader::State ResponseReader::Eof() {
  if (state_ != State::kNeedMore) {
    return state_;
  }
  if (status_ == 0) {
    return Fail(head_.empty() ? "connection closed without a response"
                              : "connection closed inside the response head");
  }
  if (body_ == http::BodyKind::kUntilClose) {
    state_ = State::kDone;
    return state_;
  }
  return Fail("connection closed before the end of the body");
}

HcState NextHcState(int32_t passes, int32_t fails, bool hc_failed, bool passed,
                    const HealthCheck& hc) {
  HcState s;
  if (passed) {
    s.passes = SaturatingInc(passes < 0 ? 0 : passes);
    s.fails = 0;
    if (hc_failed && s.passes >= hc.passes) {
      s.transition = Transition::kMarkedUp;
    }
  } else {
    s.fails = SaturatingInc(fails < 0 ? 0 : fails);
    s.passes = 0;
    if (!hc_failed && s.fails >= hc.fails) {
      s.transition = Transition::kMarkedDown;
    }
  }
  return s;
}

Transition RecordResult(shm::MemberSlot* slot, const HealthCheck& hc, bool passed, int64_t now_ms) {
  const uint32_t status = slot->status.load();
  HcState s = NextHcState(slot->hc_passes.load(std::memory_order_relaxed),
                          slot->hc_fails.load(std::memory_order_relaxed),
                          (status & kFlagHcFailed) != 0, passed, hc);
  slot->hc_passes.store(s.passes, std::memory_order_relaxed);
  slot->hc_fails.store(s.fails, std::memory_order_relaxed);
  slot->hc_last_ms.store(now_ms, std::memory_order_relaxed);
  if (s.transition == Transition::kMarkedDown) {
    slot->status.fetch_or(kFlagHcFailed);
  } else if (s.transition == Transition::kMarkedUp) {
    // The ramp's start is visible before the member is: a picker that sees it
    // usable also sees recovered_ms (seq_cst store, then the seq_cst fetch_and).
    slot->recovered_ms.store(now_ms);
    slot->status.fetch_and(~static_cast<uint32_t>(kFlagHcFailed | kFlagError));
  }
  return s.transition;
}

// ---------------------------------------------------------------------------
// The process.

namespace {

using worker::BufferEventPtr;
using worker::EventBasePtr;
using worker::EventPtr;

int64_t WallMs() {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  return static_cast<int64_t>(tv.tv_sec) * 1000 + tv.tv_usec / 1000;
}

struct timeval Tv(int64_t ms) {
  if (ms < 0) {
    ms = 0;
  }
  struct timeval tv;
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return tv;
}

std::string ErrnoText(int e) { return std::to_string(e) + ": " + strerror(e); }

class Checker;

// One checked member: its plan, its address, its timer and the check in flight.
struct Probe {
  Checker* checker = nullptr;
  uint32_t balancer = 0;  // index in Config::balancers and the table
  const config::MemberConfig* member = nullptr;
  std::string key;         // shm::SlotTable::MakeKey(balancer, member URL)
  std::string label;       // "balancer B member URL", for the log
  uint32_t slot_hint = 0;  // where the key was last found
  ProbePlan plan;
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  EventPtr timer;      // the next check
  EventPtr deadline;   // the check in flight's time limit
  BufferEventPtr bev;  // the check in flight, or null
  std::unique_ptr<ResponseReader> reader;
  std::unique_ptr<ajp::Decoder> cpong;  // kCping: reads the answer
  int64_t started_ms = 0;  // monotonic
  bool connected = false;
};

class Checker {
 public:
  explicit Checker(const HealthContext& ctx) : ctx_(ctx) {}
  int Run();

 private:
  static void SignalCb(evutil_socket_t sig, short, void* arg) noexcept;
  static void TimerCb(evutil_socket_t, short, void* arg) noexcept;
  static void DeadlineCb(evutil_socket_t, short, void* arg) noexcept;
  static void EventCb(bufferevent* bev, short events, void* arg) noexcept;
  static void ReadCb(bufferevent* bev, void* arg) noexcept;

  bool Resolve(Probe* p, std::string* why);
  shm::MemberSlot* FindSlot(Probe* p);
  void Start(Probe* p);
  void OnEvent(Probe* p, short events);
  void OnRead(Probe* p);
  void Finish(Probe* p, bool passed, const std::string& reason);
  void Schedule(Probe* p, int64_t delay_ms);

  const HealthContext& ctx_;
  EventBasePtr base_;
  std::vector<EventPtr> signals_;
  std::vector<std::unique_ptr<Probe>> probes_;
};

void Checker::SignalCb(evutil_socket_t sig, short, void* arg) noexcept {
  auto* c = static_cast<Checker*>(arg);
  switch (sig) {
    case SIGQUIT:
    case SIGTERM:
    case SIGINT:
      event_base_loopbreak(c->base_.get());
      break;
    case SIGUSR1: {
      std::string err;
      if (!core::ErrorLog::Reopen(&err)) {
        DLOG(kError, "reopen: %s", err.c_str());
      }
      break;
    }
    default:
      break;
  }
}

void Checker::TimerCb(evutil_socket_t, short, void* arg) noexcept {
  auto* p = static_cast<Probe*>(arg);
  p->checker->Start(p);
}

void Checker::DeadlineCb(evutil_socket_t, short, void* arg) noexcept {
  auto* p = static_cast<Probe*>(arg);
  int64_t limit = p->connected ? p->plan.timeout_ms : p->plan.connect_timeout_ms;
  p->checker->Finish(p, false,
                     std::string(p->connected ? "timeout" : "connect timeout") + " after " +
                         std::to_string(limit) + " ms");
}

void Checker::EventCb(bufferevent*, short events, void* arg) noexcept {
  auto* p = static_cast<Probe*>(arg);
  p->checker->OnEvent(p, events);
}

void Checker::ReadCb(bufferevent*, void* arg) noexcept {
  auto* p = static_cast<Probe*>(arg);
  p->checker->OnRead(p);
}

bool Checker::Resolve(Probe* p, std::string* why) {
  if (p->addr_len != 0) {
    return true;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const config::Url& url = p->member->url;
  std::string port = std::to_string(url.port);
  int rc = getaddrinfo(url.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    *why = "getaddrinfo(" + url.host + ") failed (" + gai_strerror(rc) + ")";
    return false;
  }
  memcpy(&p->addr, res->ai_addr, res->ai_addrlen);
  p->addr_len = res->ai_addrlen;
  freeaddrinfo(res);
  return true;
}

shm::MemberSlot* Checker::FindSlot(Probe* p) {
  const shm::BalancerSlot* bs = ctx_.table->balancer(p->balancer);
  if (bs == nullptr) {
    return nullptr;
  }
  uint32_t n = std::min(bs->num_members.load(std::memory_order_acquire), bs->capacity);
  auto matches = [&](uint32_t m) -> shm::MemberSlot* {
    shm::MemberSlot* s = ctx_.table->member(p->balancer, m);
    if (s != nullptr && s->in_use.load() != 0 &&
        strncmp(s->key, p->key.c_str(), shm::kKeyMax) == 0) {
      return s;
    }
    return nullptr;
  };
  if (p->slot_hint < n) {
    if (shm::MemberSlot* s = matches(p->slot_hint)) {
      return s;
    }
  }
  for (uint32_t m = 0; m < n; ++m) {
    if (shm::MemberSlot* s = matches(m)) {
      p->slot_hint = m;
      return s;
    }
  }
  return nullptr;
}

void Checker::Schedule(Probe* p, int64_t delay_ms) {
  struct timeval tv = Tv(delay_ms);
  evtimer_add(p->timer.get(), &tv);
}

void Checker::Start(Probe* p) {
  p->started_ms = core::MonotonicMs();
  p->connected = false;
  shm::MemberSlot* s = FindSlot(p);
  if (s == nullptr || (s->status.load() & config::kFlagStopped) != 0) {
    // Removed at run time (nothing to check) or stopped (Apache skips those).
    Schedule(p, p->plan.interval_ms);
    return;
  }
  std::string why;
  if (!Resolve(p, &why)) {
    Finish(p, false, why);
    return;
  }
  // connect() here rather than in libevent, so that an immediate failure (a
  // refused loopback connection) is reported with its errno.
  int fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int e = errno;
    Finish(p, false, "socket() failed (" + ErrnoText(e) + ")");
    return;
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&p->addr), p->addr_len) != 0 &&
      errno != EINPROGRESS) {
    int e = errno;
    close(fd);
    Finish(p, false, "connect() failed (" + ErrnoText(e) + ")");
    return;
  }
  if (p->plan.tls) {
    if (ctx_.tls_client == nullptr) {
      close(fd);
      Finish(p, false, "no tls client context");
      return;
    }
    // The handshake starts once the socket is connected; CONNECTED follows it.
    p->bev.reset(tls::NewClientBufferevent(base_.get(), fd, *ctx_.tls_client, p->member->url.host));
    if (!p->bev) {
      close(fd);
      Finish(p, false, "tls setup failed (" + tls::ErrorQueueString() + ")");
      return;
    }
  } else {
    p->bev.reset(bufferevent_socket_new(base_.get(), fd, BEV_OPT_CLOSE_ON_FREE));
  }
  if (!p->bev) {
    close(fd);
    Finish(p, false, "bufferevent_socket_new() failed");
    return;
  }
  bufferevent_setcb(p->bev.get(), ReadCb, nullptr, EventCb, p);
  if (p->plan.kind == ProbePlan::Kind::kHttp) {
    p->reader = std::make_unique<ResponseReader>(p->plan.method);
  } else if (p->plan.kind == ProbePlan::Kind::kCping) {
    p->cpong = std::make_unique<ajp::Decoder>();
  }
  struct timeval tv = Tv(p->plan.connect_timeout_ms);
  evtimer_add(p->deadline.get(), &tv);
  if (p->plan.tls) {
    bufferevent_enable(p->bev.get(), EV_READ | EV_WRITE);
    return;
  }
  // No address: the socket is already connecting; CONNECTED or ERROR follows.
  if (bufferevent_socket_connect(p->bev.get(), nullptr, 0) != 0) {
    int e = errno;
    Finish(p, false, "connect() failed (" + ErrnoText(e) + ")");
  }
}

void Checker::OnEvent(Probe* p, short events) {
  if ((events & BEV_EVENT_CONNECTED) != 0) {
    p->connected = true;
    if (p->plan.kind == ProbePlan::Kind::kTcp) {
      Finish(p, true, "connected");
      return;
    }
    struct timeval tv = Tv(p->plan.timeout_ms);
    evtimer_add(p->deadline.get(), &tv);  // re-arms: the whole exchange within `timeout`
    bufferevent_write(p->bev.get(), p->plan.request.data(), p->plan.request.size());
    bufferevent_enable(p->bev.get(), EV_READ | EV_WRITE);
    return;
  }
  if ((events & BEV_EVENT_EOF) != 0 && p->cpong) {
    OnRead(p);  // a CPONG that came with the FIN
    if (p->bev) {
      Finish(p, false, "connection closed before CPONG");
    }
    return;
  }
  if ((events & BEV_EVENT_EOF) != 0 && p->reader) {
    OnRead(p);  // anything still buffered first
    if (!p->bev) {
      return;
    }
    ResponseReader::State st = p->reader->Eof();
    if (st == ResponseReader::State::kDone) {
      int status = p->reader->status();
      Finish(p, StatusPasses(status), "status " + std::to_string(status));
    } else {
      Finish(p, false, p->reader->error());
    }
    return;
  }
  if ((events & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) != 0) {
    // libevent leaves a failed connect's SO_ERROR in errno for this callback.
    int e = EVUTIL_SOCKET_ERROR();
    std::string what = p->connected ? "read failed" : "connect() failed";
    std::string tls_why = p->plan.tls ? tls::TlsError(p->bev.get()) : std::string();
    if (!p->connected && !tls_why.empty()) {
      what = "tls handshake failed (" + tls_why + ")";
    } else if ((events & BEV_EVENT_EOF) != 0) {
      what = "connection closed";
    } else if (e != 0) {
      what += " (" + ErrnoText(e) + ")";
    }
    Finish(p, false, what);
  }
}

void Checker::OnRead(Probe* p) {
  evbuffer* in = bufferevent_get_input(p->bev.get());
  char buf[16384];
  while (evbuffer_get_length(in) > 0) {
    int n = evbuffer_remove(in, buf, sizeof(buf));
    if (n <= 0) {
      break;
    }
    if (p->cpong) {
      // CPING: the only acceptable answer is CPONG (anything else fails the check).
      size_t consumed = 0;
      ajp::Message msg;
      auto r = p->cpong->Feed(buf, static_cast<size_t>(n), &consumed, &msg);
      if (r == ajp::Decoder::Result::kMessage && msg.type == ajp::MessageType::kCpong) {
        Finish(p, true, "cpong");
      } else if (r != ajp::Decoder::Result::kNeedMore) {
        Finish(p, false, r == ajp::Decoder::Result::kError ? "bad answer to CPING (" +
                                                                 p->cpong->error() + ")"
                                                           : "answer to CPING is not CPONG");
      }
      return;
    }
    if (!p->reader) {
      continue;  // not expecting data: drop it
    }
    ResponseReader::State st = p->reader->Feed(buf, static_cast<size_t>(n));
    if (st == ResponseReader::State::kDone) {
      int status = p->reader->status();
      Finish(p, StatusPasses(status), "status " + std::to_string(status));
      return;
    }
    if (st == ResponseReader::State::kError) {
      Finish(p, false, p->reader->error());
      return;
    }
  }
}

void Checker::Finish(Probe* p, bool passed, const std::string& reason) {
  // Freeing the bufferevent inside its own callback is safe in libevent (it
  // defers the release until the callback returns); the Probe itself lives on.
  p->bev.reset();
  p->reader.reset();
  p->cpong.reset();
  evtimer_del(p->deadline.get());
  shm::MemberSlot* s = FindSlot(p);
  if (s != nullptr) {
    const HealthCheck& hc = p->member->hc;
    Transition t = RecordResult(s, hc, passed, WallMs());
    if (t == Transition::kMarkedDown) {
      DLOG(kWarn, "health check: %s failed %d times (%s), marked down", p->label.c_str(), hc.fails,
           reason.c_str());
    } else if (t == Transition::kMarkedUp) {
      DLOG(kNotice, "health check: %s passed %d times, marked up", p->label.c_str(), hc.passes);
    } else {
      DLOG(kDebug, "health check: %s %s (%s)", p->label.c_str(), passed ? "passed" : "failed",
           reason.c_str());
    }
  }
  Schedule(p, p->started_ms + p->plan.interval_ms - core::MonotonicMs());
}

int Checker::Run() {
  const config::Config& cfg = *ctx_.config;
  if (ctx_.drop_privileges) {
    core::Status st = worker::DropPrivileges(cfg.global.user, cfg.global.group);
    if (!st.ok()) {
      DLOG(kEmerg, "%s", st.message().c_str());
      return worker::kExitFatal;
    }
  }
  // Die with the master (set after setuid: credential changes clear it).
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() == 1) {
    return 0;
  }
  if (ctx_.table == nullptr || !ctx_.table->Valid()) {
    DLOG(kEmerg, "health checker: shared memory slot table is invalid");
    return worker::kExitFatal;
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  base_.reset(event_base_new());
  if (!base_) {
    DLOG(kEmerg, "event_base_new() failed");
    return worker::kExitFatal;
  }
  for (int sig : {SIGQUIT, SIGTERM, SIGINT, SIGUSR1}) {
    signals_.emplace_back(evsignal_new(base_.get(), sig, SignalCb, this));
    evsignal_add(signals_.back().get(), nullptr);
  }
  for (uint32_t b = 0; b < cfg.balancers.size(); ++b) {
    const config::BalancerConfig& bc = cfg.balancers[b];
    for (uint32_t m = 0; m < bc.members.size(); ++m) {
      const config::MemberConfig& mc = bc.members[m];
      ProbePlan plan = PlanProbe(mc, cfg.server);
      if (plan.kind == ProbePlan::Kind::kNone) {
        continue;
      }
      auto p = std::make_unique<Probe>();
      p->checker = this;
      p->balancer = b;
      p->member = &mc;
      p->key = shm::SlotTable::MakeKey(bc.name, mc.name);
      p->label = "balancer " + bc.name + " member " + mc.name;
      p->slot_hint = m;
      p->plan = std::move(plan);
      p->timer.reset(evtimer_new(base_.get(), TimerCb, p.get()));
      p->deadline.reset(evtimer_new(base_.get(), DeadlineCb, p.get()));
      if (!p->timer || !p->deadline) {
        DLOG(kEmerg, "evtimer_new() failed");
        return worker::kExitFatal;
      }
      if (p->plan.downgraded) {
        DLOG(kNotice,
             "health check: %s: hcmethod %s is not supported for %s:// members yet, "
             "checking by TCP connect",
             p->label.c_str(), MethodName(mc.hc.method), config::SchemeName(mc.url.scheme));
      }
      std::string why;
      if (!Resolve(p.get(), &why)) {
        DLOG(kError, "health check: %s: %s (retried at every check)", p->label.c_str(),
             why.c_str());
      }
      probes_.push_back(std::move(p));
    }
  }
  DLOG(kInfo, "health checker %d started (generation %llu, %zu members checked)",
       static_cast<int>(getpid()), static_cast<unsigned long long>(ctx_.generation),
       probes_.size());
  for (auto& p : probes_) {
    Schedule(p.get(), 0);  // the first round at once
  }
  event_base_dispatch(base_.get());
  // Checks in flight are abandoned: their sockets close with the bufferevents.
  probes_.clear();
  signals_.clear();
  base_.reset();
  return 0;
}

}  // namespace

int RunHealthChecker(const HealthContext& ctx) {
  Checker c(ctx);
  return c.Run();
}

}  // namespace drover::health
