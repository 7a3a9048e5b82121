#include "common/reopenable_file_sink.hpp"

namespace hornbeam::logging {

ReopenableFileSink::ReopenableFileSink(const std::string& path) { file_.open(path, false); }

void ReopenableFileSink::reopen() {
  std::lock_guard lock(mutex_);
  file_.flush();
  file_.reopen(false);  // append: never truncate what another process may have written
}

void ReopenableFileSink::sink_it_(const spdlog::details::log_msg& msg) {
  spdlog::memory_buf_t formatted;
  formatter_->format(msg, formatted);
  file_.write(formatted);
  // Lines reach the file at once: a crash must not eat the last words before it.
  file_.flush();
}

void ReopenableFileSink::flush_() { file_.flush(); }

}  // namespace hornbeam::logging
