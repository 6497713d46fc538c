// Micro-benchmarks of response header rewriting: Location reverse mapping
// (http::ReverseMapUrl) over a balancer's two members, hit and miss, and
// Set-Cookie Domain/Path rewriting (http::RewriteSetCookie), hit and miss.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "http/rewrite.h"

namespace {

using drover::http::CookieMap;
using drover::http::ReverseMap;

// ProxyPassReverse / balancer://b/ with two members, plus a path-only map.
std::vector<ReverseMap> Maps() {
  ReverseMap bal;
  bal.fake = "/";
  bal.reals = {"http://127.0.0.1:8081/", "http://127.0.0.1:8082/"};
  ReverseMap legacy;
  legacy.fake = "/old/";
  legacy.reals = {"/legacy/"};
  legacy.real_is_path = true;
  return {legacy, bal};
}

void BM_ReverseMapUrl(benchmark::State& state) {
  const std::vector<ReverseMap> maps = Maps();
  const std::string value = state.range(0) == 0
                                ? "http://127.0.0.1:8082/app/login?next=%2Fapp%2Fcart"
                                : "https://sso.example.org/authorize?client_id=shop";
  state.SetLabel(state.range(0) == 0 ? "second member" : "no match");
  for (auto _ : state) {
    auto out = drover::http::ReverseMapUrl(value, maps, "https", "shop.example.com");
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ReverseMapUrl)->Arg(0)->Arg(1);

void BM_RewriteSetCookie(benchmark::State& state) {
  const std::vector<CookieMap> domains = {{"backend.internal", "shop.example.com"}};
  const std::vector<CookieMap> paths = {{"/app", "/"}};
  const std::string value =
      state.range(0) == 0
          ? "JSESSIONID=8F3A1C0B9D2E4F6A.node2; Domain=Backend.Internal; Path=/app/cart; "
            "HttpOnly; Secure; SameSite=Lax"
          : "theme=dark; Domain=cdn.example.net; Path=/static; Max-Age=86400";
  state.SetLabel(state.range(0) == 0 ? "domain+path" : "no match");
  for (auto _ : state) {
    auto out = drover::http::RewriteSetCookie(value, domains, paths);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_RewriteSetCookie)->Arg(0)->Arg(1);

}  // namespace
