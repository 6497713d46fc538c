// PCRE2 (8-bit) behind config::Regex: compiled once by the config builder in
// the master, matched by workers for ProxyPassMatch. JIT-compiled when the
// library supports it; the interpreter otherwise. Compile options are PCRE2's
// defaults (Apache compiles ProxyPassMatch patterns with no flags either).
#include "config/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace drover::config {
namespace {

constexpr int kMaxGroups = 10;  // $0..$9

struct MatchDataFree {
  void operator()(pcre2_match_data* md) const { pcre2_match_data_free(md); }
};

// One match block per thread, sized for groups 0..9, reused by every pattern:
// a pattern with more groups still matches (pcre2_match returns 0, "ovector
// too small", and the first ten groups are set).
pcre2_match_data* ThreadMatchData() {
  thread_local std::unique_ptr<pcre2_match_data, MatchDataFree> md(
      pcre2_match_data_create(kMaxGroups, nullptr));
  return md.get();
}

}  // namespace

core::Result<std::shared_ptr<const Regex>> Regex::Compile(const std::string& pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), 0,
                                   &error, &offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR buf[256];
    int n = pcre2_get_error_message(error, buf, sizeof(buf));
    std::string text = n > 0 ? std::string(reinterpret_cast<const char*>(buf), n)
                             : "error " + std::to_string(error);
    return core::Status::Error("regex '" + pattern + "' does not compile: " + text + " at offset " +
                               std::to_string(offset));
  }
  std::shared_ptr<Regex> re(new Regex());
  re->code_ = code;
  re->jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  return std::shared_ptr<const Regex>(std::move(re));
}

Regex::~Regex() {
  if (code_ != nullptr) {
    pcre2_code_free(static_cast<pcre2_code*>(code_));
  }
}

int Regex::Match(std::string_view subject, std::string_view groups[10]) const {
  for (int i = 0; i < kMaxGroups; ++i) {
    groups[i] = std::string_view();
  }
  pcre2_match_data* md = ThreadMatchData();
  if (md == nullptr) {
    return 0;
  }
  auto* code = static_cast<const pcre2_code*>(code_);
  // PCRE2 wants a non-null pointer even for an empty subject.
  auto* s = reinterpret_cast<PCRE2_SPTR>(subject.data() != nullptr ? subject.data() : "");
  int rc = jit_ ? pcre2_jit_match(code, s, subject.size(), 0, 0, md, nullptr)
                : pcre2_match(code, s, subject.size(), 0, 0, md, nullptr);
  if (rc < 0) {
    return 0;  // PCRE2_ERROR_NOMATCH, or a match error (limits): no match
  }
  if (rc == 0) {
    rc = kMaxGroups;
  }
  PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
  for (int i = 0; i < rc && i < kMaxGroups; ++i) {
    if (ov[2 * i] != PCRE2_UNSET && ov[2 * i + 1] >= ov[2 * i]) {
      groups[i] = subject.substr(ov[2 * i], ov[2 * i + 1] - ov[2 * i]);
    }
  }
  return rc;
}

// "$N" (N a digit) is group N, empty when N >= n or unset. "\$" is a literal
// '$'; a '$' not followed by a digit is literal; every other character,
// backslashes included, is copied. Unlike Apache's ap_pregsub, '&' is not the
// whole match: '&' is common in URLs and means nothing special here.
std::string Regex::Substitute(std::string_view tmpl, const std::string_view groups[10], int n) {
  std::string out;
  out.reserve(tmpl.size() + 32);
  for (size_t i = 0; i < tmpl.size(); ++i) {
    char c = tmpl[i];
    if (c == '\\' && i + 1 < tmpl.size() && tmpl[i + 1] == '$') {
      out += '$';
      ++i;
    } else if (c == '$' && i + 1 < tmpl.size() && tmpl[i + 1] >= '0' && tmpl[i + 1] <= '9') {
      int g = tmpl[i + 1] - '0';
      if (g < n && g < kMaxGroups) {
        out.append(groups[g]);
      }
      ++i;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace drover::config
