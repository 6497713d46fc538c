// Micro-benchmarks of the balancer hot path: a byrequests pick under the
// balancer's robust shm lock with 1, 2, 4 and 8 processes contending (the
// benchmark thread measures while N-1 forked children pick in a loop), and a
// sticky pick (route extraction alone: sticky_bench.cc). Deterministic inputs;
// the children are stopped through a shared flag and reaped (SIGKILL by pid
// only as a fallback).
#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "balancer/balancer.h"
#include "config/config.h"
#include "shm/slot_table.h"

namespace {

using drover::balancer::Balancer;
using drover::balancer::PickRequest;
using drover::balancer::PickResult;

constexpr int64_t kNow = 1'700'000'000'000;

struct Control {
  std::atomic<int> started;
  std::atomic<int> stop;
};

drover::config::MemberConfig Member(const std::string& url, const std::string& route,
                                    int lbfactor) {
  drover::config::MemberConfig m;
  m.name = url;
  m.route = route;
  m.lbfactor = lbfactor;
  return m;
}

// Loadfactors 1, 2, 1 (the SPEC example) plus a fourth member, sticky cookie
// configured so that the sticky benchmark has routes to find.
drover::config::Config BenchConfig() {
  drover::config::Config cfg;
  drover::config::BalancerConfig b;
  b.name = "bench";
  b.members = {
      Member("http://10.0.0.1:80", "node1", 100), Member("http://10.0.0.2:80", "node2", 200),
      Member("http://10.0.0.3:80", "node3", 100), Member("http://10.0.0.4:80", "node4", 100)};
  b.sticky_cookie = "JSESSIONID";
  b.sticky_urlparam = "jsessionid";
  cfg.balancers.push_back(b);
  return cfg;
}

bool WaitExited(pid_t pid, int timeout_ms) {
  for (int waited = 0; waited < timeout_ms; ++waited) {
    int st = 0;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid || r < 0) {
      return true;
    }
    usleep(1000);
  }
  return false;
}

// One byrequests pick (no route in the request) per iteration, measured in
// this process while range(0)-1 other processes pick on the same balancer.
void BM_PickContended(benchmark::State& state) {
  const int procs = static_cast<int>(state.range(0));
  drover::config::Config cfg = BenchConfig();
  auto created = drover::shm::SlotTable::Create(cfg, nullptr, 1);
  if (!created.ok()) {
    state.SkipWithError(created.status().message().c_str());
    return;
  }
  std::unique_ptr<drover::shm::SlotTable> table = std::move(created.value());
  Balancer bal(&cfg.balancers[0], table.get(), 0);
  void* mem =
      mmap(nullptr, sizeof(Control), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    state.SkipWithError("mmap failed");
    return;
  }
  Control* ctl = new (mem) Control{};
  const PickRequest no_route;
  const std::vector<int> tried;

  std::vector<pid_t> children;
  for (int i = 1; i < procs; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      ctl->started.fetch_add(1);
      while (ctl->stop.load(std::memory_order_relaxed) == 0) {
        PickResult r = bal.Pick(no_route, tried, kNow);
        benchmark::DoNotOptimize(r.member);
      }
      _exit(0);
    }
    if (pid > 0) {
      children.push_back(pid);
    }
  }
  while (ctl->started.load() < static_cast<int>(children.size())) {
    usleep(100);
  }

  for (auto _ : state) {
    PickResult r = bal.Pick(no_route, tried, kNow);
    benchmark::DoNotOptimize(r.member);
  }

  ctl->stop.store(1);
  for (pid_t pid : children) {
    if (!WaitExited(pid, 2000)) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  uint64_t elected = 0;
  for (uint32_t m = 0; m < bal.num_members(); ++m) {
    elected += bal.slot(m)->elected.load();
  }
  state.counters["procs"] = procs;
  state.counters["all_picks"] = static_cast<double>(elected);
  munmap(mem, sizeof(Control));
}
BENCHMARK(BM_PickContended)->Arg(1)->Arg(2)->Arg(4)->Arg(8)->UseRealTime();

// A sticky pick (cookie route to a usable member, Apache's accounting), one process.
void BM_PickSticky(benchmark::State& state) {
  drover::config::Config cfg = BenchConfig();
  auto created = drover::shm::SlotTable::Create(cfg, nullptr, 1);
  if (!created.ok()) {
    state.SkipWithError(created.status().message().c_str());
    return;
  }
  std::unique_ptr<drover::shm::SlotTable> table = std::move(created.value());
  Balancer bal(&cfg.balancers[0], table.get(), 0);
  PickRequest req;
  req.path = "/app/cart/items";
  req.cookies = {"lang=en; JSESSIONID=8F3A1C0B9D2E4F6A.node3; theme=dark"};
  const std::vector<int> tried;
  for (auto _ : state) {
    PickResult r = bal.Pick(req, tried, kNow);
    benchmark::DoNotOptimize(r.member);
  }
}
BENCHMARK(BM_PickSticky);

}  // namespace
