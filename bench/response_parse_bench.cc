// Micro-benchmarks of response-head parsing (http::ParseResponseHead): the
// head drover-backend sends (what `make compare` exercises) and a typical
// application response with cookies and caching fields. Bytes/s and heads/s.
#include <benchmark/benchmark.h>

#include <string>

#include "http/parser.h"

namespace {

using drover::http::Limits;
using drover::http::ParseError;
using drover::http::ParseResponseHead;
using drover::http::ParseResult;
using drover::http::ResponseHead;

const std::string kBackend =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 100\r\n"
    "X-Backend: b1\r\n"
    "X-Conn-Id: 17\r\n"
    "X-Request-Count: 4711\r\n"
    "\r\n";

const std::string kApp =
    "HTTP/1.1 200 OK\r\n"
    "Date: Tue, 14 Nov 2023 22:13:20 GMT\r\n"
    "Server: Apache-Coyote/1.1\r\n"
    "Content-Type: text/html;charset=UTF-8\r\n"
    "Content-Length: 48213\r\n"
    "Connection: keep-alive\r\n"
    "Keep-Alive: timeout=5, max=100\r\n"
    "Cache-Control: no-cache, no-store, must-revalidate\r\n"
    "Pragma: no-cache\r\n"
    "Expires: 0\r\n"
    "Vary: Accept-Encoding, Cookie\r\n"
    "X-Frame-Options: SAMEORIGIN\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n"
    "Set-Cookie: JSESSIONID=8F3A1C0B9D2E4F6A7B8C9D0E1F2A3B4C.node2; Path=/app; HttpOnly\r\n"
    "Set-Cookie: cart=eyJpdGVtcyI6WzEyMzQ1LDY3ODkwXX0; Domain=backend.internal; Path=/; "
    "Max-Age=86400; Secure; SameSite=Lax\r\n"
    "ETag: \"5f3e-1700000000\"\r\n"
    "Last-Modified: Tue, 14 Nov 2023 20:00:00 GMT\r\n"
    "\r\n";

const std::string kChunked =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: application/json\r\n"
    "Transfer-Encoding: chunked\r\n"
    "Connection: keep-alive\r\n"
    "\r\n";

void Parse(benchmark::State& state, const std::string& resp) {
  Limits limits;
  ResponseHead head;
  ParseError err;
  for (auto _ : state) {
    head.Clear();
    ParseResult r = ParseResponseHead(resp.data(), resp.size(), limits, "GET", &head, &err);
    if (r != ParseResult::kDone) {
      state.SkipWithError("response did not parse");
      return;
    }
    benchmark::DoNotOptimize(head.headers.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * resp.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["head_bytes"] = static_cast<double>(resp.size());
  state.counters["fields"] = static_cast<double>(head.headers.size());
}

void BM_ParseResponseBackend(benchmark::State& state) { Parse(state, kBackend); }
BENCHMARK(BM_ParseResponseBackend);

void BM_ParseResponseApp(benchmark::State& state) { Parse(state, kApp); }
BENCHMARK(BM_ParseResponseApp);

void BM_ParseResponseChunked(benchmark::State& state) { Parse(state, kChunked); }
BENCHMARK(BM_ParseResponseChunked);

}  // namespace
