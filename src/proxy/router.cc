// See router.h. Runs in workers; reads the immutable config only.
#include "proxy/router.h"

#include "config/regex.h"

namespace drover::proxy {

// A transcription of Apache's alias_match() (mod_proxy.c) on string_views.
// Worked examples: pattern "/app" matches "/app" (4), "/app/x" (4) but not
// "/application"; "/app/" does not match "/app"; "/app/" matches "//app///x"
// as 8 bytes (the runs of '/' are consumed), leaving "x".
size_t PrefixMatch(std::string_view path, std::string_view pattern) {
  size_t a = 0;  // into pattern
  size_t u = 0;  // into path
  while (a < pattern.size() && u < path.size()) {
    if (pattern[a] == '/') {
      // Any number of '/' in the pattern matches any number (at least one) in the path.
      if (path[u] != '/') {
        return 0;
      }
      while (a < pattern.size() && pattern[a] == '/') {
        ++a;
      }
      while (u < path.size() && path[u] == '/') {
        ++u;
      }
    } else {
      if (path[u++] != pattern[a++]) {
        return 0;
      }
    }
  }
  // The path ended before the pattern: "/" against "/examples".
  if (u == path.size() && a != pattern.size()) {
    return 0;
  }
  // The last pattern segment must have matched a whole path segment.
  if (a > 0 && pattern[a - 1] != '/' && u < path.size() && path[u] != '/') {
    return 0;
  }
  return u;
}

Route MatchRoute(const config::ServerConfig& server, std::string_view path, std::string_view query,
                 bool has_query) {
  Route route;
  for (const config::ProxyRule& rule : server.rules) {
    std::string out;
    if (rule.is_regex) {
      if (rule.regex == nullptr) {
        continue;
      }
      std::string_view groups[10];
      int n = rule.regex->Match(path, groups);
      if (n == 0) {
        continue;
      }
      if (!rule.exclude) {
        out = config::Regex::Substitute(rule.target_path, groups, n);
        if (out == rule.target_path) {
          // No substitution happened: Apache appends the whole path, so
          // `\.gif balancer://foo` acts like `^(/.*\.gif)$ balancer://foo$1`.
          out.append(path);
        }
      }
    } else {
      size_t len = PrefixMatch(path, rule.pattern);
      if (len == 0) {
        continue;
      }
      if (!rule.exclude) {
        out = rule.target_path;
        out.append(path.substr(len));
      }
    }
    route.rule = &rule;
    if (rule.exclude) {
      return route;
    }
    if (has_query && !rule.noquery) {
      out += '?';
      out.append(query);
    }
    route.path = std::move(out);
    return route;
  }
  return route;
}

}  // namespace drover::proxy
