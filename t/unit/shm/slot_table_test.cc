// SlotTable: layout and index checks, reload carry-over by key, and the
// multi-process guarantees: exact totals with forked pickers, and a robust
// lock whose holder dies (exits or is SIGKILLed) while holding it.
#include "shm/slot_table.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "../balancer/test_balancer.h"
#include "balancer/balancer.h"
#include "core/log.h"

namespace drover::shm {
namespace {

using balancer::testing::kNow;
using balancer::testing::MakeBalancer;
using balancer::testing::Member;
using config::kFlagDisabled;
using config::kFlagError;
using config::kFlagHcFailed;
using config::kFlagStandby;

std::unique_ptr<SlotTable> Make(const config::Config& cfg, const SlotTable* prev = nullptr,
                                uint64_t gen = 1) {
  auto r = SlotTable::Create(cfg, prev, gen);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::move(r.value()) : nullptr;
}

std::string Str(const char* s, size_t cap) { return std::string(s, strnlen(s, cap)); }

config::Config TwoBalancers() {
  config::Config cfg;
  cfg.balancers.push_back(MakeBalancer("one", {Member("http://a:80", "n1", 200),
                                               Member("http://b:80", "n2", 100, kFlagStandby, 3)}));
  cfg.balancers.back().growth = 2;
  cfg.balancers.back().members[1].redirect = "n1";
  cfg.balancers.push_back(MakeBalancer("two", {Member("http://c:8080")}));
  cfg.balancers.back().lbmethod = config::LbMethod::kByTraffic;
  return cfg;
}

TEST(ShmSlotTable, Layout) {
  config::Config cfg = TwoBalancers();
  auto t = Make(cfg, nullptr, 42);
  ASSERT_NE(t, nullptr);
  EXPECT_TRUE(t->Valid());
  EXPECT_EQ(t->header().magic, kMagic);
  EXPECT_EQ(t->header().abi, kAbi);
  EXPECT_EQ(t->header().generation, 42u);
  EXPECT_EQ(t->header().num_balancers, 2u);
  EXPECT_EQ(t->header().num_members, 5u);  // 2 + growth 2, then 1
  EXPECT_EQ(t->header().size % 4096, 0u);
  EXPECT_EQ(t->num_balancers(), 2u);

  BalancerSlot* one = t->balancer(0);
  BalancerSlot* two = t->balancer(1);
  ASSERT_NE(one, nullptr);
  ASSERT_NE(two, nullptr);
  EXPECT_EQ(t->balancer(2), nullptr);
  EXPECT_EQ(Str(one->name, kNameMax), "one");
  EXPECT_EQ(one->first_member, 0u);
  EXPECT_EQ(one->capacity, 4u);
  EXPECT_EQ(one->num_members.load(), 2u);
  EXPECT_EQ(two->first_member, 4u);
  EXPECT_EQ(two->capacity, 1u);
  EXPECT_EQ(two->lbmethod.load(), static_cast<uint32_t>(config::LbMethod::kByTraffic));

  MemberSlot* a = t->member(0, 0);
  MemberSlot* b = t->member(0, 1);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(b, a + 1);  // contiguous, in config order
  EXPECT_EQ(t->member(1, 0), a + 4);
  EXPECT_NE(t->member(0, 3), nullptr);  // growth slot
  EXPECT_EQ(t->member(0, 3)->in_use.load(), 0u);
  EXPECT_EQ(t->member(0, 3)->key[0], '\0');
  EXPECT_EQ(t->member(0, 4), nullptr);
  EXPECT_EQ(t->member(1, 1), nullptr);
  EXPECT_EQ(t->member(2, 0), nullptr);

  EXPECT_EQ(Str(a->key, kKeyMax), SlotTable::MakeKey("one", "http://a:80"));
  EXPECT_EQ(Str(a->url, kKeyMax), "http://a:80");
  EXPECT_EQ(Str(a->route, kRouteMax), "n1");
  EXPECT_EQ(a->lbfactor.load(), 200);
  EXPECT_EQ(a->in_use.load(), 1u);
  EXPECT_EQ(Str(b->redirect, kRouteMax), "n1");
  EXPECT_EQ(b->lbset.load(), 3);
  EXPECT_EQ(b->status.load(), kFlagStandby);
  EXPECT_EQ(b->lbstatus.load(), 0);
  EXPECT_EQ(b->elected.load(), 0u);
}

TEST(ShmSlotTable, NoBalancers) {
  config::Config cfg;
  auto t = Make(cfg);
  ASSERT_NE(t, nullptr);
  EXPECT_TRUE(t->Valid());
  EXPECT_EQ(t->balancer(0), nullptr);
  EXPECT_EQ(t->member(0, 0), nullptr);
}

TEST(ShmSlotTable, ValidDetectsCorruption) {
  config::Config cfg = TwoBalancers();
  auto t = Make(cfg);
  Header* h = const_cast<Header*>(&t->header());
  h->abi = kAbi + 1;
  EXPECT_FALSE(t->Valid());
  h->abi = kAbi;
  h->magic = 0;
  EXPECT_FALSE(t->Valid());
  h->magic = kMagic;
  EXPECT_TRUE(t->Valid());
}

TEST(ShmSlotTable, InheritedAcrossFork) {
  config::Config cfg = TwoBalancers();
  auto t = Make(cfg);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    bool ok = t->Valid();
    t->member(0, 0)->elected.store(77);
    _exit(ok ? 0 : 1);
  }
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  EXPECT_EQ(t->member(0, 0)->elected.load(), 77u);
}

TEST(ShmStrings, MakeKeyAndCopyString) {
  EXPECT_EQ(SlotTable::MakeKey("b", "http://x:80"), std::string("b\x1fhttp://x:80"));
  EXPECT_EQ(SlotTable::MakeKey("b", std::string(400, 'u')).size(), kKeyMax - 1);
  char buf[8];
  memset(buf, 'z', sizeof(buf));
  CopyString(buf, sizeof(buf), "abc");
  EXPECT_STREQ(buf, "abc");
  EXPECT_EQ(buf[7], '\0');
  CopyString(buf, sizeof(buf), "abcdefghijk");
  EXPECT_STREQ(buf, "abcdefg");
  CopyString(buf, sizeof(buf), "");
  EXPECT_STREQ(buf, "");
}

// --- Reload carry-over ------------------------------------------------------

TEST(ShmCarryOver, UnchangedKeepsStateRemovedGoneAddedFresh) {
  config::Config c1;
  c1.balancers.push_back(
      MakeBalancer("lb", {Member("http://keep:80", "k"), Member("http://gone:80", "g"),
                          Member("http://edit:80", "e")}));
  auto t1 = Make(c1, nullptr, 1);
  MemberSlot* keep = t1->member(0, 0);
  keep->lbstatus.store(-123);
  keep->elected.store(1000);
  keep->busy.store(5);
  keep->bytes_in.store(11);
  keep->bytes_out.store(22);
  keep->failures.store(3);
  keep->retries.store(2);
  keep->status.store(kFlagError | kFlagHcFailed);
  keep->error_time_ms.store(kNow);
  keep->hc_passes.store(1);
  keep->hc_fails.store(4);
  keep->hc_last_ms.store(kNow - 5);
  t1->member(0, 1)->elected.store(999);
  // Manager edits on "edit": loadfactor 3, route, disabled.
  MemberSlot* edit = t1->member(0, 2);
  edit->lbfactor.store(300);
  CopyString(edit->route, kRouteMax, "e2");
  edit->status.store(kFlagDisabled);
  t1->balancer(0)->lbmethod.store(static_cast<uint32_t>(config::LbMethod::kByBusyness));

  config::Config c2;
  c2.balancers.push_back(
      MakeBalancer("lb", {Member("http://new:80", "n"), Member("http://keep:80", "k"),
                          Member("http://edit:80", "e")}));
  auto t2 = Make(c2, t1.get(), 2);
  ASSERT_NE(t2, nullptr);
  EXPECT_EQ(t2->header().generation, 2u);
  EXPECT_EQ(t2->balancer(0)->num_members.load(), 3u);
  EXPECT_EQ(t2->balancer(0)->lbmethod.load(), static_cast<uint32_t>(config::LbMethod::kByBusyness));

  MemberSlot* fresh = t2->member(0, 0);
  EXPECT_EQ(Str(fresh->url, kKeyMax), "http://new:80");
  EXPECT_EQ(fresh->elected.load(), 0u);
  EXPECT_EQ(fresh->lbstatus.load(), 0);
  EXPECT_EQ(fresh->status.load(), 0u);

  MemberSlot* k = t2->member(0, 1);
  EXPECT_EQ(Str(k->url, kKeyMax), "http://keep:80");
  EXPECT_EQ(k->lbstatus.load(), -123);
  EXPECT_EQ(k->elected.load(), 1000u);
  EXPECT_EQ(k->busy.load(), 0);  // in-flight requests stay with the old workers
  EXPECT_EQ(k->bytes_in.load(), 11u);
  EXPECT_EQ(k->bytes_out.load(), 22u);
  EXPECT_EQ(k->failures.load(), 3u);
  EXPECT_EQ(k->retries.load(), 2u);
  EXPECT_EQ(k->status.load(), kFlagError | kFlagHcFailed);
  EXPECT_EQ(k->error_time_ms.load(), kNow);
  EXPECT_EQ(k->hc_passes.load(), 1);
  EXPECT_EQ(k->hc_fails.load(), 4);
  EXPECT_EQ(k->hc_last_ms.load(), kNow - 5);
  EXPECT_EQ(Str(k->route, kRouteMax), "k");

  MemberSlot* e = t2->member(0, 2);
  EXPECT_EQ(e->lbfactor.load(), 300);
  EXPECT_EQ(Str(e->route, kRouteMax), "e2");
  EXPECT_EQ(e->status.load(), kFlagDisabled);

  // The old table is untouched.
  EXPECT_EQ(t1->member(0, 0)->busy.load(), 5);
}

TEST(ShmCarryOver, ConfigChangesApplyToUneditedFields) {
  config::Config c1;
  c1.balancers.push_back(MakeBalancer("lb", {Member("http://m:80", "r1", 100, kFlagDisabled)}));
  auto t1 = Make(c1);
  t1->member(0, 0)->elected.store(5);
  config::Config c2;
  c2.balancers.push_back(MakeBalancer("lb", {Member("http://m:80", "r2", 400, kFlagStandby, 2)}));
  c2.balancers.back().lbmethod = config::LbMethod::kByTraffic;
  auto t2 = Make(c2, t1.get());
  MemberSlot* m = t2->member(0, 0);
  EXPECT_EQ(m->elected.load(), 5u);
  EXPECT_EQ(m->lbfactor.load(), 400);
  EXPECT_EQ(m->lbset.load(), 2);
  EXPECT_EQ(Str(m->route, kRouteMax), "r2");
  EXPECT_EQ(m->status.load(), kFlagStandby);
  EXPECT_EQ(t2->balancer(0)->lbmethod.load(), static_cast<uint32_t>(config::LbMethod::kByTraffic));
  // A third generation keeps comparing with the config it was built from.
  m->lbfactor.store(700);
  config::Config c3 = c2;
  auto t3 = Make(c3, t2.get());
  EXPECT_EQ(t3->member(0, 0)->lbfactor.load(), 700);
}

TEST(ShmCarryOver, RuntimeAddedMembersMoveToGrowthSlots) {
  config::Config c1;
  c1.balancers.push_back(MakeBalancer("lb", {Member("http://a:80")}));
  c1.balancers.back().growth = 2;
  auto t1 = Make(c1);
  for (uint32_t i = 1; i <= 2; ++i) {
    MemberSlot* s = t1->member(0, i);
    std::string url = "http://rt" + std::to_string(i) + ":80";
    CopyString(s->key, kKeyMax, SlotTable::MakeKey("lb", url));
    CopyString(s->url, kKeyMax, url);
    s->lbfactor.store(100 * static_cast<int>(i));
    s->elected.store(10 * i);
    s->in_use.store(1);
  }
  t1->balancer(0)->num_members.store(3);

  // Room for one of them only.
  config::Config c2;
  c2.balancers.push_back(MakeBalancer("lb", {Member("http://a:80"), Member("http://b:80")}));
  c2.balancers.back().growth = 1;
  auto t2 = Make(c2, t1.get());
  EXPECT_EQ(t2->balancer(0)->num_members.load(), 3u);
  MemberSlot* rt = t2->member(0, 2);
  EXPECT_EQ(Str(rt->url, kKeyMax), "http://rt1:80");
  EXPECT_EQ(rt->elected.load(), 10u);
  EXPECT_EQ(rt->lbfactor.load(), 100);
  EXPECT_EQ(rt->from_config, 0u);

  // A removed config member is not carried as a runtime one.
  config::Config c3;
  c3.balancers.push_back(MakeBalancer("lb", {Member("http://a:80")}));
  c3.balancers.back().growth = 4;
  auto t3 = Make(c3, t2.get());
  EXPECT_EQ(t3->balancer(0)->num_members.load(), 2u);
  EXPECT_EQ(Str(t3->member(0, 1)->url, kKeyMax), "http://rt1:80");
}

TEST(ShmCarryOver, BalancerSettingsEditsSurvive) {
  config::Config c1;
  c1.balancers.push_back(MakeBalancer("lb", {Member("http://a:80")}));
  c1.balancers.back().timeout_ms = 3000;
  auto t1 = Make(c1);
  BalancerSlot* b1 = t1->balancer(0);
  EXPECT_EQ(b1->nofailover.load(), 0u);
  EXPECT_EQ(b1->maxattempts.load(), -1);
  EXPECT_EQ(b1->timeout_ms.load(), 3000);
  b1->nofailover.store(1);
  b1->maxattempts.store(4);
  auto t2 = Make(c1, t1.get());
  EXPECT_EQ(t2->balancer(0)->nofailover.load(), 1u);
  EXPECT_EQ(t2->balancer(0)->maxattempts.load(), 4);
  EXPECT_EQ(t2->balancer(0)->timeout_ms.load(), 3000);
  // A config change of an edited setting wins; an unedited one follows the config.
  config::Config c2 = c1;
  c2.balancers[0].maxattempts = 2;
  c2.balancers[0].timeout_ms = 9000;
  auto t3 = Make(c2, t2.get());
  EXPECT_EQ(t3->balancer(0)->nofailover.load(), 1u);
  EXPECT_EQ(t3->balancer(0)->maxattempts.load(), 2);
  EXPECT_EQ(t3->balancer(0)->timeout_ms.load(), 9000);
}

TEST(ShmCarryOver, RemovedMembersStayRemoved) {
  config::Config c1;
  c1.balancers.push_back(MakeBalancer("lb", {Member("http://a:80"), Member("http://b:80")}));
  c1.balancers.back().growth = 1;
  auto t1 = Make(c1);
  // The manager removed config member b (key kept) and a runtime member (key cleared).
  t1->member(0, 1)->elected.store(5);
  t1->member(0, 1)->in_use.store(0);
  MemberSlot* rt = t1->member(0, 2);
  CopyString(rt->url, kKeyMax, "http://rt:80");
  rt->in_use.store(0);
  t1->balancer(0)->num_members.store(3);
  auto t2 = Make(c1, t1.get());
  EXPECT_EQ(t2->balancer(0)->num_members.load(), 2u);
  EXPECT_EQ(t2->member(0, 1)->in_use.load(), 0u);
  EXPECT_EQ(t2->member(0, 1)->elected.load(), 5u);
  EXPECT_EQ(Str(t2->member(0, 1)->key, kKeyMax), SlotTable::MakeKey("lb", "http://b:80"));
  EXPECT_EQ(t2->member(0, 2)->in_use.load(), 0u);
  EXPECT_EQ(t2->member(0, 2)->key[0], '\0');
  // Removed from the config too: gone; listed again later: fresh.
  config::Config c2;
  c2.balancers.push_back(MakeBalancer("lb", {Member("http://a:80")}));
  auto t3 = Make(c2, t2.get());
  EXPECT_EQ(t3->balancer(0)->num_members.load(), 1u);
  auto t4 = Make(c1, t3.get());
  EXPECT_EQ(t4->member(0, 1)->in_use.load(), 1u);
  EXPECT_EQ(t4->member(0, 1)->elected.load(), 0u);
}

TEST(ShmCarryOver, OtherBalancerSameUrlIsNotTheSameMember) {
  config::Config c1;
  c1.balancers.push_back(MakeBalancer("x", {Member("http://a:80")}));
  auto t1 = Make(c1);
  t1->member(0, 0)->elected.store(9);
  config::Config c2;
  c2.balancers.push_back(MakeBalancer("y", {Member("http://a:80")}));
  auto t2 = Make(c2, t1.get());
  EXPECT_EQ(t2->member(0, 0)->elected.load(), 0u);
}

// --- Multi-process ----------------------------------------------------------

struct Shared {
  std::atomic<int> ready;
  std::atomic<int> go;
};

Shared* MapShared() {
  void* p =
      mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  EXPECT_NE(p, MAP_FAILED);
  return new (p) Shared{};
}

TEST(ShmFork, FourProcessesExactTotals) {
  config::Config cfg;
  cfg.balancers.push_back(
      MakeBalancer("lb", {Member("http://a:80", "", 300), Member("http://b:80", "", 100)}));
  auto t = Make(cfg);
  balancer::Balancer bal(&cfg.balancers[0], t.get(), 0);
  Shared* sh = MapShared();
  constexpr int kProcs = 4;
  constexpr int kPicks = 10000;
  std::vector<pid_t> pids;
  for (int i = 0; i < kProcs; ++i) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      sh->ready.fetch_add(1);
      while (sh->go.load() == 0) {
      }
      int bad = 0;
      for (int k = 0; k < kPicks; ++k) {
        if (bal.Pick({}, {}, kNow).member < 0) {
          ++bad;
        }
      }
      _exit(bad == 0 ? 0 : 1);
    }
    pids.push_back(pid);
  }
  while (sh->ready.load() < kProcs) {
    usleep(100);
  }
  sh->go.store(1);
  for (pid_t pid : pids) {
    int st = 0;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  EXPECT_EQ(t->member(0, 0)->elected.load(), 30000u);
  EXPECT_EQ(t->member(0, 1)->elected.load(), 10000u);
  // Every pick adds the total and takes it back: the sum stays 0, and after a
  // whole number of 4-pick cycles each counter is back at 0.
  EXPECT_EQ(t->member(0, 0)->lbstatus.load() + t->member(0, 1)->lbstatus.load(), 0);
  EXPECT_EQ(t->member(0, 0)->lbstatus.load(), 0);
  EXPECT_EQ(t->balancer(0)->lock_recoveries.load(), 0u);
  munmap(sh, sizeof(Shared));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ShmRobustLock, HolderExitsWhileHoldingLock) {
  config::Config cfg;
  cfg.balancers.push_back(MakeBalancer("robust", {Member("http://a:80"), Member("http://b:80")}));
  auto t = Make(cfg);
  balancer::Balancer bal(&cfg.balancers[0], t.get(), 0);
  char log_path[] = "/tmp/drover-shm-test-XXXXXX";
  int fd = mkstemp(log_path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::string err;
  ASSERT_TRUE(core::ErrorLog::Open(log_path, core::LogLevel::kWarn, &err)) << err;

  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    LockGuard* never_released = new LockGuard(t->balancer(0));
    (void)never_released;
    _exit(0);
  }
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  {
    LockGuard lock(t->balancer(0));
    EXPECT_TRUE(lock.locked());
  }
  EXPECT_EQ(t->balancer(0)->lock_recoveries.load(), 1u);
  EXPECT_EQ(bal.Pick({}, {}, kNow).member, 0);
  EXPECT_EQ(bal.Pick({}, {}, kNow).member, 1);
  EXPECT_EQ(t->balancer(0)->lock_recoveries.load(), 1u);

  std::string log = ReadFile(log_path);
  EXPECT_NE(log.find("[warn]"), std::string::npos) << log;
  EXPECT_NE(log.find("balancer 'robust': lock owner died, state recovered"), std::string::npos)
      << log;
  ASSERT_TRUE(core::ErrorLog::Open("stderr", core::LogLevel::kWarn, &err));
  unlink(log_path);
}

