// TLS for both sides of the proxy on OpenSSL 3 (issue 7): the server context for `ssl`
// listeners (certificates chosen by SNI, ALPN http/1.1, session tickets whose keys live in
// a MAP_SHARED region so that any worker resumes any worker's session), the client context
// for https:// members (verification, peer name, SNI, client certificate, session reuse),
// and the config checks that `drover -t` and startup report as "FILE:LINE: ...".
//
// Processes: the master builds TicketKeys once, and a ServerContext/ClientContext from each
// Config it loads (at start and on every HUP, before fork and before workers drop
// privileges: certificates and keys are read as root), and calls TicketKeys::Rotate()
// every SSLSessionTicketKeyRotation. Workers inherit the contexts through fork and only
// create SSL objects from them (never read a file). No libevent here: the master includes
// this header; the bufferevent wiring is in tls/bufferevent.h.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "core/status.h"

namespace drover::tls {

struct SslCtxDeleter {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslDeleter {
  void operator()(SSL* s) const { SSL_free(s); }
};
struct SslSessionDeleter {
  void operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct EvpPkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;
using SslPtr = std::unique_ptr<SSL, SslDeleter>;
using SslSessionPtr = std::unique_ptr<SSL_SESSION, SslSessionDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyDeleter>;

// Drains this thread's OpenSSL error queue into one line, oldest first, e.g.
// "error:0A000086:SSL routines::certificate verify failed". "" when the queue is empty.
std::string ErrorQueueString();

// Why the peer's certificate was refused (X509_verify_cert_error_string of
// SSL_get_verify_result), e.g. "unable to get local issuer certificate",
// "certificate has expired", "hostname mismatch"; "" when it verified or was not checked.
std::string VerifyFailureReason(const SSL* ssl);

// True when some Listen has `ssl` (the master needs a ServerContext).
bool NeedsServerContext(const config::Config& config);
// True when some member (or ProxyPass target) is https:// (the workers need a ClientContext).
bool NeedsClientContext(const config::Config& config);

// Opens and checks every TLS file and cipher list the config names, exactly as
// ServerContext::Create and ClientContext::Create will: files readable and PEM, key
// matching its certificate, certificates not expired, CA file loadable. Errors are
// "FILE:LINE: Directive: message". For `drover -t`; cheap enough to call on every load.
core::Status CheckConfig(const config::Config& config);

// ---------------------------------------------------------------------------
// Session ticket keys shared by every worker.

constexpr size_t kTicketNameLen = 16;
constexpr size_t kTicketAesKeyLen = 32;   // AES-256-CBC
constexpr size_t kTicketHmacKeyLen = 32;  // HMAC-SHA256

struct TicketKey {
  unsigned char name[kTicketNameLen];
  unsigned char aes_key[kTicketAesKeyLen];
  unsigned char hmac_key[kTicketHmacKeyLen];
};

// A small anonymous MAP_SHARED region (created by the master before the first fork, kept
// across reloads) holding a ring of random ticket keys: the current key encrypts new
// tickets; the current and the previous key decrypt (a ticket under the previous key is
// accepted and renewed). So a ticket stays usable for one to two rotation periods, in
// every worker, and across reloads. One writer (the master); readers (the workers' ticket
// callbacks) copy a key under a per-slot sequence lock and never block the writer.
class TicketKeys {
 public:
  // Maps the region and fills the current and previous keys from RAND_bytes.
  static core::Result<std::unique_ptr<TicketKeys>> Create();
  ~TicketKeys();
  TicketKeys(const TicketKeys&) = delete;
  TicketKeys& operator=(const TicketKeys&) = delete;

  // Master only: a fresh current key; the current one becomes the previous one, the
  // previous one is forgotten. On error (RAND_bytes) the keys are unchanged.
  core::Status Rotate();

  // Readers (any process). False only if a slot could not be read consistently (a writer
  // that died mid-write): the caller then issues or accepts no ticket.
  bool Current(TicketKey* out) const;
  // The key named `name` among the current and previous ones; *is_current says which.
  bool Find(const unsigned char name[kTicketNameLen], TicketKey* out, bool* is_current) const;
  // Number of rotations so far (tests, logs).
  uint64_t generation() const;

