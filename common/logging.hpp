#pragma once

// Process-wide logging: one error log and one access log, each a spdlog logger writing to
// stdout/stderr ("-") or to a file that can be reopened (USR1, logrotate).

#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace hornbeam::logging {

enum class Format { text, json };

struct Options {
  std::string level = "info";  // debug, info, warning, error, critical
  Format format = Format::text;
  std::string error_log = "-";    // "-" = stderr
  std::string access_log = "-";   // "-" = stdout, "" = off
  std::string name = "hornbeam";  // shown in JSON records ("arbiter", "worker")
};

// Replaces the process's loggers. Throws std::runtime_error naming the file when a log file
// cannot be opened; the previous loggers stay in place in that case.
void configure(const Options& options);

// Reopens every log file under its path (after logrotate moved it). Safe to call from the
// thread that runs the signal dispatch loop, never from a signal handler.
void reopen_files();

// A descriptor that writes where the error log goes, for what cannot go through the logger: a
// crash report written from a signal handler. For a log file, a descriptor of our own whose
// number reopen_files() keeps (it points it at the reopened file), so that it can be handed
// out once; else stderr (or that same number, pointed at stderr). -1 until configure() ran.
int error_log_fd();

// The error log ("hornbeam") and the access log; never null after configure() or before it
// (a stderr logger is installed until configure() runs).
spdlog::logger& error_log();
// Null when the access log is off.
spdlog::logger* access_log();

// A critical line that ends the process: to the error log, and also to stderr as
// "PROGRAM: text" when the error log is a file, so that the terminal or systemd's journal
// says why the process stopped without anyone opening the file.
void fatal(const std::string& program, const std::string& text);

// spdlog level from one of our level names; throws std::invalid_argument for others.
int level_from_name(const std::string& name);

}  // namespace hornbeam::logging
