// tls::ServerContext with real in-memory handshakes: SNI selection (exact, wildcard,
// default), ALPN, SSLProtocol, and session tickets: resumption, SSLSessionTickets Off,
// key rotation (previous key accepted, older refused), and resumption across processes
// that share one TicketKeys region (a forked child with its own ServerContext).
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "test_pki.h"
#include "tls/tls.h"

namespace drover::tls {
namespace {

using testing::Connect;
using testing::Handshake;
using testing::LoadConfig;
using testing::PeerCommonName;
using testing::Pki;
using testing::PlainClient;
using testing::ServerConfigText;

std::string P(const std::string& name) { return Pki::Get().Path(name); }

std::string SniConfig() {
  return ServerConfigText("SSLCertificate = www.example.com " + P("www.pem") + " " + P("www.key") +
                          "\nSSLCertificate = *.example.org " + P("wild-combined.pem") + "\n");
}

class TlsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto keys = TicketKeys::Create();
    ASSERT_TRUE(keys.ok()) << keys.status().message();
    keys_ = std::move(*keys);
  }

  std::unique_ptr<ServerContext> Make(const std::string& text, TicketKeys* keys) {
    config_ = LoadConfig(text);
    if (config_ == nullptr) {
      return nullptr;
    }
    auto sc = ServerContext::Create(*config_, keys);
    EXPECT_TRUE(sc.ok()) << sc.status().message();
    return sc.ok() ? std::move(*sc) : nullptr;
  }
  std::unique_ptr<ServerContext> Make(const std::string& text) { return Make(text, keys_.get()); }

  // The CN of the certificate the server presents for `sni` ("" = no SNI).
  std::string CertFor(ServerContext& sc, const std::string& sni) {
    SslPtr client = PlainClient(sni);
    SslPtr server = sc.NewSsl();
    std::string error;
    if (!Handshake(client.get(), server.get(), &error)) {
      return "(handshake failed: " + error + ")";
    }
    return PeerCommonName(client.get());
  }

  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<TicketKeys> keys_;
};

TEST_F(TlsServerTest, DefaultCertificateWithoutSni) {
  auto sc = Make(SniConfig());
  ASSERT_NE(sc, nullptr);
  EXPECT_EQ(CertFor(*sc, ""), "default.test");
}

TEST_F(TlsServerTest, SniExactName) {
  auto sc = Make(SniConfig());
  ASSERT_NE(sc, nullptr);
  EXPECT_EQ(CertFor(*sc, "www.example.com"), "www.example.com");
  EXPECT_EQ(CertFor(*sc, "WWW.Example.COM"), "www.example.com");
  EXPECT_EQ(CertFor(*sc, "www.example.com."), "www.example.com");
}

TEST_F(TlsServerTest, SniWildcardMatchesOneLabel) {
  auto sc = Make(SniConfig());
  ASSERT_NE(sc, nullptr);
  EXPECT_EQ(CertFor(*sc, "a.example.org"), "*.example.org");
  EXPECT_EQ(CertFor(*sc, "Shop.Example.Org"), "*.example.org");
  EXPECT_EQ(CertFor(*sc, "a.b.example.org"), "default.test");
  EXPECT_EQ(CertFor(*sc, "example.org"), "default.test");
}

TEST_F(TlsServerTest, SniExactBeatsWildcard) {
  auto sc = Make(ServerConfigText("SSLCertificate = *.example.com " + P("wild-combined.pem") +
                                  "\nSSLCertificate = www.example.com " + P("www.pem") + " " +
                                  P("www.key") + "\n"));
  ASSERT_NE(sc, nullptr);
  EXPECT_EQ(CertFor(*sc, "www.example.com"), "www.example.com");
  EXPECT_EQ(CertFor(*sc, "api.example.com"), "*.example.org");  // the wildcard entry's file
}

TEST_F(TlsServerTest, SniUnknownNameGetsDefault) {
  auto sc = Make(SniConfig());
  ASSERT_NE(sc, nullptr);
  EXPECT_EQ(CertFor(*sc, "unknown.test"), "default.test");
}

