// The error log: `[time] [level] [pid N] message` lines, one write(2) each,
// to a file opened O_APPEND (safe to share between master and workers) or to
// stderr. Every process has one global ErrorLog; the master opens the file and
// workers inherit the descriptor, and all of them reopen it on USR1.
#pragma once

#include <cstdarg>
#include <string>

namespace drover::core {

enum class LogLevel { kEmerg = 0, kAlert, kCrit, kError, kWarn, kNotice, kInfo, kDebug };

const char* LogLevelName(LogLevel level);
bool ParseLogLevel(const std::string& name, LogLevel* out);

class ErrorLog {
 public:
  // Path "stderr" (or empty) logs to fd 2. Returns false and sets *err on failure.
  static bool Open(const std::string& path, LogLevel level, std::string* err);
  // Reopens the same path (USR1). Keeps the old descriptor when reopening fails.
  static bool Reopen(std::string* err);
  static void SetLevel(LogLevel level);
  static bool Enabled(LogLevel level);
  static int fd();
  static void Write(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  static void VWrite(LogLevel level, const char* fmt, va_list ap);
};

}  // namespace drover::core

#define DLOG(level, ...)                                                 \
  do {                                                                   \
    if (::drover::core::ErrorLog::Enabled(::drover::core::LogLevel::level)) { \
      ::drover::core::ErrorLog::Write(::drover::core::LogLevel::level, __VA_ARGS__); \
    }                                                                    \
  } while (0)
