#include "common/pubsub_shm.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace hornbeam::shm {
namespace {

struct SharedRing {
  explicit SharedRing(std::size_t bytes = 1024 * 1024) : size(bytes) {
    memory = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    MessageRing::format(memory, size);
  }
  ~SharedRing() { ::munmap(memory, size); }
  MessageRing* ring() { return static_cast<MessageRing*>(memory); }
  std::size_t size;
  void* memory;
};

auto everything = [](std::uint64_t) { return true; };

TEST(TopicTable, CountsSubscribersByTopicAndForgetsThem) {
  auto table = std::make_unique<TopicTable>();
  table->clear();
  const auto chat = topic_hash("chat"), news = topic_hash("news");
  EXPECT_EQ(table->subscribers_of(chat), 0u);
  table->add(chat);
  table->add(chat);
  table->add(news);
  EXPECT_EQ(table->subscribers_of(chat), 2u);
  EXPECT_EQ(table->subscribers_of(news), 1u);
  table->remove(chat);
  table->remove(chat);
  EXPECT_EQ(table->subscribers_of(chat), 0u);
  EXPECT_EQ(table->subscribers_of(news), 1u);
}

TEST(TopicTable, PastItsCapacityEveryTopicCountsAsHeardNotLost) {
  auto table = std::make_unique<TopicTable>();
  table->clear();
  for (std::size_t i = 0; i < TopicTable::capacity + 10; ++i)
    table->add(topic_hash("user:" + std::to_string(i)));
  EXPECT_EQ(table->overflow.load(), 10u);
  EXPECT_GE(table->subscribers_of(topic_hash("never subscribed")), 1u);
  for (std::size_t i = 0; i < TopicTable::capacity + 10; ++i)
    table->remove(topic_hash("user:" + std::to_string(i)));
  EXPECT_EQ(table->overflow.load(), 0u);
  EXPECT_EQ(table->subscribers_of(topic_hash("never subscribed")), 0u);
  table->add(topic_hash("again"));  // an entry freed by a removal is used again
  EXPECT_EQ(table->overflow.load(), 0u);
}

TEST(HostRing, ReadersGetEachMessageFromWhereTheyStartedInOrder) {
  SharedRing shared;
  HostRing ring(shared.ring());
  ring.append(topic_hash("early"), "early", "not seen");
  auto reader = ring.reader_at_end();
  for (int i = 0; i < 100; ++i) {
    const std::string payload(static_cast<std::size_t>(i), static_cast<char>('a' + i % 26));
    ring.append(topic_hash("t"), i % 2 ? "odd" : "even", payload);
  }
  std::vector<RingMessage> messages;
  std::uint64_t lost = 0;
  ring.read(reader, everything, messages, lost);
  ASSERT_EQ(messages.size(), 100u);
  EXPECT_EQ(lost, 0u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(messages[i].topic, i % 2 ? "odd" : "even");
    EXPECT_EQ(messages[i].payload.size(), static_cast<std::size_t>(i));
  }
  messages.clear();
  ring.read(reader, everything, messages, lost);
  EXPECT_TRUE(messages.empty());
}

TEST(HostRing, AReaderFilterSkipsWhatItDoesNotWant) {
  SharedRing shared;
  HostRing ring(shared.ring());
  auto reader = ring.reader_at_end();
  ring.append(topic_hash("a"), "a", "1");
  ring.append(topic_hash("b"), "b", "2");
  std::vector<RingMessage> messages;
  std::uint64_t lost = 0;
  ring.read(
      reader, [](std::uint64_t hash) { return hash == topic_hash("b"); }, messages, lost);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].payload, "2");
}

TEST(HostRing, AReaderLappedByWritersSkipsAheadAndCountsWhatItLost) {
  SharedRing shared(300 * 1024);
  HostRing ring(shared.ring());
  auto reader = ring.reader_at_end();
  const std::string payload(1000, 'x');
  for (int i = 0; i < 1000; ++i) ring.append(1, "t", payload);  // ~1 MiB through 300 KiB
  std::vector<RingMessage> messages;
  std::uint64_t lost = 0;
  ring.read(reader, everything, messages, lost);
  ring.read(reader, everything, messages, lost);
  EXPECT_GT(lost, 600u);
  EXPECT_EQ(messages.size() + lost, 1000u);
  for (const auto& message : messages) EXPECT_EQ(message.payload, payload);  // none torn
}

TEST(HostRing, RefusesAMessageTooLarge) {
  SharedRing shared;
  HostRing ring(shared.ring());
  EXPECT_THROW(ring.append(1, "t", std::string(MessageRing::max_message, 'x')), std::length_error);
}

TEST(HostRing, CarriesMessagesBetweenProcessesAndWakesASleepingReader) {
  SharedRing shared;
  HostRing ring(shared.ring());
  auto reader = ring.reader_at_end();
  const pid_t child = ::fork();
  if (child == 0) {
    ::usleep(100'000);  // the parent sleeps in wait() by then
    HostRing theirs(shared.ring());
    for (int i = 0; i < 50; ++i) theirs.append(7, "from child", std::to_string(i));
    std::_Exit(0);
  }
  std::vector<RingMessage> messages;
  std::uint64_t lost = 0;
  while (messages.size() < 50) {
    ring.wait(reader, 5000);
    ring.read(reader, everything, messages, lost);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_EQ(messages.back().payload, "49");
  EXPECT_EQ(lost, 0u);
}

TEST(HostRing, APublisherThatDiedWritingLeavesTheRingUsable) {
  SharedRing shared;
  HostRing ring(shared.ring());
  auto reader = ring.reader_at_end();
  const pid_t child = ::fork();
  if (child == 0) {  // dies holding the writers' lock, its record half claimed
    pthread_mutex_lock(&shared.ring()->writers);
    shared.ring()->reserved.store(shared.ring()->published.load() + 64);
    std::_Exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ring.append(1, "t", "after");
  std::vector<RingMessage> messages;
  std::uint64_t lost = 0;
  ring.read(reader, everything, messages, lost);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].payload, "after");
}

}  // namespace
}  // namespace hornbeam::shm
