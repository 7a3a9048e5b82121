// The segment as two processes see it: what one writes through its mapping, a second
// mapping of the same fd (a worker's, after exec) reads.

#include "common/shared_segment.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

namespace hornbeam::shm {
namespace {

TEST(SharedSegment, AnotherMappingOfTheFdSeesTheSameSlots) {
  const auto arbiter = Segment::create(8, 64 * 1024);
  const auto worker = Segment::attach(arbiter.fd());
  EXPECT_EQ(worker.slot_count(), 8u);
  arbiter.slot(3).reset(1234, 7);
  EXPECT_EQ(worker.slot(3).pid.load(), 1234);
  EXPECT_EQ(worker.slot(3).generation.load(), 7u);
  EXPECT_EQ(worker.slot(3).current_state(), SlotState::booting);
  worker.slot(3).set_state(SlotState::ready);
  EXPECT_EQ(arbiter.slot(3).current_state(), SlotState::ready);
}

TEST(SharedSegment, AnFdThatIsNotASegmentIsRefused) {
  int ends[2];
  ASSERT_EQ(::pipe(ends), 0);
  EXPECT_THROW(Segment::attach(ends[0]), std::runtime_error);
  ::close(ends[0]);
  ::close(ends[1]);
}

TEST(SharedSegment, ClaimingTakesFreeSlotsAndThoseOfDeadOwners) {
  const auto segment = Segment::create(2, 64 * 1024);
  EXPECT_EQ(segment.claim_slot(::getpid()), 0);
  segment.slot(1).owner = 0x7ffffff0;  // an arbiter pid that does not exist
  EXPECT_EQ(segment.claim_slot(::getpid()), 1);
  EXPECT_EQ(segment.claim_slot(::getpid()), -1);
  segment.release_slot(0);
  EXPECT_EQ(segment.claim_slot(::getpid()), 0);
}

TEST(SharedSegment, TheRequestFurthestPastItsLimit) {
  const auto segment = Segment::create(1, 64 * 1024);
  auto& slot = segment.slot(0);
  slot.contexts = 4;
  EXPECT_FALSE(slot.overdue_request(10'000, 100)) << "every context idle";
  slot.busy_since_ns[0] = 9'950;  // 50 into the worker's 100
  slot.busy_since_ns[1] = 9'000;  // 1000 into its own 5000
  slot.time_limit_ns[1] = 5'000;
  slot.busy_since_ns[2] = 1;  // no limit at all
  slot.time_limit_ns[2] = -1;
  EXPECT_FALSE(slot.overdue_request(10'000, 100));
  slot.busy_since_ns[3] = 9'800;  // 200 into its own 150
  slot.time_limit_ns[3] = 150;
  const auto overdue = slot.overdue_request(10'000, 100);
  ASSERT_TRUE(overdue);
  EXPECT_EQ(overdue->running_ns, 200);
  EXPECT_EQ(overdue->limit_ns, 150);
  EXPECT_EQ(slot.overdue_request(10'100, 100)->running_ns, 300)
      << "context 3 (150 past its limit), not context 0 (50 past)";
  slot.busy_since_ns[3] = 0;
  EXPECT_EQ(slot.overdue_request(10'100, 100)->limit_ns, 100) << "context 0, on the worker's";
  EXPECT_FALSE(slot.overdue_request(10'100, 0)) << "no worker timeout: only own limits count";
}

TEST(SharedSegment, TheBootErrorsEnd) {
  const auto segment = Segment::create(1, 64 * 1024);
  auto& slot = segment.slot(0);
  slot.set_boot_error(std::string(5000, 'x') + "ImportError: the end");
  EXPECT_TRUE(slot.boot_error_text().ends_with("ImportError: the end"));
  EXPECT_LT(slot.boot_error_text().size(), boot_error_size);
}

}  // namespace
}  // namespace hornbeam::shm
