// A wait for the client tells the observer its thread installed, and nobody else.

#include "common/client_wait.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace hornbeam {
namespace {

struct Counting final : ClientWait::Observer {
  void client_wait_began() override { ++began; }
  void client_wait_ended() override { ++ended; }
  int began = 0;
  int ended = 0;
};

TEST(ClientWait, TellsThisThreadsObserverWhenTheWaitBeginsAndEnds) {
  Counting observer;
  ClientWait::observe_this_thread(&observer);
  {
    const ClientWait wait;
    EXPECT_EQ(observer.began, 1);
    EXPECT_EQ(observer.ended, 0);
  }
  EXPECT_EQ(observer.ended, 1);
  std::thread([] { const ClientWait elsewhere; }).join();  // no observer there
  EXPECT_EQ(observer.began, 1);
  ClientWait::observe_this_thread(nullptr);
  { const ClientWait unobserved; }
  EXPECT_EQ(observer.began, 1);
}

}  // namespace
}  // namespace hornbeam
