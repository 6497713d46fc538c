// StatusContext: the balancer-manager's request handling (page, JSON, form
// posts, JSON API), the nonce and StatusAllow. Runs in workers, one context
// per worker; pure request -> response code (no libevent, no sockets).
//
// Routes (PATH = ServerConfig::balancer_manager):
//   GET  PATH                       HTML page (?format=json: the JSON document)
//   POST PATH                       the page's forms (form-urlencoded, field nonce)
//   GET  PATH/api                   the JSON document
//   GET  PATH/api/B                 balancer B      PUT: edit {lbmethod, nofailover,
//                                                         maxattempts, timeout|timeout_ms}
//   GET  PATH/api/B/members         its members     POST: add {url, route, redirect,
//                                                         loadfactor, lbset, status}
//   GET  PATH/api/B/members/REF     one member      PUT: edit {loadfactor, lbset, route,
//                                                         redirect, status:"+D-S"}; DELETE
// REF is an index, a member URL (percent-encoded) or a route. Mutations need
// the nonce (X-Drover-Nonce header, or a "nonce" field) and, when the browser
// sends Origin or Referer, a same-origin one; else 403.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>

#include "core/strings.h"
#include "status/json.h"
#include "status/members.h"
#include "status/render.h"
#include "status/status.h"
#include "status/text.h"

namespace drover::status {
namespace {

constexpr std::string_view kNonceLabel = "drover balancer-manager nonce v1";
constexpr size_t kNonceHexChars = 32;  // 128 bits

void CommonHeaders(StatusResponse* r) {
  r->headers.emplace_back("Cache-Control", "no-store");
  r->headers.emplace_back("X-Content-Type-Options", "nosniff");
}

StatusResponse Text(int status, std::string message) {
  StatusResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(message) + "\n";
  CommonHeaders(&r);
  return r;
}

StatusResponse Json(int status, std::string body) {
  StatusResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  if (r.body.empty() || r.body.back() != '\n') {
    r.body.push_back('\n');
  }
  CommonHeaders(&r);
  return r;
}

StatusResponse JsonError(int status, std::string_view message) {
  return Json(status, "{\"error\":" + json::Quote(message) + "}");
}

StatusResponse MethodNotAllowed(const char* allow, bool api) {
  StatusResponse r = api ? JsonError(405, "method not allowed") : Text(405, "method not allowed");
  r.headers.emplace_back("Allow", allow);
  return r;
}

std::string Hex(const unsigned char* p, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[p[i] >> 4]);
    out.push_back(kHex[p[i] & 15]);
  }
  return out;
}

// "http://Host:8080/x" -> "Host:8080"; "" when there is no "//".
std::string_view Authority(std::string_view url) {
  size_t p = url.find("//");
  if (p == std::string_view::npos) {
    return std::string_view();
  }
  std::string_view rest = url.substr(p + 2);
  return rest.substr(0, rest.find_first_of("/?#"));
}

bool IsFormType(std::string_view ct) {
  std::string_view t = core::Trim(ct.substr(0, ct.find(';')));
  return core::IEquals(t, "application/x-www-form-urlencoded");
}

bool IsJsonType(std::string_view ct) {
  std::string_view t = core::Trim(ct.substr(0, ct.find(';')));
  return t.empty() || core::IEquals(t, "application/json") ||
         (t.size() > 5 && core::IEquals(t.substr(t.size() - 5), "+json"));
}

std::string_view TrimTrailingSlash(std::string_view s) {
  while (s.size() > 1 && s.back() == '/') {
    s.remove_suffix(1);
  }
  return s;
}

// Path segments after PATH/api, percent-decoded. nullopt on a bad escape.
std::optional<std::vector<std::string>> Segments(std::string_view rest) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < rest.size()) {
    size_t slash = rest.find('/', pos);
    std::string_view seg = rest.substr(pos, slash == std::string_view::npos ? rest.npos : slash - pos);
    if (!seg.empty()) {
      std::string d;
      if (!PercentDecode(seg, false, &d)) {
        return std::nullopt;
      }
      out.push_back(std::move(d));
    }
    if (slash == std::string_view::npos) {
      break;
    }
    pos = slash + 1;
  }
  return out;
}

// --- JSON field helpers --------------------------------------------------------

