#include "worker/shared_state_choice.hpp"

#include "common/shared_segment.hpp"
#include "common/state_store.hpp"
#include "pubsub/bus.hpp"
#include "python/state_backend.hpp"
#include "redis/client.hpp"
#include "redis/state.hpp"
#include "worker/arbiter_link.hpp"

#include <optional>

namespace hornbeam::worker {

struct SharedStateChoice::Parts {
  std::optional<shm::Segment> own_segment;
  std::optional<shm::StateStore> store;
  std::unique_ptr<redis::Client> client;
  std::optional<redis::RedisState> redis_state;
};

SharedStateChoice::SharedStateChoice(const config::Config& config, ArbiterLink& link)
    : parts_(std::make_unique<Parts>()), bus_(std::make_unique<pubsub::Bus>()) {
  if (const auto target = redis::parse_backend(config.shared_state.backend)) {
    parts_->client = std::make_unique<redis::Client>(*target, config.shared_state.timeout,
                                                     config.shared_state.tls_ca_certs);
    parts_->client->try_connect();
    parts_->redis_state.emplace(*parts_->client, config.shared_state.prefix);
    backend_ = python::redis_backend(*parts_->redis_state);
    bus_->use_redis(*parts_->client, config.shared_state.prefix);
    return;
  }
  if (!link.supervised())
    parts_->own_segment.emplace(shm::Segment::create(0, config.shared_state.size));
  parts_->store.emplace(link.supervised() ? link.segment().state() : parts_->own_segment->state());
  backend_ = python::shared_memory_backend(*parts_->store);
  // Alone, the worker's messages stay in it (the bus's default).
  if (link.supervised()) bus_->use_shared_memory(link.segment(), link.slot());
}

SharedStateChoice::~SharedStateChoice() {
  bus_.reset();  // its threads may use the Redis client: they stop first
}

}  // namespace hornbeam::worker
