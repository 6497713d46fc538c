// Server: the per-worker proxy state (balancers over the shm table, resolved
// member addresses, the idle member-connection pool, deferred frees) and
// UpstreamConn's callbacks. Runs in worker processes only.
#include "proxy/server.h"

#include <event2/bufferevent_struct.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "core/clock.h"
#include "core/log.h"

namespace drover::proxy {

namespace {

// Host header value and socket address of a member URL (resolved once, with
// getaddrinfo; the first address is used). Logs and leaves `resolved` false
// when the name does not resolve.
void FillAddress(const config::Url& url, const std::string& balancer, MemberAddr* a) {
  uint16_t def = url.scheme == config::Scheme::kHttps ? 443 : 80;
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  a->host_header = url.port == def ? host : host + ":" + std::to_string(url.port);
  a->tls = url.scheme == config::Scheme::kHttps;
  a->tls_host = url.host;
  struct addrinfo hints {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  struct addrinfo* res = nullptr;
  std::string port = std::to_string(url.port);
  int rc = getaddrinfo(url.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    DLOG(kError, "getaddrinfo(\"%s\") failed for member %s of balancer %s: %s",
         url.host.c_str(), a->url.c_str(), balancer.c_str(), gai_strerror(rc));
    return;
  }
  memcpy(&a->addr, res->ai_addr, res->ai_addrlen);
  a->len = res->ai_addrlen;
  a->resolved = true;
  freeaddrinfo(res);
}

// Idle member connections kept per member and worker.
constexpr size_t kMaxIdlePerMember = 256;
// An idle member connection is closed after this long.
constexpr int64_t kIdleUpstreamMs = 60000;

// The timeouts go in as libevent "common timeouts": every event with the same
// duration shares one queue ordered by deadline, so that re-adding one (a
// persistent read event re-adds its timeout each time it fires, on every member
// read) is an unlink and an append at the tail, not a sift through a heap holding
// every connection's timeout. The durations are few (the configured timeouts), far
// below libevent's 256 per base; past that the plain timeval is used.
timeval CommonTimeout(event_base* base, int64_t ms) {
  timeval tv = {static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
  const timeval* common = event_base_init_common_timeout(base, &tv);
  return common != nullptr ? *common : tv;
}
}  // namespace

int64_t WallUs() {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  return static_cast<int64_t>(tv.tv_sec) * 1000000 + tv.tv_usec;
}

void SetBevTimeouts(bufferevent* bev, BevTimeouts* cache, int64_t read_ms, int64_t write_ms) {
  if (cache->read_ms == read_ms && cache->write_ms == write_ms) {
    return;
  }
  cache->read_ms = read_ms;
  cache->write_ms = write_ms;
  event_base* base = bufferevent_get_base(bev);
  timeval r{};
  timeval w{};
  if (read_ms > 0) {
    r = CommonTimeout(base, read_ms);
  }
  if (write_ms > 0) {
    w = CommonTimeout(base, write_ms);
  }
  bufferevent_set_timeouts(bev, read_ms > 0 ? &r : nullptr, write_ms > 0 ? &w : nullptr);
}

void EnableRead(bufferevent* bev) {
  if ((Enabled(bev) & EV_READ) == 0) {
    bufferevent_enable(bev, EV_READ);
  }
}

// ---------------------------------------------------------------- UpstreamConn

UpstreamConn::UpstreamConn(Server* server, uint32_t balancer, uint32_t member)
    : server_(server), balancer_(balancer), member_(member) {
  MemberAddr* a = server_->member_addr(balancer, member);
  if (a != nullptr) {
    ++a->conns;
    scheme_ = a->scheme;
  }
  server_->CountUpstream(1);
}

UpstreamConn::~UpstreamConn() {
  MemberAddr* a = server_->member_addr(balancer_, member_);
  if (a != nullptr) {
    --a->conns;
  }
  server_->CountUpstream(-1);
  server_->DisableDirectIo(&out_);
  if (bev_ != nullptr) {
    bufferevent_free(bev_);
  }
}

void UpstreamConn::ReadCb(bufferevent*, void* arg) noexcept {
  auto* u = static_cast<UpstreamConn*>(arg);
  if (u->owner_ != nullptr) {
    u->owner_->OnUpstreamRead();
  } else {
    // Idle in the pool: a member must not send anything now.
    u->server_->DropIdle(u);
  }
}

void UpstreamConn::WriteCb(bufferevent*, void* arg) noexcept {
  auto* u = static_cast<UpstreamConn*>(arg);
  Server::DirectWriteDrained(&u->out_);
  if (u->owner_ != nullptr) {
    u->owner_->OnUpstreamWrite();
  }
}

void UpstreamConn::EventCb(bufferevent*, short events, void* arg) noexcept {
  auto* u = static_cast<UpstreamConn*>(arg);
  if (u->owner_ != nullptr) {
    if ((events & BEV_EVENT_CONNECTED) != 0) {
      u->connected_ = true;
      u->owner_->OnUpstreamConnected();
      return;
    }
    u->owner_->OnUpstreamEvent(events);
  } else {
    u->server_->DropIdle(u);
  }
}

// ---------------------------------------------------------------------- Server

Server::Server(event_base* base, std::shared_ptr<const config::Config> config,
               shm::SlotTable* table, int access_log_fd, std::string status_secret)
    : base_(base),
      config_(std::move(config)),
      table_(table),
      access_log_fd_(access_log_fd),
      logs_response_headers_(access_log_fd >= 0 &&
                             FormatUsesResponseHeaders(config_->server.access_format)),
      status_secret_(std::move(status_secret)) {}

Server::~Server() {
  while (clients_ != nullptr) {
    ClientConn* c = clients_;
    Unlink(c);
    delete c;
  }
  Reap();
  for (Pipe& p : spare_pipes_) {
    close(p.fd[0]);
    close(p.fd[1]);
  }
  for (auto& per_b : idle_) {
    for (auto& per_m : per_b) {
      for (UpstreamConn* u : per_m) {
        delete u;
      }
    }
  }
  if (reaper_ != nullptr) {
    event_free(reaper_);
  }
  if (flush_ev_ != nullptr) {
    event_free(flush_ev_);
  }
}

bool Server::Init() {
  const auto& sc = config_->server;
  limits_.max_request_line = static_cast<size_t>(sc.limit_request_line);
  limits_.max_field_size = static_cast<size_t>(sc.limit_request_field_size);
  limits_.max_fields = static_cast<size_t>(sc.limit_request_fields);
  // Member responses: at least 16 KiB per field and 200 fields (big cookies are common).
  response_limits_.max_request_line = std::max<size_t>(limits_.max_request_line, 8190);
  response_limits_.max_field_size = std::max<size_t>(limits_.max_field_size, 16384);
  response_limits_.max_fields = std::max<size_t>(limits_.max_fields, 200);

  balancers_.reserve(config_->balancers.size());
  for (size_t i = 0; i < config_->balancers.size(); ++i) {
    balancers_.emplace_back(&config_->balancers[i], table_, static_cast<uint32_t>(i));
  }
  idle_.resize(config_->balancers.size());
  addrs_.resize(config_->balancers.size());
  configured_members_.assign(config_->balancers.size(), 0);
  ResolveMembers();

  for (const auto& r : sc.reverse) {
    http::ReverseMap m;
    m.fake = r.path;
    if (r.balancer >= 0) {
      const auto& b = config_->balancers[static_cast<size_t>(r.balancer)];
      for (const auto& mem : b.members) {
        m.reals.push_back(mem.name + r.balancer_part);
        // Member names always carry the port; a Location usually omits the default one.
        uint16_t def = mem.url.scheme == config::Scheme::kHttps ? 443 : 80;
        if (mem.url.port == def) {
          std::string host = mem.url.host.find(':') != std::string::npos
                                 ? "[" + mem.url.host + "]"
                                 : mem.url.host;
          m.reals.push_back(std::string(config::SchemeName(mem.url.scheme)) + "://" + host +
                            mem.url.path + r.balancer_part);
        }
      }
    } else {
      m.reals.push_back(r.url);
      m.real_is_path = !r.url.empty() && r.url[0] == '/';
    }
    reverse_maps_.push_back(std::move(m));
  }
  for (const auto& r : sc.cookie_domain) {
    cookie_domain_.push_back({r.internal, r.pub});
  }
  for (const auto& r : sc.cookie_path) {
    cookie_path_.push_back({r.internal, r.pub});
  }
  if (!sc.balancer_manager.empty() || !sc.metrics.empty()) {
    status_ = std::make_unique<status::StatusContext>(config_.get(), table_, &balancers_,
                                                      status_secret_);
  }
  reaper_ = event_new(base_, -1, 0, ReaperCb, this);
  flush_ev_ = event_new(base_, -1, 0, FlushCb, this);
  return reaper_ != nullptr && flush_ev_ != nullptr;
}

// ------------------------------------------------------------- DirectIo

namespace {

// A read event's first read asks for what fits one 1 KiB evbuffer chain (the size
// libevent gives a small read): a small request or response costs one allocation
// that glibc serves from its per-thread cache. A read that fills it goes on with
// one readv() of up to kDirectReadMax.
constexpr size_t kFirstRead = 1024 - 64;
constexpr size_t kDirectReadMax = 64 * 1024;

// libevent's evbuffer_iovec is struct iovec where <sys/uio.h> exists: the extents
// it hands out go to the system calls as they are.
static_assert(std::is_same_v<evbuffer_iovec, iovec>);

// One read of up to `want` bytes into the end of `in`; the read's result.
ssize_t ReadInto(evbuffer* in, int fd, size_t want) {
  iovec v[2];
  int nv = evbuffer_reserve_space(in, static_cast<ev_ssize_t>(want), v, 2);
  if (nv <= 0) {
    errno = ENOMEM;
    return -1;
  }
  nv = Server::ClampIovecs(v, nv, want);
  // recv() rather than readv(): the socket call skips the VFS layer (its
  // fsnotify hooks among it).
  ssize_t r = nv == 1 ? recv(fd, v[0].iov_base, v[0].iov_len, 0) : readv(fd, v, nv);
  // Committing less than was reserved is fine.
  int used = Server::ClampIovecs(v, nv, r > 0 ? static_cast<size_t>(r) : 0);
  int e = errno;
  evbuffer_commit_space(in, v, used);
  errno = e;
  return r;
}

// Bytes a read may add to bev's input: `cap`, within the read high-water mark.
size_t ReadRoom(bufferevent* bev, size_t cap) {
  size_t high = bev->wm_read.high;
  size_t len = evbuffer_get_length(bev->input);
  return high == 0 ? cap : high > len ? std::min(cap, high - len) : 0;
}

// DirectIo's read on a plain socket bufferevent, into its input: one read of up
// to kFirstRead and, when that fills and `more`, one of up to kDirectReadMax
// (within the read high-water mark). Returns the first read's result, errno set
// when it is -1; *filled tells whether the first read filled.
ssize_t DirectRead(bufferevent* bev, evutil_socket_t fd, bool more, bool* filled) {
  evbuffer* in = bev->input;
  *filled = false;
  size_t want = ReadRoom(bev, kFirstRead);
  if (want == 0) {
    errno = EAGAIN;  // libevent suspends reading at the mark
    return -1;
  }
  evbuffer_unfreeze(in, 0);  // bufferevent_socket freezes its input's end
  ssize_t r = ReadInto(in, fd, want);
  int e = errno;
  if (r == static_cast<ssize_t>(want)) {
    *filled = true;
    size_t rest = more ? ReadRoom(bev, kDirectReadMax - want) : 0;
    if (rest > 0) {
      // EAGAIN, EOF or an error here: the socket stays readable and the next read
      // reports them.
      (void)ReadInto(in, fd, rest);
    }
  }
  evbuffer_freeze(in, 0);
  errno = e;
  return r;
}

// What bufferevent_trigger(bev, EV_READ, 0) does here, without its reference count
// and lock: drover sets no read low-water mark, no deferred callbacks and no locks on
// these bufferevents. A callback that frees the bufferevent leaves its memory to
// libevent's finalizer, which runs later from the loop.
void RunReadCb(bufferevent* bev) {
  if (bev->readcb != nullptr) {
    bev->readcb(bev, bev->cbarg);
  }
}

// Stands in for bufferevent_socket's read callback on its read event (see DirectIo):
// the same contract (read timeout, EOF and errors to the event callback with reading
// turned off, the read high-water mark, the read callback after data), without the
// FIONREAD ioctl and the 4 KiB cap of evbuffer_read().
//
// The event's argument stays the bufferevent: libevent's finalizer takes it from
// there. A member connection's DirectIo (splice_read, head_first) is found through
// the bufferevent's callback argument.
void DirectReadCb(evutil_socket_t fd, short what, void* arg) noexcept {
  auto* bev = static_cast<bufferevent*>(arg);
  UpstreamConn* u =
      bev->readcb == UpstreamConn::ReadCb ? static_cast<UpstreamConn*>(bev->cbarg) : nullptr;
  DirectIo* w = u != nullptr ? &u->out_ : nullptr;
  short result = BEV_EVENT_READING;
  if (what == EV_TIMEOUT) {
    result |= BEV_EVENT_TIMEOUT;
  } else if (w != nullptr && w->splice_read) {
    RunReadCb(bev);  // the owner reads the socket
    return;
  } else {
    const bool head_first = w != nullptr && w->head_first;
    bool filled = false;
    ssize_t r = DirectRead(bev, fd, !head_first, &filled);
    if (r > 0) {
      RunReadCb(bev);
      // Nothing below touches bev unless it is still w's and in direct mode.
      if (head_first && filled && w->bev == bev && u->owner_ != nullptr && !w->splice_read &&
          (Enabled(bev) & EV_READ) != 0) {
        // The response goes on and its owner does not splice it: read on.
        evbuffer* in = bev->input;
        size_t rest = ReadRoom(bev, kDirectReadMax);
        if (rest > 0) {
          evbuffer_unfreeze(in, 0);
          ssize_t m = ReadInto(in, fd, rest);
          evbuffer_freeze(in, 0);
          if (m > 0) {
            RunReadCb(bev);
          }
        }
      }
      return;
    }
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        return;
      }
      result |= BEV_EVENT_ERROR;
    } else {
      result |= BEV_EVENT_EOF;
    }
  }
  bufferevent_disable(bev, EV_READ);
  bufferevent_trigger_event(bev, result, 0);
}

// Puts DirectReadCb on a plain socket bufferevent's read event.
void InstallDirectRead(bufferevent* bev) {
  short enabled = bufferevent_get_enabled(bev);
  if ((enabled & EV_READ) != 0) {
    bufferevent_disable(bev, EV_READ);  // event_assign() needs the event not pending
  }
  event_assign(&bev->ev_read, bufferevent_get_base(bev), bufferevent_getfd(bev),
               EV_READ | EV_PERSIST | EV_FINALIZE, DirectReadCb, bev);
  if ((enabled & EV_READ) != 0) {
    bufferevent_enable(bev, EV_READ);
  }
}

// The sanitizer build (.ci/run runs every test under it) checks DirectIo::out_len
// against libevent's count wherever it is updated or used; the release build trusts it.
void CheckOutLen(const DirectIo* w) {
#if defined(__SANITIZE_ADDRESS__)
  if (w->bev != nullptr && w->out_len != evbuffer_get_length(bufferevent_get_output(w->bev))) {
    fprintf(stderr, "drover: DirectIo::out_len %zu, output holds %zu\n", w->out_len,
            evbuffer_get_length(bufferevent_get_output(w->bev)));
    abort();
  }
#else
  (void)w;
#endif
}

}  // namespace

void Server::EnableDirectIo(DirectIo* w, bufferevent* bev) {
  if (w->bev == bev) {
    return;
  }
  w->server = this;
  w->bev = bev;
  w->fd = bufferevent_getfd(bev);
  w->queued = false;
  w->splice_read = false;
  w->head_first = false;
  InstallDirectRead(bev);
  evbuffer* out = bufferevent_get_output(bev);
  evbuffer_add_cb(out, OutputCb, w);
  w->out_len = evbuffer_get_length(out);
  if (w->out_len == 0) {
    bufferevent_disable(bev, EV_WRITE);
  } else {
    bufferevent_enable(bev, EV_WRITE);  // libevent sends what is there, then we take over
  }
}

void Server::ReadNow(DirectIo* w) { DirectReadCb(w->fd, EV_READ, w->bev); }

void Server::DisableDirectIo(DirectIo* w) {
  if (w->queued) {
    auto it = std::find(flush_.begin(), flush_.end(), w);
    if (it != flush_.end()) {
      flush_.erase(it);
    }
    w->queued = false;
  }
  if (w->bev != nullptr) {
    evbuffer_remove_cb(bufferevent_get_output(w->bev), OutputCb, w);
    w->bev = nullptr;
  }
}

void Server::DirectWriteDrained(DirectIo* w) {
  // bufferevent_disable() costs an event_del() even when writing is off already.
  if (w->bev != nullptr && (Enabled(w->bev) & EV_WRITE) != 0 && w->out_len == 0) {
    bufferevent_disable(w->bev, EV_WRITE);
  }
}

void Server::OutputCb(evbuffer*, const evbuffer_cb_info* info, void* arg) noexcept {
  auto* w = static_cast<DirectIo*>(arg);
  w->out_len = info->orig_size + info->n_added - info->n_deleted;
  CheckOutLen(w);
  if (info->n_added == 0 || w->queued || w->bev == nullptr) {
    return;
  }
  w->queued = true;
  if (w->server->flush_.empty()) {
    event_active(w->server->flush_ev_, EV_TIMEOUT, 0);  // already active otherwise
  }
  w->server->flush_.push_back(w);
}

void Server::FlushCb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<Server*>(arg)->FlushWriters();
}

