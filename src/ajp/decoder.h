// AJP13 decoding, container -> proxy: an incremental, strict decoder for the
// packets a container sends on one connection. Pure code (no sockets, no
// libevent); run by workers and by the health checker (CPING/CPONG).
//
// Feed() takes whatever bytes have arrived, split anywhere, and stops at the
// end of each message so the caller handles one message at a time. It holds
// at most one packet (max_packet bytes) of its own: a packet that arrives
// whole in one Feed() is parsed in place without copying.
//
// Messages (payload after 'A' 'B' len(2)):
//   4 SEND_HEADERS     status(2) reason(s) num(2) num x {name: 0xA0nn | s, value: s}
//   3 SEND_BODY_CHUNK  len(2) data(len) 0x00      (the NUL is what Tomcat sends and
//                                                  mod_proxy_ajp requires)
//   5 END_RESPONSE     reuse(1): 1 = the connection may carry the next request
//   6 GET_BODY_CHUNK   requested(2): the container wants up to this many body bytes
//   9 CPONG            (answer to CPING)
// Coded response header names 0xA001..0xA00B are Content-Type,
// Content-Language, Content-Length, Date, Last-Modified, Location, Set-Cookie,
// Set-Cookie2, Servlet-Engine, Status, WWW-Authenticate.
//
// Strict: every deviation is an error with a one-line lowercase reason (the
// proxy answers 502, logs the reason and closes the connection) and the
// decoder stays failed until Reset(). Errors: wrong magic, length 0 or above
// max_packet - 4, unknown message type, a message out of sequence (body or
// END_RESPONSE before SEND_HEADERS, a second SEND_HEADERS, CPONG inside a
// response), truncated integers or strings, a null string (0xFFFF), a string
// without its NUL, a header count that overruns the packet, unknown coded
// header names, trailing bytes, a chunk length that disagrees with the packet
// length, a reuse flag other than 0/1, a status outside 200..599 (AJP has no
// interim responses; 101 cannot be tunnelled), an empty or non-token header
// name, and control characters (other than HTAB) in a reason or header value.
// Magic, length and type are checked as soon as their bytes arrive; the rest
// when the packet is complete, so any split of the input gives the same result.
//
// Sequence per request: [GET_BODY_CHUNK]* SEND_HEADERS [SEND_BODY_CHUNK |
// GET_BODY_CHUNK]* END_RESPONSE. END_RESPONSE returns the decoder to its
// initial state for the next request on the same connection.
//
// Driving one exchange from the event loop (the proxy's side):
//   1. Write EncodeForwardRequest(); with Content-Length > 0 also the first
//      body packet (up to MaxBodyChunk bytes) without waiting to be asked.
//   2. Feed member bytes; per message:
//      kGetBodyChunk  send one body packet of up to min(requested,
//                     MaxBodyChunk(max_packet)) bytes, or the empty packet
//                     when the client body is exhausted (or was cut short).
//      kSendHeaders   BuildResponseHead() (response.h), then the usual
//                     SendResponseHead path.
//      kSendBodyChunk relay per ResponseFraming (response.h).
//      kEndResponse   finish the client response. Body bytes the container
//                     never asked for are not sent (Tomcat swallows an unread
//                     first packet itself). Pool the connection only when
//                     reuse is set, idle() holds and no bytes are left over.
//      kError         502 (if no head was sent yet; else abort the client
//                     connection), log error(), close the member connection.
//   Health check / ping=: send EncodeCping(); only kCpong within the
//   timeout is a pass.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ajp/protocol.h"

namespace drover::ajp {

struct ResponseHeader {
  std::string name;  // coded names spelled as in the table above ("Set-Cookie")
  std::string value;
};

// A decoded SEND_HEADERS. Owned strings: the proxy keeps it for the exchange
// and points an http::ResponseHead at it (see response.h).
struct SendHeaders {
  int status = 0;
  std::string reason;
  std::vector<ResponseHeader> headers;  // in the order received
};

enum class MessageType { kSendHeaders, kSendBodyChunk, kEndResponse, kGetBodyChunk, kCpong };

struct Message {
  MessageType type = MessageType::kCpong;
  SendHeaders head;        // kSendHeaders (move it out)
  std::string_view data;   // kSendBodyChunk: may be empty (Tomcat's flush); points into the
                           // caller's input or the decoder; valid until the next Feed() or
                           // Reset() and while the caller's input is unchanged
  bool reuse = false;      // kEndResponse
  uint16_t requested = 0;  // kGetBodyChunk: as sent; the proxy sends at most
                           // min(requested, MaxBodyChunk(max_packet)) bytes
};

class Decoder {
 public:
  enum class Result { kNeedMore, kMessage, kError };

  // max_packet is clamped to [kMinPacketSize, kMaxPacketSize].
  explicit Decoder(size_t max_packet = kDefaultPacketSize);

  // Consumes a prefix of [p, p+n). kNeedMore: all n bytes were consumed (held
  // until the packet completes). kMessage: *msg is filled and *consumed ends
  // at the end of that message; call again with the rest. kError: error()
  // says why; *consumed is unspecified and the connection must be dropped.
  Result Feed(const char* p, size_t n, size_t* consumed, Message* msg);

  // Forgets buffered bytes, the sequence state and any error (a new connection).
  void Reset();

  const std::string& error() const { return error_; }
  size_t max_packet() const { return max_packet_; }
  // Bytes of an incomplete packet held (0 between packets).
  size_t buffered() const { return release_ ? 0 : buf_.size(); }
  // SEND_HEADERS was decoded and END_RESPONSE has not arrived yet.
  bool in_response() const { return in_response_; }
  // No partial packet is held and no response is open: a connection in this
  // state may go back to the pool (after END_RESPONSE with reuse=1).
  bool idle() const { return buffered() == 0 && !in_response_ && !failed_; }

 private:
  Result Fail(std::string why);
  // Checks the first `have` (>= 1) bytes of a packet: magic, length, type.
  Result CheckPrefix(const uint8_t* b, size_t have);
  // Parses a complete payload (len bytes after the 4-byte header).
  Result Parse(const uint8_t* q, size_t len, Message* msg);

  size_t max_packet_;
  std::string buf_;       // the packet being assembled (header included)
  bool release_ = false;  // buf_ holds a returned packet: clear on the next Feed()
  bool in_response_ = false;
  bool failed_ = false;
  std::string error_;
};

}  // namespace drover::ajp
