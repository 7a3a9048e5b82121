#pragma once

#include "config/config.hpp"

#include <string>

namespace hornbeam::config {

// The effective configuration as JSON, nested like the YAML file: sizes in bytes, durations
// in seconds. Loading this text as a config file gives back the same Config (the arbiter
// hands workers their configuration this way).
std::string to_json_text(const Config& config, int indent = 2);

}  // namespace hornbeam::config
