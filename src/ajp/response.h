// From an AJP SEND_HEADERS to what drover sends the client. Pure code; run by
// workers.
//
// BuildResponseHead() fills an http::ResponseHead, so the proxy sends AJP
// responses through the very code that sends HTTP ones (ClientConn::
// SendResponseHead): the same hop-by-hop filtering, ProxyPassReverse
// (Location, Content-Location, URI, Destination), ProxyPassReverseCookie*,
// stickysession insert, Content-Length / Transfer-Encoding / Connection lines.
// Body bytes then come from SEND_BODY_CHUNK messages, never from the head's
// buffer; ResponseFraming says how the proxy frames them for the client:
//
//   kNone        HEAD, 204, 304: no body; SEND_BODY_CHUNK data, if any, is
//                dropped. Content-Length passes through unchanged.
//   kLength      a valid Content-Length: data is relayed as is; the proxy
//                checks the total (more data than announced is a member
//                error; less at END_RESPONSE means the client connection is
//                closed after the data, as with a short HTTP body).
//   kChunked     no Content-Length, HTTP/1.1 client: each non-empty
//                SEND_BODY_CHUNK becomes one HTTP chunk (EncodeHttpChunk),
//                END_RESPONSE appends kHttpLastChunk. Empty SEND_BODY_CHUNKs
//                (Tomcat's flush) are skipped: an empty HTTP chunk would end
//                the body.
//   kUntilClose  no Content-Length, HTTP/1.0 client: data as is, then close.
//
// head->body is kNone, kLength, or kChunked for "length unknown"; with
// kChunked SendResponseHead already writes "Transfer-Encoding: chunked" for
// 1.1 clients and closes for 1.0 ones, which matches kChunked/kUntilClose.
// The member connection's reuse is END_RESPONSE's flag, not head->keep_alive
// (always true here).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "ajp/decoder.h"
#include "core/status.h"
#include "http/parser.h"

namespace drover::ajp {

enum class ResponseFraming { kNone, kLength, kChunked, kUntilClose };

// Fills *out with views into `src` (keep `src` alive and unchanged as long as
// *out is used) and decides the framing for a client speaking HTTP/1.<client_minor>
// that sent `request_method`. Content-Length follows the HTTP response rules
// of http/parser.h: 1-15 digits, a list or repeated field whose values all
// agree. Errors (the proxy answers 502): an invalid or conflicting
// Content-Length; Content-Length together with Transfer-Encoding (refused,
// as for HTTP members). Transfer-Encoding alone is ignored: AJP packets frame
// the body, the field is hop-by-hop and dropped by the proxy, and the length
// is unknown.
core::Status BuildResponseHead(const SendHeaders& src, std::string_view request_method,
                               int client_minor, http::ResponseHead* out, ResponseFraming* framing);

// The HTTP/1.1 chunk for `len` body bytes: "<hex len>\r\n" data "\r\n",
// appended to *out. len == 0 appends nothing (see kChunked above).
void EncodeHttpChunk(const char* data, size_t len, std::string* out);
// Just the "<hex len>\r\n" line, for callers that move the data themselves
// (then append "\r\n" after it). Empty for len == 0.
std::string HttpChunkPrefix(size_t len);
// The last chunk with no trailers.
inline constexpr std::string_view kHttpLastChunk = "0\r\n\r\n";

}  // namespace drover::ajp
