// Request and response head parsing: valid heads, one test per rejection,
// and every input split at every byte offset.
#include "http/parser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace drover::http {
namespace {

using namespace std::string_literals;

struct Outcome {
  ParseResult result;
  int status = 0;
  std::string reason;
  size_t head_size = 0;
};

Outcome Req(std::string_view in, RequestHead* h, const Limits& limits = Limits()) {
  ParseError err;
  Outcome o;
  o.result = ParseRequestHead(in.data(), in.size(), limits, h, &err);
  if (o.result == ParseResult::kError) {
    o.status = err.status;
    o.reason = err.reason;
  }
  o.head_size = h->head_size;
  return o;
}

Outcome Req(std::string_view in, const Limits& limits = Limits()) {
  RequestHead h;
  return Req(in, &h, limits);
}

Outcome Resp(std::string_view in, ResponseHead* h, std::string_view method = "GET",
             const Limits& limits = Limits()) {
  ParseError err;
  Outcome o;
  o.result = ParseResponseHead(in.data(), in.size(), limits, method, h, &err);
  if (o.result == ParseResult::kError) {
    o.status = err.status;
    o.reason = err.reason;
  }
  o.head_size = h->head_size;
  return o;
}

Outcome Resp(std::string_view in, std::string_view method = "GET",
             const Limits& limits = Limits()) {
  ResponseHead h;
  return Resp(in, &h, method, limits);
}

// A head's views point into its input, so temporary inputs are kept alive
// here for the rest of the run (a few KB in all).
std::string_view Keep(std::string&& in) {
  static std::deque<std::string> store;
  store.push_back(std::move(in));
  return store.back();
}

Outcome Req(std::string&& in, RequestHead* h, const Limits& limits = Limits()) {
  return Req(Keep(std::move(in)), h, limits);
}
Outcome Req(const char* in, RequestHead* h, const Limits& limits = Limits()) {
  return Req(std::string_view(in), h, limits);
}
Outcome Resp(std::string&& in, ResponseHead* h, std::string_view method = "GET",
             const Limits& limits = Limits()) {
  return Resp(Keep(std::move(in)), h, method, limits);
}
Outcome Resp(const char* in, ResponseHead* h, std::string_view method = "GET",
             const Limits& limits = Limits()) {
  return Resp(std::string_view(in), h, method, limits);
}

// The status of a request head that must be rejected (0 when it is not).
int ReqStatus(std::string_view in, const Limits& limits = Limits()) {
  Outcome o = Req(in, limits);
  return o.result == ParseResult::kError ? o.status : 0;
}

int RespStatus(std::string_view in, std::string_view method = "GET") {
  Outcome o = Resp(in, method);
  return o.result == ParseResult::kError ? o.status : 0;
}

std::string Get(std::string_view headers, std::string_view line = "GET / HTTP/1.1") {
  return std::string(line) + "\r\n" + std::string(headers) + "\r\n\r\n";
}

std::string_view Find(const std::vector<Header>& hs, std::string_view name) {
  for (const Header& h : hs) {
    if (h.name == name) {
      return h.value;
    }
  }
  return "<none>";
}

// ---------------------------------------------------------------------------
// Valid requests.

TEST(HttpRequest, SimpleGet) {
  const std::string in = "GET /a/b?x=1&y HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
  RequestHead h;
  Outcome o = Req(in, &h);
  ASSERT_EQ(o.result, ParseResult::kDone);
  EXPECT_EQ(h.method, "GET");
  EXPECT_EQ(h.target, "/a/b?x=1&y");
  EXPECT_EQ(h.path, "/a/b");
  EXPECT_TRUE(h.has_query);
  EXPECT_EQ(h.query, "x=1&y");
  EXPECT_EQ(h.minor, 1);
  EXPECT_EQ(h.host, "example.com");
  ASSERT_EQ(h.headers.size(), 2u);
  EXPECT_EQ(h.headers[0].name, "Host");
  EXPECT_EQ(h.headers[1].name, "Accept");
  EXPECT_EQ(h.headers[1].value, "*/*");
  EXPECT_EQ(h.body, BodyKind::kNone);
  EXPECT_TRUE(h.keep_alive);
  EXPECT_FALSE(h.expect_continue);
  EXPECT_EQ(h.head_size, in.size());
}

TEST(HttpRequest, NoQuery) {
  RequestHead h;
  ASSERT_EQ(Req(Get("Host: a"), &h).result, ParseResult::kDone);
  EXPECT_EQ(h.path, "/");
  EXPECT_FALSE(h.has_query);
  EXPECT_EQ(h.query, "");
}

TEST(HttpRequest, EmptyQuery) {
  RequestHead h;
  ASSERT_EQ(Req(Get("Host: a", "GET /p? HTTP/1.1"), &h).result, ParseResult::kDone);
  EXPECT_EQ(h.path, "/p");
  EXPECT_TRUE(h.has_query);
  EXPECT_EQ(h.query, "");
}

TEST(HttpRequest, HeadSizeStopsAtHeadEnd) {
  const std::string head = "POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n";
  RequestHead h;
  Outcome o = Req(head + "helloGET / HTTP/1.1\r\n", &h);
  ASSERT_EQ(o.result, ParseResult::kDone);
  EXPECT_EQ(h.head_size, head.size());
  EXPECT_EQ(h.body, BodyKind::kLength);
  EXPECT_EQ(h.content_length, 5u);
}

TEST(HttpRequest, ValuesTrimmedAndInnerWhitespaceKept) {
  RequestHead h;
  ASSERT_EQ(Req(Get("Host: a\r\nX-A: \t one  two \t\r\nX-B:\r\nX-C:v"), &h).result,
            ParseResult::kDone);
  EXPECT_EQ(Find(h.headers, "X-A"), "one  two");
  EXPECT_EQ(Find(h.headers, "X-B"), "");
  EXPECT_EQ(Find(h.headers, "X-C"), "v");
}

TEST(HttpRequest, ObsTextAndHtabAllowedInValues) {
  RequestHead h;
  ASSERT_EQ(Req(Get("Host: a\r\nX-A: caf\xc3\xa9\tbar\xff"), &h).result, ParseResult::kDone);
  EXPECT_EQ(Find(h.headers, "X-A"), "caf\xc3\xa9\tbar\xff");
}

TEST(HttpRequest, Http10WithoutHost) {
  RequestHead h;
  ASSERT_EQ(Req("GET / HTTP/1.0\r\n\r\n", &h).result, ParseResult::kDone);
  EXPECT_EQ(h.minor, 0);
  EXPECT_EQ(h.host, "");
  EXPECT_FALSE(h.keep_alive);
}

TEST(HttpRequest, Http10KeepAlive) {
  RequestHead h;
  ASSERT_EQ(Req("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &h).result, ParseResult::kDone);
  EXPECT_TRUE(h.keep_alive);
  EXPECT_EQ(h.connection, kConnKeepAlive);
}

TEST(HttpRequest, Http11Close) {
  RequestHead h;
  ASSERT_EQ(Req(Get("Host: a\r\nConnection: close"), &h).result, ParseResult::kDone);
  EXPECT_FALSE(h.keep_alive);
  EXPECT_EQ(h.connection, kConnClose);
}

TEST(HttpRequest, CloseWinsOverKeepAlive) {
  RequestHead h;
  ASSERT_EQ(Req("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", &h).result,
            ParseResult::kDone);
  EXPECT_FALSE(h.keep_alive);
}

TEST(HttpRequest, ConnectionTokensFromEveryHeader) {
  RequestHead h;
  ASSERT_EQ(
      Req(Get("Host: a\r\nConnection: keep-alive , Upgrade,,\r\nConnection:\tX-Foo "), &h).result,
      ParseResult::kDone);
  ASSERT_EQ(h.connection_tokens.size(), 3u);
  EXPECT_EQ(h.connection_tokens[0], "keep-alive");
  EXPECT_EQ(h.connection_tokens[1], "Upgrade");
  EXPECT_EQ(h.connection_tokens[2], "X-Foo");
  EXPECT_EQ(h.connection, kConnKeepAlive | kConnUpgrade);
}

TEST(HttpRequest, UpgradeWebsocket) {
  RequestHead h;
  ASSERT_EQ(Req(Get("Host: a\r\nConnection: Upgrade\r\nUpgrade: websocket"), &h).result,
            ParseResult::kDone);
  EXPECT_EQ(h.upgrade, "websocket");
  EXPECT_TRUE(h.connection & kConnUpgrade);
}

TEST(HttpRequest, ExpectContinue) {
  RequestHead h;
  ASSERT_EQ(Req(Get("Host: a\r\nExpect: 100-Continue\r\nContent-Length: 3"), &h).result,
            ParseResult::kDone);
  EXPECT_TRUE(h.expect_continue);
}

TEST(HttpRequest, ExpectOtherValueIgnored) {
  RequestHead h;
  ASSERT_EQ(Req(Get("Host: a\r\nExpect: 200-ok"), &h).result, ParseResult::kDone);
  EXPECT_FALSE(h.expect_continue);
}

TEST(HttpRequest, ExpectContinueIgnoredInHttp10) {
  RequestHead h;
  ASSERT_EQ(Req("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", &h).result,
            ParseResult::kDone);
  EXPECT_FALSE(h.expect_continue);
}

TEST(HttpRequest, Chunked) {
  RequestHead h;
  ASSERT_EQ(Req(Get("Host: a\r\nTransfer-Encoding: Chunked", "POST / HTTP/1.1"), &h).result,
            ParseResult::kDone);
  EXPECT_EQ(h.body, BodyKind::kChunked);
}

TEST(HttpRequest, ContentLengthZero) {
  RequestHead h;
  ASSERT_EQ(Req(Get("Host: a\r\nContent-Length: 0", "POST / HTTP/1.1"), &h).result,
            ParseResult::kDone);
  EXPECT_EQ(h.body, BodyKind::kLength);
  EXPECT_EQ(h.content_length, 0u);
}

TEST(HttpRequest, ContentLengthRepeatedAgreeing) {
  RequestHead h;
  ASSERT_EQ(Req(Get("Host: a\r\nContent-Length: 42\r\nContent-Length: 42"), &h).result,
            ParseResult::kDone);
  EXPECT_EQ(h.content_length, 42u);
}

TEST(HttpRequest, ContentLengthListAgreeing) {
  RequestHead h;
  ASSERT_EQ(Req(Get("Host: a\r\nContent-Length: 7 ,7"), &h).result, ParseResult::kDone);
  EXPECT_EQ(h.content_length, 7u);
}

TEST(HttpRequest, ContentLengthFifteenDigits) {
  RequestHead h;
  ASSERT_EQ(Req(Get("Host: a\r\nContent-Length: 999999999999999"), &h).result, ParseResult::kDone);
  EXPECT_EQ(h.content_length, 999999999999999u);
}

TEST(HttpRequest, ContentLengthLeadingZeros) {
  RequestHead h;
  ASSERT_EQ(Req(Get("Host: a\r\nContent-Length: 007"), &h).result, ParseResult::kDone);
  EXPECT_EQ(h.content_length, 7u);
}

TEST(HttpRequest, AbsoluteForm) {
  RequestHead h;
  ASSERT_EQ(
      Req(Get("Host: Example.COM:8080", "GET http://example.com:8080/x/y?q=1 HTTP/1.1"), &h).result,
      ParseResult::kDone);
  EXPECT_EQ(h.target, "http://example.com:8080/x/y?q=1");
  EXPECT_EQ(h.host, "example.com:8080");
  EXPECT_EQ(h.path, "/x/y");
  EXPECT_EQ(h.query, "q=1");
}

TEST(HttpRequest, AbsoluteFormWithoutPath) {
  RequestHead h;
  ASSERT_EQ(Req(Get("Host: a", "GET HTTPS://a HTTP/1.1"), &h).result, ParseResult::kDone);
  EXPECT_EQ(h.path, "/");
  EXPECT_FALSE(h.has_query);
  ASSERT_EQ(Req(Get("Host: a", "GET http://a?z HTTP/1.1"), &h).result, ParseResult::kDone);
  EXPECT_EQ(h.path, "/");
  EXPECT_EQ(h.query, "z");
}

TEST(HttpRequest, AbsoluteFormHttp10WithoutHost) {
  RequestHead h;
  ASSERT_EQ(Req("GET http://b.example/ HTTP/1.0\r\n\r\n", &h).result, ParseResult::kDone);
  EXPECT_EQ(h.host, "b.example");
}

TEST(HttpRequest, OptionsAsterisk) {
  RequestHead h;
  ASSERT_EQ(Req(Get("Host: a", "OPTIONS * HTTP/1.1"), &h).result, ParseResult::kDone);
  EXPECT_EQ(h.target, "*");
  EXPECT_EQ(h.path, "*");
}

TEST(HttpRequest, ExtensionMethod) {
  RequestHead h;
  ASSERT_EQ(Req(Get("Host: a", "PROPFIND /dav HTTP/1.1"), &h).result, ParseResult::kDone);
  EXPECT_EQ(h.method, "PROPFIND");
}

TEST(HttpRequest, Ipv6Host) {
  RequestHead h;
  ASSERT_EQ(Req(Get("Host: [::1]:8080"), &h).result, ParseResult::kDone);
  EXPECT_EQ(h.host, "[::1]:8080");
}

TEST(HttpRequest, LeadingEmptyLinesIgnored) {
  const std::string in = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
  RequestHead h;
  ASSERT_EQ(Req(in, &h).result, ParseResult::kDone);
  EXPECT_EQ(h.method, "GET");
  EXPECT_EQ(h.head_size, in.size());
}

TEST(HttpRequest, ReuseKeepsNothingFromPreviousMessage) {
  RequestHead h;
  ASSERT_EQ(Req(Get("Host: a\r\nConnection: close\r\nContent-Length: 3", "POST /x?y HTTP/1.1"), &h)
                .result,
            ParseResult::kDone);
  ASSERT_EQ(Req("GET /z HTTP/1.0\r\n\r\n", &h).result, ParseResult::kDone);
  EXPECT_TRUE(h.headers.empty());
  EXPECT_TRUE(h.connection_tokens.empty());
  EXPECT_EQ(h.connection, 0u);
  EXPECT_EQ(h.body, BodyKind::kNone);
  EXPECT_EQ(h.content_length, 0u);
  EXPECT_FALSE(h.has_query);
  EXPECT_EQ(h.host, "");
}

TEST(HttpRequest, LimitsExactlyAtMaximumAccepted) {
  const std::string in = "GET /1234 HTTP/1.1\r\nHost: ab\r\nX: 1\r\n\r\n";
  Limits l;
  l.max_request_line = 18;  // "GET /1234 HTTP/1.1"
  l.max_field_size = 8;     // "Host: ab"
  l.max_fields = 2;
  EXPECT_EQ(Req(in, l).result, ParseResult::kDone);
}

TEST(HttpRequest, IncompleteAnswersIncomplete) {
  EXPECT_EQ(Req("").result, ParseResult::kIncomplete);
  EXPECT_EQ(Req("GET / HTTP/1.1\r\nHost: a\r\n").result, ParseResult::kIncomplete);
  EXPECT_EQ(Req("GET / HTTP/1.1\r\nHost: a\r\n\r").result, ParseResult::kIncomplete);
}

// ---------------------------------------------------------------------------
// Request rejections, one test each.

TEST(HttpRequestReject, ContentLengthThenTransferEncoding) {  // CL.TE
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked")), 400);
}

TEST(HttpRequestReject, TransferEncodingThenContentLength) {  // TE.CL
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5")), 400);
}

TEST(HttpRequestReject, ObsFold) { EXPECT_EQ(ReqStatus(Get("Host: a\r\nX-A: one\r\n two")), 400); }

TEST(HttpRequestReject, ObsFoldWithTab) {
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nX-A: one\r\n\ttwo")), 400);
}

TEST(HttpRequestReject, WhitespaceBeforeFirstField) { EXPECT_EQ(ReqStatus(Get(" Host: a")), 400); }

TEST(HttpRequestReject, BareLfEndingRequestLine) {
  EXPECT_EQ(ReqStatus("GET / HTTP/1.1\nHost: a\r\n\r\n"), 400);
}

TEST(HttpRequestReject, BareLfEndingField) {
  EXPECT_EQ(ReqStatus("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n"), 400);
}

TEST(HttpRequestReject, BareLfEndingHead) {
  EXPECT_EQ(ReqStatus("GET / HTTP/1.1\r\nHost: a\r\n\n"), 400);
}

TEST(HttpRequestReject, BareLfOnly) { EXPECT_EQ(ReqStatus("GET / HTTP/1.1\nHost: a\n\n"), 400); }

TEST(HttpRequestReject, LeadingBareLf) {
  EXPECT_EQ(ReqStatus("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

TEST(HttpRequestReject, BareCrInValue) { EXPECT_EQ(ReqStatus(Get("Host: a\r\nX: a\rb")), 400); }

TEST(HttpRequestReject, BareCrInRequestLine) {
  EXPECT_EQ(ReqStatus("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

TEST(HttpRequestReject, WhitespaceBeforeColon) { EXPECT_EQ(ReqStatus(Get("Host : a")), 400); }

TEST(HttpRequestReject, TabBeforeColon) {
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nContent-Length\t: 5")), 400);
}

TEST(HttpRequestReject, EmptyFieldName) { EXPECT_EQ(ReqStatus(Get("Host: a\r\n: x")), 400); }

TEST(HttpRequestReject, MissingColon) { EXPECT_EQ(ReqStatus(Get("Host: a\r\nNoColonHere")), 400); }

TEST(HttpRequestReject, InvalidFieldNameChar) {
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nX(y): z")), 400);
}

TEST(HttpRequestReject, NulInValue) { EXPECT_EQ(ReqStatus(Get("Host: a\r\nX: a\0b"s)), 400); }

TEST(HttpRequestReject, NulInName) { EXPECT_EQ(ReqStatus(Get("Host: a\r\nX\0: b"s)), 400); }

TEST(HttpRequestReject, NulInTarget) {
  EXPECT_EQ(ReqStatus("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n"s), 400);
}

TEST(HttpRequestReject, ControlCharInValue) {
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nX: a\x01z")), 400);
}

TEST(HttpRequestReject, DelInValue) { EXPECT_EQ(ReqStatus(Get("Host: a\r\nX: a\x7fz")), 400); }

TEST(HttpRequestReject, EscapeInValue) { EXPECT_EQ(ReqStatus(Get("Host: a\r\nX: \x1b[31m")), 400); }

TEST(HttpRequestReject, DuplicateContentLengthDisagreeing) {
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nContent-Length: 5\r\nContent-Length: 6")), 400);
}

TEST(HttpRequestReject, ContentLengthListDisagreeing) {
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nContent-Length: 5, 6")), 400);
}

TEST(HttpRequestReject, ContentLengthEmptyListElement) {
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nContent-Length: 5,")), 400);
}

TEST(HttpRequestReject, ContentLengthEmpty) {
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nContent-Length: ")), 400);
}

TEST(HttpRequestReject, ContentLengthPlusSign) {
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nContent-Length: +5")), 400);
}

TEST(HttpRequestReject, ContentLengthMinusSign) {
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nContent-Length: -1")), 400);
}

TEST(HttpRequestReject, ContentLengthHex) {
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nContent-Length: 0x10")), 400);
}

TEST(HttpRequestReject, ContentLengthInnerSpace) {
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nContent-Length: 1 0")), 400);
}

TEST(HttpRequestReject, ContentLengthSixteenDigits) {
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nContent-Length: 1000000000000000")), 400);
}

TEST(HttpRequestReject, ContentLengthOverflow) {
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nContent-Length: 18446744073709551617")), 400);
}

TEST(HttpRequestReject, TransferEncodingNotChunked) {
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nTransfer-Encoding: gzip")), 400);
}

TEST(HttpRequestReject, TransferEncodingChunkedNotLast) {
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nTransfer-Encoding: chunked, gzip")), 400);
}

TEST(HttpRequestReject, TransferEncodingUnknownCodingBeforeChunked) {
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nTransfer-Encoding: gzip, chunked")), 501);
}

TEST(HttpRequestReject, TransferEncodingUnknownCodingInSecondField) {
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked")),
            501);
}

TEST(HttpRequestReject, TransferEncodingChunkedTwice) {
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nTransfer-Encoding: chunked, chunked")), 400);
}

TEST(HttpRequestReject, TransferEncodingRepeatedField) {
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked")),
            400);
}

TEST(HttpRequestReject, TransferEncodingWithParameter) {
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nTransfer-Encoding: chunked;q=1")), 400);
}

TEST(HttpRequestReject, TransferEncodingEmpty) {
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nTransfer-Encoding: ")), 400);
}

TEST(HttpRequestReject, TransferEncodingEmptyElement) {
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nTransfer-Encoding: chunked,")), 400);
}

TEST(HttpRequestReject, TransferEncodingLookalike) {
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nTransfer-Encoding: xchunked")), 400);
}

TEST(HttpRequestReject, TransferEncodingInHttp10) {
  EXPECT_EQ(ReqStatus("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
}

TEST(HttpRequestReject, HostMissingInHttp11) {
  EXPECT_EQ(ReqStatus("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"), 400);
}

TEST(HttpRequestReject, HostDuplicated) { EXPECT_EQ(ReqStatus(Get("Host: a\r\nHost: a")), 400); }

TEST(HttpRequestReject, HostDuplicatedInHttp10) {
  EXPECT_EQ(ReqStatus("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n"), 400);
}

TEST(HttpRequestReject, HostEmpty) { EXPECT_EQ(ReqStatus(Get("Host: ")), 400); }

TEST(HttpRequestReject, HostWithSpace) { EXPECT_EQ(ReqStatus(Get("Host: a b")), 400); }

TEST(HttpRequestReject, HostWithSlash) { EXPECT_EQ(ReqStatus(Get("Host: a/b")), 400); }

TEST(HttpRequestReject, HostWithUserinfo) { EXPECT_EQ(ReqStatus(Get("Host: u@a")), 400); }

TEST(HttpRequestReject, HostEmptyPort) { EXPECT_EQ(ReqStatus(Get("Host: a:")), 400); }

TEST(HttpRequestReject, HostBadPort) { EXPECT_EQ(ReqStatus(Get("Host: a:8x")), 400); }

TEST(HttpRequestReject, HostPortTooLong) { EXPECT_EQ(ReqStatus(Get("Host: a:123456")), 400); }

TEST(HttpRequestReject, HostBadPercentEscape) { EXPECT_EQ(ReqStatus(Get("Host: a%2")), 400); }

TEST(HttpRequestReject, HostUnclosedBracket) { EXPECT_EQ(ReqStatus(Get("Host: [::1")), 400); }

TEST(HttpRequestReject, AbsoluteFormDifferentHost) {
  EXPECT_EQ(ReqStatus(Get("Host: b.example", "GET http://a.example/ HTTP/1.1")), 400);
}

TEST(HttpRequestReject, AbsoluteFormDifferentPort) {
  EXPECT_EQ(ReqStatus(Get("Host: a.example:81", "GET http://a.example:80/ HTTP/1.1")), 400);
}

TEST(HttpRequestReject, AbsoluteFormWithUserinfo) {
  EXPECT_EQ(ReqStatus(Get("Host: a", "GET http://user@a/ HTTP/1.1")), 400);
}

TEST(HttpRequestReject, AbsoluteFormEmptyAuthority) {
  EXPECT_EQ(ReqStatus(Get("Host: a", "GET http:///x HTTP/1.1")), 400);
}

TEST(HttpRequestReject, AbsoluteFormOtherScheme) {
  EXPECT_EQ(ReqStatus(Get("Host: a", "GET ftp://a/ HTTP/1.1")), 400);
}

TEST(HttpRequestReject, AuthorityForm) {
  EXPECT_EQ(ReqStatus(Get("Host: a", "GET a.example:443 HTTP/1.1")), 400);
}

TEST(HttpRequestReject, Connect) {
  EXPECT_EQ(ReqStatus(Get("Host: a.example:443", "CONNECT a.example:443 HTTP/1.1")), 400);
}

TEST(HttpRequestReject, AsteriskWithoutOptions) {
  EXPECT_EQ(ReqStatus(Get("Host: a", "GET * HTTP/1.1")), 400);
}

TEST(HttpRequestReject, RelativeTarget) {
  EXPECT_EQ(ReqStatus(Get("Host: a", "GET index.html HTTP/1.1")), 400);
}

TEST(HttpRequestReject, TargetWithFragment) {
  EXPECT_EQ(ReqStatus(Get("Host: a", "GET /a#b HTTP/1.1")), 400);
}

TEST(HttpRequestReject, TargetWithHighByte) {
  EXPECT_EQ(ReqStatus(Get("Host: a", "GET /caf\xc3\xa9 HTTP/1.1")), 400);
}

TEST(HttpRequestReject, TargetWithControlChar) {
  EXPECT_EQ(ReqStatus(Get("Host: a", "GET /a\x01 HTTP/1.1")), 400);
}

TEST(HttpRequestReject, TargetWithTab) {
  EXPECT_EQ(ReqStatus(Get("Host: a", "GET /a\tb HTTP/1.1")), 400);
}

TEST(HttpRequestReject, Http09) { EXPECT_EQ(ReqStatus("GET /\r\n\r\n"), 400); }

TEST(HttpRequestReject, VersionMinorUnsupported) {
  EXPECT_EQ(ReqStatus(Get("Host: a", "GET / HTTP/1.2")), 505);
}

TEST(HttpRequestReject, VersionMajor2) {
  EXPECT_EQ(ReqStatus(Get("Host: a", "GET / HTTP/2.0")), 400);
}

TEST(HttpRequestReject, VersionMajor0) {
  EXPECT_EQ(ReqStatus(Get("Host: a", "GET / HTTP/0.9")), 400);
}

TEST(HttpRequestReject, VersionLowercase) {
  EXPECT_EQ(ReqStatus(Get("Host: a", "GET / http/1.1")), 400);
}

TEST(HttpRequestReject, VersionTwoDigitMinor) {
  EXPECT_EQ(ReqStatus(Get("Host: a", "GET / HTTP/1.10")), 400);
}

TEST(HttpRequestReject, VersionTruncated) {
  EXPECT_EQ(ReqStatus(Get("Host: a", "GET / HTTP/1.")), 400);
}

TEST(HttpRequestReject, VersionWithoutDot) {
  EXPECT_EQ(ReqStatus(Get("Host: a", "GET / HTTP/11")), 400);
}

TEST(HttpRequestReject, TrailingSpaceAfterVersion) {
  EXPECT_EQ(ReqStatus(Get("Host: a", "GET / HTTP/1.1 ")), 400);
}

TEST(HttpRequestReject, DoubleSpaceInRequestLine) {
  EXPECT_EQ(ReqStatus(Get("Host: a", "GET  / HTTP/1.1")), 400);
}

TEST(HttpRequestReject, LeadingSpaceInRequestLine) {
  EXPECT_EQ(ReqStatus(Get("Host: a", " GET / HTTP/1.1")), 400);
}

TEST(HttpRequestReject, MethodNotToken) {
  EXPECT_EQ(ReqStatus(Get("Host: a", "G(T / HTTP/1.1")), 400);
}

TEST(HttpRequestReject, MethodOnly) { EXPECT_EQ(ReqStatus("GET\r\n\r\n"), 400); }

TEST(HttpRequestReject, RequestLineTooLong) {
  Limits l;
  l.max_request_line = 20;
  EXPECT_EQ(ReqStatus("GET /12345 HTTP/1.1\r\nHost: a\r\n\r\n", l), 0);   // 19 bytes
  EXPECT_EQ(ReqStatus("GET /123456 HTTP/1.1\r\nHost: a\r\n\r\n", l), 0);  // 20 bytes
  EXPECT_EQ(ReqStatus("GET /1234567 HTTP/1.1\r\nHost: a\r\n\r\n", l), 414);
}

TEST(HttpRequestReject, RequestLineTooLongWhileIncomplete) {
  Limits l;
  l.max_request_line = 20;
  EXPECT_EQ(ReqStatus("GET /123456789012345678", l), 414);
  EXPECT_EQ(Req("GET /12345678901234", l).result, ParseResult::kIncomplete);
  EXPECT_EQ(ReqStatus(std::string(8190 + 2, 'a')), 414);  // default limit, no CRLF yet
}

TEST(HttpRequestReject, LeadingEmptyLinesCountTowardsRequestLine) {
  Limits l;
  l.max_request_line = 20;
  std::string crlfs;
  for (int i = 0; i < 11; ++i) {
    crlfs += "\r\n";
  }
  EXPECT_EQ(ReqStatus(crlfs, l), 414);
}

TEST(HttpRequestReject, FieldTooLong) {
  Limits l;
  l.max_field_size = 10;
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nX: 1234567"), l), 0);  // 10 bytes
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nX: 12345678"), l), 431);
}

TEST(HttpRequestReject, FieldTooLongWhileIncomplete) {
  Limits l;
  l.max_field_size = 10;
  EXPECT_EQ(ReqStatus("GET / HTTP/1.1\r\nX: 12345678", l), 431);
  EXPECT_EQ(Req("GET / HTTP/1.1\r\nX: 1234567", l).result, ParseResult::kIncomplete);
}

TEST(HttpRequestReject, TooManyFields) {
  Limits l;
  l.max_fields = 3;
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nA: 1\r\nB: 2"), l), 0);
  EXPECT_EQ(ReqStatus(Get("Host: a\r\nA: 1\r\nB: 2\r\nC: 3"), l), 431);
}

TEST(HttpRequestReject, TooManyFieldsWhileIncomplete) {
  Limits l;
  l.max_fields = 3;
  EXPECT_EQ(ReqStatus("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC", l), 431);
  EXPECT_EQ(Req("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n", l).result,
            ParseResult::kIncomplete);
}

TEST(HttpRequestReject, GarbageRejectedBeforeHeadEnds) {
  EXPECT_EQ(ReqStatus("GET / HTTP/1.1\r\nHost: a\r\nX: \0"s), 400);
  EXPECT_EQ(ReqStatus("GET / HTTP/1.1\r\nHost: a\nX"), 400);
  EXPECT_EQ(ReqStatus("GET / HTTP/1.1\r\nHost: a\rX"), 400);
}

TEST(HttpRequestReject, FramingErrorWinsOverEarlierFieldSyntaxError) {
  // "Host : a" is a syntax error, but a later NUL is a framing error: the
  // answer is the same whether or not the head has ended.
  Outcome whole = Req("GET / HTTP/1.1\r\nHost : a\r\nX: \0\r\n\r\n"s);
  Outcome part = Req("GET / HTTP/1.1\r\nHost : a\r\nX: \0"s);
  EXPECT_EQ(whole.status, 400);
  EXPECT_EQ(whole.reason, std::string("nul byte"));
  EXPECT_EQ(part.status, 400);
  EXPECT_EQ(whole.reason, part.reason);
  Limits l;
  l.max_field_size = 10;
  EXPECT_EQ(ReqStatus("GET / HTTP/1.1\r\nHost : a\r\nX: 12345678\r\n\r\n", l), 431);
}

// The request line is judged as soon as its CRLF has arrived: its error comes
// first in byte order, so it wins over anything later in the head.
TEST(HttpRequestReject, RequestLineErrorReportedWhenTheLineEnds) {
  Outcome whole = Req("GET / HTTP/1.2\r\nX: \0\r\n\r\n"s);
  Outcome part = Req("GET / HTTP/1.2\r\n");
  EXPECT_EQ(whole.status, 505);
  EXPECT_EQ(part.result, ParseResult::kError);
  EXPECT_EQ(part.status, 505);
  EXPECT_EQ(whole.reason, part.reason);
  Limits l;
  l.max_field_size = 10;
  EXPECT_EQ(ReqStatus("GET / HTTP/1.2\r\nX: 12345678\r\n\r\n", l), 505);
  // Until the CRLF has arrived the line may still become valid.
  EXPECT_EQ(Req("GET / HTTP/1.2").result, ParseResult::kIncomplete);
  EXPECT_EQ(Req("GET / HTTP/1.2\r").result, ParseResult::kIncomplete);
}

// An HTTP/0.9 request is one line and never an empty one: it used to wait for
// RequestHeaderTimeout (408) instead of being refused.
TEST(HttpRequestReject, Http09RefusedWithoutEmptyLine) {
  Outcome o = Req("GET /\r\n");
  EXPECT_EQ(o.result, ParseResult::kError);
  EXPECT_EQ(o.status, 400);
  EXPECT_EQ(o.reason, std::string("http/0.9 request"));
  EXPECT_EQ(ReqStatus("\r\nGET /index.html\r\n"), 400);
  // A NUL in the request line stays a framing error.
  EXPECT_EQ(Req("GET /\0\r\n"s).reason, std::string("nul byte"));
}

TEST(HttpResponseReject, StatusLineErrorReportedWhenTheLineEnds) {
  ResponseHead h;
  Outcome o = Resp("HTTP/1.1 999 Odd\r\n", &h);
  EXPECT_EQ(o.result, ParseResult::kError);
  EXPECT_EQ(o.status, 502);
  EXPECT_EQ(Resp("HTTP/1.1 999 Odd", &h).result, ParseResult::kIncomplete);
}

TEST(HttpRequestReject, SyntaxErrorReportedWhenFramingIsClean) {
  Outcome o = Req("GET / HTTP/1.2\r\nHost: a\r\n\r\n");
  EXPECT_EQ(o.status, 505);
}

// Every byte value at every position of a long value (so that the word-at-a-
// time check sees it in each lane): accepted exactly when it is HTAB, SP,
// VCHAR or obs-text.
TEST(HttpRequestReject, EveryByteInFieldValue) {
  for (int c = 0; c < 256; ++c) {
    const bool ok = c == '\t' || c == ' ' || (c >= 0x21 && c <= 0x7e) || c >= 0x80;
    for (size_t at = 0; at < 21; ++at) {
      std::string value = "abcdefghijklmnopqrstu";
      value[at] = static_cast<char>(c);
      const Outcome o = Req(Get("Host: a\r\nX: " + value));
      if (ok) {
        EXPECT_EQ(o.result, ParseResult::kDone) << c << " at " << at;
      } else {
        EXPECT_EQ(o.status, 400) << c << " at " << at;
      }
    }
  }
}

TEST(HttpRequestReject, EveryByteInFieldName) {
  const std::string tchars = "!#$%&'*+-.^_`|~";
  for (int c = 0; c < 256; ++c) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c != 0 && tchars.find(static_cast<char>(c)) != std::string::npos) ||
                    c == ':';  // "X:Ab: v" is the field X with the value "Ab: v"
    std::string name = "X-Ab";
    name[1] = static_cast<char>(c);
    const Outcome o = Req(Get("Host: a\r\n" + name + ": v"));
    if (ok) {
      EXPECT_EQ(o.result, ParseResult::kDone) << c;
    } else {
      EXPECT_EQ(o.status, 400) << c;
    }
  }
}

TEST(HttpRequestReject, EveryByteInTarget) {
  for (int c = 0; c < 256; ++c) {
    const bool ok = c >= 0x21 && c <= 0x7e && c != '#';
    std::string target = "/ab";
    target[1] = static_cast<char>(c);
    const Outcome o = Req(Get("Host: a", "GET " + target + " HTTP/1.1"));
    if (ok) {
      EXPECT_EQ(o.result, ParseResult::kDone) << c;
    } else {
      EXPECT_EQ(o.status, 400) << c;
    }
  }
}

// ---------------------------------------------------------------------------
// Responses.

TEST(HttpResponse, ContentLength) {
  const std::string in = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-A: b\r\n\r\n";
  ResponseHead h;
  ASSERT_EQ(Resp(in + "hello world!", &h).result, ParseResult::kDone);
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.minor, 1);
  EXPECT_EQ(h.reason, "OK");
  EXPECT_EQ(h.body, BodyKind::kLength);
  EXPECT_EQ(h.content_length, 12u);
  EXPECT_TRUE(h.keep_alive);
  EXPECT_EQ(h.head_size, in.size());
  ASSERT_EQ(h.headers.size(), 2u);
}

TEST(HttpResponse, Chunked) {
  ResponseHead h;
  ASSERT_EQ(Resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", &h).result,
            ParseResult::kDone);
  EXPECT_EQ(h.body, BodyKind::kChunked);
  EXPECT_TRUE(h.keep_alive);
}

TEST(HttpResponse, UntilCloseWithoutFraming) {
  ResponseHead h;
  ASSERT_EQ(Resp("HTTP/1.1 200 OK\r\n\r\n", &h).result, ParseResult::kDone);
  EXPECT_EQ(h.body, BodyKind::kUntilClose);
  EXPECT_FALSE(h.keep_alive);
}

TEST(HttpResponse, TransferEncodingNotChunkedIsUntilClose) {
  ResponseHead h;
  ASSERT_EQ(Resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", &h).result,
            ParseResult::kDone);
  EXPECT_EQ(h.body, BodyKind::kUntilClose);
  EXPECT_FALSE(h.keep_alive);
}

TEST(HttpResponse, HeadHasNoBody) {
  ResponseHead h;
  ASSERT_EQ(Resp("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", &h, "HEAD").result,
            ParseResult::kDone);
  EXPECT_EQ(h.body, BodyKind::kNone);
  EXPECT_EQ(h.content_length, 100u);
  EXPECT_TRUE(h.keep_alive);
}

TEST(HttpResponse, NoBodyStatuses) {
  for (const char* line :
       {"HTTP/1.1 100 Continue", "HTTP/1.1 101 Switching Protocols", "HTTP/1.1 103 Early Hints",
        "HTTP/1.1 204 No Content", "HTTP/1.1 304 Not Modified"}) {
    ResponseHead h;
    ASSERT_EQ(Resp(std::string(line) + "\r\n\r\n", &h).result, ParseResult::kDone) << line;
    EXPECT_EQ(h.body, BodyKind::kNone) << line;
    EXPECT_TRUE(h.keep_alive) << line;
  }
}

TEST(HttpResponse, Http10KeepAlive) {
  ResponseHead h;
  ASSERT_EQ(
      Resp("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", &h).result,
      ParseResult::kDone);
  EXPECT_EQ(h.minor, 0);
  EXPECT_TRUE(h.keep_alive);
}

TEST(HttpResponse, Http10DefaultClose) {
  ResponseHead h;
  ASSERT_EQ(Resp("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", &h).result, ParseResult::kDone);
  EXPECT_FALSE(h.keep_alive);
}

TEST(HttpResponse, Http11Close) {
  ResponseHead h;
  ASSERT_EQ(
      Resp("HTTP/1.1 200 OK\r\nConnection: Close, X-Y\r\nContent-Length: 1\r\n\r\n", &h).result,
      ParseResult::kDone);
  EXPECT_FALSE(h.keep_alive);
  ASSERT_EQ(h.connection_tokens.size(), 2u);
  EXPECT_EQ(h.connection_tokens[1], "X-Y");
}

TEST(HttpResponse, ReasonOptional) {
  ResponseHead h;
  ASSERT_EQ(Resp("HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", &h).result, ParseResult::kDone);
  EXPECT_EQ(h.status, 404);
  EXPECT_EQ(h.reason, "");
  ASSERT_EQ(Resp("HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", &h).result, ParseResult::kDone);
  EXPECT_EQ(h.reason, "");
  ASSERT_EQ(Resp("HTTP/1.1 404 Not  Found\xe9\r\nContent-Length: 0\r\n\r\n", &h).result,
            ParseResult::kDone);
  EXPECT_EQ(h.reason, "Not  Found\xe9");
}

TEST(HttpResponse, ContentLengthRepeatedAgreeing) {
  ResponseHead h;
  ASSERT_EQ(Resp("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3,3\r\n\r\n", &h).result,
            ParseResult::kDone);
  EXPECT_EQ(h.content_length, 3u);
}

TEST(HttpResponseReject, ContentLengthAndChunked) {
  EXPECT_EQ(
      RespStatus("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
      502);
}

TEST(HttpResponseReject, TransferEncodingInHttp10) {
  EXPECT_EQ(RespStatus("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), 502);
}

TEST(HttpResponseReject, CodingBeforeChunked) {
  EXPECT_EQ(RespStatus("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 502);
}

TEST(HttpResponseReject, ChunkedTwice) {
  EXPECT_EQ(RespStatus("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n"),
            502);
}

TEST(HttpResponseReject, TransferEncodingEmptyElement) {
  EXPECT_EQ(RespStatus("HTTP/1.1 200 OK\r\nTransfer-Encoding: ,chunked\r\n\r\n"), 502);
}

TEST(HttpResponseReject, ContentLengthDisagreeing) {
  EXPECT_EQ(RespStatus("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"), 502);
}

TEST(HttpResponseReject, ContentLengthSign) {
  EXPECT_EQ(RespStatus("HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\n"), 502);
}

TEST(HttpResponseReject, ContentLengthSixteenDigits) {
  EXPECT_EQ(RespStatus("HTTP/1.1 200 OK\r\nContent-Length: 0000000000000003\r\n\r\n"), 502);
}

TEST(HttpResponseReject, ContentLengthCheckedEvenWithoutBody) {
  EXPECT_EQ(RespStatus("HTTP/1.1 304 Not Modified\r\nContent-Length: x\r\n\r\n"), 502);
}

TEST(HttpResponseReject, BareLf) {
  EXPECT_EQ(RespStatus("HTTP/1.1 200 OK\nContent-Length: 0\n\n"), 502);
}

TEST(HttpResponseReject, BareCr) {
  EXPECT_EQ(RespStatus("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n"), 502);
}

TEST(HttpResponseReject, Nul) { EXPECT_EQ(RespStatus("HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n"s), 502); }

TEST(HttpResponseReject, ObsFold) {
  EXPECT_EQ(RespStatus("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"), 502);
}

TEST(HttpResponseReject, WhitespaceBeforeColon) {
  EXPECT_EQ(RespStatus("HTTP/1.1 200 OK\r\nContent-Length : 3\r\n\r\n"), 502);
}

TEST(HttpResponseReject, LeadingEmptyLine) {
  EXPECT_EQ(RespStatus("\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 502);
}

TEST(HttpResponseReject, BadVersion) {
  EXPECT_EQ(RespStatus("HTTP/2.0 200 OK\r\n\r\n"), 502);
  EXPECT_EQ(RespStatus("HTTP/1.2 200 OK\r\n\r\n"), 502);
  EXPECT_EQ(RespStatus("ICY 200 OK\r\n\r\n"), 502);
  EXPECT_EQ(RespStatus("HTTP/1.1  200 OK\r\n\r\n"), 502);
}

TEST(HttpResponseReject, BadStatusCode) {
  EXPECT_EQ(RespStatus("HTTP/1.1 20 OK\r\n\r\n"), 502);
  EXPECT_EQ(RespStatus("HTTP/1.1 2000 OK\r\n\r\n"), 502);
  EXPECT_EQ(RespStatus("HTTP/1.1 099 OK\r\n\r\n"), 502);
  EXPECT_EQ(RespStatus("HTTP/1.1 600 OK\r\n\r\n"), 502);
  EXPECT_EQ(RespStatus("HTTP/1.1 2x0 OK\r\n\r\n"), 502);
}

TEST(HttpResponseReject, ControlCharInReason) {
  EXPECT_EQ(RespStatus("HTTP/1.1 200 O\x01K\r\n\r\n"), 502);
}

TEST(HttpResponseReject, StatusLineTooLong) {
  Limits l;
  l.max_request_line = 16;
  EXPECT_EQ(Resp("HTTP/1.1 200 OKK\r\n\r\n", "GET", l).result, ParseResult::kDone);
  Outcome o = Resp("HTTP/1.1 200 OKKK\r\n\r\n", "GET", l);
  EXPECT_EQ(o.status, 502);
  o = Resp("HTTP/1.1 200 OKKKKKKK", "GET", l);  // incomplete
  EXPECT_EQ(o.status, 502);
}

TEST(HttpResponseReject, FieldTooLong) {
  Limits l;
  l.max_field_size = 6;
  EXPECT_EQ(Resp("HTTP/1.1 200 OK\r\nX: 123\r\n\r\n", "GET", l).result, ParseResult::kDone);
  EXPECT_EQ(Resp("HTTP/1.1 200 OK\r\nX: 1234\r\n\r\n", "GET", l).status, 502);
}

TEST(HttpResponseReject, TooManyFields) {
  Limits l;
  l.max_fields = 1;
  EXPECT_EQ(Resp("HTTP/1.1 200 OK\r\nA: 1\r\n\r\n", "GET", l).result, ParseResult::kDone);
  EXPECT_EQ(Resp("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n", "GET", l).status, 502);
}

// ---------------------------------------------------------------------------
// Hop-by-hop helpers.

TEST(HttpHopByHop, KnownFields) {
  for (const char* n :
       {"Connection", "keep-alive", "Proxy-Connection", "TE", "Trailer", "transfer-encoding",
        "UPGRADE", "Proxy-Authorization", "proxy-authenticate"}) {
    EXPECT_TRUE(IsHopByHop(n)) << n;
  }
  for (const char* n : {"Host", "Content-Length", "Trailers", "Tee", "X-Proxy-Id", "Proxy",
                        "Cookie", "Upgrade-Insecure-Requests"}) {
    EXPECT_FALSE(IsHopByHop(n)) << n;
  }
}

TEST(HttpHopByHop, ClassifyFieldNameAgreesWithIsHopByHop) {
  for (const char* n : {"Connection",
                        "keep-alive",
                        "Proxy-Connection",
                        "TE",
                        "Trailer",
                        "transfer-encoding",
                        "UPGRADE",
                        "Proxy-Authorization",
                        "proxy-authenticate",
                        "Proxy-",
                        "Host",
                        "Content-Length",
                        "Trailers",
                        "Tee",
                        "X-Proxy-Id",
                        "Proxy",
                        "Cookie",
                        "Upgrade-Insecure-Requests",
                        "Via",
                        "Set-Cookie",
                        "Location",
                        "X-Forwarded-Proto",
                        "Proxy-Location"}) {
    EXPECT_EQ(ClassifyFieldName(n) == FieldName::kHopByHop, IsHopByHop(n)) << n;
  }
}

TEST(HttpHopByHop, ClassifyFieldNameSpecialFields) {
  const std::pair<const char*, FieldName> cases[] = {
      {"host", FieldName::kHost},
      {"HOST", FieldName::kHost},
      {"Content-Length", FieldName::kContentLength},
      {"expect", FieldName::kExpect},
      {"Location", FieldName::kLocation},
      {"content-location", FieldName::kContentLocation},
      {"URI", FieldName::kUri},
      {"Destination", FieldName::kDestination},
      {"Set-Cookie", FieldName::kSetCookie},
      {"via", FieldName::kVia},
      {"X-Forwarded-For", FieldName::kXForwardedFor},
      {"x-forwarded-host", FieldName::kXForwardedHost},
      {"X-Forwarded-Server", FieldName::kXForwardedServer},
      {"X-FORWARDED-PROTO", FieldName::kXForwardedProto},
      // Same sizes, other names.
      {"hosts", FieldName::kOther},
      {"Hast", FieldName::kOther},
      {"Set-Cookie2", FieldName::kOther},
      {"Content-Lengtx", FieldName::kOther},
      {"X-Forwarded-Fox", FieldName::kOther},
      {"Cookie", FieldName::kOther},
      {"Vias", FieldName::kOther},
      {"", FieldName::kOther},
  };
  for (const auto& [name, want] : cases) {
    EXPECT_EQ(ClassifyFieldName(name), want) << name;
  }
}

// Names are compared a word (8 or 4 bytes) at a time: a difference at any position,
// the overlapping last word's included, must tell them apart, and case must not.
TEST(HttpHopByHop, ClassifyFieldNameEveryPosition) {
  const std::pair<std::string, FieldName> names[] = {
      {"host", FieldName::kHost},
      {"expect", FieldName::kExpect},
      {"location", FieldName::kLocation},
      {"set-cookie", FieldName::kSetCookie},
      {"destination", FieldName::kDestination},
      {"content-length", FieldName::kContentLength},
      {"x-forwarded-for", FieldName::kXForwardedFor},
      {"content-location", FieldName::kContentLocation},
      {"x-forwarded-proto", FieldName::kXForwardedProto},
      {"x-forwarded-server", FieldName::kXForwardedServer},
  };
  for (const auto& [name, kind] : names) {
    std::string upper = name;
    for (char& c : upper) {
      c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
    }
    EXPECT_EQ(ClassifyFieldName(upper), kind) << upper;
    for (size_t i = 0; i < name.size(); ++i) {
      std::string other = name;
      other[i] = other[i] == 'q' ? 'z' : 'q';
      EXPECT_NE(ClassifyFieldName(other), kind) << other;
      other[i] = '!';
      EXPECT_NE(ClassifyFieldName(other), kind) << other;
    }
  }
}

TEST(HttpHopByHop, IsListedIn) {
  std::vector<std::string_view> tokens = {"keep-alive", "X-Secret"};
  EXPECT_TRUE(IsListedIn("x-secret", tokens));
  EXPECT_TRUE(IsListedIn("Keep-Alive", tokens));
  EXPECT_FALSE(IsListedIn("X-Secret2", tokens));
  EXPECT_FALSE(IsListedIn("x", {}));
}

// ---------------------------------------------------------------------------
// Every input split at every byte offset: each prefix [0, k) answers
// kIncomplete or exactly the whole input's error, and parsing the whole input
// afterwards (with the same, reused head) answers as a fresh parse does.

struct SplitCase {
  std::string input;
  Limits limits;
};

std::vector<SplitCase> RequestSplitCases() {
  Limits small;
  small.max_request_line = 24;
  small.max_field_size = 12;
  small.max_fields = 3;
  std::vector<SplitCase> cases = {
      {"GET /a?b HTTP/1.1\r\nHost: a\r\nX-Y: z\r\n\r\n", {}},
      {"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET", {}},
      {"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", {}},
      {"\r\n\r\nGET / HTTP/1.0\r\n\r\n", {}},
      {"GET http://a.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n", {}},
      {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", {}},
      {"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n y\r\n\r\n", {}},
      {"GET / HTTP/1.1\nHost: a\r\n\r\n", {}},
      {"GET / HTTP/1.1\r\nHost: a\r\n\n", {}},
      {"GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n", {}},
      {"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"s, {}},
      {"GET / HTTP/1.2\r\nHost: a\r\nX: a\0b\r\n\r\n"s, {}},
      {"GET / HTTP/1.2\r\nHost: a\r\n\r\n", {}},
      {"GET /\r\n\r\n", {}},
      {"G@T / HTTP/1.1\r\nHost: a\r\n\r\n", {}},
      {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", {}},
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", {}},
      {"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", {}},
      {"GET /0123456789012345678901 HTTP/1.1\r\nHost: a\r\n\r\n", small},
      {"GET / HTTP/1.1\r\nHost: a\r\nX-Long: 123456789\r\n\r\n", small},
      {"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", small},
      {"GET /x HTTP/9.9\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", small},
      {"\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", small},
  };
  return cases;
}

void ExpectSameOutcome(const Outcome& a, const Outcome& b, const std::string& what) {
  EXPECT_EQ(a.result, b.result) << what;
  EXPECT_EQ(a.status, b.status) << what;
  EXPECT_EQ(a.reason, b.reason) << what;
  if (a.result == ParseResult::kDone) {
    EXPECT_EQ(a.head_size, b.head_size) << what;
  }
}

TEST(HttpSplit, RequestsAtEveryOffset) {
  for (const SplitCase& c : RequestSplitCases()) {
    const Outcome whole = Req(c.input, c.limits);
    ASSERT_NE(whole.result, ParseResult::kIncomplete) << c.input;
    for (size_t k = 0; k < c.input.size(); ++k) {
      const std::string what = "input '" + c.input + "' split at " + std::to_string(k);
      RequestHead h;
      const Outcome part = Req(std::string_view(c.input).substr(0, k), &h, c.limits);
      if (part.result == ParseResult::kError) {
        EXPECT_EQ(part.status, whole.status) << what;
        EXPECT_EQ(part.reason, whole.reason) << what;
      } else if (part.result == ParseResult::kDone) {
        // Only possible once the head is complete (bytes after it arrived).
        EXPECT_EQ(whole.result, ParseResult::kDone) << what;
        EXPECT_GE(k, whole.head_size) << what;
        EXPECT_EQ(part.head_size, whole.head_size) << what;
      }
      ExpectSameOutcome(Req(c.input, &h, c.limits), whole, what + " then whole");
    }
  }
}

TEST(HttpSplit, RequestSplitCasesCoverEveryOutcome) {
  // Guards the table above: it must hold successes and several kinds of errors.
  int done = 0;
  std::vector<int> statuses;
  for (const SplitCase& c : RequestSplitCases()) {
    Outcome o = Req(c.input, c.limits);
    if (o.result == ParseResult::kDone) {
      ++done;
    } else {
      statuses.push_back(o.status);
    }
  }
  EXPECT_GE(done, 5);
  for (int s : {400, 414, 431, 501, 505}) {
    EXPECT_NE(std::find(statuses.begin(), statuses.end(), s), statuses.end()) << s;
  }
}

TEST(HttpSplit, ResponsesAtEveryOffset) {
  Limits small;
  small.max_field_size = 12;
  const std::vector<SplitCase> cases = {
      {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX: y\r\n\r\nhi", {}},
      {"HTTP/1.1 204 No Content\r\n\r\n", {}},
      {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", {}},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", {}},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", {}},
      {"HTTP/1.1 200 OK\nContent-Length: 1\r\n\r\n", {}},
      {"HTTP/1.1 200 OK\r\nX: 1\r\n\tfold\r\n\r\n", {}},
      {"HTTP/1.1 999 OK\r\nX: \0\r\n\r\n"s, {}},
      {"HTTP/1.1 200 OK\r\nX-Long: 123456789\r\n\r\n", small},
  };
  for (const SplitCase& c : cases) {
    ResponseHead fresh;
    const Outcome whole = Resp(c.input, &fresh, "GET", c.limits);
    ASSERT_NE(whole.result, ParseResult::kIncomplete) << c.input;
    for (size_t k = 0; k < c.input.size(); ++k) {
      const std::string what = "input '" + c.input + "' split at " + std::to_string(k);
      ResponseHead h;
      const Outcome part = Resp(std::string_view(c.input).substr(0, k), &h, "GET", c.limits);
      if (part.result == ParseResult::kError) {
        EXPECT_EQ(part.status, whole.status) << what;
        EXPECT_EQ(part.reason, whole.reason) << what;
      } else if (part.result == ParseResult::kDone) {
        EXPECT_GE(k, whole.head_size) << what;
      }
      ExpectSameOutcome(Resp(c.input, &h, "GET", c.limits), whole, what + " then whole");
    }
  }
}

// Single-byte corruption of a valid head at every offset must never make the
// parser accept something with different framing silently: either it still
// parses (the byte was harmless) or it is rejected; never a crash, and prefixes
// stay consistent with the whole.
TEST(HttpSplit, CorruptedRequestsStayConsistent) {
  const std::string base =
      "POST /a?b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: close\r\n\r\n";
  for (size_t at = 0; at < base.size(); ++at) {
    for (char bad : {'\0', '\n', '\r', ' ', '\x7f', ':', '#'}) {
      std::string in = base;
      in[at] = bad;
      const Outcome whole = Req(in);
      for (size_t k = 0; k < in.size(); ++k) {
        const Outcome part = Req(std::string_view(in).substr(0, k));
        if (part.result == ParseResult::kError) {
          ASSERT_EQ(whole.result, ParseResult::kError) << at << " " << k;
          EXPECT_EQ(part.status, whole.status) << at << " " << k;
          EXPECT_EQ(part.reason, whole.reason) << at << " " << k;
        }
      }
    }
  }
}

// Random single-byte edits (fixed seed, so deterministic) of valid heads,
// checked at every split: the same property on inputs nobody thought of.
TEST(HttpSplit, RandomMutationsStayConsistent) {
  const std::vector<std::string> seeds = {
      "GET /a?b HTTP/1.1\r\nHost: a\r\nX-Y: z\r\n\r\n",
      "POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: x, close\r\n\r\n",
      "PUT /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
      "GET http://a.example:80/x HTTP/1.1\r\nHost: a.example:80\r\n\r\n",
      "\r\nOPTIONS * HTTP/1.0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n",
      "HTTP/1.0 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
  };
  static const char kBytes[] = "\r\n\0 \t:;,=\"/?#*aZ09-HTP.\x80\xff\x7f";
  Limits limits;
  limits.max_request_line = 40;
  limits.max_field_size = 40;
  limits.max_fields = 3;
  std::mt19937_64 rng(20251126);
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
    const bool request = in[0] != 'H';
    auto parse = [&](std::string_view part) {
      return request ? Req(part, limits) : Resp(part, "GET", limits);
    };
    const Outcome whole = parse(in);
    for (size_t k = 0; k < in.size(); ++k) {
      const Outcome part = parse(std::string_view(in).substr(0, k));
      if (part.result == ParseResult::kError) {
        ASSERT_EQ(whole.result, ParseResult::kError) << round << " at " << k;
        ASSERT_EQ(part.status, whole.status) << round << " at " << k;
        ASSERT_EQ(part.reason, whole.reason) << round << " at " << k;
      } else if (part.result == ParseResult::kDone) {
        ASSERT_EQ(whole.result, ParseResult::kDone) << round << " at " << k;
        ASSERT_EQ(part.head_size, whole.head_size) << round << " at " << k;
      }
    }
    if (whole.result == ParseResult::kDone && request) {
      RequestHead h;
      ASSERT_EQ(Req(in, &h, limits).result, ParseResult::kDone);
      for (const Header& f : h.headers) {
        EXPECT_EQ(f.value.find_first_of("\r\n"s + '\0'), std::string_view::npos) << round;
      }
    }
  }
}

}  // namespace
}  // namespace drover::http
