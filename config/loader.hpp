#pragma once

// Builds the effective Config from its sources, in precedence order:
// command line > environment (HORNBEAM_*) > config file > defaults.

#include "config/config.hpp"

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace hornbeam::config {

struct Setting;

// Every problem found, each one line that names where the value came from and why it is wrong.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<std::string> problems);
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::vector<std::string> problems_;
};

using Environment = std::map<std::string, std::string>;

// The HORNBEAM_* variables of this process.
Environment process_environment();

// One setting given on the command line; repeatable flags carry every value in order.
struct CommandLineValue {
  const Setting* setting;
  std::vector<std::string> values;
};

struct Sources {
  std::string config_file;  // empty: none
  Environment environment;
  std::vector<CommandLineValue> command_line;
  bool require_app = true;
};

// The environment variable that names the config file when -c is not given.
inline constexpr const char* config_file_variable = "HORNBEAM_CONFIG";

// The port a platform (Heroku, Cloud Run...) gives the process: the default `bind` is then
// 0.0.0.0:$PORT, as in Gunicorn.
inline constexpr const char* port_variable = "PORT";

// Throws ConfigError listing every problem; nothing is partially applied to the caller.
Config load(const Sources& sources);

}  // namespace hornbeam::config
