#include "master/master.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/clock.h"
#include "core/log.h"
#include "core/strings.h"
#include "health/checker.h"
#include "master/listeners.h"
#include "shm/slot_table.h"
#include "tls/tls.h"
#include "worker/privileges.h"
#include "worker/worker.h"

namespace drover::master {
namespace {

volatile sig_atomic_t g_reload = 0;
volatile sig_atomic_t g_quit = 0;
volatile sig_atomic_t g_terminate = 0;
volatile sig_atomic_t g_reopen = 0;
volatile sig_atomic_t g_child = 0;
volatile sig_atomic_t g_alarm = 0;

void SignalCb(int sig) noexcept {
  switch (sig) {
    case SIGHUP: g_reload = 1; break;
    case SIGQUIT: g_quit = 1; break;
    case SIGTERM:
    case SIGINT: g_terminate = 1; break;
    case SIGUSR1: g_reopen = 1; break;
    case SIGCHLD: g_child = 1; break;
    case SIGALRM: g_alarm = 1; break;
    default: break;
  }
}

std::string Errno(int e) { return "(" + std::to_string(e) + ": " + strerror(e) + ")"; }

// In a forked child (worker or health checker): the default dispositions of
// the master's signals and an empty mask; the child installs its own handlers.
void ResetChildSignals() {
  for (int sig : {SIGHUP, SIGQUIT, SIGTERM, SIGINT, SIGUSR1, SIGCHLD, SIGALRM}) {
    signal(sig, SIG_DFL);
  }
  sigset_t empty;
  sigemptyset(&empty);
  sigprocmask(SIG_SETMASK, &empty, nullptr);
}

// sd_notify protocol, spoken directly (no libsystemd): one datagram to $NOTIFY_SOCKET.
void SdNotify(const char* state) {
  const char* path = getenv("NOTIFY_SOCKET");
  if (path == nullptr || path[0] == '\0') {
    return;
  }
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return;
  }
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  size_t n = strlen(path);
  if (n >= sizeof(sa.sun_path)) {
    close(fd);
    return;
  }
  memcpy(sa.sun_path, path, n);
  if (sa.sun_path[0] == '@') {
    sa.sun_path[0] = '\0';  // abstract namespace
  }
  sendto(fd, state, strlen(state), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&sa),
         static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n));
  close(fd);
}

// The pid in `path` when it names a live drover process, else 0.
pid_t LiveDroverPid(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  if (!(in >> pid) || pid <= 0) {
    return 0;
  }
  if (kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) {
    return 0;
  }
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  if (name.find("drover") == std::string::npos) {
    return 0;
  }
  return static_cast<pid_t>(pid);
}

struct Child {
  pid_t pid = 0;
  bool health = false;     // the health-check process, not a worker
  int state_index = -1;
  uint64_t generation = 0;
  int slot = 0;
  bool stopping = false;   // told to exit (old generation or shutdown)
  int64_t stop_deadline_ms = 0;
};

class Master {
 public:
  Master(std::shared_ptr<const config::Config> config, const MasterOptions& options)
      : config_(std::move(config)), options_(options) {}

  int Run();

 private:
  bool Start();
  core::Status OpenLogs(const config::Config& c, int* access_fd);
  void ChownToWorker(int fd);
  pid_t SpawnWorker(int slot);
  pid_t SpawnHealthChecker();
  void SpawnWorkers();
  void Reap();
  void Reload();
  void Reopen();
  void StopGeneration(uint64_t generation, int sig, int64_t deadline_ms);
  void SignalAll(int sig);
  bool AnyChildren() const { return !children_.empty(); }
  bool HasCurrentWorkers() const {
    for (const auto& c : children_) {
      if (c.generation == generation_ && !c.stopping && !c.health) {
        return true;
      }
    }
    return false;
  }
  void WaitAccepting(int64_t max_ms);
  void KillOverdue();
  void WaitNotAccepting(uint64_t generation, int64_t max_ms);
  int WorkerCount() const;
  void WritePidFile();
  void MaybeRotateTicketKeys();

