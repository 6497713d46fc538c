// See test_pki.h.
#include "test_pki.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace drover::tls::testing {
namespace {

constexpr long kDay = 86400;

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

struct Cert {
  X509Ptr x509;
  EvpPkeyPtr key;
};

void AddExt(X509* x, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) {
    ADD_FAILURE() << "X509V3_EXT_conf_nid(" << value << "): " << ErrorQueueString();
    return;
  }
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate for `cn`, signed by `issuer` (self-signed when null), valid from
// now + not_before to now + not_after seconds. `san` like "DNS:a,IP:127.0.0.1" or "".
Cert MakeCert(const std::string& cn, const Cert* issuer, bool ca, const std::string& san,
              long not_before, long not_after, const char* eku = "serverAuth,clientAuth") {
  static long serial = 1;
  Cert c;
  c.key.reset(EVP_EC_gen("P-256"));
  c.x509.reset(X509_new());
  X509* x = c.x509.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), not_before);
  X509_gmtime_adj(X509_getm_notAfter(x), not_after);
  X509_set_pubkey(x, c.key.get());
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* issuer_x = issuer != nullptr ? issuer->x509.get() : x;
  X509_set_issuer_name(x, X509_get_subject_name(issuer_x));
  AddExt(x, issuer_x, NID_subject_key_identifier, "hash");
  if (ca) {
    AddExt(x, issuer_x, NID_basic_constraints, "critical,CA:TRUE");
    AddExt(x, issuer_x, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExt(x, issuer_x, NID_basic_constraints, "CA:FALSE");
    AddExt(x, issuer_x, NID_authority_key_identifier, "keyid");
    AddExt(x, issuer_x, NID_key_usage, "critical,digitalSignature");
    AddExt(x, issuer_x, NID_ext_key_usage, eku);
    if (!san.empty()) {
      AddExt(x, issuer_x, NID_subject_alt_name, san.c_str());
    }
  }
  EVP_PKEY* signer = issuer != nullptr ? issuer->key.get() : c.key.get();
  if (X509_sign(x, signer, EVP_sha256()) == 0) {
    ADD_FAILURE() << "X509_sign: " << ErrorQueueString();
  }
  return c;
}

std::string CertPem(X509* x) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), x);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string KeyPem(EVP_PKEY* k, const char* password = nullptr) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (password != nullptr) {
    PEM_write_bio_PrivateKey(bio.get(), k, EVP_aes_128_cbc(),
                             reinterpret_cast<const unsigned char*>(password),
                             static_cast<int>(strlen(password)), nullptr, nullptr);
  } else {
    PEM_write_bio_PrivateKey(bio.get(), k, nullptr, nullptr, 0, nullptr, nullptr);
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

}  // namespace

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) {
    ADD_FAILURE() << "cannot write " << path;
  }
}

Pki::Pki() {
  char tmpl[] = "/tmp/drover-tls-test-XXXXXX";
  char* d = mkdtemp(tmpl);
  if (d == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
    return;
  }
  dir_ = d;
  Cert ca = MakeCert("Drover Test CA", nullptr, true, "", -kDay, 30 * kDay);
  Cert other_ca = MakeCert("Other Test CA", nullptr, true, "", -kDay, 30 * kDay);
  struct Leaf {
    const char* name;
    const char* cn;
    const char* san;
    const Cert* issuer;
    long not_before;
    long not_after;
  };
  const Leaf leaves[] = {
      {"default", "default.test", "DNS:default.test,DNS:localhost,IP:127.0.0.1", &ca, -kDay,
       30 * kDay},
      {"www", "www.example.com", "DNS:www.example.com", &ca, -kDay, 30 * kDay},
      {"wild", "*.example.org", "DNS:*.example.org", &ca, -kDay, 30 * kDay},
      {"expired", "expired.test", "DNS:expired.test", &ca, -10 * kDay, -kDay},
      {"other", "localhost", "DNS:localhost,IP:127.0.0.1", &other_ca, -kDay, 30 * kDay},
  };
  WriteFile(Path("ca.pem"), CertPem(ca.x509.get()));
  WriteFile(Path("other-ca.pem"), CertPem(other_ca.x509.get()));
  for (const Leaf& l : leaves) {
    Cert c = MakeCert(l.cn, l.issuer, false, l.san, l.not_before, l.not_after);
    std::string cert = CertPem(c.x509.get());
    std::string key = KeyPem(c.key.get());
    WriteFile(Path(std::string(l.name) + ".pem"), cert);
    WriteFile(Path(std::string(l.name) + ".key"), key);
    // Key first, then the certificate and its CA: a combined file with a chain.
    WriteFile(Path(std::string(l.name) + "-combined.pem"),
              key + cert + CertPem(l.issuer->x509.get()));
    if (std::string(l.name) == "default") {
      WriteFile(Path("encrypted.key"), KeyPem(c.key.get(), "secret"));
    }
  }
  Cert client =
      MakeCert("drover-client", &ca, false, "DNS:drover-client", -kDay, 30 * kDay, "clientAuth");
  WriteFile(Path("client.pem"), CertPem(client.x509.get()) + KeyPem(client.key.get()));
  WriteFile(Path("client-cert-only.pem"), CertPem(client.x509.get()));
  WriteFile(Path("garbage.pem"), "this is not PEM\n");
}

