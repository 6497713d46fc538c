// libFuzzer target: http::ChunkedDecoder (src/http/parser.h). The input is fed
// three ways — whole, one byte at a time, and in two pieces split at a point
// taken from the input — and all must agree on the status, the bytes consumed,
// the payload counted and the error text (the input's first two bytes choose
// the split point). Also: consumed never exceeds what was
// fed, kNeedMore consumes everything, and a decoder that finished (kDone or
// kError) stays finished. Run with the default limits and with tiny ones.
#include <cstdint>
#include <cstring>
#include <string_view>

#include "fuzz_util.h"
#include "http/parser.h"

namespace {

using drover::fuzz::Check;
using drover::fuzz::ExactCopy;
using drover::http::ChunkedDecoder;
using Status = ChunkedDecoder::Status;

struct Outcome {
  Status status = Status::kNeedMore;
  size_t consumed = 0;
  uint64_t payload = 0;
  std::string_view error;
};

// Feeds [p, p+n) as the pieces given by `cuts` (ascending offsets), stopping
// at the first kDone/kError as a caller would.
template <typename Cuts>
Outcome FeedPieces(ChunkedDecoder* d, const char* p, size_t n, Cuts cuts) {
  Outcome o;
  size_t at = 0;
  while (at < n) {
    const size_t end = cuts(at);
    ExactCopy piece(p + at, end - at);
    size_t consumed = 0;
    o.status = d->Feed(piece.data(), piece.size(), &consumed, &o.payload);
    Check(consumed <= piece.size(), "consumed within the piece");
    Check(o.status != Status::kNeedMore || consumed == piece.size(),
          "kNeedMore consumes everything");
    o.consumed += consumed;
    if (o.status != Status::kNeedMore) {
      break;
    }
    at = end;
  }
  o.error = d->error();
  if (o.status == Status::kDone || o.status == Status::kError) {
    // A finished decoder stays finished and consumes nothing more.
    size_t consumed = 7;
    uint64_t payload = o.payload;
    const Status again = d->Feed("0\r\n\r\n", 5, &consumed, &payload);
    Check(again == o.status && consumed == 0 && payload == o.payload, "finished stays finished");
  }
  return o;
}

bool Same(const Outcome& a, const Outcome& b) {
  return a.status == b.status && a.consumed == b.consumed && a.payload == b.payload &&
         a.error == b.error;
}

void Run(const char* p, size_t n, size_t max_line, size_t max_trailer, size_t split) {
  ChunkedDecoder whole_d(max_line, max_trailer);
  const Outcome whole = FeedPieces(&whole_d, p, n, [n](size_t) { return n; });
  ChunkedDecoder bytes_d(max_line, max_trailer);
  const Outcome bytes = FeedPieces(&bytes_d, p, n, [](size_t at) { return at + 1; });
  ChunkedDecoder two_d(max_line, max_trailer);
  const Outcome two =
      FeedPieces(&two_d, p, n, [n, split](size_t at) { return at < split ? split : n; });
  if (!Same(whole, bytes) || !Same(whole, two)) {
    fprintf(stderr,
            "whole: %d consumed %zu payload %llu '%.*s'\n"
            "bytes: %d consumed %zu payload %llu '%.*s'\n"
            "split %zu: %d consumed %zu payload %llu '%.*s'\n",
            static_cast<int>(whole.status), whole.consumed,
            static_cast<unsigned long long>(whole.payload), static_cast<int>(whole.error.size()),
            whole.error.data(), static_cast<int>(bytes.status), bytes.consumed,
            static_cast<unsigned long long>(bytes.payload), static_cast<int>(bytes.error.size()),
            bytes.error.data(), split, static_cast<int>(two.status), two.consumed,
            static_cast<unsigned long long>(two.payload), static_cast<int>(two.error.size()),
            two.error.data());
    Check(false, "whole, byte-at-a-time and split feeds agree");
  }
  Check(whole.payload <= whole.consumed, "payload within consumed");
  Check(whole.status != Status::kNeedMore || whole.consumed == n, "kNeedMore consumed all");
  // Reset() gives a fresh decoder.
  whole_d.Reset();
  const Outcome again = FeedPieces(&whole_d, p, n, [n](size_t) { return n; });
  Check(Same(whole, again), "reset decoder answers the same");
}

}  // namespace

// Input: two bytes (big-endian) choosing the split point, then the body.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) {
    return 0;
  }
  const char* p = reinterpret_cast<const char*>(data) + 2;
  const size_t n = size - 2;
  const size_t split = (static_cast<size_t>(data[0]) << 8 | data[1]) % (n + 1);
  Run(p, n, 4096, 8192, split);
  Run(p, n, 16, 24, split);
  return 0;
}
