#pragma once

// What both binaries do before anything else: parse the command line, answer --help and
// --version, load and validate the configuration, answer --check-config and --print-config.

#include "config/command_line.hpp"
#include "config/config.hpp"
#include "config/loader.hpp"

#include <iosfwd>
#include <optional>
#include <string_view>

namespace hornbeam::config {

struct Startup {
  std::optional<Config> config;  // set when the program should go on and serve
  int exit_status = 0;           // otherwise, exit with this
  std::string config_file;       // the file that was loaded
  Sources sources;               // what it was loaded from: a reload loads them again
};

Startup start(int argc, const char* const* argv, std::string_view program,
              const std::vector<ExtraOption>& extras, std::ostream& out, std::ostream& err);

}  // namespace hornbeam::config
