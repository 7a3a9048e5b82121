#pragma once

// A spdlog file sink whose file can be reopened under the same path, so that logrotate can
// move the file away and USR1 makes us write to a fresh one.

#include <spdlog/details/file_helper.h>
#include <spdlog/sinks/base_sink.h>

#include <mutex>
#include <string>

namespace hornbeam::logging {

class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit ReopenableFileSink(const std::string& path);
  void reopen();

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;

 private:
  spdlog::details::file_helper file_;
};

}  // namespace hornbeam::logging
