// Balancer-manager: the HTML page and the JSON document list every member
// with its counters; form posts and the JSON API edit the shm slots; the
// nonce, Origin and StatusAllow gates; routing and method errors.
#include <gtest/gtest.h>

#include <cstring>

#include "balancer/balancer.h"
#include "status/members.h"
#include "status_env.h"

namespace drover::status {
namespace {

using testing::At;
using testing::Env;
using testing::kBase;
using testing::kNow;
using testing::SlotStr;

std::string Header(const StatusResponse& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) {
      return v;
    }
  }
  return std::string();
}

size_t Count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) {
    ++n;
  }
  return n;
}

TEST(StatusManagerPage, HtmlListsEveryMemberAndSetting) {
  Env env;
  StatusResponse r = env.Get();
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  const std::string& h = r.body;
  EXPECT_NE(h.find("<!DOCTYPE html>"), std::string::npos);
  EXPECT_NE(h.find("balancer://mycluster"), std::string::npos);
  EXPECT_NE(h.find("balancer://api"), std::string::npos);
  for (const char* url : {"http://10.0.0.1:8080", "http://10.0.0.2:8080", "http://10.0.0.3:8080",
                          "http://[::1]:9000"}) {
    EXPECT_NE(h.find(std::string("data-url=\"") + url + "\""), std::string::npos) << url;
  }
  EXPECT_EQ(Count(h, "<tr class=\"member"), 4u);
  EXPECT_NE(h.find("id=\"m-0-2\""), std::string::npos);
  EXPECT_NE(h.find("<span class=\"badge stby\">Stby</span>"), std::string::npos);
  EXPECT_NE(h.find("<span class=\"badge ok\">Ok</span>"), std::string::npos);
  EXPECT_NE(h.find("data-k=\"lbmethod\">byrequests<"), std::string::npos);
  EXPECT_NE(h.find("BALANCEID"), std::string::npos);
  EXPECT_NE(h.find("data-k=\"used\">3 / 5<"), std::string::npos);
  EXPECT_NE(h.find("data-k=\"loadfactor\">2<"), std::string::npos);
  EXPECT_NE(h.find("title=\"GET /health every 30 s"), std::string::npos);
  // Forms: one edit and one remove per member, add only where there is room.
  EXPECT_EQ(Count(h, "class=\"edit\""), 4u);
  EXPECT_EQ(Count(h, "class=\"remove\""), 4u);
  EXPECT_EQ(Count(h, "name=\"b_wyes\""), 1u);
  EXPECT_NE(h.find("No free member slot"), std::string::npos);
  EXPECT_NE(h.find("name=\"nonce\" value=\"" + env.nonce() + "\""), std::string::npos);
  for (char f : std::string("DSNHRI")) {
    EXPECT_NE(h.find(std::string("name=\"w_status_") + f + "\" value=\"1\""), std::string::npos);
  }
  // The refresh script, allowed by the CSP hash; framing refused.
  EXPECT_NE(h.find("setInterval(refresh, 2000)"), std::string::npos);
  EXPECT_NE(h.find("?format=json"), std::string::npos);
  EXPECT_NE(Header(r, "Content-Security-Policy").find("script-src 'sha256-"), std::string::npos);
  EXPECT_EQ(Header(r, "X-Frame-Options"), "DENY");
  EXPECT_EQ(Header(r, "Cache-Control"), "no-store");
}

TEST(StatusManagerPage, HtmlEscapesRoutes) {
  auto bals = testing::DefaultBalancers();
  bals[0].members[0].route = "<b>&\"x'";
  Env env(std::move(bals));
  StatusResponse r = env.Get();
  EXPECT_EQ(r.body.find("<b>&\"x'"), std::string::npos);
  EXPECT_NE(r.body.find("&lt;b&gt;&amp;&quot;x&#39;"), std::string::npos);
  json::Value j = env.GetJson();
  EXPECT_EQ(At(At(At(At(j, "balancers"), 0), "members"), 0).Find("route")->text, "<b>&\"x'");
}

