#include "common/log_text.hpp"

#include <gtest/gtest.h>

namespace hornbeam::logging {
namespace {

TEST(EscapeForLog, EveryNonPrintableByteQuotesAndBackslashes) {
  EXPECT_EQ(escape_for_log("a\nb\x7f"), R"(a\x0ab\x7f)");
  EXPECT_EQ(escape_for_log("/\x1b[2J\"\\"), R"(/\x1b[2J\"\\)");
  EXPECT_EQ(escape_for_log("caf\xc3\xa9"), R"(caf\xc3\xa9)");  // as the access log does
}

TEST(SanitizeLogText, KeepsValidUtf8NewlinesAndTabs) {
  const std::string text = "Traceback:\n\tFile \"caf\xc3\xa9.py\"\n\xe2\x82\xac \xf0\x9f\x90\x8d";
  EXPECT_TRUE(is_clean_log_text(text));
  EXPECT_EQ(sanitize_log_text(text), text);
}

TEST(SanitizeLogText, EscapesInvalidUtf8AndControls) {
  EXPECT_EQ(sanitize_log_text("a\xff"
                              "b"),
            R"(a\xffb)");
  EXPECT_EQ(sanitize_log_text("\x1b[31mred"), R"(\x1b[31mred)");            // a terminal escape
  EXPECT_EQ(sanitize_log_text("cr\rlf"), R"(cr\x0dlf)");                    // a forged line start
  EXPECT_EQ(sanitize_log_text("\xc3"), R"(\xc3)");                          // cut short
  EXPECT_EQ(sanitize_log_text("\xc0\xaf"), R"(\xc0\xaf)");                  // overlong '/'
  EXPECT_EQ(sanitize_log_text("\xe0\x80\xaf"), R"(\xe0\x80\xaf)");          // overlong, 3 bytes
  EXPECT_EQ(sanitize_log_text("\xed\xa0\x80"), R"(\xed\xa0\x80)");          // a surrogate
  EXPECT_EQ(sanitize_log_text("\xf4\x90\x80\x80"), R"(\xf4\x90\x80\x80)");  // > U+10FFFF
  EXPECT_EQ(sanitize_log_text("\xe2\x82"
                              "x"),
            R"(\xe2\x82x)");  // the bad byte alone goes
  EXPECT_EQ(sanitize_log_text(std::string("nul\0", 4)), R"(nul\x00)");
  EXPECT_EQ(sanitize_log_text("csi \xc2\x9b"
                              "2J, nbsp \xc2\xa0"),
            "csi \\xc2\\x9b"
            "2J, nbsp \xc2\xa0");
  for (const char* bad : {"a\xff", "\x1b", "\xc3", "\x7f", "\xc2\x9b"})
    EXPECT_FALSE(is_clean_log_text(bad));
}

}  // namespace
}  // namespace hornbeam::logging
