// AjpExchange (see ajp_exchange.h): one exchange with an ajp:// member, run
// from ClientConn's upstream protocol seam. Workers only.
#include "proxy/ajp_exchange.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "ajp/encoder.h"
#include "core/log.h"
#include "core/strings.h"
#include "proxy/server.h"
#include "tls/bufferevent.h"

namespace drover::proxy {
namespace {

// The same watermarks as client.cc: past kHighWater bytes waiting for the
// client, the member is not read until the output drains below kLowWater.
constexpr size_t kHighWater = 256 * 1024;
constexpr size_t kLowWater = 64 * 1024;

// ap_get_server_name with UseCanonicalName Off: the client's Host, split into
// name and port ("[::1]:8080" -> "::1", 8080); `def` when the Host has none.
void SplitHost(std::string_view host, uint16_t def, std::string_view* name, uint16_t* port) {
  *port = def;
  size_t colon = std::string_view::npos;
  if (!host.empty() && host[0] == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) {
      *name = host;
      return;
    }
    *name = host.substr(1, close - 1);
    if (close + 1 < host.size() && host[close + 1] == ':') {
      colon = close + 1;
    }
  } else {
    colon = host.rfind(':');
    *name = host.substr(0, colon);
  }
  if (colon != std::string_view::npos) {
    unsigned v = 0;
    std::string_view digits = host.substr(colon + 1);
    bool ok = !digits.empty() && digits.size() <= 5;
    for (char ch : digits) {
      ok = ok && ch >= '0' && ch <= '9';
      v = v * 10 + static_cast<unsigned>(ch - '0');
    }
    if (ok && v > 0 && v < 65536) {
      *port = static_cast<uint16_t>(v);
    }
  }
}

std::string LocalAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  char ip[INET6_ADDRSTRLEN] = "";
  if (fd >= 0 && getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    if (ss.ss_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, ip, sizeof(ip));
    } else if (ss.ss_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, ip, sizeof(ip));
    }
  }
  return ip;
}

// What mod_ssl exports to mod_proxy_ajp for a TLS client: cipher, session id
// (hex), key size, protocol and the client certificate (PEM), when there is one.
struct SslInfo {
  std::string cipher, session, protocol, cert;
  int bits = -1;
};

void FillSslInfo(bufferevent* bev, SslInfo* out) {
  SSL* ssl = tls::GetSsl(bev);
  if (ssl == nullptr) {
    return;  // a plain listener, or the TLS module is not wired in yet
  }
  if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl)) {
    out->cipher = SSL_CIPHER_get_name(c);
    out->bits = SSL_CIPHER_get_bits(c, nullptr);
  }
  out->protocol = SSL_get_version(ssl);
  if (SSL_SESSION* s = SSL_get_session(ssl)) {
    unsigned int n = 0;
    const unsigned char* id = SSL_SESSION_get_id(s, &n);
    if (n == 0) {
      // OpenSSL gives a new TLS 1.2 session no id when it issues a ticket (or without a
      // server session cache), nor a TLS 1.3 session without tickets: then mod_ssl's
      // SSL_SESSION_ID is empty and Tomcat loses ssl_session_id (and SSL session
      // tracking). A random id, kept on the session, names it for this connection.
      unsigned char fresh[SSL3_SSL_SESSION_ID_LENGTH];
      if (RAND_bytes(fresh, sizeof(fresh)) == 1 &&
          SSL_SESSION_set1_id(s, fresh, sizeof(fresh)) == 1) {
        id = SSL_SESSION_get_id(s, &n);
      }
    }
    static const char kHex[] = "0123456789ABCDEF";
    for (unsigned int i = 0; i < n; ++i) {
      out->session.push_back(kHex[id[i] >> 4]);
      out->session.push_back(kHex[id[i] & 15]);
    }
  }
  if (X509* cert = SSL_get1_peer_certificate(ssl)) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (bio != nullptr && PEM_write_bio_X509(bio, cert) == 1) {
      char* p = nullptr;
      long n = BIO_get_mem_data(bio, &p);
      if (n > 0) {
        out->cert.assign(p, static_cast<size_t>(n));
      }
    }
    BIO_free(bio);
    X509_free(cert);
  }
}

}  // namespace

