#include "arbiter/wait_status.hpp"

#include <gtest/gtest.h>

#include <signal.h>

namespace hornbeam::arbiter {
namespace {

TEST(WaitStatus, NamesTheExitCodeOrTheSignal) {
  EXPECT_EQ(describe_wait_status(4 << 8), "exited with code 4");
  EXPECT_EQ(describe_wait_status(SIGSEGV), "was killed by SIGSEGV");
  EXPECT_EQ(describe_wait_status(SIGKILL), "was killed by SIGKILL (perhaps out of memory?)");
}

}  // namespace
}  // namespace hornbeam::arbiter
