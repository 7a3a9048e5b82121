#include "config/units.hpp"

#include <gtest/gtest.h>

namespace hornbeam::config {
namespace {

TEST(Units, Sizes) {
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("1048576"), 1048576u);
  EXPECT_EQ(parse_size("64MiB"), 64 * MiB);
  EXPECT_EQ(parse_size("64mib"), 64 * MiB);
  EXPECT_EQ(parse_size("512K"), 512 * KiB);
  EXPECT_EQ(parse_size("512k"), 512 * KiB);
  EXPECT_EQ(parse_size("1G"), GiB);
  EXPECT_EQ(parse_size("1MB"), 1000000u);
  EXPECT_EQ(parse_size("2KB"), 2000u);
  EXPECT_EQ(parse_size("10B"), 10u);
  EXPECT_EQ(parse_size("1.5KiB"), 1536u);
  EXPECT_EQ(parse_size("64 MiB"), 64 * MiB);
}

TEST(Units, InvalidSizes) {
  for (const char* text : {"", "MiB", "-1", "1.2.3K", "1.0001B", "12 parsecs", "1e3",
                           "99999999999999999999", "17179869184GiB", ".5K"}) {
    EXPECT_FALSE(parse_size(text).has_value()) << text;
  }
}

TEST(Units, Durations) {
  using namespace std::chrono_literals;
  EXPECT_EQ(parse_duration("30"), 30s);
  EXPECT_EQ(parse_duration("30s"), 30s);
  EXPECT_EQ(parse_duration("0.5"), 500ms);
  EXPECT_EQ(parse_duration("500ms"), 500ms);
  EXPECT_EQ(parse_duration("2m"), 120s);
  EXPECT_EQ(parse_duration("1h"), 3600s);
  EXPECT_EQ(parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(parse_duration("0"), 0ms);
}

TEST(Units, InvalidDurations) {
  for (const char* text : {"", "s", "-1", "soon", "5d", "1..2", "1e9h"}) {
    EXPECT_FALSE(parse_duration(text).has_value()) << text;
  }
}

TEST(Units, FormatRoundTrips) {
  using namespace std::chrono_literals;
  EXPECT_EQ(format_size(64 * KiB), "64KiB");
  EXPECT_EQ(format_size(16 * MiB), "16MiB");
  EXPECT_EQ(format_size(0), "0");
  EXPECT_EQ(format_size(1000), "1000");
  EXPECT_EQ(format_duration(30s), "30s");
  EXPECT_EQ(format_duration(500ms), "500ms");
  EXPECT_EQ(format_duration(0ms), "0s");
  EXPECT_EQ(format_duration(2min), "2m");
  EXPECT_EQ(format_duration(24h), "24h");
  for (const std::uint64_t bytes : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{1000},
                                    64 * KiB, 3 * GiB, std::uint64_t{1536}}) {
    EXPECT_EQ(parse_size(format_size(bytes)), bytes);
  }
  for (const auto d : {0ms, 1ms, 1500ms, 60000ms, 7200000ms})
    EXPECT_EQ(parse_duration(format_duration(d)), d);
}

TEST(Units, IntegersOctalAndBooleans) {
  EXPECT_EQ(parse_integer("42"), 42);
  EXPECT_EQ(parse_integer("+42"), 42);
  EXPECT_EQ(parse_integer("-3"), -3);
  EXPECT_FALSE(parse_integer("4x"));
  EXPECT_FALSE(parse_integer(""));
  EXPECT_EQ(parse_octal("0022"), 022);
  EXPECT_EQ(parse_octal("0o27"), 027);
  EXPECT_EQ(parse_octal("22"), 022);
  EXPECT_FALSE(parse_octal("9"));
  EXPECT_EQ(parse_bool("True"), true);
  EXPECT_EQ(parse_bool("off"), false);
  EXPECT_EQ(parse_bool("1"), true);
  EXPECT_FALSE(parse_bool("maybe"));
}

}  // namespace
}  // namespace hornbeam::config
