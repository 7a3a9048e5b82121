#pragma once

// The worker's pub/sub (docs/pubsub.md): its subscriptions by topic, and a Transport that
// carries messages to the other workers and brings theirs:
// - alone (no arbiter): none, messages stay in the worker;
// - shared memory (shared_state.backend: shm): the host's ring (common/pubsub_shm.hpp);
// - Redis: PUBLISH, and one SUBSCRIBE connection per worker.
// Every message reaches each subscription of its topic in this worker once, whatever the
// transport; a message sent before a subscription was made is not delivered to it.

#include "pubsub/subscription.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace hornbeam::shm {
class Segment;
struct WorkerSlot;
}  // namespace hornbeam::shm

namespace hornbeam::redis {
class Client;
}

namespace hornbeam::pubsub {

class Bus;

class Transport {
 public:
  virtual ~Transport() = default;
  // The receivers reached (as the transport counts them).
  virtual std::int64_t publish(std::string_view topic, std::string_view payload) = 0;
  // A subscription to `topic` is made here, or closed (the bus's lock held); `first` and
  // `last` say whether it is the worker's first, or was its last, of the topic.
  virtual void listen(const std::string& topic, bool first) = 0;
  virtual void stop_listening(const std::string& topic, bool last) = 0;
  // After listen() or stop_listening(), without the bus's lock: returns once the change is
  // in effect (Redis confirms a SUBSCRIBE or UNSUBSCRIBE on its own time), so that what is
  // published next arrives, or no longer counts this worker.
  virtual void settle() {}
  // Messages this worker's subscribers never got because the worker fell behind.
  virtual std::uint64_t lost() const { return 0; }
};

struct BusStats {
  std::uint64_t published = 0;  // by this worker
  std::uint64_t delivered = 0;  // to this worker's subscriptions
  std::uint64_t dropped = 0;    // this worker's: full subscriptions, and fallen behind
  std::size_t subscriptions = 0;
};

class Bus {
 public:
  Bus();  // messages stay in the worker
  ~Bus();
  Bus(const Bus&) = delete;
  Bus& operator=(const Bus&) = delete;

  // Over the host's shared memory; `slot` is this worker's (null: the worker runs alone).
  void use_shared_memory(const shm::Segment& segment, shm::WorkerSlot* slot);
  // Over Redis: channels are `prefix` + topic.
  void use_redis(redis::Client& client, std::string prefix);

  // Throws std::length_error past 64 KiB (topic and payload), redis::Unavailable.
  std::int64_t publish(std::string_view topic, std::string_view payload);
  std::shared_ptr<Subscription> subscribe(std::vector<std::string> topics);
  void unsubscribe(const std::shared_ptr<Subscription>& subscription);
  BusStats stats() const;

  // The transports: hands a message to this worker's subscriptions of `topic`.
  std::size_t dispatch(const std::string& topic, const std::string& payload);
  // Every topic with a subscription here (a transport that reconnects subscribes again).
  std::vector<std::string> topics() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::set<std::shared_ptr<Subscription>>, std::less<>> by_topic_;
  std::unique_ptr<Transport> transport_;
  std::uint64_t published_ = 0;
  std::uint64_t delivered_ = 0;
  std::uint64_t dropped_ = 0;
  std::size_t subscriptions_ = 0;
};

std::unique_ptr<Transport> host_transport(Bus& bus, const shm::Segment& segment,
                                          shm::WorkerSlot& slot);
std::unique_ptr<Transport> redis_transport(Bus& bus, redis::Client& client, std::string prefix);

}  // namespace hornbeam::pubsub