TEST_F(TlsServerTest, ChainIsSent) {
  auto sc = Make("[server]\nListen = 127.0.0.1:8443 ssl\nSSLCertificateFile = " +
                 P("default-combined.pem") + "\n");
  ASSERT_NE(sc, nullptr);
  SslPtr client = PlainClient();
  SslPtr server = sc->NewSsl();
  ASSERT_TRUE(Handshake(client.get(), server.get()));
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(client.get());
  ASSERT_NE(chain, nullptr);
  EXPECT_EQ(sk_X509_num(chain), 2);
}

std::string Alpn(ServerContext& sc, const std::vector<std::string>& offer) {
  SslPtr client = PlainClient();
  if (!offer.empty()) {
    std::string wire;
    for (const std::string& p : offer) {
      wire += static_cast<char>(p.size());
      wire += p;
    }
    SSL_set_alpn_protos(client.get(), reinterpret_cast<const unsigned char*>(wire.data()),
                        static_cast<unsigned int>(wire.size()));
  }
  SslPtr server = sc.NewSsl();
  std::string error;
  if (!Handshake(client.get(), server.get(), &error)) {
    return "(handshake failed: " + error + ")";
  }
  const unsigned char* sel = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(client.get(), &sel, &len);
  return std::string(reinterpret_cast<const char*>(sel), len);
}

TEST_F(TlsServerTest, AlpnSelectsHttp11) {
  auto sc = Make(SniConfig());
  ASSERT_NE(sc, nullptr);
  EXPECT_EQ(Alpn(*sc, {"h2", "http/1.1"}), "http/1.1");
  EXPECT_EQ(Alpn(*sc, {"http/1.1"}), "http/1.1");
}

TEST_F(TlsServerTest, AlpnWithoutHttp11ContinuesWithoutAlpn) {
  auto sc = Make(SniConfig());
  ASSERT_NE(sc, nullptr);
  EXPECT_EQ(Alpn(*sc, {"h2"}), "");
  EXPECT_EQ(Alpn(*sc, {}), "");
}

TEST_F(TlsServerTest, AlpnAfterSniSwitch) {
  auto sc = Make(SniConfig());
  ASSERT_NE(sc, nullptr);
  SslPtr client = PlainClient("www.example.com");
  const unsigned char offer[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_set_alpn_protos(client.get(), offer, sizeof(offer));
  SslPtr server = sc->NewSsl();
  ASSERT_TRUE(Handshake(client.get(), server.get()));
  EXPECT_EQ(PeerCommonName(client.get()), "www.example.com");
  const unsigned char* sel = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(client.get(), &sel, &len);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sel), len), "http/1.1");
}

TEST_F(TlsServerTest, DefaultProtocolsAreTls12AndTls13) {
  auto sc = Make(SniConfig());
  ASSERT_NE(sc, nullptr);
  SslPtr c13 = PlainClient();
  SslPtr s13 = sc->NewSsl();
  ASSERT_TRUE(Handshake(c13.get(), s13.get()));
  EXPECT_STREQ(SSL_get_version(c13.get()), "TLSv1.3");
  SslPtr c12 = PlainClient("", TLS1_2_VERSION);
  SslPtr s12 = sc->NewSsl();
  ASSERT_TRUE(Handshake(c12.get(), s12.get()));
  EXPECT_STREQ(SSL_get_version(c12.get()), "TLSv1.2");
}

TEST_F(TlsServerTest, Tls13OnlyRefusesTls12Client) {
  auto sc = Make(ServerConfigText("SSLProtocol = TLSv1.3\n"));
  ASSERT_NE(sc, nullptr);
  SslPtr client = PlainClient("", TLS1_2_VERSION);
  SslPtr server = sc->NewSsl();
  std::string error;
  EXPECT_FALSE(Handshake(client.get(), server.get(), &error));
  EXPECT_NE(error.find("unsupported protocol"), std::string::npos) << error;
}

TEST_F(TlsServerTest, Tls12OnlyNegotiatesTls12) {
  auto sc = Make(ServerConfigText("SSLProtocol = TLSv1.2\n"));
  ASSERT_NE(sc, nullptr);
  SslPtr client = PlainClient();
  SslPtr server = sc->NewSsl();
  ASSERT_TRUE(Handshake(client.get(), server.get()));
  EXPECT_STREQ(SSL_get_version(client.get()), "TLSv1.2");
}

