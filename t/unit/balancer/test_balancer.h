// Test helpers: a Config with one balancer built in code (no parser), its
// SlotTable and Balancer, and shorthand for members and schedules.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "balancer/balancer.h"
#include "config/config.h"
#include "shm/slot_table.h"

namespace drover::balancer::testing {

constexpr int64_t kNow = 1'700'000'000'000;  // wall-clock ms

inline config::MemberConfig Member(const std::string& url, const std::string& route = "",
                                   int lbfactor = 100, uint32_t status = 0, int lbset = 0) {
  config::MemberConfig m;
  m.name = url;
  m.route = route;
  m.lbfactor = lbfactor;
  m.status = status;
  m.lbset = lbset;
  return m;
}

inline config::BalancerConfig MakeBalancer(const std::string& name,
                                           std::vector<config::MemberConfig> members) {
  config::BalancerConfig b;
  b.name = name;
  b.members = std::move(members);
  return b;
}

class TestBalancer {
 public:
  explicit TestBalancer(config::BalancerConfig b) {
    cfg_.balancers.push_back(std::move(b));
    auto r = shm::SlotTable::Create(cfg_, nullptr, 1);
    EXPECT_TRUE(r.ok()) << r.status().message();
    table_ = std::move(r.value());
    bal_ = std::make_unique<balancer::Balancer>(&cfg_.balancers[0], table_.get(), 0);
  }

  balancer::Balancer& b() { return *bal_; }
  shm::MemberSlot* s(uint32_t m) { return bal_->slot(m); }
  shm::SlotTable& table() { return *table_; }
  shm::BalancerSlot* bslot() { return table_->balancer(0); }

  PickResult Pick(const PickRequest& req = {}, const std::vector<int>& tried = {},
                  int64_t now = kNow) {
    return bal_->Pick(req, tried, now);
  }

  // `n` picks without a route, as letters 'A' + member ('-' for a 503).
  std::string Schedule(int n, int64_t now = kNow) {
    std::string out;
    for (int i = 0; i < n; ++i) {
      PickResult r = Pick({}, {}, now);
      out.push_back(r.member < 0 ? '-' : static_cast<char>('A' + r.member));
    }
    return out;
  }

  static PickRequest Cookie(std::string_view value) {
    PickRequest req;
    req.path = "/app/x";
    req.cookies.push_back(value);
    return req;
  }

 private:
  config::Config cfg_;
  std::unique_ptr<shm::SlotTable> table_;
  std::unique_ptr<balancer::Balancer> bal_;
};

}  // namespace drover::balancer::testing