  // The TLS contexts of one configuration (either may be null: not needed).
  struct TlsContexts {
    std::unique_ptr<tls::ServerContext> server;
    std::unique_ptr<tls::ClientContext> client;
  };
  core::Status BuildTls(const config::Config& c, TlsContexts* out);

  std::shared_ptr<const config::Config> config_;
  MasterOptions options_;
  std::vector<Listener> listeners_;
  std::unique_ptr<shm::SlotTable> table_;
  std::vector<Child> children_;
  uint64_t generation_ = 1;
  int access_fd_ = -1;
  std::string pid_file_;
  worker::WorkerState* states_ = nullptr;  // kMaxWorkerStates entries, MAP_SHARED
  int exit_code_ = 0;
  std::string status_secret_;  // balancer-manager nonce secret of this generation
  void NewStatusSecret();
  int start_failure_code_ = 2;  // Run()'s exit code when Start() fails
  // Session ticket keys: one MAP_SHARED region for the master's whole life (every
  // generation's workers resume each other's sessions, also across reloads).
  std::unique_ptr<tls::TicketKeys> ticket_keys_;
  int64_t next_rotation_ms_ = 0;
  TlsContexts tls_;  // of config_; workers get them through fork
};

// Builds the contexts `c` needs, as root and before fork: certificates and keys are read
// here, never in a worker. Errors are "FILE:LINE: Directive: message".
core::Status Master::BuildTls(const config::Config& c, TlsContexts* out) {
  if (tls::NeedsServerContext(c)) {
    auto server = tls::ServerContext::Create(c, ticket_keys_.get());
    if (!server.ok()) {
      return server.status();
    }
    out->server = std::move(*server);
  }
  if (tls::NeedsClientContext(c)) {
    auto client = tls::ClientContext::Create(c);
    if (!client.ok()) {
      return client.status();
    }
    out->client = std::move(*client);
  }
  return core::Status::Ok();
}

// Called from the master loop (woken at least every second by alarm()): a new current
// ticket key every SSLSessionTicketKeyRotation; the previous one still decrypts.
void Master::MaybeRotateTicketKeys() {
  if (ticket_keys_ == nullptr || tls_.server == nullptr) {
    return;
  }
  int64_t now = core::MonotonicMs();
  int64_t period = config_->server.ssl_session_ticket_key_rotation_ms;
  if (period <= 0) {
    return;
  }
  if (next_rotation_ms_ == 0) {
    next_rotation_ms_ = now + period;
    return;
  }
  if (now < next_rotation_ms_) {
    return;
  }
  next_rotation_ms_ = now + period;
  auto st = ticket_keys_->Rotate();
  if (!st.ok()) {
    DLOG(kError, "%s (keeping the current key)", st.message().c_str());
    return;
  }
  DLOG(kInfo, "tls session ticket keys rotated (rotation %llu)",
       static_cast<unsigned long long>(ticket_keys_->generation()));
}

void Master::NewStatusSecret() {
  status_secret_.assign(32, '\0');
  if (getrandom(status_secret_.data(), status_secret_.size(), 0) !=
      static_cast<ssize_t>(status_secret_.size())) {
    DLOG(kError, "getrandom() failed %s: balancer-manager edits are disabled",
         Errno(errno).c_str());
    status_secret_.clear();
  }
}

int Master::WorkerCount() const {
  int n = config_->global.worker_processes;
  if (n <= 0) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    n = cpus > 0 ? static_cast<int>(cpus) : 1;
  }
  return n;
}

void Master::ChownToWorker(int fd) {
  if (fd < 0 || geteuid() != 0) {
    return;
  }
  auto id = worker::ResolveIdentity(config_->global.user, config_->global.group);
  if (id.ok() && fchown(fd, id->uid, id->gid) != 0) {
    DLOG(kWarn, "fchown(log, %d, %d) failed %s", static_cast<int>(id->uid),
         static_cast<int>(id->gid), Errno(errno).c_str());
  }
}

