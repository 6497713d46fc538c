// SlotTable: layout, creation and reload carry-over of the shared-memory slot
// table, and the robust process-shared balancer lock. Runs in the master
// (Create, before fork) and in every process that locks a balancer. It knows
// layout, not policy: no balancing decisions are made here.
#include "shm/slot_table.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "core/log.h"

namespace drover::shm {
namespace {

constexpr size_t kAlign = 64;

// Flags an operator sets (config or balancer-manager); E and C are runtime health.
constexpr uint32_t kAdminFlags = config::kFlagIgnoreErrors | config::kFlagDrain |
                                 config::kFlagDisabled | config::kFlagStandby | config::kFlagSpare |
                                 config::kFlagStopped;

size_t RoundUp(size_t n, size_t a) { return (n + a - 1) / a * a; }

std::string ErrnoText(int err) { return std::to_string(err) + ": " + strerror(err); }

std::string_view SlotString(const char* s, size_t cap) {
  return std::string_view(s, strnlen(s, cap));
}

// CopyMemberSlot below copies every field one by one (atomics are not copyable).
static_assert(sizeof(MemberSlot) == 888, "MemberSlot changed: update CopyMemberSlot");

// Copies the whole runtime state of `from` into the fresh (zeroed) slot `to`,
// except `busy`: in-flight requests belong to the old workers, which keep
// accounting them in the old table.
void CopyMemberSlot(const MemberSlot& from, MemberSlot* to) {
  memcpy(to->key, from.key, kKeyMax);
  memcpy(to->url, from.url, kKeyMax);
  memcpy(to->route, from.route, kRouteMax);
  memcpy(to->redirect, from.redirect, kRouteMax);
  to->in_use.store(from.in_use.load());
  to->lbfactor.store(from.lbfactor.load());
  to->lbset.store(from.lbset.load());
  to->status.store(from.status.load());
  to->lbstatus.store(from.lbstatus.load());
  to->error_time_ms.store(from.error_time_ms.load());
  to->retries.store(from.retries.load());
  to->elected.store(from.elected.load());
  to->busy.store(0);
  to->bytes_in.store(from.bytes_in.load());
  to->bytes_out.store(from.bytes_out.load());
  to->failures.store(from.failures.load());
  to->hc_passes.store(from.hc_passes.load());
  to->hc_fails.store(from.hc_fails.load());
  to->hc_last_ms.store(from.hc_last_ms.load());
  to->recovered_ms.store(from.recovered_ms.load());
  to->from_config = from.from_config;
  to->config_lbfactor = from.config_lbfactor;
  to->config_lbset = from.config_lbset;
  to->config_status = from.config_status;
  memcpy(to->config_route, from.config_route, kRouteMax);
  memcpy(to->config_redirect, from.config_redirect, kRouteMax);
}

// Fills a config member's slot: identity and the config's values, also kept
// as the config_* baseline for the next reload.
void FillFromConfig(const std::string& key, const config::MemberConfig& m, MemberSlot* s) {
  CopyString(s->key, kKeyMax, key);
  CopyString(s->url, kKeyMax, m.name);
  CopyString(s->route, kRouteMax, m.route);
  CopyString(s->redirect, kRouteMax, m.redirect);
  s->lbfactor.store(m.lbfactor);
  s->lbset.store(m.lbset);
  s->status.store(m.status);
  s->from_config = 1;
  s->config_lbfactor = m.lbfactor;
  s->config_lbset = m.lbset;
  s->config_status = m.status;
  CopyString(s->config_route, kRouteMax, m.route);
  CopyString(s->config_redirect, kRouteMax, m.redirect);
  s->in_use.store(1);
}

// Reload carry-over for a member present in both configs. Counters, lbstatus,
// error state and health-check state are taken from the old slot. For each
// operator-editable field (lbfactor, lbset, route, redirect, the admin flags
// I N D H R S) it is a three-way merge: a value the balancer-manager changed
// (old runtime != old config) is kept; an untouched one takes the new config's
// value, so editing drover.conf and reloading takes effect.
void CarryOver(const MemberSlot& old, const config::MemberConfig& m, MemberSlot* s) {
  CopyMemberSlot(old, s);
  if (old.from_config == 0) {
    // Added at run time, now in the config: the config is the new baseline and
    // the runtime values are all edits.
    s->from_config = 1;
  } else {
    if (old.lbfactor.load() == old.config_lbfactor) {
      s->lbfactor.store(m.lbfactor);
    }
    if (old.lbset.load() == old.config_lbset) {
      s->lbset.store(m.lbset);
    }
    if (SlotString(old.route, kRouteMax) == SlotString(old.config_route, kRouteMax)) {
      CopyString(s->route, kRouteMax, m.route);
    }
    if (SlotString(old.redirect, kRouteMax) == SlotString(old.config_redirect, kRouteMax)) {
      CopyString(s->redirect, kRouteMax, m.redirect);
    }
    uint32_t runtime = old.status.load();
    uint32_t edited = (runtime ^ old.config_status) & kAdminFlags;
    uint32_t admin = (runtime & edited) | (m.status & kAdminFlags & ~edited);
    s->status.store(admin | (runtime & ~kAdminFlags));
  }
  s->config_lbfactor = m.lbfactor;
  s->config_lbset = m.lbset;
  s->config_status = m.status;
  CopyString(s->config_route, kRouteMax, m.route);
  CopyString(s->config_redirect, kRouteMax, m.redirect);
  CopyString(s->url, kKeyMax, m.name);
  // A member removed by the balancer-manager stays removed (its slot a tombstone).
  s->in_use.store(old.in_use.load() != 0 || old.from_config == 0 ? 1 : 0);
}

}  // namespace

void CopyString(char* dst, size_t cap, std::string_view s) {
  if (cap == 0) {
    return;
  }
  size_t n = s.size() < cap - 1 ? s.size() : cap - 1;
  memcpy(dst, s.data(), n);
  memset(dst + n, 0, cap - n);
}

std::string SlotTable::MakeKey(std::string_view balancer, std::string_view url) {
  std::string key;
  key.reserve(balancer.size() + 1 + url.size());
  key.append(balancer);
  key.push_back('\x1f');
  key.append(url);
  if (key.size() >= kKeyMax) {
    key.resize(kKeyMax - 1);  // what CopyString stores, so lookups compare equal
  }
  return key;
}

core::Result<std::unique_ptr<SlotTable>> SlotTable::Create(const config::Config& config,
                                                           const SlotTable* previous,
                                                           uint64_t generation) {
  const size_t nb = config.balancers.size();
  size_t total = 0;
  for (const config::BalancerConfig& b : config.balancers) {
    total += b.members.size() + static_cast<size_t>(b.growth > 0 ? b.growth : 0);
  }
  if (nb > UINT32_MAX / 2 || total > UINT32_MAX / 2) {
    return core::Status::Error("shm: too many balancer members");
  }
  const size_t balancers_off = RoundUp(sizeof(Header), kAlign);
  const size_t members_off = RoundUp(balancers_off + nb * sizeof(BalancerSlot), kAlign);
  long page = sysconf(_SC_PAGESIZE);
  const size_t size = RoundUp(members_off + total * sizeof(MemberSlot),
                              page > 0 ? static_cast<size_t>(page) : 4096);

  void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) {
    return core::Status::Error("mmap(" + std::to_string(size) + ") failed (" + ErrnoText(errno) +
                               ")");
  }
  std::unique_ptr<SlotTable> t(new SlotTable());
  t->base_ = base;
  t->size_ = size;
  t->header_ = new (base) Header{};
  t->balancers_ = reinterpret_cast<BalancerSlot*>(static_cast<char*>(base) + balancers_off);
  t->members_ = reinterpret_cast<MemberSlot*>(static_cast<char*>(base) + members_off);
  t->num_balancers_ = static_cast<uint32_t>(nb);
  t->num_member_slots_ = static_cast<uint32_t>(total);
  // The mapping is zero-filled; placement-new gives the atomics their lifetime.
  for (size_t i = 0; i < nb; ++i) {
    new (&t->balancers_[i]) BalancerSlot{};
  }
  for (size_t i = 0; i < total; ++i) {
    new (&t->members_[i]) MemberSlot{};
  }