TEST(StatusManagerJson, SchemaAndCountersAfterPicks) {
  Env env;
  balancer::Balancer& b = env.bal(0);
  // byrequests with a:1 b:2 -> BAB BAB ...
  for (int i = 0; i < 6; ++i) {
    balancer::PickResult p = b.Pick({}, {}, kNow);
    ASSERT_GE(p.member, 0);
    b.OnRequestStart(static_cast<uint32_t>(p.member));
    b.OnRequestEnd(static_cast<uint32_t>(p.member), 1000, 10);
  }
  b.OnRequestStart(1);  // one in flight
  b.OnConnectFailure(0, kNow - 5000);
  json::Value j = env.GetJson();
  EXPECT_EQ(At(j, "server").text, "proxy.test");
  EXPECT_EQ(At(j, "nonce").text, env.nonce());
  EXPECT_EQ(At(j, "generation").text, "1");
  EXPECT_EQ(At(j, "api").text, std::string(kBase) + "/api");
  const json::Value& bals = At(j, "balancers");
  ASSERT_EQ(bals.items.size(), 2u);
  const json::Value& mc = At(bals, 0);
  EXPECT_EQ(At(mc, "name").text, "mycluster");
  EXPECT_EQ(At(mc, "lbmethod").text, "byrequests");
  EXPECT_EQ(At(mc, "stickysession").text, "BALANCEID");
  EXPECT_FALSE(At(mc, "nofailover").boolean);
  EXPECT_EQ(At(mc, "maxattempts").text, "2");
  EXPECT_EQ(At(mc, "maxattempts_setting").text, "-1");
  EXPECT_EQ(At(mc, "capacity").text, "5");
  EXPECT_EQ(At(mc, "members_used").text, "3");
  EXPECT_EQ(At(mc, "free_slots").text, "2");
  EXPECT_TRUE(At(mc, "forcerecovery").boolean);
  const json::Value& ms = At(mc, "members");
  ASSERT_EQ(ms.items.size(), 3u);
  const json::Value& a = At(ms, 0);
  const json::Value& bm = At(ms, 1);
  EXPECT_EQ(At(a, "url").text, "http://10.0.0.1:8080");
  EXPECT_EQ(At(a, "route").text, "n1");
  EXPECT_EQ(At(a, "elected").text, "2");
  EXPECT_EQ(At(bm, "elected").text, "4");
  EXPECT_EQ(At(bm, "busy").text, "1");
  EXPECT_EQ(At(bm, "bytes_in").text, "4000");
  EXPECT_EQ(At(bm, "bytes_out").text, "40");
  EXPECT_EQ(At(bm, "loadfactor").text, "2");
  EXPECT_EQ(At(bm, "lbfactor").text, "200");
  EXPECT_EQ(At(a, "failures").text, "1");
  EXPECT_EQ(At(a, "status").text, "E");
  EXPECT_FALSE(At(a, "usable").boolean);
  EXPECT_EQ(At(a, "error_time_ms").text, std::to_string(kNow - 5000));
  ASSERT_EQ(At(a, "flags").items.size(), 1u);
  EXPECT_EQ(At(At(a, "flags"), 0).text, "Err");
  EXPECT_EQ(At(At(ms, 2), "status").text, "H");
  EXPECT_EQ(At(At(At(ms, 2), "flags"), 0).text, "Ok");
  EXPECT_EQ(At(At(At(ms, 2), "flags"), 1).text, "Stby");
  EXPECT_EQ(At(At(a, "hc"), "state").text, "pending");
  EXPECT_EQ(At(At(a, "hc"), "method").text, "GET");
  EXPECT_EQ(At(At(bm, "hc"), "state").text, "off");
  EXPECT_TRUE(At(a, "from_config").boolean);
  // The page shows the same counters.
  std::string h = env.Get().body;
  EXPECT_NE(h.find("data-k=\"elected\">4<"), std::string::npos);
  EXPECT_NE(h.find("<span class=\"badge err\">Err</span>"), std::string::npos);
}

