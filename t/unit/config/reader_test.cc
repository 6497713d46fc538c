// The inih-based reader: line numbers, the 199-character limit, comments,
// continuation lines and inih's syntax errors (config/reader.h).
#include "config/reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace drover::config {
namespace {

IniFile Read(const std::string& text) {
  auto r = ReadIniString(text, "t.conf");
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r.value() : IniFile();
}

std::string ReadError(const std::string& text) {
  auto r = ReadIniString(text, "t.conf");
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.status().message();
}

TEST(ReaderTest, EntriesKeepSectionNameValueAndLine) {
  IniFile f = Read("[global]\nUser = nobody\n\n[server]\nListen=0.0.0.0:80\nTimeout : 30\n");
  ASSERT_EQ(f.sections.size(), 2u);
  EXPECT_EQ(f.sections[0].name, "global");
  EXPECT_EQ(f.sections[0].line, 1);
  EXPECT_EQ(f.sections[1].name, "server");
  EXPECT_EQ(f.sections[1].line, 4);
  ASSERT_EQ(f.entries.size(), 3u);
  EXPECT_EQ(f.entries[0].section, "global");
  EXPECT_EQ(f.entries[0].name, "User");
  EXPECT_EQ(f.entries[0].value, "nobody");
  EXPECT_EQ(f.entries[0].line, 2);
  EXPECT_EQ(f.entries[1].value, "0.0.0.0:80");  // '=' comes before ':'
  EXPECT_EQ(f.entries[1].line, 5);
  EXPECT_EQ(f.entries[2].name, "Timeout");  // name: value is accepted too
  EXPECT_EQ(f.entries[2].value, "30");
  EXPECT_EQ(f.entries[2].line, 6);
}

TEST(ReaderTest, CrLfLineEndingsAndBom) {
  IniFile f = Read("\xEF\xBB\xBF[server]\r\nA = 1\r\nB = 2");
  ASSERT_EQ(f.sections.size(), 1u);
  EXPECT_EQ(f.sections[0].name, "server");
  ASSERT_EQ(f.entries.size(), 2u);
  EXPECT_EQ(f.entries[0].value, "1");
  EXPECT_EQ(f.entries[1].value, "2");  // last line without '\n'
  EXPECT_EQ(f.entries[1].line, 3);
}

TEST(ReaderTest, CommentLinesStartWithSemicolonOrHash) {
  IniFile f = Read("; comment\n# comment\n[s]\n   ; indented comment\nA = 1\n");
  ASSERT_EQ(f.entries.size(), 1u);
  EXPECT_EQ(f.entries[0].line, 5);
}

TEST(ReaderTest, InlineCommentNeedsWhitespaceBeforeSemicolon) {
  IniFile f = Read("[s]\nA = 30 ; seconds\nB = a;b\nC = x # not a comment\nD = ;all comment\n");
  ASSERT_EQ(f.entries.size(), 4u);
  EXPECT_EQ(f.entries[0].value, "30");
  EXPECT_EQ(f.entries[1].value, "a;b");
  EXPECT_EQ(f.entries[2].value, "x # not a comment");
  EXPECT_EQ(f.entries[3].value, "");
}

TEST(ReaderTest, IndentedLineContinuesThePreviousValue) {
  IniFile f = Read(
      "[balancer://c]\n"
      "BalancerMember = http://a:80\n"
      "    route=n1 ; the route\n"
      "\n"
      "  ; a comment does not end the continuation\n"
      "    loadfactor=2\n"
      "ProxySet = lbmethod=bybusyness\n");
  ASSERT_EQ(f.entries.size(), 2u);
  EXPECT_EQ(f.entries[0].name, "BalancerMember");
  EXPECT_EQ(f.entries[0].value, "http://a:80 route=n1 loadfactor=2");
  EXPECT_EQ(f.entries[0].line, 2);
  EXPECT_EQ(f.entries[1].value, "lbmethod=bybusyness");
  EXPECT_EQ(f.entries[1].line, 7);
}

TEST(ReaderTest, IndentedEntryRightAfterASectionIsNotAContinuation) {
  IniFile f = Read("[a]\nX = 1\n[b]\n  Y = 2\n");
  ASSERT_EQ(f.entries.size(), 2u);
  EXPECT_EQ(f.entries[1].section, "b");
  EXPECT_EQ(f.entries[1].name, "Y");
  EXPECT_EQ(f.entries[1].value, "2");
  EXPECT_EQ(f.entries[1].line, 4);
}

TEST(ReaderTest, ContinuationOfAnEmptyValue) {
  IniFile f = Read("[a]\nX =\n  1 2\n");
  ASSERT_EQ(f.entries.size(), 1u);
  EXPECT_EQ(f.entries[0].value, "1 2");
}

TEST(ReaderTest, LineOf199CharactersIsAccepted) {
  std::string value(199 - 4, 'x');  // "A = " + value
  IniFile f = Read("[s]\nA = " + value + "\nB = 1\n");
  ASSERT_EQ(f.entries.size(), 2u);
  EXPECT_EQ(f.entries[0].value, value);
  EXPECT_EQ(f.entries[1].line, 3);
}

TEST(ReaderTest, LineOf199CharactersWithCrLfIsAccepted) {
  std::string value(199 - 4, 'x');
  IniFile f = Read("[s]\r\nA = " + value + "\r\nB = 1\r\n");
  ASSERT_EQ(f.entries.size(), 2u);
  EXPECT_EQ(f.entries[0].value, value);
}

TEST(ReaderTest, LineOf200CharactersIsAnError) {
  std::string value(200 - 4, 'x');
  EXPECT_EQ(ReadError("[s]\nA = 1\nB = " + value + "\n"),
            "t.conf:3: line longer than 199 characters");
}

TEST(ReaderTest, LongCommentLineIsAnErrorToo) {
  EXPECT_EQ(ReadError("# " + std::string(250, 'c') + "\n"),
            "t.conf:1: line longer than 199 characters");
}

TEST(ReaderTest, LineWithoutEqualsIsASyntaxError) {
  EXPECT_EQ(ReadError("[s]\nA = 1\nthis is no entry\nB = 2\n"), "t.conf:3: syntax error");
}

TEST(ReaderTest, SectionWithoutClosingBracketIsASyntaxError) {
  EXPECT_EQ(ReadError("[s]\nA = 1\n[server\n"), "t.conf:3: syntax error");
}

TEST(ReaderTest, FirstErrorWinsBetweenSyntaxAndLength) {
  EXPECT_EQ(ReadError("[s]\nnope\nA = " + std::string(300, 'x') + "\n"), "t.conf:2: syntax error");
}

TEST(ReaderTest, SectionNameLongerThan49IsAnError) {
  std::string name = "balancer://" + std::string(39, 'n');  // 50 characters
  EXPECT_EQ(ReadError("[" + name + "]\nA = 1\n"),
            "t.conf:1: section name '" + name + "' longer than 49 characters");
}

TEST(ReaderTest, SectionNameOf49IsAccepted) {
  std::string name = "balancer://" + std::string(38, 'n');
  IniFile f = Read("[" + name + "]\nA = 1\n");
  ASSERT_EQ(f.entries.size(), 1u);
  EXPECT_EQ(f.entries[0].section, name);
}

TEST(ReaderTest, NulByteIsAnError) {
  EXPECT_EQ(ReadError(std::string("[s]\nA = 1\0x\n", 12)), "t.conf:2: NUL byte in line");
}

// Found by t/fuzz/fuzz_config.cc: "ProxyPass = /app\r\r http://..." made the
// path "/app\r\r", which -T wrote back as a line that reads as "/app".
TEST(ReaderTest, ControlCharacterIsAnError) {
  EXPECT_EQ(ReadError("[s]\nA = /app\r\r b\n"), "t.conf:2: control character 0x0D in line");
  EXPECT_EQ(ReadError("[s]\nA = 1\n\x0b\n"), "t.conf:3: control character 0x0B in line");
  EXPECT_EQ(ReadError("[s]\nA = \x1b[31m\n"), "t.conf:2: control character 0x1B in line");
  EXPECT_EQ(ReadError("[s]\nA = 1\x7f\n"), "t.conf:2: control character 0x7F in line");
  EXPECT_EQ(ReadError("[s]\r\r\nA = 1\n"), "t.conf:1: control character 0x0D in line");
  // TAB is fine, and so is CR LF (one CR right before the LF, or at the end).
  IniFile f = Read("[s]\r\nA =\t1\tx\r\nB = 2\r");
  ASSERT_EQ(f.entries.size(), 2u);
  EXPECT_EQ(f.entries[0].value, "1\tx");
  EXPECT_EQ(f.entries[1].value, "2");
}

TEST(ReaderTest, EmptySectionIsListed) {
  IniFile f = Read("[balancer://x]\n; nothing\n[server]\n");
  ASSERT_EQ(f.sections.size(), 2u);
  EXPECT_EQ(f.sections[0].name, "balancer://x");
  EXPECT_EQ(f.sections[1].line, 3);
  EXPECT_TRUE(f.entries.empty());
}

TEST(ReaderTest, ReadsFilesAndReportsOpenErrors) {
  char path[] = "/tmp/drover-reader-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string text = "[server]\nListen = 80\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  auto r = ReadIniFile(path);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->entries.size(), 1u);
  EXPECT_EQ(r->entries[0].line, 2);
  unlink(path);
  auto missing = ReadIniFile(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            std::string(path) + ": cannot open (2: No such file or directory)");
}

}  // namespace
}  // namespace drover::config
