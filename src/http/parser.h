// Strict, incremental HTTP/1.1 message-head parsing (RFC 9112) and chunked
// framing. Pure code: no sockets, no allocation beyond the caller-owned header
// vector (its capacity is reused between messages). Run by workers.
//
// Incremental contract: the caller passes everything buffered so far; the
// parser answers kIncomplete until the head's terminating CRLFCRLF has arrived
// (checking limits on the partial input), then kDone with views into the
// caller's buffer, or kError with the status to answer (400, 414, 431, 501, 505
// for requests; 502 for responses). Any split of the input gives the same result.
//
// Decisions (documented in drover.conf.5, "HTTP parsing"):
//  - Lines end in CRLF. A bare LF or a bare CR anywhere in a head or in chunk
//    framing is an error: we never guess where a line ends.
//  - obs-fold, whitespace before ':', empty field names, control characters
//    (other than HTAB in values) and NUL are errors.
//  - Content-Length: digits only; a list or repeated header whose values all
//    agree is accepted as that value, any disagreement is an error, more than
//    15 digits is an error. Content-Length together with Transfer-Encoding is
//    an error (400) on a request.
//  - Transfer-Encoding on a request must be exactly "chunked" (case-insensitive,
//    one coding); anything else with chunked last is 501 for unknown codings,
//    chunked not last is 400; Transfer-Encoding in an HTTP/1.0 request is 400.
//  - HTTP/1.1 requests need exactly one Host; HTTP/1.0 may omit it. A second
//    Host is 400. absolute-form targets must agree with Host.
//  - Only HTTP/1.0 and HTTP/1.1 are accepted (other 1.x: 505; anything else 400;
//    HTTP/0.9 simple requests: 400).
//  - Request line: exactly one SP between method (a token), target and version.
//    Targets: origin-form ("/..."), absolute-form with an http or https scheme
//    (path, query and host then come from it; no userinfo), "*" only with
//    OPTIONS. CONNECT and authority-form are not supported: 400. Targets hold
//    visible ASCII only, never '#'.
//  - Host (and an absolute-form authority): reg-name or [IP-literal], then
//    optionally ':' and 1-5 digits; empty is 400. absolute-form and Host are
//    compared case-insensitively as strings ("a:80" differs from "a").
//  - Empty lines before a request line are skipped (RFC 9112 §2.2) and count
//    towards max_request_line. Not so for responses.
//  - Empty elements in a Transfer-Encoding list are an error; in Connection
//    they are ignored. Expect: 100-continue is ignored in HTTP/1.0 requests
//    (RFC 9110 §10.1.1); other Expect values are left to the caller.
//  - Requests: Content-Length (even 0) gives kLength; kNone without framing.
//  - Responses (all errors 502): Transfer-Encoding with Content-Length, in
//    HTTP/1.0, with chunked twice, or with another coding before chunked (we
//    re-frame and could not pass that coding on) is refused. A
//    Transfer-Encoding not ending in chunked is read until close. The status
//    code must be 100-599; the SP before an empty reason phrase is optional.
//    Content-Length and Transfer-Encoding are validated even when the response
//    has no body (HEAD, 1xx, 204, 304).
//  - Order of errors: framing errors (NUL, bare CR/LF, 414/431 limits) are
//    checked on every byte that has arrived, in byte order. The start line's
//    syntax is checked as soon as that line is complete (so HTTP/0.9 requests
//    and bad versions are refused at once); field syntax errors are only
//    reported once the head is complete, and a framing error anywhere in the
//    head wins over them. Either way the first error in byte order that a
//    prefix can decide is the answer, which makes every split of the input
//    answer the same.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace drover::http {

struct Header {
  std::string_view name;
  std::string_view value;  // trimmed of surrounding SP/HTAB
};

enum class BodyKind { kNone, kLength, kChunked, kUntilClose };

enum class ParseResult { kIncomplete, kDone, kError };

struct Limits {
  size_t max_request_line = 8190;   // over -> 414
  size_t max_field_size = 8190;     // one header line; over -> 431
  size_t max_fields = 100;          // over -> 431
};

// Bits for well-known Connection tokens.
enum ConnectionFlag : uint32_t {
  kConnClose = 1u << 0,
  kConnKeepAlive = 1u << 1,
  kConnUpgrade = 1u << 2,
};

struct RequestHead {
  std::string_view method;
  std::string_view target;      // request-target as sent
  std::string_view path;        // origin-form path (from absolute-form too), without query
  std::string_view query;       // text after '?', without it ("" when none)
  bool has_query = false;
  int minor = 1;                // HTTP/1.<minor>
  std::vector<Header> headers;  // all fields, in order
  std::string_view host;        // the Host value (authority of absolute-form if given)
  BodyKind body = BodyKind::kNone;   // requests: kNone, kLength or kChunked
  uint64_t content_length = 0;
  uint32_t connection = 0;      // ConnectionFlag bits
  std::vector<std::string_view> connection_tokens;  // all Connection tokens, lowercase-insensitive
  bool keep_alive = true;       // from version and Connection
  bool expect_continue = false; // Expect: 100-continue
  std::string_view upgrade;     // Upgrade header value ("" if none)
  size_t head_size = 0;         // bytes of the head including the final CRLF
  void Clear();
};

