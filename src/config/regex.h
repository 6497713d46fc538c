// A compiled PCRE2 pattern (JIT when available) for ProxyPassMatch.
// Match() is safe to call from one thread per process (match data is per call
// site); Substitute() expands $0..$9 in a template.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace drover::config {

class Regex {
 public:
  static core::Result<std::shared_ptr<const Regex>> Compile(const std::string& pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // On a match fills `groups` (group 0 = whole match, unset groups empty) and
  // returns the number of groups set; 0 when no match.
  int Match(std::string_view subject, std::string_view groups[10]) const;
  // Expands $0..$9 in `tmpl` from groups; "$$" is not special (Apache's ap_pregsub
  // treats \$ as a literal $). Returns the expansion.
  static std::string Substitute(std::string_view tmpl, const std::string_view groups[10], int n);

 private:
  Regex() = default;
  void* code_ = nullptr;   // pcre2_code*
  bool jit_ = false;
};

}  // namespace drover::config
