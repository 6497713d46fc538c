// SEND_HEADERS -> http::ResponseHead and the client-side body framing (see
// response.h).
#include "ajp/response.h"

#include <cstdio>

#include "core/strings.h"

namespace drover::ajp {
namespace {

constexpr size_t kMaxLengthDigits = 15;

// Calls f(element) for each comma-separated element, trimmed of SP/HTAB.
template <typename F>
bool ForEachElement(std::string_view v, F f) {
  size_t start = 0;
  while (true) {
    size_t comma = v.find(',', start);
    std::string_view e =
        core::Trim(v.substr(start, comma == std::string_view::npos ? v.npos : comma - start));
    if (!f(e)) {
      return false;
    }
    if (comma == std::string_view::npos) {
      return true;
    }
    start = comma + 1;
  }
}

}  // namespace

core::Status BuildResponseHead(const SendHeaders& src, std::string_view request_method,
                               int client_minor, http::ResponseHead* out,
                               ResponseFraming* framing) {
  out->Clear();
  out->status = src.status;
  out->minor = 1;
  out->reason = src.reason;
  out->keep_alive = true;
  bool has_length = false;
  bool has_te = false;
  uint64_t length = 0;
  const char* bad = nullptr;
  out->headers.reserve(src.headers.size());
  for (const ResponseHeader& h : src.headers) {
    out->headers.push_back({h.name, h.value});
    if (core::IEquals(h.name, "content-length")) {
      ForEachElement(h.value, [&](std::string_view e) {
        if (e.empty() || e.size() > kMaxLengthDigits) {
          bad = "invalid content-length";
          return false;
        }
        uint64_t n = 0;
        for (char c : e) {
          if (c < '0' || c > '9') {
            bad = "invalid content-length";
            return false;
          }
          n = n * 10 + static_cast<uint64_t>(c - '0');
        }
        if (has_length && n != length) {
          bad = "conflicting content-length";
          return false;
        }
        has_length = true;
        length = n;
        return true;
      });
      if (bad != nullptr) {
        return core::Status::Error(bad);
      }
    } else if (core::IEquals(h.name, "transfer-encoding")) {
      has_te = true;
    } else if (core::IEquals(h.name, "connection")) {
      ForEachElement(h.value, [&](std::string_view e) {
        if (!e.empty()) {
          out->connection_tokens.push_back(e);
          if (core::IEquals(e, "close")) {
            out->connection |= http::kConnClose;
          } else if (core::IEquals(e, "keep-alive")) {
            out->connection |= http::kConnKeepAlive;
          } else if (core::IEquals(e, "upgrade")) {
            out->connection |= http::kConnUpgrade;
          }
        }
        return true;
      });
    }
  }
  if (has_length && has_te) {
    return core::Status::Error("content-length with transfer-encoding");
  }
  const int s = src.status;
  if (request_method == "HEAD" || s == 204 || s == 304 || (s >= 100 && s < 200)) {
    out->body = http::BodyKind::kNone;
    out->content_length = has_length ? length : 0;
    *framing = ResponseFraming::kNone;
  } else if (has_length) {
    out->body = http::BodyKind::kLength;
    out->content_length = length;
    *framing = ResponseFraming::kLength;
  } else {
    out->body = http::BodyKind::kChunked;  // "length unknown": see response.h
    *framing = client_minor >= 1 ? ResponseFraming::kChunked : ResponseFraming::kUntilClose;
  }
  return core::Status::Ok();
}

std::string HttpChunkPrefix(size_t len) {
  if (len == 0) {
    return std::string();
  }
  char b[24];
  int n = std::snprintf(b, sizeof(b), "%zx\r\n", len);
  return std::string(b, static_cast<size_t>(n));
}

void EncodeHttpChunk(const char* data, size_t len, std::string* out) {
  if (len == 0) {
    return;
  }
  out->append(HttpChunkPrefix(len));
  out->append(data, len);
  out->append("\r\n");
}

}  // namespace drover::ajp
