#include "worker/drain_aware_read.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <optional>
#include <string>

// recv(2) counted: the executable's definition comes before libc's for every caller, and
// forwards to the system call itself.
namespace {
std::atomic<int> recv_calls{0};
}
extern "C" ssize_t recv(int fd, void* data, size_t size, int flags) {
  ++recv_calls;
  return syscall(SYS_recvfrom, fd, data, size, flags, nullptr, nullptr);
}

namespace hornbeam::worker {
namespace {

using Socket = boost::asio::generic::stream_protocol::socket;

struct Read {
  boost::system::error_code error;
  std::size_t bytes = 0;
};

class DrainAwareRead : public ::testing::Test {
 protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    socket_.assign(boost::asio::generic::stream_protocol(AF_UNIX, 0), fds[0]);
    peer_ = fds[1];
  }
  void TearDown() override {
    if (peer_ >= 0) ::close(peer_);
  }

  void peer_writes(const std::string& bytes) {
    ASSERT_EQ(::write(peer_, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  void start_read(std::size_t size = 16) {
    done_.reset();
    drain_aware_read(socket_, boost::asio::buffer(buffer_.data(), size),
                     [this](boost::system::error_code error, std::size_t bytes) {
                       done_ = Read{error, bytes};
                     });
  }
  // Runs the reactor until the read completes (or a second passes).
  Read finish() {
    io_.restart();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (!done_ && std::chrono::steady_clock::now() < deadline)
      io_.run_one_for(std::chrono::milliseconds(100));
    EXPECT_TRUE(done_) << "the read never completed";
    return done_.value_or(Read{});
  }
  std::string got(const Read& read) const { return std::string(buffer_.data(), read.bytes); }

  boost::asio::io_context io_;
  Socket socket_{io_};
  int peer_ = -1;
  std::array<char, 64> buffer_{};
  std::optional<Read> done_;
};

TEST_F(DrainAwareRead, ReadsWhatHasArrived) {
  peer_writes("hello");
  start_read();
  const Read read = finish();
  EXPECT_FALSE(read.error);
  EXPECT_EQ(got(read), "hello");
}

TEST_F(DrainAwareRead, AfterEmptyingTheSocketTheNextReadWaitsWithoutTryingRecv) {
  peer_writes("a");
  start_read();
  ASSERT_EQ(got(finish()), "a");  // fewer bytes than asked: the socket is empty

  recv_calls = 0;
  start_read();
  io_.restart();
  io_.poll();
  EXPECT_FALSE(done_);
  EXPECT_EQ(recv_calls, 0) << "the read tried recv(2) on a socket it knew empty";

  peer_writes("b");
  const Read read = finish();
  EXPECT_EQ(got(read), "b");
  EXPECT_EQ(recv_calls, 1);
}

TEST_F(DrainAwareRead, BytesThatCameBeforeTheNextReadStartedAreRead) {
  peer_writes("a");
  start_read();
  ASSERT_EQ(got(finish()), "a");
  peer_writes("next request");  // announced before any read is waiting
  io_.restart();
  io_.poll();  // the reactor takes that news with no read queued
  start_read();
  EXPECT_EQ(got(finish()), "next request");
}

TEST_F(DrainAwareRead, AReadThatFilledItsBufferTriesTheNextAtOnce) {
  peer_writes("12345678more");
  start_read(8);
  ASSERT_EQ(got(finish()), "12345678");
  recv_calls = 0;
  start_read();
  EXPECT_EQ(recv_calls, 1) << "bytes may be left: the read should have tried at once";
  EXPECT_EQ(got(finish()), "more");
}

TEST_F(DrainAwareRead, TheEndOfTheStreamIsEof) {
  ::close(peer_);
  peer_ = -1;
  start_read();
  const Read read = finish();
  EXPECT_EQ(read.error, boost::asio::error::eof);
  EXPECT_EQ(read.bytes, 0u);
}

TEST_F(DrainAwareRead, ClosingTheSocketEndsAWaitingReadAsAborted) {
  start_read();
  io_.restart();
  io_.poll();
  ASSERT_FALSE(done_);
  socket_.close();
  const Read read = finish();
  EXPECT_EQ(read.error, boost::asio::error::operation_aborted);
}

TEST_F(DrainAwareRead, AReadLeftWaitingWhenTheContextIsDestroyedIsFreedUncalled) {
  auto io = std::make_unique<boost::asio::io_context>();
  auto socket = std::make_unique<Socket>(*io);
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  socket->assign(boost::asio::generic::stream_protocol(AF_UNIX, 0), fds[0]);
  bool called = false;
  drain_aware_read(*socket, boost::asio::buffer(buffer_.data(), 16),
                   [&called](boost::system::error_code, std::size_t) { called = true; });
  socket.reset();  // closing: the read is aborted and queued, not run
  io.reset();      // the queue is destroyed without running it (LSan would see a leak)
  EXPECT_FALSE(called);
  ::close(fds[1]);
}

}  // namespace
}  // namespace hornbeam::worker
