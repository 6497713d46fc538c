// bufferevent_openssl for both sides (see bufferevent.h). Workers only.
#include "tls/bufferevent.h"

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

namespace drover::tls {
namespace {

// Hands `ssl` to libevent. On failure libevent may or may not have freed the SSL (it
// depends on where bufferevent_openssl_socket_new failed, OOM only), so it is released
// rather than risk a double free.
bufferevent* Wrap(event_base* base, int fd, SslPtr ssl, bufferevent_ssl_state state) {
  if (ssl == nullptr) {
    return nullptr;
  }
  bufferevent* bev =
      bufferevent_openssl_socket_new(base, fd, ssl.release(), state, BEV_OPT_CLOSE_ON_FREE);
  if (bev != nullptr) {
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
  }
  return bev;
}

}  // namespace

bufferevent* NewServerBufferevent(event_base* base, int fd, ServerContext& ctx) {
  return Wrap(base, fd, ctx.NewSsl(), BUFFEREVENT_SSL_ACCEPTING);
}

bufferevent* NewClientBufferevent(event_base* base, int fd, ClientContext& ctx,
                                  const std::string& host, const std::string& session_key) {
  return Wrap(base, fd, ctx.NewSsl(host, session_key), BUFFEREVENT_SSL_CONNECTING);
}

std::string TlsError(bufferevent* bev) {
  SSL* ssl = GetSsl(bev);
  std::string reason = VerifyFailureReason(ssl);
  std::string errors;
  unsigned long e;
  while ((e = bufferevent_get_openssl_error(bev)) != 0) {
    if (ERR_GET_LIB(e) == 0) {
      continue;  // libevent's record of a plain socket error (errno says more)
    }
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!errors.empty()) {
      errors += "; ";
    }
    errors += buf;
  }
  if (!reason.empty()) {
    return "certificate verify failed: " + reason;
  }
  return errors;
}

SSL* GetSsl(bufferevent* bev) {
  return bev != nullptr ? bufferevent_openssl_get_ssl(bev) : nullptr;
}

}  // namespace drover::tls