  // Previous table: members by key, balancers by name.
  std::unordered_map<std::string, const MemberSlot*> old_members;
  std::unordered_map<std::string, uint32_t> old_balancers;
  if (previous != nullptr && previous->Valid()) {
    for (uint32_t b = 0; b < previous->num_balancers_; ++b) {
      const BalancerSlot* ob = previous->balancer(b);
      old_balancers.emplace(std::string(SlotString(ob->name, kNameMax)), b);
      uint32_t n = ob->num_members.load();
      for (uint32_t m = 0; m < n; ++m) {
        const MemberSlot* os = previous->member(b, m);
        // A config member the manager removed (in_use 0, key kept) is carried too, so
        // that it stays removed while the config still lists it.
        if (os != nullptr && os->key[0] != '\0' &&
            (os->in_use.load() != 0 || os->from_config != 0)) {
          old_members.emplace(std::string(SlotString(os->key, kKeyMax)), os);
        }
      }
    }
  }

  uint32_t next = 0;
  for (size_t bi = 0; bi < nb; ++bi) {
    const config::BalancerConfig& bc = config.balancers[bi];
    BalancerSlot* bs = &t->balancers_[bi];
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    int rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (rc == 0) {
      rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    }
    if (rc == 0) {
      rc = pthread_mutex_init(&bs->mutex, &attr);
    }
    pthread_mutexattr_destroy(&attr);
    if (rc != 0) {
      return core::Status::Error("pthread_mutex_init(balancer '" + bc.name + "') failed (" +
                                 ErrnoText(rc) + ")");
    }
    CopyString(bs->name, kNameMax, bc.name);
    const uint32_t growth = static_cast<uint32_t>(bc.growth > 0 ? bc.growth : 0);
    bs->first_member = next;
    bs->capacity = static_cast<uint32_t>(bc.members.size()) + growth;
    bs->config_lbmethod = static_cast<uint32_t>(bc.lbmethod);
    bs->lbmethod.store(static_cast<uint32_t>(bc.lbmethod));
    bs->config_nofailover = bc.nofailover ? 1 : 0;
    bs->nofailover.store(bs->config_nofailover);
    bs->config_maxattempts = bc.maxattempts;
    bs->maxattempts.store(bc.maxattempts);
    bs->config_timeout_ms = bc.timeout_ms;
    bs->timeout_ms.store(bc.timeout_ms);

    // Old workers may still pick on the previous table while it is copied:
    // hold its lock so that lbstatus values are a consistent snapshot.
    BalancerSlot* ob = nullptr;
    uint32_t b_old = 0;
    std::unique_ptr<LockGuard> old_lock;
    auto it = old_balancers.find(bc.name);
    if (previous != nullptr && it != old_balancers.end()) {
      b_old = it->second;
      ob = previous->balancer(b_old);
    }
    if (ob != nullptr) {
      old_lock = std::make_unique<LockGuard>(ob);
      // A manager change of a balancer setting (lbmethod, nofailover, maxattempts,
      // timeout) survives unless the config changed that setting too.
      if (ob->lbmethod.load() != ob->config_lbmethod &&
          ob->config_lbmethod == static_cast<uint32_t>(bc.lbmethod)) {
        bs->lbmethod.store(ob->lbmethod.load());
      }
      if (ob->nofailover.load() != ob->config_nofailover &&
          ob->config_nofailover == bs->config_nofailover) {
        bs->nofailover.store(ob->nofailover.load());
      }
      if (ob->maxattempts.load() != ob->config_maxattempts &&
          ob->config_maxattempts == bc.maxattempts) {
        bs->maxattempts.store(ob->maxattempts.load());
      }
      if (ob->timeout_ms.load() != ob->config_timeout_ms &&
          ob->config_timeout_ms == bc.timeout_ms) {
        bs->timeout_ms.store(ob->timeout_ms.load());
      }
    }

    std::unordered_set<std::string> in_config;
    uint32_t count = 0;
    for (const config::MemberConfig& mc : bc.members) {
      std::string key = MakeKey(bc.name, mc.name);
      in_config.insert(key);
      MemberSlot* s = &t->members_[next + count];
      auto it = old_members.find(key);
      if (it != old_members.end()) {
        CarryOver(*it->second, mc, s);
      } else {
        FillFromConfig(key, mc, s);
      }
      ++count;
    }
    // Members the balancer-manager added at run time to the previous table
    // (not in any config) move into growth slots while there is room.
    if (ob != nullptr) {
      uint32_t n_old = ob->num_members.load();
      for (uint32_t m = 0; m < n_old; ++m) {
        const MemberSlot* os = previous->member(b_old, m);
        if (os == nullptr || os->in_use.load() == 0 || os->from_config != 0) {
          continue;
        }
        std::string key(SlotString(os->key, kKeyMax));
        if (in_config.count(key) != 0) {
          continue;
        }
        if (count >= bs->capacity) {
          DLOG(kWarn, "balancer '%s': no free slot for runtime member '%s' on reload, dropped",
               bc.name.c_str(), std::string(SlotString(os->url, kKeyMax)).c_str());
          continue;
        }
        CopyMemberSlot(*os, &t->members_[next + count]);
        in_config.insert(key);
        ++count;
      }
    }
    bs->num_members.store(count);
    next += bs->capacity;
  }

