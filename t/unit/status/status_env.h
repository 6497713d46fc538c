// Test helpers for status/: a Config with balancers built in code, its
// SlotTable, the workers' Balancer objects and a StatusContext, plus request
// shorthands and a JSON navigator.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../balancer/test_balancer.h"
#include "balancer/balancer.h"
#include "config/config.h"
#include "shm/slot_table.h"
#include "status/json.h"
#include "status/status.h"

namespace drover::status::testing {

using balancer::testing::kNow;
using balancer::testing::MakeBalancer;
using balancer::testing::Member;

constexpr char kBase[] = "/balancer-manager";

// mycluster: a (n1, lf 1), b (n2, lf 2), c (n3, +H); growth 2; sticky BALANCEID.
// api: one member, no growth.
inline std::vector<config::BalancerConfig> DefaultBalancers() {
  std::vector<config::BalancerConfig> v;
  v.push_back(MakeBalancer("mycluster", {Member("http://10.0.0.1:8080", "n1", 100),
                                         Member("http://10.0.0.2:8080", "n2", 200),
                                         Member("http://10.0.0.3:8080", "n3", 100,
                                                config::kFlagStandby)}));
  v.back().growth = 2;
  v.back().sticky_cookie = "BALANCEID";
  v.back().sticky_urlparam = "BALANCEID";
  v.back().members[0].hc.method = config::HealthCheck::Method::kGet;
  v.back().members[0].hc.uri = "/health";
  v.push_back(MakeBalancer("api", {Member("http://[::1]:9000")}));
  return v;
}

class Env {
 public:
  explicit Env(std::vector<config::BalancerConfig> balancers = DefaultBalancers(),
               std::vector<std::string> allow = {"127.0.0.0/8", "::1"},
               std::string secret = "0123456789abcdef0123456789abcdef") {
    cfg_ = std::make_shared<config::Config>();
    cfg_->server.balancer_manager = kBase;
    cfg_->server.metrics = "/metrics";
    cfg_->server.server_name = "proxy.test";
    cfg_->server.status_allow = std::move(allow);
    cfg_->balancers = std::move(balancers);
    Attach(nullptr, 1, std::move(secret));
  }

  // A reload: a new table from `next` (or the same config) carrying this one's state.
  void Reload(std::shared_ptr<config::Config> next = nullptr) {
    old_cfg_ = cfg_;
    old_table_ = std::move(table_);
    if (next != nullptr) {
      cfg_ = std::move(next);
    }
    Attach(old_table_.get(), old_table_->header().generation + 1, "another secret");
  }

  StatusContext& ctx() { return *ctx_; }
  shm::SlotTable& table() { return *table_; }
  balancer::Balancer& bal(size_t i) { return balancers_[i]; }
  shm::MemberSlot* slot(size_t b, uint32_t m) { return balancers_[b].slot(m); }
  config::Config& cfg() { return *cfg_; }
  const std::string& nonce() { return ctx_->nonce(); }

  StatusRequest Req(std::string_view method, std::string_view path, std::string_view query = "",
                    std::string_view body = "") {
    StatusRequest r;
    r.method = method;
    r.path = path;
    r.query = query;
    r.body = body;
    r.host = "proxy.test";
    r.client_ip = "127.0.0.1";
    return r;
  }

  StatusResponse Get(std::string_view query = "") {
    return ctx_->HandleManager(Req("GET", kBase, query), kNow);
  }

  json::Value GetJson() {
    StatusResponse r = Get("format=json");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, "application/json");
    auto v = json::Parse(r.body);
    EXPECT_TRUE(v.ok()) << v.status().message() << "\n" << r.body;
    return v.ok() ? v.value() : json::Value();
  }

  // A form post of `body` (the nonce is appended unless `with_nonce` is false).
  StatusResponse PostForm(std::string body, bool with_nonce = true) {
    if (with_nonce) {
      body += "&nonce=" + nonce();
    }
    form_body_ = std::move(body);
    StatusRequest r = Req("POST", kBase, "", form_body_);
    r.content_type = "application/x-www-form-urlencoded";
    r.origin = "http://proxy.test";
    return ctx_->HandleManager(r, kNow);
  }

  // A JSON API call below PATH/api with the nonce header (unless `nonce` is given).
  StatusResponse Api(std::string_view method, std::string_view sub, std::string body = "",
                     const std::string* nonce = nullptr) {
    api_path_ = std::string(kBase) + "/api" + std::string(sub);
    api_body_ = std::move(body);
    StatusRequest r = Req(method, api_path_, "", api_body_);
    r.content_type = api_body_.empty() ? "" : "application/json";
    r.nonce_header = nonce != nullptr ? std::string_view(*nonce) : std::string_view(ctx_->nonce());
    return ctx_->HandleManager(r, kNow);
  }

 private:
  void Attach(const shm::SlotTable* previous, uint64_t generation, std::string secret) {
    auto t = shm::SlotTable::Create(*cfg_, previous, generation);
    EXPECT_TRUE(t.ok()) << t.status().message();
    table_ = std::move(t.value());
    balancers_.clear();
    for (size_t i = 0; i < cfg_->balancers.size(); ++i) {
      balancers_.emplace_back(&cfg_->balancers[i], table_.get(), static_cast<uint32_t>(i));
    }
    ctx_ = std::make_unique<StatusContext>(cfg_.get(), table_.get(), &balancers_,
                                           std::move(secret));
  }

  std::shared_ptr<config::Config> cfg_;
  std::shared_ptr<config::Config> old_cfg_;
  std::unique_ptr<shm::SlotTable> table_;
  std::unique_ptr<shm::SlotTable> old_table_;
  std::vector<balancer::Balancer> balancers_;
  std::unique_ptr<StatusContext> ctx_;
  std::string form_body_;
  std::string api_path_;
  std::string api_body_;
};

// JSON navigation: v / "key", v[i]; a null Value when missing.
inline const json::Value& At(const json::Value& v, std::string_view key) {
  static const json::Value kNull;
  const json::Value* f = v.Find(key);
  return f != nullptr ? *f : kNull;
}
inline const json::Value& At(const json::Value& v, size_t i) {
  static const json::Value kNull;
  return v.type == json::Value::Type::kArray && i < v.items.size() ? v.items[i] : kNull;
}
inline std::string Text(const json::Value& v) { return v.text; }

inline std::string SlotStr(const char* s, size_t cap) { return std::string(s, strnlen(s, cap)); }

}  // namespace drover::status::testing