// evbuffer_write() through send()/sendmsg(), which skip the VFS layer that
// writev() goes through (its fsnotify hooks among it). `flags` may add MSG_MORE
// (DirectIo::last_write); what can't be written now goes out later through
// libevent's own write, without MSG_MORE, which pushes out a held segment too.
int Server::WriteOut(evbuffer* out, int fd, int flags) {
  constexpr int kMaxIov = 16;
  iovec v[kMaxIov];
  int n = std::min(evbuffer_peek(out, -1, nullptr, v, kMaxIov), kMaxIov);
  ssize_t sent = SendVec(fd, v, n, flags);
  if (sent > 0) {
    evbuffer_drain(out, static_cast<size_t>(sent));
  }
  return static_cast<int>(sent);
}

ssize_t Server::SendVec(int fd, iovec* v, int n, int flags) {
  flags |= MSG_NOSIGNAL | MSG_DONTWAIT;
  if (n == 1) {
    return send(fd, v[0].iov_base, v[0].iov_len, flags);
  }
  msghdr msg{};
  msg.msg_iov = v;
  msg.msg_iovlen = static_cast<size_t>(n);
  return sendmsg(fd, &msg, flags);
}

bool Server::WritesThrough(const DirectIo* w) {
  CheckOutLen(w);
  return w->bev != nullptr && !w->queued && w->out_len == 0 && (Enabled(w->bev) & EV_WRITE) == 0;
}

