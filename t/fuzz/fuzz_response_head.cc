// libFuzzer target: http::ParseResponseHead (src/http/parser.h), for a GET and
// for a HEAD request, with default and tiny limits. Checks memory/UB errors,
// the same split invariance as the request parser (a prefix answers
// kIncomplete or what the whole input answers), that every error is a 502,
// and that a kDone head is sane (status 100-599, views inside the head,
// framing consistent with the status and the request method).
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

Answer Parse(const char* p, size_t n, const Limits& limits, std::string_view method,
             ResponseHead* head) {
  ParseError err;
  Answer a;
  a.result = ParseResponseHead(p, n, limits, method, head, &err);
  if (a.result == ParseResult::kError) {
    a.status = err.status;
    a.reason = err.reason;
    Check(err.status == 502, "response errors are 502");
  } else if (a.result == ParseResult::kDone) {
    a.head_size = head->head_size;
  }
  return a;
}

bool Same(const Answer& a, const Answer& b) {
  return a.result == b.result && a.status == b.status && a.reason == b.reason &&
         a.head_size == b.head_size;
}

void CheckDone(const ResponseHead& h, std::string_view method, const char* buf, size_t n) {
  const size_t hs = h.head_size;
  Check(hs >= 4 && hs <= n, "head_size within input");
  Check(std::string_view(buf + hs - 4, 4) == "\r\n\r\n", "head ends with crlfcrlf");
  Check(h.status >= 100 && h.status <= 599, "status range");
  Check(h.minor == 0 || h.minor == 1, "version");
  Check(Inside(h.reason, buf, hs), "reason inside");
  if (method == "HEAD" || h.status < 200 || h.status == 204 || h.status == 304) {
    Check(h.body == BodyKind::kNone, "bodiless response");
  } else {
    Check(h.body != BodyKind::kNone, "response has a body framing");
  }
  Check(h.body != BodyKind::kUntilClose || !h.keep_alive, "close-delimited is not keep-alive");
  for (const Header& f : h.headers) {
    Check(!f.name.empty() && Inside(f.name, buf, hs) && Inside(f.value, buf, hs), "field views");
    Check(f.value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos,
          "field bytes");
  }
  for (std::string_view t : h.connection_tokens) {
    Check(!t.empty() && Inside(t, buf, hs), "connection token");
  }
}

void Run(const char* data, size_t size, const Limits& limits, std::string_view method) {
  ResponseHead head;
  const Answer whole = Parse(data, size, limits, method, &head);
  if (whole.result == ParseResult::kDone) {
    CheckDone(head, method, data, size);
  }
  Check(Same(whole, Parse(data, size, limits, method, &head)), "deterministic");
  drover::fuzz::ForEachSplit(data, size, [&](size_t k) {
    ExactCopy prefix(data, k);
    const Answer a = Parse(prefix.data(), k, limits, method, &head);
    if (a.result != ParseResult::kIncomplete && !Same(a, whole)) {
      fprintf(stderr, "prefix %zu answers %d '%.*s' head %zu; whole %d '%.*s' head %zu\n", k,
              static_cast<int>(a.result), static_cast<int>(a.reason.size()), a.reason.data(),
              a.head_size, static_cast<int>(whole.result), static_cast<int>(whole.reason.size()),
              whole.reason.data(), whole.head_size);
      Check(false, "split invariance");
    }
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* p = reinterpret_cast<const char*>(data);
  Limits tiny;
  tiny.max_request_line = 48;
  tiny.max_field_size = 48;
  tiny.max_fields = 4;
  Run(p, size, Limits(), "GET");
  Run(p, size, tiny, "HEAD");
  return 0;
}