core::Status Master::OpenLogs(const config::Config& c, int* access_fd) {
  *access_fd = -1;
  if (!c.server.access_log.empty()) {
    int fd = open(c.server.access_log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      return core::Status::Error("open(\"" + c.server.access_log + "\") failed " + Errno(errno));
    }
    *access_fd = fd;
  }
  return core::Status::Ok();
}

void Master::WritePidFile() {
  pid_file_ = config_->global.pid_file;
  if (pid_file_.empty()) {
    return;
  }
  std::string tmp = pid_file_ + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    DLOG(kError, "open(\"%s\") failed %s", tmp.c_str(), Errno(errno).c_str());
    return;
  }
  std::string s = std::to_string(getpid()) + "\n";
  ssize_t w = write(fd, s.data(), s.size());
  (void)w;
  close(fd);
  if (rename(tmp.c_str(), pid_file_.c_str()) != 0) {
    DLOG(kError, "rename(\"%s\") failed %s", pid_file_.c_str(), Errno(errno).c_str());
  }
}

bool Master::Start() {
  const auto& g = config_->global;
  void* states = mmap(nullptr, sizeof(worker::WorkerState) * worker::kMaxWorkerStates,
                      PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (states == MAP_FAILED) {
    fprintf(stderr, "drover: mmap() failed %s\n", Errno(errno).c_str());
    return false;
  }
  states_ = static_cast<worker::WorkerState*>(states);
  // Before the first fork, kept for the master's life (a HUP may add `ssl` listeners).
  auto keys = tls::TicketKeys::Create();
  if (!keys.ok()) {
    fprintf(stderr, "drover: %s\n", keys.status().message().c_str());
    return false;
  }
  ticket_keys_ = std::move(*keys);
  {
    TlsContexts contexts;
    auto tst = BuildTls(*config_, &contexts);
    if (!tst.ok()) {
      fprintf(stderr, "drover: %s\n", tst.message().c_str());
      start_failure_code_ = 1;  // a configuration error, like `drover -t` reports it
      return false;
    }
    tls_ = std::move(contexts);
  }
  if (!g.pid_file.empty()) {
    pid_t live = LiveDroverPid(g.pid_file);
    if (live != 0 && live != getpid()) {
      fprintf(stderr, "drover: %s names a running drover (pid %d); not starting\n",
              g.pid_file.c_str(), static_cast<int>(live));
      return false;
    }
  }
  if (geteuid() == 0) {
    auto id = worker::ResolveIdentity(g.user, g.group);
    if (!id.ok()) {
      fprintf(stderr, "drover: %s: User/Group: %s\n", config_->file.c_str(),
              id.status().message().c_str());
      return false;
    }
  }
  std::string err;
  if (!core::ErrorLog::Open(g.error_log, g.log_level, &err)) {
    fprintf(stderr, "drover: ErrorLog: %s\n", err.c_str());
    return false;
  }
  ChownToWorker(core::ErrorLog::fd() > 2 ? core::ErrorLog::fd() : -1);
  auto st = OpenLogs(*config_, &access_fd_);
  if (!st.ok()) {
    fprintf(stderr, "drover: CustomLog: %s\n", st.message().c_str());
    return false;
  }
  ChownToWorker(access_fd_);
  auto ls = OpenListeners(*config_, WorkerCount(), nullptr);
  if (!ls.ok()) {
    fprintf(stderr, "drover: %s\n", ls.status().message().c_str());
    return false;
  }
  listeners_ = std::move(*ls);
  auto table = shm::SlotTable::Create(*config_, nullptr, generation_);
  if (!table.ok()) {
    fprintf(stderr, "drover: %s\n", table.status().message().c_str());
    return false;
  }
  table_ = std::move(*table);
  return true;
}

pid_t Master::SpawnWorker(int slot) {
  int index = -1;
  for (int i = 0; i < worker::kMaxWorkerStates; ++i) {
    if (states_[i].pid.load() == 0) {
      index = i;
      break;
    }
  }
  if (index < 0) {
    DLOG(kAlert, "too many worker processes (%d)", worker::kMaxWorkerStates);
    return -1;
  }
  states_[index].pid.store(-1);
  states_[index].accepting.store(0);
  pid_t pid = fork();
  if (pid < 0) {
    DLOG(kAlert, "fork() failed %s", Errno(errno).c_str());
    states_[index].pid.store(0);  // the state slot is free again
    return -1;
  }
  if (pid == 0) {
    worker::WorkerContext ctx;
    ctx.config = config_;
    for (const auto& l : listeners_) {
      if (static_cast<size_t>(slot) < l.fds.size()) {
        ctx.listeners.push_back({l.fds[static_cast<size_t>(slot)], l.config});
      }
    }
    ctx.table = table_.get();
    ctx.access_log_fd = access_fd_;
    ctx.generation = generation_;
    ctx.slot = slot;
    ctx.state = &states_[index];
    ctx.status_secret = status_secret_;
    ctx.tls_server = tls_.server.get();
    ctx.tls_client = tls_.client.get();
    ResetChildSignals();
    _exit(worker::RunWorker(ctx));
  }
  states_[index].pid.store(pid);
  Child c;
  c.pid = pid;
  c.state_index = index;
  c.generation = generation_;
  c.slot = slot;
  children_.push_back(c);
  return pid;
}

void Master::SpawnWorkers() {
  int n = WorkerCount();
  for (int i = 0; i < n; ++i) {
    SpawnWorker(i);
  }
  if (health::NeedsHealthChecker(*config_)) {
    SpawnHealthChecker();
  }
}

// One process runs every active health check of the generation (results go
// to the slot table); respawned like a worker.
pid_t Master::SpawnHealthChecker() {
  pid_t pid = fork();
  if (pid < 0) {
    DLOG(kAlert, "fork() failed %s", Errno(errno).c_str());
    return -1;
  }
  if (pid == 0) {
    ResetChildSignals();
    for (auto& l : listeners_) {
      for (int fd : l.fds) {
        if (fd >= 0) {
          close(fd);
        }
      }
    }
    health::HealthContext ctx;
    ctx.config = config_;
    ctx.table = table_.get();
    ctx.generation = generation_;
    ctx.tls_client = tls_.client.get();
    _exit(health::RunHealthChecker(ctx));
  }
  Child c;
  c.pid = pid;
  c.health = true;
  c.generation = generation_;
  children_.push_back(c);
  return pid;
}

void Master::StopGeneration(uint64_t generation, int sig, int64_t deadline_ms) {
  for (auto& c : children_) {
    if (c.generation == generation && !c.stopping) {
      c.stopping = true;
      c.stop_deadline_ms = deadline_ms;
      kill(c.pid, sig);
    }
  }
}

void Master::SignalAll(int sig) {
  for (auto& c : children_) {
    kill(c.pid, sig);
  }
}

// Waits (up to `max_ms`) until no worker of `generation` is accepting.
void Master::WaitNotAccepting(uint64_t generation, int64_t max_ms) {
  int64_t deadline = core::MonotonicMs() + max_ms;
  while (core::MonotonicMs() < deadline) {
    bool any = false;
    for (const auto& c : children_) {
      if (c.generation == generation && c.state_index >= 0 &&
          states_[c.state_index].accepting.load() != 0 && kill(c.pid, 0) == 0) {
        any = true;
        break;
      }
    }
    if (!any) {
      return;
    }
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, nullptr);
  }
  DLOG(kWarn, "old workers still accepting after %lld ms", static_cast<long long>(max_ms));
}

