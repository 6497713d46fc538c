#include "core/log.h"

#include <fcntl.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace drover::core {
namespace {

struct LogState {
  int fd = 2;
  LogLevel level = LogLevel::kWarn;
  std::string path;
};

LogState& State() {
  static LogState s;
  return s;
}

const char* const kNames[] = {"emerg", "alert", "crit", "error", "warn", "notice", "info", "debug"};

int OpenLogFile(const std::string& path, std::string* err) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    *err = "open(\"" + path + "\") failed (" + std::to_string(errno) + ": " + strerror(errno) + ")";
  }
  return fd;
}

}  // namespace

const char* LogLevelName(LogLevel level) { return kNames[static_cast<int>(level)]; }

bool ParseLogLevel(const std::string& name, LogLevel* out) {
  for (int i = 0; i < 8; ++i) {
    if (strcasecmp(name.c_str(), kNames[i]) == 0) {
      *out = static_cast<LogLevel>(i);
      return true;
    }
  }
  return false;
}

bool ErrorLog::Open(const std::string& path, LogLevel level, std::string* err) {
  LogState& s = State();
  int fd = 2;
  if (!path.empty() && path != "stderr") {
    fd = OpenLogFile(path, err);
    if (fd < 0) {
      return false;
    }
  }
  if (s.fd > 2) {
    ::close(s.fd);
  }
  s.fd = fd;
  s.path = path;
  s.level = level;
  return true;
}

bool ErrorLog::Reopen(std::string* err) {
  LogState& s = State();
  if (s.path.empty() || s.path == "stderr") {
    return true;
  }
  int fd = OpenLogFile(s.path, err);
  if (fd < 0) {
    return false;
  }
  if (s.fd > 2) {
    ::close(s.fd);
  }
  s.fd = fd;
  return true;
}

void ErrorLog::SetLevel(LogLevel level) { State().level = level; }

bool ErrorLog::Enabled(LogLevel level) { return level <= State().level; }

int ErrorLog::fd() { return State().fd; }

void ErrorLog::Write(LogLevel level, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  VWrite(level, fmt, ap);
  va_end(ap);
}

void ErrorLog::VWrite(LogLevel level, const char* fmt, va_list ap) {
  char buf[2048];
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  struct tm tm;
  localtime_r(&tv.tv_sec, &tm);
  char when[64];
  strftime(when, sizeof(when), "%a %b %d %H:%M:%S", &tm);
  int n = snprintf(buf, sizeof(buf), "[%s.%06ld %d] [%s] [pid %d] ", when,
                   static_cast<long>(tv.tv_usec), tm.tm_year + 1900, LogLevelName(level),
                   static_cast<int>(getpid()));
  int m = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
  if (m < 0) {
    m = 0;
  }
  size_t len = static_cast<size_t>(n) + static_cast<size_t>(m);
  if (len > sizeof(buf) - 2) {
    len = sizeof(buf) - 2;
  }
  buf[len++] = '\n';
  ssize_t w = ::write(State().fd, buf, len);
  (void)w;
}

}  // namespace drover::core