int Server::ClampIovecs(iovec* v, int n, size_t total) {
  int used = 0;
  for (int i = 0; i < n && total > 0; ++i) {
    v[i].iov_len = std::min(v[i].iov_len, total);
    total -= v[i].iov_len;
    used = i + 1;
  }
  return used;
}

void Server::FlushWriters() {
  // One at a time from the back: callbacks may queue more writers or take
  // queued ones out (DisableDirectIo) while this runs.
  while (!flush_.empty()) {
    DirectIo* w = flush_.back();
    flush_.pop_back();
    w->queued = false;
    bufferevent* bev = w->bev;
    if (bev == nullptr || (Enabled(bev) & EV_WRITE) != 0) {
      continue;  // libevent's write event is already draining it
    }
    evbuffer* out = bufferevent_get_output(bev);
    if (evbuffer_get_length(out) != 0) {
      // bufferevent_socket keeps its output's front frozen so that only its
      // own write callback drains it; thaw it for this write.
      evbuffer_unfreeze(out, 1);
      int n = WriteOut(out, w->fd, w->last_write ? MSG_MORE : 0);
      evbuffer_freeze(out, 1);
      if (n < 0 || evbuffer_get_length(out) != 0) {
        // EAGAIN: wait for POLLOUT. An error: libevent's write meets it again
        // and reports it through the event callback, as for any write.
        bufferevent_enable(bev, EV_WRITE);
        continue;
      }
    }
    bufferevent_data_cb write_cb = nullptr;
    void* cb_arg = nullptr;
    bufferevent_getcb(bev, nullptr, &write_cb, nullptr, &cb_arg);
    if (write_cb != nullptr) {
      write_cb(bev, cb_arg);
    }
  }
}

