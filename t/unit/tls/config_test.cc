// tls::CheckConfig: one test per error message (FILE:LINE: Directive: ...), with files
// from the test PKI, and the configs that must pass.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "test_pki.h"
#include "tls/tls.h"

namespace drover::tls {
namespace {

using testing::LoadConfig;
using testing::Pki;
using testing::ServerConfigText;

std::string P(const std::string& name) { return Pki::Get().Path(name); }

// CheckConfig's message for `text`, "(ok)" when it passes.
std::string Check(const std::string& text) {
  auto c = LoadConfig(text);
  if (c == nullptr) {
    return "(config did not load)";
  }
  core::Status st = CheckConfig(*c);
  return st.ok() ? "(ok)" : st.message();
}

// "[server]\nListen = 127.0.0.1:8443 ssl\n" + certificate lines.
std::string Server(const std::string& cert_lines) {
  return "[server]\nListen = 127.0.0.1:8443 ssl\n" + cert_lines;
}

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

TEST(TlsConfigTest, ValidServerConfigPasses) { EXPECT_EQ(Check(ServerConfigText()), "(ok)"); }

TEST(TlsConfigTest, EveryDirectiveValidPasses) {
  EXPECT_EQ(Check(ServerConfigText(
                "SSLCertificate = www.example.com " + P("www.pem") + " " + P("www.key") + "\n" +
                "SSLCertificate = *.example.org " + P("wild-combined.pem") +
                "\n"
                "SSLCipherSuite = ECDHE+AESGCM:!aNULL\n"
                "SSLCipherSuite = TLSv1.3 TLS_AES_128_GCM_SHA256\n"
                "SSLProxyCACertificateFile = " +
                P("ca.pem") + "\nSSLProxyMachineCertificateFile = " + P("client.pem") + "\n")),
            "(ok)");
}

TEST(TlsConfigTest, NoTlsAtAllOpensNothing) {
  EXPECT_EQ(Check("[server]\nListen = 80\nProxyPass = / http://127.0.0.1:1/\n"), "(ok)");
}

TEST(TlsConfigTest, CombinedFileWithKeyFirstAndChain) {
  EXPECT_EQ(Check(Server("SSLCertificateFile = " + P("default-combined.pem") + "\n")), "(ok)");
}

TEST(TlsConfigTest, MissingCertificateFile) {
  EXPECT_EQ(Check(Server("SSLCertificateFile = " + P("missing.pem") + "\n")),
            "drover.conf:3: SSLCertificateFile: cannot read '" + P("missing.pem") +
                "' (2: No such file or directory)");
}

TEST(TlsConfigTest, RelativeCertificatePathIsUnderThePrefix) {
  EXPECT_EQ(Check(Server("SSLCertificateFile = nope/missing.pem\n")),
            "drover.conf:3: SSLCertificateFile: cannot read '" + P("nope/missing.pem") +
                "' (2: No such file or directory)");
}

TEST(TlsConfigTest, UnreadableCertificateFile) {
  if (geteuid() == 0) {
    GTEST_SKIP() << "root reads mode 000 files";
  }
  std::string path = P("unreadable.pem");
  testing::WriteFile(path, "x");
  chmod(path.c_str(), 0);
  EXPECT_EQ(
      Check(Server("SSLCertificateFile = " + path + "\n")),
      "drover.conf:3: SSLCertificateFile: cannot read '" + path + "' (13: Permission denied)");
}

TEST(TlsConfigTest, CertificateNotPem) {
  std::string msg = Check(Server("SSLCertificateFile = " + P("garbage.pem") + "\n"));
  EXPECT_TRUE(StartsWith(msg, "drover.conf:3: SSLCertificateFile: no PEM certificate in '" +
                                  P("garbage.pem") + "' (error:"))
      << msg;
}

TEST(TlsConfigTest, CertificateFileHoldsOnlyAKey) {
  std::string msg = Check(Server("SSLCertificateFile = " + P("default.key") + "\n"));
  EXPECT_TRUE(StartsWith(
      msg, "drover.conf:3: SSLCertificateFile: no PEM certificate in '" + P("default.key") + "'"))
      << msg;
}

TEST(TlsConfigTest, KeyDoesNotMatchCertificate) {
  EXPECT_EQ(Check(Server("SSLCertificateFile = " + P("default.pem") +
                         "\nSSLCertificateKeyFile = " + P("www.key") + "\n")),
            "drover.conf:4: SSLCertificateKeyFile: the key in '" + P("www.key") +
                "' does not match the certificate in '" + P("default.pem") + "'");
}

TEST(TlsConfigTest, MissingKeyFile) {
  EXPECT_EQ(Check(Server("SSLCertificateFile = " + P("default.pem") +
                         "\nSSLCertificateKeyFile = " + P("missing.key") + "\n")),
            "drover.conf:4: SSLCertificateKeyFile: cannot read '" + P("missing.key") +
                "' (2: No such file or directory)");
}

TEST(TlsConfigTest, KeyFileNotPem) {
  std::string msg = Check(Server("SSLCertificateFile = " + P("default.pem") +
                                 "\nSSLCertificateKeyFile = " + P("garbage.pem") + "\n"));
  EXPECT_TRUE(StartsWith(msg, "drover.conf:4: SSLCertificateKeyFile: no PEM private key in '" +
                                  P("garbage.pem") + "'"))
      << msg;
}

TEST(TlsConfigTest, NoKeyInCertificateFileWhenKeyFileNotGiven) {
  std::string msg = Check(Server("SSLCertificateFile = " + P("default.pem") + "\n"));
  EXPECT_TRUE(StartsWith(
      msg, "drover.conf:3: SSLCertificateFile: no PEM private key in '" + P("default.pem") + "'"))
      << msg;
}

TEST(TlsConfigTest, EncryptedKeyIsRefusedWithoutPrompting) {
  EXPECT_EQ(Check(Server("SSLCertificateFile = " + P("default.pem") +
                         "\nSSLCertificateKeyFile = " + P("encrypted.key") + "\n")),
            "drover.conf:4: SSLCertificateKeyFile: '" + P("encrypted.key") +
                "' holds an encrypted key (passphrases are not supported)");
}

TEST(TlsConfigTest, ExpiredCertificate) {
  std::string msg = Check(Server("SSLCertificateFile = " + P("expired.pem") +
                                 "\nSSLCertificateKeyFile = " + P("expired.key") + "\n"));
  EXPECT_TRUE(StartsWith(
      msg, "drover.conf:3: SSLCertificateFile: certificate '" + P("expired.pem") + "' expired on "))
      << msg;
  EXPECT_NE(msg.find(" GMT"), std::string::npos) << msg;
}

TEST(TlsConfigTest, ExpiredSniCertificateNamesItsLine) {
  std::string msg = Check(ServerConfigText(
      "SSLCertificate = www.example.com " + P("www.pem") + " " + P("www.key") + "\n" +
      "SSLCertificate = expired.test " + P("expired.pem") + " " + P("expired.key") + "\n"));
  EXPECT_TRUE(StartsWith(
      msg, "drover.conf:6: SSLCertificate: certificate '" + P("expired.pem") + "' expired on "))
      << msg;
}

TEST(TlsConfigTest, SniKeyMismatchNamesItsLine) {
  EXPECT_EQ(Check(ServerConfigText("SSLCertificate = www.example.com " + P("www.pem") + " " +
                                   P("wild.key") + "\n")),
            "drover.conf:5: SSLCertificate: the key in '" + P("wild.key") +
                "' does not match the certificate in '" + P("www.pem") + "'");
}

TEST(TlsConfigTest, SniCertificateWithoutKeyInItsFile) {
  std::string msg =
      Check(ServerConfigText("SSLCertificate = www.example.com " + P("www.pem") + "\n"));
  EXPECT_TRUE(StartsWith(
      msg, "drover.conf:5: SSLCertificate: no PEM private key in '" + P("www.pem") + "'"))
      << msg;
}

TEST(TlsConfigTest, NoUsableCipher) {
  std::string msg = Check(ServerConfigText("SSLCipherSuite = NOPE:ALSO-NOPE\n"));
  EXPECT_TRUE(StartsWith(msg,
                         "drover.conf:5: SSLCipherSuite: no usable cipher in "
                         "'NOPE:ALSO-NOPE'"))
      << msg;
}

TEST(TlsConfigTest, NoUsableTls13CipherSuite) {
  std::string msg =
      Check(ServerConfigText("SSLCipherSuite = HIGH\nSSLCipherSuite = TLSv1.3 TLS_NOPE\n"));
  EXPECT_TRUE(StartsWith(msg,
                         "drover.conf:6: SSLCipherSuite: no usable TLSv1.3 cipher suite in "
                         "'TLS_NOPE'"))
      << msg;
}

TEST(TlsConfigTest, MissingCaFile) {
  EXPECT_EQ(
      Check("[server]\nListen = 80\nSSLProxyCACertificateFile = " + P("missing-ca.pem") + "\n"),
      "drover.conf:3: SSLProxyCACertificateFile: cannot read '" + P("missing-ca.pem") +
          "' (2: No such file or directory)");
}

TEST(TlsConfigTest, CaFileWithoutCertificates) {
  std::string msg =
      Check("[server]\nListen = 80\nSSLProxyCACertificateFile = " + P("garbage.pem") + "\n");
  EXPECT_TRUE(StartsWith(msg,
                         "drover.conf:3: SSLProxyCACertificateFile: no usable CA "
                         "certificate in '" +
                             P("garbage.pem") + "'"))
      << msg;
}

TEST(TlsConfigTest, MachineCertificateWithoutKey) {
  std::string msg = Check(
      "[server]\nListen = 80\nProxyPass = / https://127.0.0.1:1/\n"
      "SSLProxyMachineCertificateFile = " +
      P("client-cert-only.pem") + "\n");
  EXPECT_TRUE(StartsWith(msg,
                         "drover.conf:4: SSLProxyMachineCertificateFile: no PEM private "
                         "key in '" +
                             P("client-cert-only.pem") + "'"))
      << msg;
}

TEST(TlsConfigTest, ExpiredMachineCertificate) {
  std::string msg =
      Check("[server]\nListen = 80\nSSLProxyMachineCertificateFile = " + P("expired-combined.pem") +
            "\n");
  EXPECT_TRUE(StartsWith(msg, "drover.conf:3: SSLProxyMachineCertificateFile: certificate '" +
                                  P("expired-combined.pem") + "' expired on "))
      << msg;
}

TEST(TlsConfigTest, NeedsContexts) {
  auto plain = LoadConfig("[server]\nListen = 80\nProxyPass = / http://127.0.0.1:1/\n");
  ASSERT_NE(plain, nullptr);
  EXPECT_FALSE(NeedsServerContext(*plain));
  EXPECT_FALSE(NeedsClientContext(*plain));
  auto both =
      LoadConfig(ServerConfigText("[balancer://b]\nBalancerMember = http://127.0.0.1:1\n"
                                  "BalancerMember = https://127.0.0.1:2\n"));
  ASSERT_NE(both, nullptr);
  EXPECT_TRUE(NeedsServerContext(*both));
  EXPECT_TRUE(NeedsClientContext(*both));
}

}  // namespace
}  // namespace drover::tls
