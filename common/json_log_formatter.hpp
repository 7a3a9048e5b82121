#pragma once

#include <spdlog/formatter.h>

#include <string>

namespace hornbeam::logging {

// One JSON object per line: {"time": "...Z", "level": "...", "pid": N, "logger": "...",
// "message": "..."}. Messages are escaped by nlohmann, so any text stays one valid line.
class JsonLogFormatter final : public spdlog::formatter {
 public:
  explicit JsonLogFormatter(std::string process_name) : process_name_(std::move(process_name)) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;

 private:
  std::string process_name_;
};

}  // namespace hornbeam::logging
