// Load-balancing methods behind one small ops table (HAProxy's lb_ops idea):
// one file per method (lbmethod_byrequests.cc, lbmethod_bybusyness.cc,
// lbmethod_bytraffic.cc), registered by name in lbmethod.cc. A method sees a
// span of member views, never a request; it runs in workers, inside
// Balancer::Pick, with the balancer's shm lock held. No libevent, no OpenSSL.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "config/config.h"
#include "shm/slot_table.h"

namespace drover::balancer {

// One member as an lbmethod sees it. The caller (Balancer::Pick) fills one
// view per member, in config order, with the flags read under the lock.
struct MemberView {
  uint32_t index = 0;               // member index within the balancer
  shm::MemberSlot* slot = nullptr;  // never null
  // USABLE now: none of D S C E, and not excluded for this request (failover).
  bool usable = false;
  // In error (E), not stopped, not excluded, and its retry window is over (or
  // +I): the selection runs Apache's retry_worker on it (RetryMember) when it
  // considers it, which clears E, counts a retry and may make it usable.
  bool retry_due = false;
};

// Picks one member of `members` and accounts the pick in lbstatus (not
// `elected`: the caller counts that). Returns the position in `members`, or -1
// when no member can be used. Caller holds the balancer lock.
using PickFn = int (*)(std::span<MemberView> members);

struct LbMethod {
  const char* name;  // "byrequests", "bybusyness", "bytraffic"
  PickFn pick;
};

extern const LbMethod kByRequests;  // lbmethod_byrequests.cc
extern const LbMethod kByBusyness;  // lbmethod_bybusyness.cc
extern const LbMethod kByTraffic;   // lbmethod_bytraffic.cc

// The registered method called `name` (exact), or nullptr.
const LbMethod* FindLbMethod(std::string_view name);
// The method for a config value; byrequests for an unknown value (e.g. a
// corrupt shm field).
const LbMethod& LbMethodFor(config::LbMethod method);

// --- Shared by the methods -------------------------------------------------

// Decides whether `cur` beats `best` (nullptr = no candidate yet). May update
// the member's lbstatus and the method's `baton`. Caller holds the balancer lock.
using IsBestFn = bool (*)(const MemberView& cur, const MemberView* best, void* baton);

// Apache's proxy_balancer_get_best_worker: lbsets from 0 upwards until one
// yields a candidate. Within an lbset, in member order: a draining (N) member
// is skipped (and, unless it is a spare or standby, counts as unusable); a
// member that is not usable gets RetryMember when retry_due; usable normal
// members go through `is_best`; usable hot spares (R) then go through
// `is_best`, at most one per unusable member; usable hot standbys (H) only if
// nothing else in the set was chosen. Returns the winner's position or -1.
// Caller holds the balancer lock.
int SelectBest(std::span<MemberView> members, IsBestFn is_best, void* baton);

// Apache's retry_worker for a view with retry_due: clears E, retries++, and
// recomputes view->usable. Returns view->usable. Caller holds the balancer lock.
bool RetryMember(MemberView* view);

// Status bits that make a member unusable (Apache's NOT_USABLE_BITMAP; our
// members have no separate "initialized" bit).
constexpr uint32_t kNotUsableFlags =
    config::kFlagDisabled | config::kFlagStopped | config::kFlagError | config::kFlagHcFailed;

}  // namespace drover::balancer
