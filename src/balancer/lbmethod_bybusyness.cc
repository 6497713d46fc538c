// lbmethod "bybusyness" (Apache's mod_lbmethod_bybusyness): the member with
// the fewest requests in flight (the shared `busy` count) wins; ties are
// broken by byrequests-style lbstatus accounting, weighted by the effective
// lbfactor (so slowstart only shapes the tie-breaks: a recovered member with
// fewer requests in flight still wins on busy). Runs in workers, inside
// Balancer::Pick, under the balancer lock. Pure: no I/O, no logging.
#include "balancer/lbmethod.h"

namespace drover::balancer {
namespace {

// Every candidate is accounted as byrequests does (lbstatus += lbfactor, total
// += lbfactor); it wins with fewer busy, or equal busy and a higher lbstatus.
// `busy` changes without the lock (OnRequestStart/End): each comparison reads
// the current value, as Apache does.
bool IsBestByBusyness(const MemberView& cur, const MemberView* best, void* baton) {
  int64_t* total = static_cast<int64_t*>(baton);
  int64_t factor = ViewFactor(cur);  // lbfactor, lowered during slowstart
  int64_t status = cur.slot->lbstatus.fetch_add(factor, std::memory_order_relaxed) + factor;
  *total += factor;
  if (best == nullptr) {
    return true;
  }
  int64_t busy = cur.slot->busy.load(std::memory_order_relaxed);
  int64_t best_busy = best->slot->busy.load(std::memory_order_relaxed);
  return busy < best_busy ||
         (busy == best_busy && status > best->slot->lbstatus.load(std::memory_order_relaxed));
}

// E.g. busy A=2 B=0 C=0, lbfactors equal: B and C tie on busy, B wins the
// first pick on lbstatus (100 vs 100 is not '>', the earlier stays) and pays
// the total 300; the next pick (busy unchanged) goes to C. Caller holds the
// balancer lock.
int PickByBusyness(std::span<MemberView> members) {
  int64_t total = 0;
  int best = SelectBest(members, IsBestByBusyness, &total);
  if (best >= 0) {
    members[best].slot->lbstatus.fetch_sub(total, std::memory_order_relaxed);
  }
  return best;
}

}  // namespace

const LbMethod kByBusyness = {"bybusyness", PickByBusyness};

}  // namespace drover::balancer
