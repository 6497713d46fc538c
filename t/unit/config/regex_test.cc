// config::Regex: PCRE2 compile errors, groups, and $n substitution.
#include "config/regex.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace drover::config {
namespace {

std::shared_ptr<const Regex> Compile(const std::string& p) {
  auto r = Regex::Compile(p);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r.value() : nullptr;
}

TEST(RegexTest, CompileErrorNamesPatternMessageAndOffset) {
  auto r = Regex::Compile("^(");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "regex '^(' does not compile: missing closing parenthesis at offset 2");
  r = Regex::Compile("a{2,1}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "regex 'a{2,1}' does not compile: numbers out of order in {} quantifier at offset 5");
}

TEST(RegexTest, MatchFillsGroups) {
  auto re = Compile("^/m/(.*)\\.(gif|png)$");
  ASSERT_NE(re, nullptr);
  std::string_view g[10];
  EXPECT_EQ(re->Match("/m/foo.gif", g), 3);
  EXPECT_EQ(g[0], "/m/foo.gif");
  EXPECT_EQ(g[1], "foo");
  EXPECT_EQ(g[2], "gif");
  EXPECT_EQ(g[3], "");
  EXPECT_EQ(re->Match("/m/foo.jpg", g), 0);
  EXPECT_EQ(g[0], "");
}

TEST(RegexTest, UnanchoredAndEmptySubject) {
  auto re = Compile("\\.gif");
  ASSERT_NE(re, nullptr);
  std::string_view g[10];
  EXPECT_EQ(re->Match("/a/b.gif", g), 1);
  EXPECT_EQ(g[0], ".gif");
  EXPECT_EQ(re->Match(std::string_view(), g), 0);
  auto any = Compile("^$");
  ASSERT_NE(any, nullptr);
  EXPECT_EQ(any->Match(std::string_view(), g), 1);
}

TEST(RegexTest, UnsetGroupsAreEmpty) {
  auto re = Compile("^/(a)?(b)");
  ASSERT_NE(re, nullptr);
  std::string_view g[10];
  EXPECT_EQ(re->Match("/b", g), 3);
  EXPECT_EQ(g[1], "");
  EXPECT_EQ(g[2], "b");
}

TEST(RegexTest, MoreThanTenGroupsStillMatch) {
  auto re = Compile("(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)");
  ASSERT_NE(re, nullptr);
  std::string_view g[10];
  EXPECT_EQ(re->Match("abcdefghijkl", g), 10);
  EXPECT_EQ(g[9], "i");
}

TEST(RegexTest, MatchFromManyThreadsIsSafe) {
  auto re = Compile("^/t/(\\d+)$");
  ASSERT_NE(re, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        std::string s = "/t/" + std::to_string(t * 1000 + i);
        std::string_view g[10];
        if (re->Match(s, g) == 2 && g[1] == s.substr(3)) {
          ++ok;
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(ok.load(), 4000);
}

TEST(RegexTest, Substitute) {
  std::string_view g[10] = {"/m/foo.gif", "foo", "gif"};
  EXPECT_EQ(Regex::Substitute("/img/$1.png", g, 3), "/img/foo.png");
  EXPECT_EQ(Regex::Substitute("$0|$2|$1", g, 3), "/m/foo.gif|gif|foo");
  EXPECT_EQ(Regex::Substitute("$3$9x", g, 3), "x");        // beyond n: empty
  EXPECT_EQ(Regex::Substitute("\\$1", g, 3), "$1");        // escaped: literal
  EXPECT_EQ(Regex::Substitute("a$b$", g, 3), "a$b$");      // '$' without digit: literal
  EXPECT_EQ(Regex::Substitute("a\\b&c", g, 3), "a\\b&c");  // other characters verbatim
  EXPECT_EQ(Regex::Substitute("", g, 3), "");
}

}  // namespace
}  // namespace drover::config
