// Micro-benchmarks of request routing (proxy::MatchRoute) over a [server]
// with 10 ProxyPass prefix rules followed by 5 ProxyPassMatch regex rules,
// built by the real config loader (so regexes are compiled as in a worker,
// JIT when available). Cases: first rule, last prefix rule, last regex rule,
// no rule at all (every rule tried).
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "config/config.h"
#include "proxy/router.h"

namespace {

const char kConfig[] = R"([global]
WorkerProcesses = 1
ErrorLog = stderr
[server]
Listen = 127.0.0.1:8080
CustomLog = off
ProxyPass = /api/v1 balancer://b/api/v1
ProxyPass = /api/v2 balancer://b/api/v2
ProxyPass = /static/ balancer://b/assets/
ProxyPass = /images/ balancer://b/img/
ProxyPass = /app/admin !
ProxyPass = /app/ balancer://b/app/
ProxyPass = /shop/cart balancer://b/cart
ProxyPass = /shop/checkout balancer://b/checkout
ProxyPass = /docs/ balancer://b/manual/
ProxyPass = /legacy balancer://b/old
ProxyPassMatch = ^/user/([0-9]+)/profile$ balancer://b/profile?id=$1
ProxyPassMatch = ^/(css|js)/(.*)\.(min\.)?(css|js)$ balancer://b/assets/$1/$2.$4
ProxyPassMatch = \.(gif|png|jpe?g|webp)$ balancer://b
ProxyPassMatch = ^/blog/([0-9]{4})/([0-9]{2})/(.+)$ balancer://b/blog?y=$1&m=$2&slug=$3
ProxyPassMatch = ^/report/(.*)\.pdf$ balancer://b/reports/$1.pdf
[balancer://b]
BalancerMember = http://127.0.0.1:8081
BalancerMember = http://127.0.0.1:8082
)";

std::shared_ptr<const drover::config::Config> LoadConfig(std::string* error) {
  drover::config::LoadOptions opts;
  opts.file = "router_bench.conf";
  opts.prefix = "/tmp";
  auto loaded = drover::config::LoadFromString(kConfig, opts);
  if (!loaded.ok()) {
    *error = loaded.status().message();
    return nullptr;
  }
  return loaded.value();
}

void BM_MatchRoute(benchmark::State& state) {
  std::string error;
  auto cfg = LoadConfig(&error);
  if (cfg == nullptr) {
    state.SkipWithError(error.c_str());
    return;
  }
  std::string path;
  std::string query;
  switch (state.range(0)) {
    case 0:
      path = "/api/v1/orders/12345";
      query = "expand=items";
      state.SetLabel("first prefix");
      break;
    case 1:
      path = "/legacy/index.jsp";
      state.SetLabel("10th prefix");
      break;
    case 2:
      path = "/report/2023/q4-summary.pdf";
      query = "download=1";
      state.SetLabel("5th regex");
      break;
    default:
      path = "/nothing/matches/here.txt";
      state.SetLabel("no match");
      break;
  }
  const int expect_rule = state.range(0) == 3 ? 0 : 1;
  for (auto _ : state) {
    drover::proxy::Route r = drover::proxy::MatchRoute(cfg->server, path, query, !query.empty());
    if ((r.rule != nullptr) != (expect_rule != 0)) {
      state.SkipWithError("unexpected routing result");
      return;
    }
    benchmark::DoNotOptimize(r.path.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["rules"] = static_cast<double>(cfg->server.rules.size());
}
BENCHMARK(BM_MatchRoute)->Arg(0)->Arg(1)->Arg(2)->Arg(3);

}  // namespace