Pki::~Pki() {
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

const Pki& Pki::Get() {
  static Pki pki;
  return pki;
}

std::shared_ptr<const config::Config> LoadConfig(const std::string& text) {
  config::LoadOptions o;
  o.file = "drover.conf";
  o.prefix = Pki::Get().dir();
  auto r = config::LoadFromString(text, o);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r.value() : nullptr;
}

std::string ServerConfigText(const std::string& extra) {
  const Pki& p = Pki::Get();
  return "[server]\nListen = 127.0.0.1:8443 ssl\nSSLCertificateFile = " + p.Path("default.pem") +
         "\nSSLCertificateKeyFile = " + p.Path("default.key") + "\n" + extra;
}

std::string PeerCommonName(const SSL* ssl) {
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (peer == nullptr) {
    return "";
  }
  char buf[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, buf, sizeof(buf));
  return buf;
}

SslPtr PlainClient(const std::string& sni, int max_version) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  if (max_version != 0) {
    SSL_CTX_set_max_proto_version(ctx.get(), max_version);
  }
  SslPtr ssl(SSL_new(ctx.get()));  // holds its own reference to ctx
  SSL_set_connect_state(ssl.get());
  if (!sni.empty()) {
    SSL_set_tlsext_host_name(ssl.get(), sni.c_str());
  }
  return ssl;
}

bool Handshake(SSL* client, SSL* server, std::string* error) {
  BIO* a = nullptr;
  BIO* b = nullptr;
  if (BIO_new_bio_pair(&a, 0, &b, 0) != 1) {
    return false;
  }
  SSL_set_bio(client, a, a);
  SSL_set_bio(server, b, b);
  bool client_done = false;
  bool server_done = false;
  for (int round = 0; round < 100 && !(client_done && server_done); ++round) {
    for (SSL* s : {client, server}) {
      bool& done = s == client ? client_done : server_done;
      if (done) {
        continue;
      }
      int rc = SSL_do_handshake(s);
      if (rc == 1) {
        done = true;
        continue;
      }
      int err = SSL_get_error(s, rc);
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
        if (error != nullptr) {
          *error = std::string(s == client ? "client: " : "server: ") + ErrorQueueString();
        } else {
          ERR_clear_error();
        }
        return false;
      }
    }
  }
  return client_done && server_done;
}

namespace {

bool Transfer(SSL* from, SSL* to, const std::string& data) {
  if (SSL_write(from, data.data(), static_cast<int>(data.size())) !=
      static_cast<int>(data.size())) {
    return false;
  }
  std::string got;
  for (int round = 0; round < 100 && got.size() < data.size(); ++round) {
    char buf[256];
    int n = SSL_read(to, buf, sizeof(buf));
    if (n > 0) {
      got.append(buf, static_cast<size_t>(n));
      continue;
    }
    int err = SSL_get_error(to, n);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      return false;
    }
  }
  return got == data;
}

}  // namespace

bool Exchange(SSL* client, SSL* server) {
  return Transfer(client, server, "ping") && Transfer(server, client, "pong");
}

SslSessionPtr Connect(ServerContext& ctx, SSL_SESSION* resume, bool* reused, int max_version,
                      const std::string& sni) {
  SslPtr client = PlainClient(sni, max_version);
  SslPtr server = ctx.NewSsl();
  if (resume != nullptr) {
    SSL_set_session(client.get(), resume);
  }
  std::string error;
  if (!Handshake(client.get(), server.get(), &error)) {
    ADD_FAILURE() << "handshake failed: " << error;
    return nullptr;
  }
  if (!Exchange(client.get(), server.get())) {
    ADD_FAILURE() << "exchange failed: " << ErrorQueueString();
    return nullptr;
  }
  if (reused != nullptr) {
    *reused = SSL_session_reused(client.get()) == 1;
  }
  // A copy: freeing `client` without a close_notify marks its own session not resumable.
  return SslSessionPtr(SSL_SESSION_dup(SSL_get0_session(client.get())));
}

}  // namespace drover::tls::testing