TEST(StatusManagerForm, EditMemberChangesSlots) {
  Env env;
  env.slot(0, 0)->lbstatus.store(-150);
  env.slot(0, 1)->lbstatus.store(70);
  StatusResponse r = env.PostForm(
      "b=mycluster&w=http%3A%2F%2F10.0.0.2%3A8080&w_lf=3.5&w_ls=2&w_wr=node-b&w_rr=n1"
      "&w_status_D=0&w_status_D=1&w_status_S=0&w_status_N=0&w_status_H=0&w_status_R=0"
      "&w_status_I=0&w_status_I=1");
  ASSERT_EQ(r.status, 303) << r.body;
  EXPECT_EQ(Header(r, "Location"),
            std::string(kBase) + "?done=edit&b=mycluster&w=http%3A%2F%2F10.0.0.2%3A8080#b-0");
  shm::MemberSlot* s = env.slot(0, 1);
  EXPECT_EQ(s->lbfactor.load(), 350);
  EXPECT_EQ(s->lbset.load(), 2);
  EXPECT_EQ(SlotStr(s->route, shm::kRouteMax), "node-b");
  EXPECT_EQ(SlotStr(s->redirect, shm::kRouteMax), "n1");
  EXPECT_EQ(s->status.load(), config::kFlagDisabled | config::kFlagIgnoreErrors);
  // Apache's recalc_factors on a loadfactor change: lbstatus = lbfactor everywhere.
  EXPECT_EQ(env.slot(0, 0)->lbstatus.load(), 100);
  EXPECT_EQ(s->lbstatus.load(), 350);
  EXPECT_EQ(env.table().balancer(0)->wupdated.load(), 1u);
  // The page after the redirect confirms it.
  StatusResponse page = env.Get("done=edit&b=mycluster&w=http%3A%2F%2F10.0.0.2%3A8080");
  EXPECT_NE(page.body.find("Saved member http://10.0.0.2:8080 of balancer mycluster."),
            std::string::npos);
  // Every worker's picks see it at once: b is disabled.
  balancer::Balancer other(&env.cfg().balancers[0], &env.table(), 0);
  EXPECT_NE(other.Pick({}, {}, kNow).member, 1);
  EXPECT_NE(other.Pick({}, {}, kNow).member, 1);
}

TEST(StatusManagerForm, EnablingResetsLbStatus) {
  Env env;
  env.slot(0, 0)->status.store(config::kFlagDisabled);
  env.slot(0, 0)->lbstatus.store(-300);
  env.slot(0, 1)->lbstatus.store(300);
  ASSERT_EQ(env.PostForm("b=mycluster&w=0&w_status_D=0").status, 303);
  EXPECT_EQ(env.slot(0, 0)->status.load(), 0u);
  EXPECT_EQ(env.slot(0, 0)->lbstatus.load(), 0);
  EXPECT_EQ(env.slot(0, 1)->lbstatus.load(), 0);
}

TEST(StatusManagerForm, BalancerSettings) {
  Env env;
  env.slot(0, 0)->lbstatus.store(42);
  StatusResponse r =
      env.PostForm("b=mycluster&b_lbm=bybusyness&b_sforce=0&b_sforce=1&b_max=4&b_tmo=30");
  ASSERT_EQ(r.status, 303) << r.body;
  shm::BalancerSlot* bs = env.table().balancer(0);
  EXPECT_EQ(bs->lbmethod.load(), static_cast<uint32_t>(config::LbMethod::kByBusyness));
  EXPECT_EQ(bs->nofailover.load(), 1u);
  EXPECT_EQ(bs->maxattempts.load(), 4);
  EXPECT_EQ(bs->timeout_ms.load(), 30000);
  EXPECT_EQ(env.slot(0, 0)->lbstatus.load(), 0);  // lbmethod change: reset
  EXPECT_TRUE(env.bal(0).NoFailover());
  EXPECT_EQ(env.bal(0).MaxAttempts(), 4);
  ASSERT_EQ(env.PostForm("b=mycluster&b_max=&b_sforce=0").status, 303);
  EXPECT_EQ(bs->maxattempts.load(), -1);
  EXPECT_EQ(env.bal(0).MaxAttempts(), 2);
  EXPECT_FALSE(env.bal(0).NoFailover());
}

