// config::Load/LoadFromString/Dump on valid configs: the seed scenario of
// SPEC §1, defaults, every directive, member and balancer key, prefix
// resolution and the Dump round trip. Error messages are in errors_test.cc.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <string>

#include "config/config.h"
#include "config/regex.h"

namespace drover::config {
namespace {

std::shared_ptr<const Config> LoadText(const std::string& text,
                                       const std::string& file = "/etc/drover/drover.conf",
                                       const std::string& prefix = "") {
  LoadOptions o;
  o.file = file;
  o.prefix = prefix;
  auto r = LoadFromString(text, o);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r.value() : nullptr;
}

const char kSeed[] = R"([global]
User = nobody
Group = nogroup

[server]
Listen = 0.0.0.0:80
ProxyPassMatch = ^(/.*)$ balancer://mycluster$1
ProxyPassReverse = / http://192.168.1.50/
ProxyPassReverse = / http://192.168.1.51/
ProxyPassReverseCookieDomain = 192.168.1.50 localhost
ProxyPassReverseCookieDomain = 192.168.1.51 localhost

[balancer://mycluster]
BalancerMember = http://192.168.1.50:80 route=node1
BalancerMember = http://192.168.1.51:80 route=node2
ProxySet = stickysession=BALANCEID
)";

TEST(BuilderTest, SeedScenarioLoads) {
  auto c = LoadText(kSeed);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->global.user, "nobody");
  EXPECT_EQ(c->global.group, "nogroup");
  ASSERT_EQ(c->server.listens.size(), 1u);
  EXPECT_EQ(c->server.listens[0].host, "0.0.0.0");
  EXPECT_EQ(c->server.listens[0].port, 80);
  EXPECT_FALSE(c->server.listens[0].ssl);
  EXPECT_EQ(c->server.listens[0].line, 6);

  ASSERT_EQ(c->balancers.size(), 1u);
  const BalancerConfig& b = c->balancers[0];
  EXPECT_EQ(b.name, "mycluster");
  EXPECT_FALSE(b.implicit);
  EXPECT_EQ(b.line, 13);
  EXPECT_EQ(b.sticky_cookie, "BALANCEID");
  EXPECT_EQ(b.sticky_urlparam, "BALANCEID");
  EXPECT_EQ(b.sticky_sep, ".");
  EXPECT_EQ(b.lbmethod, LbMethod::kByRequests);
  EXPECT_TRUE(b.forcerecovery);
  EXPECT_EQ(b.MaxAttempts(), 1);
  ASSERT_EQ(b.members.size(), 2u);
  EXPECT_EQ(b.members[0].name, "http://192.168.1.50:80");
  EXPECT_EQ(b.members[0].url.host, "192.168.1.50");
  EXPECT_EQ(b.members[0].url.port, 80);
  EXPECT_EQ(b.members[0].url.path, "");
  EXPECT_EQ(b.members[0].route, "node1");
  EXPECT_EQ(b.members[0].lbfactor, 100);
  EXPECT_EQ(b.members[0].line, 14);
  EXPECT_EQ(b.members[1].name, "http://192.168.1.51:80");
  EXPECT_EQ(b.members[1].route, "node2");

  ASSERT_EQ(c->server.rules.size(), 1u);
  const ProxyRule& r = c->server.rules[0];
  EXPECT_TRUE(r.is_regex);
  EXPECT_EQ(r.pattern, "^(/.*)$");
  ASSERT_NE(r.regex, nullptr);
  EXPECT_FALSE(r.exclude);
  EXPECT_EQ(r.target, "balancer://mycluster$1");
  EXPECT_EQ(r.balancer, 0);
  EXPECT_EQ(r.target_path, "$1");
  EXPECT_FALSE(r.noquery);
  EXPECT_EQ(r.line, 7);

