// libFuzzer target: the config reader and builder (config::LoadFromString:
// inih via config/reader.cc, then config/builder.cc with PCRE2 for
// ProxyPassMatch). Checks memory/UB errors, that every error is one
// "FILE:..." line, and the -T round trip: a config that loads dumps to text
// that loads again and dumps to the same text.
#include <cstdint>
#include <string>

#include "config/config.h"
#include "fuzz_util.h"

namespace {

using drover::config::Dump;
using drover::config::LoadFromString;
using drover::config::LoadOptions;
using drover::fuzz::Check;

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
