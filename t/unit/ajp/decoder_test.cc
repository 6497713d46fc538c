// AJP13 Decoder: a Tomcat-like response sequence fed whole, byte by byte and
// split at every offset (and every pair of offsets); GET_BODY_CHUNK, CPONG,
// Tomcat's empty flush chunk; packet-size limits and the buffering bound;
// every malformed-packet case gives the same error for every split.
#include "ajp/decoder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "ajp_test_util.h"

namespace drover::ajp {
namespace {

using namespace std::string_literals;
using namespace drover::ajp::testing;
using R = Decoder::Result;

std::string Describe(const Message& m) {
  switch (m.type) {
    case MessageType::kSendHeaders: {
      std::string s = "headers " + std::to_string(m.head.status) + " " + m.head.reason;
      for (const auto& h : m.head.headers) {
        s += " [" + h.name + ": " + h.value + "]";
      }
      return s;
    }
    case MessageType::kSendBodyChunk:
      return "body " + std::string(m.data);
    case MessageType::kEndResponse:
      return m.reuse ? "end reuse" : "end close";
    case MessageType::kGetBodyChunk:
      return "get " + std::to_string(m.requested);
    case MessageType::kCpong:
      return "cpong";
  }
  return "?";
}

struct Outcome {
  std::vector<std::string> msgs;  // Describe() of each message, then "error: why" if any
  size_t max_buffered = 0;
  bool operator==(const Outcome& o) const { return msgs == o.msgs; }
};

// Feeds `in` cut at the given (ascending) offsets.
Outcome Drive(std::string_view in, const std::vector<size_t>& cuts, size_t max_packet = 8192) {
  Decoder d(max_packet);
  Outcome run;
  size_t begin = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(in.size());
  for (size_t end : ends) {
    size_t off = begin;
    while (true) {
      Message m;
      size_t consumed = 0;
      R r = d.Feed(in.data() + off, end - off, &consumed, &m);
      run.max_buffered = std::max(run.max_buffered, d.buffered());
      if (r == R::kError) {
        run.msgs.push_back("error: " + d.error());
        return run;
      }
      EXPECT_LE(consumed, end - off);
      off += consumed;
      if (r == R::kNeedMore) {
        EXPECT_EQ(off, end);
        break;
      }
      run.msgs.push_back(Describe(m));
      if (off == end) {
        break;
      }
    }
    begin = end;
  }
  return run;
}

Outcome Whole(std::string_view in, size_t max_packet = 8192) { return Drive(in, {}, max_packet); }

Outcome ByteByByte(std::string_view in) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < in.size(); ++i) {
    cuts.push_back(i);
  }
  return Drive(in, cuts);
}

// Every single cut and every pair of cuts give the same messages as the whole input.
void ExpectSplitInvariant(std::string_view in, const Outcome& want) {
  EXPECT_EQ(ByteByByte(in).msgs, want.msgs) << "byte by byte";
  for (size_t i = 0; i <= in.size(); ++i) {
    ASSERT_EQ(Drive(in, {i}).msgs, want.msgs) << "cut at " << i;
  }
  for (size_t i = 0; i <= in.size(); ++i) {
    for (size_t j = i; j <= in.size(); ++j) {
      ASSERT_EQ(Drive(in, {i, j}).msgs, want.msgs) << "cuts at " << i << ", " << j;
    }
  }
}

// What Tomcat sends for a small servlet response that created a session.
std::string TomcatResponse() {
  std::string headers = "\xa0\x07"s + Str("JSESSIONID=8F3A9C.node1; Path=/app; HttpOnly") +
                        "\xa0\x01"s + Str("text/html;charset=UTF-8") + "\xa0\x03"s + Str("11") +
                        Str("Vary") + Str("Accept-Encoding") + "\xa0\x04"s +
                        Str("Tue, 01 Jul 2025 10:00:00 GMT");
  return Packet(SendHeadersPayload(200, "OK", 5, headers)) + BodyChunk("hello ") +
         BodyChunk("world") + EndResponse(true);
}