// Waits (up to `max_ms`) until every worker of the current generation accepts
// (READY=1 is sent after it), or one has exited.
void Master::WaitAccepting(int64_t max_ms) {
  int64_t deadline = core::MonotonicMs() + max_ms;
  while (core::MonotonicMs() < deadline) {
    bool all = true;
    for (const auto& c : children_) {
      if (c.generation == generation_ && c.state_index >= 0 &&
          states_[c.state_index].accepting.load() == 0) {
        siginfo_t info{};
        if (waitid(P_PID, static_cast<id_t>(c.pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
            info.si_pid != 0) {
          continue;  // exited: Reap() will deal with it
        }
        all = false;
        break;
      }
    }
    if (all) {
      return;
    }
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, nullptr);
  }
}

void Master::KillOverdue() {
  int64_t now = core::MonotonicMs();
  for (auto& c : children_) {
    if (c.stopping && c.stop_deadline_ms != 0 && now > c.stop_deadline_ms) {
      DLOG(kWarn, "worker %d did not exit in time, sending SIGKILL", static_cast<int>(c.pid));
      kill(c.pid, SIGKILL);
      c.stop_deadline_ms = 0;
    }
  }
}

void Master::Reap() {
  while (true) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) {
      return;
    }
    for (size_t i = 0; i < children_.size(); ++i) {
      if (children_[i].pid != pid) {
        continue;
      }
      Child c = children_[i];
      children_.erase(children_.begin() + static_cast<long>(i));
      if (c.state_index >= 0) {
        states_[c.state_index].accepting.store(0);
        states_[c.state_index].pid.store(0);
      }
      if (c.stopping) {
        DLOG(kInfo, "worker %d (generation %llu) exited", static_cast<int>(pid),
             static_cast<unsigned long long>(c.generation));
        break;
      }
      if (WIFSIGNALED(status)) {
        DLOG(kAlert, "worker %d exited on signal %d", static_cast<int>(pid), WTERMSIG(status));
      } else {
        DLOG(kAlert, "worker %d exited with code %d", static_cast<int>(pid), WEXITSTATUS(status));
      }
      if (WIFEXITED(status) && WEXITSTATUS(status) == worker::kExitFatal) {
        DLOG(kAlert, "worker %d exited with fatal error and will not be respawned",
             static_cast<int>(pid));
        break;
      }
      if (c.generation == generation_ && !g_quit && !g_terminate && c.health) {
        pid_t np = SpawnHealthChecker();
        DLOG(kNotice, "respawned health checker %d as %d", static_cast<int>(pid),
             static_cast<int>(np));
      } else if (c.generation == generation_ && !g_quit && !g_terminate) {
        pid_t np = SpawnWorker(c.slot);
        DLOG(kNotice, "respawned worker %d as %d", static_cast<int>(pid), static_cast<int>(np));
      }
      break;
    }
  }
}