TEST_F(TlsServerTest, CipherSuitesApply) {
  auto sc =
      Make(ServerConfigText("SSLCipherSuite = ECDHE-ECDSA-AES256-GCM-SHA384\n"
                            "SSLCipherSuite = TLSv1.3 TLS_CHACHA20_POLY1305_SHA256\n"));
  ASSERT_NE(sc, nullptr);
  SslPtr c13 = PlainClient();
  SslPtr s13 = sc->NewSsl();
  ASSERT_TRUE(Handshake(c13.get(), s13.get()));
  EXPECT_STREQ(SSL_get_cipher_name(c13.get()), "TLS_CHACHA20_POLY1305_SHA256");
  SslPtr c12 = PlainClient("", TLS1_2_VERSION);
  SslPtr s12 = sc->NewSsl();
  ASSERT_TRUE(Handshake(c12.get(), s12.get()));
  EXPECT_STREQ(SSL_get_cipher_name(c12.get()), "ECDHE-ECDSA-AES256-GCM-SHA384");
}

TEST_F(TlsServerTest, TicketResumptionTls13AndTls12) {
  auto sc = Make(SniConfig());
  ASSERT_NE(sc, nullptr);
  for (int version : {0, TLS1_2_VERSION}) {
    bool reused = true;
    SslSessionPtr session = Connect(*sc, nullptr, &reused, version);
    ASSERT_NE(session, nullptr);
    EXPECT_FALSE(reused);
    EXPECT_TRUE(SSL_SESSION_is_resumable(session.get())) << version;
    SslSessionPtr again = Connect(*sc, session.get(), &reused, version);
    EXPECT_TRUE(reused) << "version " << version;
  }
}

TEST_F(TlsServerTest, TicketResumptionWithSniCertificate) {
  auto sc = Make(SniConfig());
  ASSERT_NE(sc, nullptr);
  for (int version : {0, TLS1_2_VERSION}) {
    for (const char* name : {"www.example.com", "a.example.org"}) {
      bool reused = true;
      SslSessionPtr session = Connect(*sc, nullptr, &reused, version, name);
      ASSERT_NE(session, nullptr);
      EXPECT_FALSE(reused);
      Connect(*sc, session.get(), &reused, version, name);
      EXPECT_TRUE(reused) << name << " version " << version;
    }
  }
}

TEST_F(TlsServerTest, ResumptionAcrossContextsSharingKeys) {
  // A reload builds a new context from the same keys: sessions survive it.
  auto a = Make(SniConfig());
  auto b = Make(SniConfig());
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  bool reused = false;
  SslSessionPtr session = Connect(*a, nullptr, &reused);
  ASSERT_NE(session, nullptr);
  Connect(*b, session.get(), &reused);
  EXPECT_TRUE(reused);
}

TEST_F(TlsServerTest, NoResumptionWithOtherKeys) {
  auto other = TicketKeys::Create();
  ASSERT_TRUE(other.ok());
  auto a = Make(SniConfig());
  auto b = Make(SniConfig(), other->get());
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  bool reused = true;
  SslSessionPtr session = Connect(*a, nullptr, &reused);
  ASSERT_NE(session, nullptr);
  Connect(*b, session.get(), &reused);
  EXPECT_FALSE(reused);
}

TEST_F(TlsServerTest, SessionTicketsOffMeansNoResumption) {
  auto sc = Make(ServerConfigText("SSLSessionTickets = Off\n"));
  ASSERT_NE(sc, nullptr);
  for (int version : {0, TLS1_2_VERSION}) {
    bool reused = true;
    SslSessionPtr session = Connect(*sc, nullptr, &reused, version);
    ASSERT_NE(session, nullptr);
    Connect(*sc, session.get(), &reused, version);
    EXPECT_FALSE(reused) << "version " << version;
  }
}

