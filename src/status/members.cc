// Snapshots and edits of a balancer's shm slots for the balancer-manager
// (members.h). Runs in workers; every write happens under the balancer lock.
#include "status/members.h"

#include <cstring>

#include "balancer/lbmethod.h"
#include "core/strings.h"
#include "shm/slot_table.h"

namespace drover::status {
namespace {

using config::kFlagDisabled;
using config::kFlagError;

std::string SlotString(const char* s, size_t cap) { return std::string(s, strnlen(s, cap)); }

bool InUse(const shm::MemberSlot* s) { return s->in_use.load(std::memory_order_acquire) != 0; }

const config::MemberConfig* ConfigOf(const balancer::Balancer& b, uint32_t m,
                                     const shm::MemberSlot* s) {
  const config::BalancerConfig& cfg = b.config();
  if (m < cfg.members.size() && SlotString(s->url, shm::kKeyMax) == cfg.members[m].name) {
    return &cfg.members[m];
  }
  return nullptr;
}

// Apache's lbmethod reset(): lbstatus = 0 for every member. (bybusyness's
// reset also zeroes busy; ours counts real requests in flight, so it is kept.)
// Caller holds the balancer lock.
void ResetLbStatus(const balancer::Balancer& b) {
  uint32_t n = b.num_members();
  for (uint32_t m = 0; m < n; ++m) {
    shm::MemberSlot* s = b.slot(m);
    if (s != nullptr && InUse(s)) {
      s->lbstatus.store(0, std::memory_order_relaxed);
    }
  }
}

// Apache's recalc_factors(): lbstatus = lbfactor for every member. Decision:
// Apache also forces lbfactor = 100 when the balancer has a single member; we
// keep the operator's value (a lone member's factor changes no pick, and the
// edit should show and survive a reload as entered). Caller holds the lock.
void RecalcFactors(const balancer::Balancer& b) {
  uint32_t n = b.num_members();
  for (uint32_t m = 0; m < n; ++m) {
    shm::MemberSlot* s = b.slot(m);
    if (s != nullptr && InUse(s)) {
      s->lbstatus.store(s->lbfactor.load(std::memory_order_relaxed), std::memory_order_relaxed);
    }
  }
}

void Bump(shm::BalancerSlot* bs) { bs->wupdated.fetch_add(1, std::memory_order_relaxed); }

EditResult Fail(int status, std::string why) {
  EditResult r;
  r.http_status = status;
  r.error = std::move(why);
  return r;
}

std::optional<std::string> CheckMemberFields(const std::optional<int>& lbfactor,
                                             const std::optional<int>& lbset,
                                             const std::optional<std::string>& route,
                                             const std::optional<std::string>& redirect) {
  if (lbfactor && (*lbfactor < 100 || *lbfactor > 10000)) {
    return "loadfactor out of range 1-100";
  }
  if (lbset && (*lbset < 0 || *lbset > 99)) {
    return "lbset out of range 0-99";
  }
  if (route && !ValidRoute(*route)) {
    return "route '" + *route + "' is not at most 63 visible characters without ; , \" \\";
  }
  if (redirect && !ValidRoute(*redirect)) {
    return "redirect '" + *redirect + "' is not at most 63 visible characters without ; , \" \\";
  }
  return std::nullopt;
}

}  // namespace

BalancerSnapshot Snapshot(const balancer::Balancer& b, int64_t now_ms) {
  BalancerSnapshot snap;
  snap.index = b.index();
  snap.name = b.name();
  snap.config = &b.config();
  shm::BalancerSlot* bs = b.balancer_slot();
  if (bs == nullptr) {
    return snap;
  }
  shm::LockGuard lock(bs);
  uint32_t method = bs->lbmethod.load(std::memory_order_relaxed);
  snap.lbmethod = method <= static_cast<uint32_t>(config::LbMethod::kByTraffic)
                      ? static_cast<config::LbMethod>(method)
                      : config::LbMethod::kByRequests;
  snap.nofailover = bs->nofailover.load(std::memory_order_relaxed) != 0;
  snap.maxattempts_setting = bs->maxattempts.load(std::memory_order_relaxed);
  snap.maxattempts = b.MaxAttempts();
  snap.timeout_ms = bs->timeout_ms.load(std::memory_order_relaxed);
  snap.capacity = bs->capacity;
  snap.slots_used = b.num_members();
  snap.free_slots = snap.capacity > snap.slots_used ? snap.capacity - snap.slots_used : 0;
  snap.wupdated = bs->wupdated.load(std::memory_order_relaxed);
  snap.lock_recoveries = bs->lock_recoveries.load(std::memory_order_relaxed);
  for (uint32_t m = 0; m < snap.slots_used; ++m) {
    const shm::MemberSlot* s = b.slot(m);
    if (s == nullptr) {
      continue;
    }
    if (!InUse(s)) {
      if (m >= snap.config->members.size() && s->key[0] == '\0') {
        ++snap.free_slots;  // a removed runtime member's slot
      }
      continue;
    }
    MemberSnapshot ms;
    ms.index = m;
    ms.url = SlotString(s->url, shm::kKeyMax);
    ms.route = SlotString(s->route, shm::kRouteMax);
    ms.redirect = SlotString(s->redirect, shm::kRouteMax);
    ms.lbfactor = s->lbfactor.load(std::memory_order_relaxed);
    ms.lbset = s->lbset.load(std::memory_order_relaxed);
    ms.status = s->status.load(std::memory_order_relaxed);
    ms.usable = b.Usable(m, now_ms);
    ms.from_config = s->from_config != 0;
    ms.lbstatus = s->lbstatus.load(std::memory_order_relaxed);
    ms.busy = s->busy.load(std::memory_order_relaxed);
    ms.error_time_ms = s->error_time_ms.load(std::memory_order_relaxed);
    ms.elected = s->elected.load(std::memory_order_relaxed);
    ms.retries = s->retries.load(std::memory_order_relaxed);
    ms.bytes_in = s->bytes_in.load(std::memory_order_relaxed);
    ms.bytes_out = s->bytes_out.load(std::memory_order_relaxed);
    ms.failures = s->failures.load(std::memory_order_relaxed);
    ms.hc_passes = s->hc_passes.load(std::memory_order_relaxed);
    ms.hc_fails = s->hc_fails.load(std::memory_order_relaxed);
    ms.hc_last_ms = s->hc_last_ms.load(std::memory_order_relaxed);
    ms.config = ConfigOf(b, m, s);
    snap.members.push_back(std::move(ms));
  }
  return snap;
}

int FindMember(const balancer::Balancer& b, std::string_view ref) {
  if (ref.empty()) {
    return -1;
  }
  shm::LockGuard lock(b.balancer_slot());
  const uint32_t n = b.num_members();
  if (auto idx = core::ParseInt(ref, 0, UINT32_MAX)) {
    uint32_t m = static_cast<uint32_t>(*idx);
    return m < n && b.slot(m) != nullptr && InUse(b.slot(m)) ? static_cast<int>(m) : -1;
  }
  if (ref.find("://") != std::string_view::npos) {
    auto url = config::ParseUrl(std::string(ref));
    std::string name = url.ok() ? url->Origin() + url->path : std::string(ref);
    for (uint32_t m = 0; m < n; ++m) {
      const shm::MemberSlot* s = b.slot(m);
      if (s != nullptr && InUse(s) && SlotString(s->url, shm::kKeyMax) == name) {
        return static_cast<int>(m);
      }
    }
    return -1;
  }
  for (uint32_t m = 0; m < n; ++m) {
    const shm::MemberSlot* s = b.slot(m);
    if (s != nullptr && InUse(s) && SlotString(s->route, shm::kRouteMax) == ref) {
      return static_cast<int>(m);
    }
  }
  return -1;
}

// Member m of b, in use, under `lock` (the balancer's); nullptr with the
// answer in *err when the lock failed or there is no such member.
shm::MemberSlot* LockedMember(const balancer::Balancer& b, uint32_t m,
                              const shm::LockGuard& lock, EditResult* err) {
  if (!lock.locked()) {
    *err = Fail(500, "balancer lock failed");
    return nullptr;
  }
  shm::MemberSlot* s = m < b.num_members() ? b.slot(m) : nullptr;
  if (s == nullptr || !InUse(s)) {
    *err = Fail(404, "no member " + std::to_string(m) + " in balancer '" + b.name() + "'");
    return nullptr;
  }
  return s;
}

EditResult EditMember(const balancer::Balancer& b, uint32_t m, const MemberEdit& e,
                      int64_t now_ms) {
  if (auto why = CheckMemberFields(e.lbfactor, e.lbset, e.route, e.redirect)) {
    return Fail(400, *why);
  }
  shm::BalancerSlot* bs = b.balancer_slot();
  shm::LockGuard lock(bs);
  EditResult err;
  shm::MemberSlot* s = LockedMember(b, m, lock, &err);
  if (s == nullptr) {
    return err;
  }
  if (e.route) {
    shm::CopyString(s->route, shm::kRouteMax, *e.route);
  }
  if (e.redirect) {
    shm::CopyString(s->redirect, shm::kRouteMax, *e.redirect);
  }
  if (e.lbset) {
    s->lbset.store(*e.lbset, std::memory_order_relaxed);
  }
  if (e.lbfactor && *e.lbfactor != s->lbfactor.load(std::memory_order_relaxed)) {
    s->lbfactor.store(*e.lbfactor, std::memory_order_relaxed);
    RecalcFactors(b);
  }
  uint32_t old = s->status.load();
  uint32_t now = (old & ~e.clear_flags) | e.set_flags;
  if (now != old) {
    if ((now & kFlagError) != 0 && (old & kFlagError) == 0) {
      s->error_time_ms.store(now_ms);  // before E, as Balancer::MarkError does
    }
    const bool was_usable = (old & balancer::kNotUsableFlags) == 0;
    const bool is_usable = (now & balancer::kNotUsableFlags) == 0;
    if (!was_usable && is_usable) {
      // A manual enable is a recovery like the health checker's or a retry's:
      // the slowstart ramp starts now. Stored before the status, as the checker
      // does, so that a reader that sees the member usable also sees its ramp.
      s->recovered_ms.store(now_ms);
    }
    s->status.store(now);
    if (!was_usable && is_usable) {
      ResetLbStatus(b);
    }
  }
  Bump(bs);
  EditResult r;
  r.member = static_cast<int>(m);
  return r;
}

EditResult AddMember(const balancer::Balancer& b, const NewMember& n, int64_t now_ms) {
  auto url = config::ParseUrl(n.url);
  if (!url.ok()) {
    return Fail(400, url.status().message());
  }
  const std::string name = url->Origin() + url->path;
  if (b.name().size() + 1 + name.size() >= shm::kKeyMax) {
    return Fail(400, "url '" + name + "' too long");
  }
  if (auto why = CheckMemberFields(n.lbfactor, n.lbset, n.route, n.redirect)) {
    return Fail(400, *why);
  }
  const std::string key = shm::SlotTable::MakeKey(b.name(), name);
  const uint32_t status = n.status.value_or(kFlagDisabled);

  shm::BalancerSlot* bs = b.balancer_slot();
  shm::LockGuard lock(bs);
  if (!lock.locked()) {
    return Fail(500, "balancer lock failed");
  }
  const uint32_t used = b.num_members();
  int target = -1;
  bool revive = false;
  for (uint32_t m = 0; m < used; ++m) {
    const shm::MemberSlot* s = b.slot(m);
    if (s == nullptr) {
      continue;
    }
    if (InUse(s) && SlotString(s->url, shm::kKeyMax) == name) {
      return Fail(409, "'" + name + "' is already member " + std::to_string(m) + " of balancer '" +
                           b.name() + "'");
    }
    if (!InUse(s) && s->key[0] != '\0' && SlotString(s->key, shm::kKeyMax) == key) {
      target = static_cast<int>(m);
      revive = true;
    }
  }
  bool append = false;
  if (target < 0 && used < bs->capacity) {
    target = static_cast<int>(used);
    append = true;
  }
  if (target < 0) {
    // A removed runtime member's slot, once nothing is in flight on it.
    for (uint32_t m = static_cast<uint32_t>(b.config().members.size()); m < used; ++m) {
      const shm::MemberSlot* s = b.slot(m);
      if (s != nullptr && !InUse(s) && s->key[0] == '\0' && s->busy.load() == 0) {
        target = static_cast<int>(m);
        break;
      }
    }
  }
  if (target < 0) {
    return Fail(409, "balancer '" + b.name() + "' has no free member slot (" +
                         std::to_string(bs->capacity) +
                         " slots, growth=" + std::to_string(b.config().growth) + ")");
  }
  shm::MemberSlot* s = b.slot(static_cast<uint32_t>(target));
  if (s == nullptr) {
    return Fail(500, "member slot out of range");
  }
  if (!revive) {
    // A fresh identity: no counters, no history, its values now are its baseline.
    shm::CopyString(s->key, shm::kKeyMax, key);
    shm::CopyString(s->url, shm::kKeyMax, name);
    s->elected.store(0);
    s->busy.store(0);
    s->bytes_in.store(0);
    s->bytes_out.store(0);
    s->failures.store(0);
    s->retries.store(0);
    s->hc_passes.store(0);
    s->hc_fails.store(0);
    s->hc_last_ms.store(0);
    s->from_config = 0;
    s->config_lbfactor = n.lbfactor;
    s->config_lbset = n.lbset;
    s->config_status = status;
    shm::CopyString(s->config_route, shm::kRouteMax, n.route);
    shm::CopyString(s->config_redirect, shm::kRouteMax, n.redirect);
  }
  shm::CopyString(s->route, shm::kRouteMax, n.route);
  shm::CopyString(s->redirect, shm::kRouteMax, n.redirect);
  s->lbfactor.store(n.lbfactor);
  s->lbset.store(n.lbset);
  s->lbstatus.store(0);
  s->error_time_ms.store((status & kFlagError) != 0 ? now_ms : 0);
  s->status.store(status);
  s->recovered_ms.store(now_ms);
  s->in_use.store(1, std::memory_order_release);
  if (append) {
    bs->num_members.store(used + 1, std::memory_order_release);
  }
  if ((status & balancer::kNotUsableFlags) == 0) {
    ResetLbStatus(b);
  }
  Bump(bs);
  EditResult r;
  r.http_status = 201;
  r.member = target;
  return r;
}

EditResult RemoveMember(const balancer::Balancer& b, uint32_t m) {
  shm::BalancerSlot* bs = b.balancer_slot();
  shm::LockGuard lock(bs);
  EditResult err;
  shm::MemberSlot* s = LockedMember(b, m, lock, &err);
  if (s == nullptr) {
    return err;
  }
  s->in_use.store(0, std::memory_order_release);
  if (s->from_config == 0) {
    memset(s->key, 0, shm::kKeyMax);  // free for another URL
  }
  Bump(bs);
  EditResult r;
  r.member = static_cast<int>(m);
  return r;
}

EditResult EditBalancer(const balancer::Balancer& b, const BalancerEdit& e) {
  if (e.maxattempts && (*e.maxattempts < -1 || *e.maxattempts > 99)) {
    return Fail(400, "maxattempts out of range 0-99 (-1: members - 1)");
  }
  if (e.timeout_ms && (*e.timeout_ms < 0 || *e.timeout_ms > 7200 * 1000)) {
    return Fail(400, "timeout out of range 0-7200 seconds");
  }
  shm::BalancerSlot* bs = b.balancer_slot();
  shm::LockGuard lock(bs);
  if (!lock.locked()) {
    return Fail(500, "balancer lock failed");
  }
  if (e.lbmethod) {
    uint32_t v = static_cast<uint32_t>(*e.lbmethod);
    if (bs->lbmethod.load() != v) {
      bs->lbmethod.store(v);
      ResetLbStatus(b);
    }
  }
  if (e.nofailover) {
    bs->nofailover.store(*e.nofailover ? 1 : 0);
  }
  if (e.maxattempts) {
    bs->maxattempts.store(*e.maxattempts);
  }
  if (e.timeout_ms) {
    bs->timeout_ms.store(*e.timeout_ms);
  }
  Bump(bs);
  return EditResult();
}

std::optional<int> ParseLoadfactor(std::string_view s) {
  auto h = core::ParseHundredths(s);
  if (!h || *h < 100 || *h > 10000) {
    return std::nullopt;
  }
  return static_cast<int>(*h);
}

bool ValidRoute(std::string_view s) {
  if (s.size() >= shm::kRouteMax) {
    return false;
  }
  for (char c : s) {
    if (c <= 0x20 || c >= 0x7f || c == ';' || c == ',' || c == '"' || c == '\\') {
      return false;
    }
  }
  return true;
}

bool ParseStatusChange(std::string_view spec, uint32_t* set, uint32_t* clear) {
  uint32_t all = ~0u;
  uint32_t none = 0;
  std::string text(spec);
  if (!config::ApplyStatusString(text, &none) || !config::ApplyStatusString(text, &all)) {
    return false;
  }
  *set = none;
  *clear = ~all;
  return true;
}

std::optional<config::LbMethod> ParseLbMethod(std::string_view s) {
  for (config::LbMethod m : {config::LbMethod::kByRequests, config::LbMethod::kByBusyness,
                             config::LbMethod::kByTraffic}) {
    if (s == config::LbMethodName(m)) {
      return m;
    }
  }
  return std::nullopt;
}

}  // namespace drover::status
