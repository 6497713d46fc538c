// The SSL directives of issue 7 in config::Load: SSLCertificate (SNI), SSLCipherSuite with
// its Apache protocol prefix, SSLSessionTickets, SSLSessionTicketKeyRotation,
// SSLProxyCheckPeerName, SSLProxyMachineCertificateFile, their lines (for tls/'s
// messages), defaults, errors and the Dump round trip. Files are not opened here (that is
// tls::CheckConfig, tested in t/unit/tls/).
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"

namespace drover::config {
namespace {

const std::string kServer = "[server]\nListen = 443 ssl\nSSLCertificateFile = certs/default.pem\n";

std::string Error(const std::string& text) {
  LoadOptions o;
  o.file = "drover.conf";
  o.prefix = "/p";
  auto r = LoadFromString(text, o);
  return r.ok() ? "(loaded)" : r.status().message();
}

std::shared_ptr<const Config> Load(const std::string& text) {
  LoadOptions o;
  o.file = "drover.conf";
  o.prefix = "/p";
  auto r = LoadFromString(text, o);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r.value() : nullptr;
}

TEST(ConfigSslTest, Defaults) {
  auto c = Load("[server]\nListen = 80\n");
  ASSERT_NE(c, nullptr);
  const ServerConfig& s = c->server;
  EXPECT_TRUE(s.ssl_certificates.empty());
  EXPECT_EQ(s.ssl_protocol, "TLSv1.2+");
  EXPECT_EQ(s.ssl_cipher_suite, "");
  EXPECT_EQ(s.ssl_cipher_suite_tls13, "");
  EXPECT_TRUE(s.ssl_session_tickets);
  EXPECT_EQ(s.ssl_session_ticket_key_rotation_ms, 3600000);
  EXPECT_TRUE(s.ssl_proxy_verify);
  EXPECT_TRUE(s.ssl_proxy_check_peer_name);
  EXPECT_EQ(s.ssl_proxy_machine_certificate_file, "");
  EXPECT_EQ(s.ssl_lines.certificate_file, 0);
  EXPECT_EQ(s.ssl_lines.certificate_key_file, 0);
  EXPECT_EQ(s.ssl_lines.cipher_suite, 0);
  EXPECT_EQ(s.ssl_lines.cipher_suite_tls13, 0);
  EXPECT_EQ(s.ssl_lines.proxy_ca_certificate_file, 0);
  EXPECT_EQ(s.ssl_lines.proxy_machine_certificate_file, 0);
}

TEST(ConfigSslTest, EveryDirectiveAndItsLine) {
  auto c = Load(kServer +                                                         // lines 1-3
                "SSLCertificateKeyFile = certs/default.key\n"                     // 4
                "SSLCertificate = WWW.Example.com certs/www.pem certs/www.key\n"  // 5
                "SSLCertificate = *.example.org /abs/wild.pem\n"                  // 6
                "SSLCipherSuite = ECDHE+AESGCM:!aNULL\n"                          // 7
                "SSLCipherSuite = TLSv1.3 TLS_AES_256_GCM_SHA384\n"               // 8
                "SSLSessionTickets = off\n"                                       // 9
                "SSLSessionTicketKeyRotation = 2h\n"                              // 10
                "SSLProxyCACertificateFile = ca.pem\n"                            // 11
                "SSLProxyCheckPeerName = Off\n"                                   // 12
                "SSLProxyMachineCertificateFile = client.pem\n");                 // 13
  ASSERT_NE(c, nullptr);
  const ServerConfig& s = c->server;
  EXPECT_EQ(s.ssl_certificate_file, "/p/certs/default.pem");
  EXPECT_EQ(s.ssl_certificate_key_file, "/p/certs/default.key");
  ASSERT_EQ(s.ssl_certificates.size(), 2u);
  EXPECT_EQ(s.ssl_certificates[0].server_name, "www.example.com");
  EXPECT_EQ(s.ssl_certificates[0].certificate_file, "/p/certs/www.pem");
  EXPECT_EQ(s.ssl_certificates[0].key_file, "/p/certs/www.key");
  EXPECT_EQ(s.ssl_certificates[0].line, 5);
  EXPECT_EQ(s.ssl_certificates[1].server_name, "*.example.org");
  EXPECT_EQ(s.ssl_certificates[1].certificate_file, "/abs/wild.pem");
  EXPECT_EQ(s.ssl_certificates[1].key_file, "/abs/wild.pem");  // key in the certificate file
  EXPECT_EQ(s.ssl_certificates[1].line, 6);
  EXPECT_EQ(s.ssl_cipher_suite, "ECDHE+AESGCM:!aNULL");
  EXPECT_EQ(s.ssl_cipher_suite_tls13, "TLS_AES_256_GCM_SHA384");
  EXPECT_FALSE(s.ssl_session_tickets);
  EXPECT_EQ(s.ssl_session_ticket_key_rotation_ms, 7200000);
  EXPECT_EQ(s.ssl_proxy_ca_certificate_file, "/p/ca.pem");
  EXPECT_FALSE(s.ssl_proxy_check_peer_name);
  EXPECT_EQ(s.ssl_proxy_machine_certificate_file, "/p/client.pem");
  EXPECT_EQ(s.ssl_lines.certificate_file, 3);
  EXPECT_EQ(s.ssl_lines.certificate_key_file, 4);
  EXPECT_EQ(s.ssl_lines.cipher_suite, 7);
  EXPECT_EQ(s.ssl_lines.cipher_suite_tls13, 8);
  EXPECT_EQ(s.ssl_lines.proxy_ca_certificate_file, 11);
  EXPECT_EQ(s.ssl_lines.proxy_machine_certificate_file, 13);
}

TEST(ConfigSslTest, CipherSuiteSslPrefixIsTheTls12List) {
  auto c = Load(kServer + "SSLCipherSuite = ssl HIGH:!aNULL\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->server.ssl_cipher_suite, "HIGH:!aNULL");
  EXPECT_EQ(c->server.ssl_cipher_suite_tls13, "");
  EXPECT_EQ(c->server.ssl_lines.cipher_suite, 4);
}

TEST(ConfigSslTest, TicketKeyRotationBounds) {
  auto c = Load(kServer + "SSLSessionTicketKeyRotation = 1\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->server.ssl_session_ticket_key_rotation_ms, 1000);
  c = Load(kServer + "SSLSessionTicketKeyRotation = 168h\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->server.ssl_session_ticket_key_rotation_ms, 7 * 86400000LL);
}

TEST(ConfigSslTest, SslCertificateWithoutSslListenerStillNeedsTheDefault) {
  EXPECT_EQ(Error("[server]\nListen = 80\nSSLCertificate = a.example /a.pem\n"),
            "drover.conf:3: SSLCertificate: needs SSLCertificateFile (the default certificate) "
            "in [server]");
}

struct Case {
  const char* name;
  std::string text;
  std::string message;
};

TEST(ConfigSslTest, Errors) {
  const Case cases[] = {
      {"SslCertificateOneWord", kServer + "SSLCertificate = a.example\n",
       "drover.conf:4: SSLCertificate: expected 'SERVERNAME CERTFILE [KEYFILE]', got "
       "'a.example'"},
      {"SslCertificateFourWords", kServer + "SSLCertificate = a.example c k x\n",
       "drover.conf:4: SSLCertificate: expected 'SERVERNAME CERTFILE [KEYFILE]', got "
       "'a.example c k x'"},
      {"SslCertificateBadName", kServer + "SSLCertificate = a..example c.pem\n",
       "drover.conf:4: SSLCertificate: invalid server name 'a..example' (a host name, or "
       "*.domain for a wildcard)"},
      {"SslCertificateInnerWildcard", kServer + "SSLCertificate = a.*.example c.pem\n",
       "drover.conf:4: SSLCertificate: invalid server name 'a.*.example' (a host name, or "
       "*.domain for a wildcard)"},
      {"SslCertificateBareStar", kServer + "SSLCertificate = * c.pem\n",
       "drover.conf:4: SSLCertificate: invalid server name '*' (a host name, or *.domain for "
       "a wildcard)"},
      {"SslCertificatePartialWildcard", kServer + "SSLCertificate = w*.example c.pem\n",
       "drover.conf:4: SSLCertificate: invalid server name 'w*.example' (a host name, or "
       "*.domain for a wildcard)"},
      {"SslCertificateLabelDash", kServer + "SSLCertificate = -a.example c.pem\n",
       "drover.conf:4: SSLCertificate: invalid server name '-a.example' (a host name, or "
       "*.domain for a wildcard)"},
      {"SslCertificateDuplicateName",
       kServer + "SSLCertificate = A.example a.pem\nSSLCertificate = a.EXAMPLE b.pem\n",
       "drover.conf:5: SSLCertificate: duplicate server name 'a.example' (first given on line "
       "4)"},
      {"SslCertificateWithoutDefault",
       "[server]\nListen = 443 ssl\nSSLCertificate = a.example a.pem\n",
       "drover.conf:2: Listen: '443 ssl' needs SSLCertificateFile in [server]"},
      {"CipherSuiteUnknownProtocol", kServer + "SSLCipherSuite = TLSv1.2 HIGH\n",
       "drover.conf:4: SSLCipherSuite: unknown protocol 'TLSv1.2' (SSL for TLS 1.2 and below, "
       "or TLSv1.3)"},
      {"CipherSuiteThreeWords", kServer + "SSLCipherSuite = TLSv1.3 A B\n",
       "drover.conf:4: SSLCipherSuite: expected '[SSL|TLSv1.3] CIPHERS', got 'TLSv1.3 A B'"},
      {"CipherSuiteDuplicate", kServer + "SSLCipherSuite = HIGH\nSSLCipherSuite = SSL LOW\n",
       "drover.conf:5: SSLCipherSuite: duplicate SSL cipher suite (first given on line 4)"},
      {"CipherSuiteDuplicateTls13",
       kServer + "SSLCipherSuite = TLSv1.3 A\nSSLCipherSuite = HIGH\nSSLCipherSuite = tlsv1.3 B\n",
       "drover.conf:6: SSLCipherSuite: duplicate TLSv1.3 cipher suite (first given on line 4)"},
      {"SessionTicketsNotBool", kServer + "SSLSessionTickets = maybe\n",
       "drover.conf:4: SSLSessionTickets: 'maybe' is not On or Off"},
      {"SessionTicketsTwice", kServer + "SSLSessionTickets = on\nSSLSessionTickets = off\n",
       "drover.conf:5: SSLSessionTickets: duplicate directive (first given on line 4)"},
      {"TicketKeyRotationTooShort", kServer + "SSLSessionTicketKeyRotation = 500ms\n",
       "drover.conf:4: SSLSessionTicketKeyRotation: '500ms' out of range 1s-604800s"},
      {"TicketKeyRotationTooLong", kServer + "SSLSessionTicketKeyRotation = 169h\n",
       "drover.conf:4: SSLSessionTicketKeyRotation: '169h' out of range 1s-604800s"},
      {"TicketKeyRotationNotDuration", kServer + "SSLSessionTicketKeyRotation = hourly\n",
       "drover.conf:4: SSLSessionTicketKeyRotation: 'hourly' is not a duration (seconds, or a "
       "number with a ms/s/m/h suffix)"},
      {"CheckPeerNameNotBool", kServer + "SSLProxyCheckPeerName = require\n",
       "drover.conf:4: SSLProxyCheckPeerName: 'require' is not On or Off"},
      {"MachineCertificateTwoWords", kServer + "SSLProxyMachineCertificateFile = a b\n",
       "drover.conf:4: SSLProxyMachineCertificateFile: expected one value, got 'a b'"},
      {"SslDirectiveInGlobal", "[global]\nSSLSessionTickets = on\n" + kServer,
       "drover.conf:2: directive 'SSLSessionTickets' belongs in [server], not in [global]"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Error(c.text), c.message) << c.name;
  }
}

TEST(ConfigSslTest, DumpRoundTrips) {
  std::string text = kServer +
                     "SSLCertificateKeyFile = /k.pem\n"
                     "SSLCertificate = www.example.com /www.pem /www.key\n"
                     "SSLCertificate = *.example.org /wild.pem\n"
                     "SSLProtocol = TLSv1.3\n"
                     "SSLCipherSuite = HIGH:!aNULL\n"
                     "SSLCipherSuite = TLSv1.3 TLS_CHACHA20_POLY1305_SHA256\n"
                     "SSLSessionTickets = Off\n"
                     "SSLSessionTicketKeyRotation = 90m\n"
                     "SSLProxyVerify = none\n"
                     "SSLProxyCACertificateFile = /ca.pem\n"
                     "SSLProxyCheckPeerName = Off\n"
                     "SSLProxyMachineCertificateFile = /client.pem\n";
  auto a = Load(text);
  ASSERT_NE(a, nullptr);
  std::string dump = Dump(*a);
  EXPECT_NE(dump.find("SSLCertificate = www.example.com /www.pem /www.key\n"), std::string::npos)
      << dump;
  EXPECT_NE(dump.find("SSLCertificate = *.example.org /wild.pem /wild.pem\n"), std::string::npos);
  EXPECT_NE(dump.find("SSLCipherSuite = TLSv1.3 TLS_CHACHA20_POLY1305_SHA256\n"),
            std::string::npos);
  EXPECT_NE(dump.find("SSLSessionTicketKeyRotation = 5400\n"), std::string::npos);
  auto b = Load(dump);
  ASSERT_NE(b, nullptr);
  const ServerConfig& x = a->server;
  const ServerConfig& y = b->server;
  ASSERT_EQ(y.ssl_certificates.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(y.ssl_certificates[i].server_name, x.ssl_certificates[i].server_name);
    EXPECT_EQ(y.ssl_certificates[i].certificate_file, x.ssl_certificates[i].certificate_file);
    EXPECT_EQ(y.ssl_certificates[i].key_file, x.ssl_certificates[i].key_file);
  }
  EXPECT_EQ(y.ssl_certificate_file, x.ssl_certificate_file);
  EXPECT_EQ(y.ssl_certificate_key_file, x.ssl_certificate_key_file);
  EXPECT_EQ(y.ssl_protocol, "TLSv1.3");
  EXPECT_EQ(y.ssl_cipher_suite, x.ssl_cipher_suite);
  EXPECT_EQ(y.ssl_cipher_suite_tls13, x.ssl_cipher_suite_tls13);
  EXPECT_EQ(y.ssl_session_tickets, false);
  EXPECT_EQ(y.ssl_session_ticket_key_rotation_ms, 5400000);
  EXPECT_EQ(y.ssl_proxy_verify, false);
  EXPECT_EQ(y.ssl_proxy_ca_certificate_file, x.ssl_proxy_ca_certificate_file);
  EXPECT_EQ(y.ssl_proxy_check_peer_name, false);
  EXPECT_EQ(y.ssl_proxy_machine_certificate_file, x.ssl_proxy_machine_certificate_file);
}

TEST(ConfigSslTest, DumpOfDefaults) {
  auto c = Load("[server]\nListen = 80\n");
  ASSERT_NE(c, nullptr);
  std::string dump = Dump(*c);
  EXPECT_NE(dump.find("# SSLCipherSuite = TLSv1.3 (OpenSSL default)\n"), std::string::npos) << dump;
  EXPECT_NE(dump.find("SSLSessionTickets = On\n"), std::string::npos);
  EXPECT_NE(dump.find("SSLSessionTicketKeyRotation = 3600\n"), std::string::npos);
  EXPECT_NE(dump.find("SSLProxyCheckPeerName = On\n"), std::string::npos);
  EXPECT_NE(dump.find("# SSLProxyMachineCertificateFile = (none)\n"), std::string::npos);
}

}  // namespace
}  // namespace drover::config
