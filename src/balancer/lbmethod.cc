// The lbmethod registry and the selection skeleton shared by all methods
// (lbsets, hot spares, hot standbys, lazy retry of members in error). Runs in
// workers under the balancer lock; touches only the member slots it is given.
#include "balancer/lbmethod.h"

#include <cstdint>
#include <vector>

namespace drover::balancer {
namespace {

const LbMethod* const kMethods[] = {&kByRequests, &kByBusyness, &kByTraffic};

bool Has(const MemberView& v, uint32_t flag) {
  return (v.slot->status.load(std::memory_order_relaxed) & flag) != 0;
}

}  // namespace

const LbMethod* FindLbMethod(std::string_view name) {
  for (const LbMethod* m : kMethods) {
    if (name == m->name) {
      return m;
    }
  }
  return nullptr;
}

const LbMethod& LbMethodFor(config::LbMethod method) {
  switch (method) {
    case config::LbMethod::kByBusyness:
      return kByBusyness;
    case config::LbMethod::kByTraffic:
      return kByTraffic;
    case config::LbMethod::kByRequests:
      break;
  }
  return kByRequests;
}

bool RetryMember(MemberView* view) {
  if (!view->retry_due) {
    return view->usable;
  }
  shm::MemberSlot* s = view->slot;
  s->retries.fetch_add(1, std::memory_order_relaxed);
  uint32_t st = s->status.fetch_and(~static_cast<uint32_t>(config::kFlagError)) &
                ~static_cast<uint32_t>(config::kFlagError);
  view->retry_due = false;
  view->usable = (st & kNotUsableFlags) == 0;
  if (view->usable && view->now_ms > 0) {
    s->recovered_ms.store(view->now_ms, std::memory_order_relaxed);
  }
  return view->usable;
}

int64_t SlowStartFactor(int64_t lbfactor, int64_t slowstart_ms, int64_t recovered_ms,
                        int64_t now_ms) {
  if (slowstart_ms <= 0 || recovered_ms <= 0 || lbfactor <= 0) {
    return lbfactor;
  }
  int64_t elapsed = now_ms - recovered_ms;
  if (elapsed >= slowstart_ms || elapsed < -slowstart_ms) {
    return lbfactor;  // the window is over (or the clock went back by more than it)
  }
  if (elapsed < 0) {
    elapsed = 0;  // another process's clock read a moment earlier
  }
  int64_t start = lbfactor / 10 > 0 ? lbfactor / 10 : 1;
  // lbfactor <= 10000 and elapsed < slowstart_ms <= 1 day: no overflow.
  return start + (lbfactor - start) * elapsed / slowstart_ms;
}

int SelectBest(std::span<MemberView> members, IsBestFn is_best, void* baton) {
  // Scratch lists reused across picks (a worker picks from one thread).
  thread_local std::vector<int> spares;
  thread_local std::vector<int> standbys;
  int best = -1;
  // Apache walks every lbset number from 0 to the highest; empty sets yield
  // nothing, so jumping to the next lbset present is the same and bounded.
  int32_t lbset = 0;
  while (true) {
    int32_t next_lbset = INT32_MAX;
    int unusable = 0;
    spares.clear();
    standbys.clear();
    for (size_t i = 0; i < members.size(); ++i) {
      MemberView& v = members[i];
      int32_t set = v.slot->lbset.load(std::memory_order_relaxed);
      if (set > lbset && set < next_lbset) {
        next_lbset = set;
      }
      if (set != lbset) {
        continue;
      }
      const bool spare = Has(v, config::kFlagSpare);
      const bool standby = Has(v, config::kFlagStandby);
      if (Has(v, config::kFlagDrain)) {
        // Draining: no new sessions; a draining normal member may be replaced by a spare.
        if (!spare && !standby) {
          ++unusable;
        }
        continue;
      }
      if (!v.usable) {
        RetryMember(&v);
      }
      if (spare) {
        if (v.usable) {
          spares.push_back(static_cast<int>(i));
        }
      } else if (standby) {
        if (v.usable) {
          standbys.push_back(static_cast<int>(i));
        }
      } else if (v.usable) {
        if (is_best(v, best >= 0 ? &members[best] : nullptr, baton)) {
          best = static_cast<int>(i);
        }
      } else {
        ++unusable;
      }
    }
    // Hot spares stand in one for one for the unusable members of this set.
    for (size_t k = 0; k < spares.size() && static_cast<int>(k) < unusable; ++k) {
      if (is_best(members[spares[k]], best >= 0 ? &members[best] : nullptr, baton)) {
        best = spares[k];
      }
    }
    // Hot standbys only when nothing else in this set could be used.
    if (best < 0) {
      for (int k : standbys) {
        if (is_best(members[k], best >= 0 ? &members[best] : nullptr, baton)) {
          best = k;
        }
      }
    }
    if (best >= 0 || next_lbset == INT32_MAX) {
      break;
    }
    lbset = next_lbset;
  }
  return best;
}

}  // namespace drover::balancer