void Server::ResolveMembers() {
  const auto& sc = config_->server;
  int64_t proxy_timeout = sc.proxy_timeout_ms >= 0 ? sc.proxy_timeout_ms : sc.timeout_ms;
  for (size_t b = 0; b < config_->balancers.size(); ++b) {
    const auto& bc = config_->balancers[b];
    // Room for runtime-added members too: MemberAddr pointers must stay valid.
    shm::BalancerSlot* bs = table_->balancer(static_cast<uint32_t>(b));
    size_t cap = bs != nullptr ? std::max<size_t>(bs->capacity, bc.members.size())
                               : bc.members.size();
    addrs_[b].reserve(cap);
    idle_[b].reserve(cap);
    addrs_[b].resize(bc.members.size());
    idle_[b].resize(bc.members.size());
    configured_members_[b] = static_cast<uint32_t>(bc.members.size());
    for (size_t m = 0; m < bc.members.size(); ++m) {
      const auto& mc = bc.members[m];
      MemberAddr& a = addrs_[b][m];
      a.url = mc.name;
      a.path = mc.url.path;
      a.timeout_ms = mc.timeout_ms >= 0 ? mc.timeout_ms : proxy_timeout;
      a.connect_timeout_ms = mc.connect_timeout_ms >= 0 ? mc.connect_timeout_ms : a.timeout_ms;
      a.disablereuse = mc.disablereuse;
      a.max = mc.max;
      a.scheme = mc.url.scheme;
      a.secret = mc.secret;
      a.ping_ms = mc.ping_ms;
      a.ajp_packet = static_cast<size_t>(config::AjpPacketSize(mc.iobuffersize));
      FillAddress(mc.url, bc.name, &a);
    }
  }
}