TEST(StatusManagerForm, AddAndRemove) {
  Env env;
  StatusResponse r = env.PostForm(
      "b=mycluster&b_wyes=1&b_nwrkr=http%3A%2F%2F10.0.0.9%3A8080&b_nwrkr_route=n9&b_nwrkr_lf=2"
      "&b_nwrkr_ls=0&b_nwrkr_enable=0");
  ASSERT_EQ(r.status, 303) << r.body;
  EXPECT_NE(Header(r, "Location").find("done=add"), std::string::npos);
  EXPECT_EQ(env.bal(0).num_members(), 4u);
  shm::MemberSlot* s = env.slot(0, 3);
  EXPECT_EQ(SlotStr(s->url, shm::kKeyMax), "http://10.0.0.9:8080");
  EXPECT_EQ(s->status.load(), config::kFlagDisabled);  // Apache: new members start disabled
  EXPECT_EQ(s->lbfactor.load(), 200);
  EXPECT_NE(env.Get().body.find("data-url=\"http://10.0.0.9:8080\""), std::string::npos);

  r = env.PostForm("b=mycluster&w=http%3A%2F%2F10.0.0.9%3A8080&w_remove=1");
  ASSERT_EQ(r.status, 303) << r.body;
  EXPECT_EQ(s->in_use.load(), 0u);
  EXPECT_EQ(env.Get().body.find("10.0.0.9"), std::string::npos);
}

TEST(StatusManagerForm, ValidationErrors) {
  Env env;
  EXPECT_EQ(env.PostForm("b=mycluster&w=0&w_lf=0").status, 400);
  EXPECT_EQ(env.PostForm("b=mycluster&w=0&w_lf=101").status, 400);
  EXPECT_EQ(env.PostForm("b=mycluster&w=0&w_lf=1.234").status, 400);
  EXPECT_EQ(env.PostForm("b=mycluster&w=0&w_ls=100").status, 400);
  EXPECT_EQ(env.PostForm("b=mycluster&w=0&w_wr=has%20space").status, 400);
  EXPECT_EQ(env.PostForm("b=mycluster&w=0&w_wr=" + std::string(64, 'x')).status, 400);
  EXPECT_EQ(env.PostForm("b=mycluster&w=0&w_status_D=2").status, 400);
  EXPECT_EQ(env.PostForm("b=mycluster&b_lbm=roundrobin").status, 400);
  EXPECT_EQ(env.PostForm("b=mycluster&b_max=100").status, 400);
  EXPECT_EQ(env.PostForm("b=mycluster&b_tmo=7201").status, 400);
  EXPECT_EQ(env.PostForm("b=mycluster&b_wyes=1&b_nwrkr=ftp%3A%2F%2Fx").status, 400);
  EXPECT_EQ(env.PostForm("b=mycluster&b_wyes=1").status, 400);
  EXPECT_EQ(env.PostForm("w=0").status, 400);
  EXPECT_EQ(env.PostForm("b=nope&w=0").status, 404);
  EXPECT_EQ(env.PostForm("b=mycluster&w=http%3A%2F%2Fz%3A1").status, 404);
  EXPECT_EQ(env.PostForm("b=mycluster&w=0&w_lf=%zz").status, 400);
  // Nothing changed.
  EXPECT_EQ(env.slot(0, 0)->lbfactor.load(), 100);
  EXPECT_EQ(env.table().balancer(0)->wupdated.load(), 0u);
  // A duplicate URL and a full balancer are conflicts.
  EXPECT_EQ(env.PostForm("b=mycluster&b_wyes=1&b_nwrkr=http%3A%2F%2F10.0.0.1%3A8080").status,
            409);
  StatusResponse r = env.PostForm("b=api&b_wyes=1&b_nwrkr=http%3A%2F%2F10.0.0.1%3A8080");
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find("no free member slot"), std::string::npos);
  // The wrong content type.
  StatusRequest req = env.Req("POST", kBase, "", "b=mycluster&w=0");
  req.content_type = "text/plain";
  EXPECT_EQ(env.ctx().HandleManager(req, kNow).status, 415);
}