const char* AjpExchange::BalancerName() const {
  return c_->balancer_ != nullptr ? c_->balancer_->name().c_str() : "?";
}

const char* AjpExchange::MemberUrl() const {
  MemberAddr* a = c_->balancer_ != nullptr && c_->member_ >= 0
                      ? c_->server_->member_addr(c_->balancer_->index(),
                                                 static_cast<uint32_t>(c_->member_))
                      : nullptr;
  return a != nullptr ? a->url.c_str() : "?";
}

void AjpExchange::Start() {
  MemberAddr* addr = c_->server_->member_addr(c_->balancer_->index(),
                                              static_cast<uint32_t>(c_->member_));
  packet_ = addr->ajp_packet;
  decoder_ = ajp::Decoder(packet_);
  owed_ = 0;
  owed_limit_ = 0;
  framing_ = ajp::ResponseFraming::kNone;
  pinging_ = false;
  if (addr->ping_ms > 0) {
    // ping=: the container must answer CPING within ping before it gets the request.
    pinging_ = true;
    SetBevTimeouts(c_->up_->bev_, &c_->up_->timeouts_, addr->ping_ms, addr->ping_ms);
    std::string cping = ajp::EncodeCping();
    evbuffer_add(bufferevent_get_output(c_->up_->bev_), cping.data(), cping.size());
    c_->up_bytes_out_ += cping.size();
    return;
  }
  SendRequest();
}

void AjpExchange::PingFailed(const char* why) {
  UpstreamConn* u = c_->up_;
  DLOG(kError, "proxy: balancer %s: member %s: CPING failed (%s)%s", BalancerName(), MemberUrl(),
       why, u->reused_ && ping_retried_for_ != c_->requests_ ? ", retrying on a new connection"
                                                             : "");
  pinging_ = false;
  if (u->reused_ && ping_retried_for_ != c_->requests_) {
    // Like mod_proxy_ajp: a pooled connection may just be stale; one more try
    // on a new connection before the member is blamed.
    ping_retried_for_ = c_->requests_;
    c_->up_ = nullptr;
    c_->proto_ = nullptr;
    c_->server_->DeferFree(u);
    MemberAddr* a = c_->server_->member_addr(c_->balancer_->index(),
                                             static_cast<uint32_t>(c_->member_));
    bool saved = a->disablereuse;
    a->disablereuse = true;  // a new connection for this attempt
    bool ok = c_->ConnectTo(c_->member_);
    a->disablereuse = saved;
    if (!ok) {
      c_->FailOver();
    }
    return;
  }
  c_->FailOver();
}

