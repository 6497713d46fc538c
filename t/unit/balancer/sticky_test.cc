// Stickiness: FindSessionRoute (Apache's find_session_route) and sticky picks,
// every SPEC §5 / APACHE-SEMANTICS §1.20 transcript case.
#include <gtest/gtest.h>

#include "test_balancer.h"

namespace drover::balancer {
namespace {

using config::kFlagDisabled;
using config::kFlagDrain;
using config::kFlagError;
using config::kFlagStandby;
using testing::kNow;
using testing::MakeBalancer;
using testing::Member;
using testing::TestBalancer;

config::BalancerConfig Jsession() {
  config::BalancerConfig b;
  b.name = "c";
  b.sticky_cookie = "JSESSIONID";
  b.sticky_urlparam = "jsessionid";
  return b;
}

PickRequest Req(std::string_view path, std::string_view query = {}, bool has_query = false,
                std::vector<std::string_view> cookies = {}) {
  PickRequest r;
  r.path = path;
  r.query = query;
  r.has_query = has_query;
  r.cookies = std::move(cookies);
  return r;
}

std::string Route(const config::BalancerConfig& b, const PickRequest& req) {
  return FindSessionRoute(b, req);
}

TEST(StickyRoute, CookieRouteAfterFirstDot) {
  config::BalancerConfig b = Jsession();
  EXPECT_EQ(Route(b, Req("/app/x", {}, false, {"JSESSIONID=abc.node1"})), "node1");
  EXPECT_EQ(Route(b, Req("/app/x", {}, false, {"JSESSIONID=abc.def.node1"})), "def.node1");
  EXPECT_EQ(Route(b, Req("/app/x", {}, false, {"JSESSIONID=.node1"})), "node1");
  std::string value;
  EXPECT_EQ(FindSessionRoute(b, Req("/", {}, false, {"JSESSIONID=abc.def.node1"}), &value),
            "def.node1");
  EXPECT_EQ(value, "abc.def.node1");
}

TEST(StickyRoute, NoSeparatorNoRoute) {
  config::BalancerConfig b = Jsession();
  std::string value;
  EXPECT_EQ(FindSessionRoute(b, Req("/", {}, false, {"JSESSIONID=node3"}), &value), "");
  EXPECT_EQ(value, "node3");
  EXPECT_EQ(Route(b, Req("/", {}, false, {"JSESSIONID=abc."})), "");
}

TEST(StickyRoute, SeparatorOffWholeValue) {
  config::BalancerConfig b = Jsession();
  b.sticky_sep = "";
  EXPECT_EQ(Route(b, Req("/", {}, false, {"JSESSIONID=node3"})), "node3");
  EXPECT_EQ(Route(b, Req("/", {}, false, {"JSESSIONID=a.node3"})), "a.node3");
}

TEST(StickyRoute, OtherSeparator) {
  config::BalancerConfig b = Jsession();
  b.sticky_sep = "~";
  EXPECT_EQ(Route(b, Req("/", {}, false, {"JSESSIONID=a.b~node3~x"})), "node3~x");
}

TEST(StickyRoute, SeedScenarioBalanceId) {
  config::BalancerConfig b;
  b.sticky_cookie = "BALANCEID";
  b.sticky_urlparam = "BALANCEID";
  EXPECT_EQ(Route(b, Req("/", {}, false, {"BALANCEID=balancer.node2"})), "node2");
}

TEST(StickyRoute, CookieNameIsCaseSensitiveAndExact) {
  config::BalancerConfig b = Jsession();
  EXPECT_EQ(Route(b, Req("/", {}, false, {"jsessionid=a.node1"})), "");
  EXPECT_EQ(Route(b, Req("/", {}, false, {"XJSESSIONID=a.node1"})), "");
  EXPECT_EQ(Route(b, Req("/", {}, false, {"JSESSIONIDX=a.node1"})), "");
  EXPECT_EQ(Route(b, Req("/", {}, false, {"x=JSESSIONID=a.node1"})), "");
}

TEST(StickyRoute, CookiePairs) {
  config::BalancerConfig b = Jsession();
  EXPECT_EQ(Route(b, Req("/", {}, false, {"a=1; JSESSIONID=x.node2; b=2"})), "node2");
  EXPECT_EQ(Route(b, Req("/", {}, false, {"a=1;JSESSIONID=x.node2"})), "node2");
  EXPECT_EQ(Route(b, Req("/", {}, false, {"a=1;  JSESSIONID = x.node2 ;b=2"})), "node2");
  EXPECT_EQ(Route(b, Req("/", {}, false, {"a=1, JSESSIONID=x.node2"})), "node2");
  // Empty values are skipped; the first non-empty one wins.
  EXPECT_EQ(Route(b, Req("/", {}, false, {"JSESSIONID=; JSESSIONID=x.node2; JSESSIONID=y.n3"})),
            "node2");
  // Several Cookie headers, in order.
  EXPECT_EQ(Route(b, Req("/", {}, false, {"a=1", "JSESSIONID=x.node3"})), "node3");
  EXPECT_EQ(Route(b, Req("/", {}, false, {"JSESSIONID=x.node1", "JSESSIONID=x.node3"})), "node1");
  EXPECT_EQ(Route(b, Req("/", {}, false, {"", "a", ";;"})), "");
}

TEST(StickyRoute, PathParameter) {
  config::BalancerConfig b = Jsession();
  EXPECT_EQ(Route(b, Req("/app/x;jsessionid=a.node3")), "node3");
  EXPECT_EQ(Route(b, Req("/app/x;foo=1;jsessionid=a.node3", "q=1", true)), "node3");
  // The value ends at '&' (and at '?', where the query starts).
  EXPECT_EQ(Route(b, Req("/app/x;jsessionid=a.node3&x")), "node3");
}

TEST(StickyRoute, QueryParameter) {
  config::BalancerConfig b = Jsession();
  EXPECT_EQ(Route(b, Req("/app/x", "jsessionid=a.node3", true)), "node3");
  EXPECT_EQ(Route(b, Req("/app/x", "x=1&jsessionid=a.node3&y=2", true)), "node3");
  EXPECT_EQ(Route(b, Req("/app/x", "JSESSIONID=a.node3", true)), "");    // case-sensitive
  EXPECT_EQ(Route(b, Req("/app/x", "myjsessionid=a.node3", true)), "");  // anchored name
  EXPECT_EQ(Route(b, Req("/app/x", "jsessionid=&jsessionid=a.n4", true)), "n4");
  EXPECT_EQ(Route(b, Req("/app/x", "jsessionid=a.node3", false)), "");  // has_query false
}

TEST(StickyRoute, ScolonPathDelim) {
  config::BalancerConfig b = Jsession();
  EXPECT_EQ(Route(b, Req("/x;jsessionid=a.node3;foo=1")), "node3;foo=1");
  b.scolonpathdelim = true;
  EXPECT_EQ(Route(b, Req("/x;jsessionid=a.node3;foo=1")), "node3");
  EXPECT_EQ(Route(b, Req("/x", "jsessionid=a.node3;foo=1", true)), "node3");
}

TEST(StickyRoute, UrlBeatsCookie) {
  config::BalancerConfig b = Jsession();
  EXPECT_EQ(Route(b, Req("/app/x;jsessionid=a.node3", {}, false, {"JSESSIONID=.node1"})), "node3");
  EXPECT_EQ(Route(b, Req("/app/x", "jsessionid=a.node3", true, {"JSESSIONID=.node1"})), "node3");
  // A URL value without a route does not fall back to the cookie (Apache).
  EXPECT_EQ(Route(b, Req("/app/x;jsessionid=abc", {}, false, {"JSESSIONID=.node1"})), "");
}

TEST(StickyRoute, CookieOnlyOrUrlOnly) {
  config::BalancerConfig b;
  b.sticky_cookie = "C";
  EXPECT_EQ(Route(b, Req("/x;C=a.n1")), "");
  EXPECT_EQ(Route(b, Req("/x", {}, false, {"C=a.n2"})), "n2");
  config::BalancerConfig u;
  u.sticky_urlparam = "u";
  EXPECT_EQ(Route(u, Req("/x;u=a.n1")), "n1");
  EXPECT_EQ(Route(u, Req("/x", {}, false, {"u=a.n2"})), "");
  config::BalancerConfig none;
  EXPECT_EQ(Route(none, Req("/x;u=a.n1", "u=a.n1", true, {"u=a.n2"})), "");
}

// --- Sticky picks -------------------------------------------------------------

TestBalancer Cluster(config::BalancerConfig b = Jsession()) {
  b.members = {Member("http://a:80", "node1"), Member("http://b:80", "node2"),
               Member("http://c:80", "node3"), Member("http://h:80", "node4", 100, kFlagStandby)};
  return TestBalancer(std::move(b));
}

TEST(StickyPick, RoutedToMember) {
  TestBalancer t = Cluster();
  PickResult r = t.Pick(TestBalancer::Cookie("JSESSIONID=abc.node1"));
  EXPECT_EQ(r.member, 0);
  EXPECT_TRUE(r.sticky);
  EXPECT_FALSE(r.route_changed);
  EXPECT_EQ(r.session_route, "node1");
  EXPECT_EQ(r.route, "node1");
  EXPECT_EQ(t.s(0)->elected.load(), 1u);
}

TEST(StickyPick, FirstDotRuleRebalances) {
  TestBalancer t = Cluster();
  PickResult r = t.Pick(TestBalancer::Cookie("JSESSIONID=abc.def.node1"));
  EXPECT_EQ(r.member, 0);  // by byrequests, all at 0: the first
  EXPECT_FALSE(r.sticky);
  EXPECT_TRUE(r.route_changed);
  EXPECT_EQ(r.session_route, "def.node1");
}

TEST(StickyPick, NoDotNoRouteRebalanced) {
  TestBalancer t = Cluster();
  PickResult r = t.Pick(TestBalancer::Cookie("JSESSIONID=node3"));
  EXPECT_FALSE(r.sticky);
  EXPECT_TRUE(r.route_changed);
  EXPECT_EQ(r.session_route, "");
}

TEST(StickyPick, CaseSensitiveCookieName) {
  TestBalancer t = Cluster();
  t.Pick();  // move byrequests off A
  PickResult r = t.Pick(TestBalancer::Cookie("jsessionid=a.node1"));
  EXPECT_EQ(r.member, 1);
  EXPECT_FALSE(r.sticky);
  EXPECT_TRUE(r.route_changed);
}

TEST(StickyPick, PathQueryAndUrlBeatsCookie) {
  TestBalancer t = Cluster();
  EXPECT_EQ(t.Pick(Req("/app/x;jsessionid=a.node3")).member, 2);
  EXPECT_EQ(t.Pick(Req("/app/x", "jsessionid=a.node3", true)).member, 2);
  EXPECT_EQ(t.Pick(Req("/app/x", "a=b&jsessionid=a.node3", true)).member, 2);
  EXPECT_EQ(t.Pick(Req("/app/x;jsessionid=a.node3", {}, false, {"JSESSIONID=.node1"})).member, 2);
  PickResult r = t.Pick(Req("/app/x", "JSESSIONID=a.node3", true));
  EXPECT_FALSE(r.sticky);
  EXPECT_TRUE(r.route_changed);
}

TEST(StickyPick, StandbyWithRoute) {
  TestBalancer t = Cluster();
  PickResult r = t.Pick(TestBalancer::Cookie("JSESSIONID=a.node4"));
  EXPECT_EQ(r.member, 3);
  EXPECT_TRUE(r.sticky);
  EXPECT_FALSE(r.route_changed);
}

TEST(StickyPick, NormalMemberBeforeStandbyWithSameRoute) {
  config::BalancerConfig b = Jsession();
  b.members = {Member("http://h:80", "n", 100, kFlagStandby), Member("http://a:80", "n")};
  TestBalancer t(std::move(b));
  EXPECT_EQ(t.Pick(TestBalancer::Cookie("JSESSIONID=.n")).member, 1);
  t.s(1)->status.store(kFlagDisabled);
  EXPECT_EQ(t.Pick(TestBalancer::Cookie("JSESSIONID=.n")).member, 0);
}

TEST(StickyPick, DownMemberFailsOverWithRouteChanged) {
  TestBalancer t = Cluster();
  t.b().OnConnectFailure(0, kNow);  // A killed
  PickResult r = t.Pick(TestBalancer::Cookie("JSESSIONID=.node1"));
  EXPECT_EQ(r.member, 1);
  EXPECT_FALSE(r.sticky);
  EXPECT_TRUE(r.route_changed);
  EXPECT_EQ(r.route, "node2");
  EXPECT_EQ(r.session_route, "node1");
  EXPECT_EQ(t.s(0)->status.load() & kFlagError, kFlagError);
  EXPECT_EQ(t.s(0)->error_time_ms.load(), kNow);
}

TEST(StickyPick, Redirect) {
  config::BalancerConfig b = Jsession();
  b.members = {Member("http://a:80", "node1"), Member("http://b:80", "node2"),
               Member("http://c:80", "node3")};
  b.members[0].redirect = "node3";
  TestBalancer t(std::move(b));
  t.s(0)->status.store(kFlagDisabled);
  PickResult r = t.Pick(TestBalancer::Cookie("JSESSIONID=.node1"));
  EXPECT_EQ(r.member, 2);
  EXPECT_TRUE(r.sticky);
  EXPECT_TRUE(r.route_changed);
  EXPECT_EQ(r.route, "node3");
  // The redirect target down too: normal balancing.
  t.s(2)->status.store(kFlagDisabled);
  r = t.Pick(TestBalancer::Cookie("JSESSIONID=.node1"));
  EXPECT_EQ(r.member, 1);
  EXPECT_FALSE(r.sticky);
  EXPECT_TRUE(r.route_changed);
}

TEST(StickyPick, RedirectLoopIsBounded) {
  config::BalancerConfig b = Jsession();
  b.members = {Member("http://a:80", "n1", 100, kFlagDisabled),
               Member("http://b:80", "n2", 100, kFlagDisabled), Member("http://c:80", "n3")};
  b.members[0].redirect = "n2";
  b.members[1].redirect = "n1";
  TestBalancer t(std::move(b));
  PickResult r = t.Pick(TestBalancer::Cookie("JSESSIONID=.n1"));
  EXPECT_EQ(r.member, 2);
  EXPECT_FALSE(r.sticky);
}

TEST(StickyPick, NoFailover503ButUnknownRouteRebalanced) {
  config::BalancerConfig b = Jsession();
  b.nofailover = true;
  TestBalancer t = Cluster(b);
  t.b().OnConnectFailure(0, kNow);
  PickResult r = t.Pick(TestBalancer::Cookie("JSESSIONID=.node1"));
  EXPECT_EQ(r.member, -1);
  EXPECT_EQ(r.http_status, 503);
  EXPECT_STREQ(r.reason, "nofailover");
  r = t.Pick(TestBalancer::Cookie("JSESSIONID=.nodeX"));
  EXPECT_GE(r.member, 1);
  EXPECT_TRUE(r.route_changed);
  EXPECT_FALSE(r.sticky);
}

TEST(StickyPick, UnknownRouteRebalanced) {
  TestBalancer t = Cluster();
  PickResult r = t.Pick(TestBalancer::Cookie("JSESSIONID=.nodeX"));
  EXPECT_EQ(r.member, 0);
  EXPECT_TRUE(r.route_changed);
  EXPECT_EQ(r.session_route, "nodeX");
}

TEST(StickyPick, NoRouteRouteChangedOnlyWithStickiness) {
  TestBalancer sticky = Cluster();
  EXPECT_TRUE(sticky.Pick().route_changed);
  TestBalancer plain = Cluster(config::BalancerConfig());
  PickResult r = plain.Pick(TestBalancer::Cookie("JSESSIONID=.node2"));
  EXPECT_EQ(r.member, 0);
  EXPECT_FALSE(r.route_changed);
  EXPECT_EQ(r.session_route, "");
}

// Apache: a routed request adds lbfactor to every usable member (standbys
// included) and the routed member pays the total; the standby showed
// lbstatus=200 after two sticky requests.
TEST(StickyPick, Accounting) {
  config::BalancerConfig b = Jsession();
  b.members = {Member("http://a:80", "node1"), Member("http://b:80", "node2"),
               Member("http://h:80", "node4", 100, kFlagStandby)};
  TestBalancer t(std::move(b));
  t.Pick(TestBalancer::Cookie("JSESSIONID=.node1"));
  t.Pick(TestBalancer::Cookie("JSESSIONID=.node1"));
  EXPECT_EQ(t.s(0)->lbstatus.load(), -400);
  EXPECT_EQ(t.s(1)->lbstatus.load(), 200);
  EXPECT_EQ(t.s(2)->lbstatus.load(), 200);
  EXPECT_EQ(t.s(0)->elected.load(), 2u);
  // Sticky traffic used up A's quota: the next two unrouted picks go to B.
  EXPECT_EQ(t.Schedule(2), "BB");
  // A disabled member is not accounted.
  t.s(1)->status.store(kFlagDisabled);
  int64_t b_before = t.s(1)->lbstatus.load();
  t.Pick(TestBalancer::Cookie("JSESSIONID=.node1"));
  EXPECT_EQ(t.s(1)->lbstatus.load(), b_before);
}

TEST(StickyPick, DrainingMemberKeepsItsSessions) {
  TestBalancer t = Cluster();
  t.s(0)->status.store(kFlagDrain);
  EXPECT_EQ(t.Pick(TestBalancer::Cookie("JSESSIONID=.node1")).member, 0);
  EXPECT_EQ(t.Schedule(6).find('A'), std::string::npos);
}

TEST(StickyPick, TriedRoutedMemberIsNotPickedAgain) {
  TestBalancer t = Cluster();
  PickResult r = t.Pick(TestBalancer::Cookie("JSESSIONID=.node1"), {0});
  EXPECT_EQ(r.member, 1);
  EXPECT_TRUE(r.route_changed);
}

TEST(StickyPick, ErrorMemberRetriedByRoute) {
  TestBalancer t = Cluster();
  t.b().OnConnectFailure(0, kNow);
  PickResult r = t.Pick(TestBalancer::Cookie("JSESSIONID=.node1"), {}, kNow + 60000);
  EXPECT_EQ(r.member, 0);
  EXPECT_TRUE(r.sticky);
  EXPECT_EQ(t.s(0)->retries.load(), 1u);
  EXPECT_EQ(t.s(0)->status.load() & kFlagError, 0u);
}

}  // namespace
}  // namespace drover::balancer
