// ProxyPassReverse (Location & co.) and the Set-Cookie Domain/Path rewrites,
// checked against Apache's behaviour (APACHE-SEMANTICS.md §1.10).
#include "http/rewrite.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace drover::http {
namespace {

ReverseMap Map(std::string fake, std::vector<std::string> reals, bool real_is_path = false) {
  ReverseMap m;
  m.fake = std::move(fake);
  m.reals = std::move(reals);
  m.real_is_path = real_is_path;
  return m;
}

// The seed scenario's maps.
std::vector<ReverseMap> SeedMaps() {
  return {Map("/", {"http://192.168.1.50/"}), Map("/", {"http://192.168.1.51/"})};
}

std::vector<CookieMap> SeedDomains() {
  return {{"192.168.1.50", "localhost"}, {"192.168.1.51", "localhost"}};
}

std::string Loc(std::string_view value, const std::vector<ReverseMap>& maps,
                std::string_view host = "front.example", std::string_view scheme = "http") {
  std::optional<std::string> r = ReverseMapUrl(value, maps, scheme, host);
  return r ? *r : "<unchanged>";
}

std::string Cookie(std::string_view value, const std::vector<CookieMap>& domains,
                   const std::vector<CookieMap>& paths = {}) {
  std::optional<std::string> r = RewriteSetCookie(value, domains, paths);
  return r ? *r : "<unchanged>";
}

// --- Location --------------------------------------------------------------

TEST(RewriteLocation, SeedScenario) {
  EXPECT_EQ(Loc("http://192.168.1.50/login", SeedMaps()), "http://front.example/login");
  EXPECT_EQ(Loc("http://192.168.1.51/a/b?c=d", SeedMaps()), "http://front.example/a/b?c=d");
}

TEST(RewriteLocation, KeepsClientHostPortAndScheme) {
  EXPECT_EQ(Loc("http://192.168.1.50/app/target", SeedMaps(), "front.example.com:8443", "https"),
            "https://front.example.com:8443/app/target");
}

TEST(RewriteLocation, PrefixComparedCaseInsensitively) {
  EXPECT_EQ(Loc("HTTP://192.168.1.50/Login", SeedMaps()), "http://front.example/Login");
}

TEST(RewriteLocation, NoMatchUnchanged) {
  EXPECT_EQ(Loc("http://192.168.1.52/login", SeedMaps()), "<unchanged>");
  EXPECT_EQ(Loc("http://other.example/", SeedMaps()), "<unchanged>");
  EXPECT_EQ(Loc("/relative", SeedMaps()), "<unchanged>");
  EXPECT_EQ(Loc("", SeedMaps()), "<unchanged>");
  EXPECT_EQ(Loc("http://192.168.1.50/x", {}), "<unchanged>");
}

TEST(RewriteLocation, PortIsPartOfThePrefix) {
  // "http://192.168.1.50:80/" does not start with "http://192.168.1.50/".
  EXPECT_EQ(Loc("http://192.168.1.50:80/x", SeedMaps()), "<unchanged>");
}

TEST(RewriteLocation, FirstMatchingRuleWins) {
  std::vector<ReverseMap> maps = {Map("/one/", {"http://b/"}), Map("/two/", {"http://b/"})};
  EXPECT_EQ(Loc("http://b/x", maps), "http://front.example/one/x");
}

TEST(RewriteLocation, BalancerMembers) {
  // ProxyPassReverse /app/ balancer://c/ with members http://m1:81 and http://m2:82.
  std::vector<ReverseMap> maps = {Map("/app/", {"http://m1:81/", "http://m2:82/"})};
  EXPECT_EQ(Loc("http://m2:82/x/y", maps), "http://front.example/app/x/y");
  EXPECT_EQ(Loc("http://m1:81/", maps), "http://front.example/app/");
  EXPECT_EQ(Loc("http://m3:83/", maps), "<unchanged>");
}

TEST(RewriteLocation, BalancerWithUrlPart) {
  // BalancerMember http://example.com/foo, ProxyPassReverse /bash balancer://alias/bar:
  // http://example.com/foo/bar/that -> /bash/that (Apache's own example).
  std::vector<ReverseMap> maps = {Map("/bash", {"http://example.com/foo/bar"})};
  EXPECT_EQ(Loc("http://example.com/foo/bar/that", maps), "http://front.example/bash/that");
}

TEST(RewriteLocation, NoDoubleSlashWhenFakeIsRoot) {
  std::vector<ReverseMap> maps = {Map("/", {"http://backend:8080"})};
  EXPECT_EQ(Loc("http://backend:8080/x", maps), "http://front.example/x");
}

TEST(RewriteLocation, SlashesAreNotMadeSymmetric) {
  // As in Apache: fake + rest, so asymmetric trailing slashes glue together.
  std::vector<ReverseMap> maps = {Map("/app", {"http://b/"})};
  EXPECT_EQ(Loc("http://b/x", maps), "http://front.example/appx");
}

TEST(RewriteLocation, RealIsPathComparedWithUrlPath) {
  std::vector<ReverseMap> maps = {Map("/app/", {"/backend/"}, true)};
  EXPECT_EQ(Loc("http://anything.example:9/backend/x?q", maps), "http://front.example/app/x?q");
  EXPECT_EQ(Loc("/backend/y", maps), "http://front.example/app/y");
  EXPECT_EQ(Loc("http://anything.example", maps), "<unchanged>");
  EXPECT_EQ(Loc("/Backend/z", maps), "http://front.example/app/z");  // case-insensitive
}

TEST(RewriteLocation, RealStartingWithSlashIsAPathEvenWithoutFlag) {
  std::vector<ReverseMap> maps = {Map("/app/", {"/backend/"})};
  EXPECT_EQ(Loc("http://h/backend/x", maps), "http://front.example/app/x");
}

TEST(RewriteLocation, FakeThatIsAUrlIsNotMadeAbsoluteAgain) {
  std::vector<ReverseMap> maps = {Map("https://public.example/", {"http://b/"})};
  EXPECT_EQ(Loc("http://b/x", maps), "https://public.example/x");
}

TEST(RewriteLocation, EmptyRealNeverMatches) {
  std::vector<ReverseMap> maps = {Map("/a/", {""}), Map("/b/", {"http://h/"})};
  EXPECT_EQ(Loc("http://h/x", maps), "http://front.example/b/x");
}

TEST(RewriteLocation, WithoutClientHostTheResultStaysRelative) {
  EXPECT_EQ(Loc("http://192.168.1.50/login", SeedMaps(), ""), "/login");
}

// --- Set-Cookie ------------------------------------------------------------

TEST(RewriteCookie, SeedScenario) {
  EXPECT_EQ(Cookie("s=1; Domain=192.168.1.50", SeedDomains()), "s=1; Domain=localhost");
  EXPECT_EQ(Cookie("s=1; Domain=192.168.1.51; Path=/", SeedDomains()),
            "s=1; Domain=localhost; Path=/");
}

TEST(RewriteCookie, NothingToRewrite) {
  EXPECT_EQ(Cookie("s=1; Path=/; HttpOnly", SeedDomains()), "<unchanged>");
  EXPECT_EQ(Cookie("s=1; Domain=other.example", SeedDomains()), "<unchanged>");
  EXPECT_EQ(Cookie("s=1; Domain=192.168.1.50", {}), "<unchanged>");
  EXPECT_EQ(Cookie("", SeedDomains()), "<unchanged>");
}

TEST(RewriteCookie, AttributeNameCaseInsensitive) {
  EXPECT_EQ(Cookie("s=1; DOMAIN=192.168.1.50", SeedDomains()), "s=1; DOMAIN=localhost");
  EXPECT_EQ(Cookie("s=1; dOmAiN=192.168.1.50; pAtH=/app", {}, {{"/app", "/"}}),
            "s=1; dOmAiN=192.168.1.50; pAtH=/");
}

TEST(RewriteCookie, DomainPrefixCaseInsensitiveWholeValueReplaced) {
  std::vector<CookieMap> d = {{"internal.example", "public.example"}};
  EXPECT_EQ(Cookie("a=b; Domain=INTERNAL.example.corp; Secure", d),
            "a=b; Domain=public.example; Secure");
}

TEST(RewriteCookie, PathWholeValueReplaced) {
  // APACHE-SEMANTICS: Path=/app/deep/x with /app/deep -> /pub became Path=/pub.
  EXPECT_EQ(Cookie("id=7; Path=/app/deep/x; HttpOnly", {}, {{"/app/deep", "/pub"}}),
            "id=7; Path=/pub; HttpOnly");
}

TEST(RewriteCookie, PathPrefixCaseSensitive) {
  EXPECT_EQ(Cookie("id=7; Path=/App", {}, {{"/app", "/pub"}}), "<unchanged>");
}

TEST(RewriteCookie, FirstMatchingRuleWins) {
  std::vector<CookieMap> p = {{"/x", "/first"}, {"/", "/second"}, {"/x", "/third"}};
  EXPECT_EQ(Cookie("a=1; Path=/x/y", {}, p), "a=1; Path=/first");
  EXPECT_EQ(Cookie("a=1; Path=/z", {}, p), "a=1; Path=/second");
}

TEST(RewriteCookie, DomainAndPathBothOrders) {
  std::vector<CookieMap> d = {{"b.internal", "b.example"}};
  std::vector<CookieMap> p = {{"/in", "/out"}};
  EXPECT_EQ(Cookie("k=v; path=/in/deeper; domain=b.internal; secure", d, p),
            "k=v; path=/out; domain=b.example; secure");
  EXPECT_EQ(Cookie("k=v; domain=b.internal; path=/in; secure", d, p),
            "k=v; domain=b.example; path=/out; secure");
  EXPECT_EQ(Cookie("k=v; domain=b.internal; path=/other", d, p),
            "k=v; domain=b.example; path=/other");
  EXPECT_EQ(Cookie("k=v; domain=other; path=/in", d, p), "k=v; domain=other; path=/out");
}

TEST(RewriteCookie, RestPreservedByteForByte) {
  std::vector<CookieMap> d = {{"192.168.1.50", "localhost"}};
  EXPECT_EQ(Cookie("s=\"a;b\"?;  Expires=Wed, 21 Oct 2015 07:28:00 GMT ;Domain=192.168.1.50;;"
                   "  SameSite=Lax",
                   d),
            "s=\"a;b\"?;  Expires=Wed, 21 Oct 2015 07:28:00 GMT ;Domain=localhost;;"
            "  SameSite=Lax");
}

TEST(RewriteCookie, ValueRunsToSemicolonIncludingTrailingSpaces) {
  EXPECT_EQ(Cookie("s=1; Domain=192.168.1.50 ; Secure", SeedDomains()),
            "s=1; Domain=localhost; Secure");
}

TEST(RewriteCookie, LeadingWhitespaceBeforeAttributeSkipped) {
  EXPECT_EQ(Cookie("s=1;\t Domain=192.168.1.50", SeedDomains()), "s=1;\t Domain=localhost");
  EXPECT_EQ(Cookie("s=1;Domain=192.168.1.50", SeedDomains()), "s=1;Domain=localhost");
}

TEST(RewriteCookie, OnlyWholeAttributeNamesMatch) {
  EXPECT_EQ(Cookie("s=1; XDomain=192.168.1.50; Domains=192.168.1.50", SeedDomains()),
            "<unchanged>");
}

TEST(RewriteCookie, EmptyInternalMatchesEverything) {
  EXPECT_EQ(Cookie("s=1; Path=/anything", {}, {{"", "/"}}), "s=1; Path=/");
}

TEST(RewriteCookie, RepeatedAttributeLastOccurrenceReplaced) {
  // Apache remembers the position of the last Domain= and the map of any match.
  EXPECT_EQ(Cookie("s=1; Domain=192.168.1.50; Domain=x.example", SeedDomains()),
            "s=1; Domain=192.168.1.50; Domain=localhost");
}

}  // namespace
}  // namespace drover::http
