// libFuzzer target: ajp::EncodeForwardRequest (src/ajp/encoder.h), the proxy -> container
// FORWARD_REQUEST built from a client's request, read back with a strict reader of its
// own written from the layout in encoder.h (as Tomcat's AjpProcessor reads it). The
// input is NUL-separated fields: method, protocol, uri, remote address, remote host,
// server name, query, remote user, auth type, jvm route, secret, ssl cert, cipher and
// session, then name/value pairs: headers, or request attributes when the name starts
// with '@'. The first byte holds flags (TLS, query present, remote host present, 1024-
// or 8192-byte packets, a key size). Checks memory/UB errors and:
//   - on success: exactly one packet is appended (what was in the buffer stays), its
//     length field matches, it fits max_packet, and every field reads back as given,
//     in order: the method's code (or the stored method), each header's code or name,
//     each attribute sent only when the rules say, and 0xFF right at the end;
//   - on failure: nothing is appended, and the failure has a reason.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ajp/encoder.h"
#include "fuzz_util.h"

namespace {

using drover::fuzz::Check;
using namespace drover::ajp;

// Reads the packet the way a container does; any overrun is a property violation.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  uint8_t U8() {
    Check(pos_ < s_.size(), "read past the packet");
    return static_cast<uint8_t>(s_[pos_++]);
  }
  uint16_t U16() {
    const uint16_t hi = U8();
    return static_cast<uint16_t>(hi << 8 | U8());
  }
  uint16_t Peek16() const {
    Check(pos_ + 2 <= s_.size(), "peek past the packet");
    return static_cast<uint16_t>(static_cast<uint8_t>(s_[pos_]) << 8 |
                                 static_cast<uint8_t>(s_[pos_ + 1]));
  }
  std::optional<std::string> Str() {
    const uint16_t n = U16();
    if (n == 0xFFFF) {
      return std::nullopt;
    }
    Check(pos_ + n + 1 <= s_.size(), "string past the packet");
    std::string v(s_.substr(pos_, n));
    pos_ += n;
    Check(s_[pos_++] == '\0', "string ends with NUL");
    return v;
  }
  std::string Str(const char* what) {
    std::optional<std::string> v = Str();
    Check(v.has_value(), what);
    return *v;
  }
  bool AtEnd() const { return pos_ == s_.size(); }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

// Splits at NULs; the last field runs to the end.
std::vector<std::string_view> Fields(std::string_view s) {
  std::vector<std::string_view> f;
  size_t start = 0;
  while (true) {
    const size_t z = s.find('\0', start);
    f.push_back(s.substr(start, z == std::string_view::npos ? s.npos : z - start));
    if (z == std::string_view::npos) {
      return f;
    }
    start = z + 1;
  }
}

void ExpectAttr(Reader* r, uint8_t code, std::string_view value) {
  Check(r->U8() == code, "attribute code in order");
  Check(r->Str("attribute value") == value, "attribute value");
}

