#include "core/strings.h"

#include <charconv>
#include <climits>

namespace drover::core {

void AppendUint(uint64_t v, std::string* out) {
  char buf[20];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, static_cast<size_t>(r.ptr - buf));
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) {
      return false;
    }
  }
  return true;
}

bool IStartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && IEquals(s.substr(0, prefix.size()), prefix);
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = AsciiLower(c);
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n')) {
    ++b;
  }
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n')) {
    --e;
  }
  return s.substr(b, e - b);
}

std::vector<std::string_view> SplitWords(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) {
      ++i;
    }
    size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') {
      ++i;
    }
    if (i > start) {
      out.push_back(s.substr(start, i - start));
    }
  }
  return out;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(Trim(s.substr(start)));
      return out;
    }
    out.push_back(Trim(s.substr(start, pos - start)));
    start = pos + 1;
  }
}

std::optional<int64_t> ParseInt(std::string_view s, int64_t min, int64_t max) {
  bool neg = false;
  size_t i = 0;
  if (!s.empty() && s[0] == '-' && min < 0) {
    neg = true;
    i = 1;
  }
  if (i >= s.size() || s.size() - i > 18) {
    return std::nullopt;
  }
  int64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return std::nullopt;
    }
    v = v * 10 + (s[i] - '0');
  }
  if (neg) {
    v = -v;
  }
  if (v < min || v > max) {
    return std::nullopt;
  }
  return v;
}

std::optional<bool> ParseBool(std::string_view s) {
  if (IEquals(s, "on") || IEquals(s, "yes") || IEquals(s, "true") || s == "1") {
    return true;
  }
  if (IEquals(s, "off") || IEquals(s, "no") || IEquals(s, "false") || s == "0") {
    return false;
  }
  return std::nullopt;
}

std::optional<int64_t> ParseDurationMs(std::string_view s) {
  int64_t mult = 1000;
  if (s.size() > 2 && IEquals(s.substr(s.size() - 2), "ms")) {
    mult = 1;
    s.remove_suffix(2);
  } else if (!s.empty()) {
    char u = AsciiLower(s.back());
    if (u == 's' || u == 'm' || u == 'h') {
      mult = u == 's' ? 1000 : u == 'm' ? 60000 : 3600000;
      s.remove_suffix(1);
    }
  }
  auto v = ParseInt(s, 0, INT64_C(1) << 40);
  if (!v) {
    return std::nullopt;
  }
  return *v * mult;
}

std::optional<int64_t> ParseHundredths(std::string_view s) {
  size_t dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  auto w = ParseInt(whole, 0, INT64_C(1) << 40);
  if (!w) {
    return std::nullopt;
  }
  int64_t frac = 0;
  if (dot != std::string_view::npos) {
    std::string_view f = s.substr(dot + 1);
    if (f.empty() || f.size() > 2) {
      return std::nullopt;
    }
    auto fv = ParseInt(f, 0, 99);
    if (!fv) {
      return std::nullopt;
    }
    frac = f.size() == 1 ? *fv * 10 : *fv;
  }
  return *w * 100 + frac;
}

}  // namespace drover::core
