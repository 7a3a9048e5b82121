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

TEST(SharedSegment, TheOldestBusyContextAndTheBootErrorsEnd) {
  const auto segment = Segment::create(1, 64 * 1024);
  auto& slot = segment.slot(0);
  slot.contexts = 3;
  EXPECT_EQ(slot.oldest_busy_since(), 0);
  slot.busy_since_ns[2] = 500;
  slot.busy_since_ns[0] = 900;
  EXPECT_EQ(slot.oldest_busy_since(), 500);
  slot.set_boot_error(std::string(5000, 'x') + "ImportError: the end");
  EXPECT_TRUE(slot.boot_error_text().ends_with("ImportError: the end"));
  EXPECT_LT(slot.boot_error_text().size(), boot_error_size);
}

}  // namespace
}  // namespace hornbeam::shm
