// Response header rewriting for reverse proxying (SPEC §6, Apache's
// ap_proxy_location_reverse_map and ap_proxy_cookie_reverse_map). Pure code.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace drover::http {

// One ProxyPassReverse entry, resolved: `real` is a URL prefix (or several,
// for balancer://NAME/ — one per member, each member URL + the part after NAME).
struct ReverseMap {
  std::string fake;                 // local path, e.g. "/"
  std::vector<std::string> reals;   // remote URL prefixes, compared case-insensitively
  bool real_is_path = false;        // real starts with '/': compare to the URL's path
};

// Rewrites a Location / Content-Location / URI / Destination value. The first
// map whose real prefix matches wins: the prefix is replaced by `fake` and the
// result made absolute as `client_scheme://client_host` + path. Returns nullopt
// when nothing matched (the header is passed unchanged).
std::optional<std::string> ReverseMapUrl(std::string_view value, const std::vector<ReverseMap>& maps,
                                         std::string_view client_scheme,
                                         std::string_view client_host);

struct CookieMap {
  std::string internal;
  std::string pub;
};

// Rewrites one Set-Cookie value: the Domain= attribute value is replaced whole
// by the first domain map whose `internal` is a case-insensitive prefix of it;
// the Path= value likewise by the first path map whose `internal` is a
// (case-sensitive) prefix. Returns nullopt when nothing changed.
std::optional<std::string> RewriteSetCookie(std::string_view value,
                                            const std::vector<CookieMap>& domain_maps,
                                            const std::vector<CookieMap>& path_maps);

}  // namespace drover::http
