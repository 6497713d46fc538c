// libFuzzer target: the config reader and builder (config::LoadFromString:
// inih via config/reader.cc, then config/builder.cc with PCRE2 for
// ProxyPassMatch). Checks memory/UB errors, that every error is one
// "FILE:..." line, and the -T round trip: a config that loads dumps to text
// that loads again and dumps to the same text (except for the one documented
// case Dump cannot wrap, see UnwrappableLongWord).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "config/config.h"
#include "fuzz_util.h"

namespace {

using drover::config::Dump;
using drover::config::LoadFromString;
using drover::config::LoadOptions;
using drover::fuzz::Check;

// The one known way for Dump to write a line the reader refuses: a single
// word without spaces that is longer than a line, which only a path can be
// (the prefix makes a relative path of a full input line longer than the
// line). Dump wraps between words and cuts quoted words at spaces, so no
// other over-long line is expected. True when `message` is the reader's
// "line longer than 199 characters" for such a line of `dump`.
bool UnwrappableLongWord(const std::string& dump, const std::string& message) {
  const std::string what = ": line longer than 199 characters";
  const size_t at = message.find(what);
  if (message.rfind("fuzz.conf:", 0) != 0 || at == std::string::npos) {
    return false;
  }
  const int line_no = atoi(message.c_str() + strlen("fuzz.conf:"));
  size_t start = 0;
  for (int i = 1; i < line_no && start != std::string::npos; ++i) {
    start = dump.find('\n', start);
    start = start == std::string::npos ? start : start + 1;
  }
  if (start == std::string::npos) {
    return false;
  }
  std::string line = dump.substr(start, dump.find('\n', start) - start);
  const size_t eq = line.find(" = ");
  std::string value = eq == std::string::npos ? line : line.substr(eq + 3);
  value.erase(0, value.find_first_not_of(' '));
  return value.find(' ') == std::string::npos && value.size() > 150;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) {
    return 0;  // configs are small; bigger inputs only slow the search down
  }
  LoadOptions opt;
  opt.file = "fuzz.conf";
  opt.prefix = "/tmp/drover-fuzz";
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto first = LoadFromString(text, opt);
  if (!first.ok()) {
    const std::string m = first.status().message();  // status() returns a copy
    Check(m.rfind("fuzz.conf", 0) == 0, "error names the file");
    Check(m.find('\n') == std::string::npos, "error is one line");
    return 0;
  }
  const std::string dump = Dump(**first);
  auto second = LoadFromString(dump, opt);
  if (!second.ok() && UnwrappableLongWord(dump, second.status().message())) {
    return 0;
  }
  if (!second.ok()) {
    fprintf(stderr, "dump does not load: %s\n--- dump:\n%s\n", second.status().message().c_str(),
            dump.c_str());
    Check(false, "dump loads again");
  }
  const std::string again = Dump(**second);
  if (again != dump) {
    fprintf(stderr, "--- first dump:\n%s\n--- second dump:\n%s\n", dump.c_str(), again.c_str());
    Check(false, "dump round trip is stable");
  }
  return 0;
}
