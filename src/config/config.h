// The immutable, validated configuration (SPEC §4). Built by config/builder.cc
// from an INI file; read by the master (listeners, logs, identity, shm layout)
// and by workers (everything else). After Build() returns it is never mutated;
// a reload builds a new one. No libevent, no OpenSSL here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/log.h"
#include "core/status.h"

namespace drover::config {

// Member status flags (Apache's letters). Stored in shm as a bit set.
enum MemberFlag : uint32_t {
  kFlagIgnoreErrors = 1u << 0,  // I
  kFlagDrain = 1u << 1,         // N
  kFlagDisabled = 1u << 2,      // D
  kFlagStandby = 1u << 3,       // H (hot standby)
  kFlagSpare = 1u << 4,         // R (hot spare)
  kFlagStopped = 1u << 5,       // S
  kFlagError = 1u << 6,         // E
  kFlagHcFailed = 1u << 7,      // C (health check failed)
};

// "+H", "-X", "+DS" ... applied to `*flags`. Returns false on an unknown letter.
bool ApplyStatusString(const std::string& spec, uint32_t* flags);
// Letters of `flags` in the order IN DHRSEC, e.g. "DE"; "" when none.
std::string StatusLetters(uint32_t flags);

enum class Scheme { kHttp, kHttps, kAjp };
const char* SchemeName(Scheme s);

// A parsed absolute backend URL: scheme://host[:port][/path].
struct Url {
  Scheme scheme = Scheme::kHttp;
  std::string host;      // without brackets for IPv6
  uint16_t port = 80;    // default from the scheme
  std::string path;      // "" or starting with '/', no trailing normalisation
  // "http://host:port" (IPv6 bracketed), always with the port: the member's identity.
  std::string Origin() const;
};
// Accepts http://, https://, ajp:// with an explicit or default port.
core::Result<Url> ParseUrl(const std::string& text);

struct HealthCheck {
  // kCping: AJP CPING/CPONG (ajp:// members only).
  enum class Method { kNone, kTcp, kOptions, kHead, kGet, kCping };
  Method method = Method::kNone;
  std::string uri;           // appended to the member URL's path
  int64_t interval_ms = 30000;
  int passes = 1;
  int fails = 1;
};

// The AJP packet size for a member's iobuffersize= (mod_proxy_ajp's rule): 0 gives
// 8192; other values are rounded up to a multiple of 1024 and clamped to
// 8192..65536. Tomcat's packetSize must be the same.
int AjpPacketSize(int iobuffersize);

struct MemberConfig {
  std::string name;          // the URL as written, normalised: scheme://host:port[/path]
  Url url;
  std::string route;         // "" = none
  std::string redirect;      // "" = none
  int lbfactor = 100;        // loadfactor x 100 (100..10000)
  int lbset = 0;             // 0..99
  uint32_t status = 0;       // initial MemberFlag bits
  int64_t retry_ms = 60000;
  int64_t timeout_ms = -1;   // -1: the server's ProxyTimeout
  int64_t connect_timeout_ms = -1;  // -1: timeout_ms
  bool disablereuse = false;
  int max = 0;               // max connections per worker process, 0 = unlimited
  std::string secret;        // AJP: sent in every FORWARD_REQUEST (Tomcat's secret=)
  int64_t ping_ms = 0;       // ping= (AJP): CPING before each request, CPONG within this; 0 = off
  int iobuffersize = 0;      // iobuffersize= (Apache's name); AJP packet size, see AjpPacketSize()
  HealthCheck hc;
  // slowstart= (drover's own key): for this long after the member becomes usable again
  // (MemberSlot::recovered_ms) its effective lbfactor ramps linearly from a tenth to the
  // full value (balancer::SlowStartFactor). 0 = off.
  int64_t slowstart_ms = 0;
  int line = 0;
};

enum class LbMethod { kByRequests, kByBusyness, kByTraffic };
const char* LbMethodName(LbMethod m);

struct BalancerConfig {
  std::string name;               // "mycluster" (without balancer://)
  bool implicit = false;          // made for a plain http:// ProxyPass target (one member)
  std::vector<MemberConfig> members;
  LbMethod lbmethod = LbMethod::kByRequests;
  std::string sticky_cookie;      // "" = no stickiness by cookie
  std::string sticky_urlparam;    // "" = no stickiness by URL
  std::string sticky_sep = ".";   // "" when stickysessionsep=Off (whole value is the route)
  bool scolonpathdelim = false;
  bool nofailover = false;
  int maxattempts = -1;           // -1: members - 1
  std::vector<int> failonstatus;
  bool failontimeout = false;
  bool forcerecovery = true;
  int64_t timeout_ms = 0;         // wait for a usable member
  bool stickysessioninsert = false;
  int growth = 0;                 // spare member slots for runtime additions
  int line = 0;
  int MaxAttempts() const {
    return maxattempts >= 0 ? maxattempts : static_cast<int>(members.size()) - 1;
  }
};

// Opaque compiled PCRE2 pattern (config/regex.h has the API).
class Regex;

struct ProxyRule {
  bool is_regex = false;          // ProxyPassMatch
  std::string pattern;            // path prefix or regex source
  std::shared_ptr<const Regex> regex;
  bool exclude = false;           // target "!"
  std::string target;             // as written, e.g. "balancer://mycluster$1" or "http://h:8080/x"
  int balancer = -1;              // index into Config::balancers (implicit ones included)
  std::string target_path;        // the path part of target after balancer://NAME or origin
  bool noquery = false;
  int line = 0;
};

struct ReverseRule {
  std::string path;               // the local (fake) path, e.g. "/"
  std::string url;                // the remote (real) URL, e.g. "http://192.168.1.50/"
  int balancer = -1;              // >= 0 when url is balancer://NAME[/part]
  std::string balancer_part;      // "/part" after balancer://NAME, or ""
  int line = 0;
};

struct CookieRule {
  std::string internal;
  std::string pub;
  int line = 0;
};

struct ListenConfig {
  std::string host;               // "0.0.0.0", "::1", ...
  uint16_t port = 0;
  bool ssl = false;
  std::string text;               // as written, for messages
  int line = 0;
};

// One SSLCertificate line: the certificate chosen by SNI for `server_name`.
struct SslCertificateConfig {
  std::string server_name;        // lower-case; "www.example.com" or "*.example.com"
  std::string certificate_file;  // absolute; PEM, leaf first, then its chain
  std::string key_file;          // absolute; = certificate_file when not given
  int line = 0;
};

struct GlobalConfig {
  std::string user = "nobody";
  std::string group = "nogroup";
  int worker_processes = 0;       // 0 = auto (online CPUs)
  int worker_connections = 10000;
  std::string pid_file;           // absolute (prefix applied)
  std::string error_log;          // absolute path or "stderr"
  core::LogLevel log_level = core::LogLevel::kWarn;
  int64_t graceful_shutdown_timeout_ms = 30000;
};

struct ServerConfig {
  std::vector<ListenConfig> listens;
  // AcceptFilter, per protocol of the Listen (http: plain, https: ssl): true is
  // "data", TCP_DEFER_ACCEPT on the listening sockets (Apache's default on Linux), so
  // that a connection is handed to a worker with its first bytes; false is "none".
  bool accept_filter_http = true;
  bool accept_filter_https = true;
  std::string server_name;        // default: gethostname()
  std::string access_log;         // absolute path, or "" when off
  std::string access_format;      // Apache % format string (common/combined expanded)
  std::string access_format_name; // "common", "combined" or "custom"
  int64_t timeout_ms = 60000;
  int64_t request_header_timeout_ms = 20000;
  // mod_reqtimeout's body=20,MinRate=500: a request body must start within
  // request_body_timeout_ms, and every request_body_min_rate bytes received
  // extend the deadline by one second (0 ms = no body deadline, only Timeout).
  int64_t request_body_timeout_ms = 20000;
  int64_t request_body_min_rate = 500;
  int64_t keepalive_timeout_ms = 5000;
  int max_keepalive_requests = 1000;
  int64_t limit_request_line = 8190;
  int64_t limit_request_field_size = 8190;
  int limit_request_fields = 100;
  int64_t limit_request_body = 0;
  int64_t proxy_timeout_ms = -1;  // -1: = timeout_ms (resolved by the builder)
  bool preserve_host = false;
  bool add_headers = true;
  bool via = false;
  std::vector<ProxyRule> rules;
  std::vector<ReverseRule> reverse;
  std::vector<CookieRule> cookie_domain;
  std::vector<CookieRule> cookie_path;
  std::string balancer_manager;   // path or ""
  std::string metrics;            // path or ""
  std::vector<std::string> status_allow = {"127.0.0.0/8", "::1"};
  // TLS (issue 7). The builder checks syntax only; tls::CheckConfig() opens and checks the
  // files and cipher lists (config/ includes no OpenSSL) and names the lines below.
  std::string ssl_certificate_file;
  std::string ssl_certificate_key_file;
  std::vector<SslCertificateConfig> ssl_certificates;  // SSLCertificate (SNI), in file order
  std::string ssl_protocol = "TLSv1.2+";
  std::string ssl_cipher_suite;        // TLS <= 1.2 cipher list; "" = OpenSSL default
  std::string ssl_cipher_suite_tls13;  // `SSLCipherSuite = TLSv1.3 ...`; "" = OpenSSL default
  bool ssl_session_tickets = true;
  int64_t ssl_session_ticket_key_rotation_ms = 3600000;
  bool ssl_proxy_verify = true;
  std::string ssl_proxy_ca_certificate_file;
  bool ssl_proxy_check_peer_name = true;
  std::string ssl_proxy_machine_certificate_file;  // PEM: certificate (+ chain) and key
  // Lines of the SSL directives (0 = not given), for "FILE:LINE:" messages from tls/.
  struct SslLines {
    int certificate_file = 0;
    int certificate_key_file = 0;
    int cipher_suite = 0;
    int cipher_suite_tls13 = 0;
    int proxy_ca_certificate_file = 0;
    int proxy_machine_certificate_file = 0;
  } ssl_lines;
};

struct Config {
  std::string file;               // the config file path as given
  std::string prefix;             // the prefix used for relative paths
  GlobalConfig global;
  ServerConfig server;
  std::vector<BalancerConfig> balancers;  // declared ones first, then implicit ones
  int FindBalancer(const std::string& name) const;
};

struct LoadOptions {
  std::string file;
  std::string prefix;             // "" = parent of the config file's directory
};

// Reads and validates. Errors: "FILE:LINE: message" (or "FILE: message").
core::Result<std::shared_ptr<const Config>> Load(const LoadOptions& options);
// Same, from text in memory (unit tests); `file` is used in messages only.
core::Result<std::shared_ptr<const Config>> LoadFromString(const std::string& text,
                                                           const LoadOptions& options);
// The effective config, every directive with its default filled in (-T).
std::string Dump(const Config& config);

}  // namespace drover::config
