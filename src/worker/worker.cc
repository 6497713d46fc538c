// Worker process: privilege drop, event loop, listeners, signals. The proxy
// itself lives in proxy/ (Server, ClientConn). QUIT drains gracefully (stop
// accepting, finish in-flight exchanges, bounded by GracefulShutdownTimeout);
// TERM exits at once; USR1 reopens logs.
#include "worker/worker.h"

#include <event2/listener.h>
#include <malloc.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/log.h"
#include "proxy/server.h"
#include "worker/event_util.h"
#include "worker/privileges.h"

namespace drover::worker {
namespace {

class Worker {
 public:
  explicit Worker(const WorkerContext& ctx) : ctx_(ctx) {}
  int Run();

 private:
  struct ListenerCtx {
    Worker* worker;
    ListenerPtr listener;
    uint16_t port;
    bool tls;
  };

  static void AcceptCb(evconnlistener* l, evutil_socket_t fd, sockaddr* addr, int len,
                       void* arg) noexcept;
  static void AcceptErrorCb(evconnlistener* l, void* arg) noexcept;
  static void SignalCb(evutil_socket_t sig, short, void* arg) noexcept;
  static void DrainCheckCb(evutil_socket_t, short, void* arg) noexcept;
  static void AcceptControl(void* arg, bool enable);
  static void ResumeAcceptCb(evutil_socket_t, short, void* arg) noexcept;

  void BeginGraceful();
  void StopAccepting();