MemberAddr* Server::RuntimeMemberAddr(uint32_t b, uint32_t m) {
  if (b >= addrs_.size()) {
    return nullptr;
  }
  const auto& bc = config_->balancers[b];
  if (m < bc.members.size()) {
    return m < addrs_[b].size() ? &addrs_[b][m] : nullptr;
  }
  // A member added at run time (balancer-manager): resolved from its slot's URL
  // on first use, and again when the slot now holds another member.
  shm::MemberSlot* slot = table_->member(b, m);
  if (slot == nullptr || slot->in_use.load() == 0) {
    return nullptr;
  }
  if (m >= addrs_[b].size()) {
    addrs_[b].resize(m + 1);
    idle_[b].resize(m + 1);
  }
  MemberAddr& a = addrs_[b][m];
  std::string url(slot->url, strnlen(slot->url, sizeof(slot->url)));
  if (a.url == url && !url.empty()) {
    return &a;
  }
  // Another member now holds the slot: its predecessor's pooled connections go.
  for (UpstreamConn* u : idle_[b][m]) {
    DeferFree(u);
  }
  idle_[b][m].clear();
  int conns = a.conns;  // connections still lent out count until they close
  a = MemberAddr();
  a.conns = conns;
  a.url = url;
  auto parsed = config::ParseUrl(url);
  if (!parsed.ok()) {
    return &a;
  }
  const auto& sc = config_->server;
  a.scheme = parsed->scheme;
  a.path = parsed->path;
  a.timeout_ms = sc.proxy_timeout_ms >= 0 ? sc.proxy_timeout_ms : sc.timeout_ms;
  a.connect_timeout_ms = a.timeout_ms;
  FillAddress(*parsed, bc.name, &a);
  return &a;
}

