// lbmethod "bytraffic" (Apache's mod_lbmethod_bytraffic): the member with the
// least traffic normalised by its weight, bytes_out/lbfactor +
// bytes_in/lbfactor (integer divisions, as Apache), wins; ties go to the
// earlier member. lbstatus is not used. Runs in workers, inside
// Balancer::Pick, under the balancer lock. Pure: no I/O, no logging.
#include "balancer/lbmethod.h"

namespace drover::balancer {
namespace {

struct TrafficBaton {
  uint64_t min_traffic = 0;
};

uint64_t Traffic(const MemberView& v) {
  int64_t factor = ViewFactor(v);  // lbfactor, lowered during slowstart
  uint64_t f = factor > 0 ? static_cast<uint64_t>(factor) : 1;
  return v.slot->bytes_out.load(std::memory_order_relaxed) / f +
         v.slot->bytes_in.load(std::memory_order_relaxed) / f;
}

bool IsBestByTraffic(const MemberView& cur, const MemberView* best, void* baton) {
  TrafficBaton* b = static_cast<TrafficBaton*>(baton);
  uint64_t traffic = Traffic(cur);
  if (best == nullptr || traffic < b->min_traffic) {
    b->min_traffic = traffic;
    return true;
  }
  return false;
}

// E.g. lbfactors A=100 B=100 C=300 with 1000, 2000 and 4500 bytes moved:
// traffic 10, 20, 15 -> A. Caller holds the balancer lock.
int PickByTraffic(std::span<MemberView> members) {
  TrafficBaton baton;
  return SelectBest(members, IsBestByTraffic, &baton);
}

}  // namespace

const LbMethod kByTraffic = {"bytraffic", PickByTraffic};

}  // namespace drover::balancer
