// Micro-benchmarks of access-log formatting (proxy::FormatAccessLog): the
// combined format with request headers from a parsed browser request, and a
// custom format with drover's balancer codes. One line per item; bytes/s
// counts the formatted output. The output string's capacity is reused, as in
// a worker.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "http/parser.h"
#include "proxy/access_log.h"

namespace {

using drover::http::Header;
using drover::proxy::LogRecord;

const char kCombined[] = "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"";
const char kBalancer[] =
    "%h %t \"%r\" %>s %B %D %k \"%{BALANCER_NAME}e\" \"%{BALANCER_WORKER_NAME}e\" "
    "%{BALANCER_WORKER_ROUTE}e %{BALANCER_SESSION_ROUTE}e %{BALANCER_ROUTE_CHANGED}e "
    "\"%{X-Backend}o\"";

const std::vector<Header> kRequestHeaders = {
    {"Host", "shop.example.com"},
    {"Connection", "keep-alive"},
    {"User-Agent",
     "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36"},
    {"Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
    {"Referer", "https://shop.example.com/app/catalog/search?q=blue+widgets&page=2"},
    {"Accept-Encoding", "gzip, deflate, br"},
    {"Accept-Language", "en-GB,en;q=0.9"},
    {"Cookie", "JSESSIONID=8F3A1C0B9D2E4F6A.node2; theme=dark"},
};
const std::vector<Header> kResponseHeaders = {
    {"Content-Type", "text/html;charset=UTF-8"},
    {"Content-Length", "48213"},
    {"X-Backend", "b2"},
};

LogRecord Record() {
  LogRecord r;
  r.client_ip = "192.0.2.123";
  r.client_port = 51234;
  r.local_port = 8080;
  r.server_name = "shop.example.com";
  r.start_us = 1'700'000'000'123'456;
  r.duration_us = 1234;
  r.method = "GET";
  r.target = "/app/catalog/items/12345?view=full&lang=en-GB";
  r.path = "/app/catalog/items/12345";
  r.query = "view=full&lang=en-GB";
  r.has_query = true;
  r.status = 200;
  r.body_bytes = 48213;
  r.bytes_received = 612;
  r.bytes_sent = 48601;
  r.request_headers = &kRequestHeaders;
  r.response_headers = &kResponseHeaders;
  r.balancer = "balancer://shop";
  r.member = "http://127.0.0.1:8082";
  r.route = "node2";
  r.session_route = "node2";
  r.keep_alive = true;
  r.pid = 4242;
  return r;
}

void Format(benchmark::State& state, const char* format) {
  LogRecord rec = Record();
  std::string out;
  size_t bytes = 0;
  for (auto _ : state) {
    out.clear();
    drover::proxy::FormatAccessLog(format, rec, &out);
    bytes += out.size();
    benchmark::DoNotOptimize(out.data());
    // A worker formats each request at its own time: vary the second so a
    // cached timestamp cannot hide the cost entirely (one change per 256 lines).
    rec.start_us += 3906;
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["line_bytes"] = static_cast<double>(out.size());
}

void BM_AccessLogCombined(benchmark::State& state) { Format(state, kCombined); }
BENCHMARK(BM_AccessLogCombined);

void BM_AccessLogBalancer(benchmark::State& state) { Format(state, kBalancer); }
BENCHMARK(BM_AccessLogBalancer);

}  // namespace