void Server::Accept(int fd, const sockaddr* peer, int peer_len, uint16_t local_port, bool tls) {
  auto* c = new ClientConn(this, fd, peer, peer_len, local_port, tls);
  c->next_ = clients_;
  if (clients_ != nullptr) {
    clients_->prev_ = c;
  }
  clients_ = c;
  ++num_clients_;
  if (!c->Start()) {
    Unlink(c);
    delete c;
    return;
  }
  if (shutting_down_) {
    c->Shutdown();
  }
  if (AtConnectionLimit()) {
    ReclaimIdle(static_cast<size_t>(config_->global.worker_connections) / 20 + 1);
  }
  c->FirstRead();
  if (!accept_paused_ && AtConnectionLimit() && accept_control_ != nullptr) {
    accept_paused_ = true;
    accept_control_(accept_arg_, false);
    DLOG(kWarn, "%zu client + %zu member connections: WorkerConnections %d reached, "
         "pausing accept", num_clients_, num_upstreams_, config_->global.worker_connections);
  }
}

void Server::OnClientClosed() {
  size_t limit = static_cast<size_t>(config_->global.worker_connections);
  if (accept_paused_ && !shutting_down_ && num_clients_ + num_upstreams_ < limit * 9 / 10 &&
      accept_control_ != nullptr) {
    accept_paused_ = false;
    accept_control_(accept_arg_, true);
  }
}

size_t Server::ReclaimIdle(size_t want) {
  size_t closed = 0;
  for (auto& per_b : idle_) {
    for (auto& per_m : per_b) {
      // Oldest first: the pool is used from the back.
      while (!per_m.empty() && closed < want) {
        DeferFree(per_m.front());
        per_m.erase(per_m.begin());
        ++closed;
      }
    }
  }
  ClientConn* c = clients_;
  // The list is newest first: walk to the oldest idle ones by going to the end.
  ClientConn* last = nullptr;
  while (c != nullptr) {
    last = c;
    c = c->next_;
  }
  c = last;
  while (c != nullptr && closed < want) {
    ClientConn* prev = c->prev_;
    if (c->ReclaimIfIdle()) {
      ++closed;
    }
    c = prev;
  }
  if (closed > 0) {
    DLOG(kInfo, "WorkerConnections pressure: closed %zu idle keep-alive connections", closed);
  }
  return closed;
}

