// A small JSON writer helper and a strict RFC 8259 parser (depth-limited) for
// the balancer-manager's API bodies (and the unit tests' checks of its output).
// Pure; runs in workers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace drover::status::json {

// Appends `s` as a JSON string literal: quotes, control characters, '<', '>'
// and '&' escaped (safe inside HTML); invalid UTF-8 bytes become U+FFFD.
void AppendString(std::string* out, std::string_view s);
std::string Quote(std::string_view s);

struct Value {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  Type type = Type::kNull;
  bool boolean = false;
  std::string text;                 // a number's text as written, or a string's value
  std::vector<Value> items;         // array elements, or object values
  std::vector<std::string> keys;    // object keys (parallel to items)

  bool is_object() const { return type == Type::kObject; }
  // The value of `key` in an object (the last one if repeated), or nullptr.
  const Value* Find(std::string_view key) const;
};

// The whole text must be one JSON value (surrounding whitespace allowed).
// Errors name the byte offset: "json: offset 12: expected ':'".
core::Result<Value> Parse(std::string_view text);

}  // namespace drover::status::json
