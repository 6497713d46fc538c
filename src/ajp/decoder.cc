// AJP13 decoding (see decoder.h for the contract and the list of errors).
#include "ajp/decoder.h"

#include <algorithm>
#include <cstdio>
#include <string>

namespace drover::ajp {
namespace {

constexpr const char* kResponseHeaders[] = {
    "Content-Type", "Content-Language", "Content-Length", "Date",   "Last-Modified",   "Location",
    "Set-Cookie",   "Set-Cookie2",      "Servlet-Engine", "Status", "WWW-Authenticate"};

// reason-phrase and field-value bytes: HTAB, SP, VCHAR, obs-text.
bool IsFieldText(std::string_view s) {
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7F) {
      return false;
    }
  }
  return true;
}

std::string Hex(unsigned v, int digits) {
  char b[16];
  std::snprintf(b, sizeof(b), "0x%0*x", digits, v);
  return b;
}

// Bounds-checked reads from one complete payload.
class Reader {
 public:
  Reader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  size_t remaining() const { return n_ - pos_; }
  bool U8(uint8_t* v) {
    if (remaining() < 1) {
      return false;
    }
    *v = p_[pos_++];
    return true;
  }
  bool Peek16(uint16_t* v) const {
    if (remaining() < 2) {
      return false;
    }
    *v = static_cast<uint16_t>((p_[pos_] << 8) | p_[pos_ + 1]);
    return true;
  }
  bool U16(uint16_t* v) {
    if (!Peek16(v)) {
      return false;
    }
    pos_ += 2;
    return true;
  }
  // nullptr on success, else what is wrong with the string.
  const char* Str(std::string_view* out) {
    uint16_t len = 0;
    if (!U16(&len)) {
      return "truncated length";
    }
    if (len == kNullString) {
      return "null string";
    }
    if (remaining() < static_cast<size_t>(len) + 1) {
      return "truncated string";
    }
    if (p_[pos_ + len] != 0) {
      return "missing nul terminator";
    }
    *out = std::string_view(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += static_cast<size_t>(len) + 1;
    return nullptr;
  }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
};

}  // namespace

Decoder::Decoder(size_t max_packet)
    : max_packet_(std::clamp(max_packet, kMinPacketSize, kMaxPacketSize)) {}

void Decoder::Reset() {
  buf_.clear();
  release_ = false;
  in_response_ = false;
  failed_ = false;
  error_.clear();
}

Decoder::Result Decoder::Fail(std::string why) {
  failed_ = true;
  error_ = std::move(why);
  return Result::kError;
}

Decoder::Result Decoder::CheckPrefix(const uint8_t* b, size_t have) {
  if (have >= 1 && b[0] != kFromContainerMagic0) {
    return Fail("bad packet magic: first byte " + Hex(b[0], 2) + ", expected 0x41 ('A')");
  }
  if (have >= 2 && b[1] != kFromContainerMagic1) {
    return Fail("bad packet magic: second byte " + Hex(b[1], 2) + ", expected 0x42 ('B')");
  }
  if (have >= 4) {
    const size_t len = (static_cast<size_t>(b[2]) << 8) | b[3];
    if (len == 0) {
      return Fail("empty packet");
    }
    if (len > max_packet_ - kHeaderSize) {
      return Fail("packet length " + std::to_string(len) + " exceeds the packet size " +
                  std::to_string(max_packet_));
    }
  }
  if (have >= 5) {
    switch (b[4]) {
      case kSendHeaders:
        if (in_response_) {
          return Fail("second send_headers in one response");
        }
        break;
      case kSendBodyChunk:
        if (!in_response_) {
          return Fail("send_body_chunk before send_headers");
        }
        break;
      case kEndResponse:
        if (!in_response_) {
          return Fail("end_response before send_headers");
        }
        break;
      case kGetBodyChunk:
        break;
      case kCpong:
        if (in_response_) {
          return Fail("cpong inside a response");
        }
        break;
      default:
        return Fail("unknown message type " + std::to_string(b[4]));
    }
  }
  return Result::kNeedMore;
}

Decoder::Result Decoder::Feed(const char* p, size_t n, size_t* consumed, Message* msg) {
  *consumed = 0;
  if (failed_) {
    return Result::kError;
  }
  if (release_) {
    buf_.clear();
    release_ = false;
  }
  const auto* in = reinterpret_cast<const uint8_t*>(p);
  if (buf_.empty() && n > 0) {
    // Fast path: validate what is there; parse in place when the packet is whole.
    if (CheckPrefix(in, std::min<size_t>(n, kHeaderSize + 1)) == Result::kError) {
      return Result::kError;
    }
    if (n >= kHeaderSize) {
      const size_t total = kHeaderSize + ((static_cast<size_t>(in[2]) << 8) | in[3]);
      if (n >= total) {
        *consumed = total;
        return Parse(in + kHeaderSize, total - kHeaderSize, msg);
      }
    }
  }
  if (buf_.capacity() < max_packet_) {
    buf_.reserve(max_packet_);
  }
  while (*consumed < n) {
    size_t target = kHeaderSize;
    if (buf_.size() >= kHeaderSize) {
      target +=
          (static_cast<size_t>(static_cast<uint8_t>(buf_[2])) << 8) | static_cast<uint8_t>(buf_[3]);
    }
    const size_t take = std::min(target - buf_.size(), n - *consumed);
    buf_.append(p + *consumed, take);
    *consumed += take;
    const auto* b = reinterpret_cast<const uint8_t*>(buf_.data());
    if (CheckPrefix(b, std::min<size_t>(buf_.size(), kHeaderSize + 1)) == Result::kError) {
      return Result::kError;
    }
    if (buf_.size() > kHeaderSize && buf_.size() == target) {
      release_ = true;  // msg->data may point into buf_ until the next call
      return Parse(b + kHeaderSize, target - kHeaderSize, msg);
    }
  }
  return Result::kNeedMore;
}

