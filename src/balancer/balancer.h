// A balancer at run time: the config's BalancerConfig plus its shm slots.
// Runs in workers (and the manager code in workers). Picks hold the balancer's
// robust shm mutex for the O(members) pick only; counters are atomics.
// lbmethods see a span of member views, never requests (lbmethod.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "shm/slot_table.h"

namespace drover::balancer {

// What stickiness needs from a request.
struct PickRequest {
  std::string_view path;                    // request path as sent (may contain ;params)
  std::string_view query;                   // without '?'
  bool has_query = false;
  std::vector<std::string_view> cookies;    // every Cookie header value, in order
};

struct PickResult {
  int member = -1;              // index within the balancer, -1 = none usable
  int http_status = 0;          // 503 when member < 0
  std::string session_route;    // route found in the request ("" none) = BALANCER_SESSION_ROUTE
  std::string route;            // the chosen member's route = BALANCER_WORKER_ROUTE
  bool route_changed = false;   // BALANCER_ROUTE_CHANGED: sticky route absent/unusable/unknown
  bool sticky = false;          // the member was chosen by its route
  const char* reason = "";      // for 503: why (e.g. "all members in error", "nofailover")
};

class Balancer {
 public:
  // `index` is the balancer's index in both Config::balancers and the slot table.
  Balancer(const config::BalancerConfig* cfg, shm::SlotTable* table, uint32_t index);

  const config::BalancerConfig& config() const { return *cfg_; }
  const std::string& name() const { return cfg_->name; }
  uint32_t index() const { return index_; }
  // Slots used in the table (config members plus runtime additions), removed ones
  // included: iterate 0..num_members() and skip those where !Present(m).
  uint32_t num_members() const;
  // False for a member the balancer-manager removed (MemberSlot::in_use == 0) or out of range.
  bool Present(uint32_t m) const;
  // Members in use (num_members() minus the removed ones).
  uint32_t num_present() const;
  // Balancer settings as stored in shm (the config's values unless the
  // balancer-manager edited them): nofailover; maxattempts resolved (-1 in the
  // slot = members in use - 1, never below 0); timeout= in ms (0 = none).
  bool NoFailover() const;
  int MaxAttempts() const;
  int64_t TimeoutMs() const;
  shm::MemberSlot* slot(uint32_t m) const { return table_->member(index_, m); }
  // The balancer's shm slot (lock, lbmethod, settings); nullptr when out of range.
  shm::BalancerSlot* balancer_slot() const { return table_->balancer(index_); }
  // The member's URL as stored in shm.
  std::string MemberUrl(uint32_t m) const;

  // Stickiness, then the lbmethod. `tried` lists members this request already
  // failed on (failover): they are never picked again. Accounts the pick
  // (lbstatus, elected) under the lock. `now_ms` is wall-clock ms.
  PickResult Pick(const PickRequest& req, const std::vector<int>& tried, int64_t now_ms);

  // Usable now (not D, S, C, and not E within its retry window; an expired E
  // counts as usable: the next Pick clears it and bumps retries).
  bool Usable(uint32_t m, int64_t now_ms) const;

  // Request accounting (atomics, no lock).
  void OnRequestStart(uint32_t m);                       // busy++
  void OnRequestEnd(uint32_t m, uint64_t in, uint64_t out);  // busy--, bytes
  // A connect failure / connect timeout: failures++, set E and error_time unless +I.
  void OnConnectFailure(uint32_t m, int64_t now_ms);
  // Whether failonstatus lists `status` (OnResponseStatus acts only then).
  bool FailsOnStatus(int status) const {
    for (int code : cfg_->failonstatus) {
      if (code == status) {
        return true;
      }
    }
    return false;
  }
  // After a response was relayed: applies failonstatus. Returns true when it set E.
  bool OnResponseStatus(uint32_t m, int status, int64_t now_ms);
  // A read timeout from the member: applies failontimeout. Returns true when it set E.
  bool OnTimeout(uint32_t m, int64_t now_ms);

 private:
  const config::BalancerConfig* cfg_;
  shm::SlotTable* table_;
  uint32_t index_;
};

// Apache's find_session_route on one request: URL parameter first, then cookie.
// Returns the sticky value's route part ("" when none). `*found_value` (optional)
// gets the whole value that carried it.
std::string FindSessionRoute(const config::BalancerConfig& cfg, const PickRequest& req,
                             std::string* found_value = nullptr);

}  // namespace drover::balancer
