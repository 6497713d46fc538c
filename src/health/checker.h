// Active health checks (Apache's mod_proxy_hcheck): the entry of the one
// helper process the master forks, and respawns, when any member has hcmethod
// set; plus the pure core that process runs on (the probe plan and request
// text, the response verdict, the counts -> flags state machine), unit-tested
// without sockets. Results go to the shared slot table with atomics only (no
// balancer lock). This header is what the master sees of the checker: no
// libevent types here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.h"
#include "http/parser.h"
#include "shm/slot_table.h"

namespace drover::tls {
class ClientContext;
}  // namespace drover::tls

namespace drover::health {

struct HealthContext {
  std::shared_ptr<const config::Config> config;
  shm::SlotTable* table = nullptr;  // the generation's table (inherited mapping)
  uint64_t generation = 0;          // for log lines
  bool drop_privileges = true;      // false in tests that run it as an ordinary user
  // The generation's client TLS context (inherited through fork; nullptr when no member
  // is https://): HTTP checks of https:// members run over TLS with it.
  tls::ClientContext* tls_client = nullptr;
};

// True when some member of `config` has an hcmethod: only then does the master
// fork the checker.
bool NeedsHealthChecker(const config::Config& config);

// The checker process; call in a freshly forked child and _exit() with the
// result. Drops privileges as workers do (User/Group, when ctx.drop_privileges),
// sets PR_SET_PDEATHSIG (SIGTERM) after that, resolves every checked member's
// address once (getaddrinfo; retried at the next check while it fails), then
// checks each config member that has an hcmethod every hcinterval, one check in
// flight per member, the first at once. Members added at run time (growth slots)
// are not checked; a member with S (stopped) is skipped, as Apache does; a slot
// is found by its key (balancer + URL) among the slots with in_use != 0, looked
// up again when a check starts and when its result is recorded, so members that
// moved are followed and a member removed at run time is neither checked nor
// written to (a check in flight at the removal is dropped).
//
// Signals: QUIT, TERM and INT end the loop at once (checks in flight are
// abandoned) and return 0; USR1 reopens the error log; HUP is ignored (on a
// reload the master stops this checker and forks one for the new generation).
// Returns 0 on a normal exit, worker::kExitFatal (2) when it cannot start (bad
// slot table, privileges, event base): the master must not respawn it then.
int RunHealthChecker(const HealthContext& ctx);

// ---------------------------------------------------------------------------
// The pure core (no sockets, no logging).

// What one member's check does. hcmethod TCP connects and closes. CPING (ajp://
// members) sends an AJP CPING and passes on a CPONG within the member's ping=
// (else its timeout), as mod_proxy_hcheck does. OPTIONS, HEAD and GET send an
// HTTP/1.0 request to http:// members, and over TLS (`tls`: the workers' client
// context, so SSLProxyVerify, SSLProxyCACertificateFile, SSLProxyCheckPeerName and
// the machine certificate apply; the member's host is the TLS name) to https://
// members. Any other pairing (an HTTP method on an ajp:// member, CPING on an
// http(s):// one) gets the TCP connect check instead (`downgraded`).
struct ProbePlan {
  enum class Kind { kNone, kTcp, kHttp, kCping };
  Kind kind = Kind::kNone;
  bool downgraded = false;         // an HTTP method configured, a TCP check done
  bool tls = false;                // kHttp over TLS (https:// members)
  std::string method;              // "GET", "HEAD", "OPTIONS" (kHttp only)
  std::string request;             // the request bytes (kHttp only)
  int64_t connect_timeout_ms = 0;  // connectiontimeout, else timeout
  int64_t timeout_ms = 0;   // timeout, else ProxyTimeout: the response must be complete by then
  int64_t interval_ms = 0;  // hcinterval
};
ProbePlan PlanProbe(const config::MemberConfig& member, const config::ServerConfig& server);

// `METHOD <member path + hcuri> HTTP/1.0` with Host (host[:port], the port only
// when it is not the scheme's default; IPv6 bracketed), User-Agent
// drover-health-check and Connection: close. The target is the member's path
// with hcuri appended (one '/' where both have one), "/" when both are empty.
std::string BuildRequest(std::string_view method, const config::Url& url, std::string_view hcuri);

// Apache's verdict without hcexpr: 2xx and 3xx pass.
inline bool StatusPasses(int status) { return status >= 200 && status < 400; }

// Reads one HTTP response incrementally (http::ParseResponseHead, so the same
// strict rules as for proxied responses): interim 1xx heads are skipped, the
// final status is kept, and the body is read to its end (Content-Length,
// chunked, or the close) so that the connection ends cleanly; after kMaxBody
// body bytes the reader stops early with the status it has.
class ResponseReader {
 public:
  enum class State { kNeedMore, kDone, kError };
  static constexpr size_t kMaxBody = 1 << 20;
  static constexpr size_t kMaxHead = 64 * 1024;

  explicit ResponseReader(std::string_view request_method) : method_(request_method) {}
  State Feed(const char* data, size_t len);
  // The peer closed: kDone when the response was complete (or close-delimited).
  State Eof();
  State state() const { return state_; }
  int status() const { return status_; }               // the final status, 0 until known
  const std::string& error() const { return error_; }  // for kError, e.g. "bad response head (...)"

 private:
  State Fail(std::string why);
  State ParseHeads();
  State FeedBody(const char* data, size_t len);

  std::string method_;
  State state_ = State::kNeedMore;
  std::string head_;  // bytes of the head(s) not yet parsed
  int status_ = 0;
  http::BodyKind body_ = http::BodyKind::kNone;
  uint64_t remaining_ = 0;  // kLength: body bytes still to come
  uint64_t body_read_ = 0;
  http::ChunkedDecoder chunked_;
  std::string error_;
};

// The health state machine over consecutive results. A pass counts passes and
// zeroes fails; a failure counts fails and zeroes passes (counters saturate).
// Without C, `fails` consecutive failures mark the member down (set C); with C,
// `passes` consecutive passes mark it up (clear C and E, as Apache does). Other
// results change only the counters.
//
// Decision: the counters are of consecutive results, and they keep counting
// through a transition (the manager shows the current streak). Apache counts
// failures only while C is clear and passes only while C is set, never zeroes
// one on the other, and zeroes at the transition; so with hcfails=3 it takes a
// member down on fail, pass, fail, pass, fail. Ours needs three in a row.
enum class Transition { kNone, kMarkedDown, kMarkedUp };
struct HcState {
  int32_t passes = 0;
  int32_t fails = 0;
  Transition transition = Transition::kNone;
};
HcState NextHcState(int32_t passes, int32_t fails, bool hc_failed, bool passed,
                    const config::HealthCheck& hc);

// Applies one result to a member's slot with atomics: hc_passes, hc_fails,
// hc_last_ms = now_ms; on kMarkedDown status |= C; on kMarkedUp recovered_ms =
// now_ms (the slowstart ramp's start, stored first), then status &= ~(C|E).
// Returns the transition (the caller logs it).
Transition RecordResult(shm::MemberSlot* slot, const config::HealthCheck& hc, bool passed,
                        int64_t now_ms);

}  // namespace drover::health
