// libFuzzer target: http::ReverseMapUrl and http::RewriteSetCookie
// (src/http/rewrite.h), the ProxyPassReverse / ProxyPassReverseCookie* rewrites
// applied to member response headers. The input is split on '\n': line 1 is
// the header value, line 2 the client Host, and each further line a map:
// "R FAKE REAL" (reverse map; REAL starting with '/' is a path),
// "D INTERNAL PUBLIC" (cookie domain), "P INTERNAL PUBLIC" (cookie path).
// A fixed map set is always tried too. Checks memory/UB errors and simple
// consequences of the contract: no maps, no change; a rewritten URL on a
// client Host is absolute on it; a rewritten cookie keeps every byte before
// the first attribute it replaced.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "http/rewrite.h"

namespace {

using drover::fuzz::Check;
using namespace drover::http;

std::vector<std::string_view> SplitOn(std::string_view s, char c) {
  std::vector<std::string_view> out;
  for (size_t at = 0;;) {
    const size_t e = s.find(c, at);
    out.push_back(s.substr(at, e == std::string_view::npos ? std::string_view::npos : e - at));
    if (e == std::string_view::npos) {
      return out;
    }
    at = e + 1;
  }
}

bool StartsWithCi(std::string_view s, std::string_view p) {
  if (s.size() < p.size()) {
    return false;
  }
  for (size_t i = 0; i < p.size(); ++i) {
    const char a = (s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i];
    const char b = (p[i] >= 'A' && p[i] <= 'Z') ? p[i] + 32 : p[i];
    if (a != b) {
      return false;
    }
  }
  return true;
}

void Exercise(std::string_view value, std::string_view host, const std::vector<ReverseMap>& rmaps,
              const std::vector<CookieMap>& dmaps, const std::vector<CookieMap>& pmaps) {
  for (std::string_view scheme : {"http", "https"}) {
    auto url = ReverseMapUrl(value, rmaps, scheme, host);
    if (rmaps.empty()) {
      Check(!url.has_value(), "no reverse maps, no rewrite");
    }
    if (url && !host.empty() && !url->empty() && (*url)[0] == '/') {
      Check(false, "a rewritten path on a known host is made absolute");
    }
  }
  auto cookie = RewriteSetCookie(value, dmaps, pmaps);
  if (dmaps.empty() && pmaps.empty()) {
    Check(!cookie.has_value(), "no cookie maps, no rewrite");
  }
  if (cookie) {
    // Everything up to the first "path=" / "domain=" attribute is kept.
    size_t first = value.size();
    for (size_t i = 0; i < value.size(); ++i) {
      if (StartsWithCi(value.substr(i), "path=") || StartsWithCi(value.substr(i), "domain=")) {
        first = i;
        break;
      }
    }
    Check(first < value.size(), "a rewrite needs an attribute");
    Check(cookie->compare(0, first, value.substr(0, first)) == 0, "prefix kept");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> lines = SplitOn(in, '\n');
  const std::string_view value = lines[0];
  const std::string_view host = lines.size() > 1 ? lines[1] : std::string_view();
  std::vector<ReverseMap> rmaps;
  std::vector<CookieMap> dmaps;
  std::vector<CookieMap> pmaps;
  for (size_t i = 2; i < lines.size() && i < 18; ++i) {
    std::vector<std::string_view> w = SplitOn(lines[i], ' ');
    if (w.size() < 3) {
      continue;
    }
    if (w[0] == "R") {
      ReverseMap m;
      m.fake = std::string(w[1]);
      m.reals.emplace_back(w[2]);
      for (size_t k = 3; k < w.size(); ++k) {
        m.reals.emplace_back(w[k]);
      }
      m.real_is_path = !w[2].empty() && w[2][0] == '/';
      rmaps.push_back(std::move(m));
    } else if (w[0] == "D") {
      dmaps.push_back(CookieMap{std::string(w[1]), std::string(w[2])});
    } else if (w[0] == "P") {
      pmaps.push_back(CookieMap{std::string(w[1]), std::string(w[2])});
    }
  }
  Exercise(value, host, rmaps, dmaps, pmaps);
  // The seed scenario's maps.
  static const std::vector<ReverseMap> kReverse = {
      {"/", {"http://192.168.1.50/", "http://192.168.1.51/"}, false},
      {"/app", {"/internal"}, true},
  };
  static const std::vector<CookieMap> kDomain = {{"192.168.1.50", "localhost"}};
  static const std::vector<CookieMap> kPath = {{"/internal", "/app"}, {"/", "/"}};
  Exercise(value, host, kReverse, kDomain, kPath);
  return 0;
}