void Server::Unlink(ClientConn* c) {
  if (c->prev_ != nullptr) {
    c->prev_->next_ = c->next_;
  } else if (clients_ == c) {
    clients_ = c->next_;
  }
  if (c->next_ != nullptr) {
    c->next_->prev_ = c->prev_;
  }
  c->next_ = c->prev_ = nullptr;
  --num_clients_;
}

void Server::DeferFree(ClientConn* c) {
  Unlink(c);
  dead_clients_.push_back(c);
  event_active(reaper_, EV_TIMEOUT, 0);
  OnClientClosed();
}

void Server::DeferFree(UpstreamConn* u) {
  if (u->dead_) {
    return;
  }
  u->dead_ = true;
  u->owner_ = nullptr;
  DisableDirectIo(&u->out_);
  if (u->bev_ != nullptr) {
    // bufferevent_free() inside this bufferevent's own callback only drops a
    // reference: disable it and drop unsent bytes first, or libevent's write
    // callback would still send them (e.g. the head of a request found invalid
    // after it was queued).
    bufferevent_setcb(u->bev_, nullptr, nullptr, nullptr, nullptr);
    bufferevent_disable(u->bev_, EV_READ | EV_WRITE);
    evbuffer* out = bufferevent_get_output(u->bev_);
    evbuffer_drain(out, evbuffer_get_length(out));
    bufferevent_free(u->bev_);
    u->bev_ = nullptr;
  }
  dead_upstreams_.push_back(u);
  event_active(reaper_, EV_TIMEOUT, 0);
}

void Server::ReaperCb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<Server*>(arg)->Reap();
}

void Server::Reap() {
  // Swap first: destructors may defer more frees.
  while (!dead_clients_.empty() || !dead_upstreams_.empty()) {
    reaping_clients_.swap(dead_clients_);
    for (ClientConn* c : reaping_clients_) {
      delete c;
    }
    reaping_clients_.clear();
    reaping_upstreams_.swap(dead_upstreams_);
    for (UpstreamConn* u : reaping_upstreams_) {
      delete u;
    }
    reaping_upstreams_.clear();
  }
}

namespace {

constexpr size_t kSpareBuffers = 64;
// A set whose head strings or lists outgrew these goes back to the heap instead.
constexpr size_t kSpareStringMax = 8192;
constexpr size_t kSpareListMax = 64;

}  // namespace

bool ConnBuffers::Oversized() const {
  for (const std::string* s : {&head, &up_head, &resp_head}) {
    if (s->capacity() > kSpareStringMax) {
      return true;
    }
  }
  for (const auto* h : {&req_headers, &resp_headers, &out_headers}) {
    if (h->capacity() > kSpareListMax) {
      return true;
    }
  }
  return req_tokens.capacity() > kSpareListMax || resp_tokens.capacity() > kSpareListMax;
}

void ConnBuffers::Clear() {
  head.clear();
  up_head.clear();
  resp_head.clear();
  req_headers.clear();
  resp_headers.clear();
  out_headers.clear();
  req_tokens.clear();
  resp_tokens.clear();
}

bool Server::TakeBuffers(ConnBuffers* into) {
  if (spare_buffers_.empty()) {
    return false;
  }
  *into = std::move(spare_buffers_.back());
  spare_buffers_.pop_back();
  return true;
}

constexpr size_t kSparePipes = 16;
constexpr int kPipeSize = 256 * 1024;

bool Server::TakePipe(Pipe* p) {
  if (!spare_pipes_.empty()) {
    *p = spare_pipes_.back();
    spare_pipes_.pop_back();
    return true;
  }
  if (pipe2(p->fd, O_NONBLOCK | O_CLOEXEC) != 0) {
    return false;
  }
  // A pipe holds 16 buffers, a page each when spliced from TCP: 60 KiB a call.
  // Room for 256 KiB (64 buffers) moves a 64 KiB body with one splice() each way.
  // Failing (over fs.pipe-max-size or the user's pipe quota) only costs calls.
  (void)fcntl(p->fd[1], F_SETPIPE_SZ, kPipeSize);
  return true;
}

void Server::GivePipe(Pipe* p, bool empty) {
  if (!p->open()) {
    return;
  }
  if (empty && spare_pipes_.size() < kSparePipes) {
    spare_pipes_.push_back(*p);
  } else {
    close(p->fd[0]);
    close(p->fd[1]);
  }
  *p = Pipe();
}

