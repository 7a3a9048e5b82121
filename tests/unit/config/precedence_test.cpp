// Command line > environment > config file > defaults.

#include "config_test_support.hpp"

namespace hornbeam::config {
namespace {

using testing::load_from;

const char* const file =
    "app: file:app\nworkers: 2\nbind: [10.0.0.1:1, 10.0.0.2:2]\nlimits:\n  max_headers: 20\n";

TEST(Precedence, DefaultsWhenNothingIsGiven) {
  const Config config = load_from("", {}, {"a:b"});
  EXPECT_EQ(config.workers, cpu_count());
  EXPECT_EQ(config.bind, std::vector<std::string>{"127.0.0.1:8000"});
  EXPECT_EQ(config.limits.max_headers, 100);
  EXPECT_EQ(config.limits.body_buffer_threshold, 64 * KiB);
  EXPECT_EQ(config.timeout, std::chrono::seconds(30));
}

TEST(Precedence, ThePortVariableIsTheDefaultBindAsInGunicorn) {
  EXPECT_EQ(load_from("", {{"PORT", "8080"}}, {"a:b"}).bind,
            std::vector<std::string>{"0.0.0.0:8080"});
  // Any source's `bind` wins over it.
  EXPECT_EQ(load_from(file, {{"PORT", "8080"}}).bind,
            (std::vector<std::string>{"10.0.0.1:1", "10.0.0.2:2"}));
  EXPECT_EQ(load_from("", {{"PORT", "8080"}}, {"-b", "unix:/run/app.sock", "a:b"}).bind,
            std::vector<std::string>{"unix:/run/app.sock"});
  try {
    load_from("", {{"PORT", "eighty"}}, {"a:b"});
    FAIL() << "PORT must be a port";
  } catch (const ConfigError& error) {
    EXPECT_EQ(error.problems().front(),
              "environment PORT: expected a port number from 1 to 65535, found `eighty`");
  }
}

TEST(Precedence, FileOverDefaults) {
  const Config config = load_from(file);
  EXPECT_EQ(config.app, "file:app");
  EXPECT_EQ(config.workers, 2);
  EXPECT_EQ(config.limits.max_headers, 20);
  EXPECT_EQ(config.keepalive, std::chrono::seconds(5));  // untouched keys keep their default
}

TEST(Precedence, EnvironmentOverFile) {
  const Config config = load_from(file, {{"HORNBEAM_WORKERS", "3"},
                                         {"HORNBEAM_LIMITS_MAX_HEADERS", "30"},
                                         {"HORNBEAM_APP", "env:app"}});
  EXPECT_EQ(config.workers, 3);
  EXPECT_EQ(config.limits.max_headers, 30);
  EXPECT_EQ(config.app, "env:app");
}

TEST(Precedence, CommandLineOverEnvironment) {
  const Config config = load_from(file, {{"HORNBEAM_WORKERS", "3"}, {"HORNBEAM_APP", "env:app"}},
                                  {"--workers", "4", "cli:app"});
  EXPECT_EQ(config.workers, 4);
  EXPECT_EQ(config.app, "cli:app");
}

TEST(Precedence, AListFromAHigherSourceReplacesTheLowerOne) {
  EXPECT_EQ(load_from(file, {{"HORNBEAM_BIND", "127.0.0.1:5"}}).bind,
            std::vector<std::string>{"127.0.0.1:5"});
  EXPECT_EQ(load_from(file, {{"HORNBEAM_BIND", "127.0.0.1:5"}},
                      {"-b", "127.0.0.1:6", "-b", "127.0.0.1:7"})
                .bind,
            (std::vector<std::string>{"127.0.0.1:6", "127.0.0.1:7"}));
}

TEST(Precedence, ConfigFileNamedByTheEnvironmentIsNotASetting) {
  // HORNBEAM_CONFIG names the file (startup reads it); the loader must not call it unknown.
  EXPECT_NO_THROW(load_from("", {{"HORNBEAM_CONFIG", "/nowhere.yaml"}}, {"a:b"}));
}

}  // namespace
}  // namespace hornbeam::config
