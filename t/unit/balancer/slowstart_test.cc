// slowstart (drover's own member key): the ramp function's worked example, the
// ramp through Balancer::Pick for byrequests and bybusyness (a recovered member
// gets fewer picks than its peer, more each second, and an equal share once the
// window is over), and which recoveries start a ramp (retry window: yes; force
// recovery: no).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "balancer/lbmethod.h"
#include "test_balancer.h"

namespace drover::balancer {
namespace {

using config::kFlagError;
using testing::kNow;
using testing::MakeBalancer;
using testing::Member;
using testing::TestBalancer;

constexpr int64_t kWindow = 10000;  // slowstart=10

// A and B at lbfactor 100; B has slowstart=10 and became usable at `recovered`.
TestBalancer TwoWithSlowStart(int64_t recovered,
                              config::LbMethod method = config::LbMethod::kByRequests) {
  config::MemberConfig b = Member("http://b:80");
  b.slowstart_ms = kWindow;
  config::BalancerConfig cfg = MakeBalancer("c", {Member("http://a:80"), b});
  cfg.lbmethod = method;
  TestBalancer t(std::move(cfg));
  t.bslot()->lbmethod.store(static_cast<uint32_t>(method));
  t.s(1)->recovered_ms.store(recovered);
  return t;
}

int CountB(const std::string& schedule) {
  return static_cast<int>(std::count(schedule.begin(), schedule.end(), 'B'));
}

// The worked example above SlowStartFactor in lbmethod.h.
TEST(SlowStart, FactorWorkedExample) {
  EXPECT_EQ(SlowStartFactor(100, kWindow, kNow, kNow), 10);
  EXPECT_EQ(SlowStartFactor(100, kWindow, kNow, kNow + 1000), 19);
  EXPECT_EQ(SlowStartFactor(100, kWindow, kNow, kNow + 5000), 55);
  EXPECT_EQ(SlowStartFactor(100, kWindow, kNow, kNow + 9999), 99);
  EXPECT_EQ(SlowStartFactor(100, kWindow, kNow, kNow + 10000), 100);
  EXPECT_EQ(SlowStartFactor(100, kWindow, kNow, kNow + 86400000), 100);
  // loadfactor 2.5: from 25 up.
  EXPECT_EQ(SlowStartFactor(250, kWindow, kNow, kNow), 25);
  EXPECT_EQ(SlowStartFactor(250, kWindow, kNow, kNow + 5000), 137);
}

TEST(SlowStart, FactorEdges) {
  EXPECT_EQ(SlowStartFactor(100, 0, kNow, kNow), 100);           // slowstart off
  EXPECT_EQ(SlowStartFactor(100, kWindow, 0, kNow), 100);        // never recovered
  EXPECT_EQ(SlowStartFactor(5, kWindow, kNow, kNow), 1);         // a tenth, at least 1
  EXPECT_EQ(SlowStartFactor(100, kWindow, kNow, kNow - 3), 10);  // a clock read just before
  EXPECT_EQ(SlowStartFactor(100, kWindow, kNow, kNow - kWindow - 1), 100);  // clock went back
}

TEST(SlowStart, ByRequestsExactSharesAlongTheRamp) {
  // At the start: factors 100 and 10, 110 per pick -> exactly 100 : 10 over 110 picks.
  {
    TestBalancer t = TwoWithSlowStart(kNow);
    std::string s = t.Schedule(110, kNow);
    EXPECT_EQ(CountB(s), 10) << s;
  }
  // Half way: 100 and 55 -> 100 : 55 over 155 picks.
  {
    TestBalancer t = TwoWithSlowStart(kNow);
    std::string s = t.Schedule(155, kNow + 5000);
    EXPECT_EQ(CountB(s), 55) << s;
  }
  // After the window: alternation, as without slowstart.
  {
    TestBalancer t = TwoWithSlowStart(kNow);
    EXPECT_EQ(t.Schedule(8, kNow + kWindow), "ABABABAB");
  }
}

TEST(SlowStart, ByRequestsRecoveredMemberRampsUpThenEqual) {
  TestBalancer t = TwoWithSlowStart(kNow);
  int previous = -1;
  for (int second = 0; second < 10; ++second) {
    std::string s = t.Schedule(100, kNow + second * 1000);
    int b = CountB(s);
    int64_t f = 10 + 9 * second;  // SlowStartFactor at this second
    double expected = 100.0 * static_cast<double>(f) / static_cast<double>(100 + f);
    EXPECT_NEAR(b, expected, 2.0) << "second " << second << ": " << s;
    EXPECT_LT(b, 50) << "second " << second;
    EXPECT_GT(b, previous) << "second " << second;
    previous = b;
  }
  for (int second = 10; second < 13; ++second) {
    std::string s = t.Schedule(100, kNow + second * 1000);
    EXPECT_EQ(CountB(s), 50) << "second " << second << ": " << s;
  }
}

TEST(SlowStart, MemberWithoutSlowStartIsNotRamped) {
  TestBalancer t(MakeBalancer("c", {Member("http://a:80"), Member("http://b:80")}));
  t.s(1)->recovered_ms.store(kNow);
  EXPECT_EQ(t.Schedule(8, kNow), "ABABABAB");
}

TEST(SlowStart, ByBusynessTieBreaksUseTheRampedFactor) {
  // Equal busy: the tie-break is byrequests accounting with the effective factors.
  TestBalancer t = TwoWithSlowStart(kNow, config::LbMethod::kByBusyness);
  EXPECT_EQ(CountB(t.Schedule(110, kNow)), 10);
  EXPECT_EQ(CountB(t.Schedule(100, kNow + kWindow)), 50);
  // busy still decides first: B idle, A busy -> B, ramp or not.
  t.s(0)->busy.store(3);
  EXPECT_EQ(t.Schedule(3, kNow), "BBB");
}

TEST(SlowStart, ByTrafficWeighsTrafficByTheRampedFactor) {
  TestBalancer t = TwoWithSlowStart(kNow, config::LbMethod::kByTraffic);
  // 1000 bytes each: A 1000/100 = 10, B 1000/10 = 100 while ramping -> A.
  t.s(0)->bytes_out.store(1000);
  t.s(1)->bytes_out.store(1000);
  EXPECT_EQ(t.Pick({}, {}, kNow).member, 0);
  // B with less traffic than A, but ramping: 600/10 = 60 > 10 -> still A; after: 6 < 10 -> B.
  t.s(1)->bytes_out.store(600);
  EXPECT_EQ(t.Pick({}, {}, kNow).member, 0);
  EXPECT_EQ(t.Pick({}, {}, kNow + kWindow).member, 1);
}

TEST(SlowStart, RetryWindowRecoveryStartsTheRamp) {
  TestBalancer t = TwoWithSlowStart(0);
  // B in error since 61 s ago: retry=60 s is over, so this pick retries it.
  t.s(1)->error_time_ms.store(kNow - 61000);
  t.s(1)->status.store(kFlagError);
  t.Pick({}, {}, kNow);
  EXPECT_EQ(t.s(1)->status.load() & kFlagError, 0u);
  EXPECT_EQ(t.s(1)->recovered_ms.load(), kNow);
  EXPECT_EQ(t.s(1)->retries.load(), 1u);
  // From then on B ramps: few picks now, an equal share after the window.
  EXPECT_LE(CountB(t.Schedule(110, kNow)), 11);
  t.Schedule(1000, kNow + kWindow);  // settle
  EXPECT_EQ(CountB(t.Schedule(100, kNow + kWindow)), 50);
}

TEST(SlowStart, ForceRecoveryDoesNotStartARamp) {
  TestBalancer t = TwoWithSlowStart(0);
  for (uint32_t m = 0; m < 2; ++m) {
    t.s(m)->error_time_ms.store(kNow - 1000);  // inside retry=60 s
    t.s(m)->status.store(kFlagError);
  }
  PickResult r = t.Pick({}, {}, kNow);
  EXPECT_GE(r.member, 0);  // forcerecovery (the default) revived both
  EXPECT_EQ(t.s(0)->recovered_ms.load(), 0);
  EXPECT_EQ(t.s(1)->recovered_ms.load(), 0);
}

}  // namespace
}  // namespace drover::balancer
