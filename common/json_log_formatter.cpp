#include "common/json_log_formatter.hpp"
#include "common/log_text.hpp"

#include <nlohmann/json.hpp>

#include <unistd.h>
#include <chrono>
#include <ctime>

namespace hornbeam::logging {
namespace {

std::string iso8601_utc(spdlog::log_clock::time_point when) {
  using namespace std::chrono;
  const auto since_epoch = when.time_since_epoch();
  const std::time_t seconds = duration_cast<std::chrono::seconds>(since_epoch).count();
  const auto millis = duration_cast<milliseconds>(since_epoch).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  const auto length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + length, sizeof text - length, ".%03dZ", static_cast<int>(millis));
  return text;
}

std::string_view level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warning";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "info";
  }
}

}  // namespace

void JsonLogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  // Invalid UTF-8 becomes \xNN (as in text logs) rather than U+FFFD: the bytes stay readable.
  const std::string_view payload(msg.payload.data(), msg.payload.size());
  const std::string cleaned =
      is_clean_log_text(payload) ? std::string() : sanitize_log_text(payload);
  const nlohmann::json record = {
      {"time", iso8601_utc(msg.time)},
      {"level", level_name(msg.level)},
      {"pid", ::getpid()},
      {"process", process_name_},
      {"message", cleaned.empty() ? payload : std::string_view(cleaned)},
  };
  // Replace invalid UTF-8 rather than throw: a log line must never take the process down.
  const std::string line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  dest.append(line.data(), line.data() + line.size());
  dest.push_back('\n');
}

std::unique_ptr<spdlog::formatter> JsonLogFormatter::clone() const {
  return std::make_unique<JsonLogFormatter>(process_name_);
}

}  // namespace hornbeam::logging
