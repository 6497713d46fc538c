// Builds and validates config::Config from the entries of config/reader.h
// (SPEC §4), and writes it back as INI (Dump, for -T). Runs in the master at
// startup and on every reload, and in `drover -t/-T`. Pure: it opens the
// config file and nothing else (certificates and logs are opened by their
// owners), includes no libevent or OpenSSL, and never logs: every problem is
// returned as one "FILE:LINE: message" Status.
//
// Decisions (beyond SPEC §4; where SPEC is silent we follow Apache, else a
// careful operator's expectation):
//  - Sections: [global] and [server] match case-insensitively and may each
//    appear once; [balancer://NAME]: "balancer://" is case-insensitive, NAME
//    is case-sensitive (Apache) and made of letters, digits, '.', '_', '-'.
//  - Values are split into words like Apache's ap_getword_conf: spaces
//    separate words; a word that starts with '"' runs to the next unescaped
//    '"' and may hold spaces ("\"" is '"', "\\" is '\'; other backslashes are
//    literal, and unquoted words are taken verbatim). Dump quotes the same way.
//  - Every single-valued directive may appear once (an error names the second
//    line). Repeatable: Listen, ProxyPass, ProxyPassMatch, ProxyPassReverse,
//    ProxyPassReverseCookieDomain/Path, StatusAllow, SSLCertificate, BalancerMember,
//    ProxySet; SSLCipherSuite once per protocol (see below).
//    The first StatusAllow replaces the default list; later ones add to it.
//  - Durations (Timeout, ProxyTimeout, retry=, ...) are seconds; a ms/s/m/h
//    suffix is accepted (core::ParseDurationMs). Dump writes seconds, or ms
//    when not a whole number of seconds.
//  - Listen takes numeric addresses only (the master binds without DNS):
//    `1.2.3.4:80`, `[::1]:80`, `*:80` and a bare `80` (both = 0.0.0.0).
//    The same address twice is an error. An `ssl` listener needs
//    SSLCertificateFile; SSLCertificateKeyFile defaults to the certificate
//    file (Apache: the key may be in the certificate file).
//  - CustomLog: `off`, or PATH with an optional second word: common,
//    combined (the default), or a format containing '%' (quote it when it
//    has spaces; \" inside the quotes is a '"', as in Apache's LogFormat).
//    ErrorLog = stderr is kept as is; other paths are made absolute.
//  - BalancerManager and Metrics are `off` or a path starting with '/', and
//    must differ.
//  - SSLProtocol is one of TLSv1.2, TLSv1.3, TLSv1.2+, TLSv1.3+ ("+": and later).
//  - SSL files and cipher lists are only syntax-checked here; tls::CheckConfig() opens and
//    verifies them (readable, parseable, key matches, not expired) with these lines.
//  - SSLCertificate = SERVERNAME CERTFILE [KEYFILE] (repeatable) adds an SNI certificate;
//    SERVERNAME is a host name or `*.domain` (one leftmost label), unique, case-insensitive.
//    KEYFILE defaults to CERTFILE, like SSLCertificateKeyFile. The SSLCertificateFile pair
//    stays the default certificate, so SSLCertificate requires SSLCertificateFile.
//  - SSLCipherSuite follows Apache 2.4.37+: `SSLCipherSuite = LIST` or `= SSL LIST` sets the
//    TLS <= 1.2 list, `= TLSv1.3 LIST` the TLS 1.3 suites; each protocol at most once.
//  - SSLSessionTicketKeyRotation is 1s-7d (default 1h); a ticket stays valid for at most
//    two rotation periods (the current and the previous key are accepted).
//  - SSLProxyCheckPeerName (default On) applies only with SSLProxyVerify require.
//  - LimitRequestFields is 1-32767 (Apache's 0 = unlimited is not offered);
//    LimitRequestLine and LimitRequestFieldSize are 256-1048576 bytes;
//    WorkerProcesses is auto or 1-1024; WorkerConnections 1-1000000; every
//    timeout is at most 24h, and at least 1ms except GracefulShutdownTimeout,
//    retry=, slowstart= and the balancer's timeout= (0 allowed), and hcinterval= (1s).
//  - Syntax and value errors stop at the first one in file order; the
//    whole-file checks below run only when every line was fine.
//  - ProxyPass/ProxyPassMatch targets: `balancer://NAME[/rest]` (only the
//    noquery flag is allowed; balancer keys go in ProxySet) or a plain URL,
//    which creates or reuses the implicit one-member balancer of its origin.
//    Member keys configure that implicit member and are only allowed on the
//    first rule that names the origin (Apache ignores them later with a
//    warning; we refuse rather than ignore). ProxyPassMatch accepts member
//    keys too (Apache 2.4.47+). A ProxyPass path must start with '/'.
//  - Member keys: route/redirect at most 63 characters (shm slot size);
//    routes must be unique within a balancer, and a redirect must name a
//    route of the same balancer (catches typos; Apache does not check).
//    `secret` and `hcmethod=CPING` are for ajp:// members only. `ping` and
//    `iobuffersize` are accepted on every member (Apache does) but only AJP
//    members use them. `enablereuse=On` is the same as `disablereuse=Off`.
//  - Implicit balancers are named by Url::Origin() (at most 127 characters,
//    the shm name size) and come after the declared ones, in order of first use.
//  - Post-read checks (undefined balancers, balancers without members, ssl
//    without certificate, unknown redirect routes) report the earliest line.
//  - Dump writes effective values: member timeout/connectiontimeout and the
//    balancer's maxattempts are written resolved (ProxyTimeout, members-1),
//    which loads back to the same behaviour. Unset optional directives are
//    written as comments. Long values wrap onto indented continuation lines
//    so that no line exceeds the 199-character limit; a quoted word longer
//    than a line is cut at single spaces (a run without spaces that is too
//    long for the rest of a line gets a continuation line of its own). The one
//    thing that cannot wrap is a single word without spaces longer than a
//    line: only a path can be one (a relative path that filled its input
//    line, made absolute).
#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>

#include "config/config.h"
#include "config/reader.h"
#include "config/regex.h"
#include "core/strings.h"

namespace drover::config {
namespace {

using core::Status;

constexpr char kCommonFormat[] = "%h %l %u %t \"%r\" %>s %b";
constexpr char kCombinedFormat[] = "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"";
constexpr size_t kMaxRoute = 63;          // shm::kRouteMax - 1
constexpr size_t kMaxBalancerName = 127;  // shm::kNameMax - 1
constexpr int64_t kDay = 86400000;
constexpr size_t kDumpWrap = 150;  // wrap Dump lines well below 199 characters

// ---------------------------------------------------------------------------
// Small formatting and parsing helpers.

std::string FormatDuration(int64_t ms) {
  if (ms % 1000 == 0) {
    return std::to_string(ms / 1000);
  }
  return std::to_string(ms) + "ms";
}

std::string FormatDurationUnit(int64_t ms) {
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

std::string FormatHundredths(int64_t v) {
  std::string s = std::to_string(v / 100);
  int frac = static_cast<int>(v % 100);
  if (frac != 0) {
    s += '.';
    s += static_cast<char>('0' + frac / 10);
    if (frac % 10 != 0) {
      s += static_cast<char>('0' + frac % 10);
    }
  }
  return s;
}

const char* OnOff(bool b) { return b ? "On" : "Off"; }

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool HasSpace(std::string_view s) { return s.find_first_of(" \t") != std::string_view::npos; }

// Apache-style word splitting (see the file comment).
core::Result<std::vector<std::string>> Tokenize(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (true) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) {
      ++i;
    }
    if (i >= s.size()) {
      return out;
    }
    std::string word;
    if (s[i] == '"') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == '"' || s[i + 1] == '\\')) {
          word += s[i + 1];
          i += 2;
        } else if (s[i] == '"') {
          closed = true;
          ++i;
          break;
        } else {
          word += s[i++];
        }
      }
      if (!closed) {
        return Status::Error("unterminated quote in '" + std::string(s) + "'");
      }
      if (i < s.size() && s[i] != ' ' && s[i] != '\t') {
        return Status::Error("text after a closing quote in '" + std::string(s) + "'");
      }
    } else {
      while (i < s.size() && s[i] != ' ' && s[i] != '\t') {
        word += s[i++];
      }
    }
    out.push_back(std::move(word));
  }
}

// The inverse of Tokenize for one word.
std::string QuoteAlways(std::string_view w) {
  std::string out = "\"";
  for (char c : w) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  out += '"';
  return out;
}

std::string Quote(std::string_view w) {
  bool needs = w.empty() || HasSpace(w) || w[0] == '"' || w[0] == ';' || w[0] == '#';
  return needs ? QuoteAlways(w) : std::string(w);
}

// Normalised numeric address, or nullopt.
std::optional<std::string> NormalizeIp(const std::string& text, bool v6) {
  unsigned char buf[16];
  int af = v6 ? AF_INET6 : AF_INET;
  if (inet_pton(af, text.c_str(), buf) != 1) {
    return std::nullopt;
  }
  char out[INET6_ADDRSTRLEN];
  if (inet_ntop(af, buf, out, sizeof(out)) == nullptr) {
    return std::nullopt;
  }
  return std::string(out);
}

bool ValidCidr(std::string_view text) {
  size_t slash = text.find('/');
  std::string addr(text.substr(0, slash));
  bool v6 = addr.find(':') != std::string::npos;
  if (!NormalizeIp(addr, v6)) {
    return false;
  }
  if (slash == std::string_view::npos) {
    return true;
  }
  return core::ParseInt(text.substr(slash + 1), 0, v6 ? 128 : 32).has_value();
}

bool ValidIdentity(std::string_view s) {
  if (s.size() > 1 && s[0] == '#') {
    return core::ParseInt(s.substr(1), 0, 4294967294LL).has_value();
  }
  if (s.empty() || s.size() > 32 || s[0] == '-') {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) { return IsNameChar(c) || c == '$'; });
}

std::string HostPort(const std::string& host, uint16_t port) {
  if (host.find(':') != std::string::npos) {
    return "[" + host + "]:" + std::to_string(port);
  }
  return host + ":" + std::to_string(port);
}

// ---------------------------------------------------------------------------
// The builder.

enum class SectionKind { kNone, kGlobal, kServer, kBalancer };