void AjpExchange::SendRequest() {
  ClientConn& c = *c_;
  const http::RequestHead& req = c.req_;
  MemberAddr* addr = c.server_->member_addr(c.balancer_->index(), static_cast<uint32_t>(c.member_));
  pinging_ = false;
  SetBevTimeouts(c.up_->bev_, &c.up_->timeouts_, addr->timeout_ms, addr->timeout_ms);

  // req_uri: the member's path + the route's path, as for HTTP; the query goes
  // in its own attribute.
  std::string uri = addr->path;
  if ((c.route_.path.empty() || c.route_.path[0] != '/') && addr->path.empty()) {
    uri.push_back('/');
  }
  uri.append(c.route_.path);
  std::optional<std::string> query;
  size_t q = uri.find('?');
  if (q != std::string::npos) {
    query = uri.substr(q + 1);
    uri.resize(q);
  }

  ajp::ForwardRequest fr;
  fr.method = req.method;
  fr.protocol = req.minor == 0 ? "HTTP/1.0" : "HTTP/1.1";
  fr.req_uri = uri;
  fr.remote_addr = c.peer_ip_;
  std::string_view host = req.host.empty() ? std::string_view(c.client_host_) : req.host;
  uint16_t host_port = 0;
  SplitHost(host, c.tls_ ? 443 : 80, &fr.server_name, &host_port);
  // server_port is the listener's port, as mod_proxy_ajp sends it
  // (r->connection->local_addr->port), not the Host's: Tomcat takes it as
  // getLocalPort() and derives getServerPort() from the Host and is_ssl itself
  // (443 over TLS when the Host has no port).
  fr.server_port = c.local_port_;
  fr.is_ssl = c.tls_;
  // Headers as the client sent them (Host included: mod_proxy_ajp forwards the
  // original Host), minus hop-by-hop fields; the body framing is ours.
  fr.headers.reserve(req.headers.size() + 1);
  for (const auto& h : req.headers) {
    if (http::IsHopByHop(h.name) || http::IsListedIn(h.name, req.connection_tokens) ||
        core::IEquals(h.name, "content-length") || core::IEquals(h.name, "expect")) {
      continue;
    }
    fr.headers.push_back(h);
  }
  std::string length;
  if (req.body == http::BodyKind::kLength) {
    length = std::to_string(req.content_length);
    fr.headers.push_back({"Content-Length", length});
  } else if (req.body == http::BodyKind::kChunked) {
    fr.headers.push_back({"Transfer-Encoding", "chunked"});
  }
  if (query) {
    fr.query_string = *query;
  }
  fr.jvm_route = c.pick_.route;
  fr.secret = addr->secret;
  SslInfo ssl;
  if (c.tls_) {
    // TLS hook: filled from the client's SSL once listeners speak TLS.
    FillSslInfo(c.bev_, &ssl);
    fr.ssl_cert = ssl.cert;
    fr.ssl_cipher = ssl.cipher;
    fr.ssl_session = ssl.session;
    fr.ssl_key_size = ssl.bits;
  }
  std::string remote_port = std::to_string(c.peer_port_);
  std::string local_addr = LocalAddress(bufferevent_getfd(c.bev_));
  fr.req_attributes.push_back({ajp::kReqAttrRemotePort, remote_port});
  if (!local_addr.empty()) {
    fr.req_attributes.push_back({ajp::kReqAttrLocalAddr, local_addr});
  }
  if (!ssl.protocol.empty()) {
    fr.req_attributes.push_back({ajp::kReqAttrSslProtocol, ssl.protocol});
  }
  buf_.clear();
  core::Status st = ajp::EncodeForwardRequest(fr, packet_, &buf_);
  if (!st.ok()) {
    // mod_proxy_ajp answers 500 when the head does not fit a packet.
    DLOG(kError, "proxy: balancer %s: member %s: cannot send %.*s %.*s over AJP (%s)",
         BalancerName(), MemberUrl(), static_cast<int>(req.method.size()), req.method.data(),
         static_cast<int>(req.path.size()), req.path.data(), st.message().c_str());
    c.UpstreamFailed(500, "request does not fit an AJP packet");
    return;
  }
  ++c.up_->requests_;
  evbuffer_add(bufferevent_get_output(c.up_->bev_), buf_.data(), buf_.size());
  c.up_bytes_out_ += buf_.size();
  c.resp_state_ = ClientConn::RespState::kHead;
  if (req.body == http::BodyKind::kLength && req.content_length > 0) {
    owed_ = 1;  // the first body packet goes unasked
    owed_limit_ = ajp::MaxBodyChunk(packet_);
  }
  if (req.expect_continue && !c.req_body_done_ && !c.sent_continue_ &&
      evbuffer_get_length(bufferevent_get_input(c.bev_)) == 0) {
    // As for HTTP members: we ask for the body ourselves; Expect is not forwarded.
    c.sent_continue_ = true;
    static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
    bufferevent_write(c.bev_, kContinue, sizeof(kContinue) - 1);
  }
  PumpRequestBody();
}

