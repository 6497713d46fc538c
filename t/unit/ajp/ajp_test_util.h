// Builders for container -> proxy AJP packets in the unit tests (the codec
// has no response encoder: drover never plays the container).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace drover::ajp::testing {

inline std::string U16(unsigned v) {
  return std::string{static_cast<char>((v >> 8) & 0xFF), static_cast<char>(v & 0xFF)};
}
// length + bytes + NUL
inline std::string Str(std::string_view s) {
  std::string r = U16(static_cast<unsigned>(s.size()));
  r.append(s);
  r.push_back('\0');
  return r;
}
// 'A' 'B' length payload
inline std::string Packet(std::string_view payload) {
  return "AB" + U16(static_cast<unsigned>(payload.size())) + std::string(payload);
}
inline std::string SendHeadersPayload(unsigned status, std::string_view reason, unsigned count,
                                      std::string_view headers) {
  return "\x04" + U16(status) + Str(reason) + U16(count) + std::string(headers);
}
inline std::string BodyChunk(std::string_view data) {
  std::string p = "\x03" + U16(static_cast<unsigned>(data.size())) + std::string(data);
  p.push_back('\0');
  return Packet(p);
}
inline std::string EndResponse(bool reuse) {
  return Packet(std::string("\x05") + (reuse ? '\x01' : '\x00'));
}
inline std::string GetBodyChunk(unsigned n) { return Packet("\x06" + U16(n)); }
inline std::string Cpong() { return Packet("\x09"); }

}  // namespace drover::ajp::testing
