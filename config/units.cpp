#include "config/units.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

namespace hornbeam::config {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Splits "64MiB" into the number "64" and the unit "mib" (lower-cased).
std::pair<std::string_view, std::string> split_unit(std::string_view text) {
  std::size_t end = 0;
  while (end < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '.')) {
    ++end;
  }
  std::string_view unit = text.substr(end);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  return {text.substr(0, end), lower(unit)};
}

std::optional<double> parse_decimal(std::string_view text) {
  if (text.empty() || text.front() == '.' || text.back() == '.') return std::nullopt;
  if (std::count(text.begin(), text.end(), '.') > 1) return std::nullopt;
  double value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<std::int64_t> parse_integer(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  std::int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::int64_t> parse_octal(std::string_view text) {
  if (text.starts_with("0o") || text.starts_with("0O")) text.remove_prefix(2);
  std::int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 8);
  if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<bool> parse_bool(std::string_view text) {
  const std::string word = lower(text);
  if (word == "true" || word == "yes" || word == "on" || word == "1") return true;
  if (word == "false" || word == "no" || word == "off" || word == "0") return false;
  return std::nullopt;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  const auto [number, unit] = split_unit(text);
  std::uint64_t multiplier = 0;
  if (unit.empty() || unit == "b")
    multiplier = 1;
  else if (unit == "k" || unit == "kib")
    multiplier = KiB;
  else if (unit == "m" || unit == "mib")
    multiplier = MiB;
  else if (unit == "g" || unit == "gib")
    multiplier = GiB;
  else if (unit == "kb")
    multiplier = 1000;
  else if (unit == "mb")
    multiplier = 1000 * 1000;
  else if (unit == "gb")
    multiplier = 1000 * 1000 * 1000;
  else
    return std::nullopt;

  if (number.find('.') == std::string_view::npos) {
    std::uint64_t value = 0;
    const auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (number.empty() || ec != std::errc{} || ptr != number.data() + number.size()) {
      return std::nullopt;
    }
    if (value > std::numeric_limits<std::uint64_t>::max() / multiplier) return std::nullopt;
    return value * multiplier;
  }
  // "1.5MiB": allowed when it comes out as whole bytes.
  const auto value = parse_decimal(number);
  if (!value) return std::nullopt;
  const double bytes = *value * static_cast<double>(multiplier);
  if (bytes != std::floor(bytes) || bytes >= 1.8e19) return std::nullopt;
  return static_cast<std::uint64_t>(bytes);
}

std::optional<Duration> parse_duration(std::string_view text) {
  const auto [number, unit] = split_unit(text);
  double milliseconds_per_unit = 0;
  if (unit.empty() || unit == "s")
    milliseconds_per_unit = 1000;
  else if (unit == "ms")
    milliseconds_per_unit = 1;
  else if (unit == "m" || unit == "min")
    milliseconds_per_unit = 60'000;
  else if (unit == "h")
    milliseconds_per_unit = 3'600'000;
  else
    return std::nullopt;

  const auto value = parse_decimal(number);
  if (!value) return std::nullopt;
  const double milliseconds = *value * milliseconds_per_unit;
  if (milliseconds > 1e15) return std::nullopt;
  return Duration(static_cast<Duration::rep>(std::llround(milliseconds)));
}

std::string format_size(std::uint64_t bytes) {
  if (bytes != 0) {
    if (bytes % GiB == 0) return std::to_string(bytes / GiB) + "GiB";
    if (bytes % MiB == 0) return std::to_string(bytes / MiB) + "MiB";
    if (bytes % KiB == 0) return std::to_string(bytes / KiB) + "KiB";
  }
  return std::to_string(bytes);
}

std::string format_duration(Duration duration) {
  const auto ms = duration.count();
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0 && ms < 3'600'000) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace hornbeam::config
