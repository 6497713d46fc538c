// RunHealthChecker as a real process (forked, drop_privileges=false) against
// loopback servers this test controls: an HTTP member whose health URL answers
// 500 gets C within hcinterval x hcfails and comes back (C and E cleared,
// recovered_ms stamped) after hcpasses once it answers 200; a TCP member on a
// closed port goes down, one on a listening port stays up; a member added at
// run time and a config member removed at run time (in_use = 0) are never
// checked; the request bytes are exact; QUIT ends the
// process at once with a check in flight. hcinterval is 1 s (the config's
// minimum), so this takes about 4 s.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../balancer/test_balancer.h"
#include "core/log.h"
#include "health/checker.h"
#include "shm/slot_table.h"

namespace drover::health {
namespace {

using balancer::testing::MakeBalancer;
using config::HealthCheck;
using config::kFlagError;
using config::kFlagHcFailed;

int64_t MonoMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Polls `pred` every 20 ms until it holds or `ms` pass; returns whether it held.
template <typename Pred>
bool WaitFor(Pred pred, int64_t ms) {
  int64_t deadline = MonoMs() + ms;
  while (!pred()) {
    if (MonoMs() >= deadline) {
      return false;
    }
    usleep(20000);
  }
  return true;
}

int ListenLoopback(uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 || listen(fd, 64) != 0) {
    close(fd);
    return -1;
  }
  socklen_t len = sizeof(sa);
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  *port = ntohs(sa.sin_port);
  return fd;
}

// A tiny HTTP/1.0 server on its own thread: answers every request with
// `status` (switchable), records the requests, or (hang) never answers.
class TinyServer {
 public:
  explicit TinyServer(int listen_fd) : fd_(listen_fd) {}
  ~TinyServer() { Stop(); }

  void Start() {
    thread_ = std::thread([this] { Loop(); });
  }
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) {
      thread_.join();
    }
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
    for (int c : hung_) {
      close(c);
    }
    hung_.clear();
  }
  void set_status(int s) { status_.store(s); }
  void set_hang(bool h) { hang_.store(h); }
  int requests() const { return requests_.load(); }
  std::string last_request() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_;
  }

 private:
  void Loop() {
    while (!stop_.load()) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) {
        continue;
      }
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        continue;
      }
      if (hang_.load()) {
        hung_.push_back(c);  // never answered, closed at Stop
        continue;
      }
      std::string req;
      char buf[4096];
      timeval tv{2, 0};
      setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      while (req.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = recv(c, buf, sizeof(buf), 0);
        if (n <= 0) {
          break;
        }
        req.append(buf, static_cast<size_t>(n));
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        last_ = req;
      }
      requests_.fetch_add(1);
      int s = status_.load();
      std::string body = "status " + std::to_string(s) + "\n";
      std::string resp = "HTTP/1.0 " + std::to_string(s) +
                         " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
      ssize_t w = send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
      (void)w;
      close(c);
    }
  }

  int fd_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> status_{500};
  std::atomic<bool> hang_{false};
  std::atomic<int> requests_{0};
  std::mutex mu_;
  std::string last_;
  std::vector<int> hung_;
};