TEST(ShmRobustLock, HolderKilledWhileHoldingLock) {
  config::Config cfg;
  cfg.balancers.push_back(
      MakeBalancer("robust", {Member("http://a:80", "", 300), Member("http://b:80", "", 100)}));
  auto t = Make(cfg);
  balancer::Balancer bal(&cfg.balancers[0], t.get(), 0);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(p[0]);
    LockGuard lock(t->balancer(0));
    char c = 'L';
    ssize_t w = write(p[1], &c, 1);
    (void)w;
    while (true) {
      pause();
    }
  }
  close(p[1]);
  char c = 0;
  ASSERT_EQ(read(p[0], &c, 1), 1);
  close(p[0]);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(st));
  // Picks continue, with the exact schedule.
  std::string s;
  for (int i = 0; i < 8; ++i) {
    s.push_back(static_cast<char>('A' + bal.Pick({}, {}, kNow).member));
  }
  EXPECT_EQ(s, "AABAAABA");
  EXPECT_EQ(t->balancer(0)->lock_recoveries.load(), 1u);
}

TEST(ShmRobustLock, PickerKilledMidStreamDoesNotStallOthers) {
  config::Config cfg;
  cfg.balancers.push_back(MakeBalancer("robust", {Member("http://a:80"), Member("http://b:80")}));
  auto t = Make(cfg);
  balancer::Balancer bal(&cfg.balancers[0], t.get(), 0);
  Shared* sh = MapShared();
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    while (true) {
      bal.Pick({}, {}, kNow);
      sh->ready.store(1);
    }
  }
  while (sh->ready.load() == 0) {
    usleep(100);
  }
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  uint64_t before = t->member(0, 0)->elected.load() + t->member(0, 1)->elected.load();
  for (int i = 0; i < 100; ++i) {
    ASSERT_GE(bal.Pick({}, {}, kNow).member, 0);
  }
  EXPECT_EQ(t->member(0, 0)->elected.load() + t->member(0, 1)->elected.load(), before + 100);
  EXPECT_LE(t->balancer(0)->lock_recoveries.load(), 1u);
  munmap(sh, sizeof(Shared));
}

}  // namespace
}  // namespace drover::shm
