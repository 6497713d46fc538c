// tls::ClientContext against a ServerContext, in memory: verification with the right CA
// and with another CA (and its reason string), SSLProxyVerify none, the peer name check
// for names and IP literals, SNI (never for IP literals), the client certificate, and
// per-key session reuse.
#include <gtest/gtest.h>
#include <openssl/err.h>

#include <string>

#include "test_pki.h"
#include "tls/tls.h"

namespace drover::tls {
namespace {

using testing::Exchange;
using testing::Handshake;
using testing::LoadConfig;
using testing::PeerCommonName;
using testing::Pki;
using testing::ServerConfigText;

std::string P(const std::string& name) { return Pki::Get().Path(name); }

class TlsClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto keys = TicketKeys::Create();
    ASSERT_TRUE(keys.ok());
    keys_ = std::move(*keys);
  }

  // A server with the default certificate (localhost, 127.0.0.1, default.test; CA ca.pem)
  // or `cert` (e.g. "other": localhost signed by other-ca.pem), and a client built from
  // `client_lines` in the same [server].
  void Build(const std::string& client_lines, const std::string& cert = "default") {
    std::string text =
        "[server]\nListen = 127.0.0.1:8443 ssl\nSSLCertificateFile = " + P(cert + ".pem") +
        "\nSSLCertificateKeyFile = " + P(cert + ".key") + "\n" + client_lines +
        "ProxyPass = / https://localhost:8443/\n";
    config_ = LoadConfig(text);
    ASSERT_NE(config_, nullptr);
    auto sc = ServerContext::Create(*config_, keys_.get());
    ASSERT_TRUE(sc.ok()) << sc.status().message();
    server_ = std::move(*sc);
    auto cc = ClientContext::Create(*config_);
    ASSERT_TRUE(cc.ok()) << cc.status().message();
    client_ = std::move(*cc);
  }

  // Connects to `host`; returns "" on success, else the verify reason or the errors.
  std::string Connect(const std::string& host, const std::string& session_key = "",
                      bool* reused = nullptr) {
    client_ssl_ = client_->NewSsl(host, session_key);
    if (client_ssl_ == nullptr) {
      return "NewSsl failed: " + ErrorQueueString();
    }
    server_ssl_ = server_->NewSsl();
    std::string error;
    if (!Handshake(client_ssl_.get(), server_ssl_.get(), &error)) {
      std::string reason = VerifyFailureReason(client_ssl_.get());
      return reason.empty() ? error : reason;
    }
    if (!Exchange(client_ssl_.get(), server_ssl_.get())) {
      return "exchange failed";
    }
    if (reused != nullptr) {
      *reused = SSL_session_reused(client_ssl_.get()) == 1;
    }
    return "";
  }

  std::string ServerSawSni() {
    const char* name = SSL_get_servername(server_ssl_.get(), TLSEXT_NAMETYPE_host_name);
    return name != nullptr ? name : "(none)";
  }

  std::unique_ptr<TicketKeys> keys_;
  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<ServerContext> server_;
  std::unique_ptr<ClientContext> client_;
  SslPtr client_ssl_;
  SslPtr server_ssl_;
};

TEST_F(TlsClientTest, VerifiesWithTheRightCa) {
  Build("SSLProxyCACertificateFile = " + P("ca.pem") + "\n");
  EXPECT_EQ(Connect("localhost"), "");
  EXPECT_EQ(VerifyFailureReason(client_ssl_.get()), "");
  EXPECT_EQ(PeerCommonName(client_ssl_.get()), "default.test");
  EXPECT_TRUE(client_->verify());
}

TEST_F(TlsClientTest, RefusesACertificateFromAnotherCa) {
  Build("SSLProxyCACertificateFile = " + P("ca.pem") + "\n", "other");
  EXPECT_EQ(Connect("localhost"), "unable to get local issuer certificate");
}

TEST_F(TlsClientTest, RefusesWhenTheCaFileIsAnotherCa) {
  Build("SSLProxyCACertificateFile = " + P("other-ca.pem") + "\n");
  EXPECT_EQ(Connect("localhost"), "unable to get local issuer certificate");
}

TEST_F(TlsClientTest, VerifyNoneAcceptsAnotherCaAndAnyName) {
  Build("SSLProxyVerify = none\nSSLProxyCACertificateFile = " + P("ca.pem") + "\n", "other");
  EXPECT_EQ(Connect("wrong.test"), "");
  EXPECT_EQ(VerifyFailureReason(client_ssl_.get()), "");  // not checked: no reason
  EXPECT_FALSE(client_->verify());
}

TEST_F(TlsClientTest, PeerNameMismatch) {
  Build("SSLProxyCACertificateFile = " + P("ca.pem") + "\n");
  EXPECT_EQ(Connect("wrong.test"), "hostname mismatch");
}

