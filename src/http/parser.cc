// Strict HTTP/1.1 head parsing and chunked framing (see parser.h for the
// contract). Pure code run by workers on every client and member read: no
// sockets, no allocation beyond the two caller-owned vectors, no exceptions.
//
// How "any split gives the same result" is kept while the incomplete path stays
// cheap. The checks come in two layers:
//  - framing checks decide where lines end and reject what no line may hold:
//    NUL, bare CR, bare LF, a line over its limit, one field too many. Each of
//    these errors is decided by a prefix of the input ending at the offending
//    byte, so they also run on what has arrived of an incomplete head; this is
//    what bounds what a hostile client can make us buffer.
//  - syntax and meaning (tokens, versions, Content-Length, Host, ...) are only
//    checked once the head's CRLFCRLF has arrived (requests), or checked as the
//    lines come but reported only once it has (responses, see WalkHead).
// The start line is the exception: it is parsed as soon as its CRLF has
// arrived, and its syntax error is reported at once (it is the first error in
// byte order). Example: "GET / HTTP/9.9\r\nA: \0" is 400 "unsupported http
// major version" both as is and once completed, and "GET /\r\n" (HTTP/0.9)
// is 400 without waiting for an empty line that never comes.
// In field lines the first framing error in byte order wins over any syntax
// error: a syntax error is remembered, the remaining lines are only framed,
// and it is reported when the head ends cleanly. So a prefix answers
// kIncomplete or exactly the error the whole head answers. Example:
// "GET / HTTP/1.1\r\nHost : a\r\nA: \0" is 400 "nul byte" both as is and
// once completed, not 400 "whitespace before colon".
//
// Per line the fast path is one memchr for the LF; the per-byte syntax loop of
// the complete head then also proves the line holds no NUL or CR. Only lines
// that fail get a byte-by-byte framing scan (ScanLineSlow) to classify the error.
#include "http/parser.h"

#include <array>
#include <cstring>

#include "core/strings.h"

