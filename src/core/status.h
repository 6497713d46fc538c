// Status and Result<T>: error values for startup code and pure parsers.
// No exceptions anywhere in drover; functions that can fail return one of
// these. Used by every process; depends on nothing but the standard library.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace drover::core {

// An error message, or success when empty. The message is one line, lowercase,
// already naming what failed (e.g. "drover.conf:12: unknown directive 'Foo'").
class Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message), true); }

  bool ok() const { return !failed_; }
  const std::string& message() const { return message_; }

 private:
  Status(std::string message, bool failed) : message_(std::move(message)), failed_(failed) {}
  std::string message_;
  bool failed_ = false;
};

// A value or an error Status (a small std::expected stand-in for GCC 12).
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}             // NOLINT(runtime/explicit)
  Result(Status status) : v_(std::move(status)) {}      // NOLINT(runtime/explicit)

  bool ok() const { return v_.index() == 0; }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  Status status() const { return ok() ? Status::Ok() : std::get<1>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace drover::core
