// Pub/sub between the workers of one host: the ring and the topic tables of the arbiter's
// segment (common/pubsub_shm.hpp).

#include "common/pubsub_shm.hpp"
#include "common/shared_segment.hpp"
#include "pubsub/bus.hpp"

#include <pthread.h>

#include <atomic>
#include <thread>

namespace hornbeam::pubsub {
namespace {

class HostTransport final : public Transport {
 public:
  HostTransport(Bus& bus, const shm::Segment& segment, shm::WorkerSlot& slot)
      : bus_(bus), segment_(segment), slot_(slot), ring_(segment.pubsub_ring()) {}

  ~HostTransport() override {
    if (!reader_thread_.joinable()) return;
    stopping_.store(true);
    ring_.wake_all();
    reader_thread_.join();
  }

  std::int64_t publish(std::string_view topic, std::string_view payload) override {
    const auto hash = shm::topic_hash(topic);
    std::int64_t reached = 0;
    for (std::uint32_t i = 0; i < segment_.slot_count(); ++i) {
      const auto& slot = segment_.slot(i);
      const auto state = slot.current_state();
      if (state == shm::SlotState::free) continue;
      reached += slot.topics.subscribers_of(hash);
    }
    // Nobody listens: no write, no wake-up.
    if (reached > 0) ring_.append(hash, topic, payload);
    return reached;
  }

  // The table counts subscriptions (publish returns how many it reached), not topics.
  void listen(const std::string& topic, bool) override {
    if (!reader_thread_.joinable()) {
      // Its position is taken before the topic is in the table: whatever is published once
      // the table says so is after it.
      reader_ = ring_.reader_at_end();
      reader_thread_ = std::thread([this] { read_until_stopped(); });
      pthread_setname_np(reader_thread_.native_handle(), "hb-pubsub");
    }
    slot_.topics.add(shm::topic_hash(topic));
  }

  void stop_listening(const std::string& topic, bool) override {
    slot_.topics.remove(shm::topic_hash(topic));
  }

  std::uint64_t lost() const override { return lost_.load(std::memory_order_relaxed); }

 private:
  void read_until_stopped() {
    std::vector<shm::RingMessage> messages;
    while (!stopping_.load()) {
      std::uint64_t lost = 0;
      messages.clear();
      ring_.read(
          reader_, [&](std::uint64_t hash) { return slot_.topics.subscribers_of(hash) > 0; },
          messages, lost);
      if (lost > 0) {
        lost_.fetch_add(lost, std::memory_order_relaxed);
        slot_.pubsub_lost.fetch_add(lost, std::memory_order_relaxed);
      }
      for (const auto& message : messages) bus_.dispatch(message.topic, message.payload);
      if (messages.empty() && lost == 0) ring_.wait(reader_, 500);
    }
  }

  Bus& bus_;
  const shm::Segment& segment_;
  shm::WorkerSlot& slot_;
  shm::HostRing ring_;
  shm::HostRing::Reader reader_;
  std::thread reader_thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> lost_{0};
};

}  // namespace

std::unique_ptr<Transport> host_transport(Bus& bus, const shm::Segment& segment,
                                          shm::WorkerSlot& slot) {
  return std::make_unique<HostTransport>(bus, segment, slot);
}

}  // namespace hornbeam::pubsub
