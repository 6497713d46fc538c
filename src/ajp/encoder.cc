// AJP13 encoding (see encoder.h for the layout and the body protocol).
#include "ajp/encoder.h"

#include <string>

#include "core/strings.h"

namespace drover::ajp {
namespace {

// The AJP13 method table: code = index + 1.
// clang-format off
constexpr std::string_view kMethods[] = {
    "OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE",                  // 1-7
    "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK",          // 8-14
    "ACL", "REPORT", "VERSION-CONTROL", "CHECKIN", "CHECKOUT", "UNCHECKOUT",     // 15-20
    "SEARCH", "MKWORKSPACE", "UPDATE", "LABEL", "MERGE", "BASELINE-CONTROL",     // 21-26
    "MKACTIVITY"};                                                               // 27
// clang-format on

// Coded request header names: code = 0xA000 + index + 1.
constexpr std::string_view kRequestHeaders[] = {
    "accept",     "accept-charset", "accept-encoding", "accept-language", "authorization",
    "connection", "content-type",   "content-length",  "cookie",          "cookie2",
    "host",       "pragma",         "referer",         "user-agent"};

// Appends AJP primitives; remembers the first string that cannot be encoded.
class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}
  void U8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void U16(uint16_t v) {
    out_->push_back(static_cast<char>(v >> 8));
    out_->push_back(static_cast<char>(v & 0xFF));
  }
  void Str(std::string_view s) {
    if (s.size() >= kNullString) {
      too_long_ = true;
      return;
    }
    U16(static_cast<uint16_t>(s.size()));
    out_->append(s);
    out_->push_back('\0');
  }
  void NullStr() { U16(kNullString); }
  void Attr(uint8_t code, std::string_view s) {
    U8(code);
    Str(s);
  }
  bool too_long() const { return too_long_; }

 private:
  std::string* out_;
  bool too_long_ = false;
};

}  // namespace

uint8_t MethodCode(std::string_view method) {
  for (size_t i = 0; i < std::size(kMethods); ++i) {
    if (kMethods[i] == method) {
      return static_cast<uint8_t>(i + 1);
    }
  }
  return kMethodStored;
}

uint16_t RequestHeaderCode(std::string_view name) {
  for (size_t i = 0; i < std::size(kRequestHeaders); ++i) {
    if (core::IEquals(kRequestHeaders[i], name)) {
      return static_cast<uint16_t>(kCodedHeaderPrefix + i + 1);
    }
  }
  return 0;
}