  ASSERT_EQ(c->server.reverse.size(), 2u);
  EXPECT_EQ(c->server.reverse[0].path, "/");
  EXPECT_EQ(c->server.reverse[0].url, "http://192.168.1.50/");
  EXPECT_EQ(c->server.reverse[0].balancer, -1);
  EXPECT_EQ(c->server.reverse[1].url, "http://192.168.1.51/");
  ASSERT_EQ(c->server.cookie_domain.size(), 2u);
  EXPECT_EQ(c->server.cookie_domain[0].internal, "192.168.1.50");
  EXPECT_EQ(c->server.cookie_domain[0].pub, "localhost");
  EXPECT_EQ(c->server.cookie_domain[1].line, 11);
  EXPECT_TRUE(c->server.cookie_path.empty());
  EXPECT_EQ(c->FindBalancer("mycluster"), 0);
  EXPECT_EQ(c->FindBalancer("MyCluster"), -1);
}

TEST(BuilderTest, Defaults) {
  auto c = LoadText("[server]\nListen = 8080\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->file, "/etc/drover/drover.conf");
  EXPECT_EQ(c->prefix, "/etc");
  const GlobalConfig& g = c->global;
  EXPECT_EQ(g.user, "nobody");
  EXPECT_EQ(g.group, "nogroup");
  EXPECT_EQ(g.worker_processes, 0);
  EXPECT_EQ(g.worker_connections, 10000);
  EXPECT_EQ(g.pid_file, "/etc/logs/drover.pid");
  EXPECT_EQ(g.error_log, "/etc/logs/error.log");
  EXPECT_EQ(g.log_level, core::LogLevel::kWarn);
  EXPECT_EQ(g.graceful_shutdown_timeout_ms, 30000);
  const ServerConfig& s = c->server;
  ASSERT_EQ(s.listens.size(), 1u);
  EXPECT_EQ(s.listens[0].host, "0.0.0.0");
  EXPECT_EQ(s.listens[0].port, 8080);
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  EXPECT_EQ(s.server_name, host);
  EXPECT_EQ(s.access_log, "/etc/logs/access.log");
  EXPECT_EQ(s.access_format_name, "combined");
  EXPECT_EQ(s.access_format, "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"");
  EXPECT_EQ(s.timeout_ms, 60000);
  EXPECT_EQ(s.request_header_timeout_ms, 20000);
  EXPECT_EQ(s.request_body_timeout_ms, 20000);
  EXPECT_EQ(s.request_body_min_rate, 500);
  EXPECT_EQ(s.keepalive_timeout_ms, 5000);
  EXPECT_EQ(s.max_keepalive_requests, 1000);
  EXPECT_EQ(s.limit_request_line, 8190);
  EXPECT_EQ(s.limit_request_field_size, 8190);
  EXPECT_EQ(s.limit_request_fields, 100);
  EXPECT_EQ(s.limit_request_body, 0);
  EXPECT_EQ(s.proxy_timeout_ms, 60000);
  EXPECT_FALSE(s.preserve_host);
  EXPECT_TRUE(s.add_headers);
  EXPECT_FALSE(s.via);
  EXPECT_TRUE(s.rules.empty());
  EXPECT_EQ(s.balancer_manager, "");
  EXPECT_EQ(s.metrics, "");
  EXPECT_EQ(s.status_allow, (std::vector<std::string>{"127.0.0.0/8", "::1"}));
  EXPECT_EQ(s.ssl_certificate_file, "");
  EXPECT_EQ(s.ssl_certificate_key_file, "");
  EXPECT_EQ(s.ssl_protocol, "TLSv1.2+");
  EXPECT_EQ(s.ssl_cipher_suite, "");
  EXPECT_TRUE(s.ssl_proxy_verify);
  EXPECT_EQ(s.ssl_proxy_ca_certificate_file, "");
  EXPECT_TRUE(c->balancers.empty());
}

TEST(BuilderTest, EveryGlobalDirective) {
  auto c = LoadText(
      "[GLOBAL]\n"
      "user = www-data\n"
      "GROUP = #33\n"
      "WorkerProcesses = 4\n"
      "WorkerConnections = 512\n"
      "PidFile = run/d.pid\n"
      "ErrorLog = stderr\n"
      "LogLevel = DEBUG\n"
      "GracefulShutdownTimeout = 2m\n"
      "[server]\nListen = 80\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->global.user, "www-data");
  EXPECT_EQ(c->global.group, "#33");
  EXPECT_EQ(c->global.worker_processes, 4);
  EXPECT_EQ(c->global.worker_connections, 512);
  EXPECT_EQ(c->global.pid_file, "/etc/run/d.pid");
  EXPECT_EQ(c->global.error_log, "stderr");
  EXPECT_EQ(c->global.log_level, core::LogLevel::kDebug);
  EXPECT_EQ(c->global.graceful_shutdown_timeout_ms, 120000);
}

TEST(BuilderTest, WorkerProcessesAutoIsZero) {
  auto c = LoadText("[global]\nWorkerProcesses = Auto\n[server]\nListen = 80\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->global.worker_processes, 0);
}

TEST(BuilderTest, EveryServerDirective) {
  auto c = LoadText(
      "[Server]\n"
      "Listen = 127.0.0.1:8080\n"
      "Listen = [::1]:8443 ssl\n"
      "Listen = *:81\n"
      "ServerName = proxy.example.com\n"
      "CustomLog = /var/log/d/access.log common\n"
      "Timeout = 30\n"
      "RequestHeaderTimeout = 10s\n"
      "RequestBodyTimeout = 0\n"
      "RequestBodyMinRate = 1000\n"
      "KeepAliveTimeout = 1500ms\n"
      "MaxKeepAliveRequests = 0\n"
      "LimitRequestLine = 4096\n"
      "LimitRequestFieldSize = 2048\n"
      "LimitRequestFields = 50\n"
      "LimitRequestBody = 1048576\n"
      "ProxyTimeout = 5\n"
      "ProxyPreserveHost = On\n"
      "ProxyAddHeaders = off\n"
      "ProxyVia = yes\n"
      "BalancerManager = /balancer-manager\n"
      "Metrics = /metrics\n"
      "StatusAllow = 10.0.0.0/8\n"
      "StatusAllow = 192.168.1.7 fd00::/8 ::1\n"
      "SSLCertificateFile = certs/server.pem\n"
      "SSLCertificateKeyFile = /etc/ssl/private/server.key\n"
      "SSLProtocol = tlsv1.3\n"
      "SSLCipherSuite = ECDHE+AESGCM:!aNULL\n"
      "SSLProxyVerify = none\n"
      "SSLProxyCACertificateFile = ca.pem\n"
      "ProxyPassReverseCookiePath = /app/deep /pub\n");
  ASSERT_NE(c, nullptr);
  const ServerConfig& s = c->server;
  ASSERT_EQ(s.listens.size(), 3u);
  EXPECT_EQ(s.listens[0].host, "127.0.0.1");
  EXPECT_EQ(s.listens[0].port, 8080);
  EXPECT_EQ(s.listens[1].host, "::1");
  EXPECT_EQ(s.listens[1].port, 8443);
  EXPECT_TRUE(s.listens[1].ssl);
  EXPECT_EQ(s.listens[1].text, "[::1]:8443 ssl");
  EXPECT_EQ(s.listens[2].host, "0.0.0.0");
  EXPECT_EQ(s.listens[2].port, 81);
  EXPECT_EQ(s.server_name, "proxy.example.com");
  EXPECT_EQ(s.access_log, "/var/log/d/access.log");
  EXPECT_EQ(s.access_format_name, "common");
  EXPECT_EQ(s.access_format, "%h %l %u %t \"%r\" %>s %b");
  EXPECT_EQ(s.timeout_ms, 30000);
  EXPECT_EQ(s.request_header_timeout_ms, 10000);
  EXPECT_EQ(s.request_body_timeout_ms, 0);
  EXPECT_EQ(s.request_body_min_rate, 1000);
  EXPECT_EQ(s.keepalive_timeout_ms, 1500);
  EXPECT_EQ(s.max_keepalive_requests, 0);
  EXPECT_EQ(s.limit_request_line, 4096);
  EXPECT_EQ(s.limit_request_field_size, 2048);
  EXPECT_EQ(s.limit_request_fields, 50);
  EXPECT_EQ(s.limit_request_body, 1048576);
  EXPECT_EQ(s.proxy_timeout_ms, 5000);
  EXPECT_TRUE(s.preserve_host);
  EXPECT_FALSE(s.add_headers);
  EXPECT_TRUE(s.via);
  EXPECT_EQ(s.balancer_manager, "/balancer-manager");
  EXPECT_EQ(s.metrics, "/metrics");
  EXPECT_EQ(s.status_allow,
            (std::vector<std::string>{"10.0.0.0/8", "192.168.1.7", "fd00::/8", "::1"}));
  EXPECT_EQ(s.ssl_certificate_file, "/etc/certs/server.pem");
  EXPECT_EQ(s.ssl_certificate_key_file, "/etc/ssl/private/server.key");
  EXPECT_EQ(s.ssl_protocol, "TLSv1.3");
  EXPECT_EQ(s.ssl_cipher_suite, "ECDHE+AESGCM:!aNULL");
  EXPECT_FALSE(s.ssl_proxy_verify);
  EXPECT_EQ(s.ssl_proxy_ca_certificate_file, "/etc/ca.pem");
  ASSERT_EQ(s.cookie_path.size(), 1u);
  EXPECT_EQ(s.cookie_path[0].internal, "/app/deep");
  EXPECT_EQ(s.cookie_path[0].pub, "/pub");
}

TEST(BuilderTest, TimeoutIsTheProxyTimeoutDefault) {
  auto c = LoadText("[server]\nTimeout = 7\nListen = 80\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->server.proxy_timeout_ms, 7000);
}

TEST(BuilderTest, SslKeyFileDefaultsToTheCertificate) {
  auto c = LoadText("[server]\nListen = 443 ssl\nSSLCertificateFile = /c/both.pem\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->server.ssl_certificate_key_file, "/c/both.pem");
}

TEST(BuilderTest, CustomLogForms) {
  auto c = LoadText("[server]\nListen = 80\nCustomLog = off\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->server.access_log, "");
  c = LoadText("[server]\nListen = 80\nCustomLog = logs/a.log\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->server.access_log, "/etc/logs/a.log");
  EXPECT_EQ(c->server.access_format_name, "combined");
  c = LoadText(
      "[server]\nListen = 80\nCustomLog = a.log \"%h \\\"%r\\\" %{BALANCER_WORKER_ROUTE}e\"\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->server.access_format_name, "custom");
  EXPECT_EQ(c->server.access_format, "%h \"%r\" %{BALANCER_WORKER_ROUTE}e");
  c = LoadText("[server]\nListen = 80\nCustomLog = a.log %h\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->server.access_format, "%h");
}

TEST(BuilderTest, PrefixIsTheParentOfTheConfigDirectory) {
  auto c = LoadText("[server]\nListen = 80\n", "/usr/local/etc/drover.conf");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->prefix, "/usr/local");
  EXPECT_EQ(c->global.pid_file, "/usr/local/logs/drover.pid");
  c = LoadText("[server]\nListen = 80\n", "/drover.conf");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->prefix, "/");
  EXPECT_EQ(c->global.error_log, "/logs/error.log");
}

TEST(BuilderTest, PrefixFromOptionsWins) {
  auto c =
      LoadText("[global]\nPidFile = ../run/d.pid\nErrorLog = /abs/e.log\n[server]\nListen = 80\n",
               "/etc/drover/drover.conf", "/opt/drover/");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->prefix, "/opt/drover");
  EXPECT_EQ(c->global.pid_file, "/opt/run/d.pid");
  EXPECT_EQ(c->global.error_log, "/abs/e.log");
  EXPECT_EQ(c->server.access_log, "/opt/drover/logs/access.log");
}

TEST(BuilderTest, RelativeConfigPathAndPrefixAreMadeAbsolute) {
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  std::string here(cwd);
  auto c = LoadText("[server]\nListen = 80\n", "conf/drover.conf");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->prefix, here);
  c = LoadText("[server]\nListen = 80\n", "x.conf", "p");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->prefix, here == "/" ? "/p" : here + "/p");
}

TEST(BuilderTest, EveryMemberKey) {
  auto c = LoadText(
      "[server]\nListen = 80\nProxyPass = / balancer://c/\n"
      "[balancer://c]\n"
      "BalancerMember = HTTP://Backend.Example:8080/app route=a redirect=b loadfactor=2.5\n"
      "    lbset=3 status=+HI retry=5 timeout=7 connectiontimeout=500ms disablereuse=On\n"
      "    max=20 hcmethod=head hcuri=/health hcinterval=10 hcpasses=2 hcfails=3\n"
      "BalancerMember = ajp://10.0.0.2 route=b secret=s3cr3t hcmethod=CPING status=-I+DS\n"
      "    ping=1500ms iobuffersize=20000\n"
      "BalancerMember = https://[2001:DB8::1] enablereuse=off loadfactor=100 hcmethod=TCP\n"
      "BalancerMember = http://h4:80 loadfactor=1.05 status=+R hcmethod=OPTIONS\n"
      "BalancerMember = http://h5:80 status=+N hcmethod=GET\n");
  ASSERT_NE(c, nullptr);
  const BalancerConfig& b = c->balancers[0];
  ASSERT_EQ(b.members.size(), 5u);
  const MemberConfig& a = b.members[0];
  EXPECT_EQ(a.name, "http://backend.example:8080/app");
  EXPECT_EQ(a.url.scheme, Scheme::kHttp);
  EXPECT_EQ(a.url.host, "backend.example");
  EXPECT_EQ(a.url.port, 8080);
  EXPECT_EQ(a.url.path, "/app");
  EXPECT_EQ(a.route, "a");
  EXPECT_EQ(a.redirect, "b");
  EXPECT_EQ(a.lbfactor, 250);
  EXPECT_EQ(a.lbset, 3);
  EXPECT_EQ(a.status, kFlagStandby | kFlagIgnoreErrors);
  EXPECT_EQ(a.retry_ms, 5000);
  EXPECT_EQ(a.timeout_ms, 7000);
  EXPECT_EQ(a.connect_timeout_ms, 500);
  EXPECT_TRUE(a.disablereuse);
  EXPECT_EQ(a.max, 20);
  EXPECT_EQ(a.hc.method, HealthCheck::Method::kHead);
  EXPECT_EQ(a.hc.uri, "/health");
  EXPECT_EQ(a.hc.interval_ms, 10000);
  EXPECT_EQ(a.hc.passes, 2);
  EXPECT_EQ(a.hc.fails, 3);
  EXPECT_EQ(a.line, 5);
  const MemberConfig& j = b.members[1];
  EXPECT_EQ(j.url.scheme, Scheme::kAjp);
  EXPECT_EQ(j.url.port, 8009);
  EXPECT_EQ(j.name, "ajp://10.0.0.2:8009");
  EXPECT_EQ(j.secret, "s3cr3t");
  EXPECT_EQ(j.hc.method, HealthCheck::Method::kCping);
  EXPECT_EQ(j.ping_ms, 1500);
  EXPECT_EQ(j.iobuffersize, 20000);
  EXPECT_EQ(j.status, kFlagDisabled | kFlagStopped);
  EXPECT_EQ(j.timeout_ms, -1);
  EXPECT_EQ(j.connect_timeout_ms, -1);
  EXPECT_EQ(j.retry_ms, 60000);
  EXPECT_EQ(j.line, 8);
  const MemberConfig& s6 = b.members[2];
  EXPECT_EQ(s6.url.scheme, Scheme::kHttps);
  EXPECT_EQ(s6.url.host, "2001:db8::1");
  EXPECT_EQ(s6.url.port, 443);
  EXPECT_EQ(s6.name, "https://[2001:db8::1]:443");
  EXPECT_TRUE(s6.disablereuse);
  EXPECT_EQ(s6.lbfactor, 10000);
  EXPECT_EQ(b.members[3].lbfactor, 105);
  EXPECT_EQ(b.members[3].status, kFlagSpare);
  EXPECT_EQ(b.members[3].hc.method, HealthCheck::Method::kOptions);
  EXPECT_EQ(b.members[4].status, kFlagDrain);
  EXPECT_EQ(b.members[4].hc.method, HealthCheck::Method::kGet);
}

TEST(BuilderTest, EveryBalancerKeyAndLaterKeysWin) {
  auto c = LoadText(
      "[server]\nListen = 80\n"
      "[balancer://c]\n"
      "BalancerMember = http://a:1\n"
      "BalancerMember = http://b:2\n"
      "BalancerMember = http://c:3\n"
      "ProxySet = lbmethod=bytraffic stickysession=JSESSIONID|jsessionid stickysessionsep=Off\n"
      "ProxySet = scolonpathdelim=On nofailover=On maxattempts=5 failonstatus=500,502,503\n"
      "ProxySet = failontimeout=On forcerecovery=Off timeout=3 stickysessioninsert=On\n"
      "ProxySet = growth=10 lbmethod=BYBUSYNESS\n"
      "[balancer://d]\n"
      "BalancerMember = http://a:1\n"
      "ProxySet = stickysessionsep=_ stickysession=ROUTEID\n");
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->balancers.size(), 2u);
  const BalancerConfig& b = c->balancers[0];
  EXPECT_EQ(b.lbmethod, LbMethod::kByBusyness);
  EXPECT_EQ(b.sticky_cookie, "JSESSIONID");
  EXPECT_EQ(b.sticky_urlparam, "jsessionid");
  EXPECT_EQ(b.sticky_sep, "");
  EXPECT_TRUE(b.scolonpathdelim);
  EXPECT_TRUE(b.nofailover);
  EXPECT_EQ(b.maxattempts, 5);
  EXPECT_EQ(b.MaxAttempts(), 5);
  EXPECT_EQ(b.failonstatus, (std::vector<int>{500, 502, 503}));
  EXPECT_TRUE(b.failontimeout);
  EXPECT_FALSE(b.forcerecovery);
  EXPECT_EQ(b.timeout_ms, 3000);
  EXPECT_TRUE(b.stickysessioninsert);
  EXPECT_EQ(b.growth, 10);
  EXPECT_EQ(b.line, 3);
  const BalancerConfig& d = c->balancers[1];
  EXPECT_EQ(d.sticky_sep, "_");
  EXPECT_EQ(d.sticky_cookie, "ROUTEID");
  EXPECT_EQ(d.sticky_urlparam, "ROUTEID");
  EXPECT_EQ(d.maxattempts, -1);
  EXPECT_EQ(d.MaxAttempts(), 0);
  EXPECT_EQ(c->FindBalancer("d"), 1);
}

TEST(BuilderTest, BalancerSectionsMayFollowTheirUse) {
  auto c = LoadText(
      "[server]\nListen = 80\n"
      "ProxyPass = /b balancer://second/x\n"
      "ProxyPass = /a balancer://first\n"
      "ProxyPassReverse = / balancer://second/x\n"
      "[balancer://first]\nBalancerMember = http://a:1\n"
      "[balancer://second]\nBalancerMember = http://b:1\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->server.rules[0].balancer, 1);
  EXPECT_EQ(c->server.rules[0].target_path, "/x");
  EXPECT_EQ(c->server.rules[1].balancer, 0);
  EXPECT_EQ(c->server.rules[1].target_path, "");
  EXPECT_EQ(c->server.reverse[0].balancer, 1);
  EXPECT_EQ(c->server.reverse[0].balancer_part, "/x");
}

TEST(BuilderTest, PlainTargetsMakeImplicitBalancersAfterTheDeclaredOnes) {
  auto c = LoadText(
      "[server]\nListen = 80\n"
      "ProxyPass = /excluded !\n"
      "ProxyPass = /a http://127.0.0.1:8080/x route=r1 loadfactor=3 noquery\n"
      "ProxyPass = /b http://127.0.0.1:8080\n"
      "ProxyPass = /c https://Other.Example/\n"
      "ProxyPassMatch = ^/d/(.*)$ http://127.0.0.1:8080/d/$1\n"
      "ProxyPass = /e balancer://declared noquery=Off\n"
      "[balancer://declared]\nBalancerMember = http://z:1\n");
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->balancers.size(), 3u);
  EXPECT_EQ(c->balancers[0].name, "declared");
  const BalancerConfig& i1 = c->balancers[1];
  EXPECT_EQ(i1.name, "http://127.0.0.1:8080");
  EXPECT_TRUE(i1.implicit);
  EXPECT_EQ(i1.line, 4);
  ASSERT_EQ(i1.members.size(), 1u);
  EXPECT_EQ(i1.members[0].name, "http://127.0.0.1:8080");
  EXPECT_EQ(i1.members[0].url.path, "");
  EXPECT_EQ(i1.members[0].route, "r1");
  EXPECT_EQ(i1.members[0].lbfactor, 300);
  const BalancerConfig& i2 = c->balancers[2];
  EXPECT_EQ(i2.name, "https://other.example:443");
  EXPECT_TRUE(i2.implicit);
  EXPECT_EQ(c->FindBalancer("https://other.example:443"), 2);

  const auto& rules = c->server.rules;
  ASSERT_EQ(rules.size(), 6u);
  EXPECT_TRUE(rules[0].exclude);
  EXPECT_EQ(rules[0].balancer, -1);
  EXPECT_EQ(rules[1].balancer, 1);
  EXPECT_EQ(rules[1].target_path, "/x");
  EXPECT_TRUE(rules[1].noquery);
  EXPECT_EQ(rules[2].balancer, 1);
  EXPECT_EQ(rules[2].target_path, "");
  EXPECT_FALSE(rules[2].noquery);
  EXPECT_EQ(rules[3].balancer, 2);
  EXPECT_EQ(rules[3].target_path, "/");
  EXPECT_EQ(rules[4].balancer, 1);
  EXPECT_EQ(rules[4].target_path, "/d/$1");
  EXPECT_EQ(rules[5].balancer, 0);
  EXPECT_FALSE(rules[5].noquery);
}

TEST(BuilderTest, DirectiveNamesAreCaseInsensitiveBalancerNamesAreNot) {
  auto c = LoadText(
      "[SERVER]\nlisten = 80\nPROXYPASS = / balancer://Web\n"
      "[Balancer://Web]\nbalancermember = http://a:1\nproxyset = STICKYSESSION=x\n"
      "[balancer://web]\nBalancerMember = http://b:1\n");
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->balancers.size(), 2u);
  EXPECT_EQ(c->balancers[0].name, "Web");
  EXPECT_EQ(c->balancers[0].sticky_cookie, "x");
  EXPECT_EQ(c->server.rules[0].balancer, 0);
}

TEST(BuilderTest, QuotedWordsMayHoldSpaces) {
  auto c = LoadText("[server]\nListen = 80\nProxyPassMatch = \"^/a b/(.*)\" http://h:1/$1\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->server.rules[0].pattern, "^/a b/(.*)");
}

TEST(BuilderTest, ContinuationLinesWrapLongDirectives) {
  auto c = LoadText(
      "[server]\nListen = 80\n"
      "StatusAllow = 10.0.0.1\n"
      "   10.0.0.2 ; second\n"
      "   10.0.0.3\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->server.status_allow, (std::vector<std::string>{"10.0.0.1", "10.0.0.2", "10.0.0.3"}));
}

TEST(BuilderTest, LoadReadsAFile) {
  char dir[] = "/tmp/drover-cfg-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string conf_dir = std::string(dir) + "/etc";
  ASSERT_EQ(mkdir(conf_dir.c_str(), 0755), 0);
  std::string path = conf_dir + "/drover.conf";
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs(kSeed, f);
  fclose(f);
  LoadOptions o;
  o.file = path;
  auto c = Load(o);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ((*c)->prefix, dir);
  EXPECT_EQ((*c)->global.pid_file, std::string(dir) + "/logs/drover.pid");
  EXPECT_EQ((*c)->balancers.size(), 1u);
  unlink(path.c_str());
  rmdir(conf_dir.c_str());
  rmdir(dir);
}

// --- Dump -----------------------------------------------------------------

std::string Redump(const std::string& text) {
  auto first = LoadText(text);
  if (first == nullptr) {
    return "";
  }
  std::string dump = Dump(*first);
  auto second = LoadText(dump);
  EXPECT_NE(second, nullptr) << dump;
  if (second == nullptr) {
    return "";
  }
  std::string again = Dump(*second);
  EXPECT_EQ(dump, again);
  std::istringstream lines(dump);
  std::string line;
  while (std::getline(lines, line)) {
    EXPECT_LE(line.size(), 199u) << line;
  }
  return dump;
}

// slowstart= is drover's own member key: a duration, 0 (the default) = off.
TEST(DumpTest, SlowStartKeyParsesAndRoundTrips) {
  const std::string text =
      "[server]\nListen = 80\nProxyPass = / balancer://c/\n"
      "[balancer://c]\n"
      "BalancerMember = http://a:1 slowstart=30\n"
      "BalancerMember = http://b:2 slowstart=1500ms hcmethod=GET\n"
      "BalancerMember = http://c:3\n"
      "BalancerMember = http://d:4 slowstart=0\n";
  auto c = LoadText(text);
  ASSERT_NE(c, nullptr);
  const BalancerConfig& b = c->balancers[0];
  ASSERT_EQ(b.members.size(), 4u);
  EXPECT_EQ(b.members[0].slowstart_ms, 30000);
  EXPECT_EQ(b.members[1].slowstart_ms, 1500);
  EXPECT_EQ(b.members[2].slowstart_ms, 0);
  EXPECT_EQ(b.members[3].slowstart_ms, 0);
  std::string dump = Redump(text);
  EXPECT_NE(dump.find("slowstart=30"), std::string::npos) << dump;
  EXPECT_NE(dump.find("slowstart=1500ms"), std::string::npos) << dump;
  auto again = LoadText(dump);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->balancers[0].members[0].slowstart_ms, 30000);
  EXPECT_EQ(again->balancers[0].members[1].slowstart_ms, 1500);
  EXPECT_EQ(again->balancers[0].members[2].slowstart_ms, 0);
}

TEST(DumpTest, SeedRoundTrip) {
  std::string dump = Redump(kSeed);
  EXPECT_NE(dump.find("[balancer://mycluster]\n"), std::string::npos) << dump;
  EXPECT_NE(dump.find("ProxyPassMatch = ^(/.*)$ balancer://mycluster$1\n"), std::string::npos);
  EXPECT_NE(dump.find("WorkerProcesses = auto\n"), std::string::npos);
  EXPECT_NE(dump.find("CustomLog = /etc/logs/access.log combined\n"), std::string::npos);
  EXPECT_NE(dump.find("StatusAllow = 127.0.0.0/8 ::1\n"), std::string::npos);
  EXPECT_NE(dump.find("ProxyTimeout = 60\n"), std::string::npos);
  EXPECT_NE(dump.find("BalancerMember = http://192.168.1.50:80 route=node1 loadfactor=1 lbset=0"),
            std::string::npos)
      << dump;
  EXPECT_NE(dump.find("stickysession=BALANCEID"), std::string::npos);
  EXPECT_NE(dump.find("# SSLCertificateFile = (none)\n"), std::string::npos);
}

TEST(DumpTest, EverythingRoundTrips) {
  std::string text =
      "[global]\nUser = #1000\nGroup = \"#1000\"\nWorkerProcesses = 3\nWorkerConnections = 77\n"
      "PidFile = /run/d.pid\nErrorLog = stderr\nLogLevel = info\nGracefulShutdownTimeout = 0\n"
      "[server]\n"
      "Listen = [::]:8443 ssl\nListen = 127.0.0.1:8080\n"
      "ServerName = front\n"
      "CustomLog = \"/var/log/with space.log\" \"%h \\\"%r\\\" \\\\ %{BALANCER_WORKER_ROUTE}e\"\n"
      "Timeout = 1500ms\nRequestHeaderTimeout = 3\nKeepAliveTimeout = 2\n"
      "MaxKeepAliveRequests = 9\nLimitRequestLine = 1000\nLimitRequestFieldSize = 999\n"
      "LimitRequestFields = 7\nLimitRequestBody = 12345\nProxyTimeout = 4\n"
      "ProxyPreserveHost = On\nProxyAddHeaders = Off\nProxyVia = On\n"
      "ProxyPass = /x !\n"
      "ProxyPass = /app/ http://127.0.0.1:9000/ route=r loadfactor=2.25 status=+I retry=0\n"
      "    timeout=3 connectiontimeout=250ms disablereuse=On max=3 hcmethod=GET hcuri=/h\n"
      "    hcinterval=5 hcpasses=2 hcfails=4\n"
      "ProxyPass = /app2 http://127.0.0.1:9000/two noquery\n"
      "ProxyPassMatch = \\.gif$ balancer://c noquery\n"
      "ProxyPassMatch = \"^/sp ace/(.*)\" balancer://c/$1\n"
      "ProxyPassMatch = ^/q/(.*)$ !\n"
      "ProxyPassReverse = / balancer://c/\n"
      "ProxyPassReverse = /p/ http://[::1]:81/\n"
      "ProxyPassReverse = / /internal/\n"
      "ProxyPassReverseCookieDomain = internal.example public.example\n"
      "ProxyPassReverseCookiePath = /app /\n"
      "BalancerManager = /bm\nMetrics = /metrics\nStatusAllow = 10.1.0.0/16 fe80::/10\n"
      "SSLCertificateFile = /c.pem\nSSLCertificateKeyFile = /k.pem\nSSLProtocol = TLSv1.3+\n"
      "SSLCipherSuite = HIGH:!aNULL\nSSLProxyVerify = none\nSSLProxyCACertificateFile = /ca\n"
      "[balancer://c]\n"
      "BalancerMember = http://a.example:8081/base route=a redirect=b loadfactor=7.5 lbset=1\n"
      "    status=+HDS hcmethod=TCP\n"
      "BalancerMember = ajp://b.example route=b \"secret=a b\" hcmethod=CPING ping=250ms\n"
      "    iobuffersize=65536\n"
      "ProxySet = lbmethod=bytraffic stickysession=C|u stickysessionsep=; scolonpathdelim=On\n"
      "ProxySet = nofailover=On maxattempts=0 failonstatus=500,503 failontimeout=On\n"
      "ProxySet = forcerecovery=Off timeout=500ms stickysessioninsert=On growth=3\n"
      "[balancer://d]\nBalancerMember = http://d:1 hcinterval=3\n"
      "ProxySet = stickysessionsep=Off\n";
  std::string dump = Redump(text);
  auto a = LoadText(text);
  auto b = LoadText(dump);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->server.access_format, "%h \"%r\" \\ %{BALANCER_WORKER_ROUTE}e");
  EXPECT_EQ(b->server.access_log, "/var/log/with space.log");
  EXPECT_EQ(b->server.timeout_ms, 1500);
  EXPECT_EQ(b->global.graceful_shutdown_timeout_ms, 0);
  ASSERT_EQ(b->server.rules.size(), a->server.rules.size());
  for (size_t i = 0; i < a->server.rules.size(); ++i) {
    EXPECT_EQ(b->server.rules[i].pattern, a->server.rules[i].pattern);
    EXPECT_EQ(b->server.rules[i].target, a->server.rules[i].target);
    EXPECT_EQ(b->server.rules[i].balancer, a->server.rules[i].balancer);
    EXPECT_EQ(b->server.rules[i].target_path, a->server.rules[i].target_path);
    EXPECT_EQ(b->server.rules[i].noquery, a->server.rules[i].noquery);
    EXPECT_EQ(b->server.rules[i].exclude, a->server.rules[i].exclude);
  }
  ASSERT_EQ(b->balancers.size(), a->balancers.size());
  for (size_t i = 0; i < a->balancers.size(); ++i) {
    const BalancerConfig& x = a->balancers[i];
    const BalancerConfig& y = b->balancers[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.implicit, y.implicit);
    EXPECT_EQ(x.lbmethod, y.lbmethod);
    EXPECT_EQ(x.sticky_cookie, y.sticky_cookie);
    EXPECT_EQ(x.sticky_urlparam, y.sticky_urlparam);
    EXPECT_EQ(x.sticky_sep, y.sticky_sep);
    EXPECT_EQ(x.scolonpathdelim, y.scolonpathdelim);
    EXPECT_EQ(x.nofailover, y.nofailover);
    EXPECT_EQ(x.MaxAttempts(), y.MaxAttempts());
    EXPECT_EQ(x.failonstatus, y.failonstatus);
    EXPECT_EQ(x.failontimeout, y.failontimeout);
    EXPECT_EQ(x.forcerecovery, y.forcerecovery);
    EXPECT_EQ(x.timeout_ms, y.timeout_ms);
    EXPECT_EQ(x.stickysessioninsert, y.stickysessioninsert);
    EXPECT_EQ(x.growth, y.growth);
    ASSERT_EQ(x.members.size(), y.members.size());
    for (size_t m = 0; m < x.members.size(); ++m) {
      const MemberConfig& p = x.members[m];
      const MemberConfig& q = y.members[m];
      EXPECT_EQ(p.name, q.name);
      EXPECT_EQ(p.route, q.route);
      EXPECT_EQ(p.redirect, q.redirect);
      EXPECT_EQ(p.lbfactor, q.lbfactor);
      EXPECT_EQ(p.lbset, q.lbset);
      EXPECT_EQ(p.status, q.status);
      EXPECT_EQ(p.retry_ms, q.retry_ms);
      EXPECT_EQ(p.disablereuse, q.disablereuse);
      EXPECT_EQ(p.max, q.max);
      EXPECT_EQ(p.secret, q.secret);
      EXPECT_EQ(p.ping_ms, q.ping_ms);
      EXPECT_EQ(p.iobuffersize, q.iobuffersize);
      EXPECT_EQ(p.hc.method, q.hc.method);
      EXPECT_EQ(p.hc.uri, q.hc.uri);
      EXPECT_EQ(p.hc.interval_ms, q.hc.interval_ms);
      EXPECT_EQ(p.hc.passes, q.hc.passes);
      EXPECT_EQ(p.hc.fails, q.hc.fails);
    }
  }
  EXPECT_EQ(b->server.status_allow, a->server.status_allow);
  EXPECT_EQ(b->server.reverse.size(), 3u);
  EXPECT_EQ(b->server.reverse[0].balancer, 0);
  EXPECT_EQ(b->server.reverse[0].balancer_part, "/");
}

TEST(DumpTest, CustomLogOffAndEmptyStatusAllowRoundTrip) {
  std::string dump = Redump("[server]\nListen = 80\nCustomLog = off\n");
  EXPECT_NE(dump.find("CustomLog = off\n"), std::string::npos);
}

// A custom format that fits its input line but not the dumped one once the
// path is made absolute goes onto a continuation line of its own. Found by
// t/fuzz/fuzz_config.cc: Dump wrote one line of over 199 characters, which
// does not load.
TEST(DumpTest, LongCustomLogFormatMovesToAContinuationLine) {
  const std::string format =
      "%h %l %u %t \\\"%r\\\" %>s %b \\\"%{Referer}i\\\" \\\"%{User-Agent}i\\\" %D "
      "%{BALANCER_WORKER_ROUTE}e %{BALANCER_SESSION_ROUTE}e %{BALANCER_ROUTE_CHANGED}e";
  const std::string text = "[server]\nListen = 80\nCustomLog = logs/a/much/deeper/dir/access.log \"" +
                           format + "\"\n";
  ASSERT_LE(text.size() - text.find("CustomLog"), 200u);
  auto c = LoadText(text, "/etc/drover/drover.conf", "/var/lib/drover-with-a-long-prefix");
  ASSERT_NE(c, nullptr);
  const std::string dump = Dump(*c);
  EXPECT_NE(dump.find("CustomLog = /var/lib/drover-with-a-long-prefix/logs/a/much/deeper/dir/"
                      "access.log\n    \"%h %l"),
            std::string::npos)
      << dump;
  auto again = LoadText(dump, "/etc/drover/drover.conf", "/var/lib/drover-with-a-long-prefix");
  ASSERT_NE(again, nullptr) << dump;
  EXPECT_EQ(again->server.access_format, c->server.access_format);
  EXPECT_EQ(Dump(*again), dump);
  std::istringstream lines(dump);
  std::string line;
  while (std::getline(lines, line)) {
    EXPECT_LE(line.size(), 199u) << line;
  }
}

// A quoted word longer than any line (a format written over continuation
// lines, which the reader joins with one space) is cut at single spaces onto
// further continuation lines and reads back as the same word.
TEST(DumpTest, QuotedWordLongerThanALineIsCutAtSpaces) {
  std::string text = "[server]\nListen = 80\nCustomLog = logs/access.log \"%h";
  for (int i = 0; i < 12; ++i) {
    text += "\n    %{X-Header-Number-" + std::to_string(i) + "}i %{Y-Header-" + std::to_string(i) +
            "}o %D";
  }
  text += " #y #z\"\n";  // a continuation line must not start with '#' (a comment)
  auto c = LoadText(text);
  ASSERT_NE(c, nullptr);
  ASSERT_GT(c->server.access_format.size(), 300u);
  EXPECT_EQ(Redump(text).empty(), false);
  auto again = LoadText(Dump(*c));
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->server.access_format, c->server.access_format);
}

// A quoted word whose run without spaces is longer than what is left of a line:
// the run gets a continuation line of its own and the words after it wrap as
// usual. Found by t/fuzz/fuzz_config.cc: Dump found no space early enough,
// wrote the rest of the word on one line of over 199 characters, and the dump
// did not load.
TEST(DumpTest, LongRunInAQuotedWordGetsALineOfItsOwn) {
  const std::string run = "55z" + std::string(150, ',') + "E";  // 154, more than fits after "    "
  std::string text = "[server]\nListen = 80\nCustomLog = logs/access.log \"%h %l " + run + " %t";
  text +=
      "\n  %r %>s %b %D %{X-Header-One}i %{X-Header-Two}i %{X-Header-Three}i %{BALANCER_"
      "WORKER_ROUTE}e\"\n";
  auto c = LoadText(text);
  ASSERT_NE(c, nullptr);
  const std::string dump = Dump(*c);
  EXPECT_NE(dump.find("\n    " + run + "\n"), std::string::npos) << dump;
  std::istringstream lines(dump);
  std::string line;
  while (std::getline(lines, line)) {
    EXPECT_LE(line.size(), 199u) << line;
  }
  auto again = LoadText(dump);
  ASSERT_NE(again, nullptr) << dump;
  EXPECT_EQ(again->server.access_format, c->server.access_format);
  EXPECT_EQ(Dump(*again), dump);
}

// --- Helpers of config.h --------------------------------------------------

TEST(ConfigHelpersTest, ApplyStatusString) {
  uint32_t f = 0;
  EXPECT_TRUE(ApplyStatusString("+H", &f));
  EXPECT_EQ(f, kFlagStandby);
  EXPECT_TRUE(ApplyStatusString("+DS", &f));
  EXPECT_EQ(f, kFlagStandby | kFlagDisabled | kFlagStopped);
  EXPECT_TRUE(ApplyStatusString("-H", &f));
  EXPECT_EQ(f, kFlagDisabled | kFlagStopped);
  EXPECT_TRUE(ApplyStatusString("S-D", &f));  // default mode is set
  EXPECT_EQ(f, kFlagStopped);
  EXPECT_TRUE(ApplyStatusString("+i+n+r+e+c", &f));
  EXPECT_EQ(
      f, kFlagStopped | kFlagIgnoreErrors | kFlagDrain | kFlagSpare | kFlagError | kFlagHcFailed);
  uint32_t before = f;
  EXPECT_FALSE(ApplyStatusString("+X", &f));
  EXPECT_FALSE(ApplyStatusString("+", &f));
  EXPECT_FALSE(ApplyStatusString("", &f));
  EXPECT_FALSE(ApplyStatusString("+H?", &f));
  EXPECT_EQ(f, before);  // unchanged on failure
}

TEST(ConfigHelpersTest, StatusLettersInOrder) {
  EXPECT_EQ(StatusLetters(0), "");
  EXPECT_EQ(StatusLetters(kFlagError | kFlagDisabled), "DE");
  EXPECT_EQ(StatusLetters(0xff), "INDHRSEC");
}

TEST(ConfigHelpersTest, Names) {
  EXPECT_STREQ(SchemeName(Scheme::kHttp), "http");
  EXPECT_STREQ(SchemeName(Scheme::kHttps), "https");
  EXPECT_STREQ(SchemeName(Scheme::kAjp), "ajp");
  EXPECT_STREQ(LbMethodName(LbMethod::kByRequests), "byrequests");
  EXPECT_STREQ(LbMethodName(LbMethod::kByBusyness), "bybusyness");
  EXPECT_STREQ(LbMethodName(LbMethod::kByTraffic), "bytraffic");
}

TEST(ConfigHelpersTest, ParseUrlAndOrigin) {
  auto u = ParseUrl("http://127.0.0.1:8080/x/y");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->scheme, Scheme::kHttp);
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->path, "/x/y");
  EXPECT_EQ(u->Origin(), "http://127.0.0.1:8080");
  u = ParseUrl("https://Example.COM");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->path, "");
  EXPECT_EQ(u->Origin(), "https://example.com:443");
  u = ParseUrl("AJP://[::1]/");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->scheme, Scheme::kAjp);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 8009);
  EXPECT_EQ(u->path, "/");
  EXPECT_EQ(u->Origin(), "ajp://[::1]:8009");
  u = ParseUrl("http://h/a/$1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->path, "/a/$1");
}

