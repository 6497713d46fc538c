// libFuzzer target: the AJP13 container -> proxy side, ajp::Decoder (src/ajp/decoder.h)
// and ajp::BuildResponseHead (src/ajp/response.h), on bytes a member sends. The first
// input byte picks the packet size (1024 or 8192) and the client (GET or HEAD, HTTP/1.1
// or 1.0); the rest is the member's byte stream. Checks memory/UB errors and:
//   - split invariance: the stream fed in two parts, split anywhere, gives the same
//     messages and the same error (with its reason) as fed whole, as the decoder
//     promises;
//   - every message lies within its limits: a SEND_BODY_CHUNK no bigger than a packet,
//     a status in 200..599, no CR, LF or NUL in a reason or header value, a header name
//     that is a non-empty token;
//   - a head that BuildResponseHead accepts has the decoded status, views into the
//     decoded strings, and the framing the rules say (none for HEAD, 204 and 304; a
//     Content-Length framing only with a Content-Length field; chunked or until-close
//     after the client's version otherwise);
//   - the decoder stays failed after an error, and idle() only between responses.
#include <strings.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ajp/decoder.h"
#include "ajp/response.h"
#include "fuzz_util.h"

namespace {

using drover::fuzz::Check;
using drover::fuzz::ExactCopy;
using drover::fuzz::Inside;
using namespace drover::ajp;
using drover::http::BodyKind;
using drover::http::ResponseHead;

// What a whole feed produced, comparable between splits.
struct Transcript {
  std::string text;  // one line per message, then the error if any
  bool failed = false;
};

bool HasCtl(std::string_view s) {
  for (unsigned char c : s) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      return true;
    }
  }
  return false;
}

bool InsideString(std::string_view v, const std::string& s) {
  return Inside(v, s.data(), s.size());
}

void CheckHead(const SendHeaders& h, std::string_view method, int minor) {
  Check(h.status >= 200 && h.status <= 599, "status range");
  Check(!HasCtl(h.reason), "reason bytes");
  for (const ResponseHeader& f : h.headers) {
    Check(!f.name.empty() && f.name.find_first_of(" \t:\r\n") == std::string::npos,
          "header name is a token");
    Check(!HasCtl(f.value), "header value bytes");
  }
  ResponseHead out;
  ResponseFraming framing = ResponseFraming::kNone;
  if (!BuildResponseHead(h, method, minor, &out, &framing).ok()) {
    return;
  }
  Check(out.status == h.status, "built status");
  Check(InsideString(out.reason, h.reason), "reason view");
  bool has_length = false;
  for (const drover::http::Header& f : out.headers) {
    bool found = false;
    for (const ResponseHeader& g : h.headers) {
      found = found || (InsideString(f.name, g.name) && InsideString(f.value, g.value));
    }
    Check(found, "header views point into the decoded headers");
    has_length = has_length ||
                 (f.name.size() == 14 && strncasecmp(f.name.data(), "content-length", 14) == 0);
  }
  if (method == "HEAD" || h.status == 204 || h.status == 304) {
    Check(framing == ResponseFraming::kNone && out.body == BodyKind::kNone, "bodiless");
  } else if (framing == ResponseFraming::kLength) {
    Check(has_length && out.body == BodyKind::kLength, "length framing has a length");
  } else {
    Check(!has_length, "a valid Content-Length frames the body");
    Check(framing == (minor == 1 ? ResponseFraming::kChunked : ResponseFraming::kUntilClose),
          "unknown length: chunked for 1.1, until close for 1.0");
  }
}

// Feeds [p, p+n) to `d`, appending each message to *t; stops at an error.
void FeedAll(Decoder* d, const char* p, size_t n, std::string_view method, int minor,
             Transcript* t) {
  while (!t->failed) {
    size_t consumed = 0;
    Message msg;
    const Decoder::Result r = d->Feed(p, n, &consumed, &msg);
    if (r == Decoder::Result::kError) {
      t->failed = true;
      Check(!d->error().empty(), "an error has a reason");
      t->text += "error " + d->error() + "\n";
      return;
    }
    if (r == Decoder::Result::kNeedMore) {
      Check(consumed == n, "kNeedMore consumes everything");
      return;
    }
    Check(consumed > 0 && consumed <= n, "a message consumes its bytes");
    switch (msg.type) {
      case MessageType::kSendHeaders:
        CheckHead(msg.head, method, minor);
        Check(d->in_response() && !d->idle(), "in a response after SEND_HEADERS");
        t->text += "headers " + std::to_string(msg.head.status) + " " + msg.head.reason;
        for (const ResponseHeader& f : msg.head.headers) {
          t->text += " [" + f.name + ": " + f.value + "]";
        }
        t->text += "\n";
        break;
      case MessageType::kSendBodyChunk:
        Check(msg.data.size() + 8 <= d->max_packet(), "a chunk fits in a packet");
        t->text += "body " + std::string(msg.data) + "\n";
        break;
      case MessageType::kEndResponse:
        Check(!d->in_response(), "END_RESPONSE ends the response");
        t->text += msg.reuse ? "end reuse\n" : "end\n";
        break;
      case MessageType::kGetBodyChunk:
        t->text += "get " + std::to_string(msg.requested) + "\n";
        break;
      case MessageType::kCpong:
        Check(!d->in_response(), "CPONG only between responses");
        t->text += "cpong\n";
        break;
    }
    p += consumed;
    n -= consumed;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const uint8_t mode = data[0];
  const size_t max_packet = (mode & 1) ? kMinPacketSize : kDefaultPacketSize;
  const std::string_view method = (mode & 2) ? "HEAD" : "GET";
  const int minor = (mode & 4) ? 0 : 1;
  const char* p = reinterpret_cast<const char*>(data + 1);
  const size_t n = size - 1;

  Transcript whole;
  {
    Decoder d(max_packet);
    ExactCopy all(p, n);
    FeedAll(&d, all.data(), n, method, minor, &whole);
    if (whole.failed) {
      size_t consumed = 0;
      Message msg;
      Check(d.Feed("AB", 2, &consumed, &msg) == Decoder::Result::kError, "stays failed");
      Check(!d.idle(), "a failed decoder is not idle");
    }
  }
  drover::fuzz::ForEachSplit(p, n, [&](size_t k) {
    Decoder d(max_packet);
    Transcript t;
    ExactCopy first(p, k);
    FeedAll(&d, first.data(), k, method, minor, &t);
    ExactCopy second(p + k, n - k);
    FeedAll(&d, second.data(), n - k, method, minor, &t);
    if (t.text != whole.text || t.failed != whole.failed) {
      fprintf(stderr, "split at %zu:\n%s---- whole:\n%s", k, t.text.c_str(), whole.text.c_str());
      Check(false, "split invariance");
    }
  });
  return 0;
}