std::optional<std::string> JsonString(const json::Value& v, std::string_view key,
                                      std::string* out) {
  if (v.type != json::Value::Type::kString) {
    return std::string(key) + " must be a string";
  }
  *out = v.text;
  return std::nullopt;
}

std::optional<std::string> JsonInt(const json::Value& v, std::string_view key, int64_t lo,
                                   int64_t hi, int64_t* out) {
  std::optional<int64_t> n;
  if (v.type == json::Value::Type::kNumber || v.type == json::Value::Type::kString) {
    n = core::ParseInt(v.text, lo, hi);
  }
  if (!n) {
    return std::string(key) + " must be an integer " + std::to_string(lo) + "-" +
           std::to_string(hi);
  }
  *out = *n;
  return std::nullopt;
}

std::optional<std::string> JsonLoadfactor(const json::Value& v, int* out) {
  std::optional<int> lf;
  if (v.type == json::Value::Type::kNumber || v.type == json::Value::Type::kString) {
    lf = ParseLoadfactor(v.text);
  }
  if (!lf) {
    return std::string("loadfactor must be a number 1-100 with at most two decimals");
  }
  *out = *lf;
  return std::nullopt;
}

// For a new member: "" = no flags (enabled), else letters applied to none.
std::optional<std::string> JsonNewStatus(const json::Value& v, uint32_t* out) {
  if (v.type != json::Value::Type::kString) {
    return std::string("status must be a string such as \"+D\" or \"\"");
  }
  uint32_t set = 0;
  uint32_t clear = 0;
  if (!v.text.empty() && !ParseStatusChange(v.text, &set, &clear)) {
    return "status '" + v.text + "' is not +/- and letters of I N D H R S E C";
  }
  *out = set;
  return std::nullopt;
}

std::optional<std::string> ParseMemberEdit(const json::Value& obj, MemberEdit* e) {
  for (size_t i = 0; i < obj.keys.size(); ++i) {
    const std::string& k = obj.keys[i];
    const json::Value& v = obj.items[i];
    std::optional<std::string> err;
    if (k == "loadfactor") {
      int lf = 0;
      err = JsonLoadfactor(v, &lf);
      e->lbfactor = lf;
    } else if (k == "lbset") {
      int64_t n = 0;
      err = JsonInt(v, k, 0, 99, &n);
      e->lbset = static_cast<int>(n);
    } else if (k == "route" || k == "redirect") {
      std::string s;
      err = JsonString(v, k, &s);
      (k == "route" ? e->route : e->redirect) = s;
    } else if (k == "status") {
      if (v.type != json::Value::Type::kString ||
          !ParseStatusChange(v.text, &e->set_flags, &e->clear_flags)) {
        err = "status must be a string of +/- and letters of I N D H R S E C, e.g. \"+D-S\"";
      }
    } else if (k != "nonce") {
      err = "unknown field '" + k + "'";
    }
    if (err) {
      return err;
    }
  }
  return std::nullopt;
}

std::optional<std::string> ParseNewMember(const json::Value& obj, NewMember* n) {
  bool has_url = false;
  for (size_t i = 0; i < obj.keys.size(); ++i) {
    const std::string& k = obj.keys[i];
    const json::Value& v = obj.items[i];
    std::optional<std::string> err;
    if (k == "url") {
      err = JsonString(v, k, &n->url);
      has_url = true;
    } else if (k == "route") {
      err = JsonString(v, k, &n->route);
    } else if (k == "redirect") {
      err = JsonString(v, k, &n->redirect);
    } else if (k == "loadfactor") {
      err = JsonLoadfactor(v, &n->lbfactor);
    } else if (k == "lbset") {
      int64_t x = 0;
      err = JsonInt(v, k, 0, 99, &x);
      n->lbset = static_cast<int>(x);
    } else if (k == "status") {
      uint32_t flags = 0;
      err = JsonNewStatus(v, &flags);
      n->status = flags;
    } else if (k != "nonce") {
      err = "unknown field '" + k + "'";
    }
    if (err) {
      return err;
    }
  }
  if (!has_url) {
    return std::string("url is required");
  }
  return std::nullopt;
}

