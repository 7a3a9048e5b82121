#include "common/accept_backoff.hpp"

#include <gtest/gtest.h>

#include <cerrno>

namespace hornbeam {
namespace {

using namespace std::chrono_literals;

TEST(AcceptBackoff, ExhaustionWaitsFiveMillisecondsDoublingUpToASecond) {
  AcceptBackoff backoff("connections");
  EXPECT_FALSE(backoff.backing_off());
  EXPECT_EQ(backoff.failed("Too many open files"), 5ms);
  EXPECT_TRUE(backoff.backing_off());
  EXPECT_EQ(backoff.failed("Too many open files"), 10ms);
  EXPECT_EQ(backoff.failed("Too many open files"), 20ms);
  for (int i = 0; i < 40; ++i) backoff.failed("Too many open files");
  EXPECT_EQ(backoff.failed("Too many open files"), 1000ms);
}

TEST(AcceptBackoff, AnAcceptThatWorksSaysHowManyFailedAndStartsOver) {
  AcceptBackoff backoff("connections");
  EXPECT_EQ(backoff.succeeded(), 0u);
  backoff.failed("Too many open files");
  backoff.failed("Too many open files");
  backoff.failed("Too many open files");
  EXPECT_EQ(backoff.succeeded(), 3u);
  EXPECT_FALSE(backoff.backing_off());
  EXPECT_EQ(backoff.failed("Too many open files"), 5ms);
}

TEST(AcceptBackoff, OnlyTheProcesssOwnFailuresWait) {
  for (const int error : {EMFILE, ENFILE, ENOBUFS, ENOMEM, EBADF, EINVAL})
    EXPECT_EQ(classify_accept_failure(error), AcceptFailure::of_this_process) << error;
  for (const int error : {ECONNABORTED, EPROTO, EPERM, EINTR, EAGAIN})
    EXPECT_EQ(classify_accept_failure(error), AcceptFailure::of_that_connection) << error;
}

}  // namespace
}  // namespace hornbeam