TEST(StatusManagerNonce, MissingOrWrongNonceIsForbidden) {
  Env env;
  ASSERT_EQ(env.nonce().size(), 32u);
  StatusResponse r = env.PostForm("b=mycluster&w=0&w_status_D=1", false);
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("missing nonce"), std::string::npos);
  r = env.PostForm("b=mycluster&w=0&w_status_D=1&nonce=" + std::string(32, '0'), false);
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("wrong nonce"), std::string::npos);
  r = env.PostForm("b=mycluster&w=0&w_status_D=1&nonce=abc", false);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(env.slot(0, 0)->status.load(), 0u);

  std::string wrong = "nope";
  std::string none;
  EXPECT_EQ(env.Api("PUT", "/mycluster/members/0", R"({"loadfactor":5})", &wrong).status, 403);
  EXPECT_EQ(env.Api("PUT", "/mycluster/members/0", R"({"loadfactor":5})", &none).status, 403);
  EXPECT_EQ(env.Api("DELETE", "/mycluster/members/0", "", &none).status, 403);
  EXPECT_EQ(env.Api("POST", "/mycluster/members", R"({"url":"http://x:1"})", &none).status, 403);
  EXPECT_EQ(env.Api("PUT", "/mycluster", R"({"nofailover":true})", &none).status, 403);
  EXPECT_EQ(env.slot(0, 0)->lbfactor.load(), 100);
  EXPECT_EQ(env.bal(0).num_present(), 3u);
  // The nonce in the JSON body is accepted too.
  std::string body = R"({"loadfactor":5,"nonce":")" + env.nonce() + "\"}";
  EXPECT_EQ(env.Api("PUT", "/mycluster/members/0", body, &none).status, 200);
  EXPECT_EQ(env.slot(0, 0)->lbfactor.load(), 500);
  // Reads need no nonce.
  EXPECT_EQ(env.Api("GET", "/mycluster/members/0", "", &none).status, 200);
}