  struct Region;  // layout in tls.cc

 private:
  explicit TicketKeys(Region* region) : region_(region), creator_(getpid()) {}
  Region* region_;
  pid_t creator_;
};

// ---------------------------------------------------------------------------
// Client side of the proxy: TLS for `ssl` listeners.

class ServerContext {
 public:
  // Master, before fork. The SSLCertificateFile pair is the default certificate, each
  // SSLCertificate entry gets its own SSL_CTX chosen by SNI (exact name first, then
  // `*.domain` for exactly one more label, else the default). `keys` may be nullptr only
  // for checks (-t): tickets then use per-process keys and do not resume across workers.
  // It must outlive the context.
  static core::Result<std::unique_ptr<ServerContext>> Create(const config::Config& config,
                                                             TicketKeys* keys);
  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  // Worker: a server-side SSL (accept state) for one accepted connection. nullptr on
  // failure (see ErrorQueueString()).
  SslPtr NewSsl();

  SSL_CTX* default_ctx() const { return default_.get(); }

 private:
  ServerContext() = default;

  // One SSL_CTX with everything but the certificate: protocols, ciphers, tickets, ALPN.
  static core::Result<SslCtxPtr> NewCtx(const config::Config& config, ServerContext* owner);
  static int ServerNameCb(SSL* ssl, int* alert, void* arg) noexcept;
  static int AlpnSelectCb(SSL* ssl, const unsigned char** out, unsigned char* outlen,
                          const unsigned char* in, unsigned int inlen, void* arg) noexcept;
  static int TicketKeyCb(SSL* ssl, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cctx,
                         EVP_MAC_CTX* hctx, int enc) noexcept;
  SSL_CTX* Select(std::string_view server_name) const;
  int OnTicketKey(unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cctx,
                  EVP_MAC_CTX* hctx, int enc);

  SslCtxPtr default_;
  std::vector<SslCtxPtr> sni_;                          // one per SSLCertificate
  std::unordered_map<std::string, SSL_CTX*> exact_;     // "www.example.com"
  std::unordered_map<std::string, SSL_CTX*> wildcard_;  // "example.com" for "*.example.com"
  TicketKeys* keys_ = nullptr;
};

// ---------------------------------------------------------------------------
// Member side of the proxy: TLS to https:// members.

class ClientContext {
 public:
  // Master, before fork: SSLProxyVerify (require: SSL_VERIFY_PEER), the CA file or the
  // system default paths, SSLProxyMachineCertificateFile, TLS 1.2 and later.
  static core::Result<std::unique_ptr<ClientContext>> Create(const config::Config& config);
  ~ClientContext();
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;

  // Worker: a client-side SSL (connect state) for a connection to `host` (a DNS name or
  // an IP literal, IPv6 without brackets): SNI for names (never for IP literals), the peer
  // name check (SSL_set1_host, or the IP for literals) when SSLProxyVerify require and
  // SSLProxyCheckPeerName On. A non-empty `session_key` (e.g. the member's origin
  // "https://host:port") resumes the last session this process got for it and stores the
  // new ones (one per key, per process). nullptr on failure (see ErrorQueueString()).
  // The SSL must not outlive this context.
  SslPtr NewSsl(const std::string& host, const std::string& session_key = "");

  // Forgets the stored session of `session_key` (e.g. after a failed handshake).
  void ForgetSession(const std::string& session_key);

  SSL_CTX* ctx() const { return ctx_.get(); }
  bool verify() const { return verify_; }

 private:
  ClientContext() = default;
  static int NewSessionCb(SSL* ssl, SSL_SESSION* session) noexcept;

  SslCtxPtr ctx_;
  bool verify_ = true;
  bool check_peer_name_ = true;
  // session_key -> the last session; entries are never erased (an SSL in flight points at
  // its entry), ForgetSession() only empties one.
  std::unordered_map<std::string, SslSessionPtr> sessions_;
};

}  // namespace drover::tls