namespace drover::http {
namespace {

using core::AsciiLower;
using core::IEquals;

// ---------------------------------------------------------------------------
// Character classes (RFC 9110 §5.6.2 token, §5.5 field-vchar, RFC 3986 host).

enum : uint8_t {
  kCharToken = 1 << 0,   // tchar
  kCharField = 1 << 1,   // SP / HTAB / VCHAR / obs-text: inside a field value
  kCharTarget = 1 << 2,  // request-target: visible ASCII except '#'
  kCharHex = 1 << 3,     // HEXDIG
  kCharHost = 1 << 4,    // reg-name: unreserved / sub-delims / '%'
  kCharQdtext = 1 << 5,  // qdtext of a quoted-string
  kCharDigit = 1 << 6,
};

constexpr std::array<uint8_t, 256> MakeCharTable() {
  std::array<uint8_t, 256> t{};
  constexpr std::string_view kTokenPunct = "!#$%&'*+-.^_`|~";
  constexpr std::string_view kHostPunct = "-._~!$&'()*+,;=%";
  for (int c = 0; c < 256; ++c) {
    uint8_t v = 0;
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    const bool vchar = c >= 0x21 && c <= 0x7e;
    if (alpha || digit ||
        (c > 0 && c < 128 && kTokenPunct.find(static_cast<char>(c)) != std::string_view::npos)) {
      v |= kCharToken;
    }
    if (c == ' ' || c == '\t' || vchar || c >= 0x80) {
      v |= kCharField;
    }
    if (vchar && c != '#') {
      v |= kCharTarget;
    }
    if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
      v |= kCharHex;
    }
    if (alpha || digit ||
        (c > 0 && c < 128 && kHostPunct.find(static_cast<char>(c)) != std::string_view::npos)) {
      v |= kCharHost;
    }
    if (c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
        (c >= 0x5d && c <= 0x7e) || c >= 0x80) {
      v |= kCharQdtext;
    }
    if (digit) {
      v |= kCharDigit;
    }
    t[c] = v;
  }
  return t;
}

constexpr std::array<uint8_t, 256> kChars = MakeCharTable();

inline bool Is(char c, uint8_t cls) { return (kChars[static_cast<unsigned char>(c)] & cls) != 0; }
inline bool IsWs(char c) { return c == ' ' || c == '\t'; }

inline bool Fail(ParseError* err, int status, const char* reason) {
  err->status = status;
  err->reason = reason;
  return false;
}

std::string_view TrimWs(std::string_view s) {
  while (!s.empty() && IsWs(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && IsWs(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

// Calls fn(element) for each comma-separated element of a list value, trimmed
// of SP/HTAB (empty elements included). Stops early when fn returns false.
template <typename Fn>
bool ForEachListElement(std::string_view v, Fn fn) {
  for (;;) {
    const size_t comma = v.find(',');
    if (!fn(TrimWs(v.substr(0, comma)))) {
      return false;
    }
    if (comma == std::string_view::npos) {
      return true;
    }
    v.remove_prefix(comma + 1);
  }
}

// ---------------------------------------------------------------------------
// Framing.

enum class LineScan { kLine, kIncomplete, kError };

// What one kind of line may hold and how its errors are reported.
struct LineRules {
  size_t max;       // longest content (without the CRLF)
  int bad_status;   // NUL, bare CR, bare LF
  int long_status;  // over `max`
  const char* long_reason;
};

// Byte-by-byte framing of the line starting at p with [p, end) available. On
// kLine, *eol points at the CR of its CRLF. The error is always the one at the
// first offending byte, whatever follows it.
LineScan ScanLineSlow(const char* p, const char* end, const LineRules& r, const char** eol,
                      ParseError* err) {
  const size_t avail = static_cast<size_t>(end - p);
  for (size_t i = 0; i < avail; ++i) {
    const char c = p[i];
    if (c == '\r') {
      if (i + 1 == avail) {
        return LineScan::kIncomplete;
      }
      if (p[i + 1] != '\n') {
        Fail(err, r.bad_status, "bare cr");
        return LineScan::kError;
      }
      *eol = p + i;
      return LineScan::kLine;
    }
    if (c == '\n') {
      Fail(err, r.bad_status, "bare lf");
      return LineScan::kError;
    }
    if (c == '\0') {
      Fail(err, r.bad_status, "nul byte");
      return LineScan::kError;
    }
    if (i >= r.max) {
      Fail(err, r.long_status, r.long_reason);
      return LineScan::kError;
    }
  }
  return LineScan::kIncomplete;
}

// Fast framing: one memchr for the LF within the limit. `check_content` also
// proves the content free of NUL and CR (needed when no syntax pass follows).
inline LineScan ScanLine(const char* p, const char* end, const LineRules& r, bool check_content,
                         const char** eol, ParseError* err) {
  const size_t avail = static_cast<size_t>(end - p);
  // The LF of a line within the limit is at most at index max + 1.
  const size_t window = avail - 2 < r.max || avail < 2 ? avail : r.max + 2;
  const char* lf = static_cast<const char*>(memchr(p, '\n', window));
  if (lf != nullptr && lf > p && lf[-1] == '\r') {
    const size_t n = static_cast<size_t>(lf - 1 - p);
    if (!check_content || (memchr(p, '\0', n) == nullptr && memchr(p, '\r', n) == nullptr)) {
      *eol = lf - 1;
      return LineScan::kLine;
    }
  }
  return ScanLineSlow(p, end, r, eol, err);
}

// True when "\r\n\r\n" occurs in the buffer: only then can the head be complete.
bool HasHeadEnd(const char* buf, size_t len) {
  if (len < 4) {
    return false;
  }
  if (memcmp(buf + len - 4, "\r\n\r\n", 4) == 0) {
    return true;  // the usual case: the read ended with the head
  }
  const char* p = buf + 1;
  const char* const last = buf + len - 2;  // an LF at q needs q[1], q[2]
  while (p < last) {
    const char* q = static_cast<const char*>(memchr(p, '\n', static_cast<size_t>(last - p)));
    if (q == nullptr) {
      return false;
    }
    if (q[-1] == '\r' && q[1] == '\r' && q[2] == '\n') {
      return true;
    }
    p = q + 1;
  }
  return false;
}

// Walks the lines of a head: framing always, syntax through the callbacks only
// when `parse`. start(p, eol, err) handles the start line and field(p, eol, err)
// each field line; both return false with *err set on a syntax error. On kDone
// all lines framed and parsed cleanly and *head_size is set.
template <typename StartFn, typename FieldFn>
ParseResult WalkHead(const char* buf, size_t len, const Limits& limits, bool is_request,
                     StartFn start, FieldFn field, size_t* head_size, ParseError* err) {
  const int bad = is_request ? 400 : 502;
  const char* const end = buf + len;
  // Requests: syntax only once the head has ended, so that a head arriving in
  // pieces is only framed on every read. A member's response head is usually
  // followed by its body in the same read, where the search for CRLFCRLF walks
  // the lines a second time: it is parsed at once, and the result is the same,
  // since a syntax error is only reported once the head ends cleanly.
  bool parse = !is_request || HasHeadEnd(buf, len);
  ParseError syntax;
  bool syntax_failed = false;
  const char* p = buf;
  const char* eol = nullptr;

  // Start line. Requests may be preceded by empty lines (RFC 9112 §2.2); they
  // count towards max_request_line so that they cannot be sent forever.
  LineRules rules{limits.max_request_line, bad, is_request ? 414 : 502,
                  is_request ? "request line too long" : "status line too long"};
  for (;;) {
    const size_t used = static_cast<size_t>(p - buf);
    if (used > limits.max_request_line) {
      Fail(err, rules.long_status, rules.long_reason);
      return ParseResult::kError;
    }
    rules.max = limits.max_request_line - used;
    const LineScan s = ScanLine(p, end, rules, !parse, &eol, err);
    if (s != LineScan::kLine) {
      return s == LineScan::kError ? ParseResult::kError : ParseResult::kIncomplete;
    }
    if (eol != p || !is_request) {
      break;
    }
    p = eol + 2;
  }
  // The start line is checked as soon as it has arrived, complete head or
  // not: its errors are decided by the bytes up to its CRLF and come first in
  // byte order, so answering them at once keeps every split answering the
  // same. It matters for an HTTP/0.9 request ("GET /\r\n"), which never sends
  // the empty line: it is refused now, not after RequestHeaderTimeout.
  if (!start(p, eol, &syntax)) {
    // With a complete head the line was framed by the fast path only: a NUL
    // or bare CR in it is a framing error, reported as such.
    if (ScanLineSlow(p, end, rules, &eol, err) == LineScan::kError) {
      return ParseResult::kError;
    }
    *err = syntax;
    return ParseResult::kError;
  }
  p = eol + 2;

  // Field lines up to the empty line.
  rules = LineRules{limits.max_field_size, bad, is_request ? 431 : 502, "header field too long"};
  size_t fields = 0;
  for (;;) {
    // A line that does not start with CR is a field line (or garbage).
    if (p < end && *p != '\r' && ++fields > limits.max_fields) {
      Fail(err, is_request ? 431 : 502, "too many header fields");
      return ParseResult::kError;
    }
    const LineScan s = ScanLine(p, end, rules, !parse, &eol, err);
    if (s != LineScan::kLine) {
      return s == LineScan::kError ? ParseResult::kError : ParseResult::kIncomplete;
    }
    if (eol == p) {
      break;
    }
    if (parse && !field(p, eol, &syntax)) {
      if (ScanLineSlow(p, end, rules, &eol, err) == LineScan::kError) {
        return ParseResult::kError;
      }
      syntax_failed = true;
      parse = false;
    }
    p = eol + 2;
  }
  *head_size = static_cast<size_t>(eol + 2 - buf);
  if (syntax_failed) {
    *err = syntax;
    return ParseResult::kError;
  }
  if (!parse) {
    // Unreachable: a head that ends contains "\r\n\r\n". Kept so that a bug
    // here could never let an unchecked head through.
    Fail(err, bad, "internal parser error");
    return ParseResult::kError;
  }
  return ParseResult::kDone;
}

// ---------------------------------------------------------------------------
// Field syntax and the fields that matter for framing.

// True when [p, e) holds only field-value bytes: HTAB, SP, VCHAR, obs-text,
// i.e. no byte below 0x20 other than HTAB and no DEL. Eight bytes at a time:
// a word with no byte < 0x20 and no 0x7f is fine as a whole (the usual case);
// only words that may hold one are looked at byte by byte.
inline bool ValidFieldValue(const char* p, const char* e) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHigh = 0x8080808080808080ull;
  auto word_ok = [](const char* w) {
    uint64_t x;
    memcpy(&x, w, 8);
    const uint64_t below_space = (x - kOnes * 0x20) & ~x & kHigh;  // some byte < 0x20
    const uint64_t d = x ^ (kOnes * 0x7f);
    const uint64_t del = (d - kOnes) & ~d & kHigh;  // some byte == 0x7f
    if ((below_space | del) != 0) {
      for (int i = 0; i < 8; ++i) {
        if (!Is(w[i], kCharField)) {
          return false;
        }
      }
    }
    return true;
  };
  if (e - p >= 8) {
    // Whole words, then the last eight bytes (overlapping what was checked).
    for (; e - p > 8; p += 8) {
      if (!word_ok(p)) {
        return false;
      }
    }
    return word_ok(e - 8);
  }
  for (; p < e; ++p) {
    if (!Is(*p, kCharField)) {
      return false;
    }
  }
  return true;
}

// name ":" OWS value OWS. The value is every byte validated, then trimmed.
bool ParseFieldLine(const char* p, const char* e, int bad, Header* h, ParseError* err) {
  if (IsWs(*p)) {
    return Fail(err, bad, "obs-fold or leading whitespace in field line");
  }
  // The usual line: its first ':' ends a name of tchars. One memchr and a check of
  // every name byte without a branch per byte; anything else takes the byte loop,
  // which finds where the name ends and why.
  const char* s = static_cast<const char*>(memchr(p, ':', static_cast<size_t>(e - p)));
  uint8_t all = kCharToken;
  if (s != nullptr) {
    const auto* q = reinterpret_cast<const unsigned char*>(p);
    const size_t len = static_cast<size_t>(s - p);
    size_t i = 0;
    for (; i + 4 <= len; i += 4) {
      all &= kChars[q[i]] & kChars[q[i + 1]] & kChars[q[i + 2]] & kChars[q[i + 3]];
    }
    for (; i < len; ++i) {
      all &= kChars[q[i]];
    }
  }
  if (s == nullptr || all == 0) {
    s = p;
    while (s < e && Is(*s, kCharToken)) {
      ++s;
    }
  }
  if (s == e) {
    return Fail(err, bad, "missing colon in field line");
  }
  if (*s != ':') {
    return Fail(err, bad, IsWs(*s) ? "whitespace before colon" : "invalid field name");
  }
  if (s == p) {
    return Fail(err, bad, "empty field name");
  }
  h->name = std::string_view(p, static_cast<size_t>(s - p));
  const char* v = s + 1;
  if (!ValidFieldValue(v, e)) {
    return Fail(err, bad, "invalid character in field value");
  }
  while (v < e && IsWs(*v)) {
    ++v;
  }
  const char* ve = e;
  while (ve > v && IsWs(ve[-1])) {
    --ve;
  }
  h->value = std::string_view(v, static_cast<size_t>(ve - v));
  return true;
}

// Which framing-relevant field a name is (case-insensitive).
enum class Field {
  kOther,
  kHost,
  kExpect,
  kUpgrade,
  kConnection,
  kContentLength,
  kTransferEncoding
};

// Compares a field name (tchars only) with a lowercase name of the same size.
// c | 0x20 lowercases letters and leaves '-' and digits alone; no other tchar
// maps onto a letter, '-' or a digit that way. Eight (or four) bytes at a time,
// the last word overlapping the one before: names are compared once per field
// on every request and response.
template <typename Word>
inline bool WordsEqualLowered(const char* name, const char* lower, size_t n) {
  constexpr Word kCase = static_cast<Word>(0x2020202020202020ull);
  Word a;
  Word b;
  for (size_t i = 0; i + sizeof(Word) < n; i += sizeof(Word)) {
    memcpy(&a, name + i, sizeof(Word));
    memcpy(&b, lower + i, sizeof(Word));
    if ((a | kCase) != b) {
      return false;
    }
  }
  memcpy(&a, name + n - sizeof(Word), sizeof(Word));
  memcpy(&b, lower + n - sizeof(Word), sizeof(Word));
  return (a | kCase) == b;
}

inline bool NameIs(std::string_view name, std::string_view lower) {
  const size_t n = lower.size();
  if (n >= 8) {
    return WordsEqualLowered<uint64_t>(name.data(), lower.data(), n);
  }
  if (n >= 4) {
    return WordsEqualLowered<uint32_t>(name.data(), lower.data(), n);
  }
  for (size_t i = 0; i < n; ++i) {
    if ((name[i] | 0x20) != lower[i]) {
      return false;
    }
  }
  return true;
}

inline Field Classify(std::string_view n) {
  switch (n.size()) {
    case 4:
      return NameIs(n, "host") ? Field::kHost : Field::kOther;
    case 6:
      return NameIs(n, "expect") ? Field::kExpect : Field::kOther;
    case 7:
      return NameIs(n, "upgrade") ? Field::kUpgrade : Field::kOther;
    case 10:
      return NameIs(n, "connection") ? Field::kConnection : Field::kOther;
    case 14:
      return NameIs(n, "content-length") ? Field::kContentLength : Field::kOther;
    case 17:
      return NameIs(n, "transfer-encoding") ? Field::kTransferEncoding : Field::kOther;
    default:
      return Field::kOther;
  }
}

constexpr size_t kMaxLengthDigits = 15;

// Content-Length: 1*DIGIT (at most 15), possibly as a list and possibly
// repeated; every value must agree.
bool MergeContentLength(std::string_view v, bool* seen, uint64_t* length, int bad,
                        ParseError* err) {
  return ForEachListElement(v, [&](std::string_view e) {
    if (e.empty() || e.size() > kMaxLengthDigits) {
      return Fail(err, bad, "invalid content-length");
    }
    uint64_t n = 0;
    for (char c : e) {
      if (!Is(c, kCharDigit)) {
        return Fail(err, bad, "invalid content-length");
      }
      n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    if (*seen && n != *length) {
      return Fail(err, bad, "conflicting content-length");
    }
    *seen = true;
    *length = n;
    return true;
  });
}

// The transfer codings of all Transfer-Encoding fields, summarised.
struct Codings {
  bool present = false;
  bool empty_element = false;
  size_t count = 0;
  size_t chunked = 0;
  bool last_chunked = false;
};

void AddCodings(std::string_view v, Codings* c) {
  c->present = true;
  ForEachListElement(v, [c](std::string_view e) {
    if (e.empty()) {
      c->empty_element = true;
      return true;
    }
    ++c->count;
    c->last_chunked = IEquals(e, "chunked");
    if (c->last_chunked) {
      ++c->chunked;
    }
    return true;
  });
}

void AddConnection(std::string_view v, uint32_t* flags, std::vector<std::string_view>* tokens) {
  ForEachListElement(v, [&](std::string_view e) {
    if (e.empty()) {
      return true;  // empty list elements are ignored (RFC 9110 §5.6.1)
    }
    tokens->push_back(e);
    if (IEquals(e, "close")) {
      *flags |= kConnClose;
    } else if (IEquals(e, "keep-alive")) {
      *flags |= kConnKeepAlive;
    } else if (IEquals(e, "upgrade")) {
      *flags |= kConnUpgrade;
    }
    return true;
  });
}

// Host = uri-host [ ":" port ] (RFC 9110 §7.2): a reg-name (unreserved,
// sub-delims, %XX) or a bracketed IP-literal, and 1 to 5 port digits when ':'
// is present. Empty hosts, userinfo and anything else are refused.
bool ValidHost(std::string_view h) {
  size_t i = 0;
  if (!h.empty() && h[0] == '[') {
    const size_t close = h.find(']');
    if (close == std::string_view::npos || close < 2) {
      return false;
    }
    for (i = 1; i < close; ++i) {
      if (!Is(h[i], kCharHex) && h[i] != ':' && h[i] != '.' && !Is(h[i], kCharHost)) {
        return false;
      }
    }
    i = close + 1;
  } else {
    while (i < h.size() && h[i] != ':') {
      if (!Is(h[i], kCharHost)) {
        return false;
      }
      if (h[i] == '%' &&
          (i + 2 >= h.size() || !Is(h[i + 1], kCharHex) || !Is(h[i + 2], kCharHex))) {
        return false;
      }
      ++i;
    }
    if (i == 0) {
      return false;
    }
  }
  if (i == h.size()) {
    return true;
  }
  if (h[i] != ':') {
    return false;
  }
  const size_t digits = h.size() - i - 1;
  if (digits == 0 || digits > 5) {
    return false;
  }
  for (++i; i < h.size(); ++i) {
    if (!Is(h[i], kCharDigit)) {
      return false;
    }
  }
  return true;
}

// "HTTP/1.0" or "HTTP/1.1" -> minor. Other HTTP/1.x -> 505, anything else -> 400.
bool ParseRequestVersion(std::string_view v, int* minor, ParseError* err) {
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || !Is(v[5], kCharDigit) || v[6] != '.' ||
      !Is(v[7], kCharDigit)) {
    return Fail(err, 400, "invalid http version");
  }
  if (v[5] != '1') {
    return Fail(err, 400, "unsupported http major version");
  }
  if (v[7] != '0' && v[7] != '1') {
    return Fail(err, 505, "unsupported http version");
  }
  *minor = v[7] - '0';
  return true;
}

constexpr std::string_view kSlash = "/";

// Splits path and query out of the part of a target that starts with '/' or '?'
// (or is empty: absolute-form "http://host" has the path "/").
void SetPathQuery(std::string_view rest, RequestHead* out) {
  const size_t q = rest.find('?');
  if (q != std::string_view::npos) {
    out->has_query = true;
    out->query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  out->path = rest.empty() ? kSlash : rest;
}

// method SP request-target SP HTTP-version
bool ParseRequestLine(const char* p, const char* e, RequestHead* out, ParseError* err) {
  const char* s = p;
  while (s < e && Is(*s, kCharToken)) {
    ++s;
  }
  if (s == p || s == e || *s != ' ') {
    return Fail(err, 400, "invalid method");
  }
  out->method = std::string_view(p, static_cast<size_t>(s - p));
  const char* t = s + 1;
  const char* te = t;
  while (te < e && Is(*te, kCharTarget)) {
    ++te;
  }
  if (te == e) {
    return Fail(err, 400, te == t ? "invalid request target" : "http/0.9 request");
  }
  if (*te != ' ' || te == t) {
    return Fail(err, 400, "invalid request target");
  }
  out->target = std::string_view(t, static_cast<size_t>(te - t));
  if (!ParseRequestVersion(std::string_view(te + 1, static_cast<size_t>(e - te - 1)), &out->minor,
                           err)) {
    return false;
  }
  // drover is a reverse proxy: CONNECT (whose authority-form target asks for a
  // tunnel) is not supported and, like every authority-form target, is a 400.
  if (out->method == "CONNECT") {
    return Fail(err, 400, "connect not supported");
  }
  std::string_view target = out->target;
  if (target[0] == '/') {
    SetPathQuery(target, out);
    return true;
  }
  if (target == "*") {
    if (out->method != "OPTIONS") {
      return Fail(err, 400, "asterisk-form target without options");
    }
    out->path = target;
    return true;
  }
  // absolute-form; only http and https URIs.
  size_t skip = 0;
  if (core::IStartsWith(target, "http://")) {
    skip = 7;
  } else if (core::IStartsWith(target, "https://")) {
    skip = 8;
  } else {
    return Fail(err, 400, "invalid request target form");
  }
  std::string_view rest = target.substr(skip);
  const size_t auth_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, auth_end);
  if (!ValidHost(authority)) {
    return Fail(err, 400, "invalid authority in request target");
  }
  out->host = authority;
  SetPathQuery(auth_end == std::string_view::npos ? std::string_view() : rest.substr(auth_end),
               out);
  return true;
}

// State gathered over the fields of a request head.
struct RequestFields {
  size_t hosts = 0;
  std::string_view host;
  bool has_length = false;
  Codings codings;
  bool expect_continue = false;
};

bool ParseRequestField(const char* p, const char* e, RequestHead* out, RequestFields* f,
                       ParseError* err) {
  Header h;
  if (!ParseFieldLine(p, e, 400, &h, err)) {
    return false;
  }
  out->headers.push_back(h);
  switch (Classify(h.name)) {
    case Field::kHost:
      if (++f->hosts > 1) {
        return Fail(err, 400, "duplicate host");
      }
      if (!ValidHost(h.value)) {
        return Fail(err, 400, "invalid host");
      }
      f->host = h.value;
      return true;
    case Field::kContentLength:
      return MergeContentLength(h.value, &f->has_length, &out->content_length, 400, err);
    case Field::kTransferEncoding:
      AddCodings(h.value, &f->codings);
      return true;
    case Field::kConnection:
      AddConnection(h.value, &out->connection, &out->connection_tokens);
      return true;
    case Field::kExpect:
      if (IEquals(h.value, "100-continue")) {
        f->expect_continue = true;
      }
      return true;
    case Field::kUpgrade:
      if (out->upgrade.empty()) {
        out->upgrade = h.value;
      }
      return true;
    case Field::kOther:
      return true;
  }
  return true;
}

// Checks that need the whole head, then fills in the derived members.
bool FinishRequest(RequestHead* out, const RequestFields& f, ParseError* err) {
  if (out->minor == 1 && f.hosts == 0) {
    return Fail(err, 400, "missing host");
  }
  if (!out->host.empty()) {  // absolute-form: the Host field, if any, must agree
    if (f.hosts != 0 && !IEquals(out->host, f.host)) {
      return Fail(err, 400, "host differs from request target");
    }
  } else {
    out->host = f.host;
  }
  const Codings& c = f.codings;
  if (c.present) {
    if (out->minor == 0) {
      return Fail(err, 400, "transfer-encoding in http/1.0 request");
    }
    if (f.has_length) {
      return Fail(err, 400, "content-length with transfer-encoding");
    }
    if (c.empty_element || c.count == 0) {
      return Fail(err, 400, "empty transfer coding");
    }
    if (!c.last_chunked) {
      return Fail(err, 400, "transfer-encoding not ending in chunked");
    }
    if (c.chunked > 1) {
      return Fail(err, 400, "chunked applied more than once");
    }
    if (c.count > 1) {
      return Fail(err, 501, "unsupported transfer coding");
    }
    out->body = BodyKind::kChunked;
  } else if (f.has_length) {
    out->body = BodyKind::kLength;
  }
  // RFC 9110 §10.1.1: a 100-continue expectation in HTTP/1.0 is ignored.
  out->expect_continue = f.expect_continue && out->minor == 1;
  if (out->minor == 1) {
    out->keep_alive = (out->connection & kConnClose) == 0;
  } else {
    out->keep_alive = (out->connection & (kConnClose | kConnKeepAlive)) == kConnKeepAlive;
  }
  return true;
}

// HTTP-version SP 3DIGIT [ SP reason-phrase ]. The SP before an empty reason
// is optional (common in the wild, harmless). Status 100..599 only.
bool ParseStatusLine(const char* p, const char* e, ResponseHead* out, ParseError* err) {
  const std::string_view line(p, static_cast<size_t>(e - p));
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || (line[7] != '0' && line[7] != '1') ||
      line[8] != ' ') {
    return Fail(err, 502, "invalid status line version");
  }
  out->minor = line[7] - '0';
  if (!Is(line[9], kCharDigit) || !Is(line[10], kCharDigit) || !Is(line[11], kCharDigit)) {
    return Fail(err, 502, "invalid status code");
  }
  out->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (out->status < 100 || out->status > 599) {
    return Fail(err, 502, "invalid status code");
  }
  if (line.size() == 12) {
    return true;
  }
  if (line[12] != ' ') {
    return Fail(err, 502, "invalid status line");
  }
  for (size_t i = 13; i < line.size(); ++i) {
    if (!Is(line[i], kCharField)) {
      return Fail(err, 502, "invalid reason phrase");
    }
  }
  out->reason = line.substr(13);
  return true;
}

struct ResponseFields {
  bool has_length = false;
  Codings codings;
};

bool ParseResponseField(const char* p, const char* e, ResponseHead* out, ResponseFields* f,
                        ParseError* err) {
  Header h;
  if (!ParseFieldLine(p, e, 502, &h, err)) {
    return false;
  }
  out->headers.push_back(h);
  switch (Classify(h.name)) {
    case Field::kContentLength:
      return MergeContentLength(h.value, &f->has_length, &out->content_length, 502, err);
    case Field::kTransferEncoding:
      AddCodings(h.value, &f->codings);
      return true;
    case Field::kConnection:
      AddConnection(h.value, &out->connection, &out->connection_tokens);
      return true;
    default:
      return true;
  }
}

bool FinishResponse(ResponseHead* out, const ResponseFields& f, std::string_view request_method,
                    ParseError* err) {
  const Codings& c = f.codings;
  bool chunked = false;
  if (c.present) {
    // RFC 9112 §6.1: TE in an HTTP/1.0 message means faulty framing; TE with
    // Content-Length is a smuggling signature. Both are refused, not repaired.
    if (out->minor == 0) {
      return Fail(err, 502, "transfer-encoding in http/1.0 response");
    }
    if (f.has_length) {
      return Fail(err, 502, "content-length with transfer-encoding");
    }
    if (c.empty_element || c.count == 0) {
      return Fail(err, 502, "empty transfer coding");
    }
    if (c.chunked > 1) {
      return Fail(err, 502, "chunked applied more than once");
    }
    if (c.last_chunked && c.count > 1) {
      // We would have to pass the other codings on, but Transfer-Encoding is
      // hop-by-hop and we re-frame: refuse rather than corrupt the body.
      return Fail(err, 502, "unsupported transfer coding");
    }
    chunked = c.last_chunked;
  }
  if (out->minor == 1) {
    out->keep_alive = (out->connection & kConnClose) == 0;
  } else {
    out->keep_alive = (out->connection & (kConnClose | kConnKeepAlive)) == kConnKeepAlive;
  }
  const int s = out->status;
  if (request_method == "HEAD" || s < 200 || s == 204 || s == 304) {
    out->body = BodyKind::kNone;
  } else if (chunked) {
    out->body = BodyKind::kChunked;
  } else if (c.present) {
    out->body = BodyKind::kUntilClose;  // TE not ending in chunked: read until close
  } else if (f.has_length) {
    out->body = BodyKind::kLength;
  } else {
    out->body = BodyKind::kUntilClose;
  }
  if (out->body == BodyKind::kUntilClose) {
    out->keep_alive = false;
  }
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------

void RequestHead::Clear() {
  method = {};
  target = {};
  path = {};
  query = {};
  has_query = false;
  minor = 1;
  headers.clear();
  host = {};
  body = BodyKind::kNone;
  content_length = 0;
  connection = 0;
  connection_tokens.clear();
  keep_alive = true;
  expect_continue = false;
  upgrade = {};
  head_size = 0;
}

void ResponseHead::Clear() {
  status = 0;
  minor = 1;
  reason = {};
  headers.clear();
  body = BodyKind::kNone;
  content_length = 0;
  connection = 0;
  connection_tokens.clear();
  keep_alive = true;
  head_size = 0;
}

ParseResult ParseRequestHead(const char* buf, size_t len, const Limits& limits, RequestHead* out,
                             ParseError* err) {
  out->Clear();
  RequestFields f;
  ParseResult r = WalkHead(
      buf, len, limits, true,
      [out](const char* p, const char* e, ParseError* se) {
        return ParseRequestLine(p, e, out, se);
      },
      [out, &f](const char* p, const char* e, ParseError* se) {
        return ParseRequestField(p, e, out, &f, se);
      },
      &out->head_size, err);
  if (r == ParseResult::kDone && !FinishRequest(out, f, err)) {
    return ParseResult::kError;
  }
  return r;
}

ParseResult ParseResponseHead(const char* buf, size_t len, const Limits& limits,
                              std::string_view request_method, ResponseHead* out, ParseError* err) {
  out->Clear();
  ResponseFields f;
  ParseResult r = WalkHead(
      buf, len, limits, false,
      [out](const char* p, const char* e, ParseError* se) {
        return ParseStatusLine(p, e, out, se);
      },
      [out, &f](const char* p, const char* e, ParseError* se) {
        return ParseResponseField(p, e, out, &f, se);
      },
      &out->head_size, err);
  if (r == ParseResult::kDone && !FinishResponse(out, f, request_method, err)) {
    return ParseResult::kError;
  }
  return r;
}

bool IsHopByHop(std::string_view name) {
  switch (name.size()) {
    case 2:
      return IEquals(name, "te");
    case 7:
      return IEquals(name, "trailer") || IEquals(name, "upgrade");
    case 10:
      return IEquals(name, "connection") || IEquals(name, "keep-alive");
    case 17:
      return IEquals(name, "transfer-encoding");
    default:
      break;
  }
  // Proxy-* (this includes Proxy-Connection).
  return core::IStartsWith(name, "proxy-");
}

FieldName ClassifyFieldName(std::string_view n) {
  FieldName f = FieldName::kOther;
  switch (n.size()) {
    case 2:
      f = NameIs(n, "te") ? FieldName::kHopByHop : f;
      break;
    case 3:
      f = NameIs(n, "uri") ? FieldName::kUri : NameIs(n, "via") ? FieldName::kVia : f;
      break;
    case 4:
      f = NameIs(n, "host") ? FieldName::kHost : f;
      break;
    case 6:
      f = NameIs(n, "expect") ? FieldName::kExpect : f;
      break;
    case 7:
      f = NameIs(n, "trailer") || NameIs(n, "upgrade") ? FieldName::kHopByHop : f;
      break;
    case 8:
      f = NameIs(n, "location") ? FieldName::kLocation : f;
      break;
    case 10:
      f = NameIs(n, "connection") || NameIs(n, "keep-alive") ? FieldName::kHopByHop
          : NameIs(n, "set-cookie")                          ? FieldName::kSetCookie
                                                             : f;
      break;
    case 11:
      f = NameIs(n, "destination") ? FieldName::kDestination : f;
      break;
    case 14:
      f = NameIs(n, "content-length") ? FieldName::kContentLength : f;
      break;
    case 15:
      f = NameIs(n, "x-forwarded-for") ? FieldName::kXForwardedFor : f;
      break;
    case 16:
      f = NameIs(n, "content-location")   ? FieldName::kContentLocation
          : NameIs(n, "x-forwarded-host") ? FieldName::kXForwardedHost
                                          : f;
      break;
    case 17:
      f = NameIs(n, "transfer-encoding")   ? FieldName::kHopByHop
          : NameIs(n, "x-forwarded-proto") ? FieldName::kXForwardedProto
                                           : f;
      break;
    case 18:
      f = NameIs(n, "x-forwarded-server") ? FieldName::kXForwardedServer : f;
      break;
    default:
      break;
  }
  if (f == FieldName::kOther && n.size() >= 6 && NameIs(n.substr(0, 6), "proxy-")) {
    f = FieldName::kHopByHop;  // Proxy-* (this includes Proxy-Connection)
  }
  return f;
}

bool IsListedIn(std::string_view name, const std::vector<std::string_view>& tokens) {
  for (std::string_view t : tokens) {
    if (IEquals(name, t)) {
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------
// ChunkedDecoder: a byte-at-a-time state machine over RFC 9112 §7.1
//
//   chunked-body = *chunk last-chunk trailer-section CRLF
//   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//   chunk-ext    = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
//   ext-val      = token / quoted-string
//
// taken literally: no whitespace before CRLF, none before the size, at most 15
// hex digits (so the size fits in 60 bits), CR must be followed by LF and LF
// preceded by CR, trailer fields are name ":" value with field-vchars only.

void ChunkedDecoder::Reset() {
  state_ = State::kSize;
  remaining_ = 0;
  size_digits_ = 0;
  line_len_ = 0;
  trailer_len_ = 0;
  error_ = "";
}

ChunkedDecoder::Status ChunkedDecoder::Fail(const char* why) {
  state_ = State::kError;
  error_ = why;
  return Status::kError;
}

ChunkedDecoder::Status ChunkedDecoder::Feed(const char* p, size_t n, size_t* consumed,
                                            uint64_t* payload) {
  size_t i = 0;
  *consumed = 0;
  if (state_ == State::kError) {
    return Status::kError;
  }
  while (i < n && state_ != State::kDone) {
    if (state_ == State::kData) {
      const size_t avail = n - i;
      const size_t take = remaining_ < avail ? static_cast<size_t>(remaining_) : avail;
      i += take;
      remaining_ -= take;
      if (payload != nullptr) {
        *payload += take;
      }
      if (remaining_ == 0) {
        state_ = State::kDataCr;
      }
      continue;
    }
    const char c = p[i];
    // Size line: count its bytes (the CR ends it).
    if (state_ <= State::kExtQuotedEnd && c != '\r' && ++line_len_ > max_line_) {
      *consumed = i;
      return Fail("chunk size line too long");
    }
    if (state_ >= State::kTrailerStart && state_ <= State::kFinalLf &&
        ++trailer_len_ > max_trailer_) {
      *consumed = i;
      return Fail("chunked trailer too large");
    }
    const char* why = nullptr;
    switch (state_) {
      case State::kSize:
        if (Is(c, kCharHex)) {
          if (++size_digits_ > kMaxLengthDigits) {
            why = "chunk size too long";
            break;
          }
          const int v = c <= '9' ? c - '0' : AsciiLower(c) - 'a' + 10;
          remaining_ = remaining_ * 16 + static_cast<uint64_t>(v);
        } else if (size_digits_ == 0) {
          why = "invalid chunk size";
        } else if (c == ';') {
          state_ = State::kExtNameStart;
        } else if (IsWs(c)) {
          state_ = State::kSizeWs;
        } else if (c == '\r') {
          state_ = State::kSizeLf;
        } else {
          why = "invalid chunk size";
        }
        break;
      case State::kSizeWs:
        if (c == ';') {
          state_ = State::kExtNameStart;
        } else if (!IsWs(c)) {
          why = "invalid chunk extension";
        }
        break;
      case State::kExtNameStart:
        if (Is(c, kCharToken)) {
          state_ = State::kExtName;
        } else if (!IsWs(c)) {
          why = "invalid chunk extension";
        }
        break;
      case State::kExtName:
        if (Is(c, kCharToken)) {
          break;
        } else if (c == '=') {
          state_ = State::kExtValueStart;
        } else if (c == ';') {
          state_ = State::kExtNameStart;
        } else if (IsWs(c)) {
          state_ = State::kExtNameWs;
        } else if (c == '\r') {
          state_ = State::kSizeLf;
        } else {
          why = "invalid chunk extension";
        }
        break;
      case State::kExtNameWs:
        if (c == '=') {
          state_ = State::kExtValueStart;
        } else if (c == ';') {
          state_ = State::kExtNameStart;
        } else if (!IsWs(c)) {
          why = "invalid chunk extension";
        }
        break;
      case State::kExtValueStart:
        if (c == '"') {
          state_ = State::kExtQuoted;
        } else if (Is(c, kCharToken)) {
          state_ = State::kExtToken;
        } else if (!IsWs(c)) {
          why = "invalid chunk extension";
        }
        break;
      case State::kExtToken:
      case State::kExtQuotedEnd:
        if (state_ == State::kExtToken && Is(c, kCharToken)) {
          break;
        } else if (c == ';') {
          state_ = State::kExtNameStart;
        } else if (IsWs(c)) {
          state_ = State::kSizeWs;
        } else if (c == '\r') {
          state_ = State::kSizeLf;
        } else {
          why = "invalid chunk extension";
        }
        break;
      case State::kExtQuoted:
        if (c == '"') {
          state_ = State::kExtQuotedEnd;
        } else if (c == '\\') {
          state_ = State::kExtQuotedPair;
        } else if (!Is(c, kCharQdtext)) {
          why = "invalid chunk extension";
        }
        break;
      case State::kExtQuotedPair:
        if (Is(c, kCharField)) {  // HTAB / SP / VCHAR / obs-text
          state_ = State::kExtQuoted;
        } else {
          why = "invalid chunk extension";
        }
        break;
      case State::kSizeLf:
        if (c != '\n') {
          why = "bare cr in chunk size line";
        } else if (remaining_ == 0) {
          state_ = State::kTrailerStart;
        } else {
          state_ = State::kData;
        }
        break;
      case State::kDataCr:
        if (c == '\r') {
          state_ = State::kDataLf;
        } else {
          why = "chunk data not followed by crlf";
        }
        break;
      case State::kDataLf:
        if (c == '\n') {
          state_ = State::kSize;
          size_digits_ = 0;
          line_len_ = 0;
        } else {
          why = "chunk data not followed by crlf";
        }
        break;
      case State::kTrailerStart:
        if (c == '\r') {
          state_ = State::kFinalLf;
        } else if (Is(c, kCharToken)) {
          state_ = State::kTrailerName;
        } else if (IsWs(c)) {
          why = "obs-fold in trailer";
        } else {
          why = "invalid trailer field";
        }
        break;
      case State::kTrailerName:
        if (c == ':') {
          state_ = State::kTrailerValue;
        } else if (!Is(c, kCharToken)) {
          why = IsWs(c) ? "whitespace before colon in trailer" : "invalid trailer field";
        }
        break;
      case State::kTrailerValue:
        if (c == '\r') {
          state_ = State::kTrailerLf;
        } else if (!Is(c, kCharField)) {
          why = "invalid trailer field";
        }
        break;
      case State::kTrailerLf:
        if (c == '\n') {
          state_ = State::kTrailerStart;
        } else {
          why = "bare cr in trailer";
        }
        break;
      case State::kFinalLf:
        if (c == '\n') {
          state_ = State::kDone;
        } else {
          why = "bare cr after trailer";
        }
        break;
      case State::kData:
      case State::kDone:
      case State::kError:
        break;
    }
    if (why != nullptr) {
      *consumed = i;
      return Fail(why);
    }
    ++i;
  }
  *consumed = i;
  return state_ == State::kDone ? Status::kDone : Status::kNeedMore;
}

}  // namespace drover::http