std::optional<std::string> ParseBalancerEdit(const json::Value& obj, BalancerEdit* e) {
  for (size_t i = 0; i < obj.keys.size(); ++i) {
    const std::string& k = obj.keys[i];
    const json::Value& v = obj.items[i];
    std::optional<std::string> err;
    if (k == "lbmethod") {
      e->lbmethod = v.type == json::Value::Type::kString ? ParseLbMethod(v.text) : std::nullopt;
      if (!e->lbmethod) {
        err = "lbmethod must be byrequests, bybusyness or bytraffic";
      }
    } else if (k == "nofailover") {
      if (v.type == json::Value::Type::kBool) {
        e->nofailover = v.boolean;
      } else if (v.type == json::Value::Type::kString && core::ParseBool(v.text)) {
        e->nofailover = *core::ParseBool(v.text);
      } else {
        err = "nofailover must be true or false";
      }
    } else if (k == "maxattempts") {
      int64_t n = 0;
      err = JsonInt(v, k, -1, 99, &n);
      e->maxattempts = static_cast<int>(n);
    } else if (k == "timeout") {
      int64_t n = 0;
      err = JsonInt(v, "timeout (seconds)", 0, 7200, &n);
      e->timeout_ms = n * 1000;
    } else if (k == "timeout_ms") {
      int64_t n = 0;
      err = JsonInt(v, k, 0, 7200 * 1000, &n);
      e->timeout_ms = n;
    } else if (k != "nonce") {
      err = "unknown field '" + k + "' (editable: lbmethod, nofailover, maxattempts, timeout)";
    }
    if (err) {
      return err;
    }
  }
  return std::nullopt;
}

}  // namespace

StatusContext::StatusContext(const config::Config* config, shm::SlotTable* table,
                             std::vector<balancer::Balancer>* balancers, std::string nonce_secret)
    : config_(config), table_(table), balancers_(balancers) {
  if (!nonce_secret.empty()) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (HMAC(EVP_sha256(), nonce_secret.data(), static_cast<int>(nonce_secret.size()),
             reinterpret_cast<const unsigned char*>(kNonceLabel.data()), kNonceLabel.size(), mac,
             &len) != nullptr) {
      nonce_ = Hex(mac, len).substr(0, kNonceHexChars);
    }
    OPENSSL_cleanse(nonce_secret.data(), nonce_secret.size());
  }
  // The page's script is allowed by its hash; nothing else runs or loads.
  std::string_view script = PageScript();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int dlen = 0;
  std::string hash;
  if (EVP_Digest(script.data(), script.size(), digest, &dlen, EVP_sha256(), nullptr) == 1) {
    unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    int n = EVP_EncodeBlock(b64, digest, static_cast<int>(dlen));
    hash.assign(reinterpret_cast<char*>(b64), n > 0 ? static_cast<size_t>(n) : 0);
  }
  csp_ = "default-src 'none'; script-src 'sha256-" + hash +
         "'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; "
         "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
  for (const std::string& c : config_->server.status_allow) {
    size_t slash = c.find('/');
    Cidr cidr{};
    bool v4 = false;
    if (!ParseIp16(std::string_view(c).substr(0, slash), cidr.addr, &v4)) {
      continue;  // the config builder validated it
    }
    int max = v4 ? 32 : 128;
    int bits = max;
    if (slash != std::string::npos) {
      auto b = core::ParseInt(std::string_view(c).substr(slash + 1), 0, max);
      if (!b) {
        continue;
      }
      bits = static_cast<int>(*b);
    }
    cidr.bits = v4 ? bits + 96 : bits;
    allow_.push_back(cidr);
  }
}

bool StatusContext::Allowed(std::string_view client_ip) const {
  unsigned char a[16];
  bool v4 = false;
  if (!ParseIp16(client_ip, a, &v4)) {
    return false;
  }
  for (const Cidr& c : allow_) {
    int full = c.bits / 8;
    int rest = c.bits % 8;
    if (memcmp(a, c.addr, static_cast<size_t>(full)) != 0) {
      continue;
    }
    if (rest != 0) {
      unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
      if ((a[full] & mask) != (c.addr[full] & mask)) {
        continue;
      }
    }
    return true;
  }
  return false;
}

