#include "config/startup.hpp"

#include "common/exit_codes.hpp"
#include "common/version.hpp"
#include "config/json_output.hpp"
#include "config/without_effect.hpp"

#include <ostream>

namespace hornbeam::config {
namespace {

int report(std::ostream& err, std::string_view program, const ConfigError& error) {
  for (const auto& problem : error.problems()) err << program << ": error: " << problem << "\n";
  err << program << ": configuration is invalid; nothing was started (see --help)\n";
  return exit_code::config_error;
}

}  // namespace

Startup start(int argc, const char* const* argv, std::string_view program,
              const std::vector<ExtraOption>& extras, std::ostream& out, std::ostream& err) {
  Startup result;
  CommandLine line;
  try {
    line = parse_command_line(argc, argv, extras);
  } catch (const ConfigError& error) {
    result.exit_status = report(err, program, error);
    return result;
  }
  if (line.show_help) {
    out << help_text(program, extras);
    return result;
  }
  if (line.show_version) {
    out << version_line() << "\n";
    return result;
  }

  Sources sources;
  sources.environment = process_environment();
  sources.config_file = line.config_file;
  if (sources.config_file.empty()) {
    if (const auto named = sources.environment.find(config_file_variable);
        named != sources.environment.end()) {
      sources.config_file = named->second;
    }
  }
  sources.command_line = std::move(line.values);

  try {
    Config config = load(sources);
    result.config_file = sources.config_file;
    result.sources = sources;
    if (line.check_config) {
      out << program << ": configuration "
          << (sources.config_file.empty() ? std::string("(no file)") : sources.config_file)
          << " is valid\n";
      for (const auto& warning : settings_without_effect(config))
        err << program << ": warning: " << warning << "\n";
      return result;
    }
    if (line.print_config) {
      out << to_json_text(config) << "\n";
      return result;
    }
    result.config = std::move(config);
  } catch (const ConfigError& error) {
    result.exit_status = report(err, program, error);
  }
  return result;
}

}  // namespace hornbeam::config