const char* SectionLabel(SectionKind k) {
  switch (k) {
    case SectionKind::kGlobal:
      return "[global]";
    case SectionKind::kServer:
      return "[server]";
    case SectionKind::kBalancer:
      return "[balancer://NAME]";
    case SectionKind::kNone:
      break;
  }
  return "no section";
}

class Builder;
using Handler = Status (Builder::*)(const std::string& value);

struct Directive {
  const char* name;
  SectionKind section;
  bool repeatable;
  Handler handler;
};

// A balancer reference waiting for every section to be read.
struct BalancerRef {
  bool reverse = false;  // ReverseRule (else ProxyRule)
  size_t index = 0;      // into rules or reverse
  std::string name;      // declared balancer name, when implicit < 0
  int implicit = -1;     // index into Builder::implicit_
  int line = 0;
  const char* directive = "";
};

struct ImplicitBalancer {
  std::string origin;
  MemberConfig member;
  int line = 0;
};

class Builder {
 public:
  Builder(const LoadOptions& options, IniFile ini) : options_(options), ini_(std::move(ini)) {}

  core::Result<std::shared_ptr<const Config>> Build();

 private:
  static const Directive kDirectives[];

  Status ErrAt(int line, const std::string& message) const {
    return Status::Error(options_.file + ":" + std::to_string(line) + ": " + message);
  }
  // "FILE:LINE: Directive: message" for the entry being handled.
  Status Err(const std::string& message) const {
    return ErrAt(line_, std::string(directive_) + ": " + message);
  }

  Status EnterSection(const IniSection& s);
  Status HandleEntry(const IniEntry& e);
  Status Finish();

  std::string Absolute(const std::string& path) const;
  Status Words(const std::string& value, std::vector<std::string>* out) const;
  Status OneWord(const std::string& value, std::string* out) const;
  Status Int(std::string_view v, int64_t min, int64_t max, int64_t* out,
             const std::string& key = "") const;
  Status Duration(std::string_view v, int64_t min_ms, int64_t max_ms, int64_t* out,
                  const std::string& key = "") const;
  Status Bool(std::string_view v, bool* out, const std::string& key = "") const;
  Status Path(const std::string& value, std::string* out) const;
  Status StatusPath(const std::string& value, std::string* out) const;

  Status MemberKey(const std::string& key, const std::string& v, MemberConfig* m, bool* cping);
  Status CheckMember(const MemberConfig& m, bool cping) const;
  Status BalancerKey(const std::string& key, const std::string& v, BalancerConfig* b);
  Status ProxyRuleDirective(const std::string& value, bool is_regex);

  // [global]
  Status User(const std::string& v) { return Identity(v, &cfg_->global.user); }
  Status Group(const std::string& v) { return Identity(v, &cfg_->global.group); }
  Status Identity(const std::string& v, std::string* out);
  Status WorkerProcesses(const std::string& v);
  Status WorkerConnections(const std::string& v);
  Status PidFile(const std::string& v) { return Path(v, &cfg_->global.pid_file); }
  Status ErrorLog(const std::string& v);
  Status LogLevel(const std::string& v);
  Status GracefulShutdownTimeout(const std::string& v) {
    return Duration(v, 0, kDay, &cfg_->global.graceful_shutdown_timeout_ms);
  }
  // [server]
  Status Listen(const std::string& v);
  Status AcceptFilter(const std::string& v);
  Status ServerName(const std::string& v);
  Status CustomLog(const std::string& v);
  Status Timeout(const std::string& v) { return Duration(v, 1, kDay, &cfg_->server.timeout_ms); }
  Status RequestHeaderTimeout(const std::string& v) {
    return Duration(v, 1, kDay, &cfg_->server.request_header_timeout_ms);
  }
  Status RequestBodyTimeout(const std::string& v) {
    return Duration(v, 0, kDay, &cfg_->server.request_body_timeout_ms);
  }
  Status RequestBodyMinRate(const std::string& v) {
    return Int(v, 0, int64_t{1} << 40, &cfg_->server.request_body_min_rate);
  }
  Status KeepAliveTimeout(const std::string& v) {
    return Duration(v, 1, kDay, &cfg_->server.keepalive_timeout_ms);
  }
  Status MaxKeepAliveRequests(const std::string& v);
  Status LimitRequestLine(const std::string& v) {
    return Int(v, 256, 1 << 20, &cfg_->server.limit_request_line);
  }
  Status LimitRequestFieldSize(const std::string& v) {
    return Int(v, 256, 1 << 20, &cfg_->server.limit_request_field_size);
  }
  Status LimitRequestFields(const std::string& v);
  Status LimitRequestBody(const std::string& v) {
    return Int(v, 0, INT64_C(1) << 62, &cfg_->server.limit_request_body);
  }
  Status ProxyTimeout(const std::string& v) {
    return Duration(v, 1, kDay, &cfg_->server.proxy_timeout_ms);
  }
  Status ProxyPreserveHost(const std::string& v) { return Bool(v, &cfg_->server.preserve_host); }
  Status ProxyAddHeaders(const std::string& v) { return Bool(v, &cfg_->server.add_headers); }
  Status ProxyVia(const std::string& v) { return Bool(v, &cfg_->server.via); }
  Status ProxyPass(const std::string& v) { return ProxyRuleDirective(v, false); }
  Status ProxyPassMatch(const std::string& v) { return ProxyRuleDirective(v, true); }
  Status ProxyPassReverse(const std::string& v);
  Status CookieDomain(const std::string& v) { return Cookie(v, &cfg_->server.cookie_domain); }
  Status CookiePath(const std::string& v) { return Cookie(v, &cfg_->server.cookie_path); }
  Status Cookie(const std::string& v, std::vector<CookieRule>* out);
  Status BalancerManager(const std::string& v) {
    return StatusPath(v, &cfg_->server.balancer_manager);
  }
  Status Metrics(const std::string& v) { return StatusPath(v, &cfg_->server.metrics); }
  Status StatusAllow(const std::string& v);
  Status SslCertificateFile(const std::string& v) {
    cfg_->server.ssl_lines.certificate_file = line_;
    return Path(v, &cfg_->server.ssl_certificate_file);
  }
  Status SslCertificateKeyFile(const std::string& v) {
    cfg_->server.ssl_lines.certificate_key_file = line_;
    return Path(v, &cfg_->server.ssl_certificate_key_file);
  }
  Status SslCertificate(const std::string& v);
  Status SslProtocol(const std::string& v);
  Status SslCipherSuite(const std::string& v);
  Status SslSessionTickets(const std::string& v) {
    return Bool(v, &cfg_->server.ssl_session_tickets);
  }
  Status SslSessionTicketKeyRotation(const std::string& v) {
    return Duration(v, 1000, 7 * kDay, &cfg_->server.ssl_session_ticket_key_rotation_ms);
  }
  Status SslProxyVerify(const std::string& v);
  Status SslProxyCaCertificateFile(const std::string& v) {
    cfg_->server.ssl_lines.proxy_ca_certificate_file = line_;
    return Path(v, &cfg_->server.ssl_proxy_ca_certificate_file);
  }
  Status SslProxyCheckPeerName(const std::string& v) {
    return Bool(v, &cfg_->server.ssl_proxy_check_peer_name);
  }
  Status SslProxyMachineCertificateFile(const std::string& v) {
    cfg_->server.ssl_lines.proxy_machine_certificate_file = line_;
    return Path(v, &cfg_->server.ssl_proxy_machine_certificate_file);
  }
  // [balancer://NAME]
  Status BalancerMember(const std::string& v);
  Status ProxySet(const std::string& v);

  LoadOptions options_;
  IniFile ini_;
  std::unique_ptr<Config> cfg_;
  // Current entry.
  int line_ = 0;
  const char* directive_ = "";
  SectionKind section_ = SectionKind::kNone;
  std::string section_text_;  // as written, for messages
  int balancer_ = -1;         // current declared balancer
  // Bookkeeping.
  std::map<std::string, int> seen_;           // section key + lowercase directive -> first line
  std::map<std::string, int> sections_seen_;  // section key -> line
  std::string section_key_;                   // "global", "server" or "balancer://NAME"
  bool status_allow_set_ = false;
  std::vector<BalancerRef> refs_;
  std::vector<ImplicitBalancer> implicit_;
  std::map<std::string, int> implicit_index_;  // origin -> index into implicit_
};

