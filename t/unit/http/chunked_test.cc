// ChunkedDecoder: framing fed whole, byte by byte and split at every offset;
// consumed and payload counts; trailers; extensions; every framing error.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "http/parser.h"

namespace drover::http {
namespace {

using namespace std::string_literals;
using Status = ChunkedDecoder::Status;

struct Outcome {
  Status status = Status::kNeedMore;
  size_t consumed = 0;  // total over all feeds
  uint64_t payload = 0;
  std::string error;
};

// Feeds `in` in pieces of at most `step` bytes (0: all at once) until the
// decoder stops asking for more.
Outcome Feed(std::string_view in, size_t step = 0, ChunkedDecoder* dec = nullptr) {
  ChunkedDecoder local;
  ChunkedDecoder& d = dec != nullptr ? *dec : local;
  Outcome r;
  size_t at = 0;
  if (step == 0) {
    step = in.size() == 0 ? 1 : in.size();
  }
  do {
    const size_t n = std::min(step, in.size() - at);
    size_t consumed = 0;
    r.status = d.Feed(in.data() + at, n, &consumed, &r.payload);
    EXPECT_LE(consumed, n);
    if (r.status == Status::kNeedMore) {
      EXPECT_EQ(consumed, n);
    }
    at += consumed;
    r.consumed = at;
  } while (r.status == Status::kNeedMore && at < in.size());
  r.error = d.error();
  return r;
}

// Feeds [0, k) and then [k, n) as two calls.
Outcome FeedSplit(std::string_view in, size_t k) {
  ChunkedDecoder d;
  Outcome r;
  size_t c1 = 0;
  r.status = d.Feed(in.data(), k, &c1, &r.payload);
  r.consumed = c1;
  if (r.status == Status::kNeedMore) {
    EXPECT_EQ(c1, k);
    size_t c2 = 0;
    r.status = d.Feed(in.data() + k, in.size() - k, &c2, &r.payload);
    r.consumed += c2;
  }
  r.error = d.error();
  return r;
}

void ExpectSameEverywhere(std::string_view in, const Outcome& whole) {
  for (size_t k = 0; k <= in.size(); ++k) {
    const Outcome r = FeedSplit(in, k);
    EXPECT_EQ(r.status, whole.status) << "split at " << k;
    EXPECT_EQ(r.consumed, whole.consumed) << "split at " << k;
    EXPECT_EQ(r.payload, whole.payload) << "split at " << k;
    EXPECT_EQ(r.error, whole.error) << "split at " << k;
  }
  const Outcome bytes = Feed(in, 1);
  EXPECT_EQ(bytes.status, whole.status) << "byte by byte";
  EXPECT_EQ(bytes.consumed, whole.consumed) << "byte by byte";
  EXPECT_EQ(bytes.payload, whole.payload) << "byte by byte";
}

// Valid bodies: the decoder stops exactly after the final CRLF.
void ExpectValid(const std::string& body, uint64_t payload) {
  const std::string in = body + "GET / HTTP/1.1\r\n";  // the next message
  const Outcome whole = Feed(in);
  EXPECT_EQ(whole.status, Status::kDone) << body << " " << whole.error;
  EXPECT_EQ(whole.consumed, body.size()) << body;
  EXPECT_EQ(whole.payload, payload) << body;
  ExpectSameEverywhere(in, whole);
}

// Invalid bodies: kError at `bad_at`, and the same at every split.
void ExpectInvalid(const std::string& body, size_t bad_at) {
  const Outcome whole = Feed(body);
  EXPECT_EQ(whole.status, Status::kError) << body;
  EXPECT_EQ(whole.consumed, bad_at) << body;
  EXPECT_STRNE(whole.error.c_str(), "") << body;
  ExpectSameEverywhere(body, whole);
}

TEST(ChunkedDecoder, SingleChunk) { ExpectValid("5\r\nhello\r\n0\r\n\r\n", 5); }

TEST(ChunkedDecoder, SeveralChunks) {
  ExpectValid("5\r\nhello\r\n1\r\n \r\n6\r\nworld!\r\n0\r\n\r\n", 12);
}

TEST(ChunkedDecoder, EmptyBody) { ExpectValid("0\r\n\r\n", 0); }

TEST(ChunkedDecoder, HexSizes) {
  const std::string data(0x1a, 'x');
  ExpectValid("1a\r\n" + data + "\r\n1A\r\n" + data + "\r\n0\r\n\r\n", 0x34);
}

TEST(ChunkedDecoder, LeadingZerosUpToFifteenDigits) {
  ExpectValid("000000000000003\r\nabc\r\n000\r\n\r\n", 3);
}

TEST(ChunkedDecoder, DataMayHoldCrLfAndNul) { ExpectValid("6\r\n\r\n\0\r\n\n\r\n0\r\n\r\n"s, 6); }

TEST(ChunkedDecoder, Trailers) {
  ExpectValid("3\r\nabc\r\n0\r\nX-Checksum: 123\r\nX-Other:\tv w \r\n\r\n", 3);
}

TEST(ChunkedDecoder, ExtensionTokenValue) { ExpectValid("3;name=value\r\nabc\r\n0\r\n\r\n", 3); }

TEST(ChunkedDecoder, ExtensionWithoutValue) { ExpectValid("3;name\r\nabc\r\n0;x\r\n\r\n", 3); }

TEST(ChunkedDecoder, ExtensionQuotedValue) {
  ExpectValid("3;name=\"quoted ; \\\" value\"\r\nabc\r\n0\r\n\r\n", 3);
}

TEST(ChunkedDecoder, SeveralExtensionsWithBws) {
  ExpectValid("3 ; a = b ;c;d=\"e\" ;f\r\nabc\r\n0;last=1\r\n\r\n", 3);
}

TEST(ChunkedDecoder, BytesAfterFinalCrlfNotConsumed) {
  ChunkedDecoder d;
  const std::string in = "2\r\nhi\r\n0\r\n\r\nXYZ";
  size_t consumed = 0;
  uint64_t payload = 0;
  EXPECT_EQ(d.Feed(in.data(), in.size(), &consumed, &payload), Status::kDone);
  EXPECT_EQ(consumed, in.size() - 3);
  EXPECT_EQ(payload, 2u);
  // Once done, nothing more is consumed.
  EXPECT_EQ(d.Feed("XYZ", 3, &consumed, &payload), Status::kDone);
  EXPECT_EQ(consumed, 0u);
}

TEST(ChunkedDecoder, PayloadIsOptional) {
  ChunkedDecoder d;
  const std::string in = "2\r\nhi\r\n0\r\n\r\n";
  size_t consumed = 0;
  EXPECT_EQ(d.Feed(in.data(), in.size(), &consumed), Status::kDone);
  EXPECT_EQ(consumed, in.size());
}

TEST(ChunkedDecoder, PayloadCountedAsDataArrives) {
  ChunkedDecoder d;
  size_t consumed = 0;
  uint64_t payload = 0;
  EXPECT_EQ(d.Feed("a\r\n12345", 8, &consumed, &payload), Status::kNeedMore);
  EXPECT_EQ(consumed, 8u);
  EXPECT_EQ(payload, 5u);
  EXPECT_EQ(d.Feed("67890\r\n", 7, &consumed, &payload), Status::kNeedMore);
  EXPECT_EQ(payload, 10u);
}

TEST(ChunkedDecoder, LargeSizeDoesNotOverflow) {
  ChunkedDecoder d;
  size_t consumed = 0;
  uint64_t payload = 0;
  const std::string in = "fffffffffffffff\r\n";  // 15 digits: 2^60 - 1
  EXPECT_EQ(d.Feed(in.data(), in.size(), &consumed, &payload), Status::kNeedMore);
  EXPECT_EQ(consumed, in.size());
  std::string data(1 << 16, 'x');
  EXPECT_EQ(d.Feed(data.data(), data.size(), &consumed, &payload), Status::kNeedMore);
  EXPECT_EQ(payload, data.size());
}

TEST(ChunkedDecoder, ResetStartsOver) {
  ChunkedDecoder d;
  Outcome bad = Feed("x\r\n", 0, &d);
  EXPECT_EQ(bad.status, Status::kError);
  size_t consumed = 0;
  EXPECT_EQ(d.Feed("0\r\n\r\n", 5, &consumed), Status::kError);  // errors are sticky
  EXPECT_EQ(consumed, 0u);
  d.Reset();
  EXPECT_STREQ(d.error(), "");
  Outcome ok = Feed("1\r\na\r\n0\r\n\r\n", 0, &d);
  EXPECT_EQ(ok.status, Status::kDone);
  EXPECT_EQ(ok.payload, 1u);
  d.Reset();
  ok = Feed("0\r\n\r\n", 0, &d);
  EXPECT_EQ(ok.status, Status::kDone);
}

// --- errors: the offset is that of the first offending byte ---------------

TEST(ChunkedDecoder, SizeSixteenDigits) { ExpectInvalid("0000000000000001\r\nx\r\n0\r\n\r\n", 15); }

TEST(ChunkedDecoder, SizeOverflow) { ExpectInvalid("10000000000000000\r\n", 15); }

TEST(ChunkedDecoder, SizeMissing) { ExpectInvalid("\r\n", 0); }

TEST(ChunkedDecoder, SizeNotHex) { ExpectInvalid("g\r\n", 0); }

TEST(ChunkedDecoder, SizeWithSign) { ExpectInvalid("+5\r\nhello\r\n", 0); }

TEST(ChunkedDecoder, SizeNegative) { ExpectInvalid("-1\r\n", 0); }

TEST(ChunkedDecoder, SizeHexPrefix) { ExpectInvalid("0x5\r\nhello\r\n", 1); }

TEST(ChunkedDecoder, SizeLeadingSpace) { ExpectInvalid(" 5\r\nhello\r\n", 0); }

TEST(ChunkedDecoder, SizeTrailingSpace) { ExpectInvalid("5 \r\nhello\r\n", 2); }

TEST(ChunkedDecoder, SizeTrailingGarbage) { ExpectInvalid("5x\r\nhello\r\n", 1); }

TEST(ChunkedDecoder, BareLfAfterSize) { ExpectInvalid("5\nhello\r\n0\r\n\r\n", 1); }

TEST(ChunkedDecoder, BareCrAfterSize) { ExpectInvalid("5\rhello\r\n", 2); }

TEST(ChunkedDecoder, BareLfAfterData) { ExpectInvalid("5\r\nhello\n0\r\n\r\n", 8); }

TEST(ChunkedDecoder, DataNotFollowedByCrlf) { ExpectInvalid("5\r\nhelloX\r\n0\r\n\r\n", 8); }

TEST(ChunkedDecoder, DataLongerThanSize) { ExpectInvalid("3\r\nhello\r\n", 6); }

TEST(ChunkedDecoder, CrWithoutLfAfterData) { ExpectInvalid("5\r\nhello\rX", 9); }

TEST(ChunkedDecoder, BareLfAfterLastChunk) { ExpectInvalid("0\n\r\n", 1); }

TEST(ChunkedDecoder, BareLfAtEnd) { ExpectInvalid("0\r\n\n", 3); }

TEST(ChunkedDecoder, BareCrAtEnd) { ExpectInvalid("0\r\n\rX", 4); }

TEST(ChunkedDecoder, ExtensionBareLf) { ExpectInvalid("5;a=b\nhello\r\n", 5); }

TEST(ChunkedDecoder, ExtensionEmptyName) { ExpectInvalid("5;=b\r\nhello\r\n", 2); }

TEST(ChunkedDecoder, ExtensionEmptyValue) { ExpectInvalid("5;a=\r\nhello\r\n", 4); }

TEST(ChunkedDecoder, ExtensionBadNameChar) { ExpectInvalid("5;a@b\r\nhello\r\n", 3); }

TEST(ChunkedDecoder, ExtensionTrailingSpace) { ExpectInvalid("5;a=b \r\nhello\r\n", 6); }

TEST(ChunkedDecoder, ExtensionQuotedWithCr) { ExpectInvalid("5;a=\"b\r\nhello\r\n", 6); }

TEST(ChunkedDecoder, ExtensionQuotedWithLf) { ExpectInvalid("5;a=\"b\n\"\r\nhello\r\n", 6); }

TEST(ChunkedDecoder, ExtensionGarbageAfterQuote) { ExpectInvalid("5;a=\"b\"c\r\nhello\r\n", 7); }

TEST(ChunkedDecoder, ExtensionControlChar) { ExpectInvalid("5;a=b\x01\r\nhello\r\n", 5); }

TEST(ChunkedDecoder, ExtensionNul) { ExpectInvalid("5;a=\"\0\"\r\nhello\r\n"s, 5); }

TEST(ChunkedDecoder, SizeLineTooLong) {
  ChunkedDecoder d(16);
  const std::string in = "5;a=" + std::string(20, 'b') + "\r\nhello\r\n";
  size_t consumed = 0;
  EXPECT_EQ(d.Feed(in.data(), in.size(), &consumed), Status::kError);
  EXPECT_EQ(consumed, 16u);
  ChunkedDecoder ok(16);
  const std::string fits = "5;a=" + std::string(12, 'b') + "\r\nhello\r\n0\r\n\r\n";
  EXPECT_EQ(ok.Feed(fits.data(), fits.size(), &consumed), Status::kDone);
}

TEST(ChunkedDecoder, TrailerObsFold) { ExpectInvalid("0\r\nX: a\r\n b\r\n\r\n", 9); }

TEST(ChunkedDecoder, TrailerWithoutColon) { ExpectInvalid("0\r\nX-A\r\n\r\n", 6); }

TEST(ChunkedDecoder, TrailerWhitespaceBeforeColon) { ExpectInvalid("0\r\nX-A : 1\r\n\r\n", 6); }

TEST(ChunkedDecoder, TrailerBareLf) { ExpectInvalid("0\r\nX: 1\n\r\n", 7); }

TEST(ChunkedDecoder, TrailerNul) { ExpectInvalid("0\r\nX: \0\r\n\r\n"s, 6); }

TEST(ChunkedDecoder, TrailerTooLarge) {
  ChunkedDecoder d(4096, 16);
  const std::string in = "0\r\nX-Trailer: 1234567890\r\n\r\n";
  size_t consumed = 0;
  EXPECT_EQ(d.Feed(in.data(), in.size(), &consumed), Status::kError);
  EXPECT_EQ(consumed, 3u + 16u);
}

// Random edits of valid bodies (fixed seed): whole, byte by byte and split
// feeding always agree, and consumption never passes the first bad byte.
TEST(ChunkedDecoder, RandomMutationsAgreeAtEverySplit) {
  const std::vector<std::string> seeds = {
      "5\r\nhello\r\n0\r\n\r\n",
      "3;a=b;c=\"d\\\"e\"\r\nabc\r\n0\r\nX: y\r\n\r\n",
      "a\r\n0123456789\r\n0 ;x\r\n\r\nNEXT",
  };
  static const char kBytes[] = "\r\n\0 \t;=\"\\:0aFgx";
  std::mt19937_64 rng(42);
  for (int round = 0; round < 1500; ++round) {
    std::string in = seeds[rng() % seeds.size()];
    for (int edits = 1 + static_cast<int>(rng() % 3); edits > 0; --edits) {
      const size_t at = rng() % in.size();
      const char c = kBytes[rng() % (sizeof(kBytes) - 1)];
      switch (rng() % 3) {
        case 0:
          in[at] = c;
          break;
        case 1:
          in.insert(in.begin() + static_cast<std::ptrdiff_t>(at), c);
          break;
        default:
          in.erase(at, 1);
          break;
      }
    }
    const Outcome whole = Feed(in);
    for (size_t k = 0; k <= in.size(); ++k) {
      const Outcome r = FeedSplit(in, k);
      ASSERT_EQ(r.status, whole.status) << round << " at " << k;
      ASSERT_EQ(r.consumed, whole.consumed) << round << " at " << k;
      ASSERT_EQ(r.payload, whole.payload) << round << " at " << k;
    }
    const Outcome bytes = Feed(in, 1);
    ASSERT_EQ(bytes.status, whole.status) << round;
    ASSERT_EQ(bytes.consumed, whole.consumed) << round;
  }
}

}  // namespace
}  // namespace drover::http