balancer::Balancer* StatusContext::FindBalancer(std::string_view name) {
  for (balancer::Balancer& b : *balancers_) {
    if (b.name() == name) {
      return &b;
    }
  }
  return nullptr;
}

// An empty message in the result means the request may mutate.
StatusResponse StatusContext::CheckMutation(const StatusRequest& req,
                                            std::string_view nonce_field) const {
  StatusResponse r;
  r.status = 0;
  auto deny = [&](std::string why) {
    r.status = 403;
    r.body = std::move(why);
    return r;
  };
  if (nonce_.empty()) {
    return deny("edits are off: this worker has no nonce secret");
  }
  std::string_view given = !nonce_field.empty() ? nonce_field : req.nonce_header;
  if (given.empty()) {
    return deny("missing nonce (form field nonce or header X-Drover-Nonce)");
  }
  if (given.size() != nonce_.size() || CRYPTO_memcmp(given.data(), nonce_.data(), given.size()) != 0) {
    return deny("wrong nonce (it changes on every reload: fetch ?format=json again)");
  }
  // Defence in depth against CSRF: a browser's Origin (or Referer) must name this host.
  if (!req.host.empty()) {
    if (!req.origin.empty()) {
      if (!core::IEquals(Authority(req.origin), req.host)) {
        return deny("cross-origin request refused (Origin does not match Host)");
      }
    } else if (!req.referer.empty() && !core::IEquals(Authority(req.referer), req.host)) {
      return deny("cross-origin request refused (Referer does not match Host)");
    }
  }
  return r;
}

StatusResponse StatusContext::HandleManager(const StatusRequest& req, int64_t now_ms) {
  if (!Allowed(req.client_ip)) {
    return Text(403, "forbidden: " + std::string(req.client_ip) + " is not in StatusAllow");
  }
  std::string_view base = TrimTrailingSlash(config_->server.balancer_manager);
  std::string_view path = req.path;
  if (base.empty() || path.substr(0, base.size()) != base) {
    return Text(404, "not found");
  }
  std::string_view rest = path.substr(base.size());
  if (rest.empty() || rest == "/") {
    if (req.method == "GET" || req.method == "HEAD") {
      return ManagerPage(req, now_ms);
    }
    if (req.method == "POST") {
      return FormPost(req, now_ms);
    }
    return MethodNotAllowed("GET, HEAD, POST", false);
  }
  if (rest.substr(0, 4) == "/api" && (rest.size() == 4 || rest[4] == '/')) {
    return Api(req, rest.substr(4), now_ms);
  }
  return Text(404, "not found");
}

StatusResponse StatusContext::ManagerPage(const StatusRequest& req, int64_t now_ms) {
  auto form = ParseForm(req.query);
  if (!form) {
    return Text(400, "bad query string");
  }
  std::vector<BalancerSnapshot> snaps;
  snaps.reserve(balancers_->size());
  for (const balancer::Balancer& b : *balancers_) {
    snaps.push_back(Snapshot(b, now_ms));
  }
  PageInfo info;
  info.base = TrimTrailingSlash(config_->server.balancer_manager);
  info.nonce = nonce_;
  info.server_name = config_->server.server_name;
  info.metrics_path = config_->server.metrics;
  info.generation = table_->header().generation;
  info.now_ms = now_ms;
  const std::string* format = FormGet(*form, "format");
  if (format != nullptr && *format == "json") {
    return Json(200, RenderJson(snaps, info));
  }
  // The confirmation after a form post (Post/Redirect/Get): a fixed text per
  // action, naming a balancer and member that exist, so a link cannot show
  // arbitrary text.
  std::string notice;
  const std::string* done = FormGet(*form, "done");
  const std::string* bname = FormGet(*form, "b");
  if (done != nullptr && bname != nullptr && FindBalancer(*bname) != nullptr) {
    const std::string* w = FormGet(*form, "w");
    std::string member = w != nullptr && w->size() < shm::kKeyMax ? *w : std::string();
    if (*done == "edit" && !member.empty()) {
      notice = "Saved member " + member + " of balancer " + *bname + ".";
    } else if (*done == "add" && !member.empty()) {
      notice = "Added member " + member + " to balancer " + *bname + ".";
    } else if (*done == "remove" && !member.empty()) {
      notice = "Removed member " + member + " from balancer " + *bname + ".";
    } else if (*done == "balancer") {
      notice = "Saved the settings of balancer " + *bname + ".";
    }
  }
  info.notice = notice;
  StatusResponse r;
  r.status = 200;
  r.content_type = "text/html; charset=utf-8";
  r.body = RenderHtml(snaps, info);
  CommonHeaders(&r);
  r.headers.emplace_back("Content-Security-Policy", csp_);
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Referrer-Policy", "same-origin");
  return r;
}

