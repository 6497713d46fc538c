// AjpExchange: the AJP13 side of one proxied exchange with an ajp:// member
// (Apache's mod_proxy_ajp), behind ClientConn's upstream protocol seam. Runs
// in workers only, on the worker's event loop.
//
// ClientConn does everything that does not depend on the member's protocol:
// routing, the pick, connect and failover, the pool, balancer accounting, the
// client side (response head through SendResponseHead: hop-by-hop rules,
// ProxyPassReverse, cookie rewrites, stickysession insert, CL/chunked/close
// framing), errors and the access log. Once a connection to an ajp:// member is
// ready, ClientConn hands the exchange to this class, which:
//   1. with ping= sends CPING and waits up to ping for CPONG; a failure on a
//      pooled connection retries once on a new one (the pooled one may just
//      have been closed by the container), a failure on a new connection puts
//      the member in error and fails over (like a connect failure; 503 when no
//      attempt is left);
//   2. sends FORWARD_REQUEST (src/ajp/encoder.h) and, when the request has
//      Content-Length > 0, the first body packet without being asked (as
//      mod_proxy_ajp does; Tomcat reads it unasked); every further packet only
//      answers a GET_BODY_CHUNK, and a GET_BODY_CHUNK once the body is
//      exhausted gets the empty packet. A chunked client body is sent without
//      Content-Length and with `Transfer-Encoding: chunked` (what mod_proxy_ajp
//      forwards): Tomcat then asks for every packet, the data goes de-chunked,
//      and the empty packet ends it. Nothing is buffered beyond one packet: the
//      client's input is read only as the container asks for it;
//   3. decodes the container's messages (src/ajp/decoder.h): SEND_HEADERS
//      becomes ClientConn::resp_ (src/ajp/response.h) and goes out through
//      SendResponseHead; SEND_BODY_CHUNK data is framed for the client with
//      backpressure (the member is not read while the client's output is past
//      the high watermark); END_RESPONSE finishes the exchange and returns the
//      connection to the pool when its reuse flag is set.
// A malformed or oversized packet answers 502 (or cuts a response already
// started), closes the member connection and logs the balancer, the member and
// the reason. Member timeouts and closes are ClientConn's (504/502, the retry
// of a stale pooled connection).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "ajp/decoder.h"
#include "ajp/response.h"

namespace drover::proxy {

class ClientConn;

class AjpExchange {
 public:
  explicit AjpExchange(ClientConn* c) : c_(c) {}

  // The connection to the member is ready (new or pooled): CPING or the request.
  void Start();
  // Sends the body packets the container is owed, as far as client data allows.
  void PumpRequestBody();
  // Processes what the member sent (also called when the client drained).
  void OnMemberRead();
  // A member event after connect; true when handled here (the CPING phase).
  bool OnMemberEvent(short events);

 private:
  void SendRequest();
  void PingFailed(const char* why);
  // Logs and fails the exchange with 502 (the member connection is closed).
  void MemberError(const std::string& why);
  // Moves up to `limit` payload bytes of the client's chunked body into one
  // body packet; false on a framing error (answered already).
  bool SendChunkedData(size_t limit, bool* sent);
  const char* BalancerName() const;
  const char* MemberUrl() const;

  ClientConn* c_;
  ajp::Decoder decoder_;
  size_t packet_ = ajp::kDefaultPacketSize;
  bool pinging_ = false;
  uint64_t ping_retried_for_ = 0;  // ClientConn::requests_ of the exchange that retried
  int owed_ = 0;                   // body packets the container is waiting for
  size_t owed_limit_ = 0;          // most data bytes in the next one
  ajp::SendHeaders head_;          // ClientConn::resp_ points into it
  ajp::ResponseFraming framing_ = ajp::ResponseFraming::kNone;
  std::string buf_;                // FORWARD_REQUEST / scratch
};

}  // namespace drover::proxy
