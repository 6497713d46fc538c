// The shared-memory slot table (the analogue of Apache's mod_slotmem_shm): one
// anonymous MAP_SHARED mapping created by the master before fork, inherited by
// workers and the health checker. It knows layout, not policy: fixed-size,
// standard-layout slots of lock-free atomics (no pointers, no std::string), and
// one robust process-shared mutex per balancer. Every accessor checks its index.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.h"
#include "core/status.h"

namespace drover::shm {

constexpr uint64_t kMagic = 0x31564f5244524f44ULL;  // "DORDROV1"
constexpr uint32_t kAbi = 2;
constexpr size_t kKeyMax = 256;    // "balancer\x1furl"
constexpr size_t kRouteMax = 64;
constexpr size_t kNameMax = 128;

struct MemberSlot {
  char key[kKeyMax];                 // identity for carry-over on reload; "" = free slot
  char url[kKeyMax];                 // member URL (runtime-added members need it here)
  char route[kRouteMax];             // editable at runtime: read/write under the balancer lock
  char redirect[kRouteMax];
  // 1 = slot holds a member. 0 below num_members = removed by the balancer-manager: picks,
  // the manager and metrics skip it. A removed config member keeps its key (it stays removed
  // across a reload while the config still lists it, and re-adding its URL revives it); a
  // removed runtime member has its key cleared and its slot may be reused for another URL.
  std::atomic<uint32_t> in_use;
  std::atomic<int32_t> lbfactor;     // loadfactor x 100
  std::atomic<int32_t> lbset;
  std::atomic<uint32_t> status;      // config::MemberFlag bits
  std::atomic<int64_t> lbstatus;
  std::atomic<int64_t> error_time_ms;   // wall clock ms when E was set, 0 = never
  std::atomic<uint64_t> retries;        // retries after the retry window
  std::atomic<uint64_t> elected;        // requests assigned
  std::atomic<int64_t> busy;            // requests in flight (all processes)
  std::atomic<uint64_t> bytes_in;       // from the member (read)
  std::atomic<uint64_t> bytes_out;      // to the member (transferred)
  std::atomic<uint64_t> failures;       // connect failures, failonstatus, timeouts
  std::atomic<int32_t> hc_passes;       // consecutive health-check passes
  std::atomic<int32_t> hc_fails;        // consecutive health-check failures
  std::atomic<int64_t> hc_last_ms;      // wall clock ms of the last check
  std::atomic<int64_t> recovered_ms;    // when the member last became usable (slowstart)
  // The values the config gave this member when the table was created (or, for a member
  // added at run time, its values then). A reload compares them with the runtime values to
  // tell manager edits (kept) from untouched fields (which take the new config's value).
  // Written only by SlotTable::Create, before the table is shared.
  uint32_t from_config;              // 1 = created from the config, 0 = added at run time
  int32_t config_lbfactor;
  int32_t config_lbset;
  uint32_t config_status;
  char config_route[kRouteMax];
  char config_redirect[kRouteMax];
};

struct BalancerSlot {
  pthread_mutex_t mutex;             // robust, process-shared; guards picks and edits
  char name[kNameMax];
  uint32_t first_member;             // index of its first MemberSlot
  uint32_t capacity;                 // members + growth
  std::atomic<uint32_t> num_members; // slots used from first_member (in order; some may be
                                     // removed, see MemberSlot::in_use)
  std::atomic<uint32_t> lbmethod;    // config::LbMethod, editable
  std::atomic<uint64_t> wupdated;    // bumped on any membership/edit change
  std::atomic<uint64_t> lock_recoveries;  // EOWNERDEAD recoveries
  // Balancer settings the balancer-manager can edit (Apache's b_sforce, b_max, b_tmo).
  std::atomic<uint32_t> nofailover;  // 1 = On
  std::atomic<int32_t> maxattempts;  // -1 = members in use - 1
  std::atomic<int64_t> timeout_ms;   // balancer timeout= (wait for a usable member)
  // The config's values when the table was created (reload: manager edit or not).
  uint32_t config_lbmethod;
  uint32_t config_nofailover;
  int32_t config_maxattempts;
  uint32_t pad;
  int64_t config_timeout_ms;
};

struct Header {
  uint64_t magic;
  uint32_t abi;
  uint32_t num_balancers;
  uint32_t num_members;              // total MemberSlots
  uint32_t pad;
  uint64_t size;                     // bytes mapped
  uint64_t generation;               // bumped on every reload
};

static_assert(std::is_standard_layout_v<MemberSlot>);
static_assert(std::is_standard_layout_v<BalancerSlot>);
static_assert(std::atomic<int64_t>::is_always_lock_free);

class SlotTable {
 public:
  // Maps a zeroed table sized for `config` (members + growth per balancer) and
  // fills keys, routes, factors and initial status from it. When `previous` is
  // given (reload), every member whose balancer name and URL are unchanged takes
  // over the runtime state (lbstatus, counters, flags, manager edits) of its old slot.
  static core::Result<std::unique_ptr<SlotTable>> Create(const config::Config& config,
                                                         const SlotTable* previous,
                                                         uint64_t generation);
  ~SlotTable();
  SlotTable(const SlotTable&) = delete;
  SlotTable& operator=(const SlotTable&) = delete;

  const Header& header() const { return *header_; }
  bool Valid() const;  // magic, abi and size check (workers call it after fork)
  uint32_t num_balancers() const { return header_->num_balancers; }
  // nullptr when out of range. Inline: the proxy asks several times per request.
  BalancerSlot* balancer(uint32_t b) const { return b < num_balancers_ ? &balancers_[b] : nullptr; }
  // Member `m` of balancer `b` (0-based within the balancer); nullptr when out of range
  // of the balancer's capacity.
  MemberSlot* member(uint32_t b, uint32_t m) const {
    BalancerSlot* bs = balancer(b);
    if (bs == nullptr || m >= bs->capacity) {
      return nullptr;
    }
    uint64_t idx = static_cast<uint64_t>(bs->first_member) + m;
    return idx < num_member_slots_ ? &members_[idx] : nullptr;
  }
  static std::string MakeKey(std::string_view balancer, std::string_view url);

 private:
  SlotTable() = default;
  void* base_ = nullptr;
  size_t size_ = 0;
  Header* header_ = nullptr;
  BalancerSlot* balancers_ = nullptr;
  MemberSlot* members_ = nullptr;
  // Counts cached at Create so that index checks never trust the shared header.
  uint32_t num_balancers_ = 0;
  uint32_t num_member_slots_ = 0;
};

// Holds a balancer's robust mutex. On EOWNERDEAD (the holder died) it makes
// the mutex consistent, counts the recovery in the slot and logs at warn.
class LockGuard {
 public:
  explicit LockGuard(BalancerSlot* slot);
  ~LockGuard();
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;
  // False only when the mutex could not be taken (ENOTRECOVERABLE, null slot): the
  // caller must not touch the guarded state.
  bool locked() const { return locked_; }

 private:
  BalancerSlot* slot_;
  bool locked_ = false;
};

// Copies `s` into a fixed char array, truncating, always NUL-terminated.
void CopyString(char* dst, size_t cap, std::string_view s);

}  // namespace drover::shm
