// SSL_CTX construction from the config, SNI/ALPN/ticket callbacks and the shared ticket
// keys (see tls.h). Contexts are built in the master (files are read there, as root) and
// used in the workers; the callbacks run in the workers on their event-loop thread and
// never block, allocate only through OpenSSL, and never read a file.
#include "tls/tls.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <new>
#include <type_traits>

namespace drover::tls {

using core::Status;

namespace {

// Apache's SSLSessionCacheTimeout and nginx's ssl_session_timeout default: a resumed
// session may be at most this old (it bounds ticket lifetime together with the rotation).
constexpr long kSessionTimeoutSeconds = 300;
constexpr size_t kMaxPemFile = 16 << 20;
constexpr unsigned char kSessionIdContext[] = "drover";
constexpr unsigned char kAlpnHttp11[] = {'h', 't', 't', 'p', '/', '1', '.', '1'};

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

// Where a value came from, for "FILE:LINE: Directive: message".
struct Origin {
  const config::Config* config;
  const char* directive;
  int line;

  Status Error(const std::string& message) const {
    std::string where = config->file;
    if (line > 0) {
      where += ":" + std::to_string(line);
    }
    return Status::Error(where + ": " + directive + ": " + message);
  }
};

std::string ErrnoText(int e) { return std::to_string(e) + ": " + strerror(e); }

// `message`, with the OpenSSL error queue (drained) in parentheses when there is one.
std::string WithQueue(std::string message) {
  std::string q = ErrorQueueString();
  if (!q.empty()) {
    message += " (" + q + ")";
  }
  return message;
}

// Passphrase-protected keys are refused rather than prompted for on a terminal.
int NoPasswordCb(char*, int, int, void*) noexcept { return -1; }

int CtxIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int SslIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

bool ReadFile(const std::string& path, std::string* out, int* err) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *err = errno;
    return false;
  }
  out->clear();
  char buf[16384];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      *err = errno;
      close(fd);
      return false;
    }
    if (n == 0) {
      break;
    }
    out->append(buf, static_cast<size_t>(n));
    if (out->size() > kMaxPemFile) {
      *err = EFBIG;
      close(fd);
      return false;
    }
  }
  close(fd);
  return true;
}

std::string TimeText(const ASN1_TIME* t) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || ASN1_TIME_print(bio.get(), t) != 1) {
    ERR_clear_error();
    return "?";
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n > 0 ? static_cast<size_t>(n) : 0);
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// A certificate (leaf first, then its chain) and its private key, read and checked.
struct KeyPair {
  X509Ptr leaf;
  std::vector<X509Ptr> chain;
  EvpPkeyPtr key;
};

// Reads a PEM file into *data and a memory BIO over it (the BIO borrows *data).
Status OpenPem(const Origin& o, const std::string& path, std::string* data, BioPtr* bio) {
  int e = 0;
  if (!ReadFile(path, data, &e)) {
    return o.Error("cannot read '" + path + "' (" + ErrnoText(e) + ")");
  }
  ERR_clear_error();
  bio->reset(BIO_new_mem_buf(data->data(), static_cast<int>(data->size())));
  if (*bio == nullptr) {
    return o.Error(WithQueue("BIO_new_mem_buf() failed"));
  }
  return Status::Ok();
}

Status LoadCertificate(const Origin& o, const std::string& path, KeyPair* kp) {
  std::string data;
  BioPtr bio;
  if (Status st = OpenPem(o, path, &data, &bio); !st.ok()) {
    return st;
  }
  kp->leaf.reset(PEM_read_bio_X509_AUX(bio.get(), nullptr, NoPasswordCb, nullptr));
  if (kp->leaf == nullptr) {
    return o.Error(WithQueue("no PEM certificate in '" + path + "'"));
  }
  while (true) {
    X509* ca = PEM_read_bio_X509(bio.get(), nullptr, NoPasswordCb, nullptr);
    if (ca == nullptr) {
      unsigned long err = ERR_peek_last_error();
      if (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE) {
        ERR_clear_error();
        break;
      }
      return o.Error(WithQueue("bad chain certificate in '" + path + "'"));
    }
    kp->chain.emplace_back(ca);
  }
  const ASN1_TIME* not_after = X509_get0_notAfter(kp->leaf.get());
  if (X509_cmp_current_time(not_after) < 0) {
    return o.Error("certificate '" + path + "' expired on " + TimeText(not_after));
  }
  return Status::Ok();
}

