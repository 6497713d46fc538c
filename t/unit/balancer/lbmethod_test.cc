// byrequests schedules (exact, as Apache's), lbsets, hot standbys, hot
// spares, draining, errors and retry; bybusyness and bytraffic; the registry.
#include "balancer/lbmethod.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "test_balancer.h"

namespace drover::balancer {
namespace {

using config::kFlagDisabled;
using config::kFlagDrain;
using config::kFlagError;
using config::kFlagSpare;
using config::kFlagStandby;
using testing::kNow;
using testing::MakeBalancer;
using testing::Member;
using testing::TestBalancer;

TestBalancer Abc(int a, int b, int c) {
  return TestBalancer(MakeBalancer("c", {Member("http://a:80", "", a), Member("http://b:80", "", b),
                                         Member("http://c:80", "", c)}));
}

// The worked example above PickByRequests in lbmethod_byrequests.cc.
TEST(ByRequests, WorkedExample) {
  TestBalancer t = Abc(100, 200, 100);
  struct Step {
    int winner;
    int64_t a, b, c;
  };
  const Step steps[] = {{1, 100, -200, 100}, {0, -200, 0, 200}, {2, -100, 200, -100}, {1, 0, 0, 0}};
  for (int round = 0; round < 3; ++round) {
    for (const Step& s : steps) {
      PickResult r = t.Pick();
      ASSERT_EQ(r.member, s.winner);
      EXPECT_EQ(t.s(0)->lbstatus.load(), s.a);
      EXPECT_EQ(t.s(1)->lbstatus.load(), s.b);
      EXPECT_EQ(t.s(2)->lbstatus.load(), s.c);
    }
  }
  EXPECT_EQ(t.s(0)->elected.load(), 3u);
  EXPECT_EQ(t.s(1)->elected.load(), 6u);
  EXPECT_EQ(t.s(2)->elected.load(), 3u);
}

TEST(ByRequests, Schedule121) {
  TestBalancer t = Abc(100, 200, 100);
  EXPECT_EQ(t.Schedule(16), "BACBBACBBACBBACB");
}

TEST(ByRequests, ThreeToOneExact) {
  TestBalancer t(
      MakeBalancer("c", {Member("http://a:80", "", 300), Member("http://b:80", "", 100)}));
  int count[2] = {0, 0};
  for (int i = 0; i < 4000; ++i) {
    PickResult r = t.Pick();
    ASSERT_GE(r.member, 0);
    ++count[r.member];
  }
  EXPECT_EQ(count[0], 3000);
  EXPECT_EQ(count[1], 1000);
  EXPECT_EQ(t.s(0)->elected.load(), 3000u);
  EXPECT_EQ(t.s(1)->elected.load(), 1000u);
  EXPECT_EQ(t.Schedule(4), "AABA");
}

TEST(ByRequests, DecimalLoadfactor) {
  // loadfactor 1.5 and 1 -> lbfactor 150 and 100: 3 to 2.
  TestBalancer t(
      MakeBalancer("c", {Member("http://a:80", "", 150), Member("http://b:80", "", 100)}));
  std::string s = t.Schedule(500);
  EXPECT_EQ(std::count(s.begin(), s.end(), 'A'), 300);
  EXPECT_EQ(std::count(s.begin(), s.end(), 'B'), 200);
}

TEST(ByRequests, EqualFactorsRoundRobinInConfigOrder) {
  TestBalancer t = Abc(100, 100, 100);
  EXPECT_EQ(t.Schedule(9), "ABCABCABC");
}

TEST(ByRequests, DisabledMemberNeverPickedNorAccounted) {
  TestBalancer t = Abc(100, 200, 100);
  t.s(1)->status.store(kFlagDisabled);
  EXPECT_EQ(t.Schedule(6), "ACACAC");
  EXPECT_EQ(t.s(1)->lbstatus.load(), 0);
  EXPECT_EQ(t.s(1)->elected.load(), 0u);
}

TEST(ByRequests, ErrorMemberSkippedThenRetried) {
  TestBalancer t = Abc(100, 100, 100);
  t.s(1)->status.store(kFlagError);
  t.s(1)->error_time_ms.store(kNow - 1000);  // retry 60 s: 59 s to go
  EXPECT_EQ(t.Schedule(4), "ACAC");
  EXPECT_EQ(t.s(1)->retries.load(), 0u);
  EXPECT_EQ(t.s(1)->status.load() & kFlagError, kFlagError);
  EXPECT_FALSE(t.b().Usable(1, kNow));
  // Once the retry window is over the member is usable again: the next pick
  // clears E, counts the retry and includes it.
  const int64_t later = kNow - 1000 + 60000;
  EXPECT_TRUE(t.b().Usable(1, later));
  EXPECT_EQ(t.Schedule(3, later), "ABC");  // all at 0 again: A first on the tie
  EXPECT_EQ(t.s(1)->status.load() & kFlagError, 0u);
  EXPECT_EQ(t.s(1)->retries.load(), 1u);
}

TEST(ByRequests, RetryZeroAlwaysRetries) {
  config::BalancerConfig bc = MakeBalancer("c", {Member("http://a:80"), Member("http://b:80")});
  bc.members[0].retry_ms = 0;
  TestBalancer t(std::move(bc));
  t.s(0)->status.store(kFlagError);
  t.s(0)->error_time_ms.store(kNow);
  EXPECT_EQ(t.Schedule(2), "AB");
}

TEST(ByRequests, HotStandbyOnlyWhenNothingElseInItsSet) {
  TestBalancer t(MakeBalancer(
      "c", {Member("http://a:80", "", 100), Member("http://b:80", "", 200),
            Member("http://c:80", "", 100), Member("http://h:80", "", 100, kFlagStandby)}));
  // The Apache transcript: A=1 B=2 C=1 plus a standby H that is never picked.
  EXPECT_EQ(t.Schedule(12), "BACBBACBBACB");
  EXPECT_EQ(t.s(3)->elected.load(), 0u);
  EXPECT_EQ(t.s(3)->lbstatus.load(), 0);
  t.s(0)->status.store(kFlagDisabled);
  t.s(1)->status.store(kFlagError);
  t.s(1)->error_time_ms.store(kNow);
  EXPECT_EQ(t.Schedule(2), "CC");
  t.s(2)->status.store(kFlagDisabled);
  EXPECT_EQ(t.Schedule(2), "DD");
  EXPECT_EQ(t.s(3)->elected.load(), 2u);
}

TEST(ByRequests, StandbyOfLbset0BeforeLbset1) {
  TestBalancer t(MakeBalancer(
      "c", {Member("http://a:80", "", 100, 0, 0), Member("http://h:80", "", 100, kFlagStandby, 0),
            Member("http://c:80", "", 100, 0, 1)}));
  EXPECT_EQ(t.Schedule(3), "AAA");
  t.s(0)->status.store(kFlagDisabled);
  EXPECT_EQ(t.Schedule(3), "BBB");  // lbset 0's standby, not lbset 1
  t.s(1)->status.store(kFlagDisabled);
  EXPECT_EQ(t.Schedule(3), "CCC");  // lbset 0 has nothing left
  EXPECT_EQ(t.s(0)->lbstatus.load(), 0);
}

TEST(ByRequests, LbsetsWithGaps) {
  TestBalancer t(MakeBalancer(
      "c", {Member("http://a:80", "", 100, kFlagDisabled, 0), Member("http://b:80", "", 100, 0, 7),
            Member("http://c:80", "", 100, 0, 7)}));
  EXPECT_EQ(t.Schedule(4), "BCBC");
}

TEST(ByRequests, HotSpareReplacesOneUnusableMember) {
  TestBalancer t(MakeBalancer("c", {Member("http://a:80"), Member("http://b:80"),
                                    Member("http://r:80", "", 100, kFlagSpare),
                                    Member("http://s:80", "", 100, kFlagSpare)}));
  EXPECT_EQ(t.Schedule(4), "ABAB");  // spares idle while everyone is up
  EXPECT_EQ(t.s(2)->lbstatus.load(), 0);
  t.s(0)->status.store(kFlagDisabled);
  EXPECT_EQ(t.Schedule(4), "BCBC");  // one unusable member: only the first spare stands in
  EXPECT_EQ(t.s(3)->elected.load(), 0u);
  t.s(1)->status.store(kFlagError);
  t.s(1)->error_time_ms.store(kNow);
  EXPECT_EQ(t.Schedule(4), "CDCD");  // two unusable members: both spares
}

TEST(ByRequests, DrainingTakesNoNewSessionsAndIsReplacedBySpare) {
  TestBalancer t(
      MakeBalancer("c", {Member("http://a:80", "", 100, kFlagDrain), Member("http://b:80"),
                         Member("http://r:80", "", 100, kFlagSpare)}));
  EXPECT_EQ(t.Schedule(4), "BCBC");
  EXPECT_EQ(t.s(0)->elected.load(), 0u);
  EXPECT_TRUE(t.b().Usable(0, kNow));  // still usable for its sticky sessions
}

TEST(ByRequests, NoUsableMember) {
  TestBalancer t(MakeBalancer("c", {Member("http://a:80", "", 100, kFlagDisabled)}));
  PickResult r = t.Pick();
  EXPECT_EQ(r.member, -1);
  EXPECT_EQ(r.http_status, 503);
  EXPECT_STREQ(r.reason, "no usable member");
}

TEST(LbRegistry, ByName) {
  ASSERT_NE(FindLbMethod("byrequests"), nullptr);
  EXPECT_EQ(FindLbMethod("byrequests"), &kByRequests);
  EXPECT_EQ(FindLbMethod("bybusyness"), &kByBusyness);
  EXPECT_EQ(FindLbMethod("bytraffic"), &kByTraffic);
  EXPECT_EQ(FindLbMethod("heartbeat"), nullptr);
  EXPECT_EQ(FindLbMethod("ByRequests"), nullptr);
  EXPECT_EQ(&LbMethodFor(config::LbMethod::kByBusyness), &kByBusyness);
  EXPECT_EQ(&LbMethodFor(static_cast<config::LbMethod>(77)), &kByRequests);
}

TEST(LbByBusyness, FewestBusyTiesByLbstatus) {
  config::BalancerConfig bc =
      MakeBalancer("c", {Member("http://a:80"), Member("http://b:80"), Member("http://c:80")});
  bc.lbmethod = config::LbMethod::kByBusyness;
  TestBalancer t(std::move(bc));
  t.s(0)->busy.store(2);
  // The example above PickByBusyness.
  EXPECT_EQ(t.Pick().member, 1);
  EXPECT_EQ(t.s(1)->lbstatus.load(), -200);
  EXPECT_EQ(t.Pick().member, 2);
  t.b().OnRequestStart(1);
  t.b().OnRequestStart(2);
  t.b().OnRequestStart(2);
  EXPECT_EQ(t.Pick().member, 1);  // busy A=2 B=1 C=2
  t.s(1)->busy.store(5);
  EXPECT_EQ(t.Pick().member, 0);  // A=2 C=2: tie, A has the higher lbstatus
}

TEST(LbByBusyness, AllIdleIsByRequests) {
  config::BalancerConfig bc =
      MakeBalancer("c", {Member("http://a:80", "", 100), Member("http://b:80", "", 200),
                         Member("http://c:80", "", 100)});
  bc.lbmethod = config::LbMethod::kByBusyness;
  TestBalancer t(std::move(bc));
  EXPECT_EQ(t.Schedule(8), "BACBBACB");
}

TEST(LbByTraffic, SmallestNormalisedTraffic) {
  config::BalancerConfig bc =
      MakeBalancer("c", {Member("http://a:80", "", 100), Member("http://b:80", "", 100),
                         Member("http://c:80", "", 300)});
  bc.lbmethod = config::LbMethod::kByTraffic;
  TestBalancer t(std::move(bc));
  EXPECT_EQ(t.Pick().member, 0);  // all 0: the first
  // The example above PickByTraffic: 10, 20, 15.
  t.b().OnRequestEnd(0, 600, 400);
  t.b().OnRequestEnd(1, 1000, 1000);
  t.b().OnRequestEnd(2, 4500, 0);
  EXPECT_EQ(t.Pick().member, 0);
  t.b().OnRequestEnd(0, 1000, 0);  // A: 20
  EXPECT_EQ(t.Pick().member, 2);
  EXPECT_EQ(t.s(0)->lbstatus.load(), 0);  // bytraffic does not use lbstatus
}

TEST(LbMethodSlot, ManagerEditSwitchesMethod) {
  TestBalancer t(MakeBalancer("c", {Member("http://a:80"), Member("http://b:80")}));
  t.b().OnRequestEnd(0, 100, 0);
  t.bslot()->lbmethod.store(static_cast<uint32_t>(config::LbMethod::kByTraffic));
  EXPECT_EQ(t.Schedule(3), "BBB");
}

}  // namespace
}  // namespace drover::balancer