TEST(StatusManagerNonce, SameForEveryWorkerOfAGeneration) {
  Env env;
  config::Config& cfg = env.cfg();
  std::vector<balancer::Balancer> bals;
  StatusContext a(&cfg, &env.table(), &bals, "s3cret");
  StatusContext b(&cfg, &env.table(), &bals, "s3cret");
  StatusContext c(&cfg, &env.table(), &bals, "other");
  StatusContext none(&cfg, &env.table(), &bals, "");
  EXPECT_EQ(a.nonce(), b.nonce());
  EXPECT_NE(a.nonce(), c.nonce());
  EXPECT_EQ(a.nonce().find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_TRUE(none.nonce().empty());
  // Without a secret every edit is refused.
  StatusRequest r = env.Req("POST", kBase, "", "b=mycluster&w=0&w_status_D=1&nonce=");
  r.content_type = "application/x-www-form-urlencoded";
  EXPECT_EQ(none.HandleManager(r, kNow).status, 403);
}

TEST(StatusManagerNonce, CrossOriginRefused) {
  Env env;
  std::string body = "b=mycluster&w=0&w_status_D=1&nonce=" + env.nonce();
  StatusRequest r = env.Req("POST", kBase, "", body);
  r.content_type = "application/x-www-form-urlencoded";
  r.origin = "http://evil.example";
  EXPECT_EQ(env.ctx().HandleManager(r, kNow).status, 403);
  r.origin = "";
  r.referer = "http://evil.example/page";
  EXPECT_EQ(env.ctx().HandleManager(r, kNow).status, 403);
  r.referer = "http://PROXY.test/balancer-manager";
  EXPECT_EQ(env.ctx().HandleManager(r, kNow).status, 303);
  r.referer = "";
  r.origin = "http://proxy.test";
  EXPECT_EQ(env.ctx().HandleManager(r, kNow).status, 303);
}

TEST(StatusManagerApi, EditMemberByIndexAndRoute) {
  Env env;
  StatusResponse r = env.Api("PUT", "/mycluster/members/n2",
                             R"({"loadfactor": 1.5, "lbset": 1, "route": "nb", "redirect": "n1",
                                 "status": "+D-H"})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::Parse(r.body);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(At(*j, "index").text, "1");
  EXPECT_EQ(At(*j, "loadfactor").text, "1.5");
  EXPECT_EQ(At(*j, "status").text, "D");
  shm::MemberSlot* s = env.slot(0, 1);
  EXPECT_EQ(s->lbfactor.load(), 150);
  EXPECT_EQ(s->lbset.load(), 1);
  EXPECT_EQ(SlotStr(s->route, shm::kRouteMax), "nb");
  EXPECT_EQ(s->status.load(), config::kFlagDisabled);
  // By index now, and by URL.
  ASSERT_EQ(env.Api("PUT", "/mycluster/members/1", R"({"status":"-D"})").status, 200);
  EXPECT_EQ(s->status.load(), 0u);
  ASSERT_EQ(
      env.Api("PUT", "/mycluster/members/http%3A%2F%2F10.0.0.2%3A8080", R"({"loadfactor":"4"})")
          .status,
      200);
  EXPECT_EQ(s->lbfactor.load(), 400);
  // Setting E stamps error_time; clearing it makes the member usable again.
  ASSERT_EQ(env.Api("PUT", "/mycluster/members/0", R"({"status":"+E"})").status, 200);
  EXPECT_EQ(env.slot(0, 0)->error_time_ms.load(), kNow);
  EXPECT_FALSE(env.bal(0).Usable(0, kNow));
  ASSERT_EQ(env.Api("PUT", "/mycluster/members/0", R"({"status":"-E"})").status, 200);
  EXPECT_TRUE(env.bal(0).Usable(0, kNow));
}

TEST(StatusManagerApi, EditValidation) {
  Env env;
  auto put = [&](const std::string& body) {
    return env.Api("PUT", "/mycluster/members/0", body).status;
  };
  EXPECT_EQ(put(R"({"loadfactor":0})"), 400);
  EXPECT_EQ(put(R"({"loadfactor":true})"), 400);
  EXPECT_EQ(put(R"({"lbset":-1})"), 400);
  EXPECT_EQ(put(R"({"lbset":1.5})"), 400);
  EXPECT_EQ(put(R"({"route":5})"), 400);
  EXPECT_EQ(put(R"({"route":"a;b"})"), 400);
  EXPECT_EQ(put(R"({"status":"+X"})"), 400);
  EXPECT_EQ(put(R"({"status":""})"), 400);
  EXPECT_EQ(put(R"({"color":"red"})"), 400);
  EXPECT_EQ(put(R"({"loadfactor":2)"), 400);
  EXPECT_EQ(put(R"([1,2])"), 400);
  StatusResponse r = env.Api("PUT", "/mycluster/members/0", R"({"lbset":100})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/json");
  auto j = json::Parse(r.body);
  ASSERT_TRUE(j.ok());
  EXPECT_NE(At(*j, "error").text.find("lbset"), std::string::npos);
  EXPECT_EQ(env.Api("PUT", "/mycluster/members/7", R"({"lbset":1})").status, 404);
  EXPECT_EQ(env.Api("PUT", "/mycluster/members/nosuchroute", R"({"lbset":1})").status, 404);
  EXPECT_EQ(env.Api("PUT", "/nosuch/members/0", R"({"lbset":1})").status, 404);
  EXPECT_EQ(env.slot(0, 0)->lbset.load(), 0);
  EXPECT_EQ(env.slot(0, 0)->lbfactor.load(), 100);
}

