// ProxyPassReverse and ProxyPassReverseCookieDomain/Path, as Apache's
// ap_proxy_location_reverse_map() and ap_proxy_cookie_reverse_map() do them
// (APACHE-SEMANTICS.md §1.10). Pure string code run by workers on member
// response heads; allocates only the rewritten value.
#include "http/rewrite.h"

#include <utility>

#include "core/strings.h"

namespace drover::http {
namespace {

// Apache's ap_is_url(): a scheme of [A-Za-z0-9+.-] then ':'.
bool IsUrl(std::string_view u) {
  for (size_t i = 0; i < u.size(); ++i) {
    const char c = u[i];
    if (c == ':') {
      return i > 0;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '-' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return false;
}

// apr_isspace(): the C locale's isspace.
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

}  // namespace

// Example: maps {fake "/", reals {"http://192.168.1.50/"}}, Host
// "front.example:8443": "http://192.168.1.50/login" -> real matches, the rest
// is "login", fake + rest = "/login", made absolute:
// "http://front.example:8443/login".
//
// One deliberate difference: Apache avoids a double slash (fake "/" and a rest
// starting with '/') only for balancer:// entries; we do it for every entry,
// because ReverseMap no longer says where a real came from and "//x" is never
// what the operator meant. With an empty client_host (an HTTP/1.0 client sent
// no Host and the caller has no ServerName) the result is left relative.
std::optional<std::string> ReverseMapUrl(std::string_view value,
                                         const std::vector<ReverseMap>& maps,
                                         std::string_view client_scheme,
                                         std::string_view client_host) {
  for (const ReverseMap& map : maps) {
    for (const std::string& real : map.reals) {
      if (real.empty()) {
        continue;
      }
      // A real that is a path is compared with the path of the URL (or with
      // the whole value when it is not an absolute URL).
      std::string_view part = value;
      if (map.real_is_path || real[0] == '/') {
        const size_t scheme_end = value.find("://");
        if (scheme_end != std::string_view::npos) {
          const size_t slash = value.find('/', scheme_end + 3);
          if (slash != std::string_view::npos) {
            part = value.substr(slash);
          }
        }
      }
      if (!core::IStartsWith(part, real)) {
        continue;
      }
      const std::string_view rest = part.substr(real.size());
      std::string u;
      if (map.fake == "/" && !rest.empty() && rest[0] == '/') {
        u.assign(rest);
      } else {
        u.reserve(map.fake.size() + rest.size());
        u.append(map.fake).append(rest);
      }
      if (IsUrl(u) || client_host.empty()) {
        return u;
      }
      // ap_construct_url(): scheme "://" host (as the client sent it) path.
      std::string out;
      out.reserve(client_scheme.size() + 3 + client_host.size() + u.size());
      out.append(client_scheme).append("://").append(client_host).append(u);
      return out;
    }
  }
  return std::nullopt;
}

// Apache splits the value on ';' (apr_strtok: runs of ';' are one separator),
// skips leading spaces of each token and looks for "path=" and "domain="
// (case-insensitive). A value runs to the next ';', trailing spaces included,
// and is replaced whole by the public value of the first matching map. As in
// Apache, when an attribute occurs more than once the last occurrence is the
// one replaced, by the map found for any occurrence. Everything else is kept
// byte for byte. Example: "s=1; Domain=192.168.1.50; Path=/" with the domain
// map {"192.168.1.50", "localhost"} -> "s=1; Domain=localhost; Path=/".
std::optional<std::string> RewriteSetCookie(std::string_view value,
                                            const std::vector<CookieMap>& domain_maps,
                                            const std::vector<CookieMap>& path_maps) {
  const std::string* new_path = nullptr;
  const std::string* new_domain = nullptr;
  size_t path_begin = 0;
  size_t path_end = 0;
  size_t domain_begin = 0;
  size_t domain_end = 0;
  size_t i = 0;
  while (i < value.size()) {
    size_t end = value.find(';', i);
    if (end == std::string_view::npos) {
      end = value.size();
    }
    size_t t = i;
    while (t < end && IsSpace(value[t])) {
      ++t;
    }
    const std::string_view token = value.substr(t, end - t);
    if (core::IStartsWith(token, "path=")) {
      path_begin = t + 5;
      path_end = end;
      const std::string_view v = token.substr(5);
      for (const CookieMap& m : path_maps) {
        if (v.substr(0, m.internal.size()) == m.internal) {
          new_path = &m.pub;
          break;
        }
      }
    } else if (core::IStartsWith(token, "domain=")) {
      domain_begin = t + 7;
      domain_end = end;
      const std::string_view v = token.substr(7);
      for (const CookieMap& m : domain_maps) {
        if (core::IStartsWith(v, m.internal)) {
          new_domain = &m.pub;
          break;
        }
      }
    }
    i = end + 1;
  }
  if (new_path == nullptr && new_domain == nullptr) {
    return std::nullopt;
  }
  struct Edit {
    size_t begin;
    size_t end;
    const std::string* with;
  };
  Edit edits[2];
  size_t n = 0;
  if (new_path != nullptr) {
    edits[n++] = Edit{path_begin, path_end, new_path};
  }
  if (new_domain != nullptr) {
    edits[n++] = Edit{domain_begin, domain_end, new_domain};
  }
  if (n == 2 && edits[1].begin < edits[0].begin) {
    std::swap(edits[0], edits[1]);
  }
  std::string out;
  out.reserve(value.size() + 64);
  size_t at = 0;
  for (size_t k = 0; k < n; ++k) {
    out.append(value.substr(at, edits[k].begin - at));
    out.append(*edits[k].with);
    at = edits[k].end;
  }
  out.append(value.substr(at));
  return out;
}

}  // namespace drover::http
