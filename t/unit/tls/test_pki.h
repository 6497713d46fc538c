// Test helpers for t/unit/tls: a private PKI generated at test time with the OpenSSL API
// (two CAs, leaf certificates with chosen names and validity, one expired, a client
// certificate) written as PEM into a temporary directory, configs that point at it, and
// an in-memory TLS handshake between two SSL objects over a BIO pair.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "tls/tls.h"

namespace drover::tls::testing {

// The PEM files, generated once per test binary run (ca.pem, other-ca.pem, default.pem,
// www.pem, wild.pem, expired.pem, other.pem, client.pem, ... and their .key files).
class Pki {
 public:
  static const Pki& Get();
  ~Pki();
  // Absolute path of `name` in the PKI directory.
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  const std::string& dir() const { return dir_; }

 private:
  Pki();
  std::string dir_;
};

// Writes `content` to `path` (test helper; aborts the test on failure via ADD_FAILURE).
void WriteFile(const std::string& path, const std::string& content);

// Loads `text` as drover.conf (prefix = the PKI directory); nullptr and a test failure
// when it does not load.
std::shared_ptr<const config::Config> LoadConfig(const std::string& text);

// "[server]\nListen = 127.0.0.1:8443 ssl\nSSLCertificateFile = DIR/default.pem\n
// SSLCertificateKeyFile = DIR/default.key\n" (lines 1-4) + `extra`.
std::string ServerConfigText(const std::string& extra = "");

// The subject CN of the peer's certificate, "" when there is none.
std::string PeerCommonName(const SSL* ssl);

// A client SSL from a plain client SSL_CTX that trusts nothing and verifies nothing.
SslPtr PlainClient(const std::string& sni = "", int max_version = 0);

// Connects `client` and `server` over a fresh BIO pair and runs both handshakes to the
// end. False when either fails; *error (if given) then holds the OpenSSL errors.
bool Handshake(SSL* client, SSL* server, std::string* error = nullptr);

// After Handshake: one request and one response of application data, so that TLS 1.3
// session tickets reach the client. False on failure.
bool Exchange(SSL* client, SSL* server);

// A full handshake plus Exchange with a fresh server SSL from `ctx`; returns the client's
// session (nullptr on failure), and sets *reused when given.
SslSessionPtr Connect(ServerContext& ctx, SSL_SESSION* resume, bool* reused, int max_version = 0,
                      const std::string& sni = "");

}  // namespace drover::tls::testing
