// AJP13 wire constants (Apache JServ Protocol 1.3, as spoken by Tomcat's AJP
// connector and Apache's mod_proxy_ajp): packet magics and sizes, message
// types, method codes, coded header names and request attribute codes.
// Constants only; the codec lives in encoder.h / decoder.h / response.h.
//
// A packet is a 4-byte header then a payload of at most max_packet - 4 bytes:
//   proxy -> container:  0x12 0x34 len_hi len_lo payload
//   container -> proxy:  'A'  'B'  len_hi len_lo payload
// Integers are big-endian. A string is a 2-byte length, the bytes and a NUL
// (the NUL is not counted); length 0xFFFF is the null string (no bytes follow).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace drover::ajp {

// Packet sizes include the 4-byte header. Tomcat's packetSize (8192..65536)
// must equal the proxy's; mod_proxy_ajp uses ProxyIOBufferSize (8192 default).
inline constexpr size_t kHeaderSize = 4;
inline constexpr size_t kDefaultPacketSize = 8192;
inline constexpr size_t kMinPacketSize = 1024;  // smaller sizes are refused by the codec
inline constexpr size_t kMaxPacketSize = 65536;

inline constexpr uint8_t kToContainerMagic0 = 0x12;
inline constexpr uint8_t kToContainerMagic1 = 0x34;
inline constexpr uint8_t kFromContainerMagic0 = 'A';
inline constexpr uint8_t kFromContainerMagic1 = 'B';

// Message types (first payload byte).
enum MessageCode : uint8_t {
  kForwardRequest = 2,  // proxy -> container
  kSendBodyChunk = 3,   // container -> proxy
  kSendHeaders = 4,     // container -> proxy
  kEndResponse = 5,     // container -> proxy
  kGetBodyChunk = 6,    // container -> proxy
  kShutdown = 7,        // proxy -> container (never sent by drover)
  kCping = 10,          // proxy -> container
  kCpong = 9,           // container -> proxy
};

// Method codes of FORWARD_REQUEST (1 = OPTIONS ... 27 = MKACTIVITY). A method
// outside this table is sent as kMethodStored plus a kAttrStoredMethod
// attribute carrying its name, as mod_proxy_ajp does since 2.4.x.
inline constexpr uint8_t kMethodStored = 0xFF;  // SC_M_JK_STORED

// Request attribute codes (after the headers, terminated by kAttrDone).
enum AttributeCode : uint8_t {
  kAttrContext = 0x01,      // unused by Tomcat, never sent
  kAttrServletPath = 0x02,  // unused by Tomcat, never sent
  kAttrRemoteUser = 0x03,
  kAttrAuthType = 0x04,
  kAttrQueryString = 0x05,
  kAttrJvmRoute = 0x06,
  kAttrSslCert = 0x07,
  kAttrSslCipher = 0x08,
  kAttrSslSession = 0x09,
  kAttrReqAttribute = 0x0A,  // name string + value string
  kAttrSslKeySize = 0x0B,    // 2-byte integer, not a string
  kAttrSecret = 0x0C,
  kAttrStoredMethod = 0x0D,
  kAttrDone = 0xFF,
};

// Request attributes Tomcat reads from kAttrReqAttribute (names as mod_proxy_ajp
// sends them).
inline constexpr char kReqAttrRemotePort[] = "AJP_REMOTE_PORT";
inline constexpr char kReqAttrLocalAddr[] = "AJP_LOCAL_ADDR";
inline constexpr char kReqAttrSslProtocol[] = "AJP_SSL_PROTOCOL";

// Coded header names are 0xA0nn; any other 2-byte value there is the length of
// a string name. Consequence (shared with every AJP13 peer): a string header
// name of 0xA000 bytes or more cannot be sent; packet sizes rule it out anyway.
inline constexpr uint16_t kCodedHeaderMask = 0xFF00;
inline constexpr uint16_t kCodedHeaderPrefix = 0xA000;

// The null string marker.
inline constexpr uint16_t kNullString = 0xFFFF;

// tchar (RFC 9110 §5.6.2): what methods and header names are made of.
inline bool IsTokenChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

}  // namespace drover::ajp