TEST_F(TlsServerTest, RotationKeepsThePreviousKeyOnly) {
  auto sc = Make(SniConfig());
  ASSERT_NE(sc, nullptr);
  for (int version : {0, TLS1_2_VERSION}) {
    bool reused = false;
    SslSessionPtr s0 = Connect(*sc, nullptr, &reused, version);
    ASSERT_NE(s0, nullptr);
    ASSERT_TRUE(keys_->Rotate().ok());
    // Previous key: still accepted, and the ticket is renewed under the current key (for
    // TLS 1.2 that is the callback's return value 2).
    SslSessionPtr s1 = Connect(*sc, s0.get(), &reused, version);
    EXPECT_TRUE(reused) << "version " << version;
    ASSERT_TRUE(keys_->Rotate().ok());
    // s0's key is now two rotations old: refused, full handshake.
    Connect(*sc, s0.get(), &reused, version);
    EXPECT_FALSE(reused) << "version " << version;
    // s1's ticket is under the key that is now the previous one.
    ASSERT_NE(s1, nullptr);
    Connect(*sc, s1.get(), &reused, version);
    EXPECT_TRUE(reused) << "version " << version;
  }
  EXPECT_EQ(keys_->generation(), 4u);
}

TEST_F(TlsServerTest, ResumptionInForkedChildWithItsOwnContext) {
  auto parent = Make(SniConfig());
  ASSERT_NE(parent, nullptr);
  bool reused = false;
  SslSessionPtr session = Connect(*parent, nullptr, &reused);
  ASSERT_NE(session, nullptr);
  // Also a rotation after the fork, made by the parent: the child must see it in the
  // shared region and still accept the session (now under the previous key).
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  std::string text = SniConfig();
  TicketKeys* keys = keys_.get();
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(go[1]);
    char c;
    if (read(go[0], &c, 1) != 1) {
      _exit(10);
    }
    config::LoadOptions o;
    o.file = "drover.conf";
    auto cfg = config::LoadFromString(text, o);
    if (!cfg.ok()) {
      _exit(11);
    }
    auto child = ServerContext::Create(**cfg, keys);
    if (!child.ok()) {
      _exit(12);
    }
    if (keys->generation() != 1) {
      _exit(13);
    }
    SslPtr client = PlainClient();
    SslPtr server = (*child)->NewSsl();
    SSL_set_session(client.get(), session.get());
    if (!testing::Handshake(client.get(), server.get())) {
      _exit(14);
    }
    _exit(SSL_session_reused(client.get()) == 1 ? 0 : 15);
  }
  close(go[0]);
  ASSERT_TRUE(keys_->Rotate().ok());
  ASSERT_EQ(write(go[1], "x", 1), 1);
  close(go[1]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "child failed at step " << WEXITSTATUS(status);
}

TEST_F(TlsServerTest, SessionFromForkedChildResumesInParent) {
  auto parent = Make(SniConfig());
  ASSERT_NE(parent, nullptr);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  TicketKeys* keys = keys_.get();
  std::string text = SniConfig();
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    config::LoadOptions o;
    o.file = "drover.conf";
    auto cfg = config::LoadFromString(text, o);
    auto child = cfg.ok() ? ServerContext::Create(**cfg, keys)
                          : core::Result<std::unique_ptr<ServerContext>>(cfg.status());
    if (!child.ok()) {
      _exit(1);
    }
    SslSessionPtr s = Connect(**child, nullptr, nullptr);
    unsigned char buf[8192];
    unsigned char* p = buf;
    int n = s != nullptr ? i2d_SSL_SESSION(s.get(), nullptr) : 0;
    if (n <= 0 || n > static_cast<int>(sizeof(buf)) || i2d_SSL_SESSION(s.get(), &p) != n ||
        write(fds[1], buf, static_cast<size_t>(n)) != n) {
      _exit(2);
    }
    _exit(0);
  }
  close(fds[1]);
  std::string der;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) {
    der.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  SslSessionPtr session(d2i_SSL_SESSION(nullptr, &p, static_cast<long>(der.size())));
  ASSERT_NE(session, nullptr);
  bool reused = false;
  Connect(*parent, session.get(), &reused);
  EXPECT_TRUE(reused);
}

}  // namespace
}  // namespace drover::tls
