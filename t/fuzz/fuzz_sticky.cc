// libFuzzer target: balancer::FindSessionRoute (src/balancer/sticky.cc), the
// cookie / URL parameter route parser, with three fixed BalancerConfigs (the
// seed's JSESSIONID|jsessionid with '.', stickysessionsep=Off with
// scolonpathdelim, a two-character separator). The input is split on '\n':
// line 1 is the path, line 2 (when present) the query, the rest Cookie header
// values. Checks memory/UB errors and that the answer is consistent: the
// value found lies inside the request, a URL value never holds a delimiter
// it should have stopped at, and the route is the value's text after its first separator.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "balancer/balancer.h"
#include "fuzz_util.h"

namespace {

using drover::balancer::FindSessionRoute;
using drover::balancer::PickRequest;
using drover::config::BalancerConfig;
using drover::fuzz::Check;

std::vector<BalancerConfig> MakeConfigs() {
  std::vector<BalancerConfig> v(3);
  v[0].name = "mycluster";
  v[0].sticky_cookie = "JSESSIONID";
  v[0].sticky_urlparam = "jsessionid";
  v[0].sticky_sep = ".";
  v[1].name = "off";
  v[1].sticky_cookie = "BALANCEID";
  v[1].sticky_sep = "";
  v[1].scolonpathdelim = true;
  v[2].name = "two";
  v[2].sticky_cookie = "ROUTEID";
  v[2].sticky_urlparam = "route";
  v[2].sticky_sep = "--";
  v[2].scolonpathdelim = true;
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<BalancerConfig> configs = MakeConfigs();
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> lines;
  for (size_t at = 0;;) {
    const size_t nl = in.find('\n', at);
    lines.push_back(in.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at));
    if (nl == std::string_view::npos) {
      break;
    }
    at = nl + 1;
  }
  PickRequest req;
  req.path = lines[0];
  if (lines.size() > 1) {
    req.has_query = true;
    req.query = lines[1];
  }
  for (size_t i = 2; i < lines.size(); ++i) {
    req.cookies.push_back(lines[i]);
  }
  for (const BalancerConfig& cfg : configs) {
    std::string value = "stale";
    const std::string route = FindSessionRoute(cfg, req, &value);
    Check(FindSessionRoute(cfg, req) == route, "same route without found_value");
    if (value.empty()) {
      Check(route.empty(), "a route needs a value");
      continue;
    }
    Check(in.find(value) != std::string_view::npos, "value comes from the request");
    if (req.cookies.empty()) {  // then the value came from the URL
      Check(value.find_first_of(cfg.scolonpathdelim ? "?&;" : "?&") == std::string::npos,
            "url values stop at ? and & (and ; with scolonpathdelim)");
    }
    if (cfg.sticky_sep.empty()) {
      Check(route == value, "stickysessionsep=Off: the route is the value");
    } else {
      const size_t sep = value.find(cfg.sticky_sep);
      Check(route == (sep == std::string::npos ? std::string()
                                               : value.substr(sep + cfg.sticky_sep.size())),
            "route after the first separator");
    }
  }
  return 0;
}
