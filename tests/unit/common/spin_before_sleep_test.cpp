// The I/O thread's polling before sleep: it polls only while that keeps finding work.

#include "common/spin_before_sleep.hpp"

#include <gtest/gtest.h>

namespace hornbeam {
namespace {

using namespace std::chrono_literals;

// A clock that moves 1 us per reading, and `busy` more when a yield ran another thread: the
// tests do not depend on how the machine schedules them.
SpinBeforeSleep::Clock::time_point fake_time;
SpinBeforeSleep::Clock::time_point fake_now() { return fake_time += 1us; }

struct Counts {
  int polls = 0;
  int yields = 0;
};

// One sleep's worth of spinning, where `work_at` is the poll that finds work (0: none does).
bool spin_once(SpinBeforeSleep& spin, Counts& counts, int work_at = 0,
               SpinBeforeSleep::Wait wait = SpinBeforeSleep::Wait::idle) {
  int poll = 0;
  return spin.found_work(
      wait,
      [&] {
        ++counts.polls;
        return work_at != 0 && ++poll >= work_at;
      },
      [&] { ++counts.yields; });
}

TEST(SpinBeforeSleep, AZeroWindowNeverPolls) {
  SpinBeforeSleep spin(0us, &fake_now);
  Counts counts;
  EXPECT_FALSE(spin_once(spin, counts, 1));
  EXPECT_EQ(counts.polls, 0);
}

TEST(SpinBeforeSleep, WorkFoundWhilePollingSavesTheSleepAndEachPollYieldsFirst) {
  SpinBeforeSleep spin(10ms, &fake_now);
  Counts counts;
  EXPECT_TRUE(spin_once(spin, counts, 3));
  EXPECT_EQ(counts.polls, 3);
  EXPECT_EQ(counts.yields, 3);
  EXPECT_TRUE(spin.polls_before_sleeping(SpinBeforeSleep::Wait::idle));
}

TEST(SpinBeforeSleep, PollingThatFindsNothingStopsThenProbesOnceInAWhile) {
  SpinBeforeSleep spin(20us, &fake_now);
  Counts counts;
  for (int miss = 0; miss < SpinBeforeSleep::max_credit; ++miss) {
    EXPECT_TRUE(spin.polls_before_sleeping(SpinBeforeSleep::Wait::idle));
    EXPECT_FALSE(spin_once(spin, counts));
  }
  EXPECT_FALSE(spin.polls_before_sleeping(SpinBeforeSleep::Wait::idle));
  EXPECT_GT(counts.polls, 0);
  // Stopped: the next sleeps do not poll at all, until one probe.
  counts = {};
  for (int sleep = 1; sleep < SpinBeforeSleep::probe_every; ++sleep) spin_once(spin, counts, 1);
  EXPECT_EQ(counts.polls, 0);
  // The probe finds work: spinning is back at full credit.
  EXPECT_TRUE(spin_once(spin, counts, 1));
  EXPECT_EQ(counts.polls, 1);
  EXPECT_TRUE(spin.polls_before_sleeping(SpinBeforeSleep::Wait::idle));
  for (int miss = 1; miss < SpinBeforeSleep::max_credit; ++miss) spin_once(spin, counts);
  EXPECT_TRUE(spin.polls_before_sleeping(SpinBeforeSleep::Wait::idle))
      << "one miss short of stopping";
}

TEST(SpinBeforeSleep, AMissedProbeKeepsItStopped) {
  SpinBeforeSleep spin(20us, &fake_now);
  Counts counts;
  for (int miss = 0; miss < SpinBeforeSleep::max_credit; ++miss) spin_once(spin, counts);
  for (int sleep = 0; sleep < SpinBeforeSleep::probe_every; ++sleep) spin_once(spin, counts);
  EXPECT_FALSE(spin.polls_before_sleeping(SpinBeforeSleep::Wait::idle));
  counts = {};
  for (int sleep = 1; sleep < SpinBeforeSleep::probe_every; ++sleep) spin_once(spin, counts, 1);
  EXPECT_EQ(counts.polls, 0);
}

TEST(SpinBeforeSleep, EachKindOfWaitIsJudgedOnItsOwn) {
  using Wait = SpinBeforeSleep::Wait;
  SpinBeforeSleep spin(20us, &fake_now);
  Counts counts;
  // A trickle of requests: the context's answer comes while polling, the next request never.
  for (int request = 0; request < 3 * SpinBeforeSleep::max_credit; ++request) {
    EXPECT_TRUE(spin_once(spin, counts, 2, Wait::answer_due));
    spin_once(spin, counts, 0, Wait::idle);
  }
  EXPECT_TRUE(spin.polls_before_sleeping(Wait::answer_due));
  EXPECT_FALSE(spin.polls_before_sleeping(Wait::idle));
}

TEST(SpinBeforeSleep, PollingStopsAtOnceWhenAYieldRanAnotherThread) {
  using Wait = SpinBeforeSleep::Wait;
  SpinBeforeSleep spin(10ms, &fake_now);
  int polls = 0;
  const auto busy_yield = [] { fake_time += SpinBeforeSleep::core_was_busy * 3; };
  EXPECT_FALSE(spin.found_work(
      Wait::idle, [&] { return ++polls > 5; }, busy_yield));
  EXPECT_EQ(polls, 1);
  // Not a miss: a busy core says nothing about whether polling pays.
  for (int sleep = 0; sleep < 2 * SpinBeforeSleep::max_credit; ++sleep) {
    spin.found_work(
        Wait::idle, [] { return false; }, busy_yield);
  }
  EXPECT_TRUE(spin.polls_before_sleeping(Wait::idle));
}

}  // namespace
}  // namespace hornbeam