  const WorkerContext& ctx_;
  EventBasePtr base_;
  std::unique_ptr<proxy::Server> server_;
  std::vector<std::unique_ptr<ListenerCtx>> listeners_;
  std::vector<EventPtr> signals_;
  EventPtr drain_timer_;
  EventPtr resume_timer_;
  bool graceful_ = false;
  int64_t graceful_deadline_us_ = 0;
};

void Worker::AcceptCb(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len,
                      void* arg) noexcept {
  auto* lc = static_cast<ListenerCtx*>(arg);
  lc->worker->server_->Accept(fd, addr, len, lc->port, lc->tls);
}

void Worker::AcceptErrorCb(evconnlistener* l, void* arg) noexcept {
  auto* lc = static_cast<ListenerCtx*>(arg);
  int e = EVUTIL_SOCKET_ERROR();
  if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
    // Out of descriptors: pause accepting for a moment instead of spinning.
    DLOG(kError, "accept() failed (%d: %s), pausing accept for 100 ms", e, strerror(e));
    for (auto& other : lc->worker->listeners_) {
      evconnlistener_disable(other->listener.get());
    }
    struct timeval tv = {0, 100000};
    evtimer_add(lc->worker->resume_timer_.get(), &tv);
    return;
  }
  (void)l;
  DLOG(kWarn, "accept() failed (%d: %s)", e, strerror(e));
}

void Worker::ResumeAcceptCb(evutil_socket_t, short, void* arg) noexcept {
  auto* w = static_cast<Worker*>(arg);
  if (!w->graceful_) {
    for (auto& l : w->listeners_) {
      evconnlistener_enable(l->listener.get());
    }
  }
}

void Worker::AcceptControl(void* arg, bool enable) {
  auto* w = static_cast<Worker*>(arg);
  if (w->graceful_) {
    return;
  }
  for (auto& l : w->listeners_) {
    if (enable) {
      evconnlistener_enable(l->listener.get());
    } else {
      evconnlistener_disable(l->listener.get());
    }
  }
}

void Worker::SignalCb(evutil_socket_t sig, short, void* arg) noexcept {
  auto* w = static_cast<Worker*>(arg);
  switch (sig) {
    case SIGQUIT:
      DLOG(kInfo, "worker %d: graceful shutdown", static_cast<int>(getpid()));
      w->BeginGraceful();
      break;
    case SIGTERM:
    case SIGINT:
      event_base_loopbreak(w->base_.get());
      break;
    case SIGUSR1:
      w->server_->ReopenLogs();
      break;
    default:
      break;
  }
}

void Worker::StopAccepting() {
  if (ctx_.state != nullptr) {
    ctx_.state->accepting.store(0);
  }
  // Closing our copy of each listening socket: the master and the new
  // generation keep theirs, so no pending connection is lost.
  listeners_.clear();
}

void Worker::BeginGraceful() {
  if (graceful_) {
    return;
  }
  graceful_ = true;
  StopAccepting();
  server_->BeginShutdown();
  graceful_deadline_us_ = proxy::WallUs() + ctx_.config->global.graceful_shutdown_timeout_ms * 1000;
  struct timeval tv = {0, 50000};
  event_add(drain_timer_.get(), &tv);
}

void Worker::DrainCheckCb(evutil_socket_t, short, void* arg) noexcept {
  auto* w = static_cast<Worker*>(arg);
  if (w->server_->Drained()) {
    event_base_loopexit(w->base_.get(), nullptr);
    return;
  }
  if (proxy::WallUs() > w->graceful_deadline_us_) {
    DLOG(kWarn, "worker %d: GracefulShutdownTimeout reached with %zu connections open",
         static_cast<int>(getpid()), w->server_->num_clients());
    event_base_loopexit(w->base_.get(), nullptr);
    return;
  }
  struct timeval tv = {0, 50000};
  event_add(w->drain_timer_.get(), &tv);
}

int Worker::Run() {
  const auto& cfg = *ctx_.config;
  // WorkerConnections connections, listeners, logs and spare pipes; room for a splice
  // pipe (two descriptors) for each client connection, at most half of them, when
  // the hard limit allows (without it a body is copied instead of spliced).
  const uint64_t conns = static_cast<uint64_t>(cfg.global.worker_connections);
  RaiseFileLimit(2 * conns + 64, conns + 64);
  if (ctx_.drop_privileges) {
    auto st = DropPrivileges(cfg.global.user, cfg.global.group);
    if (!st.ok()) {
      DLOG(kEmerg, "%s", st.message().c_str());
      return kExitFatal;
    }
  }
  // Die with the master (set after setuid: credential changes clear it).
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() == 1) {
    return 0;
  }
  if (ctx_.table == nullptr || !ctx_.table->Valid()) {
    DLOG(kEmerg, "worker: shared memory slot table is invalid");
    return kExitFatal;
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  // Bodies pass through 64 KiB evbuffer chains that are freed as soon as they
  // are sent: with glibc's 128 KiB trim threshold every large response moved
  // the heap top up and down (brk() twice per 64 KiB response). Keep up to
  // 4 MiB of free heap top instead. Setting it turns off glibc's adaptive mmap
  // threshold, so fix that too (blocks up to 1 MiB come from the heap).
  mallopt(M_TRIM_THRESHOLD, 4 * 1024 * 1024);
  mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
  base_.reset(event_base_new());
  if (!base_) {
    DLOG(kEmerg, "event_base_new() failed");
    return kExitFatal;
  }
  server_ = std::make_unique<proxy::Server>(base_.get(), ctx_.config, ctx_.table,
                                            ctx_.access_log_fd, ctx_.status_secret);
  if (!server_->Init()) {
    DLOG(kEmerg, "worker: proxy initialisation failed");
    return kExitFatal;
  }
  server_->set_accept_control(&Worker::AcceptControl, this);
  server_->set_tls(ctx_.tls_server, ctx_.tls_client);
  for (int sig : {SIGQUIT, SIGTERM, SIGINT, SIGUSR1}) {
    signals_.emplace_back(evsignal_new(base_.get(), sig, SignalCb, this));
    evsignal_add(signals_.back().get(), nullptr);
  }
  drain_timer_.reset(evtimer_new(base_.get(), DrainCheckCb, this));
  resume_timer_.reset(evtimer_new(base_.get(), ResumeAcceptCb, this));
  for (const auto& ls : ctx_.listeners) {
    int fd = dup(ls.fd);  // our own copy, closed when we stop accepting
    if (fd < 0) {
      DLOG(kEmerg, "dup(%d) failed (%d: %s)", ls.fd, errno, strerror(errno));
      return kExitFatal;
    }
    auto lc = std::make_unique<ListenerCtx>();
    lc->worker = this;
    lc->port = ls.config.port;
    lc->tls = ls.config.ssl;
    lc->listener.reset(evconnlistener_new(base_.get(), AcceptCb, lc.get(),
                                          LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd));
    if (!lc->listener) {
      DLOG(kEmerg, "evconnlistener_new(%s) failed", ls.config.text.c_str());
      close(fd);
      return kExitFatal;
    }
    evconnlistener_set_error_cb(lc->listener.get(), AcceptErrorCb);
    listeners_.push_back(std::move(lc));
  }
  // The inherited listening descriptors are the master's: close ours so a
  // draining worker holds none (its dup()s above are closed on StopAccepting).
  for (const auto& ls : ctx_.listeners) {
    close(ls.fd);
  }
  if (ctx_.state != nullptr) {
    ctx_.state->accepting.store(1);
  }
  DLOG(kInfo, "worker %d started (generation %llu)", static_cast<int>(getpid()),
       static_cast<unsigned long long>(ctx_.generation));
  event_base_dispatch(base_.get());
  listeners_.clear();
  server_.reset();
  signals_.clear();
  drain_timer_.reset();
  resume_timer_.reset();
  base_.reset();
  return 0;
}

}  // namespace

int RunWorker(const WorkerContext& ctx) {
  Worker w(ctx);
  return w.Run();
}

}  // namespace drover::worker