TEST(ConfigHelpersTest, ParseUrlErrors) {
  auto msg = [](const std::string& s) {
    auto u = ParseUrl(s);
    return u.ok() ? std::string("ok") : u.status().message();
  };
  EXPECT_EQ(msg("127.0.0.1:80"),
            "url '127.0.0.1:80': not an absolute URL (http://, https:// or ajp://)");
  EXPECT_EQ(msg("ftp://h"),
            "url 'ftp://h': unsupported scheme 'ftp' (http://, https:// or ajp://)");
  EXPECT_EQ(msg("http://u@h"), "url 'http://u@h': user info is not supported");
  EXPECT_EQ(msg("http://h/x?q"), "url 'http://h/x?q': a query or fragment is not allowed");
  EXPECT_EQ(msg("http://h#f"), "url 'http://h#f': a query or fragment is not allowed");
  EXPECT_EQ(msg("http://[::1/"), "url 'http://[::1/': missing ']'");
  EXPECT_EQ(msg("http://[zz]/"), "url 'http://[zz]/': invalid IPv6 address 'zz'");
  EXPECT_EQ(msg("http://[::1]x/"), "url 'http://[::1]x/': unexpected text after ']'");
  EXPECT_EQ(msg("http://:80/"), "url 'http://:80/': missing host");
  EXPECT_EQ(msg("http://a$b/"), "url 'http://a$b/': invalid host 'a$b'");
  EXPECT_EQ(msg("http://h:0/"), "url 'http://h:0/': port '0' out of range 1-65535");
  EXPECT_EQ(msg("http://h:/"), "url 'http://h:/': port '' out of range 1-65535");
  EXPECT_EQ(msg("http://h:99999"), "url 'http://h:99999': port '99999' out of range 1-65535");
}

}  // namespace
}  // namespace drover::config

// mod_proxy_ajp's packet size rule for iobuffersize=.
TEST(BuilderTest, AjpPacketSize) {
  EXPECT_EQ(drover::config::AjpPacketSize(0), 8192);
  EXPECT_EQ(drover::config::AjpPacketSize(512), 8192);
  EXPECT_EQ(drover::config::AjpPacketSize(8192), 8192);
  EXPECT_EQ(drover::config::AjpPacketSize(8193), 9216);
  EXPECT_EQ(drover::config::AjpPacketSize(20000), 20480);
  EXPECT_EQ(drover::config::AjpPacketSize(65536), 65536);
  EXPECT_EQ(drover::config::AjpPacketSize(100000), 65536);
}
