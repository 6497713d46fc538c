// SEND_HEADERS -> http::ResponseHead and the client framing decision;
// HTTP chunk helpers.
#include "ajp/response.h"

#include <gtest/gtest.h>

#include <string>

namespace drover::ajp {
namespace {

SendHeaders Head(int status, std::vector<ResponseHeader> headers) {
  SendHeaders s;
  s.status = status;
  s.reason = "Reason";
  s.headers = std::move(headers);
  return s;
}

TEST(AjpResponse, HeadPointsIntoSendHeaders) {
  SendHeaders s = Head(200, {{"Content-Type", "text/html"},
                             {"Set-Cookie", "JSESSIONID=a.node1; Path=/"},
                             {"Content-Length", "11"},
                             {"Location", "http://internal:8080/app/"}});
  http::ResponseHead h;
  ResponseFraming f;
  ASSERT_TRUE(BuildResponseHead(s, "GET", 1, &h, &f).ok());
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.minor, 1);
  EXPECT_EQ(h.reason, "Reason");
  EXPECT_EQ(h.reason.data(), s.reason.data());
  ASSERT_EQ(h.headers.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(h.headers[i].name, s.headers[i].name);
    EXPECT_EQ(h.headers[i].value.data(), s.headers[i].value.data());
  }
  EXPECT_EQ(h.body, http::BodyKind::kLength);
  EXPECT_EQ(h.content_length, 11u);
  EXPECT_TRUE(h.keep_alive);
  EXPECT_EQ(f, ResponseFraming::kLength);
}

TEST(AjpResponse, UnknownLengthIsChunkedForHttp11AndCloseFor10) {
  SendHeaders s = Head(200, {{"Content-Type", "text/plain"}});
  http::ResponseHead h;
  ResponseFraming f;
  ASSERT_TRUE(BuildResponseHead(s, "GET", 1, &h, &f).ok());
  EXPECT_EQ(h.body, http::BodyKind::kChunked);
  EXPECT_EQ(f, ResponseFraming::kChunked);
  ASSERT_TRUE(BuildResponseHead(s, "GET", 0, &h, &f).ok());
  EXPECT_EQ(h.body, http::BodyKind::kChunked);
  EXPECT_EQ(f, ResponseFraming::kUntilClose);
}

TEST(AjpResponse, NoBody) {
  http::ResponseHead h;
  ResponseFraming f;
  SendHeaders head = Head(200, {{"Content-Length", "1234"}});
  ASSERT_TRUE(BuildResponseHead(head, "HEAD", 1, &h, &f).ok());
  EXPECT_EQ(h.body, http::BodyKind::kNone);
  EXPECT_EQ(h.content_length, 1234u);
  EXPECT_EQ(f, ResponseFraming::kNone);
  for (int status : {204, 304}) {
    SendHeaders s = Head(status, {});
    ASSERT_TRUE(BuildResponseHead(s, "GET", 1, &h, &f).ok());
    EXPECT_EQ(h.body, http::BodyKind::kNone) << status;
    EXPECT_EQ(f, ResponseFraming::kNone) << status;
  }
}

TEST(AjpResponse, ContentLengthRules) {
  http::ResponseHead h;
  ResponseFraming f;
  struct Case {
    std::vector<ResponseHeader> headers;
    const char* error;  // nullptr: ok
    uint64_t length;
  };
  const Case cases[] = {
      {{{"Content-Length", "0"}}, nullptr, 0},
      {{{"content-length", "5"}}, nullptr, 5},
      {{{"Content-Length", "5, 5"}}, nullptr, 5},
      {{{"Content-Length", "5"}, {"Content-Length", "5"}}, nullptr, 5},
      {{{"Content-Length", "999999999999999"}}, nullptr, 999999999999999u},
      {{{"Content-Length", "1000000000000000"}}, "invalid content-length", 0},
      {{{"Content-Length", ""}}, "invalid content-length", 0},
      {{{"Content-Length", "-1"}}, "invalid content-length", 0},
      {{{"Content-Length", "+5"}}, "invalid content-length", 0},
      {{{"Content-Length", "5x"}}, "invalid content-length", 0},
      {{{"Content-Length", "5,"}}, "invalid content-length", 0},
      {{{"Content-Length", "5, 6"}}, "conflicting content-length", 0},
      {{{"Content-Length", "5"}, {"Content-Length", "6"}}, "conflicting content-length", 0},
      {{{"Content-Length", "5"}, {"Transfer-Encoding", "chunked"}},
       "content-length with transfer-encoding",
       0},
  };
  for (const Case& c : cases) {
    SendHeaders s = Head(200, c.headers);
    core::Status st = BuildResponseHead(s, "GET", 1, &h, &f);
    if (c.error == nullptr) {
      ASSERT_TRUE(st.ok()) << st.message();
      EXPECT_EQ(h.body, http::BodyKind::kLength);
      EXPECT_EQ(h.content_length, c.length);
    } else {
      ASSERT_FALSE(st.ok()) << c.headers[0].value;
      EXPECT_EQ(st.message(), c.error);
    }
  }
}

TEST(AjpResponse, TransferEncodingAloneMeansUnknownLength) {
  SendHeaders s = Head(200, {{"Transfer-Encoding", "chunked"}});
  http::ResponseHead h;
  ResponseFraming f;
  ASSERT_TRUE(BuildResponseHead(s, "GET", 1, &h, &f).ok());
  EXPECT_EQ(h.body, http::BodyKind::kChunked);
  EXPECT_EQ(f, ResponseFraming::kChunked);
}

TEST(AjpResponse, ConnectionTokens) {
  SendHeaders s = Head(200, {{"Connection", "close, X-Internal"}, {"X-Internal", "1"}});
  http::ResponseHead h;
  ResponseFraming f;
  ASSERT_TRUE(BuildResponseHead(s, "GET", 1, &h, &f).ok());
  ASSERT_EQ(h.connection_tokens.size(), 2u);
  EXPECT_EQ(h.connection_tokens[0], "close");
  EXPECT_EQ(h.connection_tokens[1], "X-Internal");
  EXPECT_TRUE(http::IsListedIn("x-internal", h.connection_tokens));
  EXPECT_EQ(h.connection & http::kConnClose, http::kConnClose);
  EXPECT_TRUE(h.keep_alive);  // member reuse comes from END_RESPONSE
}

TEST(AjpResponse, ReusesTheOutputHead) {
  http::ResponseHead h;
  ResponseFraming f;
  SendHeaders a = Head(200, {{"A", "1"}, {"B", "2"}, {"Connection", "x"}});
  ASSERT_TRUE(BuildResponseHead(a, "GET", 1, &h, &f).ok());
  SendHeaders b = Head(404, {{"C", "3"}});
  ASSERT_TRUE(BuildResponseHead(b, "GET", 1, &h, &f).ok());
  EXPECT_EQ(h.status, 404);
  ASSERT_EQ(h.headers.size(), 1u);
  EXPECT_EQ(h.headers[0].name, "C");
  EXPECT_TRUE(h.connection_tokens.empty());
}

TEST(AjpResponse, HttpChunks) {
  std::string out;
  EncodeHttpChunk("hello", 5, &out);
  EXPECT_EQ(out, "5\r\nhello\r\n");
  EncodeHttpChunk(nullptr, 0, &out);  // never writes a terminating chunk
  EXPECT_EQ(out, "5\r\nhello\r\n");
  std::string big(8186, 'x');
  out.clear();
  EncodeHttpChunk(big.data(), big.size(), &out);
  EXPECT_EQ(out, "1ffa\r\n" + big + "\r\n");
  EXPECT_EQ(HttpChunkPrefix(65530), "fffa\r\n");
  EXPECT_EQ(HttpChunkPrefix(0), "");
  EXPECT_EQ(kHttpLastChunk, "0\r\n\r\n");
}

}  // namespace
}  // namespace drover::ajp