void Master::Reload() {
  SdNotify("RELOADING=1");
  DLOG(kNotice, "reloading configuration %s", options_.load.file.c_str());
  auto loaded = config::Load(options_.load);
  if (!loaded.ok()) {
    DLOG(kError, "reload failed, keeping the running configuration: %s",
         loaded.status().message().c_str());
    SdNotify("READY=1");
    return;
  }
  std::shared_ptr<const config::Config> next = *loaded;
  // Certificates and keys are read now, as root; a bad one keeps the old configuration.
  TlsContexts next_tls;
  auto tst = BuildTls(*next, &next_tls);
  if (!tst.ok()) {
    DLOG(kError, "reload failed, keeping the running configuration: %s", tst.message().c_str());
    SdNotify("READY=1");
    return;
  }
  std::string err;
  int new_access = -1;
  auto st = OpenLogs(*next, &new_access);
  if (!st.ok()) {
    DLOG(kError, "reload failed, keeping the running configuration: %s", st.message().c_str());
    SdNotify("READY=1");
    return;
  }
  int slots = next->global.worker_processes > 0 ? next->global.worker_processes
                                                 : static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  if (slots <= 0) {
    slots = 1;
  }
  auto ls = OpenListeners(*next, slots, &listeners_);
  if (!ls.ok()) {
    DLOG(kError, "reload failed, keeping the running configuration: %s",
         ls.status().message().c_str());
    if (new_access >= 0) {
      close(new_access);
    }
    SdNotify("READY=1");
    return;
  }
  auto table = shm::SlotTable::Create(*next, table_.get(), generation_ + 1);
  if (!table.ok()) {
    DLOG(kError, "reload failed, keeping the running configuration: %s",
         table.status().message().c_str());
    // Give the sockets back: `listeners_` had them moved out.
    for (auto& nl : *ls) {
      for (size_t i = 0; i < nl.fds.size(); ++i) {
        bool back = false;
        for (auto& ol : listeners_) {
          if (ol.Key() == nl.Key() && i < ol.fds.size() && ol.fds[i] < 0) {
            ol.fds[i] = nl.fds[i];
            back = true;
            break;
          }
        }
        if (!back) {
          close(nl.fds[i]);
        }
      }
    }
    if (new_access >= 0) {
      close(new_access);
    }
    SdNotify("READY=1");
    return;
  }
  if (!core::ErrorLog::Open(next->global.error_log, next->global.log_level, &err)) {
    DLOG(kError, "reload: ErrorLog: %s (keeping the old error log)", err.c_str());
  }
  uint64_t old_generation = generation_;
  CloseListeners(&listeners_);  // the ones not carried over
  listeners_ = std::move(*ls);
  if (access_fd_ >= 0) {
    close(access_fd_);
  }
  config_ = next;
  // The old generation keeps its own (forked) copies of the old contexts.
  tls_ = std::move(next_tls);
  access_fd_ = new_access;
  ChownToWorker(access_fd_);
  ChownToWorker(core::ErrorLog::fd() > 2 ? core::ErrorLog::fd() : -1);
  table_ = std::move(*table);
  ++generation_;
  // Old workers stop accepting first (their in-flight requests go on); new
  // connections wait in the backlog until the new generation accepts them.
  StopGeneration(old_generation, SIGQUIT,
                 core::MonotonicMs() + config_->global.graceful_shutdown_timeout_ms + 5000);
  WaitNotAccepting(old_generation, 500);
  NewStatusSecret();
  SpawnWorkers();
  WaitAccepting(5000);
  DLOG(kNotice, "configuration reloaded, generation %llu",
       static_cast<unsigned long long>(generation_));
  SdNotify("READY=1");
}

