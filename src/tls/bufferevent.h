// libevent wiring of tls/ (workers only; the master includes tls/tls.h, never this):
// bufferevent_openssl for an accepted client connection and for a member connection.
// The handshake runs inside the bufferevent: the event callback gets BEV_EVENT_CONNECTED
// when it completes and BEV_EVENT_ERROR when it fails; TlsError() then says why.
#pragma once

#include <event2/bufferevent.h>
#include <event2/event.h>

#include <string>

#include "tls/tls.h"

namespace drover::tls {

// An accepting TLS bufferevent on accepted socket `fd` (BEV_OPT_CLOSE_ON_FREE: freeing it
// frees the SSL and closes `fd`; dirty shutdowns are EOFs). nullptr on failure, and then
// `fd` is still the caller's to close.
bufferevent* NewServerBufferevent(event_base* base, int fd, ServerContext& ctx);

// A connecting TLS bufferevent to `host` (see ClientContext::NewSsl for `host` and
// `session_key`). `fd` may be -1: then call bufferevent_socket_connect() on the result,
// as for a plain socket bufferevent. nullptr on failure (`fd`, if any, is the caller's).
bufferevent* NewClientBufferevent(event_base* base, int fd, ClientContext& ctx,
                                  const std::string& host, const std::string& session_key = "");

// Why a TLS bufferevent failed, for logs: the certificate verification reason when there
// is one ("certificate verify failed: unable to get local issuer certificate"), else the
// OpenSSL errors libevent recorded, else "" (e.g. a plain socket error: see errno).
std::string TlsError(bufferevent* bev);

// The SSL of a TLS bufferevent (nullptr for a plain one), e.g. for SSL_get_version() or
// SSL_session_reused() in logs.
SSL* GetSsl(bufferevent* bev);

}  // namespace drover::tls
