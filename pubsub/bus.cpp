#include "pubsub/bus.hpp"

#include "common/pubsub_shm.hpp"

#include <stdexcept>

namespace hornbeam::pubsub {
namespace {

// A worker alone: its own subscriptions are all there is.
class InWorker final : public Transport {
 public:
  explicit InWorker(Bus& bus) : bus_(bus) {}
  std::int64_t publish(std::string_view topic, std::string_view payload) override {
    return static_cast<std::int64_t>(bus_.dispatch(std::string(topic), std::string(payload)));
  }
  void listen(const std::string&, bool) override {}
  void stop_listening(const std::string&, bool) override {}

 private:
  Bus& bus_;
};

}  // namespace

Bus::Bus() : transport_(std::make_unique<InWorker>(*this)) {}

Bus::~Bus() {
  // The transport's thread (if any) dispatches into this bus: it goes first.
  transport_.reset();
}

void Bus::use_shared_memory(const shm::Segment& segment, shm::WorkerSlot* slot) {
  if (slot) transport_ = host_transport(*this, segment, *slot);
}

void Bus::use_redis(redis::Client& client, std::string prefix) {
  transport_ = redis_transport(*this, client, std::move(prefix));
}

std::int64_t Bus::publish(std::string_view topic, std::string_view payload) {
  if (topic.size() + payload.size() > shm::MessageRing::max_message)
    throw std::length_error("a pub/sub message (topic and payload) is 64 KiB at most");
  const auto reached = transport_->publish(topic, payload);
  std::lock_guard lock(mutex_);
  ++published_;
  return reached;
}

std::shared_ptr<Subscription> Bus::subscribe(std::vector<std::string> topics) {
  auto subscription = std::make_shared<Subscription>(std::move(topics));
  {
    std::lock_guard lock(mutex_);
    for (const auto& topic : subscription->topics()) {
      auto& subscribers = by_topic_[topic];
      transport_->listen(topic, subscribers.empty());
      subscribers.insert(subscription);
    }
    ++subscriptions_;
  }
  transport_->settle();
  return subscription;
}

void Bus::unsubscribe(const std::shared_ptr<Subscription>& subscription) {
  {
    std::lock_guard lock(mutex_);
    bool was_here = false;
    for (const auto& topic : subscription->topics()) {
      const auto found = by_topic_.find(topic);
      if (found == by_topic_.end() || found->second.erase(subscription) == 0) continue;
      was_here = true;
      const bool last = found->second.empty();
      if (last) by_topic_.erase(found);
      transport_->stop_listening(topic, last);
    }
    if (was_here) {
      --subscriptions_;
      dropped_ += subscription->dropped();
    }
  }
  transport_->settle();
}

std::size_t Bus::dispatch(const std::string& topic, const std::string& payload) {
  std::lock_guard lock(mutex_);
  const auto found = by_topic_.find(topic);
  if (found == by_topic_.end()) return 0;
  std::size_t reached = 0;
  for (const auto& subscription : found->second) {
    if (subscription->deliver(topic, payload)) ++reached;
  }
  delivered_ += reached;
  return reached;
}

std::vector<std::string> Bus::topics() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> topics;
  for (const auto& [topic, subscribers] : by_topic_) topics.push_back(topic);
  return topics;
}

BusStats Bus::stats() const {
  std::lock_guard lock(mutex_);
  BusStats stats{published_, delivered_, dropped_ + transport_->lost(), subscriptions_};
  std::set<Subscription*> counted;
  for (const auto& [topic, subscribers] : by_topic_) {
    for (const auto& subscription : subscribers) {
      if (counted.insert(subscription.get()).second) stats.dropped += subscription->dropped();
    }
  }
  return stats;
}

}  // namespace hornbeam::pubsub
