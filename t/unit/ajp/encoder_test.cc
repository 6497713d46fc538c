// AJP13 encoding: the exact bytes of FORWARD_REQUEST for a known request
// (hand-built, laid out as mod_proxy_ajp's ajp_marshal_into_msgb writes it),
// method and header codes, attributes, the packet-size limit, body packets
// and CPING.
#include "ajp/encoder.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

// The expected packets are laid out by hand, one AJP field per line.
// clang-format off

namespace drover::ajp {
namespace {

using namespace std::string_literals;

// Printable dump for failure messages.
std::string Hex(std::string_view s) {
  static const char* d = "0123456789abcdef";
  std::string r;
  for (unsigned char c : s) {
    r.push_back(d[c >> 4]);
    r.push_back(d[c & 15]);
    r.push_back(' ');
  }
  return r;
}

ForwardRequest Minimal(std::string_view method = "GET") {
  ForwardRequest r;
  r.method = method;
  r.req_uri = "/";
  r.remote_addr = "10.0.0.1";
  r.server_name = "h";
  r.server_port = 8080;
  return r;
}

// The fixed part of Minimal() (FORWARD_REQUEST up to and including the
// header count), after the 4-byte packet header.
std::string MinimalPrefix(char method_code) {
  return "\x02"s + method_code +
         "\x00\x08" "HTTP/1.1\0"s +   // protocol
         "\x00\x01" "/\0"s +          // req_uri
         "\x00\x08" "10.0.0.1\0"s +   // remote_addr
         "\xff\xff"s +                // remote_host: null
         "\x00\x01" "h\0"s +          // server_name
         "\x1f\x90"s +                // server_port 8080
         "\x00"s +                    // is_ssl
         "\x00\x00"s;                 // no headers
}

std::string WithHeader(const std::string& payload) {
  return "\x12\x34"s + static_cast<char>(payload.size() >> 8) +
         static_cast<char>(payload.size() & 0xff) + payload;
}

TEST(AjpEncode, ForwardRequestExactBytes) {
  ForwardRequest r;
  r.method = "GET";
  r.protocol = "HTTP/1.1";
  r.req_uri = "/app/hello";
  r.remote_addr = "192.0.2.7";
  r.server_name = "www.example.com";
  r.server_port = 80;
  r.headers = {{"Host", "www.example.com"},
               {"User-Agent", "curl/8.0"},
               {"Accept", "*/*"},
               {"X-Trace", "abc"},
               {"Cookie", "JSESSIONID=abc.node1"}};
  r.query_string = "x=1&y=2";
  r.jvm_route = "node1";
  r.secret = "s3cr3t";
  r.req_attributes = {{"AJP_REMOTE_PORT", "51234"}, {"AJP_LOCAL_ADDR", "127.0.0.1"}};

  const std::string expected =
      "\x12\x34\x00\xe9"s +                          // magic, payload length 233
      "\x02"s +                                      // FORWARD_REQUEST
      "\x02"s +                                      // GET
      "\x00\x08" "HTTP/1.1\0"s +                     // protocol
      "\x00\x0a" "/app/hello\0"s +                   // req_uri
      "\x00\x09" "192.0.2.7\0"s +                    // remote_addr
      "\xff\xff"s +                                  // remote_host: null string
      "\x00\x0f" "www.example.com\0"s +              // server_name
      "\x00\x50"s +                                  // server_port 80
      "\x00"s +                                      // is_ssl
      "\x00\x05"s +                                  // 5 headers
      "\xa0\x0b" "\x00\x0f" "www.example.com\0"s +   // Host
      "\xa0\x0e" "\x00\x08" "curl/8.0\0"s +          // User-Agent
      "\xa0\x01" "\x00\x03" "*/*\0"s +               // Accept
      "\x00\x07" "X-Trace\0" "\x00\x03" "abc\0"s +   // X-Trace (not coded)
      "\xa0\x09" "\x00\x14" "JSESSIONID=abc.node1\0"s +  // Cookie
      "\x0c" "\x00\x06" "s3cr3t\0"s +                // secret
      "\x05" "\x00\x07" "x=1&y=2\0"s +               // query_string
      "\x06" "\x00\x05" "node1\0"s +                 // jvm_route
      "\x0a" "\x00\x0f" "AJP_REMOTE_PORT\0" "\x00\x05" "51234\0"s +
      "\x0a" "\x00\x0e" "AJP_LOCAL_ADDR\0" "\x00\x09" "127.0.0.1\0"s +
      "\xff"s;                                       // terminator
  ASSERT_EQ(expected.size(), 237u);

  std::string out;
  core::Status st = EncodeForwardRequest(r, kDefaultPacketSize, &out);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(out, expected) << "got  " << Hex(out) << "\nwant " << Hex(expected);
}

TEST(AjpEncode, MinimalRequest) {
  std::string out;
  ASSERT_TRUE(EncodeForwardRequest(Minimal(), kDefaultPacketSize, &out).ok());
  EXPECT_EQ(out, WithHeader(MinimalPrefix('\x02') + "\xff"s));
}

TEST(AjpEncode, AppendsToExistingOutput) {
  std::string out = "queued";
  ASSERT_TRUE(EncodeForwardRequest(Minimal(), kDefaultPacketSize, &out).ok());
  EXPECT_EQ(out, "queued" + WithHeader(MinimalPrefix('\x02') + "\xff"s));
}

TEST(AjpEncode, MethodCodes) {
  const char* names[] = {"OPTIONS",   "GET",         "HEAD",        "POST",
                         "PUT",       "DELETE",      "TRACE",       "PROPFIND",
                         "PROPPATCH", "MKCOL",       "COPY",        "MOVE",
                         "LOCK",      "UNLOCK",      "ACL",         "REPORT",
                         "VERSION-CONTROL", "CHECKIN", "CHECKOUT",  "UNCHECKOUT",
                         "SEARCH",    "MKWORKSPACE", "UPDATE",      "LABEL",
                         "MERGE",     "BASELINE-CONTROL", "MKACTIVITY"};
  for (size_t i = 0; i < std::size(names); ++i) {
    EXPECT_EQ(MethodCode(names[i]), i + 1) << names[i];
  }
  EXPECT_EQ(MethodCode("PATCH"), kMethodStored);
  EXPECT_EQ(MethodCode("get"), kMethodStored);  // methods are case-sensitive
  EXPECT_EQ(MethodCode("BREW"), kMethodStored);
  EXPECT_EQ(MethodCode(""), kMethodStored);
}

TEST(AjpEncode, EveryTableMethodIsSentAsItsCode) {
  const std::pair<const char*, int> cases[] = {
      {"HEAD", 3}, {"POST", 4}, {"OPTIONS", 1}, {"MKACTIVITY", 27}};
  for (auto [m, code] : cases) {
    std::string out;
    ASSERT_TRUE(EncodeForwardRequest(Minimal(m), kDefaultPacketSize, &out).ok());
    EXPECT_EQ(out, WithHeader(MinimalPrefix(static_cast<char>(code)) + "\xff"s)) << m;
  }
}

// mod_proxy_ajp: a method outside the table is SC_M_JK_STORED (0xFF) plus the
// SC_A_STORED_METHOD attribute (0x0D) after the SSL attributes and before the
// request attributes.
TEST(AjpEncode, UnknownMethodIsStored) {
  ForwardRequest r = Minimal("PATCH");
  r.query_string = "a=b";
  r.req_attributes = {{"AJP_REMOTE_PORT", "1"}};
  std::string out;
  ASSERT_TRUE(EncodeForwardRequest(r, kDefaultPacketSize, &out).ok());
  EXPECT_EQ(out, WithHeader(MinimalPrefix('\xff') +
                            "\x05" "\x00\x03" "a=b\0"s +
                            "\x0d" "\x00\x05" "PATCH\0"s +
                            "\x0a" "\x00\x0f" "AJP_REMOTE_PORT\0" "\x00\x01" "1\0"s +
                            "\xff"s))
      << Hex(out);
}

TEST(AjpEncode, RequestHeaderCodes) {
  const char* names[] = {"Accept",        "Accept-Charset", "Accept-Encoding", "Accept-Language",
                         "Authorization", "Connection",     "Content-Type",    "Content-Length",
                         "Cookie",        "Cookie2",        "Host",            "Pragma",
                         "Referer",       "User-Agent"};
  for (size_t i = 0; i < std::size(names); ++i) {
    EXPECT_EQ(RequestHeaderCode(names[i]), 0xA001 + i) << names[i];
  }
  EXPECT_EQ(RequestHeaderCode("content-length"), 0xA008);
  EXPECT_EQ(RequestHeaderCode("CONTENT-TYPE"), 0xA007);
  EXPECT_EQ(RequestHeaderCode("cOoKiE"), 0xA009);
  EXPECT_EQ(RequestHeaderCode("hOST"), 0xA00B);
  for (const char* n : {"Accept-Datetime", "Accept-", "Hosts", "Cookie3", "X", "", "Referrer",
                        "Content-Location", "Set-Cookie"}) {
    EXPECT_EQ(RequestHeaderCode(n), 0) << n;
  }
}

TEST(AjpEncode, HeadersCodedCaseInsensitivelyAndInOrder) {
  ForwardRequest r = Minimal("POST");
  r.headers = {{"content-type", "text/plain"}, {"CONTENT-LENGTH", "5"}, {"x-a", ""},
               {"Cookie", "a=1"}, {"cookie", "b=2"}};
  std::string out;
  ASSERT_TRUE(EncodeForwardRequest(r, kDefaultPacketSize, &out).ok());
  std::string prefix = MinimalPrefix('\x04');
  prefix.replace(prefix.size() - 2, 2, "\x00\x05"s);
  EXPECT_EQ(out, WithHeader(prefix +
                            "\xa0\x07" "\x00\x0a" "text/plain\0"s +
                            "\xa0\x08" "\x00\x01" "5\0"s +
                            "\x00\x03" "x-a\0" "\x00\x00" "\0"s +
                            "\xa0\x09" "\x00\x03" "a=1\0"s +
                            "\xa0\x09" "\x00\x03" "b=2\0"s +
                            "\xff"s))
      << Hex(out);
}

TEST(AjpEncode, RemoteHostAndEmptyQuery) {
  ForwardRequest r = Minimal();
  r.remote_host = "client.example";
  r.query_string = "";  // "/?" has an empty query: still sent, as Apache does
  std::string out;
  ASSERT_TRUE(EncodeForwardRequest(r, kDefaultPacketSize, &out).ok());
  std::string prefix = MinimalPrefix('\x02');
  prefix.replace(prefix.find("\xff\xff"s), 2, "\x00\x0e" "client.example\0"s);
  EXPECT_EQ(out, WithHeader(prefix + "\x05" "\x00\x00" "\0"s + "\xff"s)) << Hex(out);
}

TEST(AjpEncode, UserAndAuthType) {
  ForwardRequest r = Minimal();
  r.remote_user = "bob";
  r.auth_type = "Basic";
  r.secret = "k";
  std::string out;
  ASSERT_TRUE(EncodeForwardRequest(r, kDefaultPacketSize, &out).ok());
  EXPECT_EQ(out, WithHeader(MinimalPrefix('\x02') +
                            "\x0c" "\x00\x01" "k\0"s +
                            "\x03" "\x00\x03" "bob\0"s +
                            "\x04" "\x00\x05" "Basic\0"s +
                            "\xff"s))
      << Hex(out);
}

TEST(AjpEncode, SslAttributesOnlyOverTls) {
  ForwardRequest r = Minimal();
  r.ssl_cert = "PEM";
  r.ssl_cipher = "TLS_AES_128_GCM_SHA256";
  r.ssl_session = "ab12";
  r.ssl_key_size = 128;
  std::string out;
  ASSERT_TRUE(EncodeForwardRequest(r, kDefaultPacketSize, &out).ok());
  EXPECT_EQ(out, WithHeader(MinimalPrefix('\x02') + "\xff"s)) << "ssl data sent without tls";

  r.is_ssl = true;
  out.clear();
  ASSERT_TRUE(EncodeForwardRequest(r, kDefaultPacketSize, &out).ok());
  std::string prefix = MinimalPrefix('\x02');
  prefix[prefix.size() - 3] = '\x01';  // is_ssl
  EXPECT_EQ(out, WithHeader(prefix +
                            "\x07" "\x00\x03" "PEM\0"s +
                            "\x08" "\x00\x16" "TLS_AES_128_GCM_SHA256\0"s +
                            "\x09" "\x00\x04" "ab12\0"s +
                            "\x0b" "\x00\x80"s +  // key size: a 2-byte integer
                            "\xff"s))
      << Hex(out);

  // Empty values and a negative key size are not sent.
  r.ssl_cert = r.ssl_cipher = r.ssl_session = "";
  r.ssl_key_size = -1;
  out.clear();
  ASSERT_TRUE(EncodeForwardRequest(r, kDefaultPacketSize, &out).ok());
  EXPECT_EQ(out, WithHeader(prefix + "\xff"s));
}

// A request that is exactly max_packet bytes fits; one more byte does not,
// and nothing is appended then.
TEST(AjpEncode, OversizeIsAnError) {
  for (size_t max : {kDefaultPacketSize, size_t{16384}, kMaxPacketSize}) {
    ForwardRequest r = Minimal();
    std::string value;
    r.headers = {{"X-Big", value}};
    std::string probe;
    ASSERT_TRUE(EncodeForwardRequest(r, max, &probe).ok());
    // Pad the value so the packet is exactly `max` bytes.
    value.assign(max - probe.size(), 'v');
    r.headers[0].value = value;
    std::string out;
    core::Status st = EncodeForwardRequest(r, max, &out);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(out.size(), max);
    EXPECT_EQ(static_cast<unsigned char>(out[2]) * 256u + static_cast<unsigned char>(out[3]),
              max - 4);

    value.push_back('v');
    r.headers[0].value = value;
    out = "keep";
    st = EncodeForwardRequest(r, max, &out);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.message(), "forward request of " + std::to_string(max + 1) +
                                " bytes exceeds the packet size " + std::to_string(max));
    EXPECT_EQ(out, "keep");
  }
}

TEST(AjpEncode, ManySmallHeadersOverflow) {
  ForwardRequest r = Minimal();
  for (int i = 0; i < 2000; ++i) {
    r.headers.push_back({"X-H", "v"});  // 10 bytes each
  }
  std::string out;
  EXPECT_FALSE(EncodeForwardRequest(r, kDefaultPacketSize, &out).ok());
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(EncodeForwardRequest(r, kMaxPacketSize, &out).ok());
}

TEST(AjpEncode, StringTooLongForAjp) {
  ForwardRequest r = Minimal();
  std::string value(0xFFFF, 'v');
  r.headers = {{"X", value}};
  std::string out;
  core::Status st = EncodeForwardRequest(r, kMaxPacketSize, &out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "a request field of 65535 bytes or more cannot be encoded");
  EXPECT_TRUE(out.empty());
}

// A string's length 0xA0nn would read as a coded header name: the name's own bytes
// would then be parsed as headers and attributes (say, a secret or a req_attribute).
TEST(AjpEncode, HeaderNameThatWouldReadAsACodedNameIsAnError) {
  ForwardRequest r = Minimal();
  std::string name(kMaxStringHeaderName, 'n');
  r.headers = {{name, "v"}};
  std::string out = "kept";
  core::Status st = EncodeForwardRequest(r, kMaxPacketSize, &out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "a request header name of 40960 bytes or more cannot be encoded");
  EXPECT_EQ(out, "kept");
  name.pop_back();  // 40959 bytes: its length 0x9fff is not a code
  r.headers = {{name, "v"}};
  ASSERT_TRUE(EncodeForwardRequest(r, kMaxPacketSize, &out).ok());
  EXPECT_EQ(out.substr(4 + 4 + MinimalPrefix('\x02').size(), 2), "\x9f\xff"s);
  // A long value is fine: values are never codes.
  const std::string value(kMaxStringHeaderName, 'v');  // the views below point into it
  r.headers = {{"X", value}};
  out.clear();
  EXPECT_TRUE(EncodeForwardRequest(r, kMaxPacketSize, &out).ok());
}

TEST(AjpEncode, BadArguments) {
  std::string out;
  core::Status st = EncodeForwardRequest(Minimal(), 512, &out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "packet size 512 outside 1024..65536");
  EXPECT_FALSE(EncodeForwardRequest(Minimal(), 65537, &out).ok());
  EXPECT_EQ(EncodeForwardRequest(Minimal(""), 8192, &out).message(), "empty request method");
  EXPECT_EQ(EncodeForwardRequest(Minimal("GE T"), 8192, &out).message(),
            "request method is not a token");
  EXPECT_FALSE(EncodeForwardRequest(Minimal("G\r\nX"), 8192, &out).ok());
  EXPECT_TRUE(out.empty());
}

TEST(AjpEncode, BodyChunks) {
  std::string out;
  ASSERT_TRUE(EncodeBodyChunk("hello", 5, kDefaultPacketSize, &out).ok());
  EXPECT_EQ(out, "\x12\x34\x00\x07\x00\x05hello"s);
  // The empty packet that ends the body, as mod_proxy_ajp sends it.
  ASSERT_TRUE(EncodeBodyChunk(nullptr, 0, kDefaultPacketSize, &out).ok());
  EXPECT_EQ(out, "\x12\x34\x00\x07\x00\x05hello" "\x12\x34\x00\x02\x00\x00"s);
}

TEST(AjpEncode, BodyChunkLimit) {
  EXPECT_EQ(MaxBodyChunk(kDefaultPacketSize), 8186u);
  EXPECT_EQ(MaxBodyChunk(kMaxPacketSize), 65530u);
  for (size_t max : {kDefaultPacketSize, kMaxPacketSize}) {
    std::string data(MaxBodyChunk(max) + 1, 'd');
    std::string out;
    core::Status st = EncodeBodyChunk(data.data(), data.size() - 1, max, &out);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(out.size(), max);  // a full body packet is exactly max_packet bytes
    EXPECT_EQ(out.substr(0, 6), "\x12\x34"s + static_cast<char>((max - 4) >> 8) +
                                    static_cast<char>((max - 4) & 0xff) +
                                    static_cast<char>((max - 6) >> 8) +
                                    static_cast<char>((max - 6) & 0xff));
    out.clear();
    st = EncodeBodyChunk(data.data(), data.size(), max, &out);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.message(), "body chunk of " + std::to_string(data.size()) +
                                " bytes exceeds the packet size " + std::to_string(max));
    EXPECT_TRUE(out.empty());
  }
}

TEST(AjpEncode, BodyChunkHeader) {
  auto h = BodyChunkHeader(0x1ffa);
  EXPECT_EQ(std::string(h.data(), h.size()), "\x12\x34\x1f\xfc\x1f\xfa"s);
  h = BodyChunkHeader(0);
  EXPECT_EQ(std::string(h.data(), h.size()), "\x12\x34\x00\x02\x00\x00"s);
}

TEST(AjpEncode, Cping) { EXPECT_EQ(EncodeCping(), "\x12\x34\x00\x01\x0a"s); }

}  // namespace
}  // namespace drover::ajp
// clang-format on