// The page's forms, with Apache's field names where Apache has them:
//   b (balancer), w (member URL), w_lf, w_ls, w_wr, w_rr, w_status_X=0|1 (the
//   last value of a name wins: a hidden 0 then a checkbox 1); w_remove=1;
//   b_wyes=1 + b_nwrkr (URL), b_nwrkr_route, b_nwrkr_lf, b_nwrkr_ls,
//   b_nwrkr_enable=0|1; b_lbm, b_sforce=0|1, b_max ("" = members - 1), b_tmo.
// Success: 303 to the page with a confirmation; errors: text/plain 4xx.
StatusResponse StatusContext::FormPost(const StatusRequest& req, int64_t now_ms) {
  if (!IsFormType(req.content_type)) {
    return Text(415, "expected Content-Type application/x-www-form-urlencoded");
  }
  auto form = ParseForm(req.body);
  if (!form) {
    return Text(400, "bad form encoding");
  }
  const std::string* nonce = FormGet(*form, "nonce");
  StatusResponse denied = CheckMutation(req, nonce != nullptr ? *nonce : std::string_view());
  if (denied.status != 0) {
    return Text(denied.status, denied.body);
  }
  const std::string* bname = FormGet(*form, "b");
  if (bname == nullptr) {
    return Text(400, "missing field b (balancer)");
  }
  balancer::Balancer* bal = FindBalancer(*bname);
  if (bal == nullptr) {
    return Text(404, "no balancer '" + *bname + "'");
  }
  auto get = [&](const char* name) { return FormGet(*form, name); };
  EditResult res;
  std::string done;
  std::string member;
  const std::string* w = get("w");
  const std::string* wyes = get("b_wyes");
  if (wyes != nullptr && *wyes == "1") {
    NewMember n;
    const std::string* url = get("b_nwrkr");
    if (url == nullptr || url->empty()) {
      return Text(400, "missing field b_nwrkr (member URL)");
    }
    n.url = *url;
    if (const std::string* v = get("b_nwrkr_route")) {
      n.route = *v;
    }
    if (const std::string* v = get("b_nwrkr_rr")) {
      n.redirect = *v;
    }
    if (const std::string* v = get("b_nwrkr_lf"); v != nullptr && !v->empty()) {
      auto lf = ParseLoadfactor(*v);
      if (!lf) {
        return Text(400, "loadfactor '" + *v + "' is not a number 1-100 (two decimals)");
      }
      n.lbfactor = *lf;
    }
    if (const std::string* v = get("b_nwrkr_ls"); v != nullptr && !v->empty()) {
      auto ls = core::ParseInt(*v, 0, 99);
      if (!ls) {
        return Text(400, "lbset '" + *v + "' out of range 0-99");
      }
      n.lbset = static_cast<int>(*ls);
    }
    const std::string* enable = get("b_nwrkr_enable");
    n.status = enable != nullptr && *enable == "1" ? 0u : static_cast<uint32_t>(config::kFlagDisabled);
    res = AddMember(*bal, n, now_ms);
    done = "add";
    if (res.ok()) {
      member = bal->MemberUrl(static_cast<uint32_t>(res.member));
    }
  } else if (w != nullptr) {
    int m = FindMember(*bal, *w);
    if (m < 0) {
      return Text(404, "no member '" + *w + "' in balancer '" + *bname + "'");
    }
    member = bal->MemberUrl(static_cast<uint32_t>(m));
    const std::string* remove = get("w_remove");
    if (remove != nullptr && *remove == "1") {
      res = RemoveMember(*bal, static_cast<uint32_t>(m));
      done = "remove";
    } else {
      MemberEdit e;
      if (const std::string* v = get("w_lf"); v != nullptr && !v->empty()) {
        e.lbfactor = ParseLoadfactor(*v);
        if (!e.lbfactor) {
          return Text(400, "loadfactor '" + *v + "' is not a number 1-100 (two decimals)");
        }
      }
      if (const std::string* v = get("w_ls"); v != nullptr && !v->empty()) {
        auto ls = core::ParseInt(*v, 0, 99);
        if (!ls) {
          return Text(400, "lbset '" + *v + "' out of range 0-99");
        }
        e.lbset = static_cast<int>(*ls);
      }
      if (const std::string* v = get("w_wr")) {
        e.route = *v;
      }
      if (const std::string* v = get("w_rr")) {
        e.redirect = *v;
      }
      for (char letter : std::string_view("INDHRSEC")) {
        std::string name = std::string("w_status_") + letter;
        const std::string* v = get(name.c_str());
        if (v == nullptr) {
          continue;
        }
        uint32_t bit = 0;
        std::string spec(1, letter);
        config::ApplyStatusString(spec, &bit);
        if (*v == "1") {
          e.set_flags |= bit;
        } else if (*v == "0") {
          e.clear_flags |= bit;
        } else {
          return Text(400, name + " must be 0 or 1");
        }
      }
      res = EditMember(*bal, static_cast<uint32_t>(m), e, now_ms);
      done = "edit";
    }
  } else {
    BalancerEdit e;
    if (const std::string* v = get("b_lbm")) {
      e.lbmethod = ParseLbMethod(*v);
      if (!e.lbmethod) {
        return Text(400, "lbmethod '" + *v + "' is not byrequests, bybusyness or bytraffic");
      }
    }
    if (const std::string* v = get("b_sforce")) {
      e.nofailover = *v == "1";
    }
    if (const std::string* v = get("b_max")) {
      if (v->empty()) {
        e.maxattempts = -1;
      } else {
        auto n = core::ParseInt(*v, 0, 99);
        if (!n) {
          return Text(400, "maxattempts '" + *v + "' out of range 0-99");
        }
        e.maxattempts = static_cast<int>(*n);
      }
    }
    if (const std::string* v = get("b_tmo"); v != nullptr && !v->empty()) {
      auto ms = core::ParseDurationMs(*v);
      if (!ms || *ms < 0 || *ms > 7200 * 1000) {
        return Text(400, "timeout '" + *v + "' is not 0-7200 seconds");
      }
      e.timeout_ms = *ms;
    }
    res = EditBalancer(*bal, e);
    done = "balancer";
  }
  if (!res.ok()) {
    return Text(res.http_status, res.error);
  }
  std::string base(TrimTrailingSlash(config_->server.balancer_manager));
  std::string location = base + "?done=" + done + "&b=" + PercentEncode(*bname);
  if (!member.empty()) {
    location += "&w=" + PercentEncode(member);
  }
  location += "#b-" + std::to_string(bal->index());
  StatusResponse r;
  r.status = 303;
  r.headers.emplace_back("Location", location);
  CommonHeaders(&r);
  return r;
}

