// The INI reader under config/builder.cc: runs Debian's libinih over the
// config text and returns every `name = value` entry with its section and
// line number, plus every section header line. It knows INI syntax only, not
// directives. Runs in the master (and in -t/-T); no libevent, no OpenSSL.
//
// inih behaviour this reader relies on, and what it adds (tested in
// t/unit/config/reader_test.cc):
//  - Debian's inih is built WITHOUT INI_HANDLER_LINENO, so line numbers come
//    from our own ini_reader callback: inih calls the handler for a line right
//    after our reader returned that line, so "lines returned so far" is the
//    handler's line number.
//  - A line holds at most 199 characters (inih's INI_MAX_LINE is 200, with
//    room for the '\0'; the '\n' or "\r\n" terminator is not counted). A
//    longer line is an error "FILE:LINE: line longer than 199 characters"
//    instead of inih's silent split into two lines.
//  - Lines whose first non-blank character is ';' or '#' are comments.
//  - INI_ALLOW_INLINE_COMMENTS: a ';' preceded by whitespace starts a comment
//    ("Timeout = 30 ; seconds" is "30"); a ';' right after other text is data
//    ("a;b" stays "a;b"). '#' is only a comment at the start of a line.
//  - `name: value` is accepted like `name = value` (inih splits at the first
//    '=' or ':'): "Listen = 0.0.0.0:80" is fine because '=' comes first.
//  - INI_ALLOW_MULTILINE: an indented non-blank line after an entry continues
//    that entry's value (inih calls the handler again with the same name).
//    This holds even across blank and comment lines, up to the next section
//    header. The reader joins the continuation to the entry with one space,
//    so a long BalancerMember or ProxyPass can be wrapped over several lines;
//    the entry keeps the line number of its first line. inih r55 does NOT
//    strip inline comments on continuation lines; the reader does (same rule
//    as above) so that comments behave the same on every line.
//  - An indented line right after a section header (no entry yet) is a normal
//    entry, not a continuation.
//  - Section names are limited to 49 characters by inih (MAX_SECTION 50,
//    silently truncated): the reader reports a longer one as an error.
//  - inih's own syntax errors (a line without '=' or ':', a '[' without ']')
//    become "FILE:LINE: syntax error" for the first such line.
//  - A UTF-8 byte order mark at the start of the file is skipped.
//  - A NUL byte in the text is an error naming its line, and so is any other
//    control character but TAB (a CR only ends a line right before its LF):
//    inih would trim some where they end a value and keep them inside words,
//    so a stray CR made a ProxyPass path that never matches and that -T
//    (Dump) showed as a different config.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace drover::config {

struct IniEntry {
  std::string section;  // as written between the brackets ("" before any section)
  std::string name;     // as written (inih trims it)
  std::string value;    // trimmed, inline comment removed, continuations joined with ' '
  int line = 0;         // line of the entry's first line (1-based)
};

struct IniSection {
  std::string name;  // as written between the brackets
  int line = 0;
};

struct IniFile {
  std::vector<IniSection> sections;  // in file order
  std::vector<IniEntry> entries;     // in file order
};

// Parses `text`; `file` is used in error messages only ("FILE:LINE: message").
core::Result<IniFile> ReadIniString(std::string_view text, const std::string& file);
// Reads the file and parses it; "FILE: cannot read (errno: text)" when unreadable.
core::Result<IniFile> ReadIniFile(const std::string& file);

}  // namespace drover::config
