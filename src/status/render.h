// Rendering of balancer snapshots as the balancer-manager's JSON and HTML
// page (internal to status/). Pure; runs in workers.
//
// The JSON document (GET PATH?format=json, GET PATH/api). Counters are JSON
// integers, times are wall-clock ms (0 = never); removed members are absent.
//   {"server": str, "version": str, "generation": int, "now_ms": int,
//    "nonce": str,              // send it back with every edit
//    "api": "PATH/api",
//    "balancers": [{
//      "index": int, "name": str, "lbmethod": "byrequests|bybusyness|bytraffic",
//      "stickysession": "COOKIE|PARAM" or "", "stickysessionsep": str,
//      "nofailover": bool, "maxattempts": int (resolved),
//      "maxattempts_setting": int (-1 = members - 1), "timeout_ms": int,
//      "forcerecovery": bool, "failonstatus": [int], "failontimeout": bool,
//      "growth": int, "capacity": int, "slots_used": int, "members_used": int,
//      "free_slots": int, "wupdated": int, "lock_recoveries": int,
//      "members": [{
//        "index": int,          // stable slot index: the API's INDEX
//        "url": str, "route": str, "redirect": str,
//        "loadfactor": number (1-100), "lbfactor": int (x100), "lbset": int,
//        "status": str,        // the letters set, in the order I N D H R S E C, e.g. "DE"
//        "flags": ["Ok"?, "Ign", "Drain", "Dis", "Stby", "Spare", "Stop", "Err", "HcFail"],
//        "usable": bool, "from_config": bool,
//        "elected": int, "busy": int, "lbstatus": int, "bytes_in": int (from the member),
//        "bytes_out": int (to the member), "failures": int, "retries": int,
//        "error_time_ms": int,
//        "hc": {"state": "off|pending|ok|failed",
//               "method"?: "TCP|OPTIONS|HEAD|GET", "uri"?: str, "interval_ms"?: int,
//               "passes"?: int, "fails"?: int,   // only with a health check configured
//               "consecutive_passes": int, "consecutive_fails": int, "last_ms": int}}]}]}
// The API returns one balancer object (PATH/api/B), the members array
// (PATH/api/B/members) or one member object (PATH/api/B/members/REF); errors
// are {"error": str}.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "status/members.h"

namespace drover::status {

struct PageInfo {
  std::string_view base;  // the page's URL: the balancer-manager path ("/" at the root)
  std::string_view nonce;
  std::string_view server_name;
  std::string_view metrics_path;  // "" when off
  uint64_t generation = 0;
  int64_t now_ms = 0;
  std::string_view notice;  // shown at the top of the page ("" none)
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
