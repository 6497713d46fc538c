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
  // The member's effective lbfactor for this pick: the slot's lbfactor, lowered
  // while its slowstart window runs (SlowStartFactor). The caller fills it; 0 means
  // "not filled" and the methods then read the slot's lbfactor (ViewFactor).
  int64_t factor = 0;
  // Wall-clock ms of this pick: RetryMember records it as the slot's recovered_ms.
  int64_t now_ms = 0;
};

// slowstart (drover's own member key): the effective lbfactor of a member that
// became usable again at `recovered_ms` (0 = never). It ramps linearly from a
// tenth of `lbfactor` (at least 1) at recovered_ms to the full `lbfactor` at
// recovered_ms + slowstart_ms, and is `lbfactor` from then on, when slowstart_ms
// is 0, and when the wall clock went back by more than the window. Pure.
//
// Worked example (asserted by t/unit/balancer/slowstart_test.cc): lbfactor 100,
// slowstart 10 s: 10 at 0 s, 19 at 1 s, 55 at 5 s, 100 from 10 s on. Beside a peer
// of lbfactor 100, byrequests then gives the recovered member 10 of 110 picks at
// first, 55 of 155 half way, and one in two after the window.
int64_t SlowStartFactor(int64_t lbfactor, int64_t slowstart_ms, int64_t recovered_ms,
                        int64_t now_ms);

// The lbfactor a method weighs `v` by: v.factor when filled, else the slot's.
inline int64_t ViewFactor(const MemberView& v) {
  return v.factor > 0 ? v.factor : v.slot->lbfactor.load(std::memory_order_relaxed);
}

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
// recomputes view->usable. When that makes the member usable, its recovered_ms
// becomes view->now_ms (slowstart; decision: a member back from the retry window
// ramps up like one back from a failed health check). Returns view->usable.
// Caller holds the balancer lock.
bool RetryMember(MemberView* view);

// Status bits that make a member unusable (Apache's NOT_USABLE_BITMAP; our
// members have no separate "initialized" bit).
constexpr uint32_t kNotUsableFlags =
    config::kFlagDisabled | config::kFlagStopped | config::kFlagError | config::kFlagHcFailed;

}  // namespace drover::balancer
