#include "common/logging.hpp"

#include "common/json_log_formatter.hpp"
#include "common/log_text.hpp"
#include "common/reopenable_file_sink.hpp"
#include "common/unique_fd.hpp"

#include <cstdio>

#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <fcntl.h>
#include <unistd.h>

#include <stdexcept>
#include <vector>

namespace hornbeam::logging {
namespace {

// Gunicorn's layout, so that existing log tooling keeps working.
constexpr const char* text_pattern = "[%Y-%m-%d %H:%M:%S %z] [%P] [%l] %v";

// Gunicorn's layout, with the message made safe: request bytes and an app's text cannot make a
// line invalid UTF-8 or carry a terminal escape (log_text.hpp).
class TextLogFormatter final : public spdlog::formatter {
 public:
  TextLogFormatter() : pattern_(std::make_unique<spdlog::pattern_formatter>(text_pattern)) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    if (is_clean_log_text(payload)) return pattern_->format(msg, dest);
    const std::string clean = sanitize_log_text(payload);
    auto cleaned = msg;
    cleaned.payload = clean;
    pattern_->format(cleaned, dest);
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<TextLogFormatter>();
  }

 private:
  std::unique_ptr<spdlog::formatter> pattern_;
};

struct Registry {
  std::shared_ptr<spdlog::logger> error;
  std::shared_ptr<spdlog::logger> access;
  std::vector<std::shared_ptr<ReopenableFileSink>> files;
  std::string error_file;  // the error log's path, "" for stderr
};

// error_log_fd(): stderr itself, or a descriptor of the error log file of our own.
int raw_error_fd = -1;

// Points raw_error_fd at the error log: stderr, or `path` opened for appending (as spdlog's
// file sink is, so that both append whole writes). A file's descriptor keeps its number when
// the file is reopened.
void point_raw_error_fd(const std::string& path) {
  const bool owned = raw_error_fd > STDERR_FILENO;
  if (path.empty()) {
    if (owned) {
      ::dup3(STDERR_FILENO, raw_error_fd, O_CLOEXEC);
    } else {
      raw_error_fd = STDERR_FILENO;
    }
    return;
  }
  UniqueFd file(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
  if (!file) return;  // the logger itself says what is wrong with the file
  if (owned) {
    ::dup3(file.get(), raw_error_fd, O_CLOEXEC);
  } else {
    raw_error_fd = file.release();
  }
}

Registry& registry() {
  static Registry instance = [] {
    Registry r;
    r.error = std::make_shared<spdlog::logger>("hornbeam",
                                               std::make_shared<spdlog::sinks::stderr_sink_mt>());
    r.error->set_formatter(std::make_unique<TextLogFormatter>());
    return r;
  }();
  return instance;
}

spdlog::sink_ptr open_target(const std::string& target, bool is_access,
                             std::vector<std::shared_ptr<ReopenableFileSink>>& files) {
  if (target == "-") {
    if (is_access) return std::make_shared<spdlog::sinks::stdout_sink_mt>();
    return std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  try {
    auto sink = std::make_shared<ReopenableFileSink>(target);
    files.push_back(sink);
    return sink;
  } catch (const spdlog::spdlog_ex& e) {
    throw std::runtime_error("cannot open log file " + target + ": " + e.what());
  }
}

}  // namespace

int level_from_name(const std::string& name) {
  if (name == "debug") return spdlog::level::debug;
  if (name == "info") return spdlog::level::info;
  if (name == "warning") return spdlog::level::warn;
  if (name == "error") return spdlog::level::err;
  if (name == "critical") return spdlog::level::critical;
  throw std::invalid_argument("unknown log level: " + name);
}

void configure(const Options& options) {
  Registry next;
  const auto level = static_cast<spdlog::level::level_enum>(level_from_name(options.level));

  next.error = std::make_shared<spdlog::logger>(options.name,
                                                open_target(options.error_log, false, next.files));
  if (options.format == Format::json) {
    next.error->set_formatter(std::make_unique<JsonLogFormatter>(options.name));
  } else {
    next.error->set_formatter(std::make_unique<TextLogFormatter>());
  }
  next.error->set_level(level);
  next.error->flush_on(spdlog::level::warn);
  next.error_file = options.error_log == "-" ? "" : options.error_log;

  if (!options.access_log.empty()) {
    // Access lines are formatted by the request path (text or JSON) and written verbatim.
    next.access = std::make_shared<spdlog::logger>(
        "access", open_target(options.access_log, true, next.files));
    next.access->set_pattern("%v");
    next.access->set_level(spdlog::level::info);
  }
  registry() = std::move(next);
  point_raw_error_fd(registry().error_file);
}

void reopen_files() {
  for (auto& file : registry().files) file->reopen();
  if (!registry().error_file.empty()) point_raw_error_fd(registry().error_file);
}

int error_log_fd() { return raw_error_fd; }

void fatal(const std::string& program, const std::string& text) {
  error_log().critical("{}", text);
  error_log().flush();
  if (!registry().error_file.empty())
    std::fprintf(stderr, "%s: %s\n", program.c_str(), text.c_str());
}

spdlog::logger& error_log() { return *registry().error; }

spdlog::logger* access_log() { return registry().access.get(); }

}  // namespace hornbeam::logging
