#include "common/logging.hpp"

#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace hornbeam::logging {
namespace {

class LoggingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("hornbeam-logging-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    configure(Options{});  // back to stderr, files closed
    std::filesystem::remove_all(dir_);
  }
  std::string path(const char* name) const { return (dir_ / name).string(); }
  static std::string read(const std::string& file) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  std::filesystem::path dir_;
};

TEST_F(LoggingTest, TextLinesCarryTimePidAndLevel) {
  Options options;
  options.error_log = path("error.log");
  options.level = "info";
  configure(options);
  error_log().info("hello {}", 42);
  error_log().debug("not shown at info");
  const std::string text = read(path("error.log"));
  EXPECT_NE(text.find("[" + std::to_string(::getpid()) + "] [info] hello 42\n"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("not shown"), std::string::npos);
}

TEST_F(LoggingTest, JsonLinesAreValidJsonEvenForHostileText) {
  Options options;
  options.error_log = path("error.log");
  options.format = Format::json;
  options.name = "worker";
  configure(options);
  error_log().warn("quote \" newline \n tab \t bad utf8 \xff end");
  const auto record = nlohmann::json::parse(read(path("error.log")));
  EXPECT_EQ(record["level"], "warning");
  EXPECT_EQ(record["process"], "worker");
  EXPECT_EQ(record["pid"], ::getpid());
  EXPECT_NE(record["message"].get<std::string>().find("newline \n tab"), std::string::npos);
  EXPECT_NE(record["message"].get<std::string>().find(R"(bad utf8 \xff end)"), std::string::npos);
  EXPECT_TRUE(record["time"].get<std::string>().ends_with("Z"));
}

TEST_F(LoggingTest, TextLinesStayValidUtf8WithoutTerminalEscapes) {
  Options options;
  options.error_log = path("error.log");
  configure(options);
  error_log().warn("bad utf8 \xff, escape \x1b[2J, traceback\n\tline two, caf\xc3\xa9");
  const std::string text = read(path("error.log"));
  EXPECT_NE(text.find(R"(bad utf8 \xff, escape \x1b[2J, traceback)"
                      "\n\tline two, caf\xc3\xa9\n"),
            std::string::npos)
      << text;
}

TEST_F(LoggingTest, ReopenAfterRotationWritesToANewFile) {
  Options options;
  options.error_log = path("error.log");
  options.access_log = path("access.log");
  configure(options);
  access_log()->info("before rotation");
  std::filesystem::rename(path("access.log"), path("access.log.1"));
  reopen_files();
  access_log()->info("after rotation");
  EXPECT_EQ(read(path("access.log.1")), "before rotation\n");
  EXPECT_EQ(read(path("access.log")), "after rotation\n");
}

TEST_F(LoggingTest, TheRawDescriptorFollowsTheErrorLogAcrossARotationUnderOneNumber) {
  Options options;
  options.error_log = path("error.log");
  configure(options);
  const int fd = error_log_fd();
  ASSERT_GT(fd, 2);
  ASSERT_EQ(::write(fd, "crash one\n", 10), 10);
  error_log().warn("after it");  // appended after the raw bytes, not over them
  std::filesystem::rename(path("error.log"), path("error.log.1"));
  reopen_files();
  EXPECT_EQ(error_log_fd(), fd);
  ASSERT_EQ(::write(fd, "crash two\n", 10), 10);
  const auto rotated = read(path("error.log.1"));
  EXPECT_EQ(rotated.rfind("crash one\n", 0), 0u) << rotated;
  EXPECT_NE(rotated.find("after it"), std::string::npos);
  EXPECT_EQ(read(path("error.log")), "crash two\n");
}

TEST_F(LoggingTest, TheRawDescriptorOfStderrWritesToStderr) {
  configure(Options{});
  struct stat raw {
  }, standard{};
  ASSERT_EQ(::fstat(error_log_fd(), &raw), 0);
  ASSERT_EQ(::fstat(STDERR_FILENO, &standard), 0);
  EXPECT_EQ(std::pair(raw.st_dev, raw.st_ino), std::pair(standard.st_dev, standard.st_ino));
}

TEST_F(LoggingTest, AccessLogCanBeOff) {
  Options options;
  options.access_log = "";
  configure(options);
  EXPECT_EQ(access_log(), nullptr);
}

TEST_F(LoggingTest, UnwritableFileIsAnErrorAndKeepsThePreviousLoggers) {
  Options options;
  options.error_log =
      "/proc/hornbeam-cannot-exist/error.log";  // spdlog creates missing dirs, not in /proc
  EXPECT_THROW(configure(options), std::runtime_error);
  error_log().info("still usable");
  EXPECT_THROW(level_from_name("loud"), std::invalid_argument);
}

}  // namespace
}  // namespace hornbeam::logging