const Directive Builder::kDirectives[] = {
    {"User", SectionKind::kGlobal, false, &Builder::User},
    {"Group", SectionKind::kGlobal, false, &Builder::Group},
    {"WorkerProcesses", SectionKind::kGlobal, false, &Builder::WorkerProcesses},
    {"WorkerConnections", SectionKind::kGlobal, false, &Builder::WorkerConnections},
    {"PidFile", SectionKind::kGlobal, false, &Builder::PidFile},
    {"ErrorLog", SectionKind::kGlobal, false, &Builder::ErrorLog},
    {"LogLevel", SectionKind::kGlobal, false, &Builder::LogLevel},
    {"GracefulShutdownTimeout", SectionKind::kGlobal, false, &Builder::GracefulShutdownTimeout},
    {"Listen", SectionKind::kServer, true, &Builder::Listen},
    {"AcceptFilter", SectionKind::kServer, true, &Builder::AcceptFilter},
    {"ServerName", SectionKind::kServer, false, &Builder::ServerName},
    {"CustomLog", SectionKind::kServer, false, &Builder::CustomLog},
    {"Timeout", SectionKind::kServer, false, &Builder::Timeout},
    {"RequestHeaderTimeout", SectionKind::kServer, false, &Builder::RequestHeaderTimeout},
    {"RequestBodyTimeout", SectionKind::kServer, false, &Builder::RequestBodyTimeout},
    {"RequestBodyMinRate", SectionKind::kServer, false, &Builder::RequestBodyMinRate},
    {"KeepAliveTimeout", SectionKind::kServer, false, &Builder::KeepAliveTimeout},
    {"MaxKeepAliveRequests", SectionKind::kServer, false, &Builder::MaxKeepAliveRequests},
    {"LimitRequestLine", SectionKind::kServer, false, &Builder::LimitRequestLine},
    {"LimitRequestFieldSize", SectionKind::kServer, false, &Builder::LimitRequestFieldSize},
    {"LimitRequestFields", SectionKind::kServer, false, &Builder::LimitRequestFields},
    {"LimitRequestBody", SectionKind::kServer, false, &Builder::LimitRequestBody},
    {"ProxyTimeout", SectionKind::kServer, false, &Builder::ProxyTimeout},
    {"ProxyPreserveHost", SectionKind::kServer, false, &Builder::ProxyPreserveHost},
    {"ProxyAddHeaders", SectionKind::kServer, false, &Builder::ProxyAddHeaders},
    {"ProxyVia", SectionKind::kServer, false, &Builder::ProxyVia},
    {"ProxyPass", SectionKind::kServer, true, &Builder::ProxyPass},
    {"ProxyPassMatch", SectionKind::kServer, true, &Builder::ProxyPassMatch},
    {"ProxyPassReverse", SectionKind::kServer, true, &Builder::ProxyPassReverse},
    {"ProxyPassReverseCookieDomain", SectionKind::kServer, true, &Builder::CookieDomain},
    {"ProxyPassReverseCookiePath", SectionKind::kServer, true, &Builder::CookiePath},
    {"BalancerManager", SectionKind::kServer, false, &Builder::BalancerManager},
    {"Metrics", SectionKind::kServer, false, &Builder::Metrics},
    {"StatusAllow", SectionKind::kServer, true, &Builder::StatusAllow},
    {"SSLCertificateFile", SectionKind::kServer, false, &Builder::SslCertificateFile},
    {"SSLCertificateKeyFile", SectionKind::kServer, false, &Builder::SslCertificateKeyFile},
    {"SSLCertificate", SectionKind::kServer, true, &Builder::SslCertificate},
    {"SSLProtocol", SectionKind::kServer, false, &Builder::SslProtocol},
    {"SSLCipherSuite", SectionKind::kServer, true, &Builder::SslCipherSuite},
    {"SSLSessionTickets", SectionKind::kServer, false, &Builder::SslSessionTickets},
    {"SSLSessionTicketKeyRotation", SectionKind::kServer, false,
     &Builder::SslSessionTicketKeyRotation},
    {"SSLProxyVerify", SectionKind::kServer, false, &Builder::SslProxyVerify},
    {"SSLProxyCACertificateFile", SectionKind::kServer, false, &Builder::SslProxyCaCertificateFile},
    {"SSLProxyCheckPeerName", SectionKind::kServer, false, &Builder::SslProxyCheckPeerName},
    {"SSLProxyMachineCertificateFile", SectionKind::kServer, false,
     &Builder::SslProxyMachineCertificateFile},
    {"BalancerMember", SectionKind::kBalancer, true, &Builder::BalancerMember},
    {"ProxySet", SectionKind::kBalancer, true, &Builder::ProxySet},
};

std::string ResolvePrefix(const LoadOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p;
  if (!options.prefix.empty()) {
    p = fs::absolute(options.prefix, ec);
    if (ec) {
      p = options.prefix;
    }
    p = p.lexically_normal();
  } else {
    fs::path file =
        fs::absolute(options.file.empty() ? fs::path("drover.conf") : fs::path(options.file), ec);
    if (ec) {
      file = options.file;
    }
    p = file.lexically_normal().parent_path().parent_path();
  }
  std::string s = p.string();
  while (s.size() > 1 && s.back() == '/') {
    s.pop_back();
  }
  return s.empty() ? "/" : s;
}

std::string Builder::Absolute(const std::string& path) const {
  namespace fs = std::filesystem;
  fs::path p(path);
  if (!p.is_absolute()) {
    p = fs::path(cfg_->prefix) / p;
  }
  return p.lexically_normal().string();
}

core::Result<std::shared_ptr<const Config>> Builder::Build() {
  cfg_ = std::make_unique<Config>();
  cfg_->file = options_.file;
  cfg_->prefix = ResolvePrefix(options_);
  cfg_->global.pid_file = Absolute("logs/drover.pid");
  cfg_->global.error_log = Absolute("logs/error.log");
  cfg_->server.access_log = Absolute("logs/access.log");
  cfg_->server.access_format = kCombinedFormat;
  cfg_->server.access_format_name = "combined";

  // Section headers and entries in line order, so the first error is the
  // earliest one in the file.
  size_t si = 0;
  size_t ei = 0;
  while (si < ini_.sections.size() || ei < ini_.entries.size()) {
    Status st;
    if (si < ini_.sections.size() &&
        (ei >= ini_.entries.size() || ini_.sections[si].line < ini_.entries[ei].line)) {
      st = EnterSection(ini_.sections[si++]);
    } else {
      st = HandleEntry(ini_.entries[ei++]);
    }
    if (!st.ok()) {
      return st;
    }
  }
  Status st = Finish();
  if (!st.ok()) {
    return st;
  }
  return std::shared_ptr<const Config>(std::move(cfg_));
}

Status Builder::EnterSection(const IniSection& s) {
  std::string_view name = core::Trim(s.name);
  section_text_ = "[" + std::string(name) + "]";
  balancer_ = -1;
  std::string key;
  if (core::IEquals(name, "global")) {
    section_ = SectionKind::kGlobal;
    key = "global";
  } else if (core::IEquals(name, "server")) {
    section_ = SectionKind::kServer;
    key = "server";
  } else if (core::IStartsWith(name, "balancer://")) {
    section_ = SectionKind::kBalancer;
    std::string bname(name.substr(11));
    if (bname.empty()) {
      return ErrAt(s.line, "section " + section_text_ + " has no balancer name");
    }
    if (!std::all_of(bname.begin(), bname.end(), IsNameChar)) {
      return ErrAt(
          s.line, "invalid balancer name '" + bname + "' (letters, digits, '.', '_' and '-' only)");
    }
    key = "balancer://" + bname;
    auto it = sections_seen_.find(key);
    if (it != sections_seen_.end()) {
      return ErrAt(s.line, "duplicate balancer '" + bname + "' (first defined on line " +
                               std::to_string(it->second) + ")");
    }
    BalancerConfig b;
    b.name = bname;
    b.line = s.line;
    cfg_->balancers.push_back(std::move(b));
    balancer_ = static_cast<int>(cfg_->balancers.size()) - 1;
  } else {
    section_ = SectionKind::kNone;
    return ErrAt(s.line, "unknown section '" + section_text_ +
                             "' (expected [global], [server] or [balancer://NAME])");
  }
  auto it = sections_seen_.find(key);
  if (it != sections_seen_.end()) {
    return ErrAt(s.line, "duplicate section " + section_text_ + " (first on line " +
                             std::to_string(it->second) + ")");
  }
  sections_seen_[key] = s.line;
  section_key_ = key;
  return Status::Ok();
}

Status Builder::HandleEntry(const IniEntry& e) {
  line_ = e.line;
  directive_ = "";
  const std::string& name = e.name;
  if (name.empty()) {
    return ErrAt(e.line, "missing directive name before '='");
  }
  if (HasSpace(name)) {
    return ErrAt(e.line, "syntax error: '" + name + "' is not a directive name (missing '='?)");
  }
  if (section_ == SectionKind::kNone) {
    return ErrAt(
        e.line, "directive '" + name + "' outside any section (put it under [global] or [server])");
  }
  const Directive* found = nullptr;
  const Directive* elsewhere = nullptr;
  for (const Directive& d : kDirectives) {
    if (core::IEquals(d.name, name)) {
      if (d.section == section_) {
        found = &d;
      } else {
        elsewhere = &d;
      }
    }
  }
  if (found == nullptr) {
    if (elsewhere != nullptr) {
      return ErrAt(e.line, "directive '" + name + "' belongs in " +
                               SectionLabel(elsewhere->section) + ", not in " + section_text_);
    }
    return ErrAt(e.line, "unknown directive '" + name + "' in " + section_text_);
  }
  directive_ = found->name;
  if (!found->repeatable) {
    std::string key = section_key_ + " " + core::ToLower(found->name);
    auto it = seen_.find(key);
    if (it != seen_.end()) {
      return Err("duplicate directive (first given on line " + std::to_string(it->second) + ")");
    }
    seen_[key] = e.line;
  }
  if (core::Trim(e.value).empty()) {
    return Err("missing value");
  }
  return (this->*found->handler)(e.value);
}

// ---------------------------------------------------------------------------
// Value helpers. `key` names a key=value key in messages ("loadfactor '0' ...").

std::string What(const std::string& key) { return key.empty() ? "" : key + " "; }

Status Builder::Words(const std::string& value, std::vector<std::string>* out) const {
  auto words = Tokenize(value);
  if (!words.ok()) {
    return Err(words.status().message());
  }
  *out = std::move(words.value());
  return Status::Ok();
}

Status Builder::OneWord(const std::string& value, std::string* out) const {
  std::vector<std::string> words;
  Status st = Words(value, &words);
  if (!st.ok()) {
    return st;
  }
  if (words.size() != 1) {
    return Err("expected one value, got '" + value + "'");
  }
  if (words[0].empty()) {
    return Err("missing value");
  }
  *out = words[0];
  return Status::Ok();
}

Status Builder::Int(std::string_view v, int64_t min, int64_t max, int64_t* out,
                    const std::string& key) const {
  std::string text(v);
  if (key.empty()) {
    Status st = OneWord(text, &text);
    if (!st.ok()) {
      return st;
    }
  }
  bool digits = !text.empty() && std::all_of(text.begin() + (text[0] == '-' ? 1 : 0), text.end(),
                                             [](char c) { return c >= '0' && c <= '9'; });
  if (!digits || text == "-") {
    return Err(What(key) + "'" + text + "' is not a number");
  }
  auto n = core::ParseInt(text, min < 0 ? min : -(INT64_C(1) << 62), INT64_C(1) << 62);
  if (!n || *n < min || *n > max) {
    return Err(What(key) + "'" + text + "' out of range " + std::to_string(min) + "-" +
               std::to_string(max));
  }
  *out = *n;
  return Status::Ok();
}

Status Builder::Duration(std::string_view v, int64_t min_ms, int64_t max_ms, int64_t* out,
                         const std::string& key) const {
  std::string text(v);
  if (key.empty()) {
    Status st = OneWord(text, &text);
    if (!st.ok()) {
      return st;
    }
  }
  auto ms = core::ParseDurationMs(text);
  if (!ms) {
    return Err(What(key) + "'" + text +
               "' is not a duration (seconds, or a number with a ms/s/m/h suffix)");
  }
  if (*ms < min_ms || *ms > max_ms) {
    return Err(What(key) + "'" + text + "' out of range " + FormatDurationUnit(min_ms) + "-" +
               FormatDurationUnit(max_ms));
  }
  *out = *ms;
  return Status::Ok();
}