void Master::Reopen() {
  std::string err;
  if (!core::ErrorLog::Reopen(&err)) {
    DLOG(kError, "reopen: %s", err.c_str());
  }
  ChownToWorker(core::ErrorLog::fd() > 2 ? core::ErrorLog::fd() : -1);
  int fd = -1;
  auto st = OpenLogs(*config_, &fd);
  if (!st.ok()) {
    DLOG(kError, "reopen: %s", st.message().c_str());
  } else {
    if (access_fd_ >= 0) {
      close(access_fd_);
    }
    access_fd_ = fd;
    ChownToWorker(access_fd_);
  }
  SignalAll(SIGUSR1);
  DLOG(kNotice, "log files reopened");
}

int Master::Run() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGHUP, SIGQUIT, SIGTERM, SIGINT, SIGUSR1, SIGCHLD, SIGALRM}) {
    sigaddset(&set, sig);
  }
  if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) {
    fprintf(stderr, "drover: sigprocmask() failed %s\n", Errno(errno).c_str());
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = SignalCb;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGHUP, SIGQUIT, SIGTERM, SIGINT, SIGUSR1, SIGCHLD, SIGALRM}) {
    sigaction(sig, &sa, nullptr);
  }
  signal(SIGPIPE, SIG_IGN);

  if (!Start()) {
    return start_failure_code_;
  }
  if (!options_.foreground) {
    pid_t pid = fork();
    if (pid < 0) {
      fprintf(stderr, "drover: fork() failed %s\n", Errno(errno).c_str());
      return 2;
    }
    if (pid > 0) {
      _exit(0);
    }
    setsid();
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
      if (core::ErrorLog::fd() != 2) {
        dup2(devnull, 2);
      }
      if (devnull > 2) {
        close(devnull);
      }
    }
  }
  WritePidFile();
  NewStatusSecret();
  SpawnWorkers();
  WaitAccepting(5000);
  DLOG(kNotice, "drover %s started, %d workers", DROVER_VERSION, WorkerCount());
  SdNotify("READY=1");

  sigset_t empty;
  sigemptyset(&empty);
  bool shutting_down = false;
  bool fast = false;
  while (true) {
    if (!g_child && !g_reload && !g_quit && !g_terminate && !g_reopen && !g_alarm) {
      alarm(1);
      sigsuspend(&empty);
    }
    if (g_child) {
      g_child = 0;
      Reap();
    }
    if (g_alarm) {
      g_alarm = 0;
      KillOverdue();
    }
    MaybeRotateTicketKeys();
    if (g_terminate) {
      g_terminate = 0;
      if (!fast) {
        // TERM/INT, also during a graceful shutdown: close everything now.
        fast = true;
        shutting_down = true;
        SdNotify("STOPPING=1");
        DLOG(kNotice, "fast shutdown");
        for (auto& c : children_) {
          c.stopping = true;
          c.stop_deadline_ms = core::MonotonicMs() + 3000;
          kill(c.pid, SIGTERM);
        }
        CloseListeners(&listeners_);
      }
    }
    if (g_quit) {
      g_quit = 0;
      if (!shutting_down) {
        shutting_down = true;
        SdNotify("STOPPING=1");
        DLOG(kNotice, "graceful shutdown");
        for (auto& c : children_) {
          if (!c.stopping) {
            c.stopping = true;
            c.stop_deadline_ms = core::MonotonicMs() + config_->global.graceful_shutdown_timeout_ms + 5000;
            kill(c.pid, SIGQUIT);
          }
        }
        CloseListeners(&listeners_);
      }
    }
    if (!shutting_down && !HasCurrentWorkers()) {
      // Every worker exited fatally (nginx's exit code 2): nothing can serve.
      DLOG(kEmerg, "no worker is running and none can be respawned; exiting");
      shutting_down = true;
      exit_code_ = 2;
    }
    if (shutting_down) {
      g_reload = 0;
      g_reopen = 0;
      if (!AnyChildren()) {
        break;
      }
      continue;
    }
    if (g_reload) {
      g_reload = 0;
      Reload();
    }
    if (g_reopen) {
      g_reopen = 0;
      Reopen();
    }
  }
  CloseListeners(&listeners_);
  if (!pid_file_.empty()) {
    unlink(pid_file_.c_str());
  }
  DLOG(kNotice, "exiting");
  return exit_code_;
}

}  // namespace

int RunMaster(std::shared_ptr<const config::Config> config, const MasterOptions& options) {
  Master m(std::move(config), options);
  return m.Run();
}

int SendSignal(const config::Config& config, const std::string& name) {
  int sig = 0;
  if (name == "reload") {
    sig = SIGHUP;
  } else if (name == "reopen") {
    sig = SIGUSR1;
  } else if (name == "quit") {
    sig = SIGQUIT;
  } else if (name == "stop") {
    sig = SIGTERM;
  } else {
    fprintf(stderr, "drover: unknown signal '%s' (reload, reopen, quit or stop)\n", name.c_str());
    return 1;
  }
  const std::string& path = config.global.pid_file;
  std::ifstream in(path);
  long pid = 0;
  if (!(in >> pid) || pid <= 0) {
    fprintf(stderr, "drover: cannot read a pid from PidFile %s\n", path.c_str());
    return 1;
  }
  if (kill(static_cast<pid_t>(pid), sig) != 0) {
    fprintf(stderr, "drover: kill(%ld, %s) failed %s\n", pid, name.c_str(), Errno(errno).c_str());
    return 1;
  }
  return 0;
}

}  // namespace drover::master
