// Request routing (SPEC §4 ProxyPass/ProxyPassMatch, §6; Apache's
// ap_proxy_trans_match and alias_match, APACHE-SEMANTICS §1.9): which rule of
// [server] takes a request path, and the path to send to the chosen member.
// Pure code, no sockets; runs in workers once per request.
#pragma once

#include <string>
#include <string_view>

#include "config/config.h"

namespace drover::proxy {

struct Route {
  const config::ProxyRule* rule = nullptr;  // nullptr: no rule matched
  std::string path;  // path (+ "?" + query unless noquery) to append to the member URL's path
};

// First rule in file order that matches `path` (the request path without query) wins.
// - ProxyPass: prefix match by path segment; runs of '/' in the pattern match
//   runs of '/' in the path; the match ends at a segment boundary unless the
//   pattern ends in '/'. Route.path = target_path + the unmatched rest.
// - ProxyPassMatch: PCRE2 match on the path; $0..$9 are substituted into
//   target_path; when the substitution equals target_path (no $ reference)
//   the whole path is appended (Apache).
// - Then "?" + query when has_query and the rule has no noquery.
// - An excluded rule (`!`) that matches is returned with rule->exclude true
//   and an empty path.
// Route.path may be empty or start with '?' (e.g. ProxyPass /app http://h
// and a request for /app): the caller sends "/" when the member URL's path
// is empty too. Matching is byte-wise on the path as received.
Route MatchRoute(const config::ServerConfig& server, std::string_view path, std::string_view query,
                 bool has_query);

// Apache's alias_match(): the number of bytes of `path` matched by the
// ProxyPass `pattern`, 0 when it does not match.
size_t PrefixMatch(std::string_view path, std::string_view pattern);

}  // namespace drover::proxy