bool AjpExchange::SendChunkedData(size_t limit, bool* sent) {
  ClientConn& c = *c_;
  evbuffer* in = bufferevent_get_input(c.bev_);
  *sent = false;
  // Walk the framing a byte at a time up to the next data (or the end).
  while (!c.req_chunked_.InData()) {
    char ch;
    if (evbuffer_copyout(in, &ch, 1) != 1) {
      return true;  // more framing to come
    }
    size_t consumed = 0;
    auto st = c.req_chunked_.Feed(&ch, 1, &consumed, &c.req_payload_);
    if (st == http::ChunkedDecoder::Status::kError) {
      DLOG(kInfo, "client %s: bad chunked request body (%s)", c.peer_ip_.c_str(),
           c.req_chunked_.error());
      c.UpstreamFailed(400, "bad chunked body");
      return false;
    }
    evbuffer_drain(in, consumed);
    c.req_bytes_ += consumed;
    if (st == http::ChunkedDecoder::Status::kDone) {
      c.req_body_done_ = true;
      return true;
    }
  }
  size_t avail = evbuffer_get_length(in);
  uint64_t left = c.req_chunked_.DataRemaining();
  size_t n = avail < limit ? avail : limit;
  if (left < n) {
    n = static_cast<size_t>(left);
  }
  if (n == 0) {
    return true;
  }
  // Feed the data bytes to the decoder (it only counts them), then move them.
  size_t fed = 0;
  evbuffer_ptr pos;
  evbuffer_ptr_set(in, &pos, 0, EVBUFFER_PTR_SET);
  while (fed < n) {
    evbuffer_iovec v;
    if (evbuffer_peek(in, static_cast<ssize_t>(n - fed), &pos, &v, 1) < 1) {
      break;
    }
    size_t take = v.iov_len < n - fed ? v.iov_len : n - fed;
    size_t consumed = 0;
    c.req_chunked_.Feed(static_cast<const char*>(v.iov_base), take, &consumed, &c.req_payload_);
    fed += consumed;
    evbuffer_ptr_set(in, &pos, consumed, EVBUFFER_PTR_ADD);
    if (consumed == 0) {
      break;
    }
  }
  auto hdr = ajp::BodyChunkHeader(static_cast<uint16_t>(fed));
  evbuffer* out = bufferevent_get_output(c.up_->bev_);
  evbuffer_add(out, hdr.data(), hdr.size());
  evbuffer_remove_buffer(in, out, fed);
  c.req_bytes_ += fed;
  c.up_bytes_out_ += hdr.size() + fed;
  *sent = true;
  return true;
}

void AjpExchange::PumpRequestBody() {
  ClientConn& c = *c_;
  const auto& sc = c.server_->server_config();
  while (owed_ > 0 && c.up_ != nullptr && !pinging_) {
    evbuffer* in = bufferevent_get_input(c.bev_);
    evbuffer* out = bufferevent_get_output(c.up_->bev_);
    size_t limit = owed_limit_ > 0 ? owed_limit_ : ajp::MaxBodyChunk(packet_);
    bool sent = false;
    if (!c.req_body_done_ && c.req_.body == http::BodyKind::kLength) {
      size_t avail = evbuffer_get_length(in);
      size_t n = avail < limit ? avail : limit;
      if (n > c.req_remaining_) {
        n = static_cast<size_t>(c.req_remaining_);
      }
      if (n == 0) {
        return;  // waiting for the client
      }
      auto hdr = ajp::BodyChunkHeader(static_cast<uint16_t>(n));
      evbuffer_add(out, hdr.data(), hdr.size());
      evbuffer_remove_buffer(in, out, n);
      c.req_remaining_ -= n;
      c.req_payload_ += n;
      c.req_bytes_ += n;
      c.up_bytes_out_ += hdr.size() + n;
      c.req_body_done_ = c.req_remaining_ == 0;
      sent = true;
    } else if (!c.req_body_done_ && c.req_.body == http::BodyKind::kChunked) {
      if (!SendChunkedData(limit, &sent)) {
        return;  // answered (400)
      }
      if (sc.limit_request_body > 0 &&
          c.req_payload_ > static_cast<uint64_t>(sc.limit_request_body)) {
        c.UpstreamFailed(413, "request body larger than LimitRequestBody");
        return;
      }
      if (!sent && !c.req_body_done_) {
        return;  // waiting for the client
      }
    }
    if (!sent) {
      // The body is exhausted: the empty packet says so.
      auto hdr = ajp::BodyChunkHeader(0);
      evbuffer_add(out, hdr.data(), hdr.size());
      c.up_bytes_out_ += hdr.size();
    }
    --owed_;
    owed_limit_ = 0;
  }
  if (c.req_body_done_ && c.up_ != nullptr) {
    // The request is complete: pipelined bytes wait; no client read timeout now.
    SetBevTimeouts(c.bev_, &c.timeouts_, 0, sc.timeout_ms);
  }
}

