// The I/O thread's scheduling policy, read back from the kernel (sched_getscheduler).

#include "common/io_thread_policy.hpp"

#include <gtest/gtest.h>
#include <sched.h>

#include <optional>
#include <thread>

namespace hornbeam {
namespace {

int own_policy() { return ::sched_getscheduler(0); }

// Runs `body` on a thread of its own adopted as the I/O thread, and ends the adoption after.
template <class Body>
void as_io_thread(Body body) {
  std::thread io([&] {
    {
      const IoThreadPolicy::Adoption adopted;
      body();
    }
    EXPECT_EQ(own_policy(), SCHED_OTHER);
  });
  io.join();
}

TEST(IoThreadPolicy, DefersUntilRestoredFromAnyThread) {
  as_io_thread([] {
    ASSERT_EQ(own_policy(), SCHED_OTHER);
    IoThreadPolicy::defer();
    EXPECT_EQ(own_policy(), SCHED_BATCH);
    std::thread([] { IoThreadPolicy::restore(); }).join();  // a context went idle
    EXPECT_EQ(own_policy(), SCHED_OTHER);
  });
}

TEST(IoThreadPolicy, OnlyTheAdoptedThreadDefers) {
  std::thread([] {
    IoThreadPolicy::defer();
    EXPECT_EQ(own_policy(), SCHED_OTHER);
  }).join();
}

TEST(IoThreadPolicy, AContextWaitingForTheIoThreadRestoresItAndKeepsItFromDeferring) {
  as_io_thread([] {
    IoThreadPolicy::defer();
    ASSERT_EQ(own_policy(), SCHED_BATCH);
    {
      std::optional<IoThreadPolicy::WaitingForIo> waiting;
      std::thread([&] { waiting.emplace(); }).join();
      EXPECT_EQ(own_policy(), SCHED_OTHER);
      IoThreadPolicy::defer();
      EXPECT_EQ(own_policy(), SCHED_OTHER);  // refused while a context waits
    }
    IoThreadPolicy::defer();
    EXPECT_EQ(own_policy(), SCHED_BATCH);
  });
}

TEST(IoThreadPolicy, EndingTheAdoptionOfADeferredThreadRestoresIt) {
  as_io_thread([] { IoThreadPolicy::defer(); });  // as_io_thread checks SCHED_OTHER after
}

}  // namespace
}  // namespace hornbeam