config::MemberConfig Member(const std::string& url_text, HealthCheck::Method method,
                            const std::string& uri, int passes, int fails) {
  config::MemberConfig m;
  m.url = config::ParseUrl(url_text).value();
  m.name = m.url.Origin() + m.url.path;
  m.hc.method = method;
  m.hc.uri = uri;
  m.hc.interval_ms = 1000;
  m.hc.passes = passes;
  m.hc.fails = fails;
  m.timeout_ms = 1000;
  return m;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(HealthProcess, MarksDownAndUpAndQuitsPromptly) {
  uint16_t http_port = 0;
  uint16_t tcp_port = 0;
  uint16_t dead_port = 0;
  int http_fd = ListenLoopback(&http_port);
  int tcp_fd = ListenLoopback(&tcp_port);  // accepts (backlog) and never answers
  int dead_fd = ListenLoopback(&dead_port);
  ASSERT_GE(http_fd, 0);
  ASSERT_GE(tcp_fd, 0);
  ASSERT_GE(dead_fd, 0);
  close(dead_fd);  // nothing listens there any more: connection refused

  const std::string web = "http://127.0.0.1:" + std::to_string(http_port) + "/app";
  auto config = std::make_shared<config::Config>();
  config->server.proxy_timeout_ms = 1000;
  config->balancers.push_back(MakeBalancer(
      "hc",
      {Member(web, HealthCheck::Method::kGet, "/health?x=1", 2, 2),
       Member("http://127.0.0.1:" + std::to_string(tcp_port), HealthCheck::Method::kTcp, "", 1, 1),
       Member("http://127.0.0.1:" + std::to_string(dead_port), HealthCheck::Method::kTcp, "", 1,
              1),
       // Removed by the balancer-manager before the checker starts: any check
       // (nothing listens on 127.0.0.2) would stamp hc_last_ms and set C.
       Member("http://127.0.0.2:" + std::to_string(tcp_port), HealthCheck::Method::kTcp, "", 1,
              1)}));
  config->balancers.back().growth = 1;
  auto table_r = shm::SlotTable::Create(*config, nullptr, 7);
  ASSERT_TRUE(table_r.ok()) << table_r.status().message();
  std::unique_ptr<shm::SlotTable> table = std::move(table_r.value());
  shm::MemberSlot* web_slot = table->member(0, 0);
  shm::MemberSlot* tcp_slot = table->member(0, 1);
  shm::MemberSlot* dead_slot = table->member(0, 2);
  shm::MemberSlot* removed_slot = table->member(0, 3);
  ASSERT_NE(removed_slot, nullptr);
  removed_slot->in_use.store(0);  // what RemoveMember does to a config member
  // A member added at run time (growth slot) without health check: never checked.
  shm::MemberSlot* added = table->member(0, 4);
  ASSERT_NE(added, nullptr);
  shm::CopyString(added->key, shm::kKeyMax, shm::SlotTable::MakeKey("hc", "http://127.0.0.1:1"));
  shm::CopyString(added->url, shm::kKeyMax, "http://127.0.0.1:1");
  added->lbfactor.store(100);
  added->in_use.store(1);
  table->balancer(0)->num_members.store(5);

  char log_template[] = "/tmp/drover-health-test-XXXXXX";
  int log_fd = mkstemp(log_template);
  ASSERT_GE(log_fd, 0);
  close(log_fd);
  const std::string log_path = log_template;

  // Fork before the server thread starts: the child is single-threaded.
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string err;
    core::ErrorLog::Open(log_path, core::LogLevel::kDebug, &err);
    HealthContext ctx;
    ctx.config = config;
    ctx.table = table.get();
    ctx.generation = 7;
    ctx.drop_privileges = false;
    _exit(RunHealthChecker(ctx));
  }
  TinyServer server(http_fd);
  server.set_status(500);
  server.Start();
  const int64_t t0 = MonoMs();

  // hcfails=2 at hcinterval=1 s: down after the second check, at about 1 s.
  ASSERT_TRUE(WaitFor([&] { return (web_slot->status.load() & kFlagHcFailed) != 0; }, 3500))
      << ReadFile(log_path);
  const int64_t down_after = MonoMs() - t0;
  EXPECT_LE(down_after, 3500);
  EXPECT_GE(web_slot->hc_fails.load(), 2);
  EXPECT_GT(web_slot->hc_last_ms.load(), 0);
  EXPECT_EQ(server.last_request(),
            "GET /app/health?x=1 HTTP/1.0\r\nHost: 127.0.0.1:" + std::to_string(http_port) +
                "\r\nUser-Agent: drover-health-check\r\nConnection: close\r\n\r\n");
  // TCP: the closed port is down after one check; the listening one passes.
  ASSERT_TRUE(WaitFor([&] { return (dead_slot->status.load() & kFlagHcFailed) != 0; }, 2000));
  ASSERT_TRUE(WaitFor([&] { return tcp_slot->hc_passes.load() >= 2; }, 3000));
  EXPECT_EQ(tcp_slot->status.load() & kFlagHcFailed, 0u);
  EXPECT_EQ(tcp_slot->hc_fails.load(), 0);

  // The TCP member is removed at run time: no check is recorded for it from
  // then on (one in flight at the removal has 100 ms to finish first).
  tcp_slot->in_use.store(0);
  const int64_t t_removed = MonoMs();
  usleep(100 * 1000);
  const int64_t tcp_last = tcp_slot->hc_last_ms.load();
  const int32_t tcp_passes = tcp_slot->hc_passes.load();

  // The member also got E from traffic meanwhile; then its health URL recovers.
  web_slot->status.fetch_or(kFlagError);
  const int64_t before_up_wall = static_cast<int64_t>(time(nullptr)) * 1000 - 1000;
  server.set_status(200);
  const int64_t t1 = MonoMs();
  ASSERT_TRUE(WaitFor([&] { return (web_slot->status.load() & kFlagHcFailed) == 0; }, 3500))
      << ReadFile(log_path);
  EXPECT_LE(MonoMs() - t1, 3500);
  EXPECT_EQ(web_slot->status.load() & (kFlagHcFailed | kFlagError), 0u);  // both cleared
  EXPECT_GE(web_slot->hc_passes.load(), 2);
  EXPECT_EQ(web_slot->hc_fails.load(), 0);
  EXPECT_GE(web_slot->recovered_ms.load(), before_up_wall);

  // Never checked: the runtime-added member and the removed config member.
  EXPECT_EQ(added->hc_last_ms.load(), 0);
  EXPECT_EQ(added->status.load(), 0u);
  EXPECT_EQ(removed_slot->hc_last_ms.load(), 0);
  EXPECT_EQ(removed_slot->hc_passes.load(), 0);
  EXPECT_EQ(removed_slot->hc_fails.load(), 0);
  EXPECT_EQ(removed_slot->status.load(), 0u);
  // More than one hcinterval since the removal, and no result recorded.
  int64_t since_removal = MonoMs() - t_removed;
  if (since_removal < 1300) {
    usleep(static_cast<useconds_t>((1300 - since_removal) * 1000));
  }
  EXPECT_EQ(tcp_slot->hc_last_ms.load(), tcp_last);
  EXPECT_EQ(tcp_slot->hc_passes.load(), tcp_passes);

  // QUIT with a check in flight (the server now hangs): the process exits at once.
  server.set_hang(true);
  usleep(1200 * 1000);  // the next check starts and waits for an answer
  int requests_before = server.requests();
  const int64_t tq = MonoMs();
  ASSERT_EQ(kill(pid, SIGQUIT), 0);
  int status = 0;
  pid_t done = 0;
  ASSERT_TRUE(WaitFor([&] { return (done = waitpid(pid, &status, WNOHANG)) == pid; }, 2000));
  EXPECT_LT(MonoMs() - tq, 1000);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(server.requests(), requests_before);
  server.Stop();
  close(tcp_fd);

  std::string log = ReadFile(log_path);
  EXPECT_NE(log.find("health check: balancer hc member " + web +
                     " failed 2 times (status 500), marked down"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("health check: balancer hc member " + web + " passed 2 times, marked up"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("health check: balancer hc member http://127.0.0.1:" +
                     std::to_string(dead_port) + " failed 1 times (connect() failed (111: "),
            std::string::npos)
      << log;
  unlink(log_path.c_str());
}

TEST(HealthProcess, FatalWhenTheTableIsMissing) {
  auto config = std::make_shared<config::Config>();
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string err;
    core::ErrorLog::Open("/dev/null", core::LogLevel::kEmerg, &err);
    HealthContext ctx;
    ctx.config = config;
    ctx.drop_privileges = false;
    _exit(RunHealthChecker(ctx));
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);  // worker::kExitFatal: do not respawn
}

}  // namespace
}  // namespace drover::health
