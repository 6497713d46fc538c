// proxy::MatchRoute on configs built by config::LoadFromString (SPEC §6,
// APACHE-SEMANTICS §1.9).
#include "proxy/router.h"

#include <gtest/gtest.h>

#include <string>

namespace drover::proxy {
namespace {

std::shared_ptr<const config::Config> Rules(const std::string& rules) {
  config::LoadOptions o;
  o.file = "/etc/drover/drover.conf";
  auto r = config::LoadFromString(
      "[server]\nListen = 80\n" + rules + "[balancer://c]\nBalancerMember = http://a:1\n", o);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r.value() : nullptr;
}

// "LINE:PATH" of the matching rule, "excluded@LINE", or "none".
std::string Match(const config::Config& c, std::string_view path, std::string_view query = "",
                  bool has_query = false) {
  Route r = MatchRoute(c.server, path, query, has_query);
  if (r.rule == nullptr) {
    return "none";
  }
  if (r.rule->exclude) {
    return "excluded@" + std::to_string(r.rule->line);
  }
  return std::to_string(r.rule->line) + ":" + r.path;
}

TEST(RouterTest, PrefixMatchesWholeSegments) {
  auto c = Rules("ProxyPass = /app http://h:1/back\n");  // line 3
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Match(*c, "/app"), "3:/back");
  EXPECT_EQ(Match(*c, "/app/x"), "3:/back/x");
  EXPECT_EQ(Match(*c, "/application"), "none");
  EXPECT_EQ(Match(*c, "/ap"), "none");
  EXPECT_EQ(Match(*c, "/"), "none");
  EXPECT_EQ(Match(*c, "/App"), "none");  // case-sensitive
}

TEST(RouterTest, QueryIsPassedOn) {
  auto c = Rules("ProxyPass = /app http://h:1/back\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Match(*c, "/app", "q", true), "3:/back?q");
  EXPECT_EQ(Match(*c, "/app/x", "a=1&b=2", true), "3:/back/x?a=1&b=2");
  EXPECT_EQ(Match(*c, "/app", "", true), "3:/back?");  // "/app?" keeps its empty query
  EXPECT_EQ(Match(*c, "/app", "", false), "3:/back");
}

TEST(RouterTest, NoqueryDropsTheQuery) {
  auto c = Rules(
      "ProxyPass = /app http://h:1/back noquery\n"
      "ProxyPassMatch = ^/m/(.*)$ balancer://c/$1 noquery=On\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Match(*c, "/app/x", "q=1", true), "3:/back/x");
  EXPECT_EQ(Match(*c, "/m/y", "q=1", true), "4:/y");
}

TEST(RouterTest, RunsOfSlashesMatchRunsOfSlashes) {
  auto c = Rules(
      "ProxyPass = /app/ http://h:1/\n"
      "ProxyPass = //b//c http://h:1/bc\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Match(*c, "//app///x"), "3:/x");
  EXPECT_EQ(Match(*c, "/app/x//y"), "3:/x//y");
  EXPECT_EQ(Match(*c, "/app"), "none");  // a pattern ending in '/' needs the '/'
  EXPECT_EQ(Match(*c, "/b/c"), "4:/bc");
  EXPECT_EQ(Match(*c, "///b/c//d"), "4:/bc//d");
}

TEST(RouterTest, PatternEndingInSlashMatchesInsideASegment) {
  auto c = Rules("ProxyPass = / http://h:1/root/\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Match(*c, "/"), "3:/root/");
  EXPECT_EQ(Match(*c, "/anything/x"), "3:/root/anything/x");
}

TEST(RouterTest, TargetWithoutPathKeepsTheRest) {
  auto c = Rules("ProxyPass = /app http://h:1\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Match(*c, "/app"), "3:");  // the caller sends "/"
  EXPECT_EQ(Match(*c, "/app", "q", true), "3:?q");
  EXPECT_EQ(Match(*c, "/app/x"), "3:/x");
}

TEST(RouterTest, RegexSubstitutesGroups) {
  auto c = Rules("ProxyPassMatch = ^/m/(.*)\\.gif$ http://h:1/app/img/$1.png\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Match(*c, "/m/foo.gif", "q=1", true), "3:/app/img/foo.png?q=1");
  EXPECT_EQ(Match(*c, "/m/foo.png"), "none");
}

TEST(RouterTest, SeedRegexRoutesEverything) {
  auto c = Rules("ProxyPassMatch = ^(/.*)$ balancer://c$1\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Match(*c, "/"), "3:/");
  EXPECT_EQ(Match(*c, "/login", "a=b", true), "3:/login?a=b");
}

TEST(RouterTest, RegexWithoutReferenceAppendsThePath) {
  auto c = Rules(
      "ProxyPassMatch = \\.gif$ balancer://c\n"
      "ProxyPassMatch = ^/img/ http://h:1/pics\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Match(*c, "/a/b.gif", "v=2", true), "3:/a/b.gif?v=2");
  EXPECT_EQ(Match(*c, "/img/x.png"), "4:/pics/img/x.png");
}

TEST(RouterTest, EmptyGroupStillCountsAsASubstitution) {
  // Apache compares the substituted string with the template: "/x$1" with an
  // empty $1 gives "/x", which differs, so nothing is appended.
  auto c = Rules("ProxyPassMatch = ^/e(.*)$ http://h:1/x$1\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Match(*c, "/e"), "3:/x");
  EXPECT_EQ(Match(*c, "/e/f"), "3:/x/f");
}

TEST(RouterTest, FirstRuleInFileOrderWins) {
  auto c = Rules(
      "ProxyPass = /app/private !\n"             // 3
      "ProxyPass = /app http://h:1/a\n"          // 4
      "ProxyPass = /app/private http://h:1/p\n"  // 5: never reached
      "ProxyPassMatch = ^/q/(.*)$ !\n"           // 6
      "ProxyPass = / balancer://c/\n");          // 7
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Match(*c, "/app/private"), "excluded@3");
  EXPECT_EQ(Match(*c, "/app/private/x", "q", true), "excluded@3");
  EXPECT_EQ(Match(*c, "/app/privatex"), "4:/a/privatex");
  EXPECT_EQ(Match(*c, "/app"), "4:/a");
  EXPECT_EQ(Match(*c, "/q/1"), "excluded@6");
  EXPECT_EQ(Match(*c, "/q"), "7:/q");
  EXPECT_EQ(Match(*c, "/other"), "7:/other");
}

TEST(RouterTest, ExclusionAfterABroaderRuleNeverMatches) {
  auto c = Rules(
      "ProxyPass = / balancer://c/\n"
      "ProxyPass = /private !\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Match(*c, "/private"), "3:/private");
}

TEST(RouterTest, ExcludedRouteHasEmptyPath) {
  auto c = Rules("ProxyPass = /x !\n");
  ASSERT_NE(c, nullptr);
  Route r = MatchRoute(c->server, "/x", "q", true);
  ASSERT_NE(r.rule, nullptr);
  EXPECT_TRUE(r.rule->exclude);
  EXPECT_EQ(r.path, "");
}

TEST(RouterTest, NoRulesNoRoute) {
  config::ServerConfig empty;
  Route r = MatchRoute(empty, "/", "", false);
  EXPECT_EQ(r.rule, nullptr);
  EXPECT_EQ(r.path, "");
}

TEST(RouterTest, PrefixMatchLengths) {
  EXPECT_EQ(PrefixMatch("/app", "/app"), 4u);
  EXPECT_EQ(PrefixMatch("/app/x", "/app"), 4u);
  EXPECT_EQ(PrefixMatch("/application", "/app"), 0u);
  EXPECT_EQ(PrefixMatch("//app///x", "/app/"), 8u);
  EXPECT_EQ(PrefixMatch("/app", "/app/"), 0u);
  EXPECT_EQ(PrefixMatch("/", "/examples"), 0u);
  EXPECT_EQ(PrefixMatch("", "/"), 0u);
  EXPECT_EQ(PrefixMatch("/", "/"), 1u);
  EXPECT_EQ(PrefixMatch("x", "/"), 0u);
}

}  // namespace
}  // namespace drover::proxy
