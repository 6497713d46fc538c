// Session stickiness: Apache's find_session_route on one request (SPEC §5,
// APACHE-SEMANTICS §1.7). Pure string work on the request's path, query and
// Cookie headers; runs in workers before the balancer lock is taken.
#include <string>
#include <string_view>

#include "balancer/balancer.h"

namespace drover::balancer {
namespace {

bool IsDelim(char c, bool scolon) { return c == '?' || c == '&' || (scolon && c == ';'); }

// The value starting at `pos` in `s`: up to '?', '&' (and ';' with
// scolonpathdelim) or the end.
std::string_view ValueAt(std::string_view s, size_t pos, bool scolon) {
  size_t end = pos;
  while (end < s.size() && !IsDelim(s[end], scolon)) {
    ++end;
  }
  return s.substr(pos, end - pos);
}

// The URL parameter `name`: a path parameter `;name=VALUE`, else a query
// parameter `?name=VALUE` / `&name=VALUE`, the first one in URL order with a
// non-empty value. Decision: Apache's strstr finds the name anywhere in the
// URL (so `?myjsessionid=` matches `jsessionid`); drover anchors it at ';' in
// the path and at the start or '&' in the query (SPEC §5), which is what
// every Apache transcript case exercises.
bool FindUrlParam(const PickRequest& req, std::string_view name, bool scolon,
                  std::string_view* value) {
  if (name.empty()) {
    return false;
  }
  std::string_view path = req.path;
  for (size_t pos = path.find(';'); pos != std::string_view::npos; pos = path.find(';', pos + 1)) {
    std::string_view rest = path.substr(pos + 1);
    if (rest.size() > name.size() && rest.substr(0, name.size()) == name &&
        rest[name.size()] == '=') {
      std::string_view v = ValueAt(path, pos + 1 + name.size() + 1, scolon);
      if (!v.empty()) {
        *value = v;
        return true;
      }
    }
  }
  if (!req.has_query) {
    return false;
  }
  std::string_view q = req.query;
  size_t pos = 0;
  while (pos <= q.size()) {
    std::string_view rest = q.substr(pos);
    if (rest.size() > name.size() && rest.substr(0, name.size()) == name &&
        rest[name.size()] == '=') {
      std::string_view v = ValueAt(q, pos + name.size() + 1, scolon);
      if (!v.empty()) {
        *value = v;
        return true;
      }
    }
    size_t amp = q.find('&', pos);
    if (amp == std::string_view::npos) {
      break;
    }
    pos = amp + 1;
  }
  return false;
}

std::string_view TrimWs(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// The cookie `name` in the Cookie headers (in order): pairs `NAME=VALUE`
// separated by ';' (and ',' as Apache, which also sees repeated headers
// merged with ", "), optional whitespace around names and values, exact
// case-sensitive name, first pair with a non-empty value wins.
bool FindCookie(const PickRequest& req, std::string_view name, std::string_view* value) {
  if (name.empty()) {
    return false;
  }
  for (std::string_view header : req.cookies) {
    size_t start = 0;
    while (start <= header.size()) {
      size_t end = start;
      while (end < header.size() && header[end] != ';' && header[end] != ',') {
        ++end;
      }
      std::string_view pair = header.substr(start, end - start);
      size_t eq = pair.find('=');
      if (eq != std::string_view::npos && TrimWs(pair.substr(0, eq)) == name) {
        std::string_view v = TrimWs(pair.substr(eq + 1));
        if (!v.empty()) {
          *value = v;
          return true;
        }
      }
      start = end + 1;
    }
  }
  return false;
}

}  // namespace

std::string FindSessionRoute(const config::BalancerConfig& cfg, const PickRequest& req,
                             std::string* found_value) {
  std::string_view value;
  // The URL first; only when it carries no such parameter, the cookie. A URL
  // value without a route does not fall back to the cookie (Apache).
  bool found = FindUrlParam(req, cfg.sticky_urlparam, cfg.scolonpathdelim, &value) ||
               FindCookie(req, cfg.sticky_cookie, &value);
  if (found_value != nullptr) {
    found_value->assign(found ? value : std::string_view());
  }
  if (!found) {
    return std::string();
  }
  // The route is the text after the FIRST separator; no separator, no route.
  // stickysessionsep=Off (sticky_sep "") makes the whole value the route.
  std::string_view route = value;
  if (!cfg.sticky_sep.empty()) {
    size_t sep = value.find(cfg.sticky_sep);
    if (sep == std::string_view::npos) {
      return std::string();
    }
    route = value.substr(sep + cfg.sticky_sep.size());
  }
  return std::string(route);
}

}  // namespace drover::balancer
