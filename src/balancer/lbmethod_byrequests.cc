// lbmethod "byrequests" (Apache's mod_lbmethod_byrequests): smooth weighted
// round robin over the shared lbstatus counters. Runs in workers, inside
// Balancer::Pick, under the balancer lock. Pure: no I/O, no logging.
#include "balancer/lbmethod.h"

namespace drover::balancer {
namespace {

// Every candidate gets lbstatus += lbfactor (and adds lbfactor to the total);
// the highest lbstatus wins, strict '>' so that ties go to the earlier member.
// lbfactor is the view's effective one: lower during a member's slowstart ramp.
bool IsBestByRequests(const MemberView& cur, const MemberView* best, void* baton) {
  int64_t* total = static_cast<int64_t*>(baton);
  int64_t factor = ViewFactor(cur);  // lbfactor, lowered during slowstart
  int64_t status = cur.slot->lbstatus.fetch_add(factor, std::memory_order_relaxed) + factor;
  *total += factor;
  return best == nullptr || status > best->slot->lbstatus.load(std::memory_order_relaxed);
}

// The pick: for the first lbset that yields a candidate (SelectBest: usable
// normal members, hot spares for unusable ones, standbys as a last resort),
// every candidate gets lbstatus += lbfactor, the highest lbstatus wins and
// pays the total: winner.lbstatus -= total. Over time each member is picked in
// proportion to its lbfactor, interleaved rather than in bursts.
//
// Worked example (asserted by t/unit/balancer/lbmethod_test.cc,
// ByRequests.WorkedExample): loadfactors A=1 B=2 C=1, i.e. lbfactor 100, 200,
// 100, total 400 per pick, all lbstatus 0 at start.
//
//   pick  after += lbfactor      winner            after winner -= 400
//   1     A=100  B=200  C=100    B                 A=100  B=-200 C=100
//   2     A=200  B=0    C=200    A (tie: earlier)  A=-200 B=0    C=200
//   3     A=-100 B=200  C=300    C                 A=-100 B=200  C=-100
//   4     A=0    B=400  C=0      B                 A=0    B=0    C=0
//
// The state is back to zero after 4 picks, so the schedule is
// B A C B  B A C B  B A C B ... and loadfactors 3:1 give exactly 3k and k
// picks out of 4k. Because the counters live in shm and every pick holds the
// balancer lock, this holds for the whole daemon, not per worker.
//
// Caller holds the balancer lock.
int PickByRequests(std::span<MemberView> members) {
  int64_t total = 0;
  int best = SelectBest(members, IsBestByRequests, &total);
  if (best >= 0) {
    members[best].slot->lbstatus.fetch_sub(total, std::memory_order_relaxed);
  }
  return best;
}

}  // namespace

const LbMethod kByRequests = {"byrequests", PickByRequests};

}  // namespace drover::balancer
