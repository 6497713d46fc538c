// Balancer: one balancer's picks (stickiness, failover, force recovery, the
// lbmethod) and member health (error state, retry, failonstatus) over its shm
// slots. Runs in workers (and the manager code in workers). The balancer lock
// is held for the O(members) pick only; request parsing for the sticky route
// happens before it is taken, and request accounting uses atomics.
#include "balancer/balancer.h"

#include <cstring>
#include <string>
#include <vector>

#include "balancer/lbmethod.h"
#include "core/log.h"

namespace drover::balancer {
namespace {

using config::kFlagDisabled;
using config::kFlagError;
using config::kFlagHcFailed;
using config::kFlagIgnoreErrors;
using config::kFlagSpare;
using config::kFlagStandby;
using config::kFlagStopped;

// Members added at run time have no MemberConfig: Apache's default retry.
constexpr int64_t kDefaultRetryMs = 60000;

std::string_view SlotRoute(const shm::MemberSlot* s) {
  return std::string_view(s->route, strnlen(s->route, shm::kRouteMax));
}

std::string_view SlotRedirect(const shm::MemberSlot* s) {
  return std::string_view(s->redirect, strnlen(s->redirect, shm::kRouteMax));
}

// A slot below num_members that the balancer-manager removed (in_use 0) is
// skipped by everything here, as if it were not in the table.
bool Present(const shm::MemberSlot* s) { return s->in_use.load(std::memory_order_acquire) != 0; }

// Why a member is left out of a pick (Scratch::excluded).
constexpr uint8_t kTried = 1;    // this request already failed on it (failover)
constexpr uint8_t kRemoved = 2;  // removed by the balancer-manager

// Per-process scratch space for picks (a worker picks from one thread).
struct Scratch {
  std::vector<MemberView> views;
  std::vector<uint8_t> excluded;
};

Scratch& GetScratch() {
  thread_local Scratch scratch;
  return scratch;
}

// Apache's retry_worker condition: in error, not stopped (a stopped member's
// E is never retried), and +I or the retry window is over. Decision: the
// window is over at now >= error_time + retry (Apache: '>' in microseconds),
// so that retry=0 always retries, as Apache documents.
bool RetryDue(const shm::MemberSlot* s, uint32_t st, int64_t retry_ms, int64_t now_ms) {
  if ((st & kFlagError) == 0 || (st & kFlagStopped) != 0) {
    return false;
  }
  if ((st & kFlagIgnoreErrors) != 0) {
    return true;
  }
  return now_ms - s->error_time_ms.load(std::memory_order_relaxed) >= retry_ms;
}

// retry_worker's effect: E cleared, one more retry. When `recovered_ms` > 0 and
// that makes the member usable, it is stored as the slot's recovered_ms: the start
// of its slowstart ramp (0 for force recovery, which revives every member at
// once, so a ramp would change no member's share). Caller holds the lock.
void RetrySlot(shm::MemberSlot* s, int64_t recovered_ms) {
  s->retries.fetch_add(1, std::memory_order_relaxed);
  uint32_t st = s->status.fetch_and(~static_cast<uint32_t>(kFlagError));
  if (recovered_ms > 0 && (st & kNotUsableFlags & ~static_cast<uint32_t>(kFlagError)) == 0) {
    s->recovered_ms.store(recovered_ms, std::memory_order_relaxed);
  }
}

// Sets E and error_time unless +I; counts the failure either way. No lock:
// atomic updates, error_time written before E so that a picker seeing E also
// sees its time.
bool MarkError(shm::MemberSlot* s, int64_t now_ms) {
  s->failures.fetch_add(1, std::memory_order_relaxed);
  if ((s->status.load() & kFlagIgnoreErrors) != 0) {
    return false;
  }
  s->error_time_ms.store(now_ms);
  s->status.fetch_or(kFlagError);
  return true;
}

// The member's retry window: from its config, or Apache's 60 s default for a
// member added at run time (index past the config's members).
int64_t RetryMsFor(const config::BalancerConfig& cfg, uint32_t m) {
  return m < cfg.members.size() ? cfg.members[m].retry_ms : kDefaultRetryMs;
}

// The member's lbfactor for a pick at `now_ms`, with its slowstart ramp applied
// (members added at run time have no slowstart).
int64_t EffectiveFactor(const config::BalancerConfig& cfg, uint32_t m, const shm::MemberSlot* s,
                        int64_t now_ms) {
  int64_t f = s->lbfactor.load(std::memory_order_relaxed);
  if (m >= cfg.members.size() || cfg.members[m].slowstart_ms <= 0) {
    return f;
  }
  return SlowStartFactor(f, cfg.members[m].slowstart_ms,
                         s->recovered_ms.load(std::memory_order_relaxed), now_ms);
}

}  // namespace

Balancer::Balancer(const config::BalancerConfig* cfg, shm::SlotTable* table, uint32_t index)
    : cfg_(cfg), table_(table), index_(index) {}

bool Balancer::Present(uint32_t m) const {
  const shm::MemberSlot* s = m < num_members() ? slot(m) : nullptr;
  return s != nullptr && balancer::Present(s);
}

uint32_t Balancer::num_present() const {
  uint32_t n = num_members();
  uint32_t count = 0;
  for (uint32_t m = 0; m < n; ++m) {
    if (balancer::Present(slot(m))) {
      ++count;
    }
  }
  return count;
}

bool Balancer::NoFailover() const {
  const shm::BalancerSlot* bs = table_->balancer(index_);
  return bs != nullptr ? bs->nofailover.load(std::memory_order_relaxed) != 0 : cfg_->nofailover;
}

int Balancer::MaxAttempts() const {
  const shm::BalancerSlot* bs = table_->balancer(index_);
  int v = bs != nullptr ? bs->maxattempts.load(std::memory_order_relaxed) : cfg_->maxattempts;
  if (v >= 0) {
    return v;
  }
  uint32_t n = num_present();
  return n > 0 ? static_cast<int>(n) - 1 : 0;
}

int64_t Balancer::TimeoutMs() const {
  const shm::BalancerSlot* bs = table_->balancer(index_);
  return bs != nullptr ? bs->timeout_ms.load(std::memory_order_relaxed) : cfg_->timeout_ms;
}

uint32_t Balancer::num_members() const {
  const shm::BalancerSlot* bs = table_->balancer(index_);
  if (bs == nullptr) {
    return 0;
  }
  uint32_t n = bs->num_members.load(std::memory_order_acquire);
  return n < bs->capacity ? n : bs->capacity;
}

std::string Balancer::MemberUrl(uint32_t m) const {
  const shm::MemberSlot* s = slot(m);
  if (s == nullptr) {
    return std::string();
  }
  return std::string(s->url, strnlen(s->url, shm::kKeyMax));
}

bool Balancer::Usable(uint32_t m, int64_t now_ms) const {
  const shm::MemberSlot* s = m < num_members() ? slot(m) : nullptr;
  if (s == nullptr || !balancer::Present(s)) {
    return false;
  }
  uint32_t st = s->status.load();
  if ((st & (kFlagDisabled | kFlagStopped | kFlagHcFailed)) != 0) {
    return false;
  }
  return (st & kFlagError) == 0 || RetryDue(s, st, RetryMsFor(*cfg_, m), now_ms);
}

PickResult Balancer::Pick(const PickRequest& req, const std::vector<int>& tried, int64_t now_ms) {
  PickResult r;
  const bool sticky_cfg = !cfg_->sticky_cookie.empty() || !cfg_->sticky_urlparam.empty();
  // Parsing the request needs no lock.
  const std::string route = sticky_cfg ? FindSessionRoute(*cfg_, req) : std::string();
  r.session_route = route;

  shm::BalancerSlot* bs = table_->balancer(index_);
  if (bs == nullptr) {
    r.http_status = 503;
    r.reason = "no shared memory slot";
    return r;
  }
  // The critical section: O(members), no I/O (logging waits until the lock is released).
  bool forced = false;
  [&] {
    shm::LockGuard lock(bs);
    if (!lock.locked()) {
      r.http_status = 503;
      r.reason = "balancer lock failed";
      return;
    }
    const uint32_t n = num_members();
    Scratch& scratch = GetScratch();
    std::vector<uint8_t>& excluded = scratch.excluded;
    excluded.assign(n, 0);
    for (int t : tried) {
      if (t >= 0 && static_cast<uint32_t>(t) < n) {
        excluded[t] = kTried;
      }
    }
    for (uint32_t m = 0; m < n; ++m) {
      if (!balancer::Present(slot(m))) {
        excluded[m] = kRemoved;
      }
    }
    auto usable_now = [&](uint32_t m) {
      return excluded[m] == 0 && (slot(m)->status.load() & kNotUsableFlags) == 0;
    };

    // 1. Force recovery (Apache runs it before anything else): scanning in
    //    order, a member not in error, or one whose retry is due (retried on
    //    the spot), ends the scan. When every member is in error, forcerecovery
    //    clears E on all of them and counts a retry for each. Decision: the
    //    condition is "every member has E" (SPEC §5, Apache's force_recovery),
    //    not "no member is usable": a disabled member without E prevents it.
    uint32_t present = 0;
    for (uint32_t m = 0; m < n; ++m) {
      present += excluded[m] == kRemoved ? 0 : 1;
    }
    if (present > 0) {
      bool ok = false;
      for (uint32_t m = 0; m < n && !ok; ++m) {
        if (excluded[m] == kRemoved) {
          continue;
        }
        shm::MemberSlot* s = slot(m);
        uint32_t st = s->status.load();
        if ((st & kFlagError) == 0) {
          ok = true;
        } else if (RetryDue(s, st, RetryMsFor(*cfg_, m), now_ms)) {
          RetrySlot(s, now_ms);
          ok = true;
        }
      }
      if (!ok && cfg_->forcerecovery) {
        for (uint32_t m = 0; m < n; ++m) {
          if (excluded[m] != kRemoved) {
            RetrySlot(slot(m), 0);
          }
        }
        forced = true;
      }
    }

    // 2. Stickiness: the member with this exact route, normal members before
    //    hot standbys and spares; an unusable one gets retry_worker, then its
    //    redirect= route is followed (depth bounded by the member count).
    //    Decision: spares are searched with the standbys (Apache: standbys
    //    only); it matters only when two members share a route.
    if (!route.empty()) {
      auto find_route = [&](auto&& self, std::string_view want, uint32_t depth) -> int {
        if (depth > n) {
          return -1;
        }
        for (int pass = 0; pass < 2; ++pass) {
          for (uint32_t m = 0; m < n; ++m) {
            if (excluded[m] == kRemoved) {
              continue;
            }
            shm::MemberSlot* s = slot(m);
            uint32_t st = s->status.load();
            bool backup = (st & (kFlagStandby | kFlagSpare)) != 0;
            if (backup != (pass == 1) || SlotRoute(s).empty() || SlotRoute(s) != want) {
              continue;
            }
            if (usable_now(m)) {
              return static_cast<int>(m);
            }
            if (excluded[m] == 0 && RetryDue(s, st, RetryMsFor(*cfg_, m), now_ms)) {
              RetrySlot(s, now_ms);
              if (usable_now(m)) {
                return static_cast<int>(m);
              }
            }
            std::string_view redirect = SlotRedirect(s);
            if (!redirect.empty()) {
              int rm = self(self, redirect, depth + 1);
              if (rm >= 0) {
                return rm;
              }
            }
          }
        }
        return -1;
      };
      int m = find_route(find_route, route, 0);
      if (m >= 0) {
        // Sticky requests are accounted too (Apache's default updatelbstatus):
        // every usable member gets += lbfactor, the routed member pays the total.
        int64_t total = 0;
        for (uint32_t k = 0; k < n; ++k) {
          if (usable_now(k)) {
            shm::MemberSlot* s = slot(k);
            int64_t f = EffectiveFactor(*cfg_, k, s, now_ms);
            s->lbstatus.fetch_add(f, std::memory_order_relaxed);
            total += f;
          }
        }
        shm::MemberSlot* chosen = slot(static_cast<uint32_t>(m));
        chosen->lbstatus.fetch_sub(total, std::memory_order_relaxed);
        chosen->elected.fetch_add(1, std::memory_order_relaxed);
        r.member = m;
        r.sticky = true;
        r.route = std::string(SlotRoute(chosen));
        r.route_changed = r.route != route;  // reached through a redirect
        return;
      }
      if (bs->nofailover.load(std::memory_order_relaxed) != 0) {
        for (uint32_t k = 0; k < n; ++k) {
          if (excluded[k] != kRemoved && SlotRoute(slot(k)) == route) {
            r.http_status = 503;
            r.reason = "nofailover";
            return;
          }
        }
      }
    }

    // 3. The lbmethod over every member; `tried` ones count as unusable,
    //    removed ones are left out of the views.
    std::vector<MemberView>& views = scratch.views;
    views.resize(n);
    uint32_t nv = 0;
    for (uint32_t m = 0; m < n; ++m) {
      if (excluded[m] == kRemoved) {
        continue;
      }
      shm::MemberSlot* s = slot(m);
      uint32_t st = s->status.load();
      MemberView& v = views[nv++];
      v.index = m;
      v.slot = s;
      v.usable = excluded[m] == 0 && (st & kNotUsableFlags) == 0;
      v.retry_due = excluded[m] == 0 && RetryDue(s, st, RetryMsFor(*cfg_, m), now_ms);
      v.factor = EffectiveFactor(*cfg_, m, s, now_ms);
      v.now_ms = now_ms;
    }
    uint32_t method = bs->lbmethod.load(std::memory_order_relaxed);
    const LbMethod& lb = LbMethodFor(static_cast<config::LbMethod>(method));
    int pos = lb.pick(std::span<MemberView>(views.data(), nv));
    if (pos >= 0) {
      shm::MemberSlot* chosen = views[pos].slot;
      chosen->elected.fetch_add(1, std::memory_order_relaxed);
      r.member = static_cast<int>(views[pos].index);
      r.route = std::string(SlotRoute(chosen));
      // Apache sets BALANCER_ROUTE_CHANGED on every non-sticky pick of a
      // balancer that has stickiness configured (route absent, unknown or unusable).
      r.route_changed = sticky_cfg;
      return;
    }
    r.http_status = 503;
    bool all_error = present > 0;
    for (uint32_t m = 0; m < n && all_error; ++m) {
      all_error = excluded[m] == kRemoved || (slot(m)->status.load() & kFlagError) != 0;
    }
    r.reason = present == 0 ? "no members in balancer"
                      : (all_error ? "all members in error" : "no usable member");
  }();
  if (forced) {
    DLOG(kInfo, "balancer '%s': all members in error, forcing recovery", cfg_->name.c_str());
  }
  return r;
}

void Balancer::OnRequestStart(uint32_t m) {
  if (shm::MemberSlot* s = slot(m)) {
    s->busy.fetch_add(1, std::memory_order_relaxed);
  }
}

void Balancer::OnRequestEnd(uint32_t m, uint64_t in, uint64_t out) {
  if (shm::MemberSlot* s = slot(m)) {
    s->busy.fetch_sub(1, std::memory_order_relaxed);
    s->bytes_in.fetch_add(in, std::memory_order_relaxed);
    s->bytes_out.fetch_add(out, std::memory_order_relaxed);
  }
}

void Balancer::OnConnectFailure(uint32_t m, int64_t now_ms) {
  if (shm::MemberSlot* s = slot(m)) {
    MarkError(s, now_ms);
  }
}

bool Balancer::OnResponseStatus(uint32_t m, int status, int64_t now_ms) {
  shm::MemberSlot* s = slot(m);
  return s != nullptr && FailsOnStatus(status) && MarkError(s, now_ms);
}

bool Balancer::OnTimeout(uint32_t m, int64_t now_ms) {
  shm::MemberSlot* s = slot(m);
  if (s == nullptr || !cfg_->failontimeout) {
    return false;
  }
  return MarkError(s, now_ms);
}

}  // namespace drover::balancer
