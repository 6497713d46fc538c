// Reading and writing a balancer's shm slots for the balancer-manager:
// consistent snapshots (taken under the balancer lock) for the page, the JSON
// and the metrics, and the edits (member fields and flags, add, remove,
// balancer settings), each made under the balancer lock so that every worker
// sees it at once. Runs in workers. No I/O.
//
// Removal keeps the slot (MemberSlot::in_use = 0) so that member indices held
// by requests in flight stay valid; Balancer::Pick skips removed slots. A
// removed config member keeps its key: it stays removed across a reload and
// adding its URL again revives its slot. A removed runtime member's key is
// cleared; its slot is reused by a later add once no request is in flight on
// it and no never-used growth slot is left.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "balancer/balancer.h"
#include "config/config.h"

namespace drover::status {

struct MemberSnapshot {
  uint32_t index = 0;  // within the balancer
  std::string url;
  std::string route;
  std::string redirect;
  int32_t lbfactor = 0;  // loadfactor x 100
  int32_t lbset = 0;
  uint32_t status = 0;  // config::MemberFlag bits
  bool usable = false;  // Balancer::Usable at the snapshot's time
  bool from_config = false;
  int64_t lbstatus = 0;
  int64_t busy = 0;
  int64_t error_time_ms = 0;
  uint64_t elected = 0;
  uint64_t retries = 0;
  uint64_t bytes_in = 0;   // read from the member
  uint64_t bytes_out = 0;  // sent to the member
  uint64_t failures = 0;
  int32_t hc_passes = 0;  // consecutive
  int32_t hc_fails = 0;   // consecutive
  int64_t hc_last_ms = 0;
  // The member's config (health check, retry...), nullptr for one added at run time.
  const config::MemberConfig* config = nullptr;
};

struct BalancerSnapshot {
  uint32_t index = 0;
  std::string name;
  const config::BalancerConfig* config = nullptr;
  config::LbMethod lbmethod = config::LbMethod::kByRequests;
  bool nofailover = false;
  int32_t maxattempts_setting = -1;  // as stored: -1 = members - 1
  int maxattempts = 0;               // resolved
  int64_t timeout_ms = 0;
  uint32_t capacity = 0;    // members + growth
  uint32_t slots_used = 0;  // num_members (removed slots included)
  uint32_t free_slots = 0;  // where AddMember can put a new URL now
  uint64_t wupdated = 0;
  uint64_t lock_recoveries = 0;
  std::vector<MemberSnapshot> members;  // present members only, in slot order
};

// Takes the balancer lock for the copy (reads without it if the lock fails).
BalancerSnapshot Snapshot(const balancer::Balancer& b, int64_t now_ms);

// --- Edits -------------------------------------------------------------------

struct EditResult {
  int http_status = 200;  // 200 (201 for an add) or 400, 404, 409, 500
  std::string error;      // why, when http_status >= 400
  int member = -1;        // the member edited / added / removed
  bool ok() const { return http_status < 300; }
};

struct MemberEdit {
  std::optional<int> lbfactor;  // x100, 100..10000
  std::optional<int> lbset;     // 0..99
  std::optional<std::string> route;
  std::optional<std::string> redirect;
  uint32_t set_flags = 0;  // applied as (status & ~clear_flags) | set_flags
  uint32_t clear_flags = 0;
};

struct NewMember {
  std::string url;
  std::string route;
  std::string redirect;
  int lbfactor = 100;
  int lbset = 0;
  // Flags to start with; nullopt = Disabled (Apache: new members start disabled).
  std::optional<uint32_t> status;
};

struct BalancerEdit {
  std::optional<config::LbMethod> lbmethod;
  std::optional<bool> nofailover;
  std::optional<int> maxattempts;     // -1 (members - 1) or 0..99
  std::optional<int64_t> timeout_ms;  // 0..7200 s
};

// The member `ref` names among the present ones: a decimal index, else an
// exact URL (when it contains "://"), else the first member with that route.
// -1 when none.
int FindMember(const balancer::Balancer& b, std::string_view ref);

// Loadfactor changes do what Apache's recalc_factors does: lbstatus = lbfactor
// for every member. Making a member usable (clearing D, S, E or C) resets
// every member's lbstatus to 0 (Apache's need_reset) and stamps the member's
// recovered_ms with `now_ms`, so that its slowstart= ramp starts then, as after a
// health-check or retry recovery. Setting E stamps error_time with `now_ms`.
EditResult EditMember(const balancer::Balancer& b, uint32_t m, const MemberEdit& e, int64_t now_ms);
// Into the removed slot of the same URL, else the next never-used slot, else a
// reusable removed runtime slot; 409 when none is free or the URL is already a
// member. Added usable: every lbstatus reset to 0.
EditResult AddMember(const balancer::Balancer& b, const NewMember& n, int64_t now_ms);
EditResult RemoveMember(const balancer::Balancer& b, uint32_t m);
// An lbmethod change resets every lbstatus to 0 (Apache's need_reset).
EditResult EditBalancer(const balancer::Balancer& b, const BalancerEdit& e);

// --- Validation shared by the form and JSON parsers -------------------------

// "1".."100" with at most two decimals -> x100.
std::optional<int> ParseLoadfactor(std::string_view s);
// Routes and redirects: at most 63 visible ASCII characters except ; , " \ (may be empty).
bool ValidRoute(std::string_view s);
// "+D-S", "D", "-E" ... (config::ApplyStatusString letters) -> bits to set and to clear.
bool ParseStatusChange(std::string_view spec, uint32_t* set, uint32_t* clear);
// "byrequests", "bybusyness", "bytraffic".
std::optional<config::LbMethod> ParseLbMethod(std::string_view s);

}  // namespace drover::status