Status Builder::Bool(std::string_view v, bool* out, const std::string& key) const {
  std::string text(v);
  if (key.empty()) {
    Status st = OneWord(text, &text);
    if (!st.ok()) {
      return st;
    }
  }
  auto b = core::ParseBool(text);
  if (!b) {
    return Err(What(key) + "'" + text + "' is not On or Off");
  }
  *out = *b;
  return Status::Ok();
}

Status Builder::Path(const std::string& value, std::string* out) const {
  std::string p;
  Status st = OneWord(value, &p);
  if (!st.ok()) {
    return st;
  }
  *out = Absolute(p);
  return Status::Ok();
}

Status Builder::StatusPath(const std::string& value, std::string* out) const {
  std::string p;
  Status st = OneWord(value, &p);
  if (!st.ok()) {
    return st;
  }
  if (core::IEquals(p, "off")) {
    out->clear();
    return Status::Ok();
  }
  if (p[0] != '/' || p.find_first_of("?#") != std::string::npos) {
    return Err("'" + p + "' is not off or a path starting with '/'");
  }
  *out = p;
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// [global]

Status Builder::Identity(const std::string& v, std::string* out) {
  std::string w;
  Status st = OneWord(v, &w);
  if (!st.ok()) {
    return st;
  }
  if (!ValidIdentity(w)) {
    return Err("'" + w + "' is not a name or #id");
  }
  *out = w;
  return Status::Ok();
}

Status Builder::WorkerProcesses(const std::string& v) {
  std::string w;
  Status st = OneWord(v, &w);
  if (!st.ok()) {
    return st;
  }
  if (core::IEquals(w, "auto")) {
    cfg_->global.worker_processes = 0;
    return Status::Ok();
  }
  auto n = core::ParseInt(w, 1, 1024);
  if (!n) {
    return Err("'" + w + "' is not auto or a number 1-1024");
  }
  cfg_->global.worker_processes = static_cast<int>(*n);
  return Status::Ok();
}

Status Builder::WorkerConnections(const std::string& v) {
  int64_t n = 0;
  Status st = Int(v, 1, 1000000, &n);
  cfg_->global.worker_connections = static_cast<int>(n);
  return st;
}

Status Builder::ErrorLog(const std::string& v) {
  std::string w;
  Status st = OneWord(v, &w);
  if (!st.ok()) {
    return st;
  }
  cfg_->global.error_log = w == "stderr" ? w : Absolute(w);
  return Status::Ok();
}

Status Builder::LogLevel(const std::string& v) {
  std::string w;
  Status st = OneWord(v, &w);
  if (!st.ok()) {
    return st;
  }
  if (!core::ParseLogLevel(w, &cfg_->global.log_level)) {
    return Err("unknown level '" + w + "' (emerg alert crit error warn notice info debug)");
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// [server]

// AcceptFilter = PROTOCOL FILTER, as Apache's: PROTOCOL is http (plain Listen) or
// https (Listen ... ssl); FILTER is data (TCP_DEFER_ACCEPT) or none. Apache on Linux
// takes any name but none as TCP_DEFER_ACCEPT; drover takes httpready too (FreeBSD's
// filter for http, in configs written for both) and refuses the rest.
Status Builder::AcceptFilter(const std::string& v) {
  std::vector<std::string> w;
  Status st = Words(v, &w);
  if (!st.ok()) {
    return st;
  }
  if (w.size() != 2) {
    return Err("expected 'PROTOCOL FILTER' (http or https, data or none), got '" + v + "'");
  }
  std::string proto = core::ToLower(w[0]);
  std::string filter = core::ToLower(w[1]);
  bool* target = nullptr;
  if (proto == "http") {
    target = &cfg_->server.accept_filter_http;
  } else if (proto == "https") {
    target = &cfg_->server.accept_filter_https;
  } else {
    return Err("unknown protocol '" + w[0] + "' (http https)");
  }
  if (filter == "data" || filter == "httpready") {
    *target = true;
  } else if (filter == "none") {
    *target = false;
  } else {
    return Err("unknown filter '" + w[1] + "' (data none)");
  }
  return Status::Ok();
}

Status Builder::Listen(const std::string& v) {
  std::vector<std::string> w;
  Status st = Words(v, &w);
  if (!st.ok()) {
    return st;
  }
  if (w.empty() || w.size() > 2) {
    return Err("expected 'ADDR:PORT [ssl]', got '" + v + "'");
  }
  ListenConfig l;
  l.text = std::string(core::Trim(v));
  l.line = line_;
  if (w.size() == 2) {
    if (!core::IEquals(w[1], "ssl")) {
      return Err("unknown option '" + w[1] + "' (only 'ssl')");
    }
    l.ssl = true;
  }
  const std::string& a = w[0];
  std::string host;
  std::string port;
  bool v6 = false;
  if (!a.empty() && a[0] == '[') {
    size_t close = a.find(']');
    if (close == std::string::npos) {
      return Err("'" + a + "': missing ']'");
    }
    host = a.substr(1, close - 1);
    v6 = true;
    if (close + 1 >= a.size() || a[close + 1] != ':') {
      return Err("'" + a + "': missing port after ']'");
    }
    port = a.substr(close + 2);
  } else {
    size_t colon = a.rfind(':');
    if (colon == std::string::npos) {
      port = a;
      host = "0.0.0.0";
    } else {
      host = a.substr(0, colon);
      port = a.substr(colon + 1);
      if (host.find(':') != std::string::npos) {
        return Err("'" + a + "': IPv6 addresses need brackets, e.g. [::1]:8080");
      }
    }
    if (host.empty() || host == "*") {
      host = "0.0.0.0";
    }
  }
  auto n = core::ParseInt(port, 1, 65535);
  if (!n) {
    return Err("'" + a + "': port '" + port + "' out of range 1-65535");
  }
  auto norm = NormalizeIp(host, v6);
  if (!norm) {
    return Err("'" + a + "': address must be a numeric IPv4 address, [IPv6] or *");
  }
  l.host = *norm;
  l.port = static_cast<uint16_t>(*n);
  for (const ListenConfig& other : cfg_->server.listens) {
    if (other.host == l.host && other.port == l.port) {
      return Err("'" + a + "' is already listened on (line " + std::to_string(other.line) + ")");
    }
  }
  cfg_->server.listens.push_back(std::move(l));
  return Status::Ok();
}

Status Builder::ServerName(const std::string& v) {
  std::string w;
  Status st = OneWord(v, &w);
  if (!st.ok()) {
    return st;
  }
  if (!std::all_of(w.begin(), w.end(),
                   [](char c) { return IsNameChar(c) || c == ':' || c == '[' || c == ']'; })) {
    return Err("invalid server name '" + w + "'");
  }
  cfg_->server.server_name = w;
  return Status::Ok();
}

Status Builder::CustomLog(const std::string& v) {
  std::vector<std::string> w;
  Status st = Words(v, &w);
  if (!st.ok()) {
    return st;
  }
  if (w.size() == 1 && core::IEquals(w[0], "off")) {
    cfg_->server.access_log.clear();
    cfg_->server.access_format.clear();
    cfg_->server.access_format_name = "off";
    return Status::Ok();
  }
  if (w.empty() || w.size() > 2 || w[0].empty()) {
    return Err("expected 'PATH [common|combined|\"FORMAT\"]' or 'off', got '" + v + "'");
  }
  ServerConfig& s = cfg_->server;
  s.access_log = Absolute(w[0]);
  if (w.size() == 1 || core::IEquals(w[1], "combined")) {
    s.access_format = kCombinedFormat;
    s.access_format_name = "combined";
  } else if (core::IEquals(w[1], "common")) {
    s.access_format = kCommonFormat;
    s.access_format_name = "common";
  } else if (w[1].find('%') != std::string::npos) {
    s.access_format = w[1];
    s.access_format_name = "custom";
  } else {
    return Err("unknown format '" + w[1] + "' (common, combined or a quoted \"%...\" format)");
  }
  return Status::Ok();
}

Status Builder::MaxKeepAliveRequests(const std::string& v) {
  int64_t n = 0;
  Status st = Int(v, 0, 1000000000, &n);
  cfg_->server.max_keepalive_requests = static_cast<int>(n);
  return st;
}

Status Builder::LimitRequestFields(const std::string& v) {
  int64_t n = 0;
  Status st = Int(v, 1, 32767, &n);
  cfg_->server.limit_request_fields = static_cast<int>(n);
  return st;
}

Status Builder::StatusAllow(const std::string& v) {
  std::vector<std::string> w;
  Status st = Words(v, &w);
  if (!st.ok()) {
    return st;
  }
  if (!status_allow_set_) {
    cfg_->server.status_allow.clear();
    status_allow_set_ = true;
  }
  for (const std::string& c : w) {
    if (!ValidCidr(c)) {
      return Err("'" + c + "' is not an IPv4 or IPv6 address or CIDR");
    }
    cfg_->server.status_allow.push_back(c);
  }
  return Status::Ok();
}

Status Builder::SslProtocol(const std::string& v) {
  std::string w;
  Status st = OneWord(v, &w);
  if (!st.ok()) {
    return st;
  }
  for (const char* p : {"TLSv1.2", "TLSv1.3", "TLSv1.2+", "TLSv1.3+"}) {
    if (core::IEquals(w, p)) {
      cfg_->server.ssl_protocol = p;
      return Status::Ok();
    }
  }
  return Err("unsupported protocol '" + w + "' (TLSv1.2, TLSv1.3, TLSv1.2+ or TLSv1.3+)");
}

// A host name, or "*." and a host name: labels of letters, digits, '-' and '_' (seen in
// real certificates), each 1-63 characters, not starting or ending with '-'.
bool ValidServerName(std::string_view name) {
  if (name.size() > 2 && name[0] == '*' && name[1] == '.') {
    name.remove_prefix(2);
  }
  if (name.empty() || name.size() > 253) {
    return false;
  }
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    std::string_view label =
        name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
        return false;
      }
    }
    if (dot == std::string_view::npos) {
      break;
    }
    start = dot + 1;
  }
  return true;
}