void AjpExchange::MemberError(const std::string& why) {
  DLOG(kError, "proxy: balancer %s: member %s sent a malformed AJP packet (%s)", BalancerName(),
       MemberUrl(), why.c_str());
  c_->UpstreamFailed(502, "invalid response from member");
}

void AjpExchange::OnMemberRead() {
  ClientConn& c = *c_;
  while (c.up_ != nullptr && c.proto_ == this) {
    UpstreamConn* up = c.up_;
    evbuffer* in = bufferevent_get_input(up->bev_);
    size_t len = evbuffer_get_length(in);
    if (len == 0) {
      return;
    }
    evbuffer* client_out = bufferevent_get_output(c.bev_);
    if (evbuffer_get_length(client_out) >= kHighWater) {
      // The client is slow: stop reading the member until the output drains.
      if (!c.up_paused_) {
        c.up_paused_ = true;
        bufferevent_disable(up->bev_, EV_READ);
        bufferevent_setwatermark(c.bev_, EV_WRITE, kLowWater, 0);
      }
      return;
    }
    evbuffer_iovec v;
    if (evbuffer_peek(in, -1, nullptr, &v, 1) < 1) {
      return;
    }
    size_t consumed = 0;
    ajp::Message msg;
    auto r = decoder_.Feed(static_cast<const char*>(v.iov_base), v.iov_len, &consumed, &msg);
    if (r == ajp::Decoder::Result::kNeedMore) {
      evbuffer_drain(in, v.iov_len);
      c.up_bytes_in_ += v.iov_len;
      continue;
    }
    if (r == ajp::Decoder::Result::kError) {
      if (pinging_) {
        PingFailed(("bad answer: " + decoder_.error()).c_str());
      } else {
        MemberError(decoder_.error());
      }
      return;
    }
    c.up_bytes_in_ += consumed;
    if (pinging_) {
      evbuffer_drain(in, consumed);
      if (msg.type != ajp::MessageType::kCpong) {
        PingFailed("answer is not CPONG");
        return;
      }
      SendRequest();
      continue;
    }
    switch (msg.type) {
      case ajp::MessageType::kCpong:
        evbuffer_drain(in, consumed);
        MemberError("CPONG without a CPING");
        return;
      case ajp::MessageType::kGetBodyChunk: {
        evbuffer_drain(in, consumed);
        size_t max = ajp::MaxBodyChunk(packet_);
        ++owed_;
        owed_limit_ = msg.requested > 0 && msg.requested < max ? msg.requested : max;
        PumpRequestBody();
        break;
      }
      case ajp::MessageType::kSendHeaders: {
        evbuffer_drain(in, consumed);
        head_ = std::move(msg.head);
        core::Status st =
            ajp::BuildResponseHead(head_, c.req_.method, c.req_.minor, &c.resp_, &framing_);
        if (!st.ok()) {
          MemberError(st.message());
          return;
        }
        c.SendResponseHead();
        break;
      }
      case ajp::MessageType::kSendBodyChunk: {
        size_t n = msg.data.size();
        std::string_view data = msg.data;
        bool relay = c.resp_state_ == ClientConn::RespState::kBody;
        if (framing_ == ajp::ResponseFraming::kLength && relay && n > c.resp_remaining_) {
          evbuffer_drain(in, consumed);
          MemberError("more body than its content-length");
          return;
        }
        if (relay && n > 0 && framing_ != ajp::ResponseFraming::kNone) {
          if (framing_ == ajp::ResponseFraming::kChunked) {
            std::string prefix = ajp::HttpChunkPrefix(n);
            evbuffer_add(client_out, prefix.data(), prefix.size());
            evbuffer_add(client_out, data.data(), n);
            evbuffer_add(client_out, "\r\n", 2);
            c.resp_bytes_ += prefix.size() + 2;
          } else {
            evbuffer_add(client_out, data.data(), n);
          }
          c.resp_body_bytes_ += n;
          c.resp_bytes_ += n;
          if (framing_ == ajp::ResponseFraming::kLength) {
            c.resp_remaining_ -= n;
            if (c.resp_remaining_ == 0) {
              c.resp_state_ = ClientConn::RespState::kDone;  // END_RESPONSE still to come
            }
          }
        } else if (framing_ == ajp::ResponseFraming::kLength && n > 0 &&
                   c.resp_.body == http::BodyKind::kLength) {
          evbuffer_drain(in, consumed);
          MemberError("more body than its content-length");
          return;
        }
        evbuffer_drain(in, consumed);  // `data` is not used past this point
        break;
      }
      case ajp::MessageType::kEndResponse: {
        evbuffer_drain(in, consumed);
        if (c.resp_state_ == ClientConn::RespState::kBody) {
          if (framing_ == ajp::ResponseFraming::kChunked) {
            evbuffer_add(client_out, ajp::kHttpLastChunk.data(), ajp::kHttpLastChunk.size());
            c.resp_bytes_ += ajp::kHttpLastChunk.size();
          } else if (framing_ == ajp::ResponseFraming::kLength && c.resp_remaining_ > 0) {
            // Shorter than announced: the client sees the connection close.
            DLOG(kError, "proxy: balancer %s: member %s ended the response %llu bytes short",
                 BalancerName(), MemberUrl(),
                 static_cast<unsigned long long>(c.resp_remaining_));
            c.keep_alive_ = false;
          }
        }
        if (c.status_ == 403 && !msg.reuse) {
          // What Tomcat answers to a FORWARD_REQUEST with a wrong or missing
          // secret (secretRequired): worth a hint, the 403 itself is relayed.
          DLOG(kWarn, "proxy: balancer %s: member %s answered 403 and closed the connection: "
               "a wrong or missing secret= for its AJP connector?", BalancerName(),
               MemberUrl());
        }
        // Client framing is settled above; the member connection's fate is the
        // reuse flag (FinishResponse also wants the whole request sent and no
        // bytes left over).
        c.resp_close_delimited_ = false;
        c.resp_.keep_alive = msg.reuse;
        c.resp_state_ = ClientConn::RespState::kDone;
        c.FinishResponse();
        return;  // the exchange is over (the next one may have started)
      }
    }
  }
}

bool AjpExchange::OnMemberEvent(short events) {
  if (!pinging_) {
    return false;
  }
  const char* why = (events & BEV_EVENT_TIMEOUT) != 0 ? "no CPONG within ping"
                    : (events & BEV_EVENT_EOF) != 0   ? "connection closed"
                                                      : strerror(EVUTIL_SOCKET_ERROR());
  PingFailed(why);
  return true;
}

}  // namespace drover::proxy
