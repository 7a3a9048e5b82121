#pragma once

// The command line of both binaries, generated from the settings table: every setting is a
// `--flag` named after its key, plus -c, --check-config, --print-config, --version, --help and
// the APP positional argument.

#include "config/loader.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hornbeam::config {

struct CommandLine {
  std::string config_file;  // -c; empty when not given
  bool check_config = false;
  bool print_config = false;
  bool show_version = false;
  bool show_help = false;
  std::vector<CommandLineValue> values;  // settings given as flags (and APP)
};

// An option that only one binary has (the worker's --fd), added to the generated ones.
struct ExtraOption {
  std::string_view name;  // "fd"
  std::string_view value_name;
  std::string_view doc;
  std::vector<std::string>* values;  // filled in order; repeatable
};

// Throws ConfigError for unknown options (with a suggestion) and missing values.
CommandLine parse_command_line(int argc, const char* const* argv,
                               const std::vector<ExtraOption>& extras = {});

// The --help text for `program`.
std::string help_text(std::string_view program, const std::vector<ExtraOption>& extras = {});

// Options of Gunicorn, Uvicorn and uWSGI that hornbeam has under another name: (theirs, ours)
// without the dashes; ours is a setting's flag, or `bind` for the ones an address replaces.
const std::vector<std::pair<std::string_view, std::string_view>>& peer_options();

// " (hornbeam's is --contexts)" for one of peer_options() (without its dashes).
std::optional<std::string> peer_option_hint(std::string_view option);

}  // namespace hornbeam::config
