// AJP13 encoding, proxy -> container: FORWARD_REQUEST, request body packets
// and CPING. Pure code (no sockets, no libevent); run by workers and by the
// health checker. Every function appends to a caller-owned std::string so a
// FORWARD_REQUEST and the first body packet can be queued in one buffer.
//
// Layout of FORWARD_REQUEST (cross-checked against mod_proxy_ajp's
// ajp_marshal_into_msgb and Tomcat's AjpProcessor.prepareRequest):
//   0x12 0x34 len(2)
//   0x02 method(1) protocol(s) req_uri(s) remote_addr(s) remote_host(s)
//   server_name(s) server_port(2) is_ssl(1) num_headers(2)
//   num_headers x { name: code 0xA0nn(2) | string, value: string }
//   attributes, each code(1) + string (key size: code + 2-byte integer;
//   req_attribute: code + name string + value string), in this order:
//     secret 0x0C, remote_user 0x03, auth_type 0x04, query_string 0x05,
//     jvm_route 0x06, [is_ssl only: ssl_cert 0x07, ssl_cipher 0x08,
//     ssl_session 0x09, ssl_key_size 0x0B], stored_method 0x0D (methods
//     outside the table), req_attribute 0x0A x N
//   0xFF (terminator)
// Strings are length(2) + bytes + NUL; the null string is 0xFFFF alone.
// Apache puts the secret in the same place as mod_jk (right after the
// headers); Tomcat accepts attributes in any order.
//
// The request body is never part of FORWARD_REQUEST. When the request has
// Content-Length > 0 the proxy sends the first body packet right after
// FORWARD_REQUEST without being asked (Tomcat reads it unasked); every
// further packet answers a GET_BODY_CHUNK. With an unknown length (chunked
// request) Tomcat asks for the first packet too. When the body is exhausted,
// a GET_BODY_CHUNK is answered with an empty body packet (end of body).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ajp/protocol.h"
#include "core/status.h"
#include "http/parser.h"

namespace drover::ajp {

// A kAttrReqAttribute pair (Tomcat exposes it as a request attribute; the
// AJP_* names in protocol.h are interpreted by Tomcat itself).
struct Attribute {
  std::string_view name;
  std::string_view value;
};

// Everything a FORWARD_REQUEST carries. Views must stay valid during the call.
struct ForwardRequest {
  std::string_view method;                 // case-sensitive token, e.g. "GET", "PATCH"
  std::string_view protocol = "HTTP/1.1";  // the client's request protocol
  std::string_view req_uri;                // path without the query ("/app/x;jsessionid=a.n1")
  std::string_view remote_addr;            // client IP address
  // nullopt: the null string (what Apache sends without HostnameLookups).
  std::optional<std::string_view> remote_host;
  std::string_view server_name;  // Host without port (ap_get_server_name)
  uint16_t server_port = 80;     // local port the client connected to
  bool is_ssl = false;           // the client came over TLS
  // Sent as given, in order; the caller filters hop-by-hop fields.
  std::vector<http::Header> headers;
  // Present (even "") when the request target had a '?'.
  std::optional<std::string_view> query_string;
  // Each of these is sent only when non-empty.
  std::string_view remote_user;
  std::string_view auth_type;
  std::string_view jvm_route;  // the session route picked by stickiness
  std::string_view secret;     // the member's secret= key
  // Sent only when is_ssl (like Apache), each when non-empty / >= 0.
  std::string_view ssl_cert;     // PEM client certificate
  std::string_view ssl_cipher;   // cipher name
  std::string_view ssl_session;  // session id (hex)
  int ssl_key_size = -1;         // bits
  // kAttrReqAttribute pairs in order, e.g. {kReqAttrRemotePort, "51234"}.
  std::vector<Attribute> req_attributes;
};

// The AJP method code for `method` (exact, case-sensitive match against the
// 27 names of the AJP13 table: OPTIONS=1 GET=2 HEAD=3 POST=4 PUT=5 DELETE=6
// TRACE=7 ... MKACTIVITY=27), or kMethodStored (0xFF) for any other method.
uint8_t MethodCode(std::string_view method);

// The 0xA0nn code of a request header name (case-insensitive): accept 0xA001,
// accept-charset, accept-encoding, accept-language, authorization,
// connection, content-type 0xA007, content-length 0xA008, cookie 0xA009,
// cookie2, host 0xA00B, pragma, referer, user-agent 0xA00E; 0 when the name
// is sent as a string.
uint16_t RequestHeaderCode(std::string_view name);

// Appends the FORWARD_REQUEST packet for `req` to *out. Errors (nothing is
// appended): max_packet outside [kMinPacketSize, kMaxPacketSize]; the packet
// would exceed max_packet bytes (header included; mod_proxy_ajp answers such
// a request with 500, like a too-large head); more than 65535 headers; a
// string of 65535 bytes or more; a header name of kMaxStringHeaderName
// bytes or more (its length would read as a coded name 0xA0nn); a method
// that is not a non-empty token.
inline constexpr size_t kMaxStringHeaderName = 0xA000;  // 40960
core::Status EncodeForwardRequest(const ForwardRequest& req, size_t max_packet, std::string* out);

// Bytes of a body packet before its data: magic, packet length, data length.
inline constexpr size_t kBodyPacketOverhead = 6;
// Largest body payload of one body packet: max_packet - 6 (8186 for 8192).
inline constexpr size_t MaxBodyChunk(size_t max_packet) { return max_packet - kBodyPacketOverhead; }

// Appends one body packet: 0x12 0x34 len+2(2) len(2) data. len == 0 gives the
// empty packet 12 34 00 02 00 00 that ends the body (what mod_proxy_ajp
// sends; Tomcat also takes 12 34 00 00). Error when len > MaxBodyChunk().
core::Status EncodeBodyChunk(const char* data, size_t len, size_t max_packet, std::string* out);

// The 6 bytes that precede `len` body bytes in a body packet, for callers
// that move the data between buffers without copying it into a string.
// len must be <= MaxBodyChunk(max_packet) (checked by the caller).
std::array<char, 6> BodyChunkHeader(uint16_t len);

// The CPING packet: 12 34 00 01 0A. The container answers CPONG (AB 00 01 09).
std::string EncodeCping();

}  // namespace drover::ajp
