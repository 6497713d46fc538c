// Balancer: failover exclusion, member health (connect failures, failonstatus,
// failontimeout, +I, stopped), force recovery, runtime-added members and the
// request accounting atomics.
#include "balancer/balancer.h"

#include <gtest/gtest.h>

#include <cstring>

#include "test_balancer.h"

namespace drover::balancer {
namespace {

using config::kFlagDisabled;
using config::kFlagError;
using config::kFlagHcFailed;
using config::kFlagIgnoreErrors;
using config::kFlagStopped;
using testing::kNow;
using testing::MakeBalancer;
using testing::Member;
using testing::TestBalancer;

TestBalancer Two(bool forcerecovery = true) {
  config::BalancerConfig b = MakeBalancer("two", {Member("http://a:80"), Member("http://b:80")});
  b.forcerecovery = forcerecovery;
  return TestBalancer(std::move(b));
}

TEST(BalancerBasics, NamesAndUrls) {
  TestBalancer t = Two();
  EXPECT_EQ(t.b().name(), "two");
  EXPECT_EQ(t.b().index(), 0u);
  EXPECT_EQ(t.b().num_members(), 2u);
  EXPECT_EQ(t.b().MemberUrl(1), "http://b:80");
  EXPECT_EQ(t.b().MemberUrl(2), "");
  EXPECT_EQ(t.b().slot(2), nullptr);
  EXPECT_FALSE(t.b().Usable(2, kNow));
}

TEST(BalancerBasics, EmptyBalancer) {
  TestBalancer t(MakeBalancer("none", {}));
  PickResult r = t.Pick();
  EXPECT_EQ(r.member, -1);
  EXPECT_EQ(r.http_status, 503);
  EXPECT_STREQ(r.reason, "no members in balancer");
}

TEST(BalancerFailover, TriedMembersAreExcluded) {
  TestBalancer t = Two();
  EXPECT_EQ(t.Pick({}, {0}).member, 1);
  EXPECT_EQ(t.Pick({}, {0}).member, 1);
  EXPECT_EQ(t.Pick({}, {1}).member, 0);
  PickResult r = t.Pick({}, {0, 1});
  EXPECT_EQ(r.member, -1);
  EXPECT_EQ(r.http_status, 503);
  EXPECT_STREQ(r.reason, "no usable member");
  EXPECT_EQ(t.Pick({}, {-3, 9}).member, 0);  // out-of-range entries are ignored
}

TEST(BalancerFailover, ConnectFailureSetsErrorUntilRetry) {
  TestBalancer t = Two();
  t.b().OnConnectFailure(0, kNow);
  EXPECT_EQ(t.s(0)->failures.load(), 1u);
  EXPECT_EQ(t.s(0)->error_time_ms.load(), kNow);
  EXPECT_FALSE(t.b().Usable(0, kNow + 59999));
  EXPECT_EQ(t.Schedule(3, kNow + 59999), "BBB");
  EXPECT_TRUE(t.b().Usable(0, kNow + 60000));
  EXPECT_EQ(t.Pick({}, {}, kNow + 60000).member, 0);
  EXPECT_EQ(t.s(0)->retries.load(), 1u);
}

TEST(BalancerFailover, IgnoreErrorsMemberNeverInError) {
  TestBalancer t(MakeBalancer(
      "c", {Member("http://a:80", "", 100, kFlagIgnoreErrors), Member("http://b:80")}));
  t.b().OnConnectFailure(0, kNow);
  EXPECT_EQ(t.s(0)->status.load(), kFlagIgnoreErrors);
  EXPECT_EQ(t.s(0)->failures.load(), 1u);
  EXPECT_TRUE(t.b().Usable(0, kNow));
  // An E set otherwise (e.g. by the manager) is retried at once.
  t.s(0)->status.fetch_or(kFlagError);
  t.s(0)->error_time_ms.store(kNow);
  EXPECT_TRUE(t.b().Usable(0, kNow));
  EXPECT_EQ(t.Pick().member, 0);
}

TEST(BalancerFailover, StoppedMemberErrorNeverRetried) {
  TestBalancer t = Two();
  t.s(0)->status.store(kFlagStopped | kFlagError);
  t.s(0)->error_time_ms.store(kNow - 1000000);
  EXPECT_FALSE(t.b().Usable(0, kNow));
  EXPECT_EQ(t.Schedule(2), "BB");
  EXPECT_EQ(t.s(0)->status.load(), kFlagStopped | kFlagError);
  EXPECT_EQ(t.s(0)->retries.load(), 0u);
}

TEST(BalancerFailover, HealthCheckFailedIsUnusable) {
  TestBalancer t = Two();
  t.s(1)->status.store(kFlagHcFailed);
  EXPECT_FALSE(t.b().Usable(1, kNow));
  EXPECT_EQ(t.Schedule(2), "AA");
}

TEST(BalancerForceRecovery, AllInErrorClearedAndPicked) {
  TestBalancer t = Two();
  t.b().OnConnectFailure(0, kNow);
  t.b().OnConnectFailure(1, kNow);
  PickResult r = t.Pick();
  EXPECT_EQ(r.member, 0);
  EXPECT_EQ(t.s(0)->status.load() & kFlagError, 0u);
  EXPECT_EQ(t.s(1)->status.load() & kFlagError, 0u);
  EXPECT_EQ(t.s(0)->retries.load(), 1u);
  EXPECT_EQ(t.s(1)->retries.load(), 1u);
}

TEST(BalancerForceRecovery, OffGives503) {
  TestBalancer t = Two(false);
  t.b().OnConnectFailure(0, kNow);
  t.b().OnConnectFailure(1, kNow);
  PickResult r = t.Pick();
  EXPECT_EQ(r.member, -1);
  EXPECT_EQ(r.http_status, 503);
  EXPECT_STREQ(r.reason, "all members in error");
  EXPECT_EQ(t.s(0)->status.load() & kFlagError, kFlagError);
}

TEST(BalancerForceRecovery, NotWhenAMemberIsOnlyDisabled) {
  // Apache's condition is "every member in error": a disabled member without
  // E means no forced recovery.
  TestBalancer t = Two();
  t.s(0)->status.store(kFlagDisabled);
  t.b().OnConnectFailure(1, kNow);
  PickResult r = t.Pick();
  EXPECT_EQ(r.member, -1);
  EXPECT_STREQ(r.reason, "no usable member");
  EXPECT_EQ(t.s(1)->status.load() & kFlagError, kFlagError);
}

TEST(BalancerForceRecovery, StickyRouteHonouredAfterRecovery) {
  config::BalancerConfig b =
      MakeBalancer("c", {Member("http://a:80", "n1"), Member("http://b:80", "n2")});
  b.sticky_cookie = "S";
  TestBalancer t(std::move(b));
  t.b().OnConnectFailure(0, kNow);
  t.b().OnConnectFailure(1, kNow);
  PickResult r = t.Pick(TestBalancer::Cookie("S=x.n2"));
  EXPECT_EQ(r.member, 1);
  EXPECT_TRUE(r.sticky);
}

TEST(BalancerHealth, FailOnStatus) {
  config::BalancerConfig b = MakeBalancer("c", {Member("http://a:80"), Member("http://b:80")});
  b.failonstatus = {500, 503};
  TestBalancer t(std::move(b));
  EXPECT_FALSE(t.b().OnResponseStatus(0, 200, kNow));
  EXPECT_FALSE(t.b().OnResponseStatus(0, 404, kNow));
  EXPECT_EQ(t.s(0)->failures.load(), 0u);
  EXPECT_TRUE(t.b().OnResponseStatus(0, 503, kNow));
  EXPECT_EQ(t.s(0)->status.load() & kFlagError, kFlagError);
  EXPECT_EQ(t.s(0)->error_time_ms.load(), kNow);
  EXPECT_EQ(t.s(0)->failures.load(), 1u);
  EXPECT_EQ(t.Schedule(2), "BB");
  EXPECT_FALSE(t.b().OnResponseStatus(9, 503, kNow));
}

TEST(BalancerHealth, FailOnStatusIgnoredWithPlusI) {
  config::BalancerConfig b = MakeBalancer("c", {Member("http://a:80", "", 100, kFlagIgnoreErrors)});
  b.failonstatus = {500};
  TestBalancer t(std::move(b));
  EXPECT_FALSE(t.b().OnResponseStatus(0, 500, kNow));
  EXPECT_EQ(t.s(0)->status.load(), kFlagIgnoreErrors);
}

TEST(BalancerHealth, NoFailOnStatusList) {
  TestBalancer t = Two();
  EXPECT_FALSE(t.b().OnResponseStatus(0, 500, kNow));
  EXPECT_EQ(t.s(0)->status.load(), 0u);
}

TEST(BalancerHealth, FailOnTimeout) {
  TestBalancer off = Two();
  EXPECT_FALSE(off.b().OnTimeout(0, kNow));
  EXPECT_EQ(off.s(0)->status.load(), 0u);
  config::BalancerConfig b = MakeBalancer("c", {Member("http://a:80"), Member("http://b:80")});
  b.failontimeout = true;
  TestBalancer on(std::move(b));
  EXPECT_TRUE(on.b().OnTimeout(1, kNow));
  EXPECT_EQ(on.s(1)->status.load() & kFlagError, kFlagError);
  EXPECT_EQ(on.Schedule(2), "AA");
}

TEST(BalancerAccounting, BusyAndBytes) {
  TestBalancer t = Two();
  t.b().OnRequestStart(0);
  t.b().OnRequestStart(0);
  EXPECT_EQ(t.s(0)->busy.load(), 2);
  t.b().OnRequestEnd(0, 100, 20);
  EXPECT_EQ(t.s(0)->busy.load(), 1);
  EXPECT_EQ(t.s(0)->bytes_in.load(), 100u);
  EXPECT_EQ(t.s(0)->bytes_out.load(), 20u);
  t.b().OnRequestStart(7);  // out of range: ignored
  t.b().OnRequestEnd(7, 1, 1);
  t.b().OnConnectFailure(7, kNow);
}

TEST(BalancerRuntimeMember, AddedMemberReadFromSlot) {
  config::BalancerConfig b = MakeBalancer("c", {Member("http://a:80", "n1")});
  b.growth = 2;
  b.sticky_cookie = "S";
  TestBalancer t(std::move(b));
  EXPECT_EQ(t.b().num_members(), 1u);
  ASSERT_NE(t.s(1), nullptr);
  ASSERT_NE(t.s(2), nullptr);
  EXPECT_EQ(t.s(3), nullptr);
  // What the balancer-manager does to add a member (Apache: it starts
  // disabled; enabled here for the test).
  shm::MemberSlot* s = t.s(1);
  {
    shm::LockGuard lock(t.bslot());
    std::string key = shm::SlotTable::MakeKey("c", "http://z:80");
    shm::CopyString(s->key, shm::kKeyMax, key);
    shm::CopyString(s->url, shm::kKeyMax, "http://z:80");
    shm::CopyString(s->route, shm::kRouteMax, "nz");
    s->lbfactor.store(300);
    s->in_use.store(1);
    t.bslot()->num_members.store(2);
  }
  EXPECT_EQ(t.b().num_members(), 2u);
  EXPECT_EQ(t.b().MemberUrl(1), "http://z:80");
  EXPECT_EQ(t.Schedule(4), "BABB");
  PickResult r = t.Pick(TestBalancer::Cookie("S=.nz"));
  EXPECT_EQ(r.member, 1);
  EXPECT_EQ(r.route, "nz");
  // Its retry window is Apache's default 60 s.
  t.b().OnConnectFailure(1, kNow);
  EXPECT_FALSE(t.b().Usable(1, kNow + 59999));
  EXPECT_TRUE(t.b().Usable(1, kNow + 60000));
}

TEST(BalancerManagerEdit, RouteAndFactorEditsTakeEffect) {
  config::BalancerConfig b =
      MakeBalancer("c", {Member("http://a:80", "n1"), Member("http://b:80", "n2")});
  b.sticky_cookie = "S";
  TestBalancer t(std::move(b));
  {
    shm::LockGuard lock(t.bslot());
    shm::CopyString(t.s(0)->route, shm::kRouteMax, "renamed");
    t.s(1)->lbfactor.store(300);
  }
  EXPECT_EQ(t.Pick(TestBalancer::Cookie("S=.renamed")).member, 0);
  EXPECT_FALSE(t.Pick(TestBalancer::Cookie("S=.n1")).sticky);
}

// A member the balancer-manager removed (in_use 0, slot kept so that indices
// stay stable for requests in flight) is invisible to picks: not chosen, not a
// sticky target, does not count as "unusable" for spares, and does not stop
// force recovery.
TEST(BalancerRemovedMember, SkippedByPicks) {
  config::BalancerConfig b = MakeBalancer(
      "c", {Member("http://a:80", "n1"), Member("http://b:80", "n2"),
            Member("http://c:80", "n3", 100, config::kFlagSpare)});
  b.sticky_cookie = "S";
  TestBalancer t(std::move(b));
  EXPECT_EQ(t.b().num_present(), 3u);
  t.s(1)->in_use.store(0);
  EXPECT_FALSE(t.b().Present(1));
  EXPECT_TRUE(t.b().Present(0));
  EXPECT_FALSE(t.b().Present(7));
  EXPECT_EQ(t.b().num_members(), 3u);
  EXPECT_EQ(t.b().num_present(), 2u);
  EXPECT_FALSE(t.b().Usable(1, kNow));
  // The spare does not stand in for the removed member.
  EXPECT_EQ(t.Schedule(4), "AAAA");
  PickResult r = t.Pick(TestBalancer::Cookie("S=.n2"));
  EXPECT_FALSE(r.sticky);
  EXPECT_EQ(r.member, 0);
  EXPECT_EQ(t.s(1)->elected.load(), 0u);
}

TEST(BalancerRemovedMember, ForceRecoveryAndReasons) {
  TestBalancer t = Two();
  t.s(1)->in_use.store(0);
  t.b().OnConnectFailure(0, kNow);
  // Only member 0 is left and it is in error: force recovery clears it.
  EXPECT_EQ(t.Pick({}, {}, kNow + 1).member, 0);
  t.s(0)->in_use.store(0);
  PickResult r = t.Pick();
  EXPECT_EQ(r.member, -1);
  EXPECT_STREQ(r.reason, "no members in balancer");
}

TEST(BalancerRemovedMember, NoFailoverIgnoresRemovedRoute) {
  config::BalancerConfig b =
      MakeBalancer("c", {Member("http://a:80", "n1"), Member("http://b:80", "n2")});
  b.sticky_cookie = "S";
  b.nofailover = true;
  TestBalancer t(std::move(b));
  t.s(1)->in_use.store(0);
  PickResult r = t.Pick(TestBalancer::Cookie("S=.n2"));
  EXPECT_EQ(r.member, 0);  // an unknown route is rebalanced, even with nofailover
}

TEST(BalancerSettings, ReadFromSlot) {
  config::BalancerConfig b = MakeBalancer(
      "c", {Member("http://a:80", "n1"), Member("http://b:80", "n2"), Member("http://c:80")});
  b.sticky_cookie = "S";
  b.timeout_ms = 5000;
  TestBalancer t(std::move(b));
  EXPECT_FALSE(t.b().NoFailover());
  EXPECT_EQ(t.b().MaxAttempts(), 2);
  EXPECT_EQ(t.b().TimeoutMs(), 5000);
  t.s(2)->in_use.store(0);
  EXPECT_EQ(t.b().MaxAttempts(), 1);
  t.bslot()->maxattempts.store(7);
  EXPECT_EQ(t.b().MaxAttempts(), 7);
  t.bslot()->timeout_ms.store(0);
  EXPECT_EQ(t.b().TimeoutMs(), 0);
  // nofailover edited in shm takes effect in the pick.
  t.s(1)->status.store(kFlagDisabled);
  EXPECT_EQ(t.Pick(TestBalancer::Cookie("S=.n2")).member, 0);
  t.bslot()->nofailover.store(1);
  EXPECT_TRUE(t.b().NoFailover());
  PickResult r = t.Pick(TestBalancer::Cookie("S=.n2"));
  EXPECT_EQ(r.member, -1);
  EXPECT_STREQ(r.reason, "nofailover");
}

}  // namespace
}  // namespace drover::balancer
