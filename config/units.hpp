#pragma once

// Sizes ("64MiB", "512k", "1048576") and durations ("30", "30s", "500ms", "2m", "1.5h").

#include "config/config.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hornbeam::config {

// Bytes: a plain number, or a number with B, K/KiB, M/MiB, G/GiB (binary, like nginx's k/m)
// or KB/MB/GB (decimal). Case-insensitive. Nullopt when the text is not a size or overflows.
std::optional<std::uint64_t> parse_size(std::string_view text);

// A plain number is seconds (fractions allowed); suffixes ms, s, m, h. Nullopt otherwise.
std::optional<Duration> parse_duration(std::string_view text);

// Shortest exact spelling, for docs and messages: 65536 → "64KiB", 1000 → "1000".
std::string format_size(std::uint64_t bytes);
// 30000ms → "30s", 500ms → "500ms", 0 → "0s", 120000ms → "2m", 86400000ms → "24h".
std::string format_duration(Duration duration);

// Whole decimal integer with optional sign; nullopt on junk or overflow.
std::optional<std::int64_t> parse_integer(std::string_view text);
// Octal integer as in `umask: 0022`, `0o22` or `22`; nullopt on junk.
std::optional<std::int64_t> parse_octal(std::string_view text);
// true/false, yes/no, on/off, 1/0 (case-insensitive); nullopt otherwise.
std::optional<bool> parse_bool(std::string_view text);

}  // namespace hornbeam::config
