// The worker's side of its slot, read back as the arbiter reads it: a request's clock stops
// while its context waits for the client, and the app's own time is judged again after.

#include "worker/arbiter_link.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <thread>

namespace hornbeam::worker {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t ns(std::chrono::nanoseconds duration) { return duration.count(); }

TEST(ArbiterLink, AWaitForTheClientIsNotTheRequestsTime) {
  const auto segment = shm::Segment::create(1, 64 * 1024);
  segment.slot(0).reset(::getpid(), 1);
  ArbiterLink link;
  link.attach({::dup(segment.fd()), 0, 1});
  link.ready(1);
  const auto& slot = segment.slot(0);

  link.context_busy(0, true, 50ms);  // a mount's own limit
  const auto started = slot.busy_since_ns[0].load();
  link.context_waits_for_client(0, true);
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(slot.overdue_request(shm::monotonic_ns(), 0))
      << "no limit while the client is waited for";
  link.context_waits_for_client(0, false);
  EXPECT_GE(slot.busy_since_ns[0].load() - started, ns(100ms)) << "started later by the wait";
  EXPECT_EQ(slot.time_limit_ns[0].load(), ns(50ms)) << "the request's own limit is back";
  EXPECT_FALSE(slot.overdue_request(shm::monotonic_ns(), 0));

  std::this_thread::sleep_for(60ms);  // the app's own time, past its limit
  const auto overdue = slot.overdue_request(shm::monotonic_ns(), 0);
  ASSERT_TRUE(overdue);
  EXPECT_EQ(overdue->limit_ns, ns(50ms));
  EXPECT_LT(overdue->running_ns, ns(100ms)) << "the wait is left out";
  link.context_busy(0, false);
  EXPECT_FALSE(slot.overdue_request(shm::monotonic_ns(), 0));
}

TEST(ArbiterLink, WithoutAnArbiterAWaitTellsNobody) {
  ArbiterLink standalone;
  standalone.context_busy(0, true);
  standalone.context_waits_for_client(0, true);
  standalone.context_waits_for_client(0, false);
  EXPECT_EQ(standalone.slot(), nullptr);
}

}  // namespace
}  // namespace hornbeam::worker
