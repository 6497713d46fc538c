// See reader.h for the INI rules. The reader callback hands inih one line at a
// time from memory and mirrors inih's line classification (comment, section
// header, entry, continuation) so that it knows section header lines (inih
// reports none: INI_CALL_HANDLER_ON_NEW_SECTION is off) and which handler
// calls are continuations.
#include "config/reader.h"

#include <fcntl.h>
#include <ini.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace drover::config {
namespace {

// inih r55: MAX_SECTION is 50 including the '\0'.
constexpr size_t kMaxSectionName = 49;
// Config files larger than this are refused (a config is a few kB).
constexpr size_t kMaxFileSize = 16u << 20;

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// inih's find_chars_or_comment(): the index of the first character of `chars`,
// or of a ';' preceded by whitespace (INI_ALLOW_INLINE_COMMENTS), or s.size().
size_t FindCharsOrComment(std::string_view s, std::string_view chars) {
  bool was_space = false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (chars.find(s[i]) != std::string_view::npos) {
      return i;
    }
    if (was_space && s[i] == ';') {
      return i;
    }
    was_space = IsSpace(s[i]);
  }
  return s.size();
}

std::string_view RStrip(std::string_view s) {
  while (!s.empty() && IsSpace(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

enum class LineKind { kOther, kEntry, kContinuation };

class Reader {
 public:
  Reader(std::string_view text, const std::string& file) : text_(text), file_(file) {}

  core::Result<IniFile> Run() {
    int rc = ini_parse_stream(&Reader::ReadCb, this, &Reader::HandlerCb, this);
    if (rc > 0 && (error_line_ == 0 || rc < error_line_)) {
      return core::Status::Error(file_ + ":" + std::to_string(rc) + ": syntax error");
    }
    if (error_line_ > 0) {
      return core::Status::Error(file_ + ":" + std::to_string(error_line_) + ": " + error_);
    }
    if (rc < 0) {
      return core::Status::Error(file_ + ": ini_parse_stream() failed (" + std::to_string(rc) +
                                 ")");
    }
    return std::move(out_);
  }

 private:
  static char* ReadCb(char* str, int num, void* stream) noexcept {
    return static_cast<Reader*>(stream)->Read(str, num);
  }
  static int HandlerCb(void* user, const char* section, const char* name,
                       const char* value) noexcept {
    return static_cast<Reader*>(user)->Handle(section, name, value);
  }

  void Fail(const std::string& message) {
    if (error_line_ == 0) {
      error_line_ = line_;
      error_ = message;
    }
  }

  // Returns the next line (without its terminator) in `str`, or nullptr at the
  // end or after an error (which stops inih).
  char* Read(char* str, int num) {
    if (error_line_ != 0 || pos_ >= text_.size()) {
      return nullptr;
    }
    size_t nl = text_.find('\n', pos_);
    size_t end = nl == std::string_view::npos ? text_.size() : nl;
    std::string_view raw = text_.substr(pos_, end - pos_);
    pos_ = nl == std::string_view::npos ? text_.size() : nl + 1;
    ++line_;
    if (!raw.empty() && raw.back() == '\r') {
      raw.remove_suffix(1);
    }
    if (line_ == 1 && raw.substr(0, 3) == "\xEF\xBB\xBF") {
      raw.remove_prefix(3);
    }
    if (raw.find('\0') != std::string_view::npos) {
      Fail("NUL byte in line");
      return nullptr;
    }
    for (char c : raw) {
      // Other control characters (a CR inside a line, VT, FF, ESC, DEL...) would
      // end up inside words or be trimmed by inih depending on where they sit.
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == '\x7f') {
        char hex[8];
        snprintf(hex, sizeof(hex), "0x%02X", static_cast<unsigned char>(c));
        Fail(std::string("control character ") + hex + " in line");
        return nullptr;
      }
    }
    size_t max = num > 1 ? static_cast<size_t>(num - 1) : 0;
    if (raw.size() > max) {
      Fail("line longer than " + std::to_string(max) + " characters");
      return nullptr;
    }
    memcpy(str, raw.data(), raw.size());
    str[raw.size()] = '\0';
    Classify(raw);
    return error_line_ != 0 ? nullptr : str;
  }

  // Mirrors the branch order of inih's ini_parse_stream() loop.
  void Classify(std::string_view raw) {
    kind_ = LineKind::kOther;
    std::string_view s = RStrip(raw);
    size_t b = 0;
    while (b < s.size() && IsSpace(s[b])) {
      ++b;
    }
    std::string_view start = s.substr(b);
    if (start.empty() || start[0] == ';' || start[0] == '#') {
      return;
    }
    if (b > 0 && name_since_section_) {
      kind_ = LineKind::kContinuation;
      return;
    }
    if (start[0] == '[') {
      size_t e = FindCharsOrComment(start.substr(1), "]");
      if (e < start.size() - 1 && start[1 + e] == ']') {
        std::string name(start.substr(1, e));
        if (name.size() > kMaxSectionName) {
          Fail("section name '" + name + "' longer than " + std::to_string(kMaxSectionName) +
               " characters");
          return;
        }
        out_.sections.push_back(IniSection{name, line_});
        name_since_section_ = false;
      }
      return;  // without ']': inih reports a syntax error for this line
    }
    kind_ = LineKind::kEntry;
  }

  int Handle(const char* section, const char* name, const char* value) {
    if (kind_ == LineKind::kContinuation && !out_.entries.empty()) {
      // inih r55 keeps inline comments on continuation lines; strip them here.
      std::string_view v(value);
      v = RStrip(v.substr(0, FindCharsOrComment(v, "")));
      if (!v.empty()) {
        IniEntry& last = out_.entries.back();
        if (!last.value.empty()) {
          last.value += ' ';
        }
        last.value.append(v);
      }
      return 1;
    }
    out_.entries.push_back(IniEntry{section, name, value, line_});
    // inih keeps the previous name for continuations; an empty name clears it.
    name_since_section_ = name[0] != '\0';
    return 1;
  }

  std::string_view text_;
  const std::string& file_;
  size_t pos_ = 0;
  int line_ = 0;
  LineKind kind_ = LineKind::kOther;
  bool name_since_section_ = false;
  int error_line_ = 0;
  std::string error_;
  IniFile out_;
};

}  // namespace

core::Result<IniFile> ReadIniString(std::string_view text, const std::string& file) {
  Reader reader(text, file);
  return reader.Run();
}

core::Result<IniFile> ReadIniFile(const std::string& file) {
  auto errno_text = [](int err) { return std::to_string(err) + ": " + strerror(err); };
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return core::Status::Error(file + ": cannot open (" + errno_text(errno) + ")");
  }
  std::string text;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return core::Status::Error(file + ": cannot read (" + errno_text(err) + ")");
    }
    if (n == 0) {
      break;
    }
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxFileSize) {
      ::close(fd);
      return core::Status::Error(file + ": file larger than " + std::to_string(kMaxFileSize) +
                                 " bytes");
    }
  }
  ::close(fd);
  return ReadIniString(text, file);
}

}  // namespace drover::config