Status Builder::SslCertificate(const std::string& v) {
  std::vector<std::string> w;
  Status st = Words(v, &w);
  if (!st.ok()) {
    return st;
  }
  if (w.size() < 2 || w.size() > 3 || w[1].empty() || (w.size() == 3 && w[2].empty())) {
    return Err("expected 'SERVERNAME CERTFILE [KEYFILE]', got '" + v + "'");
  }
  std::string name = core::ToLower(w[0]);
  if (!ValidServerName(name)) {
    return Err("invalid server name '" + w[0] + "' (a host name, or *.domain for a wildcard)");
  }
  for (const SslCertificateConfig& other : cfg_->server.ssl_certificates) {
    if (other.server_name == name) {
      return Err("duplicate server name '" + name + "' (first given on line " +
                 std::to_string(other.line) + ")");
    }
  }
  SslCertificateConfig c;
  c.server_name = name;
  c.certificate_file = Absolute(w[1]);
  c.key_file = w.size() == 3 ? Absolute(w[2]) : c.certificate_file;
  c.line = line_;
  cfg_->server.ssl_certificates.push_back(std::move(c));
  return Status::Ok();
}

Status Builder::SslCipherSuite(const std::string& v) {
  std::vector<std::string> w;
  Status st = Words(v, &w);
  if (!st.ok()) {
    return st;
  }
  if (w.empty() || w.size() > 2 || w.back().empty()) {
    return Err("expected '[SSL|TLSv1.3] CIPHERS', got '" + v + "'");
  }
  bool tls13 = false;
  if (w.size() == 2) {
    if (core::IEquals(w[0], "TLSv1.3")) {
      tls13 = true;
    } else if (!core::IEquals(w[0], "SSL")) {
      return Err("unknown protocol '" + w[0] + "' (SSL for TLS 1.2 and below, or TLSv1.3)");
    }
  }
  ServerConfig& s = cfg_->server;
  int* line = tls13 ? &s.ssl_lines.cipher_suite_tls13 : &s.ssl_lines.cipher_suite;
  if (*line != 0) {
    return Err(std::string("duplicate ") + (tls13 ? "TLSv1.3" : "SSL") +
               " cipher suite (first given on line " + std::to_string(*line) + ")");
  }
  *line = line_;
  (tls13 ? s.ssl_cipher_suite_tls13 : s.ssl_cipher_suite) = w.back();
  return Status::Ok();
}

Status Builder::SslProxyVerify(const std::string& v) {
  std::string w;
  Status st = OneWord(v, &w);
  if (!st.ok()) {
    return st;
  }
  if (core::IEquals(w, "none")) {
    cfg_->server.ssl_proxy_verify = false;
  } else if (core::IEquals(w, "require")) {
    cfg_->server.ssl_proxy_verify = true;
  } else {
    return Err("'" + w + "' is not none or require");
  }
  return Status::Ok();
}

Status Builder::Cookie(const std::string& v, std::vector<CookieRule>* out) {
  std::vector<std::string> w;
  Status st = Words(v, &w);
  if (!st.ok()) {
    return st;
  }
  if (w.size() != 2) {
    return Err("expected 'INTERNAL PUBLIC', got '" + v + "'");
  }
  out->push_back(CookieRule{w[0], w[1], line_});
  return Status::Ok();
}

// Splits "balancer://NAME/rest" into NAME and "/rest" (the text after the
// name characters; the caller checks what it may start with).
Status SplitBalancerUrl(const std::string& url, std::string* name, std::string* rest) {
  std::string_view s(url);
  s.remove_prefix(11);  // "balancer://"
  size_t n = 0;
  while (n < s.size() && IsNameChar(s[n])) {
    ++n;
  }
  *name = std::string(s.substr(0, n));
  *rest = std::string(s.substr(n));
  if (name->empty()) {
    return Status::Error("'" + url + "': missing balancer name");
  }
  return Status::Ok();
}

Status Builder::ProxyPassReverse(const std::string& v) {
  std::vector<std::string> w;
  Status st = Words(v, &w);
  if (!st.ok()) {
    return st;
  }
  if (w.size() != 2) {
    return Err("expected 'PATH URL', got '" + v + "'");
  }
  ReverseRule r;
  r.path = w[0];
  r.url = w[1];
  r.line = line_;
  if (r.path.empty() || r.path[0] != '/') {
    return Err("path '" + r.path + "' must start with '/'");
  }
  if (core::IStartsWith(r.url, "balancer://")) {
    std::string name;
    st = SplitBalancerUrl(r.url, &name, &r.balancer_part);
    if (!st.ok()) {
      return Err(st.message());
    }
    if (!r.balancer_part.empty() && r.balancer_part[0] != '/') {
      return Err("'" + r.url + "': text after the balancer name must start with '/'");
    }
    refs_.push_back(BalancerRef{true, cfg_->server.reverse.size(), name, -1, line_, directive_});
  } else if (r.url[0] != '/') {
    auto u = ParseUrl(r.url);
    if (!u.ok()) {
      return Err(u.status().message());
    }
  }
  cfg_->server.reverse.push_back(std::move(r));
  return Status::Ok();
}

