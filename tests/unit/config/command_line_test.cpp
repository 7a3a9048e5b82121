#include "config/command_line.hpp"

#include "config/settings.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

namespace hornbeam::config {
namespace {

CommandLine parse(std::vector<const char*> args) {
  args.insert(args.begin(), "hornbeam-arbiter");
  return parse_command_line(static_cast<int>(args.size()), args.data());
}

TEST(CommandLine, MetaOptions) {
  const auto line = parse({"-c", "x.yaml", "--check-config", "--print-config"});
  EXPECT_EQ(line.config_file, "x.yaml");
  EXPECT_TRUE(line.check_config);
  EXPECT_TRUE(line.print_config);
  EXPECT_FALSE(line.show_version);
  EXPECT_TRUE(parse({"--version"}).show_version);
  EXPECT_TRUE(parse({"-h"}).show_help);
}

TEST(CommandLine, HelpListsEveryOption) {
  const std::string help = help_text("hornbeam-arbiter");
  for (const auto& setting : settings()) {
    EXPECT_NE(help.find("--" + setting.flag() + " "), std::string::npos) << setting.flag();
  }
  for (const char* meta : {"--config", "--check-config", "--print-config", "--version", "--help"}) {
    EXPECT_NE(help.find(meta), std::string::npos) << meta;
  }
}

TEST(CommandLine, ExtraOptionsOfOneBinary) {
  std::vector<std::string> fds;
  const std::vector<ExtraOption> extras = {{"fd", "N", "listen on an inherited socket", &fds}};
  std::vector<const char*> args = {"hornbeam-worker", "--fd", "3", "--fd", "4", "a:b"};
  const auto line = parse_command_line(static_cast<int>(args.size()), args.data(), extras);
  EXPECT_EQ(fds, (std::vector<std::string>{"3", "4"}));
  ASSERT_EQ(line.values.size(), 1u);
  EXPECT_EQ(line.values[0].setting->key, "app");
  EXPECT_NE(help_text("hornbeam-worker", extras).find("--fd N"), std::string::npos);
}

TEST(CommandLine, TwoAppsAreRefused) {
  try {
    parse({"a:b", "c:d"});
    FAIL();
  } catch (const ConfigError& error) {
    EXPECT_EQ(error.problems().at(0),
              "more than one APP given: name the app once, as `module:callable`");
  }
}

TEST(CommandLine, MissingValueIsRefused) { EXPECT_THROW(parse({"--workers"}), ConfigError); }

TEST(CommandLine, APeersOptionNamesOurs) {
  try {
    parse({"--threads", "4", "a:b"});
    FAIL() << "--threads is Gunicorn's";
  } catch (const ConfigError& error) {
    EXPECT_EQ(error.problems().front(), "unknown option --threads (hornbeam's is --contexts)");
  }
  try {
    parse({"--port", "8000", "a:b"});
    FAIL() << "--port is Uvicorn's";
  } catch (const ConfigError& error) {
    EXPECT_THAT(error.problems().front(), ::testing::HasSubstr("--bind HOST:PORT"));
  }
}

TEST(CommandLine, EveryPeerOptionPointsAtARealFlag) {
  std::vector<std::string> flags;
  for (const auto& setting : settings()) flags.push_back(setting.flag());
  for (const auto& [peer, ours] : peer_options()) {
    EXPECT_NE(std::find(flags.begin(), flags.end(), std::string(ours)), flags.end())
        << peer << " -> " << ours;
    EXPECT_EQ(std::find(flags.begin(), flags.end(), std::string(peer)), flags.end())
        << peer << " is one of ours";
  }
}

}  // namespace
}  // namespace hornbeam::config
