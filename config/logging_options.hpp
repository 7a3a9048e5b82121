#pragma once

#include "common/logging.hpp"
#include "config/config.hpp"

namespace hornbeam::config {

// The `logging` settings as the logging module takes them.
inline logging::Options logging_options(const Config& config, std::string name) {
  logging::Options options;
  options.level = config.logging.level;
  options.format = config.logging.format == "json" ? logging::Format::json : logging::Format::text;
  options.error_log = config.logging.error_log;
  options.access_log = config.logging.access_log;
  options.name = std::move(name);
  return options;
}

}  // namespace hornbeam::config