Status LoadKey(const Origin& o, const std::string& path, KeyPair* kp) {
  std::string data;
  BioPtr bio;
  if (Status st = OpenPem(o, path, &data, &bio); !st.ok()) {
    OPENSSL_cleanse(data.data(), data.size());
    return st;
  }
  kp->key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPasswordCb, nullptr));
  bool encrypted = data.find("ENCRYPTED") != std::string::npos;
  OPENSSL_cleanse(data.data(), data.size());
  if (kp->key == nullptr) {
    if (encrypted) {
      ERR_clear_error();
      return o.Error("'" + path + "' holds an encrypted key (passphrases are not supported)");
    }
    return o.Error(WithQueue("no PEM private key in '" + path + "'"));
  }
  return Status::Ok();
}

// The certificate at `cert_path` (errors named by `co`) and the key at `key_path` (by `ko`).
Status LoadKeyPair(const Origin& co, const std::string& cert_path, const Origin& ko,
                   const std::string& key_path, KeyPair* kp) {
  Status st = LoadCertificate(co, cert_path, kp);
  if (!st.ok()) {
    return st;
  }
  st = LoadKey(ko, key_path, kp);
  if (!st.ok()) {
    return st;
  }
  if (X509_check_private_key(kp->leaf.get(), kp->key.get()) != 1) {
    ERR_clear_error();
    if (key_path == cert_path) {
      return ko.Error("the key in '" + key_path + "' does not match its certificate");
    }
    return ko.Error("the key in '" + key_path + "' does not match the certificate in '" +
                    cert_path + "'");
  }
  return Status::Ok();
}

Status UseKeyPair(const Origin& o, const std::string& cert_path, SSL_CTX* ctx, KeyPair* kp) {
  ERR_clear_error();
  if (SSL_CTX_use_certificate(ctx, kp->leaf.get()) != 1) {
    return o.Error(WithQueue("cannot use the certificate in '" + cert_path + "'"));
  }
  for (X509Ptr& ca : kp->chain) {
    if (SSL_CTX_add1_chain_cert(ctx, ca.get()) != 1) {
      return o.Error(WithQueue("cannot use the chain in '" + cert_path + "'"));
    }
  }
  if (SSL_CTX_use_PrivateKey(ctx, kp->key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return o.Error(WithQueue("cannot use the key for '" + cert_path + "'"));
  }
  return Status::Ok();
}

bool SetHmacKey(EVP_MAC_CTX* hctx, unsigned char* key) {
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key, kTicketHmacKeyLen),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  return EVP_MAC_CTX_set_params(hctx, params) == 1;
}

}  // namespace

// ---------------------------------------------------------------------------
// Errors and config checks.

std::string ErrorQueueString() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) {
      out += "; ";
    }
    out += buf;
  }
  return out;
}

std::string VerifyFailureReason(const SSL* ssl) {
  if (ssl == nullptr || SSL_get_verify_mode(ssl) == SSL_VERIFY_NONE) {
    return "";
  }
  long r = SSL_get_verify_result(ssl);
  if (r == X509_V_OK) {
    return "";
  }
  return X509_verify_cert_error_string(r);
}

bool NeedsServerContext(const config::Config& config) {
  for (const config::ListenConfig& l : config.server.listens) {
    if (l.ssl) {
      return true;
    }
  }
  return false;
}

bool NeedsClientContext(const config::Config& config) {
  for (const config::BalancerConfig& b : config.balancers) {
    for (const config::MemberConfig& m : b.members) {
      if (m.url.scheme == config::Scheme::kHttps) {
        return true;
      }
    }
  }
  return false;
}