TEST(StatusManagerApi, AddPickRemove) {
  Env env;
  StatusResponse r = env.Api("POST", "/mycluster/members",
                             R"({"url":"HTTP://New-Host:8081","route":"n4","loadfactor":2})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Header(r, "Location"), std::string(kBase) + "/api/mycluster/members/3");
  auto j = json::Parse(r.body);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(At(*j, "url").text, "http://new-host:8081");
  EXPECT_EQ(At(*j, "status").text, "D");
  EXPECT_FALSE(At(*j, "from_config").boolean);
  balancer::Balancer& b = env.bal(0);
  ASSERT_EQ(b.num_members(), 4u);
  EXPECT_EQ(b.MemberUrl(3), "http://new-host:8081");
  // Disabled: never picked, even by its route.
  for (int i = 0; i < 10; ++i) {
    EXPECT_NE(b.Pick({}, {}, kNow).member, 3);
  }
  balancer::PickRequest sticky;
  sticky.path = "/x";
  sticky.cookies.push_back("BALANCEID=abc.n4");
  EXPECT_NE(b.Pick(sticky, {}, kNow).member, 3);
  // Enabled (every lbstatus reset to 0): byrequests gives it its share, and its route works.
  ASSERT_EQ(env.Api("PUT", "/mycluster/members/n4", R"({"status":"-D"})").status, 200);
  int picked = 0;
  for (int i = 0; i < 10; ++i) {
    picked += b.Pick({}, {}, kNow).member == 3 ? 1 : 0;
  }
  EXPECT_EQ(picked, 4);  // loadfactors 1 : 2 : 2 -> 4 of 10
  balancer::PickResult p = b.Pick(sticky, {}, kNow);
  EXPECT_EQ(p.member, 3);
  EXPECT_TRUE(p.sticky);
  json::Value all = env.GetJson();
  EXPECT_EQ(At(At(At(all, "balancers"), 0), "members").items.size(), 4u);

  // Remove it: its slot stays (indices are stable) but nothing picks it.
  r = env.Api("DELETE", "/mycluster/members/n4");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"url\":\"http://new-host:8081\""), std::string::npos);
  EXPECT_EQ(b.num_members(), 4u);
  EXPECT_EQ(b.num_present(), 3u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_NE(b.Pick({}, {}, kNow).member, 3);
  }
  EXPECT_FALSE(b.Pick(sticky, {}, kNow).sticky);
  EXPECT_EQ(env.Api("DELETE", "/mycluster/members/3").status, 404);
  EXPECT_EQ(env.Api("GET", "/mycluster/members/3").status, 404);
  all = env.GetJson();
  EXPECT_EQ(At(At(At(all, "balancers"), 0), "members").items.size(), 3u);
}

