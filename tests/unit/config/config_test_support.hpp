#pragma once

// Helpers for config tests: a temporary YAML file and a one-call loader over all sources.

#include "config/command_line.hpp"
#include "config/loader.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace hornbeam::config::testing {

// A YAML file in a fresh temporary directory, removed with the object.
class TempYaml {
 public:
  explicit TempYaml(const std::string& text, const std::string& name = "hornbeam.yaml") {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("hornbeam-test-" + std::to_string(::getpid()) + "-" + info->test_suite_name() + "-" +
            info->name());
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / name).string();
    std::ofstream(path_) << text;
  }
  ~TempYaml() { std::filesystem::remove_all(dir_); }
  TempYaml(const TempYaml&) = delete;
  TempYaml& operator=(const TempYaml&) = delete;

  const std::string& path() const { return path_; }
  std::string dir() const { return dir_.string(); }

 private:
  std::filesystem::path dir_;
  std::string path_;
};

// Loads from a YAML text (skipped when empty), an environment and command-line arguments
// (without the program name), exactly as the binaries do.
inline Config load_from(const std::string& yaml, const Environment& environment = {},
                        const std::vector<std::string>& arguments = {}, bool require_app = true) {
  std::vector<const char*> argv = {"hornbeam-test"};
  for (const auto& argument : arguments) argv.push_back(argument.c_str());
  const CommandLine line = parse_command_line(static_cast<int>(argv.size()), argv.data());

  std::optional<TempYaml> file;
  Sources sources;
  if (!yaml.empty()) {
    file.emplace(yaml);
    sources.config_file = file->path();
  }
  sources.environment = environment;
  sources.command_line = line.values;
  sources.require_app = require_app;
  return load(sources);
}

// The problems a load reports; fails the test when it succeeds.
inline std::vector<std::string> problems_of(const std::string& yaml,
                                            const Environment& environment = {},
                                            const std::vector<std::string>& arguments = {}) {
  try {
    load_from(yaml, environment, arguments);
  } catch (const ConfigError& error) {
    return error.problems();
  }
  ADD_FAILURE() << "expected the configuration to be rejected";
  return {};
}

}  // namespace hornbeam::config::testing
