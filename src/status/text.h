// Small text helpers of the status module: HTML and Prometheus escaping,
// percent- and form-decoding, number and time formatting, IP parsing for
// StatusAllow. Pure functions; run in workers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace drover::status {

// & < > " ' as entities.
std::string HtmlEscape(std::string_view s);
// A Prometheus label value: backslash, double quote and newline escaped.
std::string PromEscape(std::string_view s);
// %XX decoding ('+' as a space when `plus_is_space`). False on a bad escape
// or a decoded NUL.
bool PercentDecode(std::string_view s, bool plus_is_space, std::string* out);
// Percent-encodes everything but unreserved characters (RFC 3986).
std::string PercentEncode(std::string_view s);

// application/x-www-form-urlencoded (also a query string): name/value pairs in
// order. nullopt on a bad escape.
using Form = std::vector<std::pair<std::string, std::string>>;
std::optional<Form> ParseForm(std::string_view s);
// The last value of `name` (checkbox idiom: a hidden "0" then a checkbox "1").
const std::string* FormGet(const Form& form, std::string_view name);

// loadfactor x 100 as a decimal: 100 -> "1", 150 -> "1.5", 225 -> "2.25".
std::string FormatHundredths(int64_t v);
// Wall-clock ms as "2024-05-01 12:34:56Z" (UTC); "" for 0.
std::string FormatTimeUtc(int64_t ms);
// 1536 -> "1.5 KiB" (bytes below 1 KiB as "512 B").
std::string FormatBytes(uint64_t n);
// A double for the metrics page: integers without a fraction, else %.17g.
std::string FormatDouble(double v);

// An IPv4 or IPv6 address (a "%zone" suffix is ignored) as 16 bytes, IPv4 as
// v4-mapped IPv6 (::ffff:a.b.c.d). `*v4` tells which syntax it was.
bool ParseIp16(std::string_view text, unsigned char out[16], bool* v4);

}  // namespace drover::status