Decoder::Result Decoder::Parse(const uint8_t* q, size_t len, Message* msg) {
  Reader r(q, len);
  uint8_t type = 0;
  r.U8(&type);  // len >= 1 and the type were checked by CheckPrefix
  msg->head = SendHeaders();
  msg->data = std::string_view();
  msg->reuse = false;
  msg->requested = 0;
  switch (type) {
    case kSendHeaders: {
      msg->type = MessageType::kSendHeaders;
      uint16_t status = 0;
      if (!r.U16(&status)) {
        return Fail("send_headers: truncated status");
      }
      if (status < 200 || status > 599) {
        return Fail("send_headers: status " + std::to_string(status) + " outside 200..599");
      }
      std::string_view reason;
      if (const char* why = r.Str(&reason)) {
        return Fail(std::string("send_headers: reason: ") + why);
      }
      if (!IsFieldText(reason)) {
        return Fail("send_headers: control character in the reason");
      }
      uint16_t count = 0;
      if (!r.U16(&count)) {
        return Fail("send_headers: truncated header count");
      }
      SendHeaders& h = msg->head;
      h.status = status;
      h.reason.assign(reason);
      // Each header needs at least 5 bytes (a code and an empty value); the
      // reserve is bounded by the packet, not by the count.
      h.headers.reserve(std::min<size_t>(count, r.remaining() / 5));
      for (unsigned i = 0; i < count; ++i) {
        auto where = [&] {
          return "send_headers: header " + std::to_string(i + 1) + " of " + std::to_string(count) +
                 ": ";
        };
        uint16_t code = 0;
        if (!r.Peek16(&code)) {
          return Fail(where() + "truncated name");
        }
        ResponseHeader rh;
        if ((code & kCodedHeaderMask) == kCodedHeaderPrefix) {
          r.U16(&code);
          const unsigned idx = code & 0xFF;
          if (idx < 1 || idx > std::size(kResponseHeaders)) {
            return Fail(where() + "unknown coded name " + Hex(code, 4));
          }
          rh.name = kResponseHeaders[idx - 1];
        } else {
          std::string_view name;
          if (const char* why = r.Str(&name)) {
            return Fail(where() + "name: " + why);
          }
          if (name.empty()) {
            return Fail(where() + "empty name");
          }
          for (char c : name) {
            if (!IsTokenChar(static_cast<unsigned char>(c))) {
              return Fail(where() + "name is not a token");
            }
          }
          rh.name.assign(name);
        }
        std::string_view value;
        if (const char* why = r.Str(&value)) {
          return Fail(where() + "value: " + why);
        }
        if (!IsFieldText(value)) {
          return Fail(where() + "control character in the value");
        }
        rh.value.assign(value);
        h.headers.push_back(std::move(rh));
      }
      if (r.remaining() != 0) {
        return Fail("send_headers: " + std::to_string(r.remaining()) + " trailing bytes");
      }
      in_response_ = true;
      return Result::kMessage;
    }
    case kSendBodyChunk: {
      msg->type = MessageType::kSendBodyChunk;
      uint16_t dlen = 0;
      if (!r.U16(&dlen)) {
        return Fail("send_body_chunk: truncated length");
      }
      // type + length + data + NUL
      if (len != 3 + static_cast<size_t>(dlen) + 1) {
        return Fail("send_body_chunk: chunk length " + std::to_string(dlen) +
                    " does not match the packet length " + std::to_string(len));
      }
      if (q[len - 1] != 0) {
        return Fail("send_body_chunk: missing nul after the data");
      }
      msg->data = std::string_view(reinterpret_cast<const char*>(q + 3), dlen);
      return Result::kMessage;
    }
    case kEndResponse: {
      msg->type = MessageType::kEndResponse;
      uint8_t reuse = 0;
      if (len != 2 || !r.U8(&reuse)) {
        return Fail("end_response: packet length " + std::to_string(len) + ", expected 2");
      }
      if (reuse > 1) {
        return Fail("end_response: reuse flag " + std::to_string(reuse) + " is neither 0 nor 1");
      }
      msg->reuse = reuse == 1;
      in_response_ = false;
      return Result::kMessage;
    }
    case kGetBodyChunk: {
      msg->type = MessageType::kGetBodyChunk;
      if (len != 3 || !r.U16(&msg->requested)) {
        return Fail("get_body_chunk: packet length " + std::to_string(len) + ", expected 3");
      }
      return Result::kMessage;
    }
    case kCpong:
      msg->type = MessageType::kCpong;
      if (len != 1) {
        return Fail("cpong: packet length " + std::to_string(len) + ", expected 1");
      }
      return Result::kMessage;
    default:
      return Fail("unknown message type " + std::to_string(type));
  }
}

}  // namespace drover::ajp
