// Rendering of balancer snapshots as the balancer-manager's JSON and HTML
// page (internal to status/). Pure; runs in workers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "status/members.h"

namespace drover::status {

struct PageInfo {
  std::string_view base;          // the balancer-manager path
  std::string_view nonce;
  std::string_view server_name;
  std::string_view metrics_path;  // "" when off
  uint64_t generation = 0;
  int64_t now_ms = 0;
  std::string_view notice;        // shown at the top of the page ("" none)
};

// A member's status as badge names, in this order: Ok (usable), Ign, Drain,
// Dis, Stby, Spare, Stop, Err, HcFail. The page's CSS class is the lower-cased name.
std::vector<const char*> Badges(uint32_t status, bool usable);
// "off" (no health check configured), "pending" (none run yet), "ok", "failed".
const char* HealthState(const MemberSnapshot& m);

void AppendMemberJson(std::string* out, const MemberSnapshot& m);
void AppendBalancerJson(std::string* out, const BalancerSnapshot& b);
std::string RenderJson(const std::vector<BalancerSnapshot>& balancers, const PageInfo& info);
std::string RenderHtml(const std::vector<BalancerSnapshot>& balancers, const PageInfo& info);
// The page's one inline script (the Content-Security-Policy carries its hash).
std::string_view PageScript();

}  // namespace drover::status