const std::vector<std::string> kTomcatMessages = {
    "headers 200 OK [Set-Cookie: JSESSIONID=8F3A9C.node1; Path=/app; HttpOnly] "
    "[Content-Type: text/html;charset=UTF-8] [Content-Length: 11] "
    "[Vary: Accept-Encoding] [Date: Tue, 01 Jul 2025 10:00:00 GMT]",
    "body hello ",
    "body world",
    "end reuse",
};

std::string SimpleHeaders(unsigned status = 200) {
  return Packet(SendHeadersPayload(status, "OK", 1, "\xa0\x01"s + Str("text/plain")));
}

TEST(AjpDecoder, TomcatSequenceWhole) {
  Outcome r = Whole(TomcatResponse());
  EXPECT_EQ(r.msgs, kTomcatMessages);
  EXPECT_EQ(r.max_buffered, 0u);  // parsed in place
}

TEST(AjpDecoder, TomcatSequenceAtEverySplit) {
  const std::string in = TomcatResponse();
  ExpectSplitInvariant(in, Outcome{kTomcatMessages});
}

TEST(AjpDecoder, PostWithBodyRequestsAndCpong) {
  // A CPING answered, then a POST: the container asks for body twice, answers.
  const std::string in = Cpong() + GetBodyChunk(8186) + GetBodyChunk(100) +
                         Packet(SendHeadersPayload(201, "Created", 0, "")) + GetBodyChunk(8186) +
                         BodyChunk("") + BodyChunk("ok") + EndResponse(false);
  const std::vector<std::string> want = {"cpong",    "get 8186", "get 100", "headers 201 Created",
                                         "get 8186", "body ",    "body ok", "end close"};
  EXPECT_EQ(Whole(in).msgs, want);
  ExpectSplitInvariant(in, Outcome{want});
}

TEST(AjpDecoder, EmptyFlushChunk) {
  // Tomcat's flush: SEND_BODY_CHUNK with no data (AB 00 04 03 00 00 00).
  const std::string in = SimpleHeaders() + "AB\x00\x04\x03\x00\x00\x00"s + EndResponse(true);
  EXPECT_EQ(Whole(in).msgs, (std::vector<std::string>{"headers 200 OK [Content-Type: text/plain]",
                                                      "body ", "end reuse"}));
}

TEST(AjpDecoder, ConsecutiveResponsesOnOneConnection) {
  const std::string one = SimpleHeaders() + BodyChunk("a") + EndResponse(true);
  const std::vector<std::string> want = {"headers 200 OK [Content-Type: text/plain]", "body a",
                                         "end reuse"};
  std::vector<std::string> twice = want;
  twice.insert(twice.end(), want.begin(), want.end());
  twice.push_back("cpong");
  EXPECT_EQ(Whole(one + one + Cpong()).msgs, twice);
}

TEST(AjpDecoder, StateAccessors) {
  Decoder d;
  EXPECT_TRUE(d.idle());
  EXPECT_EQ(d.max_packet(), 8192u);
  const std::string h = SimpleHeaders();
  Message m;
  size_t c = 0;
  ASSERT_EQ(d.Feed(h.data(), 3, &c, &m), R::kNeedMore);
  EXPECT_EQ(d.buffered(), 3u);
  EXPECT_FALSE(d.idle());
  ASSERT_EQ(d.Feed(h.data() + 3, h.size() - 3, &c, &m), R::kMessage);
  EXPECT_EQ(d.buffered(), 0u);
  EXPECT_TRUE(d.in_response());
  EXPECT_FALSE(d.idle());
  const std::string e = EndResponse(true);
  ASSERT_EQ(d.Feed(e.data(), e.size(), &c, &m), R::kMessage);
  EXPECT_TRUE(m.reuse);
  EXPECT_FALSE(d.in_response());
  EXPECT_TRUE(d.idle());
  EXPECT_EQ(Decoder(10).max_packet(), kMinPacketSize);
  EXPECT_EQ(Decoder(1 << 20).max_packet(), kMaxPacketSize);
}