StatusResponse StatusContext::Api(const StatusRequest& req, std::string_view rest,
                                  int64_t now_ms) {
  auto segs = Segments(rest);
  if (!segs) {
    return JsonError(400, "bad percent-encoding in the path");
  }
  const std::vector<std::string>& s = *segs;
  const bool get = req.method == "GET" || req.method == "HEAD";
  std::string base(TrimTrailingSlash(config_->server.balancer_manager));

  // Mutations: parse the body (JSON object, may be empty for DELETE), then the nonce.
  json::Value body;
  body.type = json::Value::Type::kObject;
  auto check = [&]() -> std::optional<StatusResponse> {
    if (!core::Trim(req.body).empty()) {
      if (!IsJsonType(req.content_type)) {
        return JsonError(415, "expected Content-Type application/json");
      }
      auto parsed = json::Parse(req.body);
      if (!parsed.ok()) {
        return JsonError(400, parsed.status().message());
      }
      if (!parsed->is_object()) {
        return JsonError(400, "the body must be a JSON object");
      }
      body = std::move(parsed.value());
    }
    const json::Value* n = body.Find("nonce");
    std::string_view field =
        n != nullptr && n->type == json::Value::Type::kString ? std::string_view(n->text) : "";
    StatusResponse denied = CheckMutation(req, field);
    if (denied.status != 0) {
      return JsonError(denied.status, denied.body);
    }
    return std::nullopt;
  };

  if (s.empty()) {
    if (!get) {
      return MethodNotAllowed("GET, HEAD", true);
    }
    StatusRequest page = req;
    page.query = "format=json";
    return ManagerPage(page, now_ms);
  }
  balancer::Balancer* bal = FindBalancer(s[0]);
  if (bal == nullptr) {
    return JsonError(404, "no balancer '" + s[0] + "'");
  }
  auto member_json = [&](int m, int status) {
    BalancerSnapshot snap = Snapshot(*bal, now_ms);
    for (const MemberSnapshot& ms : snap.members) {
      if (static_cast<int>(ms.index) == m) {
        std::string out;
        AppendMemberJson(&out, ms);
        return Json(status, out);
      }
    }
    return JsonError(404, "member gone");
  };

  if (s.size() == 1) {
    if (get) {
      std::string out;
      AppendBalancerJson(&out, Snapshot(*bal, now_ms));
      return Json(200, out);
    }
    if (req.method != "PUT" && req.method != "PATCH") {
      return MethodNotAllowed("GET, HEAD, PUT, PATCH", true);
    }
    if (auto bad = check()) {
      return *bad;
    }
    BalancerEdit e;
    if (auto err = ParseBalancerEdit(body, &e)) {
      return JsonError(400, *err);
    }
    EditResult res = EditBalancer(*bal, e);
    if (!res.ok()) {
      return JsonError(res.http_status, res.error);
    }
    std::string out;
    AppendBalancerJson(&out, Snapshot(*bal, now_ms));
    return Json(200, out);
  }
  if (s[1] != "members" || s.size() > 3) {
    return JsonError(404, "not found (PATH/api/BALANCER[/members[/INDEX_OR_ROUTE]])");
  }
  if (s.size() == 2) {
    if (get) {
      BalancerSnapshot snap = Snapshot(*bal, now_ms);
      std::string out = "[";
      for (size_t i = 0; i < snap.members.size(); ++i) {
        if (i > 0) {
          out.push_back(',');
        }
        AppendMemberJson(&out, snap.members[i]);
      }
      out.push_back(']');
      return Json(200, out);
    }
    if (req.method != "POST") {
      return MethodNotAllowed("GET, HEAD, POST", true);
    }
    if (auto bad = check()) {
      return *bad;
    }
    NewMember n;
    if (auto err = ParseNewMember(body, &n)) {
      return JsonError(400, *err);
    }
    EditResult res = AddMember(*bal, n, now_ms);
    if (!res.ok()) {
      return JsonError(res.http_status, res.error);
    }
    StatusResponse r = member_json(res.member, 201);
    r.headers.emplace_back("Location", base + "/api/" + PercentEncode(bal->name()) + "/members/" +
                                           std::to_string(res.member));
    return r;
  }
  const bool put = req.method == "PUT" || req.method == "PATCH";
  if (!get && !put && req.method != "DELETE") {
    return MethodNotAllowed("GET, HEAD, PUT, PATCH, DELETE", true);
  }
  if (!get) {
    if (auto bad = check()) {
      return *bad;
    }
  }
  int m = FindMember(*bal, s[2]);
  if (m < 0) {
    return JsonError(404, "no member '" + s[2] + "' in balancer '" + bal->name() + "'");
  }
  if (get) {
    return member_json(m, 200);
  }
  if (put) {
    MemberEdit e;
    if (auto err = ParseMemberEdit(body, &e)) {
      return JsonError(400, *err);
    }
    EditResult res = EditMember(*bal, static_cast<uint32_t>(m), e, now_ms);
    if (!res.ok()) {
      return JsonError(res.http_status, res.error);
    }
    return member_json(m, 200);
  }
  std::string url = bal->MemberUrl(static_cast<uint32_t>(m));
  EditResult res = RemoveMember(*bal, static_cast<uint32_t>(m));
  if (!res.ok()) {
    return JsonError(res.http_status, res.error);
  }
  return Json(200, "{\"removed\":{\"index\":" + std::to_string(m) +
                       ",\"url\":" + json::Quote(url) + "}}");
}

}  // namespace drover::status
