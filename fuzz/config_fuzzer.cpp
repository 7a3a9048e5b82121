// The configuration loader with a YAML file, HORNBEAM_* variables and a command line from the
// input: [YAML] NUL [VAR=value lines] NUL [argument NUL argument ...]. Every bad input must be
// a ConfigError listing its problems; any other exception escaping is a finding.

#include "config/command_line.hpp"
#include "config/loader.hpp"

#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace hornbeam::config;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const auto first = input.find('\0');
  const auto second = first == std::string::npos ? std::string::npos : input.find('\0', first + 1);
  const std::string yaml = input.substr(0, first);
  const std::string variables =
      first == std::string::npos ? "" : input.substr(first + 1, second - first - 1);
  const std::string arguments = second == std::string::npos ? "" : input.substr(second + 1);

  static const std::string path =
      "/tmp/hornbeam-config-fuzz-" + std::to_string(::getpid()) + ".yaml";
  std::ofstream(path, std::ios::binary | std::ios::trunc) << yaml;

  Sources sources;
  sources.config_file = path;
  std::istringstream lines(variables);
  for (std::string line; std::getline(lines, line);) {
    const auto equals = line.find('=');
    if (equals != std::string::npos)
      sources.environment[line.substr(0, equals)] = line.substr(equals + 1);
  }
  std::vector<std::string> words = {"hornbeam-worker"};
  std::size_t start = 0;
  while (start < arguments.size()) {
    const auto end = arguments.find('\0', start);
    words.push_back(arguments.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  std::vector<const char*> argv;
  for (const auto& word : words) argv.push_back(word.c_str());
  try {
    sources.command_line = parse_command_line(static_cast<int>(argv.size()), argv.data()).values;
    sources.require_app = false;
    load(sources);
  } catch (const ConfigError& error) {
    if (error.problems().empty()) __builtin_trap();  // an error must say what is wrong
  }
  return 0;
}
