// The health checker's pure core: the probe plan (method, timeouts, https and
// ajp downgraded to TCP), the request text, the response reader at every split,
// and the counts -> flags state machine on a real slot (C set after hcfails in
// a row, C and E cleared after hcpasses in a row, recovered_ms stamped).
#include "health/checker.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../balancer/test_balancer.h"
#include "config/config.h"

namespace drover::health {
namespace {

using balancer::testing::kNow;
using balancer::testing::MakeBalancer;
using balancer::testing::Member;
using balancer::testing::TestBalancer;
using config::HealthCheck;
using config::kFlagDisabled;
using config::kFlagError;
using config::kFlagHcFailed;

config::MemberConfig HcMember(const std::string& text, HealthCheck::Method method,
                              const std::string& uri = "") {
  auto url = config::ParseUrl(text);
  EXPECT_TRUE(url.ok()) << text;
  config::MemberConfig m;
  m.url = url.value();
  m.name = m.url.Origin() + m.url.path;
  m.hc.method = method;
  m.hc.uri = uri;
  return m;
}

HealthCheck Hc(int passes, int fails) {
  HealthCheck hc;
  hc.method = HealthCheck::Method::kGet;
  hc.passes = passes;
  hc.fails = fails;
  return hc;
}

// --- Request text and plan --------------------------------------------------------

TEST(HealthRequest, ExactBytes) {
  auto m = HcMember("http://127.0.0.1:8080/app", HealthCheck::Method::kGet, "/status?code=200");
  EXPECT_EQ(BuildRequest("GET", m.url, m.hc.uri),
            "GET /app/status?code=200 HTTP/1.0\r\n"
            "Host: 127.0.0.1:8080\r\n"
            "User-Agent: drover-health-check\r\n"
            "Connection: close\r\n\r\n");
}

TEST(HealthRequest, TargetAndHost) {
  auto url = [](const std::string& s) { return config::ParseUrl(s).value(); };
  auto first_lines = [](const std::string& req) {
    size_t a = req.find("\r\n");
    size_t b = req.find("\r\n", a + 2);
    return req.substr(0, b);
  };
  EXPECT_EQ(first_lines(BuildRequest("HEAD", url("http://h"), "")), "HEAD / HTTP/1.0\r\nHost: h");
  EXPECT_EQ(first_lines(BuildRequest("OPTIONS", url("http://h:80/"), "/x")),
            "OPTIONS /x HTTP/1.0\r\nHost: h");
  EXPECT_EQ(first_lines(BuildRequest("GET", url("http://h:81/a/"), "")),
            "GET /a/ HTTP/1.0\r\nHost: h:81");
  EXPECT_EQ(first_lines(BuildRequest("GET", url("http://[::1]:9000"), "/hc")),
            "GET /hc HTTP/1.0\r\nHost: [::1]:9000");
  EXPECT_EQ(first_lines(BuildRequest("GET", url("http://[::1]"), "")),
            "GET / HTTP/1.0\r\nHost: [::1]");
}

TEST(HealthPlan, MethodsTimeoutsAndDowngrades) {
  config::ServerConfig server;
  server.proxy_timeout_ms = 4000;
  auto none = HcMember("http://h:1", HealthCheck::Method::kNone);
  EXPECT_EQ(PlanProbe(none, server).kind, ProbePlan::Kind::kNone);

  auto get = HcMember("http://h:1/base", HealthCheck::Method::kGet, "/hc");
  get.hc.interval_ms = 1000;
  ProbePlan p = PlanProbe(get, server);
  EXPECT_EQ(p.kind, ProbePlan::Kind::kHttp);
  EXPECT_FALSE(p.downgraded);
  EXPECT_EQ(p.method, "GET");
  EXPECT_EQ(p.request.substr(0, 26), "GET /base/hc HTTP/1.0\r\nHos");
  EXPECT_EQ(p.timeout_ms, 4000);          // ProxyTimeout
  EXPECT_EQ(p.connect_timeout_ms, 4000);  // = timeout
  EXPECT_EQ(p.interval_ms, 1000);

  auto head = HcMember("http://h:1", HealthCheck::Method::kHead);
  head.timeout_ms = 1500;
  head.connect_timeout_ms = 200;
  p = PlanProbe(head, server);
  EXPECT_EQ(p.method, "HEAD");
  EXPECT_EQ(p.timeout_ms, 1500);
  EXPECT_EQ(p.connect_timeout_ms, 200);
  EXPECT_EQ(PlanProbe(HcMember("http://h:1", HealthCheck::Method::kOptions), server).method,
            "OPTIONS");

  auto tcp = HcMember("http://h:1", HealthCheck::Method::kTcp);
  tcp.timeout_ms = 700;
  p = PlanProbe(tcp, server);
  EXPECT_EQ(p.kind, ProbePlan::Kind::kTcp);
  EXPECT_FALSE(p.downgraded);
  EXPECT_EQ(p.connect_timeout_ms, 700);
  EXPECT_TRUE(p.request.empty());

  p = PlanProbe(HcMember("https://h", HealthCheck::Method::kGet, "/hc"), server);
  EXPECT_EQ(p.kind, ProbePlan::Kind::kHttp);
  EXPECT_TRUE(p.tls);
  EXPECT_FALSE(p.downgraded);
  EXPECT_EQ(p.request.substr(0, 27), "GET /hc HTTP/1.0\r\nHost: h\r\n");
  p = PlanProbe(HcMember("http://h", HealthCheck::Method::kGet, "/hc"), server);
  EXPECT_FALSE(p.tls);
  p = PlanProbe(HcMember("ajp://h", HealthCheck::Method::kGet, "/hc"), server);
  EXPECT_EQ(p.kind, ProbePlan::Kind::kTcp);
  EXPECT_TRUE(p.downgraded);
  p = PlanProbe(HcMember("https://h", HealthCheck::Method::kTcp), server);
  EXPECT_EQ(p.kind, ProbePlan::Kind::kTcp);
  EXPECT_FALSE(p.downgraded);
  p = PlanProbe(HcMember("ajp://h", HealthCheck::Method::kTcp), server);
  EXPECT_EQ(p.kind, ProbePlan::Kind::kTcp);
  // CPING: the AJP probe, within ping= when set (else the member's timeout).
  auto cping = HcMember("ajp://h", HealthCheck::Method::kCping);
  p = PlanProbe(cping, server);
  EXPECT_EQ(p.kind, ProbePlan::Kind::kCping);
  EXPECT_EQ(p.request, std::string("\x12\x34\x00\x01\x0a", 5));
  cping.ping_ms = 250;
  EXPECT_EQ(PlanProbe(cping, server).timeout_ms, 250);
  // An HTTP method on an ajp:// member is checked by TCP connect.
  p = PlanProbe(HcMember("ajp://h", HealthCheck::Method::kGet, "/hc"), server);
  EXPECT_EQ(p.kind, ProbePlan::Kind::kTcp);
  EXPECT_TRUE(p.downgraded);

  server.proxy_timeout_ms = -1;  // unresolved (a Config built in code): Timeout
  server.timeout_ms = 9000;
  EXPECT_EQ(PlanProbe(get, server).timeout_ms, 9000);
}

TEST(HealthPlan, NeedsHealthChecker) {
  config::Config cfg;
  cfg.balancers.push_back(MakeBalancer("a", {Member("http://a:80")}));
  EXPECT_FALSE(NeedsHealthChecker(cfg));
  cfg.balancers.push_back(MakeBalancer("b", {Member("http://b:80"), Member("http://c:80")}));
  cfg.balancers[1].members[1].hc.method = HealthCheck::Method::kTcp;
  EXPECT_TRUE(NeedsHealthChecker(cfg));
}

TEST(HealthStatus, TwoAndThreeHundredsPass) {
  EXPECT_FALSE(StatusPasses(199));
  EXPECT_TRUE(StatusPasses(200));
  EXPECT_TRUE(StatusPasses(204));
  EXPECT_TRUE(StatusPasses(302));
  EXPECT_TRUE(StatusPasses(399));
  EXPECT_FALSE(StatusPasses(400));
  EXPECT_FALSE(StatusPasses(500));
  EXPECT_FALSE(StatusPasses(503));
}

// --- Response reader ---------------------------------------------------------------

struct ReadOutcome {
  ResponseReader::State state;
  int status;
  std::string error;
};

// Feeds `bytes` split at `split` (and again at every later byte when `bytewise`),
// then EOF when `eof`.
ReadOutcome Read(const std::string& method, const std::string& bytes, size_t split, bool eof) {
  ResponseReader r(method);
  ResponseReader::State st = r.Feed(bytes.data(), split);
  if (st == ResponseReader::State::kNeedMore) {
    st = r.Feed(bytes.data() + split, bytes.size() - split);
  }
  if (st == ResponseReader::State::kNeedMore && eof) {
    st = r.Eof();
  }
  return {st, r.status(), r.error()};
}

// The same outcome at every split of the input.
void ExpectEverySplit(const std::string& method, const std::string& bytes, bool eof,
                      ResponseReader::State want, int want_status) {
  for (size_t split = 0; split <= bytes.size(); ++split) {
    ReadOutcome o = Read(method, bytes, split, eof);
    ASSERT_EQ(o.state, want) << "split " << split << " error " << o.error;
    if (want == ResponseReader::State::kDone) {
      ASSERT_EQ(o.status, want_status) << "split " << split;
    }
  }
}

TEST(HealthResponse, ContentLengthChunkedAndClose) {
  using S = ResponseReader::State;
  ExpectEverySplit("GET", "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n", false, S::kDone, 200);
  ExpectEverySplit("GET", "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n", false, S::kDone, 500);
  ExpectEverySplit("GET",
                   "HTTP/1.1 503 X\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "2\r\nab\r\n0\r\n\r\n",
                   false, S::kDone, 503);
  ExpectEverySplit("GET", "HTTP/1.0 302 Found\r\nLocation: /x\r\n\r\nbody until close", true,
                   S::kDone, 302);
  // HEAD: no body whatever the Content-Length says.
  ExpectEverySplit("HEAD", "HTTP/1.0 200 OK\r\nContent-Length: 99\r\n\r\n", false, S::kDone, 200);
  // Interim responses are skipped.
  ExpectEverySplit("OPTIONS", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", false,
                   S::kDone, 204);
}

TEST(HealthResponse, IncompleteAndBadResponsesFail) {
  using S = ResponseReader::State;
  // Closed before the head, inside the head, inside a Content-Length body.
  EXPECT_EQ(Read("GET", "", 0, true).state, S::kError);
  EXPECT_EQ(Read("GET", "", 0, true).error, "connection closed without a response");
  EXPECT_EQ(Read("GET", "HTTP/1.0 200 OK\r\n", 5, true).error,
            "connection closed inside the response head");
  ReadOutcome o = Read("GET", "HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nabc", 3, true);
  EXPECT_EQ(o.state, S::kError);
  EXPECT_EQ(o.error, "connection closed before the end of the body");
  // Not HTTP at all.
  o = Read("GET", "SSH-2.0-OpenSSH_9.2\r\n\r\n", 4, false);
  EXPECT_EQ(o.state, S::kError);
  EXPECT_EQ(o.error.rfind("bad response head (", 0), 0u) << o.error;
  // Bad chunked framing.
  o = Read("GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 10, false);
  EXPECT_EQ(o.state, S::kError);
  EXPECT_EQ(o.error.rfind("bad chunked body (", 0), 0u) << o.error;
  // Still waiting without EOF.
  EXPECT_EQ(Read("GET", "HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nabc", 3, false).state,
            S::kNeedMore);
}

TEST(HealthResponse, HugeBodyStopsEarlyWithTheStatus) {
  ResponseReader r("GET");
  std::string head = "HTTP/1.0 200 OK\r\n\r\n";
  ASSERT_EQ(r.Feed(head.data(), head.size()), ResponseReader::State::kNeedMore);
  std::string piece(64 * 1024, 'x');
  ResponseReader::State st = ResponseReader::State::kNeedMore;
  int pieces = 0;
  while (st == ResponseReader::State::kNeedMore && pieces < 100) {
    st = r.Feed(piece.data(), piece.size());
    ++pieces;
  }
  EXPECT_EQ(st, ResponseReader::State::kDone);
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(pieces, 17);  // just over 1 MiB
}

TEST(HealthResponse, HeadOverLimitFails) {
  ResponseReader r("GET");
  std::string head = "HTTP/1.0 200 OK\r\n";
  std::string line = "X-Filler: " + std::string(1000, 'a') + "\r\n";
  ResponseReader::State st = r.Feed(head.data(), head.size());
  for (int i = 0; i < 80 && st == ResponseReader::State::kNeedMore; ++i) {
    st = r.Feed(line.data(), line.size());
  }
  EXPECT_EQ(st, ResponseReader::State::kError);
}

// --- State machine -----------------------------------------------------------------

TEST(HealthState, FailsInARowMarkDown) {
  HealthCheck hc = Hc(2, 3);
  HcState s = NextHcState(0, 0, false, false, hc);
  EXPECT_EQ(s.fails, 1);
  EXPECT_EQ(s.transition, Transition::kNone);
  s = NextHcState(s.passes, s.fails, false, false, hc);
  EXPECT_EQ(s.transition, Transition::kNone);
  s = NextHcState(s.passes, s.fails, false, false, hc);
  EXPECT_EQ(s.fails, 3);
  EXPECT_EQ(s.passes, 0);
  EXPECT_EQ(s.transition, Transition::kMarkedDown);
  // Already down: more failures only count.
  s = NextHcState(s.passes, s.fails, true, false, hc);
  EXPECT_EQ(s.fails, 4);
  EXPECT_EQ(s.transition, Transition::kNone);
}

TEST(HealthState, PassesInARowMarkUp) {
  HealthCheck hc = Hc(2, 3);
  HcState s = NextHcState(0, 7, true, true, hc);
  EXPECT_EQ(s.passes, 1);
  EXPECT_EQ(s.fails, 0);
  EXPECT_EQ(s.transition, Transition::kNone);
  s = NextHcState(s.passes, s.fails, true, true, hc);
  EXPECT_EQ(s.passes, 2);
  EXPECT_EQ(s.transition, Transition::kMarkedUp);
  // Up: passes go on counting, no transition.
  s = NextHcState(s.passes, s.fails, false, true, hc);
  EXPECT_EQ(s.passes, 3);
  EXPECT_EQ(s.transition, Transition::kNone);
}

TEST(HealthState, AlternatingResultsNeverTransition) {
  // Consecutive counts (Apache would take this member down on its third failure).
  HealthCheck hc = Hc(2, 3);
  HcState s;
  for (int i = 0; i < 20; ++i) {
    s = NextHcState(s.passes, s.fails, false, i % 2 == 0, hc);
    EXPECT_EQ(s.transition, Transition::kNone) << i;
    EXPECT_LE(s.passes + s.fails, 1);
  }
  // And the same when down: pass, fail, pass... never comes up with hcpasses=2.
  for (int i = 0; i < 20; ++i) {
    s = NextHcState(s.passes, s.fails, true, i % 2 == 0, hc);
    EXPECT_EQ(s.transition, Transition::kNone) << i;
  }
}

TEST(HealthState, DefaultsOneAndOne) {
  HealthCheck hc;  // hcpasses=1 hcfails=1
  EXPECT_EQ(NextHcState(0, 0, false, false, hc).transition, Transition::kMarkedDown);
  EXPECT_EQ(NextHcState(0, 5, true, true, hc).transition, Transition::kMarkedUp);
  EXPECT_EQ(NextHcState(0, 0, false, true, hc).transition, Transition::kNone);
  EXPECT_EQ(NextHcState(0, 0, true, false, hc).transition, Transition::kNone);
}

TEST(HealthState, CountersSaturate) {
  HealthCheck hc = Hc(1, 1);
  EXPECT_EQ(NextHcState(INT32_MAX, 0, false, true, hc).passes, INT32_MAX);
  EXPECT_EQ(NextHcState(0, INT32_MAX, true, false, hc).fails, INT32_MAX);
  EXPECT_EQ(NextHcState(-4, 0, false, true, hc).passes, 1);  // a corrupt slot value
}

TEST(HealthState, RecordResultOnASlot) {
  TestBalancer t(MakeBalancer("c", {Member("http://a:80"), Member("http://b:80")}));
  shm::MemberSlot* s = t.s(0);
  HealthCheck hc = Hc(2, 2);
  EXPECT_EQ(RecordResult(s, hc, false, kNow), Transition::kNone);
  EXPECT_EQ(s->hc_fails.load(), 1);
  EXPECT_EQ(s->hc_last_ms.load(), kNow);
  EXPECT_EQ(s->status.load(), 0u);
  EXPECT_EQ(RecordResult(s, hc, false, kNow + 1000), Transition::kMarkedDown);
  EXPECT_EQ(s->status.load(), kFlagHcFailed);
  EXPECT_EQ(s->hc_last_ms.load(), kNow + 1000);
  // C makes the member unusable for picks: every pick goes to B.
  EXPECT_FALSE(t.b().Usable(0, kNow + 1000));
  EXPECT_EQ(t.Schedule(4, kNow + 1000), "BBBB");
  // Traffic also put it in error meanwhile, and an admin disabled it.
  s->status.fetch_or(kFlagError | kFlagDisabled);
  EXPECT_EQ(RecordResult(s, hc, true, kNow + 2000), Transition::kNone);
  EXPECT_EQ(s->hc_passes.load(), 1);
  EXPECT_EQ(s->hc_fails.load(), 0);
  EXPECT_EQ(s->recovered_ms.load(), 0);
  EXPECT_EQ(RecordResult(s, hc, true, kNow + 3000), Transition::kMarkedUp);
  // C and E cleared (Apache clears both); D is the admin's and stays.
  EXPECT_EQ(s->status.load(), kFlagDisabled);
  EXPECT_EQ(s->recovered_ms.load(), kNow + 3000);
  s->status.fetch_and(~kFlagDisabled);
  EXPECT_TRUE(t.b().Usable(0, kNow + 3000));
  // E without C is the traffic's business: passing checks leave it alone.
  s->status.store(kFlagError);
  EXPECT_EQ(RecordResult(s, hc, true, kNow + 4000), Transition::kNone);
  EXPECT_EQ(s->status.load(), kFlagError);
  // The other member was never touched.
  EXPECT_EQ(t.s(1)->hc_last_ms.load(), 0);
}

}  // namespace
}  // namespace drover::health