// ProxyPass and ProxyPassMatch.
Status Builder::ProxyRuleDirective(const std::string& value, bool is_regex) {
  std::vector<std::string> w;
  Status st = Words(value, &w);
  if (!st.ok()) {
    return st;
  }
  if (w.size() < 2) {
    return Err(is_regex ? "expected 'REGEX URL [key=value ...]' or 'REGEX !', got '" + value + "'"
                        : "expected 'PATH URL [key=value ...]' or 'PATH !', got '" + value + "'");
  }
  ProxyRule r;
  r.is_regex = is_regex;
  r.pattern = w[0];
  r.target = w[1];
  r.line = line_;
  if (is_regex) {
    auto re = Regex::Compile(r.pattern);
    if (!re.ok()) {
      return Err(re.status().message());
    }
    r.regex = re.value();
  } else if (r.pattern.empty() || r.pattern[0] != '/') {
    return Err("path '" + r.pattern + "' must start with '/'");
  }
  size_t index = cfg_->server.rules.size();
  if (r.target == "!") {
    if (w.size() > 2) {
      return Err("nothing may follow '!', got '" + w[2] + "'");
    }
    r.exclude = true;
    cfg_->server.rules.push_back(std::move(r));
    return Status::Ok();
  }
  bool to_balancer = core::IStartsWith(r.target, "balancer://");
  MemberConfig member;
  bool member_keys = false;
  bool cping = false;
  for (size_t i = 2; i < w.size(); ++i) {
    const std::string& kv = w[i];
    size_t eq = kv.find('=');
    std::string key = core::ToLower(kv.substr(0, eq));
    std::string val = eq == std::string::npos ? "" : kv.substr(eq + 1);
    if (key == "noquery") {
      r.noquery = true;
      if (eq != std::string::npos) {
        st = Bool(val, &r.noquery, "noquery");
        if (!st.ok()) {
          return st;
        }
      }
      continue;
    }
    if (eq == std::string::npos || eq == 0) {
      return Err("'" + kv + "' is not key=value");
    }
    if (to_balancer) {
      return Err("key '" + kv.substr(0, eq) +
                 "' is not allowed with a balancer:// target (only noquery; set balancer keys "
                 "with ProxySet in [balancer://NAME])");
    }
    st = MemberKey(key, val, &member, &cping);
    if (!st.ok()) {
      return st;
    }
    member_keys = true;
  }
  if (to_balancer) {
    std::string name;
    st = SplitBalancerUrl(r.target, &name, &r.target_path);
    if (!st.ok()) {
      return Err(st.message());
    }
    const std::string& t = r.target_path;
    if (!t.empty() && t[0] != '/' && !(is_regex && t[0] == '$')) {
      return Err("'" + r.target + "': text after the balancer name must start with '/'" +
                 (is_regex ? " or '$'" : ""));
    }
    refs_.push_back(BalancerRef{false, index, name, -1, line_, directive_});
    cfg_->server.rules.push_back(std::move(r));
    return Status::Ok();
  }
  auto url = ParseUrl(r.target);
  if (!url.ok()) {
    return Err(url.status().message());
  }
  r.target_path = url->path;
  std::string origin = url->Origin();
  if (origin.size() > kMaxBalancerName) {
    return Err("origin '" + origin + "' longer than " + std::to_string(kMaxBalancerName) +
               " characters");
  }
  auto it = implicit_index_.find(origin);
  int implicit = -1;
  if (it != implicit_index_.end()) {
    implicit = it->second;
    if (member_keys) {
      return Err("member keys for '" + origin + "' must be given where it is first used (line " +
                 std::to_string(implicit_[implicit].line) + ")");
    }
  } else {
    member.url = url.value();
    member.url.path.clear();
    member.name = origin;
    member.line = line_;
    st = CheckMember(member, cping);
    if (!st.ok()) {
      return st;
    }
    implicit = static_cast<int>(implicit_.size());
    implicit_.push_back(ImplicitBalancer{origin, std::move(member), line_});
    implicit_index_[origin] = implicit;
  }
  refs_.push_back(BalancerRef{false, index, "", implicit, line_, directive_});
  cfg_->server.rules.push_back(std::move(r));
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Members and balancers.

Status Builder::MemberKey(const std::string& key, const std::string& v, MemberConfig* m,
                          bool* cping) {
  if (v.empty()) {
    return Err(key + " needs a value (" + key + "=...)");
  }
  int64_t n = 0;
  Status st;
  if (key == "route" || key == "redirect") {
    if (v.size() > kMaxRoute) {
      return Err(key + " '" + v + "' longer than " + std::to_string(kMaxRoute) + " characters");
    }
    (key == "route" ? m->route : m->redirect) = v;
  } else if (key == "loadfactor") {
    auto h = core::ParseHundredths(v);
    if (!h) {
      return Err("loadfactor '" + v + "' is not a number (1-100, at most two decimals)");
    }
    if (*h < 100 || *h > 10000) {
      return Err("loadfactor '" + v + "' out of range 1-100");
    }
    m->lbfactor = static_cast<int>(*h);
  } else if (key == "lbset") {
    st = Int(v, 0, 99, &n, key);
    m->lbset = static_cast<int>(n);
  } else if (key == "status") {
    uint32_t flags = m->status;
    if (!ApplyStatusString(v, &flags)) {
      return Err("status '" + v + "' is not +/- and letters of I N D H R S E C (e.g. +H, -E, +DS)");
    }
    m->status = flags;
  } else if (key == "retry") {
    st = Duration(v, 0, kDay, &m->retry_ms, key);
  } else if (key == "timeout") {
    st = Duration(v, 1, kDay, &m->timeout_ms, key);
  } else if (key == "connectiontimeout") {
    st = Duration(v, 1, kDay, &m->connect_timeout_ms, key);
  } else if (key == "disablereuse") {
    st = Bool(v, &m->disablereuse, key);
  } else if (key == "enablereuse") {
    bool on = true;
    st = Bool(v, &on, key);
    m->disablereuse = !on;
  } else if (key == "max") {
    st = Int(v, 0, 1000000, &n, key);
    m->max = static_cast<int>(n);
  } else if (key == "secret") {
    m->secret = v;
  } else if (key == "ping") {
    st = Duration(v, 1, kDay, &m->ping_ms, key);
  } else if (key == "iobuffersize") {
    st = Int(v, 0, 1048576, &n, key);
    if (st.ok() && n != 0 && n < 512) {
      return Err("iobuffersize '" + v + "' must be 0 or at least 512 (Apache's rule)");
    }
    m->iobuffersize = static_cast<int>(n);
  } else if (key == "hcmethod") {
    static const std::pair<const char*, HealthCheck::Method> kMethods[] = {
        {"GET", HealthCheck::Method::kGet},         {"HEAD", HealthCheck::Method::kHead},
        {"OPTIONS", HealthCheck::Method::kOptions}, {"TCP", HealthCheck::Method::kTcp},
        {"CPING", HealthCheck::Method::kCping},
    };
    bool ok = false;
    for (const auto& [name, method] : kMethods) {
      if (core::IEquals(v, name)) {
        m->hc.method = method;
        *cping = core::IEquals(v, "CPING");
        ok = true;
      }
    }
    if (!ok) {
      return Err("hcmethod '" + v + "' is not GET, HEAD, OPTIONS, TCP or CPING");
    }
  } else if (key == "hcuri") {
    if (v[0] != '/') {
      return Err("hcuri '" + v + "' must start with '/'");
    }
    m->hc.uri = v;
  } else if (key == "hcinterval") {
    st = Duration(v, 1000, kDay, &m->hc.interval_ms, key);
  } else if (key == "hcpasses") {
    st = Int(v, 1, 1000, &n, key);
    m->hc.passes = static_cast<int>(n);
  } else if (key == "hcfails") {
    st = Int(v, 1, 1000, &n, key);
    m->hc.fails = static_cast<int>(n);
  } else if (key == "slowstart") {
    st = Duration(v, 0, kDay, &m->slowstart_ms, key);
  } else {
    return Err("unknown key '" + key + "'");
  }
  return st;
}

Status Builder::CheckMember(const MemberConfig& m, bool cping) const {
  if (cping && m.url.scheme != Scheme::kAjp) {
    return Err("hcmethod CPING is only for ajp:// members");
  }
  if (!m.secret.empty() && m.url.scheme != Scheme::kAjp) {
    return Err("secret is only for ajp:// members");
  }
  return Status::Ok();
}

Status Builder::BalancerMember(const std::string& v) {
  std::vector<std::string> w;
  Status st = Words(v, &w);
  if (!st.ok()) {
    return st;
  }
  if (w.empty()) {
    return Err("missing URL");
  }
  auto url = ParseUrl(w[0]);
  if (!url.ok()) {
    return Err(url.status().message());
  }
  MemberConfig m;
  m.url = url.value();
  m.name = m.url.Origin() + m.url.path;
  m.line = line_;
  bool cping = false;
  for (size_t i = 1; i < w.size(); ++i) {
    size_t eq = w[i].find('=');
    if (eq == std::string::npos || eq == 0) {
      return Err("'" + w[i] + "' is not key=value");
    }
    st = MemberKey(core::ToLower(w[i].substr(0, eq)), w[i].substr(eq + 1), &m, &cping);
    if (!st.ok()) {
      return st;
    }
  }
  st = CheckMember(m, cping);
  if (!st.ok()) {
    return st;
  }
  BalancerConfig& b = cfg_->balancers[balancer_];
  for (const MemberConfig& other : b.members) {
    if (other.name == m.name) {
      return Err("'" + m.name + "' is already a member of balancer '" + b.name + "' (line " +
                 std::to_string(other.line) + ")");
    }
    if (!m.route.empty() && other.route == m.route) {
      return Err("route '" + m.route + "' is already used by '" + other.name + "' (line " +
                 std::to_string(other.line) + ")");
    }
  }
  b.members.push_back(std::move(m));
  return Status::Ok();
}

Status Builder::BalancerKey(const std::string& key, const std::string& v, BalancerConfig* b) {
  if (v.empty()) {
    return Err(key + " needs a value (" + key + "=...)");
  }
  int64_t n = 0;
  Status st;
  if (key == "lbmethod") {
    if (core::IEquals(v, "byrequests")) {
      b->lbmethod = LbMethod::kByRequests;
    } else if (core::IEquals(v, "bybusyness")) {
      b->lbmethod = LbMethod::kByBusyness;
    } else if (core::IEquals(v, "bytraffic")) {
      b->lbmethod = LbMethod::kByTraffic;
    } else {
      return Err("lbmethod '" + v + "' is not byrequests, bybusyness or bytraffic");
    }
  } else if (key == "stickysession") {
    size_t bar = v.find('|');
    std::string cookie = v.substr(0, bar);
    std::string param = bar == std::string::npos ? cookie : v.substr(bar + 1);
    if ((cookie.empty() && param.empty()) || param.find('|') != std::string::npos) {
      return Err("stickysession '" + v + "' is not NAME or COOKIENAME|URLPARAMNAME");
    }
    b->sticky_cookie = cookie;
    b->sticky_urlparam = param;
  } else if (key == "stickysessionsep") {
    if (core::IEquals(v, "off")) {
      b->sticky_sep.clear();
    } else if (v.size() == 1) {
      b->sticky_sep = v;
    } else {
      return Err("stickysessionsep '" + v + "' is not one character or Off");
    }
  } else if (key == "scolonpathdelim") {
    st = Bool(v, &b->scolonpathdelim, key);
  } else if (key == "nofailover") {
    st = Bool(v, &b->nofailover, key);
  } else if (key == "maxattempts") {
    st = Int(v, 0, 99, &n, key);
    b->maxattempts = static_cast<int>(n);
  } else if (key == "failonstatus") {
    std::vector<int> codes;
    for (std::string_view c : core::Split(v, ',')) {
      std::string code(c);
      st = Int(code, 100, 599, &n, key);
      if (!st.ok()) {
        return st;
      }
      codes.push_back(static_cast<int>(n));
    }
    b->failonstatus = std::move(codes);
  } else if (key == "failontimeout") {
    st = Bool(v, &b->failontimeout, key);
  } else if (key == "forcerecovery") {
    st = Bool(v, &b->forcerecovery, key);
  } else if (key == "timeout") {
    st = Duration(v, 0, kDay, &b->timeout_ms, key);
  } else if (key == "stickysessioninsert") {
    st = Bool(v, &b->stickysessioninsert, key);
  } else if (key == "growth") {
    st = Int(v, 0, 100, &n, key);
    b->growth = static_cast<int>(n);
  } else {
    return Err("unknown key '" + key + "'");
  }
  return st;
}

Status Builder::ProxySet(const std::string& v) {
  std::vector<std::string> w;
  Status st = Words(v, &w);
  if (!st.ok()) {
    return st;
  }
  BalancerConfig& b = cfg_->balancers[balancer_];
  for (const std::string& kv : w) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Err("'" + kv + "' is not key=value");
    }
    st = BalancerKey(core::ToLower(kv.substr(0, eq)), kv.substr(eq + 1), &b);
    if (!st.ok()) {
      return st;
    }
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Checks that need the whole file.

Status Builder::Finish() {
  Config& c = *cfg_;
  ServerConfig& s = c.server;
  std::vector<std::pair<int, std::string>> errors;

  size_t declared = c.balancers.size();
  for (ImplicitBalancer& ib : implicit_) {
    BalancerConfig b;
    b.name = ib.origin;
    b.implicit = true;
    // A plain worker, as Apache's: in error it answers 503 until its rety window
    // ends; there is no other member, so force-recovery would hammer a dead backend.
    b.forcerecovery = false;
    b.line = ib.line;
    b.members.push_back(std::move(ib.member));
    c.balancers.push_back(std::move(b));
  }
  for (const BalancerRef& ref : refs_) {
    int index = -1;
    if (ref.implicit >= 0) {
      index = static_cast<int>(declared) + ref.implicit;
    } else {
      for (size_t i = 0; i < declared; ++i) {
        if (c.balancers[i].name == ref.name) {
          index = static_cast<int>(i);
        }
      }
      if (index < 0) {
        errors.emplace_back(
            ref.line, std::string(ref.directive) + ": balancer '" + ref.name + "' is not defined");
        continue;
      }
    }
    if (ref.reverse) {
      s.reverse[ref.index].balancer = index;
    } else {
      s.rules[ref.index].balancer = index;
    }
  }
  for (size_t i = 0; i < declared; ++i) {
    const BalancerConfig& b = c.balancers[i];
    if (b.members.empty()) {
      errors.emplace_back(b.line, "balancer '" + b.name + "' has no BalancerMember");
    }
    for (const MemberConfig& m : b.members) {
      if (m.redirect.empty()) {
        continue;
      }
      bool found = std::any_of(b.members.begin(), b.members.end(),
                               [&](const MemberConfig& o) { return o.route == m.redirect; });
      if (!found) {
        errors.emplace_back(m.line, "BalancerMember: redirect '" + m.redirect +
                                        "' is not the route of a member of balancer '" + b.name +
                                        "'");
      }
    }
  }
  if (s.ssl_certificate_key_file.empty()) {
    s.ssl_certificate_key_file = s.ssl_certificate_file;
  }
  if (!s.ssl_certificates.empty() && s.ssl_certificate_file.empty()) {
    errors.emplace_back(s.ssl_certificates[0].line,
                        "SSLCertificate: needs SSLCertificateFile (the default certificate) in "
                        "[server]");
  }
  for (const ListenConfig& l : s.listens) {
    if (l.ssl && s.ssl_certificate_file.empty()) {
      errors.emplace_back(l.line, "Listen: '" + l.text + "' needs SSLCertificateFile in [server]");
    }
  }
  if (!s.balancer_manager.empty() && s.balancer_manager == s.metrics) {
    errors.emplace_back(std::max(seen_["server balancermanager"], seen_["server metrics"]),
                        "BalancerManager and Metrics use the same path '" + s.metrics + "'");
  }
  if (!errors.empty()) {
    auto first = std::min_element(errors.begin(), errors.end(),
                                  [](const auto& a, const auto& b) { return a.first < b.first; });
    return ErrAt(first->first, first->second);
  }
  if (s.listens.empty()) {
    return Status::Error(options_.file + ": no Listen directive in [server]");
  }
  if (s.proxy_timeout_ms < 0) {
    s.proxy_timeout_ms = s.timeout_ms;
  }
  if (s.server_name.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof(host) - 1) == 0 && host[0] != '\0') {
      s.server_name = host;
    } else {
      s.server_name = "localhost";
    }
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Dump.

// Where a written (quoted) word longer than `room` may be cut onto the next
// continuation line: the last single space at or before `room` whose
// neighbours are not blank and after which no ';' or '#' follows (the reader
// joins continuation lines with one space after trimming them, and a line
// starting with ';' or '#' is a comment). When the word has no such space
// that early (its first run without spaces is longer than `room`), the first
// one after it, so that the over-long run gets a line of its own and what
// follows still wraps; a run that came from one input line fits a line. npos
// when there is none at all.
size_t WordCut(std::string_view q, size_t room) {
  auto cuttable = [q](size_t k) {
    return q[k] == ' ' && q[k - 1] != ' ' && q[k - 1] != '\t' && q[k + 1] != ' ' &&
           q[k + 1] != '\t' && q[k + 1] != ';' && q[k + 1] != '#';
  };
  if (q.size() < 3) {
    return std::string_view::npos;
  }
  for (size_t k = std::min(room, q.size() - 2); k > 0; --k) {
    if (cuttable(k)) {
      return k;
    }
  }
  for (size_t k = room + 1; k + 1 < q.size(); ++k) {
    if (cuttable(k)) {
      return k;
    }
  }
  return std::string_view::npos;
}

class Writer {
 public:
  // `name = w0 w1 ...`, wrapped onto indented continuation lines.
  void Directive(const char* name, const std::vector<std::string>& words) {
    std::vector<std::string> quoted;
    quoted.reserve(words.size());
    for (const std::string& word : words) {
      quoted.push_back(Quote(word));
    }
    DirectiveQuoted(name, quoted);
  }
  void Directive(const char* name, const std::string& word) {
    Directive(name, std::vector<std::string>{word});
  }
  // The same with words already quoted. A word too long for a line of its own
  // (a quoted log format joined from continuation lines, say) is cut at single
  // spaces onto further continuation lines, which read back as the same word.
  void DirectiveQuoted(const char* name, const std::vector<std::string>& quoted) {
    std::string line = std::string(name) + " =";
    for (size_t i = 0; i < quoted.size(); ++i) {
      std::string_view q = quoted[i];
      if (i > 0 && line.size() + 1 + q.size() > kDumpWrap) {
        out_ << line << "\n";
        line = "   ";
      }
      while (line.size() + 1 + q.size() > kDumpWrap && q.size() > 1) {
        const size_t cut = WordCut(q, kDumpWrap - std::min(kDumpWrap, line.size() + 1));
        if (cut == std::string_view::npos) {
          break;
        }
        line += ' ';
        line.append(q.substr(0, cut));
        out_ << line << "\n";
        line = "   ";
        q.remove_prefix(cut + 1);
      }
      line += ' ';
      line.append(q);
    }
    out_ << line << "\n";
  }
  void Raw(const std::string& text) { out_ << text; }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

const char* HcMethodName(HealthCheck::Method m) {
  switch (m) {
    case HealthCheck::Method::kGet:
      return "GET";
    case HealthCheck::Method::kHead:
      return "HEAD";
    case HealthCheck::Method::kOptions:
      return "OPTIONS";
    case HealthCheck::Method::kTcp:
      return "TCP";
    case HealthCheck::Method::kCping:
      return "CPING";
    case HealthCheck::Method::kNone:
      break;
  }
  return "";
}

void AppendMemberKeys(const MemberConfig& m, const ServerConfig& s, std::vector<std::string>* w) {
  if (!m.route.empty()) {
    w->push_back("route=" + m.route);
  }
  if (!m.redirect.empty()) {
    w->push_back("redirect=" + m.redirect);
  }
  w->push_back("loadfactor=" + FormatHundredths(m.lbfactor));
  w->push_back("lbset=" + std::to_string(m.lbset));
  if (m.status != 0) {
    w->push_back("status=+" + StatusLetters(m.status));
  }
  int64_t timeout = m.timeout_ms >= 0 ? m.timeout_ms : s.proxy_timeout_ms;
  int64_t connect = m.connect_timeout_ms >= 0 ? m.connect_timeout_ms : timeout;
  w->push_back("retry=" + FormatDuration(m.retry_ms));
  w->push_back("timeout=" + FormatDuration(timeout));
  w->push_back("connectiontimeout=" + FormatDuration(connect));
  w->push_back(std::string("disablereuse=") + OnOff(m.disablereuse));
  w->push_back("max=" + std::to_string(m.max));
  if (!m.secret.empty()) {
    w->push_back("secret=" + m.secret);
  }
  if (m.ping_ms != 0) {
    w->push_back("ping=" + FormatDuration(m.ping_ms));
  }
  if (m.iobuffersize != 0) {
    w->push_back("iobuffersize=" + std::to_string(m.iobuffersize));
  }
  const HealthCheck& hc = m.hc;
  HealthCheck def;
  if (hc.method != HealthCheck::Method::kNone) {
    w->push_back(std::string("hcmethod=") + HcMethodName(hc.method));
  }
  if (!hc.uri.empty()) {
    w->push_back("hcuri=" + hc.uri);
  }
  if (hc.method != HealthCheck::Method::kNone || hc.interval_ms != def.interval_ms ||
      hc.passes != def.passes || hc.fails != def.fails) {
    w->push_back("hcinterval=" + FormatDuration(hc.interval_ms));
    w->push_back("hcpasses=" + std::to_string(hc.passes));
    w->push_back("hcfails=" + std::to_string(hc.fails));
  }
  if (m.slowstart_ms != 0) {
    w->push_back("slowstart=" + FormatDuration(m.slowstart_ms));
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Public functions of config.h.

int AjpPacketSize(int iobuffersize) {
  if (iobuffersize <= 0) {
    return 8192;
  }
  int n = (iobuffersize + 1023) / 1024 * 1024;
  return n < 8192 ? 8192 : n > 65536 ? 65536 : n;
}

bool ApplyStatusString(const std::string& spec, uint32_t* flags) {
  static const std::pair<char, uint32_t> kLetters[] = {
      {'I', kFlagIgnoreErrors}, {'N', kFlagDrain},   {'D', kFlagDisabled}, {'H', kFlagStandby},
      {'R', kFlagSpare},        {'S', kFlagStopped}, {'E', kFlagError},    {'C', kFlagHcFailed},
  };
  uint32_t f = *flags;
  bool set = true;
  bool any = false;
  for (char c : spec) {
    if (c == '+') {
      set = true;
      continue;
    }
    if (c == '-') {
      set = false;
      continue;
    }
    char u = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
    bool known = false;
    for (const auto& [letter, bit] : kLetters) {
      if (letter == u) {
        f = set ? (f | bit) : (f & ~bit);
        known = true;
      }
    }
    if (!known) {
      return false;
    }
    any = true;
  }
  if (!any) {
    return false;
  }
  *flags = f;
  return true;
}

std::string StatusLetters(uint32_t flags) {
  static const std::pair<char, uint32_t> kOrder[] = {
      {'I', kFlagIgnoreErrors}, {'N', kFlagDrain},   {'D', kFlagDisabled}, {'H', kFlagStandby},
      {'R', kFlagSpare},        {'S', kFlagStopped}, {'E', kFlagError},    {'C', kFlagHcFailed},
  };
  std::string out;
  for (const auto& [letter, bit] : kOrder) {
    if ((flags & bit) != 0) {
      out += letter;
    }
  }
  return out;
}

const char* SchemeName(Scheme s) {
  switch (s) {
    case Scheme::kHttp:
      return "http";
    case Scheme::kHttps:
      return "https";
    case Scheme::kAjp:
      return "ajp";
  }
  return "http";
}

const char* LbMethodName(LbMethod m) {
  switch (m) {
    case LbMethod::kByRequests:
      return "byrequests";
    case LbMethod::kByBusyness:
      return "bybusyness";
    case LbMethod::kByTraffic:
      return "bytraffic";
  }
  return "byrequests";
}

std::string Url::Origin() const {
  return std::string(SchemeName(scheme)) + "://" + HostPort(host, port);
}

// scheme://host[:port][/path]. The scheme and host are lower-cased; IPv6 hosts
// are bracketed and normalised; the path is kept as written ($n references of
// ProxyPassMatch targets included). No user info, query or fragment.
core::Result<Url> ParseUrl(const std::string& text) {
  auto bad = [&](const std::string& why) { return Status::Error("url '" + text + "': " + why); };
  size_t sep = text.find("://");
  if (sep == std::string::npos) {
    return bad("not an absolute URL (http://, https:// or ajp://)");
  }
  std::string scheme = core::ToLower(std::string_view(text).substr(0, sep));
  Url u;
  if (scheme == "http") {
    u.scheme = Scheme::kHttp;
    u.port = 80;
  } else if (scheme == "https") {
    u.scheme = Scheme::kHttps;
    u.port = 443;
  } else if (scheme == "ajp") {
    u.scheme = Scheme::kAjp;
    u.port = 8009;
  } else {
    return bad("unsupported scheme '" + scheme + "' (http://, https:// or ajp://)");
  }
  std::string_view rest = std::string_view(text).substr(sep + 3);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) {
    return bad("user info is not supported");
  }
  if (path.find_first_of("?# \t") != std::string_view::npos ||
      authority.find_first_of("?#") != std::string_view::npos) {
    return bad("a query or fragment is not allowed");
  }
  std::string host;
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return bad("missing ']'");
    }
    auto norm = NormalizeIp(std::string(authority.substr(1, close - 1)), true);
    if (!norm) {
      return bad("invalid IPv6 address '" + std::string(authority.substr(1, close - 1)) + "'");
    }
    host = *norm;
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        return bad("unexpected text after ']'");
      }
      port = after.substr(1);
      has_port = true;
    }
  } else {
    size_t colon = authority.find(':');
    host = core::ToLower(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      has_port = true;
    }
    if (host.empty()) {
      return bad("missing host");
    }
    if (host.size() > 253 || host[0] == '.' || host[0] == '-' ||
        !std::all_of(host.begin(), host.end(), IsNameChar)) {
      return bad("invalid host '" + host + "'");
    }
  }
  if (has_port) {
    auto p = core::ParseInt(port, 1, 65535);
    if (!p) {
      return bad("port '" + std::string(port) + "' out of range 1-65535");
    }
    u.port = static_cast<uint16_t>(*p);
  }
  u.host = host;
  u.path = std::string(path);
  return u;
}

