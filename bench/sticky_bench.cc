// Micro-benchmarks of sticky route extraction (balancer::FindSessionRoute),
// no lock: the route in a cookie among others, in a path parameter, in the
// query, and the common miss (stickiness configured, no route sent).
#include <benchmark/benchmark.h>

#include <string>

#include "balancer/balancer.h"
#include "config/config.h"

namespace {

using drover::balancer::PickRequest;

drover::config::BalancerConfig StickyBalancer() {
  drover::config::BalancerConfig b;
  b.name = "bench";
  for (int i = 1; i <= 4; ++i) {
    drover::config::MemberConfig m;
    m.name = "http://10.0.0." + std::to_string(i) + ":80";
    m.route = "node" + std::to_string(i);
    b.members.push_back(m);
  }
  b.sticky_cookie = "JSESSIONID";
  b.sticky_urlparam = "jsessionid";
  return b;
}

void BM_FindSessionRoute(benchmark::State& state) {
  const drover::config::BalancerConfig b = StickyBalancer();
  PickRequest req;
  switch (state.range(0)) {
    case 0:
      req.path = "/app/cart/items";
      req.cookies = {
          "lang=en; _ga=GA1.2.3456789.1234567890; JSESSIONID=8F3A1C0B9D2E4F6A.node3; "
          "theme=dark"};
      state.SetLabel("cookie");
      break;
    case 1:
      req.path = "/app/cart/items;jsessionid=8F3A1C0B9D2E4F6A.node3";
      state.SetLabel("path param");
      break;
    case 2:
      req.path = "/app/cart/items";
      req.query = "page=2&sort=asc&jsessionid=8F3A1C0B9D2E4F6A.node3";
      req.has_query = true;
      req.cookies = {"lang=en; theme=dark"};
      state.SetLabel("query param");
      break;
    default:
      req.path = "/app/cart/items";
      req.query = "page=2&sort=asc";
      req.has_query = true;
      req.cookies = {"lang=en; _ga=GA1.2.3456789.1234567890; theme=dark", "consent=yes"};
      state.SetLabel("no route");
      break;
  }
  std::string found;
  for (auto _ : state) {
    std::string route = drover::balancer::FindSessionRoute(b, req, &found);
    benchmark::DoNotOptimize(route.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_FindSessionRoute)->Arg(0)->Arg(1)->Arg(2)->Arg(3);

}  // namespace
