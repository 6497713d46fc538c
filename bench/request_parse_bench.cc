// Micro-benchmarks of request-head parsing (http::ParseRequestHead): a small
// wrk-like request and a many-header browser request, parsed whole and split
// at a segment boundary (the incremental path: first call answers kIncomplete).
// Reports bytes/s and items (heads)/s. Pure code, single thread.
#include <benchmark/benchmark.h>

#include <string>

#include "http/parser.h"

namespace {

using drover::http::Limits;
using drover::http::ParseError;
using drover::http::ParseRequestHead;
using drover::http::ParseResult;
using drover::http::RequestHead;

// What wrk sends for `wrk http://127.0.0.1:8080/size?n=100`.
const std::string kSmall =
    "GET /size?n=100 HTTP/1.1\r\n"
    "Host: 127.0.0.1:8080\r\n"
    "\r\n";

// A Chrome-like navigation request: 17 fields, ~1.3 KB.
const std::string kBrowser =
    "GET /app/catalog/items/12345?view=full&lang=en-GB&ref=search HTTP/1.1\r\n"
    "Host: shop.example.com\r\n"
    "Connection: keep-alive\r\n"
    "Cache-Control: max-age=0\r\n"
    "sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n"
    "sec-ch-ua-mobile: ?0\r\n"
    "sec-ch-ua-platform: \"Linux\"\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Sec-Fetch-User: ?1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Referer: https://shop.example.com/app/catalog/search?q=blue+widgets&page=2\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Accept-Language: en-GB,en;q=0.9,de;q=0.8,fr;q=0.7\r\n"
    "Cookie: _ga=GA1.2.1234567890.1700000000; _gid=GA1.2.987654321.1700000000; "
    "JSESSIONID=8F3A1C0B9D2E4F6A7B8C9D0E1F2A3B4C.node2; cart=eyJpdGVtcyI6WzEyMzQ1LDY3ODkwXX0; "
    "consent=analytics%3Dyes%26ads%3Dno; theme=dark\r\n"
    "\r\n";

void ParseWhole(benchmark::State& state, const std::string& req) {
  Limits limits;
  RequestHead head;
  ParseError err;
  for (auto _ : state) {
    head.Clear();
    ParseResult r = ParseRequestHead(req.data(), req.size(), limits, &head, &err);
    if (r != ParseResult::kDone) {
      state.SkipWithError("request did not parse");
      return;
    }
    benchmark::DoNotOptimize(head.headers.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * req.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["head_bytes"] = static_cast<double>(req.size());
  state.counters["fields"] = static_cast<double>(head.headers.size());
}

// The head arrives in two reads: the first ends mid-way (kIncomplete), the
// second completes it. What a worker pays when a head spans two segments.
void ParseSplit(benchmark::State& state, const std::string& req) {
  Limits limits;
  RequestHead head;
  ParseError err;
  const size_t cut = req.size() / 2;
  for (auto _ : state) {
    head.Clear();
    ParseResult r = ParseRequestHead(req.data(), cut, limits, &head, &err);
    benchmark::DoNotOptimize(r);
    head.Clear();
    r = ParseRequestHead(req.data(), req.size(), limits, &head, &err);
    if (r != ParseResult::kDone) {
      state.SkipWithError("request did not parse");
      return;
    }
    benchmark::DoNotOptimize(head.headers.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * req.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_ParseRequestSmall(benchmark::State& state) { ParseWhole(state, kSmall); }
BENCHMARK(BM_ParseRequestSmall);

void BM_ParseRequestBrowser(benchmark::State& state) { ParseWhole(state, kBrowser); }
BENCHMARK(BM_ParseRequestBrowser);

void BM_ParseRequestBrowserSplit(benchmark::State& state) { ParseSplit(state, kBrowser); }
BENCHMARK(BM_ParseRequestBrowserSplit);

// Pipelined small requests back to back in one buffer (wrk --pipeline style):
// parse, advance by head_size, repeat.
void BM_ParseRequestPipelined(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::string buf;
  for (int i = 0; i < n; ++i) {
    buf += kSmall;
  }
  Limits limits;
  RequestHead head;
  ParseError err;
  for (auto _ : state) {
    size_t off = 0;
    while (off < buf.size()) {
      head.Clear();
      if (ParseRequestHead(buf.data() + off, buf.size() - off, limits, &head, &err) !=
          ParseResult::kDone) {
        state.SkipWithError("request did not parse");
        return;
      }
      off += head.head_size;
    }
    benchmark::DoNotOptimize(off);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * buf.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_ParseRequestPipelined)->Arg(16);

}  // namespace
