// Metrics: the Prometheus text exposition parses line by line (HELP and TYPE
// before each family's samples, name{labels} value), label values are
// escaped, and the values match the slot counters.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

#include "status_env.h"

namespace drover::status {
namespace {

using testing::Env;
using testing::kNow;

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  std::string value;
};

// A strict reader of the 0.0.4 text format as drover writes it. Fails the test
// on a malformed line; checks that every sample's family has HELP and TYPE
// first and that a family's samples are contiguous.
std::vector<Sample> ParseExposition(const std::string& text) {
  std::vector<Sample> out;
  std::set<std::string> help;
  std::map<std::string, std::string> type;
  std::set<std::string> closed;
  std::string current;
  std::istringstream in(text);
  std::string line;
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  while (std::getline(in, line)) {
    EXPECT_FALSE(line.empty());
    if (line.rfind("# HELP ", 0) == 0) {
      std::string rest = line.substr(7);
      std::string name = rest.substr(0, rest.find(' '));
      EXPECT_TRUE(help.insert(name).second) << "second HELP for " << name;
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      std::string rest = line.substr(7);
      size_t sp = rest.find(' ');
      std::string name = rest.substr(0, sp);
      std::string t = rest.substr(sp + 1);
      EXPECT_TRUE(t == "counter" || t == "gauge") << line;
      EXPECT_TRUE(type.emplace(name, t).second) << "second TYPE for " << name;
      continue;
    }
    EXPECT_NE(line[0], '#') << line;
    Sample s;
    size_t i = 0;
    while (i < line.size() && (isalnum(static_cast<unsigned char>(line[i])) || line[i] == '_' ||
                               line[i] == ':')) {
      ++i;
    }
    s.name = line.substr(0, i);
    EXPECT_FALSE(s.name.empty()) << line;
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        EXPECT_NE(eq, std::string::npos) << line;
        if (eq == std::string::npos) {
          return out;
        }
        std::string key = line.substr(i, eq - i);
        EXPECT_EQ(line[eq + 1], '"') << line;
        std::string value;
        size_t k = eq + 2;
        for (; k < line.size() && line[k] != '"'; ++k) {
          if (line[k] == '\\') {
            ++k;
            value.push_back(line[k] == 'n' ? '\n' : line[k]);
          } else {
            value.push_back(line[k]);
          }
        }
        EXPECT_LT(k, line.size()) << line;
        s.labels[key] = value;
        i = k + 1;
        if (i < line.size() && line[i] == ',') {
          ++i;
        }
      }
      ++i;  // '}'
    }
    EXPECT_EQ(line[i], ' ') << line;
    s.value = line.substr(i + 1);
    char* end = nullptr;
    strtod(s.value.c_str(), &end);
    EXPECT_EQ(*end, '\0') << line;
    // Families are contiguous and announced.
    std::string family = s.name;
    EXPECT_TRUE(help.count(family) != 0 && type.count(family) != 0) << "no HELP/TYPE: " << line;
    if (family != current) {
      EXPECT_EQ(closed.count(family), 0u) << "family split: " << family;
      if (!current.empty()) {
        closed.insert(current);
      }
      current = family;
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::string Value(const std::vector<Sample>& samples, const std::string& name,
                  const std::map<std::string, std::string>& want) {
  for (const Sample& s : samples) {
    if (s.name != name) {
      continue;
    }
    bool match = true;
    for (const auto& [k, v] : want) {
      auto it = s.labels.find(k);
      match = match && it != s.labels.end() && it->second == v;
    }
    if (match) {
      return s.value;
    }
  }
  return "<missing>";
}

TEST(StatusMetrics, ParsesAndMatchesCounters) {
  Env env;
  balancer::Balancer& b = env.bal(0);
  for (int i = 0; i < 9; ++i) {
    balancer::PickResult p = b.Pick({}, {}, kNow);
    ASSERT_GE(p.member, 0);
    b.OnRequestStart(static_cast<uint32_t>(p.member));
    b.OnRequestEnd(static_cast<uint32_t>(p.member), 500, 20);
  }
  b.OnRequestStart(0);
  b.OnConnectFailure(1, kNow - 1500);
  env.slot(0, 2)->status.fetch_or(config::kFlagHcFailed);
  ProcessStats ps;
  ps.workers = 4;
  ps.uptime_seconds = 12.5;
  ps.start_time_seconds = 1700000000;
  StatusResponse r = env.ctx().HandleMetrics(env.Req("GET", "/metrics"), kNow, &ps);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  std::vector<Sample> s = ParseExposition(r.body);
  ASSERT_FALSE(s.empty());
  const std::map<std::string, std::string> a = {{"balancer", "mycluster"},
                                                {"member", "http://10.0.0.1:8080"},
                                                {"route", "n1"}};
  const std::map<std::string, std::string> bm = {{"balancer", "mycluster"},
                                                 {"member", "http://10.0.0.2:8080"},
                                                 {"route", "n2"}};
  const std::map<std::string, std::string> c = {{"member", "http://10.0.0.3:8080"}};
  EXPECT_EQ(Value(s, "drover_member_requests_total", a), "3");
  EXPECT_EQ(Value(s, "drover_member_requests_total", bm), "6");
  EXPECT_EQ(Value(s, "drover_member_requests_total", c), "0");
  EXPECT_EQ(Value(s, "drover_member_busy", a), "1");
  EXPECT_EQ(Value(s, "drover_member_busy", bm), "0");
  auto with = [](std::map<std::string, std::string> m, const char* k, const char* v) {
    m[k] = v;
    return m;
  };
  EXPECT_EQ(Value(s, "drover_member_bytes_total", with(bm, "direction", "in")), "3000");
  EXPECT_EQ(Value(s, "drover_member_bytes_total", with(bm, "direction", "out")), "120");
  EXPECT_EQ(Value(s, "drover_member_failures_total", bm), "1");
  EXPECT_EQ(Value(s, "drover_member_up", a), "1");
  EXPECT_EQ(Value(s, "drover_member_up", bm), "0");
  EXPECT_EQ(Value(s, "drover_member_up", c), "0");
  EXPECT_EQ(Value(s, "drover_member_lbfactor", bm), "200");
  EXPECT_EQ(Value(s, "drover_member_lbstatus", a),
            std::to_string(env.slot(0, 0)->lbstatus.load()));
  EXPECT_EQ(Value(s, "drover_member_status_flag", with(bm, "flag", "E")), "1");
  EXPECT_EQ(Value(s, "drover_member_status_flag", with(bm, "flag", "D")), "0");
  EXPECT_EQ(Value(s, "drover_member_status_flag", with(c, "flag", "H")), "1");
  EXPECT_EQ(Value(s, "drover_member_error_time_seconds", bm), "1699999998.5");
  EXPECT_EQ(Value(s, "drover_member_health_check_ok", a), "1");
  EXPECT_EQ(Value(s, "drover_member_health_check_ok", c), "0");
  EXPECT_EQ(Value(s, "drover_balancer_members", {{"balancer", "mycluster"}}), "3");
  EXPECT_EQ(Value(s, "drover_balancer_members", {{"balancer", "api"}}), "1");
  EXPECT_EQ(Value(s, "drover_balancer_usable_members", {{"balancer", "mycluster"}}), "1");
  EXPECT_EQ(Value(s, "drover_balancer_capacity", {{"balancer", "mycluster"}}), "5");
  EXPECT_EQ(Value(s, "drover_balancer_lock_recoveries_total", {{"balancer", "api"}}), "0");
  EXPECT_EQ(Value(s, "drover_balancer_info", {{"lbmethod", "byrequests"}}), "1");
  EXPECT_EQ(Value(s, "drover_generation", {}), "1");
  EXPECT_EQ(Value(s, "drover_workers", {}), "4");
  EXPECT_EQ(Value(s, "drover_uptime_seconds", {}), "12.5");
  EXPECT_EQ(Value(s, "drover_start_time_seconds", {}), "1700000000");
  EXPECT_NE(Value(s, "drover_build_info", {}), "<missing>");
  // Every member family has one sample per member (4), with the three labels.
  size_t requests = 0;
  for (const Sample& x : s) {
    if (x.name == "drover_member_requests_total") {
      ++requests;
      EXPECT_EQ(x.labels.size(), 3u);
    }
  }
  EXPECT_EQ(requests, 4u);
}

TEST(StatusMetrics, LabelValuesEscapedAndRemovedMembersLeftOut) {
  auto bals = testing::DefaultBalancers();
  bals[0].members[0].route = "we\"ird\\";
  Env env(std::move(bals));
  env.slot(0, 1)->in_use.store(0);
  StatusResponse r = env.ctx().HandleMetrics(env.Req("GET", "/metrics"), kNow);
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("route=\"we\\\"ird\\\\\""), std::string::npos);
  std::vector<Sample> s = ParseExposition(r.body);
  EXPECT_EQ(Value(s, "drover_member_requests_total", {{"route", "we\"ird\\"}}), "0");
  EXPECT_EQ(Value(s, "drover_member_requests_total", {{"route", "n2"}}), "<missing>");
  EXPECT_EQ(Value(s, "drover_balancer_members", {{"balancer", "mycluster"}}), "2");
  // Without process figures: the table's generation, no workers/uptime.
  EXPECT_EQ(Value(s, "drover_generation", {}), "1");
  EXPECT_EQ(Value(s, "drover_workers", {}), "<missing>");
}

TEST(StatusMetrics, Methods) {
  Env env;
  StatusResponse r = env.ctx().HandleMetrics(env.Req("POST", "/metrics"), kNow);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(env.ctx().HandleMetrics(env.Req("HEAD", "/metrics"), kNow).status, 200);
}

}  // namespace
}  // namespace drover::status
