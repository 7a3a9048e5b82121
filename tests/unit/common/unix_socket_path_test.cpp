// What may be removed at a unix socket's path before binding it (clear_unix_socket_path).

#include "common/listen_socket.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace hornbeam {
namespace {

class UnixSocketPath : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("hornbeam-unix-path-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A socket bound at `name`, listening or not; its fd (closed by the caller's UniqueFd).
  UniqueFd socket_at(const std::string& name, bool listening) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    const std::string path = (dir_ / name).string();
    std::copy(path.begin(), path.end(), un.sun_path);
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&un), sizeof un), 0);
    if (listening) {
      EXPECT_EQ(::listen(fd.get(), 1), 0);
    }
    return fd;
  }

  std::filesystem::path dir_;
};

TEST_F(UnixSocketPath, NothingThereIsFine) {
  EXPECT_NO_THROW(clear_unix_socket_path((dir_ / "none.sock").string(), "unix:x", false));
}

TEST_F(UnixSocketPath, AFileThatIsNotASocketIsNeverRemoved) {
  const auto path = dir_ / "app.py";
  std::ofstream(path) << "keep me\n";
  for (const bool take_over : {false, true}) {
    try {
      clear_unix_socket_path(path.string(), "unix:" + path.string(), take_over);
      FAIL() << "a regular file must be refused";
    } catch (const std::runtime_error& error) {
      EXPECT_NE(std::string(error.what()).find("exists and is not a socket"), std::string::npos);
    }
    EXPECT_TRUE(std::filesystem::is_regular_file(path));
  }
}

TEST_F(UnixSocketPath, ALiveSocketIsTakenOnlyWhenTakingOver) {
  const UniqueFd live = socket_at("live.sock", true);
  const auto path = (dir_ / "live.sock").string();
  EXPECT_THROW(clear_unix_socket_path(path, "unix:" + path, false), std::runtime_error);
  EXPECT_TRUE(std::filesystem::exists(path));
  clear_unix_socket_path(path, "unix:" + path, true);
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(UnixSocketPath, ASocketNobodyListensOnIsRemoved) {
  const UniqueFd left = socket_at("left.sock", false);  // bound, never listening: refused
  const auto path = (dir_ / "left.sock").string();
  clear_unix_socket_path(path, "unix:" + path, false);
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace hornbeam