void CheckPacket(const ForwardRequest& q, size_t max_packet, std::string_view packet) {
  Check(packet.size() >= 4 && packet.size() <= max_packet, "packet fits max_packet");
  Check(static_cast<uint8_t>(packet[0]) == 0x12 && static_cast<uint8_t>(packet[1]) == 0x34,
        "magic");
  Reader r(packet.substr(2));
  Check(r.U16() == packet.size() - 4, "length field");
  Check(r.U8() == 0x02, "FORWARD_REQUEST");
  const uint8_t method = r.U8();
  Check(method == MethodCode(q.method), "method code");
  Check(r.Str("protocol") == q.protocol, "protocol");
  Check(r.Str("req_uri") == q.req_uri, "req_uri");
  Check(r.Str("remote_addr") == q.remote_addr, "remote_addr");
  std::optional<std::string> host = r.Str();
  Check(host.has_value() == q.remote_host.has_value() && (!host || *host == *q.remote_host),
        "remote_host");
  Check(r.Str("server_name") == q.server_name, "server_name");
  Check(r.U16() == q.server_port, "server_port");
  Check(r.U8() == (q.is_ssl ? 1 : 0), "is_ssl");
  Check(r.U16() == q.headers.size(), "header count");
  for (const drover::http::Header& h : q.headers) {
    const uint16_t code = RequestHeaderCode(h.name);
    if ((r.Peek16() & 0xFF00) == 0xA000) {
      Check(code != 0 && r.U16() == code, "coded header name");
    } else {
      Check(code == 0 && r.Str("header name") == h.name, "header name as a string");
    }
    Check(r.Str("header value") == h.value, "header value");
  }
  if (!q.secret.empty()) ExpectAttr(&r, 0x0C, q.secret);
  if (!q.remote_user.empty()) ExpectAttr(&r, 0x03, q.remote_user);
  if (!q.auth_type.empty()) ExpectAttr(&r, 0x04, q.auth_type);
  if (q.query_string) ExpectAttr(&r, 0x05, *q.query_string);
  if (!q.jvm_route.empty()) ExpectAttr(&r, 0x06, q.jvm_route);
  if (q.is_ssl) {
    if (!q.ssl_cert.empty()) ExpectAttr(&r, 0x07, q.ssl_cert);
    if (!q.ssl_cipher.empty()) ExpectAttr(&r, 0x08, q.ssl_cipher);
    if (!q.ssl_session.empty()) ExpectAttr(&r, 0x09, q.ssl_session);
    if (q.ssl_key_size >= 0) {
      Check(r.U8() == 0x0B && r.U16() == q.ssl_key_size, "ssl_key_size");
    }
  }
  if (method == kMethodStored) ExpectAttr(&r, 0x0D, q.method);
  for (const Attribute& a : q.req_attributes) {
    Check(r.U8() == 0x0A, "req_attribute code");
    Check(r.Str("req_attribute name") == a.name, "req_attribute name");
    Check(r.Str("req_attribute value") == a.value, "req_attribute value");
  }
  Check(r.U8() == 0xFF, "terminator");
  Check(r.AtEnd(), "nothing after the terminator");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const uint8_t flags = data[0];
  const std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<std::string_view> f = Fields(input);
  f.resize(std::max<size_t>(f.size(), 14));
  ForwardRequest q;
  q.method = f[0];
  q.protocol = f[1];
  q.req_uri = f[2];
  q.remote_addr = f[3];
  if (flags & 4) {
    q.remote_host = f[4];
  }
  q.server_name = f[5];
  q.server_port = static_cast<uint16_t>(8000 + (flags >> 5));
  q.is_ssl = (flags & 1) != 0;
  if (flags & 2) {
    q.query_string = f[6];
  }
  q.remote_user = f[7];
  q.auth_type = f[8];
  q.jvm_route = f[9];
  q.secret = f[10];
  q.ssl_cert = f[11];
  q.ssl_cipher = f[12];
  q.ssl_session = f[13];
  q.ssl_key_size = (flags & 16) ? 256 : -1;
  for (size_t i = 14; i + 1 < f.size(); i += 2) {
    if (!f[i].empty() && f[i][0] == '@') {
      q.req_attributes.push_back({f[i].substr(1), f[i + 1]});
    } else {
      q.headers.push_back({f[i], f[i + 1]});
    }
  }
  const size_t max_packet = (flags & 8) ? kMinPacketSize : kDefaultPacketSize;
  std::string out = "queued";
  const drover::core::Status st = EncodeForwardRequest(q, max_packet, &out);
  Check(out.compare(0, 6, "queued") == 0, "what was queued stays");
  if (st.ok()) {
    CheckPacket(q, max_packet, std::string_view(out).substr(6));
  } else {
    Check(out == "queued", "nothing appended on an error");
    Check(!st.message().empty(), "an error has a reason");
  }
  return 0;
}
