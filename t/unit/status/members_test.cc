// Slot edits of the balancer-manager (members.h): growth slots, removal that
// keeps indices stable, slot reuse, and edits and added members surviving a
// reload (SlotTable::Create with the previous table).
#include "status/members.h"

#include <gtest/gtest.h>

#include "status_env.h"

namespace drover::status {
namespace {

using testing::Env;
using testing::kNow;
using testing::MakeBalancer;
using testing::Member;
using testing::SlotStr;

NewMember New(const std::string& url, const std::string& route = "",
              std::optional<uint32_t> status = 0u) {
  NewMember n;
  n.url = url;
  n.route = route;
  n.status = status;
  return n;
}

TEST(StatusMembers, FindMember) {
  Env env;
  const balancer::Balancer& b = env.bal(0);
  EXPECT_EQ(FindMember(b, "0"), 0);
  EXPECT_EQ(FindMember(b, "2"), 2);
  EXPECT_EQ(FindMember(b, "3"), -1);
  EXPECT_EQ(FindMember(b, "n2"), 1);
  EXPECT_EQ(FindMember(b, "http://10.0.0.3:8080"), 2);
  EXPECT_EQ(FindMember(b, "HTTP://10.0.0.3:8080"), 2);  // normalised like the config
  EXPECT_EQ(FindMember(b, "http://10.0.0.3"), -1);
  EXPECT_EQ(FindMember(b, ""), -1);
  EXPECT_EQ(FindMember(env.bal(1), "http://[::1]:9000"), 0);
}

TEST(StatusMembers, GrowthSlotsThenReuseOfRemovedRuntimeSlots) {
  Env env;
  const balancer::Balancer& b = env.bal(0);
  EditResult r1 = AddMember(b, New("http://x1:80"), kNow);
  EditResult r2 = AddMember(b, New("http://x2:80"), kNow);
  ASSERT_EQ(r1.http_status, 201);
  ASSERT_EQ(r2.http_status, 201);
  EXPECT_EQ(r1.member, 3);
  EXPECT_EQ(r2.member, 4);
  EXPECT_EQ(AddMember(b, New("http://x3:80"), kNow).http_status, 409);
  // A removed config member's slot is not reused for another URL...
  ASSERT_TRUE(RemoveMember(b, 0).ok());
  EXPECT_EQ(AddMember(b, New("http://x3:80"), kNow).http_status, 409);
  // ...but its own URL revives it, counters kept.
  env.slot(0, 0)->elected.store(7);
  EditResult back = AddMember(b, New("http://10.0.0.1:8080", "n1x"), kNow);
  ASSERT_EQ(back.http_status, 201);
  EXPECT_EQ(back.member, 0);
  EXPECT_EQ(env.slot(0, 0)->elected.load(), 7u);
  EXPECT_EQ(SlotStr(env.slot(0, 0)->route, shm::kRouteMax), "n1x");
  // A removed runtime member's slot is reused once nothing is in flight on it.
  env.slot(0, 3)->elected.store(5);
  env.slot(0, 3)->busy.store(1);
  ASSERT_TRUE(RemoveMember(b, 3).ok());
  EXPECT_EQ(env.slot(0, 3)->key[0], '\0');
  EXPECT_EQ(AddMember(b, New("http://x3:80"), kNow).http_status, 409);
  env.slot(0, 3)->busy.store(0);
  EditResult r3 = AddMember(b, New("http://x3:80", "n3x"), kNow);
  ASSERT_EQ(r3.http_status, 201);
  EXPECT_EQ(r3.member, 3);
  EXPECT_EQ(env.slot(0, 3)->elected.load(), 0u);  // a new identity starts from zero
  EXPECT_EQ(b.MemberUrl(3), "http://x3:80");
  EXPECT_EQ(SlotStr(env.slot(0, 3)->key, shm::kKeyMax),
            shm::SlotTable::MakeKey("mycluster", "http://x3:80"));
  EXPECT_EQ(b.num_members(), 5u);
  EXPECT_EQ(b.num_present(), 5u);
  EXPECT_EQ(env.table().balancer(0)->wupdated.load(), 6u);  // six successful edits
}

TEST(StatusMembers, AddedMemberPickedOnceEnabled) {
  Env env;
  const balancer::Balancer& b = env.bal(0);
  EditResult r = AddMember(b, New("http://x1:80", "nx", std::nullopt), kNow);
  ASSERT_EQ(r.http_status, 201);
  EXPECT_EQ(env.slot(0, 3)->status.load(), config::kFlagDisabled);
  std::string seen;
  for (int i = 0; i < 12; ++i) {
    seen += static_cast<char>('0' + env.bal(0).Pick({}, {}, kNow).member);
  }
  EXPECT_EQ(seen.find('3'), std::string::npos);
  MemberEdit e;
  e.clear_flags = config::kFlagDisabled;
  ASSERT_TRUE(EditMember(b, 3, e, kNow).ok());
  // Reset to 0 on enabling; a:1 b:2 x:1 -> 4 picks per round: b a x b (ties -> earlier member)
  seen.clear();
  for (int i = 0; i < 8; ++i) {
    seen += static_cast<char>('0' + env.bal(0).Pick({}, {}, kNow).member);
  }
  EXPECT_EQ(seen, "10311031");
}

// A manual enable (clearing D, or E, through the form or the JSON API) is a
// recovery: the member's recovered_ms is stamped, so its slowstart= ramp runs as
// after a health-check recovery. A at 1, B at 1 with slowstart=10 s, B disabled:
// once enabled at kNow B gets 10 of the first 110 picks (factors 100 : 10, as in
// slowstart_test.cc), and half its share-to-be 5 s later (100 : 55).
TEST(StatusMembers, ManualEnableStartsTheSlowstartRamp) {
  config::MemberConfig b = Member("http://10.0.0.2:8080", "nb", 100, config::kFlagDisabled);
  b.slowstart_ms = 10000;
  std::vector<config::BalancerConfig> v;
  v.push_back(MakeBalancer("ss", {Member("http://10.0.0.1:8080", "na"), b}));
  Env env(std::move(v));
  shm::MemberSlot* sb = env.slot(0, 1);
  ASSERT_EQ(sb->recovered_ms.load(), 0);
  auto count_b = [&](int n, int64_t now) {
    int c = 0;
    for (int i = 0; i < n; ++i) {
      c += env.bal(0).Pick({}, {}, now).member == 1 ? 1 : 0;
    }
    return c;
  };
  EXPECT_EQ(count_b(20, kNow), 0);

  // The form's checkbox (w_status_D=0) at kNow.
  ASSERT_EQ(env.PostForm("b=ss&w=nb&w_status_D=0").status, 303);
  EXPECT_EQ(sb->status.load(), 0u);
  EXPECT_EQ(sb->recovered_ms.load(), kNow);
  EXPECT_EQ(count_b(110, kNow), 10);

  // An edit of a usable member restarts nothing.
  MemberEdit lf;
  lf.lbset = 0;
  ASSERT_TRUE(EditMember(env.bal(0), 1, lf, kNow + 4000).ok());
  EXPECT_EQ(sb->recovered_ms.load(), kNow);

  // Disabled again, then D and E on it: clearing D alone leaves it unusable (no
  // stamp); clearing E then (the API's "-E") makes it usable: stamped.
  MemberEdit down;
  down.set_flags = config::kFlagDisabled | config::kFlagError;
  ASSERT_TRUE(EditMember(env.bal(0), 1, down, kNow + 5000).ok());
  MemberEdit clear_d;
  clear_d.clear_flags = config::kFlagDisabled;
  ASSERT_TRUE(EditMember(env.bal(0), 1, clear_d, kNow + 6000).ok());
  EXPECT_EQ(sb->recovered_ms.load(), kNow);
  MemberEdit clear_e;
  ASSERT_TRUE(ParseStatusChange("-E", &clear_e.set_flags, &clear_e.clear_flags));
  ASSERT_TRUE(EditMember(env.bal(0), 1, clear_e, kNow + 7000).ok());
  EXPECT_EQ(sb->status.load(), 0u);
  EXPECT_EQ(sb->recovered_ms.load(), kNow + 7000);
  // Half way through the new ramp (lbstatus reset by the enable): 100 : 55.
  EXPECT_EQ(count_b(155, kNow + 12000), 55);
  // After the window: an equal share.
  EXPECT_EQ(count_b(20, kNow + 17000), 10);

  // The JSON API's "-D" stamps too (Env's API calls run at kNow).
  ASSERT_EQ(env.Api("PUT", "/ss/members/nb", R"({"status":"+D"})").status, 200);
  ASSERT_EQ(env.Api("PUT", "/ss/members/nb", R"({"status":"-D"})").status, 200);
  EXPECT_EQ(sb->recovered_ms.load(), kNow);
}

TEST(StatusMembers, RouteValidationAndParsers) {
  EXPECT_TRUE(ValidRoute(""));
  EXPECT_TRUE(ValidRoute("node-1.a_b"));
  EXPECT_FALSE(ValidRoute("a b"));
  EXPECT_FALSE(ValidRoute("a;b"));
  EXPECT_FALSE(ValidRoute("a,b"));
  EXPECT_FALSE(ValidRoute("a\"b"));
  EXPECT_FALSE(ValidRoute("\xc3\xa9"));
  EXPECT_TRUE(ValidRoute(std::string(63, 'r')));
  EXPECT_FALSE(ValidRoute(std::string(64, 'r')));
  EXPECT_EQ(ParseLoadfactor("1"), 100);
  EXPECT_EQ(ParseLoadfactor("100"), 10000);
  EXPECT_EQ(ParseLoadfactor("2.25"), 225);
  EXPECT_FALSE(ParseLoadfactor("0.5"));
  EXPECT_FALSE(ParseLoadfactor("100.01"));
  EXPECT_FALSE(ParseLoadfactor("x"));
  uint32_t set = 0;
  uint32_t clear = 0;
  ASSERT_TRUE(ParseStatusChange("+D-S", &set, &clear));
  EXPECT_EQ(set, config::kFlagDisabled);
  EXPECT_EQ(clear, config::kFlagStopped);
  ASSERT_TRUE(ParseStatusChange("+D-D", &set, &clear));
  EXPECT_EQ(set, 0u);
  EXPECT_EQ(clear, config::kFlagDisabled);
  ASSERT_TRUE(ParseStatusChange("HR", &set, &clear));
  EXPECT_EQ(set, config::kFlagStandby | config::kFlagSpare);
  EXPECT_EQ(clear, 0u);
  EXPECT_FALSE(ParseStatusChange("+Q", &set, &clear));
  EXPECT_FALSE(ParseStatusChange("", &set, &clear));
  EXPECT_EQ(ParseLbMethod("bytraffic"), config::LbMethod::kByTraffic);
  EXPECT_FALSE(ParseLbMethod("ByTraffic"));
}

// The brief's reload guarantee: a manager edit and a member added at run time
// survive SlotTable::Create(config, previous), and so does a removal.
TEST(StatusReload, EditsAndAddedMembersSurviveCreate) {
  Env env;
  // Through the JSON API, as an operator would.
  ASSERT_EQ(env.Api("PUT", "/mycluster/members/n2", R"({"loadfactor":5,"status":"+D"})").status,
            200);
  ASSERT_EQ(env.Api("PUT", "/mycluster/members/0", R"({"route":"first"})").status, 200);
  ASSERT_EQ(env.Api("POST", "/mycluster/members", R"({"url":"http://10.0.0.9:8080","route":"n9"})")
                .status,
            201);
  ASSERT_EQ(env.Api("PUT", "/mycluster/members/n9", R"({"status":"-D","lbset":3})").status, 200);
  ASSERT_EQ(env.Api("DELETE", "/mycluster/members/n3").status, 200);
  ASSERT_EQ(env.Api("PUT", "/mycluster", R"({"lbmethod":"bybusyness","maxattempts":1})").status,
            200);
  env.slot(0, 3)->elected.store(11);

  env.Reload();  // same config, HUP
  EXPECT_EQ(env.table().header().generation, 2u);
  const balancer::Balancer& b = env.bal(0);
  ASSERT_EQ(b.num_members(), 4u);
  EXPECT_EQ(env.slot(0, 1)->lbfactor.load(), 500);
  EXPECT_EQ(env.slot(0, 1)->status.load(), config::kFlagDisabled);
  EXPECT_EQ(SlotStr(env.slot(0, 0)->route, shm::kRouteMax), "first");
  EXPECT_FALSE(b.Present(2));  // removed config member stays removed
  EXPECT_EQ(b.MemberUrl(3), "http://10.0.0.9:8080");
  EXPECT_TRUE(b.Present(3));
  EXPECT_EQ(env.slot(0, 3)->lbset.load(), 3);
  EXPECT_EQ(env.slot(0, 3)->status.load(), 0u);
  EXPECT_EQ(env.slot(0, 3)->elected.load(), 11u);
  EXPECT_EQ(env.table().balancer(0)->lbmethod.load(),
            static_cast<uint32_t>(config::LbMethod::kByBusyness));
  EXPECT_EQ(b.MaxAttempts(), 1);
  // The new generation's nonce differs; the page and JSON show the same members.
  json::Value j = env.GetJson();
  const json::Value& ms = testing::At(testing::At(testing::At(j, "balancers"), 0), "members");
  ASSERT_EQ(ms.items.size(), 3u);
  EXPECT_EQ(testing::At(testing::At(ms, 2), "url").text, "http://10.0.0.9:8080");
  EXPECT_EQ(testing::At(j, "generation").text, "2");
  // And edits keep working on the new table.
  ASSERT_EQ(env.Api("PUT", "/mycluster/members/n9", R"({"loadfactor":2})").status, 200);
  EXPECT_EQ(env.slot(0, 3)->lbfactor.load(), 200);

  // A second reload whose config lists the removed member with new values still keeps it
  // removed; one that drops it from the config forgets it.
  env.Reload();
  EXPECT_FALSE(env.bal(0).Present(2));
  EXPECT_EQ(env.bal(0).MemberUrl(3), "http://10.0.0.9:8080");
  auto next = std::make_shared<config::Config>(env.cfg());
  next->balancers[0].members.pop_back();  // drop c from the config
  env.Reload(next);
  EXPECT_EQ(env.bal(0).num_members(), 3u);
  EXPECT_EQ(env.bal(0).MemberUrl(2), "http://10.0.0.9:8080");
  EXPECT_EQ(env.bal(0).num_present(), 3u);
}

}  // namespace
}  // namespace drover::status