void Server::GiveBuffers(ConnBuffers* from) {
  if (spare_buffers_.size() >= kSpareBuffers || from->Oversized()) {
    return;
  }
  from->Clear();
  if (spare_buffers_.capacity() == 0) {
    spare_buffers_.reserve(kSpareBuffers);
  }
  spare_buffers_.push_back(std::move(*from));
}

UpstreamConn* Server::TakeIdle(uint32_t b, uint32_t m, bool tls, const std::string& tls_host) {
  // First: member_addr() drops the pool of a slot that changed members.
  MemberAddr* a = member_addr(b, m);
  if (b >= idle_.size() || m >= idle_[b].size()) {
    return nullptr;
  }
  // Newest first. The pool key is (balancer, member, scheme, TLS name): a slot of a
  // member added at run time may come to hold another URL, and with ProxyPreserveHost
  // the TLS name of an https:// member follows the request's Host.
  auto& v = idle_[b][m];
  for (size_t i = v.size(); i-- > 0;) {
    UpstreamConn* u = v[i];
    if (u->dead_ || u->bev_ == nullptr) {
      v.erase(v.begin() + static_cast<long>(i));
      continue;
    }
    if (a == nullptr || a->scheme != u->scheme_) {
      v.erase(v.begin() + static_cast<long>(i));
      DeferFree(u);  // the slot's member changed protocol (balancer-manager)
      continue;
    }
    if (u->tls_ != tls || (tls && u->tls_host_ != tls_host)) {
      continue;
    }
    v.erase(v.begin() + static_cast<long>(i));
    if (core::CoarseMonotonicMs() - u->idle_since_ms_ > kIdleUpstreamMs) {
      DeferFree(u);  // idle too long to trust (its read timeout closes the older ones)
      continue;
    }
    u->reused_ = true;
    return u;
  }
  return nullptr;
}

void Server::PutIdle(UpstreamConn* u) {
  uint32_t b = u->balancer_;
  uint32_t m = u->member_;
  if (shutting_down_ || b >= idle_.size() || m >= idle_[b].size() ||
      idle_[b][m].size() >= kMaxIdlePerMember) {
    DeferFree(u);
    return;
  }
  u->owner_ = nullptr;
  // While idle: any byte or event from the member closes the connection (the
  // read watermark is already 0, see OnUpstreamConnected), and so does the read
  // timeout: at least kIdleUpstreamMs, else the member's own timeout, so that
  // with timeouts of 60 s or more (the default) nothing changes between busy
  // and idle (SetBevTimeouts is then free). TakeIdle skips connections idle
  // longer than kIdleUpstreamMs.
  EnableRead(u->bev_);
  u->idle_since_ms_ = core::CoarseMonotonicMs();
  MemberAddr* a = member_addr(b, m);
  int64_t busy = a != nullptr ? a->timeout_ms : kIdleUpstreamMs;
  SetBevTimeouts(u->bev_, &u->timeouts_, std::max(busy, kIdleUpstreamMs), busy);
  idle_[b][m].push_back(u);
}

void Server::DropIdle(UpstreamConn* u) {
  uint32_t b = u->balancer_;
  uint32_t m = u->member_;
  if (b < idle_.size() && m < idle_[b].size()) {
    auto& v = idle_[b][m];
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] == u) {
        v.erase(v.begin() + static_cast<long>(i));
        break;
      }
    }
  }
  DeferFree(u);
}

void Server::BeginShutdown() {
  if (shutting_down_) {
    return;
  }
  shutting_down_ = true;
  for (auto& per_b : idle_) {
    for (auto& per_m : per_b) {
      for (UpstreamConn* u : per_m) {
        DeferFree(u);
      }
      per_m.clear();
    }
  }
  ClientConn* c = clients_;
  while (c != nullptr) {
    ClientConn* next = c->next_;
    c->Shutdown();
    c = next;
  }
}

void Server::ReopenLogs() {
  std::string err;
  if (!core::ErrorLog::Reopen(&err)) {
    DLOG(kError, "reopen: %s", err.c_str());
  }
  const auto& path = config_->server.access_log;
  if (access_log_fd_ >= 0 && !path.empty()) {
    int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      DLOG(kError, "open(\"%s\") failed (%d: %s)", path.c_str(), errno, strerror(errno));
      return;
    }
    dup2(fd, access_log_fd_);
    close(fd);
  }
}

}  // namespace drover::proxy