  t->header_->magic = kMagic;
  t->header_->abi = kAbi;
  t->header_->num_balancers = static_cast<uint32_t>(nb);
  t->header_->num_members = static_cast<uint32_t>(total);
  t->header_->size = size;
  t->header_->generation = generation;
  return t;
}

SlotTable::~SlotTable() {
  if (base_ != nullptr) {
    munmap(base_, size_);
  }
}

bool SlotTable::Valid() const {
  return header_ != nullptr && header_->magic == kMagic && header_->abi == kAbi &&
         header_->size == size_ && header_->num_balancers == num_balancers_ &&
         header_->num_members == num_member_slots_;
}

LockGuard::LockGuard(BalancerSlot* slot) : slot_(slot) {
  if (slot_ == nullptr) {
    return;
  }
  int rc = pthread_mutex_lock(&slot_->mutex);
  if (rc == EOWNERDEAD) {
    // The previous holder died inside its critical section. Picks only make
    // small counter updates, so the state is usable as it is: mark the mutex
    // consistent and go on.
    pthread_mutex_consistent(&slot_->mutex);
    slot_->lock_recoveries.fetch_add(1);
    DLOG(kWarn, "balancer '%s': lock owner died, state recovered",
         std::string(SlotString(slot_->name, kNameMax)).c_str());
    rc = 0;
  }
  if (rc != 0) {
    DLOG(kError, "pthread_mutex_lock(balancer '%s') failed (%s)",
         std::string(SlotString(slot_->name, kNameMax)).c_str(), ErrnoText(rc).c_str());
    return;
  }
  locked_ = true;
}

LockGuard::~LockGuard() {
  if (locked_) {
    pthread_mutex_unlock(&slot_->mutex);
  }
}

}  // namespace drover::shm