Status CheckConfig(const config::Config& config) {
  const config::ServerConfig& s = config.server;
  if (NeedsServerContext(config) || !s.ssl_certificate_file.empty()) {
    auto server = ServerContext::Create(config, nullptr);
    if (!server.ok()) {
      return server.status();
    }
  }
  if (NeedsClientContext(config) || !s.ssl_proxy_ca_certificate_file.empty() ||
      !s.ssl_proxy_machine_certificate_file.empty()) {
    auto client = ClientContext::Create(config);
    if (!client.ok()) {
      return client.status();
    }
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// TicketKeys.

namespace {

constexpr uint64_t kTicketMagic = 0x314b54524556524fULL;  // "ORVERTK1"
constexpr uint64_t kSlots = 4;  // current, previous, and two that readers never need
constexpr size_t kKeyWords = sizeof(TicketKey) / sizeof(uint64_t);
constexpr int kReadAttempts = 1000;
static_assert(sizeof(TicketKey) == kKeyWords * sizeof(uint64_t));
static_assert(std::atomic<uint64_t>::is_always_lock_free);

// One key under a sequence lock: odd `seq` while the master writes it.
struct alignas(64) KeySlot {
  std::atomic<uint64_t> seq;
  std::atomic<uint64_t> words[kKeyWords];
};

}  // namespace

struct TicketKeys::Region {
  uint64_t magic;
  std::atomic<uint64_t> generation;  // current = slots[g % kSlots], previous = slots[(g-1) % ..]
  KeySlot slots[kSlots];
};
static_assert(std::is_standard_layout_v<TicketKeys::Region>);

namespace {

void WriteSlot(KeySlot* slot, const TicketKey& key) {
  uint64_t words[kKeyWords];
  memcpy(words, &key, sizeof(words));
  uint64_t seq = slot->seq.load(std::memory_order_relaxed);
  slot->seq.store(seq + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  for (size_t i = 0; i < kKeyWords; ++i) {
    slot->words[i].store(words[i], std::memory_order_relaxed);
  }
  slot->seq.store(seq + 2, std::memory_order_release);
  OPENSSL_cleanse(words, sizeof(words));
}

bool ReadSlot(const KeySlot& slot, TicketKey* out) {
  for (int attempt = 0; attempt < kReadAttempts; ++attempt) {
    uint64_t before = slot.seq.load(std::memory_order_acquire);
    if ((before & 1) != 0) {
      continue;
    }
    uint64_t words[kKeyWords];
    for (size_t i = 0; i < kKeyWords; ++i) {
      words[i] = slot.words[i].load(std::memory_order_relaxed);
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    if (slot.seq.load(std::memory_order_relaxed) == before) {
      memcpy(out, words, sizeof(words));
      OPENSSL_cleanse(words, sizeof(words));
      return true;
    }
  }
  return false;
}

bool RandomKey(TicketKey* key) {
  return RAND_bytes(key->name, sizeof(key->name)) == 1 &&
         RAND_priv_bytes(key->aes_key, sizeof(key->aes_key)) == 1 &&
         RAND_priv_bytes(key->hmac_key, sizeof(key->hmac_key)) == 1;
}

}  // namespace

core::Result<std::unique_ptr<TicketKeys>> TicketKeys::Create() {
  void* p =
      mmap(nullptr, sizeof(Region), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    int e = errno;
    return Status::Error("mmap(" + std::to_string(sizeof(Region)) +
                         ") for tls session ticket keys failed (" + ErrnoText(e) + ")");
  }
  madvise(p, sizeof(Region), MADV_DONTDUMP);  // keep the keys out of core dumps
  auto* region = new (p) Region();
  region->magic = kTicketMagic;
  std::unique_ptr<TicketKeys> keys(new TicketKeys(region));
  TicketKey k;
  for (uint64_t g = 0; g < 2; ++g) {
    if (!RandomKey(&k)) {
      return Status::Error(WithQueue("RAND_bytes() for tls session ticket keys failed"));
    }
    WriteSlot(&region->slots[g], k);
  }
  OPENSSL_cleanse(&k, sizeof(k));
  region->generation.store(1, std::memory_order_release);
  return keys;
}

TicketKeys::~TicketKeys() {
  // Only the creator wipes the keys: a forked worker that ran this destructor must not
  // take them away from the others.
  if (getpid() == creator_) {
    OPENSSL_cleanse(region_->slots, sizeof(region_->slots));
  }
  munmap(region_, sizeof(Region));
}

Status TicketKeys::Rotate() {
  TicketKey k;
  if (!RandomKey(&k)) {
    return Status::Error(WithQueue("RAND_bytes() for a new tls session ticket key failed"));
  }
  uint64_t g = region_->generation.load(std::memory_order_relaxed);
  WriteSlot(&region_->slots[(g + 1) % kSlots], k);
  OPENSSL_cleanse(&k, sizeof(k));
  region_->generation.store(g + 1, std::memory_order_release);
  return Status::Ok();
}

bool TicketKeys::Current(TicketKey* out) const {
  uint64_t g = region_->generation.load(std::memory_order_acquire);
  return ReadSlot(region_->slots[g % kSlots], out);
}

bool TicketKeys::Find(const unsigned char name[kTicketNameLen], TicketKey* out,
                      bool* is_current) const {
  uint64_t g = region_->generation.load(std::memory_order_acquire);
  for (uint64_t back = 0; back < 2; ++back) {
    TicketKey k;
    if (ReadSlot(region_->slots[(g - back) % kSlots], &k) &&
        memcmp(k.name, name, kTicketNameLen) == 0) {
      *out = k;
      *is_current = back == 0;
      OPENSSL_cleanse(&k, sizeof(k));
      return true;
    }
  }
  return false;
}

uint64_t TicketKeys::generation() const {
  return region_->generation.load(std::memory_order_acquire) - 1;
}

// ---------------------------------------------------------------------------
// ServerContext.

core::Result<SslCtxPtr> ServerContext::NewCtx(const config::Config& config, ServerContext* owner) {
  const config::ServerConfig& s = config.server;
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (ctx == nullptr) {
    return Status::Error(WithQueue("SSL_CTX_new() failed"));
  }
  SSL_CTX* c = ctx.get();
  int min = s.ssl_protocol.rfind("TLSv1.3", 0) == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
  int max = s.ssl_protocol.back() == '+' ? 0 : min;
  if (SSL_CTX_set_min_proto_version(c, min) != 1 || SSL_CTX_set_max_proto_version(c, max) != 1) {
    return Status::Error(WithQueue("SSL_CTX_set_min/max_proto_version() failed"));
  }
  // No client renegotiation (a CPU DoS and never needed by HTTP/1.1 clients); a peer that
  // closes without close_notify is an EOF (HTTP framing detects truncation, as nginx does).
  SSL_CTX_set_options(
      c, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  // Not SSL_CTX_set_read_ahead(): it would halve the read()s per record, but libevent
  // 2.1's bufferevent_openssl then leaves read-ahead bytes inside OpenSSL unnoticed and
  // connections stall (tried: wrk got no response at all).
  SSL_CTX_set_default_passwd_cb(c, NoPasswordCb);
  SSL_CTX_set_dh_auto(c, 1);
  if (!s.ssl_cipher_suite.empty() && SSL_CTX_set_cipher_list(c, s.ssl_cipher_suite.c_str()) != 1) {
    Origin o{&config, "SSLCipherSuite", s.ssl_lines.cipher_suite};
    return o.Error(WithQueue("no usable cipher in '" + s.ssl_cipher_suite + "'"));
  }
  if (!s.ssl_cipher_suite_tls13.empty() &&
      SSL_CTX_set_ciphersuites(c, s.ssl_cipher_suite_tls13.c_str()) != 1) {
    Origin o{&config, "SSLCipherSuite", s.ssl_lines.cipher_suite_tls13};
    return o.Error(
        WithQueue("no usable TLSv1.3 cipher suite in '" + s.ssl_cipher_suite_tls13 + "'"));
  }
  // Resumption by tickets only: no server-side session cache (it would be per worker).
  SSL_CTX_set_session_id_context(c, kSessionIdContext, sizeof(kSessionIdContext) - 1);
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_timeout(c, kSessionTimeoutSeconds);
  if (!s.ssl_session_tickets) {
    SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(c, 0);
  } else if (owner->keys_ != nullptr) {
    SSL_CTX_set_tlsext_ticket_key_evp_cb(c, TicketKeyCb);
  }
  SSL_CTX_set_alpn_select_cb(c, AlpnSelectCb, owner);
  SSL_CTX_set_ex_data(c, CtxIndex(), owner);
  return ctx;
}

core::Result<std::unique_ptr<ServerContext>> ServerContext::Create(const config::Config& config,
                                                                   TicketKeys* keys) {
  const config::ServerConfig& s = config.server;
  std::unique_ptr<ServerContext> sc(new ServerContext());
  sc->keys_ = keys;
  Origin cert{&config, "SSLCertificateFile", s.ssl_lines.certificate_file};
  if (s.ssl_certificate_file.empty()) {
    return cert.Error("no default certificate for the ssl listeners");
  }
  Origin key = s.ssl_lines.certificate_key_file > 0
                   ? Origin{&config, "SSLCertificateKeyFile", s.ssl_lines.certificate_key_file}
                   : cert;
  const std::string& key_file =
      s.ssl_certificate_key_file.empty() ? s.ssl_certificate_file : s.ssl_certificate_key_file;

  auto ctx = NewCtx(config, sc.get());
  if (!ctx.ok()) {
    return ctx.status();
  }
  KeyPair kp;
  Status st = LoadKeyPair(cert, s.ssl_certificate_file, key, key_file, &kp);
  if (st.ok()) {
    st = UseKeyPair(cert, s.ssl_certificate_file, ctx->get(), &kp);
  }
  if (!st.ok()) {
    return st;
  }
  sc->default_ = std::move(*ctx);
  if (!s.ssl_certificates.empty()) {
    SSL_CTX_set_tlsext_servername_callback(sc->default_.get(), ServerNameCb);
    SSL_CTX_set_tlsext_servername_arg(sc->default_.get(), sc.get());
  }

  for (const config::SslCertificateConfig& c : s.ssl_certificates) {
    Origin o{&config, "SSLCertificate", c.line};
    auto sni = NewCtx(config, sc.get());
    if (!sni.ok()) {
      return sni.status();
    }
    KeyPair skp;
    st = LoadKeyPair(o, c.certificate_file, o, c.key_file, &skp);
    if (st.ok()) {
      st = UseKeyPair(o, c.certificate_file, sni->get(), &skp);
    }
    if (!st.ok()) {
      return st;
    }
    if (c.server_name.rfind("*.", 0) == 0) {
      sc->wildcard_[c.server_name.substr(2)] = sni->get();
    } else {
      sc->exact_[c.server_name] = sni->get();
    }
    sc->sni_.push_back(std::move(*sni));
  }
  return sc;
}

ServerContext::~ServerContext() = default;

SslPtr ServerContext::NewSsl() {
  SslPtr ssl(SSL_new(default_.get()));
  if (ssl != nullptr) {
    SSL_set_accept_state(ssl.get());
  }
  return ssl;
}

// Exact name first, then "*.rest" for a name "label.rest" (one label only, as browsers
// match wildcards); nullptr = keep the default certificate.
SSL_CTX* ServerContext::Select(std::string_view name) const {
  if (!name.empty() && name.back() == '.') {
    name.remove_suffix(1);
  }
  if (name.empty() || name.size() > 253) {
    return nullptr;
  }
  std::string lower(name);
  for (char& ch : lower) {
    if (ch >= 'A' && ch <= 'Z') {
      ch = static_cast<char>(ch - 'A' + 'a');
    }
  }
  auto it = exact_.find(lower);
  if (it != exact_.end()) {
    return it->second;
  }
  size_t dot = lower.find('.');
  if (dot == std::string::npos || dot == 0) {
    return nullptr;
  }
  it = wildcard_.find(lower.substr(dot + 1));
  return it != wildcard_.end() ? it->second : nullptr;
}

int ServerContext::ServerNameCb(SSL* ssl, int* alert, void* arg) noexcept {
  auto* self = static_cast<ServerContext*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr || self == nullptr) {
    return SSL_TLSEXT_ERR_OK;
  }
  SSL_CTX* ctx = self->Select(name);
  if (ctx != nullptr && ctx != SSL_get_SSL_CTX(ssl) && SSL_set_SSL_CTX(ssl, ctx) == nullptr) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  return SSL_TLSEXT_ERR_OK;
}

// Selects "http/1.1" when the client offers it; otherwise continues without ALPN (like
// nginx) rather than failing the handshake.
int ServerContext::AlpnSelectCb(SSL*, const unsigned char** out, unsigned char* outlen,
                                const unsigned char* in, unsigned int inlen, void*) noexcept {
  unsigned int i = 0;
  while (i < inlen) {
    unsigned int len = in[i];
    if (len == 0 || len > inlen - i - 1) {
      break;
    }
    if (len == sizeof(kAlpnHttp11) && memcmp(in + i + 1, kAlpnHttp11, len) == 0) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

int ServerContext::TicketKeyCb(SSL* ssl, unsigned char* key_name, unsigned char* iv,
                               EVP_CIPHER_CTX* cctx, EVP_MAC_CTX* hctx, int enc) noexcept {
  auto* self = static_cast<ServerContext*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), CtxIndex()));
  if (self == nullptr || self->keys_ == nullptr) {
    return 0;
  }
  return self->OnTicketKey(key_name, iv, cctx, hctx, enc);
}

// OpenSSL's contract: encrypt -> 1 (ticket issued) or 0 (none); decrypt -> 0 (unknown key:
// full handshake), 1 (ok), 2 (ok, issue a new ticket under the current key); < 0 error.
int ServerContext::OnTicketKey(unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cctx,
                               EVP_MAC_CTX* hctx, int enc) {
  const EVP_CIPHER* cipher = EVP_aes_256_cbc();
  int iv_len = EVP_CIPHER_get_iv_length(cipher);
  TicketKey k;
  int result = -1;
  if (enc != 0) {
    if (!keys_->Current(&k)) {
      return 0;
    }
    memcpy(key_name, k.name, kTicketNameLen);
    if (RAND_bytes(iv, iv_len) == 1 && SetHmacKey(hctx, k.hmac_key) &&
        EVP_EncryptInit_ex(cctx, cipher, nullptr, k.aes_key, iv) == 1) {
      result = 1;
    }
  } else {
    bool current = false;
    if (!keys_->Find(key_name, &k, &current)) {
      return 0;
    }
    if (SetHmacKey(hctx, k.hmac_key) &&
        EVP_DecryptInit_ex(cctx, cipher, nullptr, k.aes_key, iv) == 1) {
      result = current ? 1 : 2;
    }
  }
  OPENSSL_cleanse(&k, sizeof(k));
  return result;
}

// ---------------------------------------------------------------------------
// ClientContext.

core::Result<std::unique_ptr<ClientContext>> ClientContext::Create(const config::Config& config) {
  const config::ServerConfig& s = config.server;
  std::unique_ptr<ClientContext> cc(new ClientContext());
  cc->verify_ = s.ssl_proxy_verify;
  cc->check_peer_name_ = s.ssl_proxy_check_peer_name;
  ERR_clear_error();
  cc->ctx_.reset(SSL_CTX_new(TLS_client_method()));
  SSL_CTX* c = cc->ctx_.get();
  if (c == nullptr) {
    return Status::Error(WithQueue("SSL_CTX_new() failed"));
  }
  if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1) {
    return Status::Error(WithQueue("SSL_CTX_set_min_proto_version() failed"));
  }
  SSL_CTX_set_options(
      c, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_default_passwd_cb(c, NoPasswordCb);

  if (!s.ssl_proxy_ca_certificate_file.empty()) {
    Origin o{&config, "SSLProxyCACertificateFile", s.ssl_lines.proxy_ca_certificate_file};
    const std::string& path = s.ssl_proxy_ca_certificate_file;
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return o.Error("cannot read '" + path + "' (" + ErrnoText(errno) + ")");
    }
    close(fd);
    if (SSL_CTX_load_verify_file(c, path.c_str()) != 1) {
      return o.Error(WithQueue("no usable CA certificate in '" + path + "'"));
    }
  } else if (cc->verify_ && SSL_CTX_set_default_verify_paths(c) != 1) {
    ERR_clear_error();  // no system store: every verification fails, with a clear reason
  }
  SSL_CTX_set_verify(c, cc->verify_ ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);

  if (!s.ssl_proxy_machine_certificate_file.empty()) {
    Origin o{&config, "SSLProxyMachineCertificateFile", s.ssl_lines.proxy_machine_certificate_file};
    const std::string& path = s.ssl_proxy_machine_certificate_file;
    KeyPair kp;
    Status st = LoadKeyPair(o, path, o, path, &kp);
    if (st.ok()) {
      st = UseKeyPair(o, path, c, &kp);
    }
    if (!st.ok()) {
      return st;
    }
  }
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(c, NewSessionCb);
  return cc;
}

ClientContext::~ClientContext() = default;

SslPtr ClientContext::NewSsl(const std::string& host, const std::string& session_key) {
  ERR_clear_error();
  SslPtr ssl(SSL_new(ctx_.get()));
  if (ssl == nullptr) {
    return nullptr;
  }
  SSL* s = ssl.get();
  SSL_set_connect_state(s);
  bool ip = IsIpLiteral(host);
  if (!ip && !host.empty() && SSL_set_tlsext_host_name(s, host.c_str()) != 1) {
    return nullptr;
  }
  if (verify_ && check_peer_name_) {
    if (ip) {
      if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s), host.c_str()) != 1) {
        return nullptr;
      }
    } else {
      SSL_set_hostflags(s, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (SSL_set1_host(s, host.c_str()) != 1) {
        return nullptr;
      }
    }
  }
  if (!session_key.empty()) {
    auto& entry = *sessions_.try_emplace(session_key).first;
    SSL_set_ex_data(s, SslIndex(), &entry);
    if (entry.second != nullptr) {
      // A copy per connection: OpenSSL marks a connection's session not resumable when the
      // SSL is freed without a close_notify (as bufferevent_free does), which must not
      // spoil the stored one.
      SslSessionPtr copy(SSL_SESSION_dup(entry.second.get()));
      if (copy == nullptr || SSL_set_session(s, copy.get()) != 1) {
        ERR_clear_error();
      }
    }
  }
  return ssl;
}

void ClientContext::ForgetSession(const std::string& session_key) {
  auto it = sessions_.find(session_key);
  if (it != sessions_.end()) {
    it->second.reset();
  }
}

// Keeps a copy of the newest session per key (a copy: see NewSsl). Returning 0 tells
// OpenSSL that it keeps its reference to `session`.
int ClientContext::NewSessionCb(SSL* ssl, SSL_SESSION* session) noexcept {
  auto* entry =
      static_cast<std::pair<const std::string, SslSessionPtr>*>(SSL_get_ex_data(ssl, SslIndex()));
  if (entry != nullptr && SSL_SESSION_is_resumable(session) == 1) {
    SslSessionPtr copy(SSL_SESSION_dup(session));
    if (copy != nullptr) {
      entry->second = std::move(copy);
    }
  }
  return 0;
}

}  // namespace drover::tls