int Config::FindBalancer(const std::string& name) const {
  for (size_t i = 0; i < balancers.size(); ++i) {
    if (balancers[i].name == name) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

core::Result<std::shared_ptr<const Config>> LoadFromString(const std::string& text,
                                                           const LoadOptions& options) {
  auto ini = ReadIniString(text, options.file);
  if (!ini.ok()) {
    return ini.status();
  }
  Builder builder(options, std::move(ini.value()));
  return builder.Build();
}

core::Result<std::shared_ptr<const Config>> Load(const LoadOptions& options) {
  auto ini = ReadIniFile(options.file);
  if (!ini.ok()) {
    return ini.status();
  }
  Builder builder(options, std::move(ini.value()));
  return builder.Build();
}

std::string Dump(const Config& c) {
  Writer w;
  const GlobalConfig& g = c.global;
  const ServerConfig& s = c.server;
  std::string header =
      "# drover: effective configuration of " + c.file + " (prefix " + c.prefix + ")";
  w.Raw((header.size() <= kDumpWrap ? header : "# drover: effective configuration") + "\n");
  w.Raw("\n[global]\n");
  w.Directive("User", g.user);
  w.Directive("Group", g.group);
  w.Directive("WorkerProcesses",
              g.worker_processes == 0 ? "auto" : std::to_string(g.worker_processes));
  w.Directive("WorkerConnections", std::to_string(g.worker_connections));
  w.Directive("PidFile", g.pid_file);
  w.Directive("ErrorLog", g.error_log);
  w.Directive("LogLevel", core::LogLevelName(g.log_level));
  w.Directive("GracefulShutdownTimeout", FormatDuration(g.graceful_shutdown_timeout_ms));

  w.Raw("\n[server]\n");
  for (const ListenConfig& l : s.listens) {
    std::vector<std::string> words = {HostPort(l.host, l.port)};
    if (l.ssl) {
      words.push_back("ssl");
    }
    w.Directive("Listen", words);
  }
  w.Directive("AcceptFilter",
              std::vector<std::string>{"http", s.accept_filter_http ? "data" : "none"});
  w.Directive("AcceptFilter",
              std::vector<std::string>{"https", s.accept_filter_https ? "data" : "none"});
  w.Directive("ServerName", s.server_name);
  if (s.access_log.empty()) {
    w.Directive("CustomLog", "off");
  } else if (s.access_format_name == "common" || s.access_format_name == "combined") {
    w.Directive("CustomLog", std::vector<std::string>{s.access_log, s.access_format_name});
  } else {
    w.DirectiveQuoted("CustomLog", {Quote(s.access_log), QuoteAlways(s.access_format)});
  }
  w.Directive("Timeout", FormatDuration(s.timeout_ms));
  w.Directive("RequestHeaderTimeout", FormatDuration(s.request_header_timeout_ms));
  w.Directive("RequestBodyTimeout", FormatDuration(s.request_body_timeout_ms));
  w.Directive("RequestBodyMinRate", std::to_string(s.request_body_min_rate));
  w.Directive("KeepAliveTimeout", FormatDuration(s.keepalive_timeout_ms));
  w.Directive("MaxKeepAliveRequests", std::to_string(s.max_keepalive_requests));
  w.Directive("LimitRequestLine", std::to_string(s.limit_request_line));
  w.Directive("LimitRequestFieldSize", std::to_string(s.limit_request_field_size));
  w.Directive("LimitRequestFields", std::to_string(s.limit_request_fields));
  w.Directive("LimitRequestBody", std::to_string(s.limit_request_body));
  w.Directive("ProxyTimeout",
              FormatDuration(s.proxy_timeout_ms >= 0 ? s.proxy_timeout_ms : s.timeout_ms));
  w.Directive("ProxyPreserveHost", OnOff(s.preserve_host));
  w.Directive("ProxyAddHeaders", OnOff(s.add_headers));
  w.Directive("ProxyVia", OnOff(s.via));
  std::vector<bool> keys_written(c.balancers.size(), false);
  for (const ProxyRule& r : s.rules) {
    std::vector<std::string> words = {r.pattern, r.target};
    if (r.noquery) {
      words.push_back("noquery");
    }
    // The implicit member's keys go on the first rule that names its origin.
    if (r.balancer >= 0 && static_cast<size_t>(r.balancer) < c.balancers.size() &&
        c.balancers[r.balancer].implicit && !keys_written[r.balancer] &&
        !c.balancers[r.balancer].members.empty()) {
      keys_written[r.balancer] = true;
      AppendMemberKeys(c.balancers[r.balancer].members[0], s, &words);
    }
    w.Directive(r.is_regex ? "ProxyPassMatch" : "ProxyPass", words);
  }
  for (const ReverseRule& r : s.reverse) {
    w.Directive("ProxyPassReverse", std::vector<std::string>{r.path, r.url});
  }
  for (const CookieRule& r : s.cookie_domain) {
    w.Directive("ProxyPassReverseCookieDomain", std::vector<std::string>{r.internal, r.pub});
  }
  for (const CookieRule& r : s.cookie_path) {
    w.Directive("ProxyPassReverseCookiePath", std::vector<std::string>{r.internal, r.pub});
  }
  w.Directive("BalancerManager", s.balancer_manager.empty() ? "off" : s.balancer_manager);
  w.Directive("Metrics", s.metrics.empty() ? "off" : s.metrics);
  if (s.status_allow.empty()) {
    w.Raw("# StatusAllow = (nobody)\n");
  } else {
    w.Directive("StatusAllow", s.status_allow);
  }
  auto optional = [&](const char* name, const std::string& value, const char* unset) {
    if (value.empty()) {
      w.Raw(std::string("# ") + name + " = " + unset + "\n");
    } else {
      w.Directive(name, value);
    }
  };
  optional("SSLCertificateFile", s.ssl_certificate_file, "(none)");
  optional("SSLCertificateKeyFile", s.ssl_certificate_key_file, "(the certificate file)");
  for (const SslCertificateConfig& sc : s.ssl_certificates) {
    w.Directive("SSLCertificate",
                std::vector<std::string>{sc.server_name, sc.certificate_file, sc.key_file});
  }
  w.Directive("SSLProtocol", s.ssl_protocol);
  optional("SSLCipherSuite", s.ssl_cipher_suite, "(OpenSSL default)");
  if (s.ssl_cipher_suite_tls13.empty()) {
    w.Raw("# SSLCipherSuite = TLSv1.3 (OpenSSL default)\n");
  } else {
    w.Directive("SSLCipherSuite", std::vector<std::string>{"TLSv1.3", s.ssl_cipher_suite_tls13});
  }
  w.Directive("SSLSessionTickets", OnOff(s.ssl_session_tickets));
  w.Directive("SSLSessionTicketKeyRotation", FormatDuration(s.ssl_session_ticket_key_rotation_ms));
  w.Directive("SSLProxyVerify", s.ssl_proxy_verify ? "require" : "none");
  optional("SSLProxyCACertificateFile", s.ssl_proxy_ca_certificate_file, "(system store)");
  w.Directive("SSLProxyCheckPeerName", OnOff(s.ssl_proxy_check_peer_name));
  optional("SSLProxyMachineCertificateFile", s.ssl_proxy_machine_certificate_file, "(none)");

  for (const BalancerConfig& b : c.balancers) {
    if (b.implicit) {
      continue;
    }
    w.Raw("\n[balancer://" + b.name + "]\n");
    for (const MemberConfig& m : b.members) {
      std::vector<std::string> words = {m.name};
      AppendMemberKeys(m, s, &words);
      w.Directive("BalancerMember", words);
    }
    std::vector<std::string> words = {std::string("lbmethod=") + LbMethodName(b.lbmethod)};
    if (!b.sticky_cookie.empty() || !b.sticky_urlparam.empty()) {
      words.push_back("stickysession=" + (b.sticky_cookie == b.sticky_urlparam
                                              ? b.sticky_cookie
                                              : b.sticky_cookie + "|" + b.sticky_urlparam));
    }
    words.push_back("stickysessionsep=" + (b.sticky_sep.empty() ? "Off" : b.sticky_sep));
    words.push_back(std::string("scolonpathdelim=") + OnOff(b.scolonpathdelim));
    words.push_back(std::string("nofailover=") + OnOff(b.nofailover));
    words.push_back("maxattempts=" + std::to_string(std::max(0, b.MaxAttempts())));
    if (!b.failonstatus.empty()) {
      std::string list;
      for (int code : b.failonstatus) {
        list += (list.empty() ? "" : ",") + std::to_string(code);
      }
      words.push_back("failonstatus=" + list);
    }
    words.push_back(std::string("failontimeout=") + OnOff(b.failontimeout));
    words.push_back(std::string("forcerecovery=") + OnOff(b.forcerecovery));
    words.push_back("timeout=" + FormatDuration(b.timeout_ms));
    words.push_back(std::string("stickysessioninsert=") + OnOff(b.stickysessioninsert));
    words.push_back("growth=" + std::to_string(b.growth));
    w.Directive("ProxySet", words);
  }
  return w.str();
}

}  // namespace drover::config
