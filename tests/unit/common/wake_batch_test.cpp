// Coalesced wake-ups: a thread in a burst wakes each target once, at the end.

#include "common/wake_batch.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace hornbeam {
namespace {

struct CountingTarget final : Wakeable {
  int wakes = 0;
  void wake_now() override { ++wakes; }
};

TEST(WakeBatch, WithoutABatchNothingIsHeld) {
  CountingTarget target;
  EXPECT_FALSE(WakeBatch::hold(target));
}

TEST(WakeBatch, HeldWakesGoOncePerTargetOnRelease) {
  CountingTarget first, second;
  int bursts = 0;
  WakeBatch batch([&] { ++bursts; });
  EXPECT_TRUE(WakeBatch::hold(first));
  EXPECT_TRUE(WakeBatch::hold(first));
  EXPECT_TRUE(WakeBatch::hold(second));
  EXPECT_EQ(bursts, 1);  // told once per burst, to schedule the release
  EXPECT_EQ(first.wakes, 0);
  batch.release();
  EXPECT_EQ(first.wakes, 1);
  EXPECT_EQ(second.wakes, 1);
  EXPECT_TRUE(WakeBatch::hold(first));
  EXPECT_EQ(bursts, 2);
}

TEST(WakeBatch, TheBatchBelongsToItsThreadAndReleasesWhenItEnds) {
  CountingTarget target;
  {
    WakeBatch batch;
    bool held_elsewhere = true;
    std::thread([&] { held_elsewhere = WakeBatch::hold(target); }).join();
    EXPECT_FALSE(held_elsewhere);
    EXPECT_TRUE(WakeBatch::hold(target));
  }
  EXPECT_EQ(target.wakes, 1);
  EXPECT_FALSE(WakeBatch::hold(target));
}

}  // namespace
}  // namespace hornbeam
