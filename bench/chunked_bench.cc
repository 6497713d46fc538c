// Micro-benchmarks of chunked framing (http::ChunkedDecoder::Feed): a 256 KiB
// body framed in chunks of range(0) bytes (with an extension on every tenth
// size line and a trailer at the end), fed whole or in 1448-byte pieces
// (one TCP segment on loopback with timestamps). bytes/s counts wire bytes.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "http/parser.h"

namespace {

using drover::http::ChunkedDecoder;

constexpr size_t kBody = 256 * 1024;

std::string Frame(size_t chunk) {
  std::string out;
  std::string data(chunk, 'x');
  size_t left = kBody;
  int n = 0;
  while (left > 0) {
    size_t take = std::min(chunk, left);
    char line[64];
    std::snprintf(line, sizeof(line), (n++ % 10 == 9) ? "%zx;ext=v\r\n" : "%zx\r\n", take);
    out += line;
    out.append(data, 0, take);
    out += "\r\n";
    left -= take;
  }
  out += "0\r\nX-Checksum: 1234abcd\r\n\r\n";
  return out;
}

void Decode(benchmark::State& state, size_t piece) {
  const std::string wire = Frame(static_cast<size_t>(state.range(0)));
  ChunkedDecoder dec;
  for (auto _ : state) {
    dec.Reset();
    uint64_t payload = 0;
    size_t off = 0;
    ChunkedDecoder::Status st = ChunkedDecoder::Status::kNeedMore;
    while (off < wire.size() && st == ChunkedDecoder::Status::kNeedMore) {
      size_t n = std::min(piece, wire.size() - off);
      size_t consumed = 0;
      st = dec.Feed(wire.data() + off, n, &consumed, &payload);
      off += consumed;
    }
    if (st != ChunkedDecoder::Status::kDone || payload != kBody) {
      state.SkipWithError("chunked body did not decode");
      return;
    }
    benchmark::DoNotOptimize(payload);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * wire.size()));
  state.counters["wire_bytes"] = static_cast<double>(wire.size());
}

void BM_ChunkedWhole(benchmark::State& state) { Decode(state, SIZE_MAX); }
BENCHMARK(BM_ChunkedWhole)->Arg(16)->Arg(256)->Arg(4096)->Arg(65536);

void BM_ChunkedSegments(benchmark::State& state) { Decode(state, 1448); }
BENCHMARK(BM_ChunkedSegments)->Arg(16)->Arg(4096)->Arg(65536);

}  // namespace
