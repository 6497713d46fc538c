// Small string helpers shared by the pure modules (config, http, balancer):
// case-insensitive compare, trimming, splitting, number parsing with range
// checks. No allocation unless a function returns a std::string.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace drover::core {

inline char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
bool IEquals(std::string_view a, std::string_view b);
bool IStartsWith(std::string_view s, std::string_view prefix);
std::string ToLower(std::string_view s);
std::string_view Trim(std::string_view s);
// Splits on runs of spaces/tabs; empty fields are dropped.
std::vector<std::string_view> SplitWords(std::string_view s);
// Splits on `sep`, trimming each field; empty fields are kept.
std::vector<std::string_view> Split(std::string_view s, char sep);
// Appends `v` in decimal.
void AppendUint(uint64_t v, std::string* out);

// Decimal integer in [min, max]; no sign unless min < 0, no spaces, no overflow.
std::optional<int64_t> ParseInt(std::string_view s, int64_t min, int64_t max);
// "On"/"Off" (also yes/no, true/false, 1/0), case-insensitive.
std::optional<bool> ParseBool(std::string_view s);
// Seconds with an optional unit suffix: "30", "30s", "500ms", "2m", "1h" -> milliseconds.
std::optional<int64_t> ParseDurationMs(std::string_view s);
// Decimal number with at most two decimals, times 100: "1" -> 100, "2.5" -> 250.
std::optional<int64_t> ParseHundredths(std::string_view s);

}  // namespace drover::core