core::Status EncodeForwardRequest(const ForwardRequest& req, size_t max_packet, std::string* out) {
  if (max_packet < kMinPacketSize || max_packet > kMaxPacketSize) {
    return core::Status::Error("packet size " + std::to_string(max_packet) + " outside " +
                               std::to_string(kMinPacketSize) + ".." +
                               std::to_string(kMaxPacketSize));
  }
  if (req.method.empty()) {
    return core::Status::Error("empty request method");
  }
  for (char c : req.method) {
    if (!IsTokenChar(static_cast<unsigned char>(c))) {
      return core::Status::Error("request method is not a token");
    }
  }
  if (req.headers.size() > 0xFFFF) {
    return core::Status::Error("more than 65535 request headers");
  }
  const size_t start = out->size();
  Writer w(out);
  w.U8(kToContainerMagic0);
  w.U8(kToContainerMagic1);
  w.U16(0);  // patched below
  const uint8_t method = MethodCode(req.method);
  w.U8(kForwardRequest);
  w.U8(method);
  w.Str(req.protocol);
  w.Str(req.req_uri);
  w.Str(req.remote_addr);
  if (req.remote_host) {
    w.Str(*req.remote_host);
  } else {
    w.NullStr();
  }
  w.Str(req.server_name);
  w.U16(req.server_port);
  w.U8(req.is_ssl ? 1 : 0);
  w.U16(static_cast<uint16_t>(req.headers.size()));
  for (const http::Header& h : req.headers) {
    if (uint16_t code = RequestHeaderCode(h.name); code != 0) {
      w.U16(code);
    } else if (h.name.size() >= kMaxStringHeaderName) {
      // A name sent as a string starts with its length, and the container reads any
      // first two bytes 0xA0nn as a coded name (Tomcat's AjpProcessor, mod_jk): a name
      // of 40,960 bytes or more would be taken for one, and the rest of its bytes for
      // further headers and attributes of the client's making. No real name is that
      // long; LimitRequestFieldSize and the packet size can both allow one.
      out->resize(start);
      return core::Status::Error("a request header name of 40960 bytes or more cannot be encoded");
    } else {
      w.Str(h.name);
    }
    w.Str(h.value);
  }
  if (!req.secret.empty()) {
    w.Attr(kAttrSecret, req.secret);
  }
  if (!req.remote_user.empty()) {
    w.Attr(kAttrRemoteUser, req.remote_user);
  }
  if (!req.auth_type.empty()) {
    w.Attr(kAttrAuthType, req.auth_type);
  }
  if (req.query_string) {
    w.Attr(kAttrQueryString, *req.query_string);
  }
  if (!req.jvm_route.empty()) {
    w.Attr(kAttrJvmRoute, req.jvm_route);
  }
  if (req.is_ssl) {
    if (!req.ssl_cert.empty()) {
      w.Attr(kAttrSslCert, req.ssl_cert);
    }
    if (!req.ssl_cipher.empty()) {
      w.Attr(kAttrSslCipher, req.ssl_cipher);
    }
    if (!req.ssl_session.empty()) {
      w.Attr(kAttrSslSession, req.ssl_session);
    }
    if (req.ssl_key_size >= 0) {
      w.U8(kAttrSslKeySize);
      w.U16(static_cast<uint16_t>(req.ssl_key_size > 0xFFFF ? 0xFFFF : req.ssl_key_size));
    }
  }
  if (method == kMethodStored) {
    w.Attr(kAttrStoredMethod, req.method);
  }
  for (const Attribute& a : req.req_attributes) {
    w.U8(kAttrReqAttribute);
    w.Str(a.name);
    w.Str(a.value);
  }
  w.U8(kAttrDone);

  const size_t size = out->size() - start;
  if (w.too_long()) {
    out->resize(start);
    return core::Status::Error("a request field of 65535 bytes or more cannot be encoded");
  }
  if (size > max_packet) {
    out->resize(start);
    return core::Status::Error("forward request of " + std::to_string(size) +
                               " bytes exceeds the packet size " + std::to_string(max_packet));
  }
  const size_t payload = size - kHeaderSize;
  (*out)[start + 2] = static_cast<char>(payload >> 8);
  (*out)[start + 3] = static_cast<char>(payload & 0xFF);
  return core::Status::Ok();
}

std::array<char, 6> BodyChunkHeader(uint16_t len) {
  const unsigned packet = static_cast<unsigned>(len) + 2;
  return {static_cast<char>(kToContainerMagic0), static_cast<char>(kToContainerMagic1),
          static_cast<char>(packet >> 8),        static_cast<char>(packet & 0xFF),
          static_cast<char>(len >> 8),           static_cast<char>(len & 0xFF)};
}

core::Status EncodeBodyChunk(const char* data, size_t len, size_t max_packet, std::string* out) {
  if (max_packet < kMinPacketSize || max_packet > kMaxPacketSize) {
    return core::Status::Error("packet size " + std::to_string(max_packet) + " outside " +
                               std::to_string(kMinPacketSize) + ".." +
                               std::to_string(kMaxPacketSize));
  }
  if (len > MaxBodyChunk(max_packet)) {
    return core::Status::Error("body chunk of " + std::to_string(len) +
                               " bytes exceeds the packet size " + std::to_string(max_packet));
  }
  const auto hdr = BodyChunkHeader(static_cast<uint16_t>(len));
  out->append(hdr.data(), hdr.size());
  if (len > 0) {
    out->append(data, len);
  }
  return core::Status::Ok();
}

std::string EncodeCping() { return std::string("\x12\x34\x00\x01\x0a", 5); }

}  // namespace drover::ajp