struct ResponseHead {
  int status = 0;
  int minor = 1;
  std::string_view reason;
  std::vector<Header> headers;
  BodyKind body = BodyKind::kNone;
  uint64_t content_length = 0;
  uint32_t connection = 0;
  std::vector<std::string_view> connection_tokens;
  bool keep_alive = true;       // the member connection may be reused afterwards
  size_t head_size = 0;
  void Clear();
};

struct ParseError {
  int status = 400;             // HTTP status to answer with
  const char* reason = "";      // short lowercase text for the log, e.g. "bare lf in head"
};

ParseResult ParseRequestHead(const char* buf, size_t len, const Limits& limits, RequestHead* out,
                             ParseError* err);

// `request_method` decides body-less responses (HEAD), 1xx/204/304 never have
// a body; otherwise chunked > Content-Length > until close. Limits apply to
// the member's head too (max_field_size, max_fields; the status line uses
// max_request_line). Errors are reported with status 502.
ParseResult ParseResponseHead(const char* buf, size_t len, const Limits& limits,
                              std::string_view request_method, ResponseHead* out, ParseError* err);

// true for Connection, Keep-Alive, Proxy-Connection, TE, Trailer,
// Transfer-Encoding, Upgrade and any Proxy-* field (case-insensitive).
bool IsHopByHop(std::string_view name);

// The field names the proxy treats specially when it forwards a head, told apart
// with one switch on the length (case-insensitive). kHopByHop is every name
// IsHopByHop() is true for. `name` must be a token, as parsed heads' names are.
enum class FieldName : uint8_t {
  kOther,
  kHopByHop,
  kHost,
  kContentLength,
  kExpect,
  kLocation,
  kContentLocation,
  kUri,
  kDestination,
  kSetCookie,
  kVia,
  kXForwardedFor,
  kXForwardedHost,
  kXForwardedServer,
  kXForwardedProto,
};
FieldName ClassifyFieldName(std::string_view name);
// true when `name` is one of `tokens` (case-insensitive).
bool IsListedIn(std::string_view name, const std::vector<std::string_view>& tokens);

// Validates and walks chunked framing: chunk-size [; ext] CRLF data CRLF ...
// 0 CRLF [trailer fields CRLF] CRLF. Feed() consumes the longest valid prefix
// of the input; callers forward exactly the consumed bytes verbatim (they are
// unambiguous once validated).
class ChunkedDecoder {
 public:
  enum class Status { kNeedMore, kDone, kError };
  explicit ChunkedDecoder(size_t max_line = 4096, size_t max_trailer = 8192)
      : max_line_(max_line), max_trailer_(max_trailer) {}
  void Reset();
  // Consumes a prefix of [p, p+n). *consumed is set to its length (possibly
  // less than n only with kDone — bytes after the message belong to the next one
  // — or kError). `*payload` (optional) is increased by the data bytes consumed.
  Status Feed(const char* p, size_t n, size_t* consumed, uint64_t* payload = nullptr);
  const char* error() const { return error_; }
  // In chunk data: the next DataRemaining() bytes are payload (for de-chunking).
  bool InData() const { return state_ == State::kData && remaining_ > 0; }
  uint64_t DataRemaining() const { return state_ == State::kData ? remaining_ : 0; }

 private:
  // One state per position in the grammar; framing bytes are checked one at a
  // time, chunk data is skipped in bulk. See parser.cc.
  enum class State : uint8_t {
    kSize,           // chunk-size hex digits
    kSizeWs,         // BWS after the size or an extension, before ';'
    kExtNameStart,   // after ';': BWS, then the extension name
    kExtName,        // in the name
    kExtNameWs,      // BWS after the name, before '=' or ';'
    kExtValueStart,  // after '=': BWS, then a token or a quoted-string
    kExtToken,       // in a token value
    kExtQuoted,      // in a quoted-string
    kExtQuotedPair,  // after '\\' in a quoted-string
    kExtQuotedEnd,   // after the closing DQUOTE
    kSizeLf,         // CR seen at the end of the size line
    kData,           // chunk-data
    kDataCr,         // CR after the data
    kDataLf,         // LF after the data
    kTrailerStart,   // start of a trailer line (or the final CRLF)
    kTrailerName,    // in a trailer field name
    kTrailerValue,   // in a trailer field value
    kTrailerLf,      // CR seen at the end of a trailer line
    kFinalLf,        // CR of the final empty line seen
    kDone,
    kError,
  };
  Status Fail(const char* why);
  State state_ = State::kSize;
  uint64_t remaining_ = 0;  // chunk size being read, then data bytes left
  size_t size_digits_ = 0;  // hex digits of the current chunk-size
  size_t line_len_ = 0;     // bytes of the current size line (before CRLF)
  size_t trailer_len_ = 0;  // bytes of the trailer section so far
  size_t max_line_;
  size_t max_trailer_;
  const char* error_ = "";
};

}  // namespace drover::http