TEST(StatusManagerApi, AddValidation) {
  Env env;
  EXPECT_EQ(env.Api("POST", "/mycluster/members", R"({"route":"x"})").status, 400);
  EXPECT_EQ(env.Api("POST", "/mycluster/members", R"({"url":"nope"})").status, 400);
  EXPECT_EQ(env.Api("POST", "/mycluster/members", R"({"url":"http://a:1","lbset":"x"})").status,
            400);
  EXPECT_EQ(env.Api("POST", "/mycluster/members", R"({"url":"http://a:1","weight":3})").status,
            400);
  EXPECT_EQ(env.Api("POST", "/mycluster/members", R"({"url":"http://10.0.0.1:8080"})").status,
            409);
  std::string path = std::string(kBase) + "/api/mycluster/members";
  StatusRequest r = env.Req("POST", path, "", R"({"url":"http://a:1"})");
  r.content_type = "text/plain";
  r.nonce_header = env.nonce();
  EXPECT_EQ(env.ctx().HandleManager(r, kNow).status, 415);
  EXPECT_EQ(env.bal(0).num_members(), 3u);
  // Starting enabled with an explicit status.
  StatusResponse ok =
      env.Api("POST", "/mycluster/members", R"({"url":"http://a:1","status":"","lbset":1})");
  ASSERT_EQ(ok.status, 201);
  EXPECT_EQ(env.slot(0, 3)->status.load(), 0u);
  EXPECT_EQ(env.slot(0, 3)->lbset.load(), 1);
}

TEST(StatusManagerApi, BalancerEdit) {
  Env env;
  StatusResponse r = env.Api(
      "PUT", "/mycluster",
      R"({"lbmethod":"bytraffic","nofailover":true,"maxattempts":0,"timeout":5})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::Parse(r.body);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(At(*j, "lbmethod").text, "bytraffic");
  EXPECT_TRUE(At(*j, "nofailover").boolean);
  EXPECT_EQ(At(*j, "maxattempts").text, "0");
  EXPECT_EQ(At(*j, "timeout_ms").text, "5000");
  EXPECT_EQ(env.table().balancer(0)->lbmethod.load(),
            static_cast<uint32_t>(config::LbMethod::kByTraffic));
  EXPECT_EQ(env.Api("PUT", "/mycluster", R"({"lbmethod":"random"})").status, 400);
  EXPECT_EQ(env.Api("PUT", "/mycluster", R"({"stickysession":"X"})").status, 400);
  EXPECT_EQ(env.Api("PUT", "/mycluster", R"({"maxattempts":100})").status, 400);
  EXPECT_EQ(env.Api("PUT", "/mycluster", R"({"timeout_ms":-1})").status, 400);
  EXPECT_EQ(env.Api("PUT", "/mycluster", R"({"nofailover":"maybe"})").status, 400);
  EXPECT_EQ(env.Api("PUT", "/mycluster", R"({"nofailover":"off"})").status, 200);
  EXPECT_FALSE(env.bal(0).NoFailover());
}

TEST(StatusManagerApi, ReadsAndRouting) {
  Env env;
  StatusResponse r = env.Api("GET", "");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(json::Parse(r.body).ok());
  r = env.Api("GET", "/nosuch");
  EXPECT_EQ(r.status, 404);
  r = env.Api("GET", "/mycluster");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(At(json::Parse(r.body).value(), "name").text, "mycluster");
  r = env.Api("GET", "/mycluster/members");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::Parse(r.body).value().items.size(), 3u);
  r = env.Api("GET", "/mycluster/members/n3");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(At(json::Parse(r.body).value(), "index").text, "2");
  EXPECT_EQ(env.Api("GET", "/mycluster/other").status, 404);
  EXPECT_EQ(env.Api("GET", "/mycluster/members/0/x").status, 404);
  EXPECT_EQ(env.Api("GET", "/my%zzcluster").status, 400);
  r = env.Api("POST", "/mycluster");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(Header(r, "Allow"), "GET, HEAD, PUT, PATCH");
  EXPECT_EQ(env.Api("DELETE", "").status, 405);
  EXPECT_EQ(env.Api("PUT", "/mycluster/members").status, 405);
  // The page itself.
  EXPECT_EQ(env.ctx().HandleManager(env.Req("DELETE", kBase), kNow).status, 405);
  EXPECT_EQ(env.ctx().HandleManager(env.Req("GET", "/balancer-manager/"), kNow).status, 200);
  EXPECT_EQ(env.ctx().HandleManager(env.Req("GET", "/balancer-manager/x"), kNow).status, 404);
  EXPECT_EQ(env.ctx().HandleManager(env.Req("GET", "/balancer-managerx"), kNow).status, 404);
  EXPECT_EQ(env.ctx().HandleManager(env.Req("HEAD", kBase, "format=json"), kNow).status, 200);
}

TEST(StatusManagerAllow, OutsideStatusAllowIsForbidden) {
  Env env;
  StatusRequest r = env.Req("GET", kBase);
  r.client_ip = "10.1.2.3";
  EXPECT_EQ(env.ctx().HandleManager(r, kNow).status, 403);
  EXPECT_EQ(env.ctx().HandleMetrics(r, kNow).status, 403);
  r.client_ip = "::1";
  EXPECT_EQ(env.ctx().HandleManager(r, kNow).status, 200);
  r.client_ip = "::ffff:127.0.0.9";
  EXPECT_EQ(env.ctx().HandleManager(r, kNow).status, 200);
}

}  // namespace
}  // namespace drover::status
