#include "pubsub/bus.hpp"

#include "common/shared_segment.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace hornbeam::pubsub {
namespace {

TEST(Subscription, QueuesUpToItsLimitThenCountsWhatItDrops) {
  Subscription subscription({"t"});
  EXPECT_FALSE(subscription.wait(0));
  for (std::size_t i = 0; i < Subscription::max_queued + 5; ++i)
    subscription.deliver("t", std::to_string(i));
  EXPECT_TRUE(subscription.wait(0));
  EXPECT_EQ(subscription.dropped(), 5u);
  std::size_t taken = 0;
  while (auto message = subscription.take()) {
    EXPECT_EQ(message->payload, std::to_string(taken));
    ++taken;
  }
  EXPECT_EQ(taken, Subscription::max_queued);
  EXPECT_FALSE(subscription.wait(0));  // drained: the eventfd is quiet again
}

TEST(Bus, AloneDeliversToItsOwnSubscriptionsOfTheTopic) {
  Bus bus;
  auto chat = bus.subscribe({"chat", "news"});
  auto news = bus.subscribe({"news"});
  EXPECT_EQ(bus.publish("chat", "hi"), 1);
  EXPECT_EQ(bus.publish("news", "extra"), 2);
  EXPECT_EQ(bus.publish("nobody", "x"), 0);
  EXPECT_EQ(chat->take()->payload, "hi");
  EXPECT_EQ(chat->take()->payload, "extra");
  EXPECT_EQ(news->take()->topic, "news");
  bus.unsubscribe(chat);
  EXPECT_EQ(bus.publish("chat", "gone"), 0);
  EXPECT_EQ(bus.stats().subscriptions, 1u);
  EXPECT_THROW(bus.publish("t", std::string(64 * 1024, 'x')), std::length_error);
}

TEST(Bus, TwoWorkersOfAHostHearEachOtherThroughTheSegment) {
  auto segment = shm::Segment::create(2, 64 * 1024);
  for (std::uint32_t i = 0; i < 2; ++i) {
    segment.slot(i).reset(1000 + static_cast<int>(i), 1);
    segment.slot(i).set_state(shm::SlotState::ready);
  }
  Bus one, two;
  one.use_shared_memory(segment, &segment.slot(0));
  two.use_shared_memory(segment, &segment.slot(1));
  auto in_two = two.subscribe({"chat"});
  auto in_one = one.subscribe({"chat"});
  auto also_in_one = one.subscribe({"chat"});
  EXPECT_EQ(one.publish("chat", "hello"), 3);  // every subscription of both workers
  ASSERT_TRUE(in_two->wait(5000));
  EXPECT_EQ(in_two->take()->payload, "hello");
  ASSERT_TRUE(in_one->wait(5000));
  EXPECT_EQ(in_one->take()->payload, "hello");
  ASSERT_TRUE(also_in_one->wait(5000));
  two.unsubscribe(in_two);
  one.unsubscribe(also_in_one);
  const auto written = segment.pubsub_ring()->published.load();
  EXPECT_EQ(two.publish("quiet", "x"), 0);  // nobody listens: nothing is written
  EXPECT_EQ(segment.pubsub_ring()->published.load(), written);
  EXPECT_EQ(one.publish("chat", "again"), 1);
}

}  // namespace
}  // namespace hornbeam::pubsub