TEST(AjpDecoder, StopsAtTheEndOfEachMessage) {
  const std::string in = SimpleHeaders() + BodyChunk("xyz");
  Decoder d;
  Message m;
  size_t c = 0;
  ASSERT_EQ(d.Feed(in.data(), in.size(), &c, &m), R::kMessage);
  EXPECT_EQ(c, SimpleHeaders().size());
  EXPECT_EQ(m.head.status, 200);
  ASSERT_EQ(d.Feed(in.data() + c, in.size() - c, &c, &m), R::kMessage);
  EXPECT_EQ(c, BodyChunk("xyz").size());
  EXPECT_EQ(m.data, "xyz");
  EXPECT_TRUE(m.head.headers.empty());  // fields of the previous message are cleared
}

TEST(AjpDecoder, BodyDataIsParsedInPlaceWhenWhole) {
  const std::string h = SimpleHeaders();
  const std::string b = BodyChunk("payload");
  Decoder d;
  Message m;
  size_t c = 0;
  ASSERT_EQ(d.Feed(h.data(), h.size(), &c, &m), R::kMessage);
  ASSERT_EQ(d.Feed(b.data(), b.size(), &c, &m), R::kMessage);
  EXPECT_EQ(m.data.data(), b.data() + 7);  // a view into the caller's input
  // Split: the decoder assembles the packet and the view points at its copy.
  ASSERT_EQ(d.Feed(b.data(), 5, &c, &m), R::kNeedMore);
  ASSERT_EQ(d.Feed(b.data() + 5, b.size() - 5, &c, &m), R::kMessage);
  EXPECT_EQ(m.data, "payload");
  EXPECT_TRUE(m.data.data() < b.data() || m.data.data() >= b.data() + b.size());
}

TEST(AjpDecoder, PacketSizeBoundary) {
  // Payload of a body packet: type, length, data, NUL = data + 4 bytes.
  for (size_t max : {size_t{8192}, size_t{65536}}) {
    const std::string fits(max - 8, 'x');
    const std::string in = SimpleHeaders() + BodyChunk(fits);
    Outcome r = Whole(in, max);
    ASSERT_EQ(r.msgs.size(), 2u);
    EXPECT_EQ(r.msgs[1].size(), 5 + fits.size());
    const std::string over = SimpleHeaders() + BodyChunk(fits + "x");
    EXPECT_EQ(Whole(over, max).msgs.back(), "error: packet length " + std::to_string(max - 3) +
                                                " exceeds the packet size " + std::to_string(max));
  }
}