TEST_F(TlsClientTest, PeerNameCheckOff) {
  Build("SSLProxyCACertificateFile = " + P("ca.pem") + "\nSSLProxyCheckPeerName = Off\n");
  EXPECT_EQ(Connect("wrong.test"), "");
}

TEST_F(TlsClientTest, PeerNameIsCaseInsensitive) {
  Build("SSLProxyCACertificateFile = " + P("ca.pem") + "\n");
  EXPECT_EQ(Connect("LocalHost"), "");
}

TEST_F(TlsClientTest, IpLiteralIsCheckedAgainstIpSanAndSendsNoSni) {
  Build("SSLProxyCACertificateFile = " + P("ca.pem") + "\n");
  EXPECT_EQ(Connect("127.0.0.1"), "");
  EXPECT_EQ(ServerSawSni(), "(none)");
  EXPECT_EQ(Connect("127.0.0.2"), "IP address mismatch");
  EXPECT_EQ(Connect("::1"), "IP address mismatch");
}

TEST_F(TlsClientTest, SendsSniForNames) {
  Build("SSLProxyCACertificateFile = " + P("ca.pem") + "\n");
  EXPECT_EQ(Connect("default.test"), "");
  EXPECT_EQ(ServerSawSni(), "default.test");
}

TEST_F(TlsClientTest, SniSelectsTheMembersCertificate) {
  // A member that is itself drover with SNI certificates: the name picks www's.
  std::string text =
      ServerConfigText("SSLCertificate = www.example.com " + P("www.pem") + " " + P("www.key") +
                       "\nSSLProxyCACertificateFile = " + P("ca.pem") + "\n");
  config_ = LoadConfig(text);
  ASSERT_NE(config_, nullptr);
  server_ = std::move(*ServerContext::Create(*config_, keys_.get()));
  client_ = std::move(*ClientContext::Create(*config_));
  EXPECT_EQ(Connect("www.example.com"), "");
  EXPECT_EQ(PeerCommonName(client_ssl_.get()), "www.example.com");
}

TEST_F(TlsClientTest, PresentsTheMachineCertificate) {
  Build("SSLProxyCACertificateFile = " + P("ca.pem") +
        "\nSSLProxyMachineCertificateFile = " + P("client.pem") + "\n");
  client_ssl_ = client_->NewSsl("localhost");
  server_ssl_ = server_->NewSsl();
  ASSERT_NE(client_ssl_, nullptr);
  // The test asks for a client certificate on this one server SSL (drover never does).
  X509_STORE* store = X509_STORE_new();
  ASSERT_EQ(X509_STORE_load_file(store, P("ca.pem").c_str()), 1);
  SSL_set0_verify_cert_store(server_ssl_.get(), store);
  SSL_set_verify(server_ssl_.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  std::string error;
  ASSERT_TRUE(Handshake(client_ssl_.get(), server_ssl_.get(), &error)) << error;
  ASSERT_TRUE(Exchange(client_ssl_.get(), server_ssl_.get()));
  EXPECT_EQ(PeerCommonName(server_ssl_.get()), "drover-client");
  EXPECT_EQ(SSL_get_verify_result(server_ssl_.get()), X509_V_OK);
}

TEST_F(TlsClientTest, ReusesSessionsPerKey) {
  Build("SSLProxyCACertificateFile = " + P("ca.pem") + "\n");
  bool reused = true;
  ASSERT_EQ(Connect("localhost", "https://localhost:8443", &reused), "");
  EXPECT_FALSE(reused);
  ASSERT_EQ(Connect("localhost", "https://localhost:8443", &reused), "");
  EXPECT_TRUE(reused);
  // The stored session survives its connections being freed without close_notify.
  client_ssl_.reset();
  ASSERT_EQ(Connect("localhost", "https://localhost:8443", &reused), "");
  EXPECT_TRUE(reused);
  // Another key has no session yet; no key means no reuse.
  ASSERT_EQ(Connect("localhost", "https://127.0.0.1:8443", &reused), "");
  EXPECT_FALSE(reused);
  ASSERT_EQ(Connect("localhost", "", &reused), "");
  EXPECT_FALSE(reused);
  client_->ForgetSession("https://localhost:8443");
  ASSERT_EQ(Connect("localhost", "https://localhost:8443", &reused), "");
  EXPECT_FALSE(reused);
}

TEST_F(TlsClientTest, SystemStoreIsUsedWithoutACaFile) {
  // The test CA is in no system store: verification fails with the usual reason.
  Build("");
  EXPECT_EQ(Connect("localhost"), "unable to get local issuer certificate");
}

}  // namespace
}  // namespace drover::tls
