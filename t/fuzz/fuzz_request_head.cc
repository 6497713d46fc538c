// libFuzzer target: http::ParseRequestHead (src/http/parser.h). Besides memory
// and UB errors it checks the parser's contract:
//  - split invariance: every prefix of the input answers kIncomplete or exactly
//    what the whole input answers (the same error status and reason, or kDone
//    with the same head_size once the prefix holds the whole head);
//  - a kDone head is sane: views inside the head, CRLFCRLF at its end, a
//    version of 1.0 or 1.1, Host in 1.1, chunked only in 1.1, clean field values;
//  - the same input parsed twice gives the same answer (no state leaks through
//    the reused RequestHead).
// Each input is parsed with the default limits and with tiny ones (so that 414
// and 431 are reachable).
#include <cstdint>
#include <string_view>

#include "fuzz_util.h"
#include "http/parser.h"

namespace {

using drover::fuzz::Check;
using drover::fuzz::ExactCopy;
using drover::fuzz::Inside;
using namespace drover::http;

struct Answer {
  ParseResult result;
  int status = 0;
  std::string_view reason;
  size_t head_size = 0;
};

Answer Parse(const char* p, size_t n, const Limits& limits, RequestHead* head) {
  ParseError err;
  Answer a;
  a.result = ParseRequestHead(p, n, limits, head, &err);
  if (a.result == ParseResult::kError) {
    a.status = err.status;
    a.reason = err.reason;
    Check(err.status == 400 || err.status == 414 || err.status == 431 || err.status == 501 ||
              err.status == 505,
          "request error status");
  } else if (a.result == ParseResult::kDone) {
    a.head_size = head->head_size;
  }
  return a;
}

bool Same(const Answer& a, const Answer& b) {
  return a.result == b.result && a.status == b.status && a.reason == b.reason &&
         a.head_size == b.head_size;
}

bool CleanValue(std::string_view v) {
  for (char c : v) {
    if (c == '\r' || c == '\n' || c == '\0') {
      return false;
    }
  }
  return true;
}

void CheckDone(const RequestHead& h, const char* buf, size_t n) {
  const size_t hs = h.head_size;
  Check(hs >= 4 && hs <= n, "head_size within input");
  Check(std::string_view(buf + hs - 4, 4) == "\r\n\r\n", "head ends with crlfcrlf");
  Check(!h.method.empty() && Inside(h.method, buf, hs), "method");
  Check(!h.target.empty() && Inside(h.target, buf, hs), "target");
  Check(!h.path.empty(), "path");
  Check(h.path == "/" || Inside(h.path, buf, hs), "path inside");
  Check(Inside(h.query, buf, hs) && Inside(h.host, buf, hs) && Inside(h.upgrade, buf, hs),
        "views inside head");
  Check(h.minor == 0 || h.minor == 1, "version");
  Check(h.minor == 0 || !h.host.empty(), "host in http/1.1");
  Check(h.body != BodyKind::kUntilClose, "no close-delimited request");
  Check(h.body != BodyKind::kChunked || h.minor == 1, "chunked only in 1.1");
  Check(h.body == BodyKind::kLength || h.content_length == 0, "content_length without kLength");
  Check(h.headers.size() <= 100, "field count");
  for (const Header& f : h.headers) {
    Check(!f.name.empty() && Inside(f.name, buf, hs) && Inside(f.value, buf, hs),
          "field views");
    Check(CleanValue(f.name) && CleanValue(f.value), "field bytes");
    Check(f.name.find(':') == std::string_view::npos, "colon in field name");
  }
  for (std::string_view t : h.connection_tokens) {
    Check(!t.empty() && Inside(t, buf, hs), "connection token");
  }
}

void Run(const char* data, size_t size, const Limits& limits) {
  RequestHead head;
  const Answer whole = Parse(data, size, limits, &head);
  if (whole.result == ParseResult::kDone) {
    CheckDone(head, data, size);
  }
  Check(Same(whole, Parse(data, size, limits, &head)), "deterministic");
  drover::fuzz::ForEachSplit(data, size, [&](size_t k) {
    ExactCopy prefix(data, k);
    const Answer a = Parse(prefix.data(), k, limits, &head);
    if (a.result == ParseResult::kIncomplete) {
      return;
    }
    if (!Same(a, whole)) {
      fprintf(stderr, "prefix %zu answers %d %d '%.*s' head %zu; whole %d %d '%.*s' head %zu\n",
              k, static_cast<int>(a.result), a.status, static_cast<int>(a.reason.size()),
              a.reason.data(), a.head_size, static_cast<int>(whole.result), whole.status,
              static_cast<int>(whole.reason.size()), whole.reason.data(), whole.head_size);
      Check(false, "split invariance");
    }
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* p = reinterpret_cast<const char*>(data);
  Run(p, size, Limits());
  Limits tiny;
  tiny.max_request_line = 64;
  tiny.max_field_size = 48;
  tiny.max_fields = 4;
  Run(p, size, tiny);
  return 0;
}