TEST(AjpDecoder, HoldsAtMostOnePacket) {
  const std::string body(8184, 'b');
  const std::string in = SimpleHeaders() + BodyChunk(body) + BodyChunk(body) + EndResponse(true);
  Outcome r = ByteByByte(in);
  ASSERT_EQ(r.msgs.size(), 4u);
  EXPECT_EQ(r.max_buffered, 8192u - 1);  // the last byte completes the packet
  EXPECT_LE(r.max_buffered, 8192u);
  // An announced oversize length fails on its 4th byte, before any payload is held.
  Decoder d;
  Message m;
  size_t c = 0;
  const std::string big = "AB\xff\xff"s + std::string(100, '\x03');
  EXPECT_EQ(d.Feed(big.data(), big.size(), &c, &m), R::kError);
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(AjpDecoder, ErrorsAreStickyUntilReset) {
  Decoder d;
  Message m;
  size_t c = 0;
  const std::string bad = "XX";
  ASSERT_EQ(d.Feed(bad.data(), bad.size(), &c, &m), R::kError);
  const std::string good = Cpong();
  EXPECT_EQ(d.Feed(good.data(), good.size(), &c, &m), R::kError);
  EXPECT_FALSE(d.idle());
  d.Reset();
  EXPECT_TRUE(d.error().empty());
  EXPECT_EQ(d.Feed(good.data(), good.size(), &c, &m), R::kMessage);
  EXPECT_EQ(m.type, MessageType::kCpong);
}

TEST(AjpDecoder, ResetDropsAPartialPacketAndTheResponseState) {
  Decoder d;
  Message m;
  size_t c = 0;
  const std::string h = SimpleHeaders();
  ASSERT_EQ(d.Feed(h.data(), h.size(), &c, &m), R::kMessage);
  ASSERT_EQ(d.Feed("AB\x00", 3, &c, &m), R::kNeedMore);
  d.Reset();
  EXPECT_TRUE(d.idle());
  const std::string p = Cpong();
  EXPECT_EQ(d.Feed(p.data(), p.size(), &c, &m), R::kMessage);
}

TEST(AjpDecoder, AllCodedResponseHeaders) {
  const char* names[] = {"Content-Type",   "Content-Language", "Content-Length",  "Date",
                         "Last-Modified",  "Location",         "Set-Cookie",      "Set-Cookie2",
                         "Servlet-Engine", "Status",           "WWW-Authenticate"};
  std::string headers;
  std::string want = "headers 302 Found";
  for (unsigned i = 0; i < 11; ++i) {
    headers += U16(0xA001 + i) + Str("v" + std::to_string(i));
    want += " [" + std::string(names[i]) + ": v" + std::to_string(i) + "]";
  }
  EXPECT_EQ(Whole(Packet(SendHeadersPayload(302, "Found", 11, headers))).msgs,
            std::vector<std::string>{want});
}

TEST(AjpDecoder, FieldTextAllowsHtabAndObsText) {
  const std::string in = Packet(
      SendHeadersPayload(200, "", 2, Str("X-A") + Str("a\tb") + Str("X-B") + Str("caf\xc3\xa9")));
  EXPECT_EQ(Whole(in).msgs,
            std::vector<std::string>{"headers 200  [X-A: a\tb] [X-B: caf\xc3\xa9]"});
}

TEST(AjpDecoder, StatusRange) {
  EXPECT_EQ(Whole(SimpleHeaders(200)).msgs.size(), 1u);
  EXPECT_EQ(Whole(SimpleHeaders(599)).msgs.size(), 1u);
}

struct Bad {
  const char* name;
  std::string in;
  std::string error;  // exact
};

std::vector<Bad> BadCases() {
  const std::string h = SimpleHeaders();
  auto sh = [](std::string_view rest) { return Packet("\x04"s + std::string(rest)); };
  auto hdrs = [](unsigned count, std::string_view list) {
    return Packet(SendHeadersPayload(200, "OK", count, list));
  };
  // clang-format off
  return {
      {"magic byte 0", "\x12\x34\x00\x01\x09"s, "bad packet magic: first byte 0x12, expected 0x41 ('A')"},
      {"magic byte 1", "AC\x00\x01\x09"s, "bad packet magic: second byte 0x43, expected 0x42 ('B')"},
      {"http instead of ajp", "HTTP/1.1 200 OK\r\n\r\n", "bad packet magic: first byte 0x48, expected 0x41 ('A')"},
      {"empty packet", "AB\x00\x00"s, "empty packet"},
      {"too long", "AB\x1f\xfd"s + std::string(8189, '\x03'), "packet length 8189 exceeds the packet size 8192"},
      {"max length", "AB\xff\xff"s, "packet length 65535 exceeds the packet size 8192"},
      {"unknown type 0", Packet("\x00"s), "unknown message type 0"},
      {"forward request from container", Packet("\x02"s), "unknown message type 2"},
      {"shutdown", Packet("\x07"s), "unknown message type 7"},
      {"cping from container", Packet("\x0a"s), "unknown message type 10"},
      {"type 255", Packet("\xff"s), "unknown message type 255"},
      {"body before headers", BodyChunk("x"), "send_body_chunk before send_headers"},
      {"end before headers", EndResponse(true), "end_response before send_headers"},
      {"second headers", h + h, "second send_headers in one response"},
      {"cpong in response", h + Cpong(), "cpong inside a response"},
      {"status truncated", sh("\x00"s), "send_headers: truncated status"},
      {"status 0", sh(U16(0) + Str("") + U16(0)), "send_headers: status 0 outside 200..599"},
      {"status 100", sh(U16(100) + Str("Continue") + U16(0)), "send_headers: status 100 outside 200..599"},
      {"status 101", sh(U16(101) + Str("Switching Protocols") + U16(0)), "send_headers: status 101 outside 200..599"},
      {"status 199", sh(U16(199) + Str("") + U16(0)), "send_headers: status 199 outside 200..599"},
      {"status 600", sh(U16(600) + Str("") + U16(0)), "send_headers: status 600 outside 200..599"},
      {"reason length truncated", sh(U16(200) + "\x00"s), "send_headers: reason: truncated length"},
      {"reason null", sh(U16(200) + "\xff\xff" + U16(0)), "send_headers: reason: null string"},
      {"reason truncated", sh(U16(200) + U16(10) + "OK"), "send_headers: reason: truncated string"},
      {"reason without nul", sh(U16(200) + U16(2) + "OK!" + U16(0)), "send_headers: reason: missing nul terminator"},
      {"reason with crlf", sh(U16(200) + Str("OK\r\nX: y") + U16(0)), "send_headers: control character in the reason"},
      {"count truncated", sh(U16(200) + Str("OK") + "\x00"s), "send_headers: truncated header count"},
      {"count missing", sh(U16(200) + Str("OK")), "send_headers: truncated header count"},
      {"count overruns", hdrs(2, "\xa0\x01"s + Str("text/plain")), "send_headers: header 2 of 2: truncated name"},
      {"count 65535", hdrs(65535, ""), "send_headers: header 1 of 65535: truncated name"},
      {"name half", hdrs(1, "\xa0"), "send_headers: header 1 of 1: truncated name"},
      {"coded 0xA00C", hdrs(1, "\xa0\x0c"s + Str("v")), "send_headers: header 1 of 1: unknown coded name 0xa00c"},
      {"coded 0xA000", hdrs(1, "\xa0\x00"s + Str("v")), "send_headers: header 1 of 1: unknown coded name 0xa000"},
      {"name null", hdrs(1, "\xff\xff"s + Str("v")), "send_headers: header 1 of 1: name: null string"},
      {"name truncated", hdrs(1, U16(20) + "X-Short"), "send_headers: header 1 of 1: name: truncated string"},
      {"name without nul", hdrs(1, U16(3) + "X-AB" + Str("v")), "send_headers: header 1 of 1: name: missing nul terminator"},
      {"name empty", hdrs(1, Str("") + Str("v")), "send_headers: header 1 of 1: empty name"},
      {"name with space", hdrs(1, Str("Bad Name") + Str("v")), "send_headers: header 1 of 1: name is not a token"},
      {"name with colon", hdrs(1, Str("X:") + Str("v")), "send_headers: header 1 of 1: name is not a token"},
      {"name with crlf", hdrs(1, Str("X\r\nY") + Str("v")), "send_headers: header 1 of 1: name is not a token"},
      {"value missing", hdrs(1, Str("X")), "send_headers: header 1 of 1: value: truncated length"},
      {"value null", hdrs(1, Str("X") + "\xff\xff"), "send_headers: header 1 of 1: value: null string"},
      {"value truncated", hdrs(1, Str("X") + U16(5) + "ab"), "send_headers: header 1 of 1: value: truncated string"},
      {"value without nul", hdrs(1, Str("X") + U16(1) + "ab"), "send_headers: header 1 of 1: value: missing nul terminator"},
      {"value with crlf (splitting)", hdrs(1, "\xa0\x07"s + Str("a=b\r\nX-Evil: 1")), "send_headers: header 1 of 1: control character in the value"},
      {"value with nul", hdrs(1, Str("X") + Str("a\0b"s)), "send_headers: header 1 of 1: control character in the value"},
      {"value with del", hdrs(1, Str("X") + Str("a\x7f")), "send_headers: header 1 of 1: control character in the value"},
      {"second header bad", hdrs(2, Str("X") + Str("1") + Str("Y")), "send_headers: header 2 of 2: value: truncated length"},
      {"trailing bytes", hdrs(0, "zz"), "send_headers: 2 trailing bytes"},
      {"body length truncated", h + Packet("\x03\x00"s), "send_body_chunk: truncated length"},
      {"body without nul byte", h + Packet("\x03\x00\x02hi"s), "send_body_chunk: chunk length 2 does not match the packet length 5"},
      {"body length too big", h + Packet("\x03\x00\x09hi\0"s), "send_body_chunk: chunk length 9 does not match the packet length 6"},
      {"body length too small", h + Packet("\x03\x00\x01hi\0"s), "send_body_chunk: chunk length 1 does not match the packet length 6"},
      {"body last byte not nul", h + Packet("\x03\x00\x02hi!"s), "send_body_chunk: missing nul after the data"},
      {"end too short", h + Packet("\x05"s), "end_response: packet length 1, expected 2"},
      {"end too long", h + Packet("\x05\x01\x00"s), "end_response: packet length 3, expected 2"},
      {"end reuse 2", h + Packet("\x05\x02"s), "end_response: reuse flag 2 is neither 0 nor 1"},
      {"get too short", Packet("\x06\x1f"s), "get_body_chunk: packet length 2, expected 3"},
      {"get too long", Packet("\x06\x1f\xfa\x00"s), "get_body_chunk: packet length 4, expected 3"},
      {"cpong too long", Packet("\x09\x00"s), "cpong: packet length 2, expected 1"},
  };
  // clang-format on
}

TEST(AjpDecoder, MalformedPacketsWhole) {
  for (const Bad& b : BadCases()) {
    Outcome r = Whole(b.in);
    ASSERT_FALSE(r.msgs.empty()) << b.name;
    EXPECT_EQ(r.msgs.back(), "error: " + b.error) << b.name;
  }
}

TEST(AjpDecoder, MalformedPacketsAtEverySplit) {
  for (const Bad& b : BadCases()) {
    if (b.in.size() > 200) {
      // Long inputs: byte by byte and a few cuts are enough.
      const Outcome want = Whole(b.in);
      EXPECT_EQ(ByteByByte(b.in).msgs, want.msgs) << b.name;
      for (size_t i : {size_t{1}, size_t{3}, size_t{4}, size_t{5}, b.in.size() - 1}) {
        EXPECT_EQ(Drive(b.in, {i}).msgs, want.msgs) << b.name << " cut at " << i;
      }
      continue;
    }
    SCOPED_TRACE(b.name);
    ExpectSplitInvariant(b.in, Whole(b.in));
  }
}

// Garbage never crashes the decoder and never makes it hold more than a packet.
TEST(AjpDecoder, RandomBytes) {
  uint32_t seed = 12345;
  auto next = [&seed] {
    seed = seed * 1103515245u + 12345u;
    return static_cast<uint8_t>(seed >> 16);
  };
  const std::string valid = TomcatResponse();
  for (int iter = 0; iter < 2000; ++iter) {
    std::string in = valid;
    // Flip a few bytes of a valid sequence (keeps most packets plausible).
    for (int k = 0; k < 1 + iter % 4; ++k) {
      in[next() % in.size()] = static_cast<char>(next());
    }
    Outcome r = Whole(in);
    EXPECT_LE(r.max_buffered, 8192u);
    EXPECT_EQ(ByteByByte(in).msgs, r.msgs);
  }
}

}  // namespace
}  // namespace drover::ajp
